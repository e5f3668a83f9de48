package policy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkZZScale(b *testing.B) {
	for _, n := range []int{0, 100, 1000, 5000} {
		e, err := New(Config{}, nil, nil)
		require.NoError(b, err)
		grants := append(benchGrants(n, 50, 50), nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
		require.NoError(b, e.SetGrants(b.Context(), grants))
		input := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead,
			Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				d, _ := e.Decide(b.Context(), input)
				if !d.Allow {
					b.Fatal(d)
				}
			}
		})
	}
}
