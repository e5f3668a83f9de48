package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/stretchr/testify/require"
)

// TestDefaultPolicyRegoTests runs the Rego unit tests next to the default
// policy (default/*_test.rego).
func TestDefaultPolicyRegoTests(t *testing.T) {
	results, err := tester.Run(t.Context(), "default")
	require.NoError(t, err)
	require.NotEmpty(t, results, "no Rego tests ran")

	passed := 0
	for _, r := range results {
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		case r.Fail:
			t.Errorf("%s.%s: failed at %v", r.Package, r.Name, r.FailedAt)
		case r.Skip:
			t.Errorf("%s.%s: skipped", r.Package, r.Name)
		default:
			passed++
		}
	}
	require.Equal(t, len(results), passed, "Rego tests passed")
}
