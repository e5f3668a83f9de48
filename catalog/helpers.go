package catalog

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// DefaultTableProperties keeps metadata small and commits fast: old metadata files are
// deleted after commit, the snapshot history is bounded (the files of expired snapshots are
// deleted), and appends merge small manifests so the manifest list stays short.
func DefaultTableProperties() iceberg.Properties {
	return iceberg.Properties{
		table.MetadataDeleteAfterCommitEnabledKey: "true",
		table.MetadataPreviousVersionsMaxKey:      "20",
		"write.parquet.compression-codec":         "zstd",
		MaxSnapshotsKey:                           strconv.Itoa(DefaultMaxSnapshots),
		table.ManifestMergeEnabledKey:             "true",
		table.ManifestMinMergeCountKey:            strconv.Itoa(DefaultManifestMinMergeCount),
	}
}

// problemsOf returns the problems of a *ValidationError, or one problem holding err's text.
func problemsOf(err error) []Problem {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	return []Problem{{Message: err.Error()}}
}

// prefixed returns err's problems with each field path put under prefix.
func prefixed(prefix string, err error) []Problem {
	ps := problemsOf(err)
	out := make([]Problem, len(ps))
	for i, p := range ps {
		switch {
		case p.Field == "":
			p.Field = prefix
		case p.Field != prefix && !strings.HasPrefix(p.Field, prefix+"."):
			p.Field = prefix + "." + p.Field
		}
		out[i] = p
	}
	return out
}

// prefixErr puts a *ValidationError's field paths under prefix and passes other errors through.
func prefixErr(prefix string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return &ValidationError{Problems: prefixed(prefix, err)}
	}
	return err
}

// purgeTable removes a dropped table's files: every file under the location it owned
// (stored; nil for a table recorded before locations were tracked, whose metadata tells),
// on the local filesystem or every object under its prefix in an object store. It removes
// nothing when that location is not strictly inside the warehouse (or an allowed location)
// or overlaps a location that
// a live table or view owns. Failures are logged, since the drop itself has already committed.
func (s *Service) purgeTable(ctx context.Context, metadataLoc string, stored *string) {
	if stored == nil {
		md, err := s.readMetadata(ctx, metadataLoc)
		if err != nil {
			s.logger.Warn("purge: cannot read table metadata", "location", metadataLoc, "err", err)
			return
		}
		stored = new(string)
		if *stored, err = normalizeLocation(md.Location()); err != nil {
			s.logger.Warn("purge: the table location is invalid; files kept", "location", md.Location(), "err", err)
			return
		}
	}
	own := *stored
	if root := s.storageRoot(own); root == "" || own == root {
		s.logger.Warn("purge: the table location is not strictly inside the warehouse or an allowed location; files kept", "location", own)
		return
	}
	switch overlap, err := overlapsLive(ctx, s.pool, own, "", ""); {
	case err != nil:
		s.logger.Warn("purge: cannot check the location against live tables; files kept", "location", own, "err", err)
		return
	case overlap:
		s.logger.Warn("purge: another table or view owns a location overlapping the dropped table's; files kept", "location", own)
		return
	}
	fs, err := s.fileIO(ctx, own)
	if err == nil {
		err = removeTree(ctx, fs, own)
	}
	if err != nil {
		s.logger.Warn("purge: remove table files", "location", own, "err", err)
	}
}
