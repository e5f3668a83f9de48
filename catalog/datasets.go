package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
)

// Dataset is a table with its governance attributes.
type Dataset struct {
	Namespace   Namespace
	Name        string
	Description string
	Owner       string
	Tags        []string
	Schema      Schema
	// FieldTags are the tags of the schema's fields, also set on Schema's fields.
	FieldTags    FieldTags
	Partitioning []PartitionField
	// Quality holds the declared quality rules as JSON; the quality package validates and
	// interprets them.
	Quality json.RawMessage
	// UnknownFields says what ingest does with a record field the schema lacks: "reject" or "drop".
	UnknownFields string
	// SchemaEnforced marks a registered schema: external engines' commits may only evolve it
	// compatibly. Datasets registered through our API have one; tables created through the
	// Iceberg catalog do not.
	SchemaEnforced   bool
	Version          int64
	CreatedBy        string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	MetadataLocation string
}

// Unknown-field policies.
const (
	UnknownFieldsReject = "reject"
	UnknownFieldsDrop   = "drop"
)

// MaxTags bounds a dataset's tags.
const MaxTags = 64

func validateAttributes(d *Dataset) []Problem {
	var problems []Problem
	if len(d.Description) > 4096 {
		problems = append(problems, Problem{Field: "description", Message: "at most 4096 characters"})
	}
	if len(d.Owner) > 256 {
		problems = append(problems, Problem{Field: "owner", Message: "at most 256 characters"})
	}
	if len(d.Tags) > MaxTags {
		problems = append(problems, Problem{Field: "tags", Message: fmt.Sprintf("at most %d tags", MaxTags)})
	}
	seen := map[string]bool{}
	for i, t := range d.Tags {
		if t == "" || len(t) > 64 || strings.ContainsAny(t, " \t\r\n,") {
			problems = append(problems, Problem{Field: fmt.Sprintf("tags[%d]", i), Message: "a tag is 1 to 64 characters without spaces or commas"})
		}
		if seen[t] {
			problems = append(problems, Problem{Field: fmt.Sprintf("tags[%d]", i), Message: fmt.Sprintf("duplicate tag %q", t)})
		}
		seen[t] = true
	}
	switch d.UnknownFields {
	case "":
		d.UnknownFields = UnknownFieldsReject
	case UnknownFieldsReject, UnknownFieldsDrop:
	default:
		problems = append(problems, Problem{Field: "unknown_fields", Message: `must be "reject" or "drop"`})
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if len(d.Quality) == 0 {
		d.Quality = json.RawMessage("[]")
	}
	return problems
}

// CreateDataset registers a dataset: it creates the namespace (and its parents) if needed and
// the Iceberg table, writing its first metadata file to the warehouse, then records the
// pointer and the dataset in one transaction together with hook. Nothing is half-written:
// on failure the metadata file is removed.
func (s *Service) CreateDataset(ctx context.Context, d Dataset, hook TxHook) (Dataset, error) {
	var problems []Problem
	if err := d.Namespace.Validate(); err != nil {
		problems = append(problems, problemsOf(err)...)
	}
	if err := validateNewName(d.Name); err != nil {
		problems = append(problems, problemsOf(err)...)
	}
	problems = append(problems, validateAttributes(&d)...)
	tags, tagProblems := fieldTagsOf(d.Schema)
	problems = append(problems, tagProblems...)
	d.FieldTags = tags
	sc, err := d.Schema.ToIceberg()
	if err != nil {
		problems = append(problems, prefixed("schema", err)...)
	}
	var spec *iceberg.PartitionSpec
	if sc != nil {
		sp, err := PartitionSpec(sc, d.Partitioning)
		if err != nil {
			problems = append(problems, problemsOf(err)...)
		} else {
			spec = &sp
		}
	}
	if len(problems) > 0 {
		return Dataset{}, &ValidationError{Problems: problems}
	}

	loc := s.newLocation(d.Namespace, d.Name)
	md, err := table.NewMetadata(sc, spec, table.UnsortedSortOrder, loc, DefaultTableProperties())
	if err != nil {
		return Dataset{}, &ValidationError{Problems: []Problem{{Field: "schema", Message: err.Error()}}}
	}
	return s.persistNewTable(ctx, d, md, newTableOptions{enforceSchema: true, createNamespaces: true, own: loc}, hook)
}

type newTableOptions struct {
	enforceSchema    bool   // the schema is registered: external commits may only evolve it compatibly
	createNamespaces bool   // create missing namespaces (the datasets API) instead of failing (the Iceberg API)
	metadataLocation string // adopt this existing metadata file (register) instead of writing one
	own              string // the normalized location the table owns (see claimLocation)
	reusable         bool   // own may have been had by a dropped table (register, allowed locations)
}

// persistNewTable writes md's first metadata file (unless adopting one) and records the
// table pointer and its dataset row in one transaction with hook. On failure the written
// file is removed, so nothing is half-created.
func (s *Service) persistNewTable(ctx context.Context, d Dataset, md table.Metadata, opts newTableOptions, hook TxHook) (Dataset, error) {
	mdLoc := opts.metadataLocation
	if mdLoc == "" {
		var err error
		if mdLoc, err = s.newMetadataLocation(md, 0); err != nil {
			return Dataset{}, err
		}
		if _, err := s.writeMetadata(ctx, md, mdLoc); err != nil {
			return Dataset{}, err
		}
	}
	if problems := validateAttributes(&d); len(problems) > 0 {
		return Dataset{}, &ValidationError{Problems: problems}
	}
	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if opts.createNamespaces {
			if err := ensureNamespace(ctx, tx, d.Namespace); err != nil {
				return err
			}
		} else if err := namespaceMustExist(ctx, tx, d.Namespace); err != nil {
			return err
		}
		if err := nameMustBeFree(ctx, tx, d.Namespace, d.Name, KindTable); err != nil {
			return err
		}
		if err := insertEntry(ctx, tx, entry{ns: d.Namespace, name: d.Name, kind: KindTable, metadataLocation: mdLoc,
			own: opts.own, adopt: opts.reusable}); err != nil {
			return err
		}
		return insertDatasetRow(ctx, tx, &d, md, opts.enforceSchema)
	})
	s.datasets.evict(datasetKey(d.Namespace, d.Name))
	if err != nil {
		if opts.metadataLocation == "" && !errors.Is(err, ErrCommitStateUnknown) {
			s.removeFile(ctx, mdLoc)
		}
		return Dataset{}, err
	}
	s.cache.put(mdLoc, md)
	d.MetadataLocation = mdLoc
	return d, nil
}

// insertDatasetRow records the dataset of a new table, its schema and partitioning taken from
// the table's metadata (the ids Iceberg assigned, in our API's shape), and notifies.
func insertDatasetRow(ctx context.Context, tx pgx.Tx, d *Dataset, md table.Metadata, enforced bool) error {
	if d.FieldTags == nil {
		d.FieldTags = FieldTags{}
	}
	plain := SchemaFromIceberg(md.CurrentSchema()) // stored as the table has it; tags apart
	d.Schema = withFieldTags(plain, d.FieldTags)
	d.Partitioning = PartitionFieldsFromIceberg(md.CurrentSchema(), md.PartitionSpec())
	if d.Partitioning == nil {
		d.Partitioning = []PartitionField{}
	}
	validateAttributes(d) // fills defaults; callers validated the values
	d.SchemaEnforced = enforced
	schemaJSON, _ := json.Marshal(plain)
	partJSON, _ := json.Marshal(d.Partitioning)
	tagsJSON, _ := json.Marshal(d.FieldTags)
	if err := tx.QueryRow(ctx, `INSERT INTO datasets (namespace, name, description, owner, tags, schema, partitioning, quality, unknown_fields, created_by, schema_enforced, field_tags)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING version, created_at, updated_at`,
		d.Namespace.String(), d.Name, d.Description, d.Owner, d.Tags, schemaJSON, partJSON, []byte(d.Quality), d.UnknownFields, d.CreatedBy, enforced, tagsJSON,
	).Scan(&d.Version, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return fmt.Errorf("catalog: insert dataset: %w", err)
	}
	return notifyChanged(ctx, tx, d.Namespace, d.Name)
}

// ensureNamespace creates ns and each of its parents that is missing.
func ensureNamespace(ctx context.Context, tx pgx.Tx, ns Namespace) error {
	for i := 1; i <= len(ns); i++ {
		level := ns[:i]
		if _, err := tx.Exec(ctx, `INSERT INTO namespaces (name, levels) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			level.String(), []string(level)); err != nil {
			return fmt.Errorf("catalog: create namespace %s: %w", level, err)
		}
	}
	return nil
}

const datasetColumns = `d.namespace, d.name, d.description, d.owner, d.tags, d.schema, d.partitioning, d.quality,
	d.unknown_fields, d.schema_enforced, d.version, d.created_by, d.created_at, d.updated_at, e.metadata_location, d.field_tags`

func scanDataset(row pgx.Row) (Dataset, error) {
	var (
		d                            Dataset
		ns                           string
		schemaJSON, partJSON, qj, tj []byte
	)
	if err := row.Scan(&ns, &d.Name, &d.Description, &d.Owner, &d.Tags, &schemaJSON, &partJSON, &qj,
		&d.UnknownFields, &d.SchemaEnforced, &d.Version, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &d.MetadataLocation, &tj); err != nil {
		return Dataset{}, err
	}
	d.Namespace = Namespace(strings.Split(ns, "."))
	if err := json.Unmarshal(schemaJSON, &d.Schema); err != nil {
		return Dataset{}, fmt.Errorf("catalog: stored schema of %s.%s: %w", ns, d.Name, err)
	}
	if err := json.Unmarshal(partJSON, &d.Partitioning); err != nil {
		return Dataset{}, fmt.Errorf("catalog: stored partitioning of %s.%s: %w", ns, d.Name, err)
	}
	if err := json.Unmarshal(tj, &d.FieldTags); err != nil {
		return Dataset{}, fmt.Errorf("catalog: stored field tags of %s.%s: %w", ns, d.Name, err)
	}
	d.Schema = withFieldTags(d.Schema, d.FieldTags)
	d.Quality = qj
	return d, nil
}

// GetDataset returns one dataset, from the cache when it holds it.
func (s *Service) GetDataset(ctx context.Context, ns Namespace, name string) (Dataset, error) {
	key := datasetKey(ns, name)
	d, gen, ok := s.datasets.get(key)
	if ok {
		return d, nil
	}
	d, err := getDataset(ctx, s.pool, ns, name, false)
	if err != nil {
		return Dataset{}, err
	}
	s.datasets.put(key, d, gen)
	return d, nil
}

func getDataset(ctx context.Context, q queryer, ns Namespace, name string, forUpdate bool) (Dataset, error) {
	query := `SELECT ` + datasetColumns + ` FROM datasets d JOIN catalog_entries e USING (namespace, name)
		WHERE d.namespace = $1 AND d.name = $2`
	if forUpdate {
		query += ` FOR UPDATE OF d, e`
	}
	d, err := scanDataset(q.QueryRow(ctx, query, ns.String(), name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Dataset{}, errNoSuchEntry(KindTable, ns, name)
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("catalog: get dataset %s.%s: %w", ns, name, err)
	}
	return d, nil
}

// ListFilter selects datasets. After is the last (namespace, name) of the previous page.
type ListFilter struct {
	Namespace      Namespace // this namespace and the ones below it; empty for all
	Tag            string
	AfterNamespace string
	AfterName      string
	Limit          int
}

// ListDatasets returns up to Limit datasets in (namespace, name) order, after the cursor.
func (s *Service) ListDatasets(ctx context.Context, f ListFilter) ([]Dataset, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if len(f.Namespace) > 0 {
		where = append(where, fmt.Sprintf("(d.namespace = %s OR d.namespace LIKE %s)", arg(f.Namespace.String()), arg(likePrefix(f.Namespace.String()+"."))))
	}
	if f.Tag != "" {
		where = append(where, fmt.Sprintf("d.tags @> ARRAY[%s]::text[]", arg(f.Tag)))
	}
	if f.AfterNamespace != "" || f.AfterName != "" {
		where = append(where, fmt.Sprintf("(d.namespace, d.name) > (%s, %s)", arg(f.AfterNamespace), arg(f.AfterName)))
	}
	query := `SELECT ` + datasetColumns + ` FROM datasets d JOIN catalog_entries e USING (namespace, name)`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY d.namespace, d.name LIMIT %s", arg(f.Limit))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: list datasets: %w", err)
	}
	defer rows.Close()
	var out []Dataset
	for rows.Next() {
		d, err := scanDataset(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: list datasets: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: list datasets: %w", err)
	}
	return out, nil
}

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// DatasetUpdate holds the attributes to change; nil means unchanged.
type DatasetUpdate struct {
	Description   *string
	Owner         *string
	Tags          *[]string
	Quality       json.RawMessage
	UnknownFields *string
	Schema        *Schema
	// IfVersion, when non-zero, makes the update conditional on the dataset's version.
	IfVersion int64
	// CheckRules, when set, validates the dataset's quality rules against the schema the
	// dataset will have, after the schema change itself was found compatible, and returns
	// them normalised.
	CheckRules func(sc Schema, rules json.RawMessage) (json.RawMessage, error)
}

// UpdateDataset changes a dataset's attributes and, when Schema is set, evolves the table's
// schema through the commit function. Breaking schema changes answer *BreakingChangeError.
// The schema commit, the dataset row and hook share one transaction.
func (s *Service) UpdateDataset(ctx context.Context, ns Namespace, name string, u DatasetUpdate, hook TxHook) (Dataset, []Change, error) {
	// Read around the cache: the version check below must see the latest row.
	cur, err := getDataset(ctx, s.pool, ns, name, false)
	if err != nil {
		return Dataset{}, nil, err
	}
	if u.IfVersion != 0 && u.IfVersion != cur.Version {
		return Dataset{}, nil, fmt.Errorf("%w: version is %d, not %d", ErrConcurrentUpdate, cur.Version, u.IfVersion)
	}
	next := cur
	if u.Description != nil {
		next.Description = *u.Description
	}
	if u.Owner != nil {
		next.Owner = *u.Owner
	}
	if u.Tags != nil {
		next.Tags = *u.Tags
	}
	if u.Quality != nil {
		next.Quality = u.Quality
	}
	if u.UnknownFields != nil {
		next.UnknownFields = *u.UnknownFields
	}
	problems := validateAttributes(&next)
	if u.Schema != nil {
		tags, tagProblems := fieldTagsOf(*u.Schema)
		problems = append(problems, tagProblems...)
		next.FieldTags = tags
	}
	if len(problems) > 0 {
		return Dataset{}, nil, &ValidationError{Problems: problems}
	}
	tagsJSON, _ := json.Marshal(next.FieldTags)

	// expect is the dataset version the row must have when write runs: the one read above,
	// or one more when a schema commit ran first in the same transaction (the commit keeps
	// the row's schema in step and bumps its version). Either way the row ends at cur+1,
	// and a concurrent change in between makes the update fail rather than be lost.
	expect := cur.Version
	write := func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE datasets SET description = $3, owner = $4, tags = $5, quality = $6, unknown_fields = $7,
				version = $9, field_tags = $10, updated_at = now()
			WHERE namespace = $1 AND name = $2 AND version = $8`,
			ns.String(), name, next.Description, next.Owner, next.Tags, []byte(next.Quality), next.UnknownFields, expect, cur.Version+1, tagsJSON)
		if err != nil {
			return fmt.Errorf("catalog: update dataset %s.%s: %w", ns, name, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: %s.%s", ErrConcurrentUpdate, ns, name)
		}
		if err := notifyChanged(ctx, tx, ns, name); err != nil {
			return err
		}
		if hook != nil {
			return hook(ctx, tx)
		}
		return nil
	}

	var (
		changes []Change
		commit  func() (string, error)
	)
	if u.Schema != nil {
		md, _, err := s.LoadTable(ctx, ns, name)
		if err != nil {
			return Dataset{}, nil, err
		}
		curSchema := md.CurrentSchema()
		nextSchema, _, ch, err := Evolve(curSchema, md.LastColumnID(), *u.Schema)
		if err != nil {
			return Dataset{}, nil, prefixErr("schema", err)
		}
		changes = ch
		if nextSchema.ID != curSchema.ID {
			next.Schema = withFieldTags(SchemaFromIceberg(nextSchema), next.FieldTags)
			reqs := []table.Requirement{table.AssertCurrentSchemaID(curSchema.ID)}
			updates := []table.Update{table.NewAddSchemaUpdate(nextSchema), table.NewSetCurrentSchemaUpdate(-1)}
			expect = cur.Version + 1
			commit = func() (string, error) {
				_, loc, err := s.Commit(ctx, ns, name, reqs, updates, write)
				return loc, err
			}
		}
	}
	if u.CheckRules != nil {
		q, err := u.CheckRules(next.Schema, next.Quality)
		if err != nil {
			return Dataset{}, nil, err
		}
		next.Quality = q
	}
	if commit == nil {
		commit = func() (string, error) {
			return "", s.inTx(ctx, nil, func(tx pgx.Tx) error { return write(ctx, tx) })
		}
	}
	_, err = commit()
	s.datasets.evict(datasetKey(ns, name))
	if err != nil {
		return Dataset{}, nil, err
	}
	return s.reread(ctx, ns, name, changes)
}

func (s *Service) reread(ctx context.Context, ns Namespace, name string, changes []Change) (Dataset, []Change, error) {
	d, err := s.GetDataset(ctx, ns, name)
	return d, changes, err
}

// DeleteDataset drops the dataset and its table pointer, and its quarantine table if it has
// one, in one transaction with hook. With purge, the tables' files are removed from the
// warehouse afterwards.
func (s *Service) DeleteDataset(ctx context.Context, ns Namespace, name string, purge bool, hook TxHook) error {
	names := []string{name}
	if !IsQuarantineTable(name) {
		names = append(names, QuarantineTableName(name))
	}
	type dropped struct {
		metadataLoc string
		own         *string
	}
	var locs []dropped
	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM catalog_entries WHERE namespace = $1 AND name = ANY($2) AND kind = 'table'
			RETURNING name = $3, metadata_location, location`, ns.String(), names, name)
		if err != nil {
			return fmt.Errorf("catalog: delete dataset %s.%s: %w", ns, name, err)
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			var (
				self bool
				d    dropped
			)
			if err := rows.Scan(&self, &d.metadataLoc, &d.own); err != nil {
				return fmt.Errorf("catalog: delete dataset %s.%s: %w", ns, name, err)
			}
			found = found || self
			locs = append(locs, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("catalog: delete dataset %s.%s: %w", ns, name, err)
		}
		if !found {
			return errNoSuchEntry(KindTable, ns, name)
		}
		for _, n := range names {
			if err := notifyChanged(ctx, tx, ns, n); err != nil {
				return err
			}
		}
		return nil
	})
	for _, n := range names {
		s.datasets.evict(datasetKey(ns, n))
	}
	if err != nil {
		return err
	}
	if purge {
		for _, d := range locs {
			s.purgeTable(ctx, d.metadataLoc, d.own)
		}
	}
	return nil
}
