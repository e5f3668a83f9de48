package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkZZAllocs(b *testing.B) {
	full, err := os.ReadFile("default/authz.rego")
	require.NoError(b, err)
	src := string(full)
	cut := strings.Index(src, "# data.grant_index holds")
	noGrants := src[:cut] + "allowing_grant_ids := set()\n"
	b.Run("full", func(b *testing.B) { benchPolicy(b, src) })
	b.Run("no_grant_rules", func(b *testing.B) { benchPolicy(b, noGrants) })
	rules := strings.Split(src[cut:], "\nallowing_grant_ids")
	for i := 1; i < len(rules); i++ {
		b.Run("only_rule_"+string(rune('0'+i)), func(b *testing.B) {
			benchPolicy(b, src[:cut]+"\nallowing_grant_ids"+rules[i])
		})
	}
}
