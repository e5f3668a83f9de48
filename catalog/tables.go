package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"

	"github.com/lakegate/lakegate/internal/pg"
)

// Entry kinds in the catalog.
const (
	KindTable = "table"
	KindView  = "view"
)

// ListEntries returns the names of the tables or views (kind) in ns, in name order, after
// the name after, at most limit of them.
func (s *Service) ListEntries(ctx context.Context, ns Namespace, kind, after string, limit int) ([]string, error) {
	if err := namespaceMustExist(ctx, s.pool, ns); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name FROM catalog_entries WHERE namespace = $1 AND kind = $2 AND name > $3
		ORDER BY name LIMIT $4`, ns.String(), kind, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: list %ss: %w", kind, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("catalog: list %ss: %w", kind, err)
	}
	return names, nil
}

// NewTable describes a table created through the Iceberg catalog.
type NewTable struct {
	Namespace  Namespace
	Name       string
	Schema     *iceberg.Schema
	Spec       *iceberg.PartitionSpec // nil: unpartitioned
	SortOrder  *table.SortOrder       // nil: unsorted
	Location   string                 // empty: a fresh location the server assigns (see claimLocation)
	Properties iceberg.Properties
	CreatedBy  string
}

// newTableMetadata builds a new table's first metadata: fresh field ids, a location the
// table owns (see claimLocation) and the catalog's default properties under the caller's,
// whose write paths must lie inside that location. It returns the owned location too.
func (s *Service) newTableMetadata(t NewTable) (table.Metadata, claim, error) {
	if err := t.Namespace.Validate(); err != nil {
		return nil, claim{}, err
	}
	if err := validateNewName(t.Name); err != nil {
		return nil, claim{}, err
	}
	if t.Schema == nil {
		return nil, claim{}, &ValidationError{Problems: []Problem{{Field: "schema", Message: "a schema is required"}}}
	}
	c, err := s.claimLocation(t.Namespace, t.Name, t.Location)
	if err != nil {
		return nil, claim{}, err
	}
	props := DefaultTableProperties()
	maps.Copy(props, t.Properties)
	if err := s.checkWritePaths(props, c.own); err != nil {
		return nil, claim{}, err
	}
	order := table.UnsortedSortOrder
	if t.SortOrder != nil {
		order = *t.SortOrder
	}
	md, err := table.NewMetadata(t.Schema, t.Spec, order, c.loc, props)
	if err != nil {
		return nil, claim{}, &ValidationError{Problems: []Problem{{Field: "schema", Message: err.Error()}}}
	}
	return md, c, nil
}

// CreateTable creates a table through the Iceberg catalog: its namespace must exist. The
// table becomes a dataset without a registered schema or quality rules.
func (s *Service) CreateTable(ctx context.Context, t NewTable, hook TxHook) (table.Metadata, string, error) {
	md, c, err := s.newTableMetadata(t)
	if err != nil {
		return nil, "", err
	}
	d, err := s.persistNewTable(ctx, Dataset{Namespace: t.Namespace, Name: t.Name, CreatedBy: t.CreatedBy}, md,
		newTableOptions{own: c.own, reusable: c.external}, hook)
	if err != nil {
		return nil, "", err
	}
	return md, d.MetadataLocation, nil
}

// StageTable returns the metadata a staged create would start from, without creating
// anything: the client commits it later with an assert-create requirement. Its location is
// fresh; the commit that creates the table claims it.
func (s *Service) StageTable(ctx context.Context, t NewTable) (table.Metadata, error) {
	if err := namespaceMustExist(ctx, s.pool, t.Namespace); err != nil {
		return nil, err
	}
	md, _, err := s.newTableMetadata(t)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(md.Location()); err == nil && u.Scheme == "file" {
		// Engines that write the staged table's first files themselves (DuckDB) expect its
		// metadata directory to exist on a local warehouse, as object stores have no
		// directories to create.
		if err := os.MkdirAll(filepath.Join(u.Path, "metadata"), 0o755); err != nil {
			return nil, fmt.Errorf("catalog: stage %s.%s: %w", t.Namespace, t.Name, err)
		}
	}
	return md, nil
}

// RegisterTable adopts an existing metadata file. The table's location (from the file) must
// lie inside the warehouse and overlap no live table's or view's location; the metadata file
// and every file its snapshots reference (manifest lists, manifests, data and delete files)
// must lie inside that location, so a registered table can neither read nor, when purged,
// delete another table's files. The caller must hold table.register, a privilege of its own.
func (s *Service) RegisterTable(ctx context.Context, ns Namespace, name, metadataLocation, createdBy string, hook TxHook) (table.Metadata, error) {
	if err := validateNewName(name); err != nil {
		return nil, err
	}
	if err := s.checkRegisterFile(metadataLocation); err != nil {
		return nil, err
	}
	md, err := s.readMetadata(ctx, metadataLocation)
	if err != nil {
		return nil, unreadableRegisterFile(KindTable, err)
	}
	own, err := s.registeredLocation(KindTable, metadataLocation, md.Location())
	if err != nil {
		return nil, err
	}
	if err := s.checkTableLocations(md, nil, own, false); err != nil {
		return nil, err
	}
	if err := s.checkReferencedFiles(ctx, md, own); err != nil {
		return nil, err
	}
	_, err = s.persistNewTable(ctx, Dataset{Namespace: ns, Name: name, CreatedBy: createdBy}, md,
		newTableOptions{metadataLocation: metadataLocation, own: own, reusable: true}, hook)
	if err != nil {
		return nil, err
	}
	return md, nil
}

// checkRegisterFile checks the metadata file a register request names before it is read: it
// must normalize and lie inside the warehouse or an allowed location, not through a symbolic
// link.
func (s *Service) checkRegisterFile(metadataLocation string) error {
	mdLoc, err := normalizeLocation(metadataLocation)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Field: "metadata-location", Message: err.Error()}}}
	}
	if s.storageRoot(mdLoc) == "" {
		return &LocationError{Field: "metadata-location", Location: metadataLocation, Reason: "it lies outside the warehouse and the allowed locations"}
	}
	return s.checkNoSymlink("metadata-location", metadataLocation, mdLoc)
}

// unreadableRegisterFile is the answer to a register request whose metadata file cannot be
// read or parsed as a kind's metadata.
func unreadableRegisterFile(kind string, err error) error {
	msg := err.Error()
	if cause := errors.Unwrap(err); cause != nil {
		msg = cause.Error()
	}
	return &ValidationError{Problems: []Problem{{Field: "metadata-location", Message: fmt.Sprintf("cannot read a %s metadata file there: %s", kind, msg)}}}
}

// registeredLocation returns the normalized location a registered table or view (kind) owns:
// location, as its metadata file names it, must lie strictly inside the warehouse or an
// allowed location, not through a symbolic link, and contain the metadata file.
func (s *Service) registeredLocation(kind, metadataLocation, location string) (string, error) {
	own, err := normalizeLocation(location)
	if err != nil {
		return "", &ValidationError{Problems: []Problem{{Field: "metadata-location", Message: "the metadata's location: " + err.Error()}}}
	}
	if own == s.warehouse || (!inside(own, s.warehouse) && !s.external(own)) {
		return "", &LocationError{Field: "location", Location: location,
			Reason: fmt.Sprintf("a registered %s must lie strictly inside the warehouse or an allowed location", kind)}
	}
	if err := s.checkNoSymlink("location", location, own); err != nil {
		return "", err
	}
	if err := s.checkInside("metadata-location", metadataLocation, own); err != nil {
		return "", err
	}
	return own, nil
}

// checkReferencedFiles checks that every file md's snapshots reference lies inside own.
func (s *Service) checkReferencedFiles(ctx context.Context, md table.Metadata, own string) error {
	fs, err := s.fileIO(ctx, md.Location())
	if err != nil {
		return err
	}
	for _, snap := range md.Snapshots() {
		manifests, err := snap.Manifests(fs)
		if err != nil {
			return &ValidationError{Problems: []Problem{{Field: "metadata-location",
				Message: fmt.Sprintf("cannot read the manifest list of snapshot %d: %v", snap.SnapshotID, err)}}}
		}
		for _, m := range manifests {
			if err := s.checkInside("manifest", m.FilePath(), own); err != nil {
				return err
			}
			entries, err := m.FetchEntries(fs, false)
			if err != nil {
				return &ValidationError{Problems: []Problem{{Field: "metadata-location",
					Message: fmt.Sprintf("cannot read manifest %s: %v", m.FilePath(), err)}}}
			}
			for _, e := range entries {
				if err := s.checkInside("data-file", e.DataFile().FilePath(), own); err != nil {
					return err
				}
			}
		}
	}
	for st := range md.Statistics() {
		if err := s.checkInside("statistics", st.StatisticsPath, own); err != nil {
			return err
		}
	}
	return nil
}

// Rename moves a table or view (kind) to another name, possibly in another existing
// namespace. Its files stay where they are.
func (s *Service) Rename(ctx context.Context, kind string, fromNS Namespace, from string, toNS Namespace, to string, hook TxHook) error {
	if err := toNS.Validate(); err != nil {
		return err
	}
	if err := validateNewName(to); err != nil {
		return err
	}
	if IsQuarantineTable(from) {
		return &ValidationError{Problems: []Problem{{Field: "source", Message: fmt.Sprintf("%s.%s is a quarantine table: it is renamed with its dataset", fromNS, from)}}}
	}
	// The entries the rename changes, a table's quarantine table included.
	touched := []struct {
		ns   Namespace
		name string
	}{{fromNS, from}, {toNS, to}, {fromNS, QuarantineTableName(from)}, {toNS, QuarantineTableName(to)}}
	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if err := namespaceMustExist(ctx, tx, toNS); err != nil {
			return err
		}
		var other string
		err := tx.QueryRow(ctx, `SELECT kind FROM catalog_entries WHERE namespace = $1 AND name = $2`, toNS.String(), to).Scan(&other)
		if err == nil {
			return errRenameTargetExists(other, fromNS, from, toNS, to)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("catalog: rename: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE catalog_entries SET namespace = $3, name = $4, updated_at = now()
			WHERE namespace = $1 AND name = $2 AND kind = $5`, fromNS.String(), from, toNS.String(), to, kind)
		if pg.IsUniqueViolation(err) {
			return errRenameTargetExists(kind, fromNS, from, toNS, to)
		}
		if err != nil {
			return fmt.Errorf("catalog: rename %s.%s: %w", fromNS, from, err)
		}
		if tag.RowsAffected() == 0 {
			return errNoSuchEntry(kind, fromNS, from)
		}
		if kind == KindTable {
			// A dataset's quarantine table follows it.
			if _, err := tx.Exec(ctx, `UPDATE catalog_entries SET namespace = $3, name = $4, updated_at = now()
				WHERE namespace = $1 AND name = $2 AND kind = 'table'`, fromNS.String(), QuarantineTableName(from), toNS.String(), QuarantineTableName(to)); err != nil {
				return fmt.Errorf("catalog: rename the quarantine table of %s.%s: %w", fromNS, from, err)
			}
		}
		for _, n := range touched {
			if err := notifyChanged(ctx, tx, n.ns, n.name); err != nil {
				return err
			}
		}
		return nil
	})
	for _, n := range touched {
		s.datasets.evict(datasetKey(n.ns, n.name))
	}
	return err
}
