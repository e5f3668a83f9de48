package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/format"
	"github.com/stretchr/testify/require"
)

// TestDefaultPolicyIsFormatted keeps the shipped Rego in `opa fmt` style.
func TestDefaultPolicyIsFormatted(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("default", "*.rego"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		src, err := os.ReadFile(p)
		require.NoError(t, err)
		formatted, err := format.Source(p, src)
		require.NoError(t, err)
		if string(formatted) != string(src) {
			t.Errorf("%s is not formatted like `opa fmt`; formatted:\n%s", p, formatted)
		}
	}
}
