package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"strings"

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

// checkLocation refuses table and metadata locations outside the warehouse: the catalog
// never points at, or writes to, storage it does not govern.
func (s *Service) checkLocation(loc string) error {
	if loc == "" {
		return &ValidationError{Problems: []Problem{{Field: "location", Message: "a location is required"}}}
	}
	u, err := url.Parse(loc)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Field: "location", Message: fmt.Sprintf("%q is not a URL", loc)}}}
	}
	clean := u.Scheme + "://" + u.Host + path.Clean("/"+u.Path)
	if u.Scheme == "" || strings.Contains(u.Path, "..") || !strings.HasPrefix(clean+"/", s.cfg.Warehouse+"/") {
		return &ValidationError{Problems: []Problem{{Field: "location",
			Message: fmt.Sprintf("%q is outside the warehouse %s", loc, s.cfg.Warehouse)}}}
	}
	return nil
}

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
	Location   string                 // empty: <warehouse>/<namespace levels>/<name>
	Properties iceberg.Properties
	CreatedBy  string
}

// newTableMetadata builds a new table's first metadata: fresh field ids, the location
// checked against the warehouse, the catalog's default properties under the caller's.
func (s *Service) newTableMetadata(t NewTable) (table.Metadata, error) {
	if err := t.Namespace.Validate(); err != nil {
		return nil, err
	}
	if err := validateNewName(t.Name); err != nil {
		return nil, err
	}
	if t.Schema == nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "schema", Message: "a schema is required"}}}
	}
	loc := strings.TrimSuffix(t.Location, "/")
	if loc == "" {
		loc = s.tableLocation(t.Namespace, t.Name)
	}
	if err := s.checkLocation(loc); err != nil {
		return nil, err
	}
	props := DefaultTableProperties()
	maps.Copy(props, t.Properties)
	order := table.UnsortedSortOrder
	if t.SortOrder != nil {
		order = *t.SortOrder
	}
	md, err := table.NewMetadata(t.Schema, t.Spec, order, loc, props)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "schema", Message: err.Error()}}}
	}
	return md, nil
}

// CreateTable creates a table through the Iceberg catalog: its namespace must exist. The
// table becomes a dataset without a registered schema or quality rules.
func (s *Service) CreateTable(ctx context.Context, t NewTable, hook TxHook) (table.Metadata, string, error) {
	md, err := s.newTableMetadata(t)
	if err != nil {
		return nil, "", err
	}
	d, err := s.persistNewTable(ctx, Dataset{Namespace: t.Namespace, Name: t.Name, CreatedBy: t.CreatedBy}, md, newTableOptions{}, hook)
	if err != nil {
		return nil, "", err
	}
	return md, d.MetadataLocation, nil
}

// StageTable returns the metadata a staged create would start from, without creating
// anything: the client commits it later with an assert-create requirement.
func (s *Service) StageTable(ctx context.Context, t NewTable) (table.Metadata, error) {
	if err := namespaceMustExist(ctx, s.pool, t.Namespace); err != nil {
		return nil, err
	}
	return s.newTableMetadata(t)
}

// RegisterTable adopts an existing metadata file, which must lie inside the warehouse.
func (s *Service) RegisterTable(ctx context.Context, ns Namespace, name, metadataLocation, createdBy string, hook TxHook) (table.Metadata, error) {
	if err := validateNewName(name); err != nil {
		return nil, err
	}
	if err := s.checkLocation(metadataLocation); err != nil {
		return nil, prefixErr("metadata-location", err)
	}
	md, err := s.readMetadata(ctx, metadataLocation)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "metadata-location", Message: "cannot read a table metadata file there: " + errors.Unwrap(err).Error()}}}
	}
	if err := s.checkLocation(md.Location()); err != nil {
		return nil, prefixErr("metadata-location", err)
	}
	_, err = s.persistNewTable(ctx, Dataset{Namespace: ns, Name: name, CreatedBy: createdBy}, md,
		newTableOptions{metadataLocation: metadataLocation}, hook)
	if err != nil {
		return nil, err
	}
	return md, nil
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
	notFound := ErrNoSuchTable
	exists := ErrTableAlreadyExists
	if kind == KindView {
		notFound, exists = ErrNoSuchView, ErrViewAlreadyExists
	}
	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if err := namespaceMustExist(ctx, tx, toNS); err != nil {
			return err
		}
		var other string
		err := tx.QueryRow(ctx, `SELECT kind FROM catalog_entries WHERE namespace = $1 AND name = $2`, toNS.String(), to).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: %s.%s (a %s)", exists, toNS, to, other)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("catalog: rename: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE catalog_entries SET namespace = $3, name = $4, updated_at = now()
			WHERE namespace = $1 AND name = $2 AND kind = $5`, fromNS.String(), from, toNS.String(), to, kind)
		if pg.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %s.%s", exists, toNS, to)
		}
		if err != nil {
			return fmt.Errorf("catalog: rename %s.%s: %w", fromNS, from, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s.%s", notFound, fromNS, from)
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
