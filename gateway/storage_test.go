package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/testenv"
)

type loadTableJSON struct {
	MetadataLocation string `json:"metadata-location"`
	Metadata         struct {
		Location string `json:"location"`
	} `json:"metadata"`
	Config map[string]string `json:"config"`
}

// recordingVendor vends a fixed pair and records what it was asked.
type recordingVendor struct {
	mu   sync.Mutex
	reqs []gateway.TableCredentialRequest
	err  error
}

func (v *recordingVendor) TableCredentials(_ context.Context, req gateway.TableCredentialRequest) (map[string]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reqs = append(v.reqs, req)
	if v.err != nil {
		return nil, v.err
	}
	return map[string]string{"s3.access-key-id": "AKID-" + req.Table, "s3.secret-access-key": "secret-" + req.Principal.Subject}, nil
}

func (v *recordingVendor) last() gateway.TableCredentialRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reqs[len(v.reqs)-1]
}

// decodeLoad decodes a LoadTableResult into fresh maps (decoding into a used one merges).
func decodeLoad(t *testing.T, r testenv.Response) loadTableJSON {
	t.Helper()
	var lt loadTableJSON
	r.JSON(t, &lt)
	return lt
}

var s3Location = map[string]string{
	"s3.endpoint": "http://127.0.0.1:9000", "s3.region": "eu-west-1",
	"s3.path-style-access": "true", "s3.force-virtual-addressing": "false",
}

func withCredentials(id, secret string) map[string]string {
	out := map[string]string{"s3.access-key-id": id, "s3.secret-access-key": secret}
	for k, v := range s3Location {
		out[k] = v
	}
	return out
}

// loadTable's config describes an S3 warehouse to every principal who may load the table, and
// carries the vended credentials only for those allowed table.read_data on it.
func TestLoadTableConfigVendsCredentialsOnlyWithReadData(t *testing.T) {
	vendor := &recordingVendor{}
	env := testenv.New(t, testenv.Options{Storage: gateway.StorageConfig{
		S3:          &gateway.S3Storage{Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: true},
		Credentials: vendor,
	}})
	admin := testenv.Token(t, "alice", "admin")
	loader := testenv.Token(t, "lou")
	reader := testenv.Token(t, "rita")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
	for sub, priv := range map[string]string{"lou": "table.load", "rita": "table.*"} {
		r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{
			"principal_type": "subject", "principal": sub, "privilege": priv, "scope_type": "namespace", "namespace": "sales"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	const path = "/iceberg/v1/namespaces/sales/tables/orders"

	// table.load only: where the files are, no credentials.
	r := env.Do(t, "GET", path, loader, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	lt := decodeLoad(t, r)
	require.Equal(t, s3Location, lt.Config)
	require.Empty(t, vendor.reqs, "the vendor is not asked for a principal without table.read_data")

	// table.read_data (here through table.*): the vendor's credentials for this principal and table.
	r = env.Do(t, "GET", path, reader, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	lt = decodeLoad(t, r)
	require.Equal(t, withCredentials("AKID-orders", "secret-rita"), lt.Config)
	req := vendor.last()
	require.Equal(t, "rita", req.Principal.Subject)
	require.Equal(t, []string{"sales"}, []string(req.Namespace))
	require.Equal(t, "orders", req.Table)
	require.Equal(t, lt.Metadata.Location, req.Location)

	// A 304 answers no body, hence no credentials.
	r = env.Do(t, "GET", path, reader, nil, "If-None-Match", r.Header.Get("ETag"))
	require.Equal(t, http.StatusNotModified, r.Status)
	require.Empty(t, r.Body)

	// createTable answers the same config as loadTable (the creator writes the first files).
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/sales/tables", admin, map[string]any{
		"name": "events", "schema": map[string]any{"type": "struct", "schema-id": 0, "fields": []any{
			map[string]any{"id": 1, "name": "id", "type": "long", "required": true}}}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	lt = decodeLoad(t, r)
	require.Equal(t, withCredentials("AKID-events", "secret-alice"), lt.Config)

	// Revoking read_data stops the vending at once; the location settings remain.
	var grants struct {
		Grants []struct {
			ID        string `json:"id"`
			Principal string `json:"principal"`
		} `json:"grants"`
	}
	env.Do(t, "GET", "/v1/grants?principal=rita", admin, nil).JSON(t, &grants)
	require.Len(t, grants.Grants, 1)
	require.Equal(t, http.StatusNoContent, env.Do(t, "DELETE", "/v1/grants/"+grants.Grants[0].ID, admin, nil).Status)
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "subject", "principal": "rita", "privilege": "table.load", "scope_type": "namespace", "namespace": "sales"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r = env.Do(t, "GET", path, reader, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	lt = decodeLoad(t, r)
	require.Equal(t, s3Location, lt.Config)

	// A vendor failure fails the load: no half-configured answer.
	vendor.mu.Lock()
	vendor.err = errors.New("sts unavailable")
	vendor.mu.Unlock()
	require.Equal(t, http.StatusInternalServerError, env.Do(t, "GET", path, admin, nil).Status)
}

// Without a vendor nobody gets credentials; a file:// warehouse answers an empty config.
func TestLoadTableConfigWithoutVending(t *testing.T) {
	for name, storage := range map[string]gateway.StorageConfig{
		"s3 without vendor": {S3: &gateway.S3Storage{Region: "us-east-1"}},
		"file":              {},
	} {
		t.Run(name, func(t *testing.T) {
			env := testenv.New(t, testenv.Options{Storage: storage})
			admin := testenv.Token(t, "alice", "admin")
			require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
			r := env.Do(t, "GET", "/iceberg/v1/namespaces/sales/tables/orders", admin, nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			lt := decodeLoad(t, r)
			require.NotNil(t, lt.Config)
			if storage.S3 == nil {
				require.Empty(t, lt.Config)
				return
			}
			require.Equal(t, map[string]string{"s3.region": "us-east-1", "s3.path-style-access": "false", "s3.force-virtual-addressing": "true"}, lt.Config)
		})
	}
}
