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

// purgeTable removes a dropped table's files: every file under its location, on the local
// filesystem or every object under its prefix in an object store. Only locations strictly
// inside the warehouse are touched; failures are logged, since the drop itself has already
// committed.
func (s *Service) purgeTable(ctx context.Context, metadataLoc string) {
	md, err := s.readMetadata(ctx, metadataLoc)
	if err != nil {
		s.logger.Warn("purge: cannot read table metadata", "location", metadataLoc, "err", err)
		return
	}
	loc := strings.TrimSuffix(md.Location(), "/")
	if !strings.HasPrefix(loc, s.cfg.Warehouse+"/") || s.checkLocation(loc) != nil {
		s.logger.Warn("purge: table location is outside the warehouse; files kept", "location", loc)
		return
	}
	fs, err := s.fileIO(ctx, loc)
	if err == nil {
		err = removeTree(ctx, fs, loc)
	}
	if err != nil {
		s.logger.Warn("purge: remove table files", "location", loc, "err", err)
	}
}
