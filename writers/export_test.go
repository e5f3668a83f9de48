package writers

import (
	"context"

	"github.com/lakegate/lakegate/catalog"
)

// Compact runs one compaction round on a dataset and reports the data files it replaced and
// wrote, and whether ingest made it give up.
func (w *Writer) Compact(ctx context.Context, ns catalog.Namespace, name string) (removed, added int, abandoned bool, err error) {
	res, err := w.compact(ctx, ns, name)
	return res.filesRemoved, res.filesAdded, res.abandoned, err
}

// BeforeRewriteCommit sets a function run before each compaction commit attempt.
func (w *Writer) BeforeRewriteCommit(f func()) { w.beforeRewriteCommit = f }
