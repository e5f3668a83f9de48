package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestISODuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute:                      "PT30M",
		time.Hour + 30*time.Minute:            "PT1H30M",
		45 * time.Second:                      "PT45S",
		1500 * time.Millisecond:               "PT1.5S",
		24 * time.Hour:                        "P1D",
		49*time.Hour + time.Second:            "P2DT1H1S",
		0:                                     "PT0S",
		90*time.Minute + 5*time.Second:        "PT1H30M5S",
		10*time.Minute + 250*time.Millisecond: "PT10M0.25S",
	} {
		require.Equal(t, want, isoDuration(d), d.String())
	}
}

func TestIdempotentRoute(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodPost, "/v1/grants", true},
		{http.MethodPatch, "/v1/datasets/a/b", true},
		{http.MethodDelete, "/iceberg/v1/namespaces/a", true},
		{http.MethodPut, "/iceberg/v1/anything", true},
		{http.MethodGet, "/v1/grants", false},
		{http.MethodHead, "/iceberg/v1/namespaces/a", false},
		{http.MethodPost, "/iceberg/v1/oauth/tokens", false},
		{http.MethodPost, "/healthz", false},
		{http.MethodPost, "/v2/grants", false},
	} {
		require.Equal(t, tc.want, idempotentRoute(tc.method, tc.path), tc.method+" "+tc.path)
	}
}

func TestStorableStatus(t *testing.T) {
	for _, s := range []int{200, 201, 204, 400, 403, 404, 409, 422} {
		require.True(t, storableStatus(s), s)
	}
	for _, s := range []int{401, 405, 413, 415, 429, 500, 503} {
		require.False(t, storableStatus(s), s)
	}
}
