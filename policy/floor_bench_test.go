package policy

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkFloor(b *testing.B) {
	dir := b.TempDir()
	require.NoError(b, writeFileErr(dir+"/a.rego", allowAllPolicy))
	e, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(b, err)
	input := in("root", []string{"admin"}, ActionTableDrop, euOrdersTable())
	for b.Loop() {
		if _, err := e.Decide(b.Context(), input); err != nil {
			b.Fatal(err)
		}
	}
}

func writeFileErr(p, c string) error { return os.WriteFile(p, []byte(c), 0o644) }
