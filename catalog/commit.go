package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"sync"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
)

// Commit is the one commit function: every change to a table's metadata, from the REST
// catalog, the datasets API or the streaming writer, goes through it. It loads the current
// pointer, checks reqs, applies updates with iceberg-go, writes the new metadata file and
// swaps the pointer with a compare-and-swap in a transaction that also runs hook. A lost swap
// answers ErrCommitFailed (retryable); a failed transaction commit ErrCommitStateUnknown.
func (s *Service) Commit(ctx context.Context, ns Namespace, name string, reqs []table.Requirement, updates []table.Update, hook TxHook) (table.Metadata, string, error) {
	base, baseLoc, err := s.loadTableMetadata(ctx, s.pool, ns, name)
	if err != nil {
		return nil, "", err
	}
	for _, r := range reqs {
		if err := r.Validate(base); err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrCommitFailed, err)
		}
	}
	next, err := table.UpdateTableMetadata(base, updates, baseLoc)
	if err != nil {
		return nil, "", &ValidationError{Problems: []Problem{{Field: "updates", Message: err.Error()}}}
	}
	if next.Equals(base) {
		return base, baseLoc, nil
	}
	nextLoc, err := s.newMetadataLocation(next, metadataVersion(baseLoc)+1)
	if err != nil {
		return nil, "", err
	}
	if err := s.writeMetadata(ctx, next, nextLoc); err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, hook, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE catalog_entries
			SET metadata_location = $3, previous_metadata_location = $4, updated_at = now()
			WHERE namespace = $1 AND name = $2 AND kind = 'table' AND metadata_location = $4`,
			ns.String(), name, nextLoc, baseLoc)
		if err != nil {
			return fmt.Errorf("catalog: swap metadata pointer: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: table %s.%s was changed concurrently", ErrCommitFailed, ns, name)
		}
		return notifyChanged(ctx, tx, ns, name)
	})
	s.datasets.evict(datasetKey(ns, name))
	if err != nil {
		if !errors.Is(err, ErrCommitStateUnknown) {
			s.removeFile(ctx, nextLoc)
		}
		return nil, "", err
	}
	s.cache.put(nextLoc, next)
	s.deleteOldMetadata(ctx, base, next)
	return next, nextLoc, nil
}

// deleteOldMetadata removes the metadata files that dropped out of the table's metadata log,
// when the table asks for it (write.metadata.delete-after-commit.enabled). A failure is only
// logged: the commit has happened.
func (s *Service) deleteOldMetadata(ctx context.Context, base, next table.Metadata) {
	if !next.Properties().GetBool(table.MetadataDeleteAfterCommitEnabledKey, table.MetadataDeleteAfterCommitEnabledDefault) {
		return
	}
	kept := map[string]bool{}
	for e := range next.PreviousFiles() {
		kept[e.MetadataFile] = true
	}
	for e := range base.PreviousFiles() {
		if !kept[e.MetadataFile] {
			s.removeFile(ctx, e.MetadataFile)
		}
	}
}

// LoadTable returns the current metadata of a table and its location.
func (s *Service) LoadTable(ctx context.Context, ns Namespace, name string) (table.Metadata, string, error) {
	return s.loadTableMetadata(ctx, s.pool, ns, name)
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) loadTableMetadata(ctx context.Context, q queryer, ns Namespace, name string) (table.Metadata, string, error) {
	var loc string
	err := q.QueryRow(ctx, `SELECT metadata_location FROM catalog_entries WHERE namespace = $1 AND name = $2 AND kind = 'table'`,
		ns.String(), name).Scan(&loc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("%w: %s.%s", ErrNoSuchTable, ns, name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("catalog: load pointer of %s.%s: %w", ns, name, err)
	}
	md, err := s.readMetadata(ctx, loc)
	if err != nil {
		return nil, "", err
	}
	return md, loc, nil
}

// readMetadata reads and parses a metadata file. Metadata files are immutable, so parsed
// files are cached by location.
func (s *Service) readMetadata(ctx context.Context, loc string) (table.Metadata, error) {
	if md, ok := s.cache.get(loc); ok {
		return md, nil
	}
	fs, err := s.fileIO(ctx, loc)
	if err != nil {
		return nil, err
	}
	f, err := fs.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("catalog: open metadata %s: %w", loc, err)
	}
	defer f.Close()
	md, err := table.ParseMetadata(f)
	if err != nil {
		return nil, fmt.Errorf("catalog: parse metadata %s: %w", loc, err)
	}
	s.cache.put(loc, md)
	return md, nil
}

func (s *Service) writeMetadata(ctx context.Context, md table.Metadata, loc string) error {
	fs, err := s.fileIO(ctx, loc)
	if err != nil {
		return err
	}
	wfs, ok := fs.(icebergio.WriteFileIO)
	if !ok {
		return fmt.Errorf("catalog: file io for %s cannot write", loc)
	}
	b, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("catalog: encode metadata: %w", err)
	}
	if err := wfs.WriteFile(loc, b); err != nil {
		return fmt.Errorf("catalog: write metadata %s: %w", loc, err)
	}
	return nil
}

func (s *Service) removeFile(ctx context.Context, loc string) {
	fs, err := s.fileIO(ctx, loc)
	if err == nil {
		err = fs.Remove(loc)
	}
	if err != nil {
		s.logger.Warn("could not remove orphaned metadata file", "location", loc, "err", err)
	}
}

func (s *Service) newMetadataLocation(md table.Metadata, version int) (string, error) {
	props := md.Properties()
	if props == nil {
		props = iceberg.Properties{}
	}
	lp, err := table.LoadLocationProvider(md.Location(), props)
	if err != nil {
		return "", fmt.Errorf("catalog: location provider: %w", err)
	}
	loc, err := lp.NewTableMetadataFileLocation(version)
	if err != nil {
		return "", fmt.Errorf("catalog: metadata location: %w", err)
	}
	return loc, nil
}

var metadataFileRE = regexp.MustCompile(`^(\d+)-[0-9a-fA-F-]{36}(?:\.[a-z]+)?\.metadata\.json$`)

// metadataVersion parses NNNNN from NNNNN-<uuid>.metadata.json; -1 when it does not match.
func metadataVersion(loc string) int {
	m := metadataFileRE.FindStringSubmatch(path.Base(loc))
	if m == nil {
		return -1
	}
	v, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return v
}

// metadataCache holds parsed metadata files by location. They never change, so entries are
// only ever evicted for size.
type metadataCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]table.Metadata
}

func newMetadataCache(max int) *metadataCache {
	return &metadataCache{max: max, entries: make(map[string]table.Metadata, max)}
}

func (c *metadataCache) get(loc string) (table.Metadata, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	md, ok := c.entries[loc]
	return md, ok
}

func (c *metadataCache) put(loc string, md table.Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k := range c.entries { // map order is random: evict an arbitrary entry
			delete(c.entries, k)
			break
		}
	}
	c.entries[loc] = md
}
