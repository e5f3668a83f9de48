// Package tabletest inspects Iceberg tables on a file:// warehouse for tests: which files the
// snapshots reach and which files are on disk.
package tabletest

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"
)

// Reachable returns every file md's snapshots reach: manifest lists, manifests and the data
// and delete files of their live entries, as paths on the local filesystem.
func Reachable(t testing.TB, md table.Metadata) map[string]bool {
	t.Helper()
	fsys, err := icebergio.LoadFS(t.Context(), nil, md.Location())
	require.NoError(t, err)
	out := map[string]bool{}
	for _, snap := range md.Snapshots() {
		out[localPath(snap.ManifestList)] = true
		mans, err := snap.Manifests(fsys)
		require.NoError(t, err, "manifest list of snapshot %d", snap.SnapshotID)
		for _, man := range mans {
			out[localPath(man.FilePath())] = true
			entries, err := man.FetchEntries(fsys, true)
			require.NoError(t, err, "manifest %s", man.FilePath())
			for _, e := range entries {
				out[localPath(e.DataFile().FilePath())] = true
			}
		}
	}
	return out
}

// Files lists the data and manifest files under a table directory on the local filesystem
// (every file but the metadata JSON files).
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(localPath(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".metadata.json") {
			out = append(out, p)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func localPath(loc string) string {
	return strings.TrimPrefix(loc, "file://")
}

// IDs scans tbl and returns its first column, a long, sorted.
func IDs(t testing.TB, tbl *table.Table) []int64 {
	t.Helper()
	at, err := tbl.Scan().ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	var ids []int64
	for _, ch := range at.Column(0).Data().Chunks() {
		ids = append(ids, ch.(*array.Int64).Int64Values()...)
	}
	slices.Sort(ids)
	return ids
}
