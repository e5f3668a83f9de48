package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

// What Postgres cannot store as text (NUL, invalid UTF-8) is refused with a 400 naming the
// field when a request asks to store or look it up, and escaped in the request's audit row;
// the audit log goes on writing the rows of later requests.
func TestUnstorableTextIsRefusedAndAudited(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	cases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"NUL in a path", "GET", "/v1/datasets/%00/x", nil, "path"},
		{"invalid UTF-8 in a path", "GET", "/v1/datasets/%ff/x", nil, "path"},
		{"NUL in a query parameter", "GET", "/v1/datasets?tag=a%00", nil, "tag"},
		{"NUL in an audit filter", "GET", "/v1/audit?principal=%00", nil, "principal"},
		{"NUL in a grant principal", "POST", "/v1/grants", `{"principal_type":"subject","principal":"bob\u0000","privilege":"dataset.read","scope_type":"namespace","namespace":"sales"}`, "principal"},
		{"control character in a grant principal", "POST", "/v1/grants", `{"principal_type":"subject","principal":"bob\u0007","privilege":"dataset.read","scope_type":"namespace","namespace":"sales"}`, "principal"},
		{"NUL in a description", "POST", "/v1/datasets", `{"namespace":"sales","name":"orders","description":"a\u0000b","schema":{"fields":[{"name":"id","type":"long"}]}}`, "description"},
		{"invalid UTF-8 in a description", "POST", "/v1/datasets", "{\"namespace\":\"sales\",\"name\":\"orders\",\"description\":\"a\xffb\",\"schema\":{\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}}", "description"},
		{"control character in a tag", "POST", "/v1/datasets", `{"namespace":"sales","name":"orders","tags":["ok","a\nb"],"schema":{"fields":[{"name":"id","type":"long"}]}}`, "tags[1]"},
		{"NUL in a nested field", "POST", "/v1/datasets", `{"namespace":"sales","name":"orders","schema":{"fields":[{"name":"id","type":"long","doc":"x\u0000"}]}}`, "schema.fields[0].doc"},
		{"NUL in an owner update", "PATCH", "/v1/datasets/sales/orders", `{"owner":"\u0000"}`, "owner"},
		{"NUL in a service client name", "POST", "/v1/service-clients", `{"name":"svc\u0000","roles":["producer"]}`, "name"},
		{"NUL in a namespace property", "POST", "/iceberg/v1/namespaces", `{"namespace":["n"],"properties":{"owner":"\u0000"}}`, "properties.owner"},
		{"NUL in a property name", "POST", "/iceberg/v1/namespaces", `{"namespace":["n"],"properties":{"a\u0000":"x"}}`, "properties.a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do(t, tc.method, tc.path, admin, tc.body)
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			require.Contains(t, string(r.Body), tc.field)
			row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
			require.Equal(t, http.StatusBadRequest, row.Status)
		})
	}

	// Headers are only recorded: escaped, not refused.
	r := env.Do(t, "GET", "/v1/datasets", admin, nil, "User-Agent", "agent\xff/1")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, `agent\xFF/1`, env.AuditRow(t, r.Header.Get("X-Request-Id")).UserAgent)
	rows, err := env.Audit.Query(t.Context(), lineage.AuditQuery{Limit: 1000})
	require.NoError(t, err)
	var paths []string
	for _, row := range rows {
		paths = append(paths, row.Path)
	}
	require.Contains(t, paths, `/v1/datasets/\x00/x`)
	require.Contains(t, paths, `/v1/datasets/\xFF/x`)
}

// With the audit queue full, a request is refused at once with 503 and Retry-After rather
// than served unaudited or left waiting for the audit writer; /readyz says why it is not ready.
func TestAuditQueueFullRefusesRequests(t *testing.T) {
	env := testenv.New(t, testenv.Options{Audit: lineage.AuditConfig{QueueSize: 3, BatchSize: 1000, FlushInterval: time.Hour}})
	admin := testenv.Token(t, "alice", "admin")
	for range 3 {
		require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets", admin, nil).Status)
	}
	for _, path := range []string{"/v1/datasets", "/iceberg/v1/config"} {
		start := time.Now()
		r := env.Do(t, "GET", path, admin, nil)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
		require.Less(t, time.Since(start), 5*time.Second)
		require.NotEmpty(t, r.Header.Get("Retry-After"))
		require.Contains(t, string(r.Body), "audit")
	}
	r := env.Do(t, "GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	var ready struct {
		Checks map[string]string `json:"checks"`
		Audit  lineage.Backlog   `json:"audit"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &ready))
	require.True(t, strings.HasPrefix(ready.Checks["audit"], "audit backlog"), ready.Checks["audit"])
	require.Equal(t, 3, ready.Audit.Queued)
	require.Equal(t, 3, ready.Audit.Capacity)

	// The queued rows are written at shutdown, the refused requests' rows too once there is room.
	env.Close()
	rows, err := env.Audit.Query(t.Context(), lineage.AuditQuery{Action: "dataset.list", Limit: 100})
	require.NoError(t, err)
	require.Len(t, rows, 3)
}
