package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TableChange is one table's part of a commit: requirements checked against its current
// metadata and updates applied to it.
type TableChange struct {
	Namespace    Namespace
	Name         string
	Requirements []table.Requirement
	Updates      []table.Update
}

// Committed is a table's state after a commit.
type Committed struct {
	Metadata table.Metadata
	Location string
	// JSON is the metadata file's content when the commit wrote one, so that callers
	// answering with the metadata need not encode it again.
	JSON []byte
}

// Commit is the one commit function for a single table: see CommitTables.
func (s *Service) Commit(ctx context.Context, ns Namespace, name string, reqs []table.Requirement, updates []table.Update, hook TxHook) (table.Metadata, string, error) {
	out, err := s.CommitTables(ctx, []TableChange{{Namespace: ns, Name: name, Requirements: reqs, Updates: updates}}, hook)
	if err != nil {
		return nil, "", err
	}
	return out[0].Metadata, out[0].Location, nil
}

// stagedCommit is one table of a commit, prepared before the transaction.
type stagedCommit struct {
	TableChange
	base      table.Metadata
	baseLoc   string
	next      table.Metadata
	nextLoc   string
	nextJSON  []byte
	create    bool
	unchanged bool
	// expired are the snapshots the commit expires (see expiredSnapshots), and withExpired
	// the metadata before their removal: their files are deleted once the commit stands.
	expired     []int64
	withExpired table.Metadata
	// own is the normalized location the table owns: nothing the commit writes or deletes
	// lies outside it. reusable: a create at an allowed location (see claim.external).
	own      string
	reusable bool
	moved    bool // the commit moves the table to own (see moveEntry)
}

// CommitTables is the one commit function: every change to table metadata, from the REST
// catalog (single or multi-table), the datasets API or the streaming writer, goes through
// it. For each table it loads the current pointer, checks the requirements, applies the
// updates with iceberg-go, runs the governance guard and writes the new metadata file; then
// one transaction swaps every pointer with a compare-and-swap, keeps the dataset rows in
// step and runs hook — all tables or none. A lost swap or a failed requirement answers
// ErrCommitFailed (retryable); a failed transaction commit ErrCommitStateUnknown. A table
// that does not exist is created when its requirements include assert-create (the second
// half of a staged create).
//
// A swap lost to a concurrent commit is retried here, up to the first table's
// commit.retry.num-retries (default 4) with jittered backoff: each retry reloads the tables and
// checks the requirements again, so a change whose requirements still hold after someone
// else's commit (e.g. a schema change racing an append) succeeds instead of failing.
func (s *Service) CommitTables(ctx context.Context, changes []TableChange, hook TxHook) ([]Committed, error) {
	if len(changes) == 0 {
		return nil, &ValidationError{Problems: []Problem{{Field: "table-changes", Message: "at least one table change is required"}}}
	}
	retries := commitRetriesDefault
	for attempt := 0; ; attempt++ {
		out, n, err := s.commitOnce(ctx, changes, hook)
		if n >= 0 {
			retries = n
		}
		if !errors.Is(err, errLostSwap) || attempt >= retries {
			return out, err
		}
		wait := time.Duration(10<<min(attempt, 6)) * time.Millisecond
		wait += time.Duration(rand.Int64N(int64(wait)))
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// commitRetriesDefault is Iceberg's default for commit.retry.num-retries.
const commitRetriesDefault = 4

// errLostSwap marks a commit that lost its compare-and-swap to a concurrent one.
var errLostSwap = fmt.Errorf("%w: lost the race to a concurrent commit", ErrCommitFailed)

// commitOnce makes one attempt; it also returns the first table's retry budget (-1 unknown).
func (s *Service) commitOnce(ctx context.Context, changes []TableChange, hook TxHook) ([]Committed, int, error) {
	retries := -1
	out, err := s.commitAttempt(ctx, changes, hook, func(md table.Metadata) {
		if retries < 0 && md != nil {
			retries = md.Properties().GetInt("commit.retry.num-retries", commitRetriesDefault)
		}
	})
	return out, retries, err
}

func (s *Service) commitAttempt(ctx context.Context, changes []TableChange, hook TxHook, seenBase func(table.Metadata)) ([]Committed, error) {
	seen := map[string]bool{}
	staged := make([]*stagedCommit, 0, len(changes))
	var written []string
	cleanup := func() {
		for _, loc := range written {
			s.removeFile(ctx, loc)
		}
	}
	for i, ch := range changes {
		key := datasetKey(ch.Namespace, ch.Name)
		if seen[key] {
			cleanup()
			return nil, &ValidationError{Problems: []Problem{{Field: fmt.Sprintf("table-changes[%d]", i), Message: fmt.Sprintf("table %s appears twice", key)}}}
		}
		seen[key] = true
		st, err := s.stage(ctx, ch)
		if err != nil {
			cleanup()
			return nil, err
		}
		if !st.create {
			seenBase(st.base)
		}
		if !st.unchanged {
			written = append(written, st.nextLoc)
		}
		staged = append(staged, st)
	}

	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		for _, st := range staged {
			if err := s.apply(ctx, tx, st); err != nil {
				return err
			}
		}
		return nil
	})
	for _, st := range staged {
		s.datasets.evict(datasetKey(st.Namespace, st.Name))
	}
	if err != nil {
		if !errors.Is(err, ErrCommitStateUnknown) {
			cleanup()
		}
		return nil, err
	}
	out := make([]Committed, len(staged))
	for i, st := range staged {
		if st.unchanged {
			out[i] = Committed{Metadata: st.base, Location: st.baseLoc}
			continue
		}
		s.cache.put(st.nextLoc, st.next)
		if !st.create {
			s.deleteOldMetadata(ctx, st.base, st.next, st.own)
		}
		if len(st.expired) > 0 {
			s.deleteExpiredFiles(ctx, st)
		}
		out[i] = Committed{Metadata: st.next, Location: st.nextLoc, JSON: st.nextJSON}
	}
	return out, nil
}

func isCreate(reqs []table.Requirement) bool {
	for _, r := range reqs {
		if r.GetType() == "assert-create" {
			return true
		}
	}
	return false
}

// stage prepares one table's commit and writes its new metadata file.
func (s *Service) stage(ctx context.Context, ch TableChange) (*stagedCommit, error) {
	st := &stagedCommit{TableChange: ch}
	base, baseLoc, own, err := s.loadTableMetadata(ctx, s.pool, ch.Namespace, ch.Name)
	switch {
	case errors.Is(err, ErrNoSuchTable) && isCreate(ch.Requirements):
		st.create = true
	case err != nil:
		return nil, err
	}
	st.own = own
	for _, r := range ch.Requirements {
		if err := r.Validate(base); err != nil {
			return nil, failedRequirement(r, base, err)
		}
	}
	var next table.Metadata
	if st.create {
		if err := ValidateTableName(ch.Name); err != nil {
			return nil, err
		}
		next, err = buildFromEmpty(ch.Updates)
	} else {
		next, err = table.UpdateTableMetadata(base, ch.Updates, baseLoc)
	}
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "updates", Message: err.Error()}}}
	}
	if expired := expiredSnapshots(next, time.Now()); len(expired) > 0 {
		// Table hygiene in the commit path: history stays bounded (see expiredSnapshots).
		// No location: next already logged baseLoc in its metadata log.
		st.expired, st.withExpired = expired, next
		if next, err = table.UpdateTableMetadata(next, []table.Update{table.NewRemoveSnapshotsUpdate(expired, false)}, ""); err != nil {
			return nil, fmt.Errorf("catalog: expire snapshots of %s.%s: %w", ch.Namespace, ch.Name, err)
		}
	}
	st.base, st.baseLoc, st.next = base, baseLoc, next
	if !st.create && next.Equals(base) {
		st.unchanged = true
		return st, nil
	}
	if st.create {
		// The location comes from the staged create (or the client); without one the
		// server assigns it.
		c, err := s.claimLocation(ch.Namespace, ch.Name, next.Location())
		if err != nil {
			return nil, err
		}
		if c.loc != next.Location() {
			if next, err = table.UpdateTableMetadata(next, []table.Update{table.NewSetLocationUpdate(c.loc)}, ""); err != nil {
				return nil, fmt.Errorf("catalog: set the location of %s.%s: %w", ch.Namespace, ch.Name, err)
			}
			st.next = next
		}
		own, st.own, st.reusable = c.own, c.own, c.external
		if err := s.checkTableLocations(next, nil, own, false); err != nil {
			return nil, err
		}
	} else {
		if next.Location() != base.Location() && !owns(own, next.Location()) {
			// A set-location out of the table's own location: allowed to a location the table
			// may claim as if it were new, which it then owns instead.
			c, err := s.claimLocation(ch.Namespace, ch.Name, next.Location())
			if err != nil {
				return nil, err
			}
			own, st.own, st.reusable, st.moved = c.own, c.own, c.external, true
		}
		if err := s.checkTableLocations(next, base, own, st.moved); err != nil {
			return nil, err
		}
	}
	if !st.create {
		if err := s.guardSchema(ctx, ch.Namespace, ch.Name, base, next); err != nil {
			return nil, err
		}
	}
	version := 0
	if !st.create {
		version = metadataVersion(baseLoc) + 1
	}
	if st.nextLoc, err = s.newMetadataLocation(next, version); err != nil {
		return nil, err
	}
	if st.nextJSON, err = s.writeMetadata(ctx, next, st.nextLoc); err != nil {
		return nil, err
	}
	return st, nil
}

// buildFromEmpty builds a new table's first metadata from the updates of a create commit
// (the second half of a staged create), starting from nothing — no schema, spec or sort
// order of its own, as Java's TableMetadata.buildFromEmpty — at the format version the
// updates ask for (upgrade-format-version; 2 without one). The ids the client's updates assign
// are then the ids the staged metadata showed it.
func buildFromEmpty(updates []table.Update) (table.Metadata, error) {
	version, hasUUID := 2, false
	for _, u := range updates {
		switch u.Action() {
		case table.UpdateUpgradeFormatVersion:
			var v struct {
				FormatVersion int `json:"format-version"`
			}
			raw, err := json.Marshal(u)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			version = v.FormatVersion
		case table.UpdateAssignUUID:
			hasUUID = true
		}
	}
	b, err := table.NewMetadataBuilder(version)
	if err != nil {
		return nil, err
	}
	if !hasUUID {
		if err := b.SetUUID(uuid.New()); err != nil {
			return nil, err
		}
	}
	// Partition specs, sort orders and snapshots need a current schema, which some clients
	// (DuckDB) set only at the end of a create: the first set-current-schema is then applied
	// as soon as one of those needs it.
	applied := make([]bool, len(updates))
	for i, u := range updates {
		if applied[i] {
			continue
		}
		switch u.Action() {
		case table.UpdateAddSpec, table.UpdateAddSortOrder, table.UpdateAddSnapshot:
			if b.CurrentSchema() != nil {
				break
			}
			for j := i + 1; j < len(updates); j++ {
				if updates[j].Action() == table.UpdateSetCurrentSchema {
					if err := updates[j].Apply(b); err != nil {
						return nil, err
					}
					applied[j] = true
					break
				}
			}
		}
		if err := u.Apply(b); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

// apply records one staged commit inside the commit transaction.
func (s *Service) apply(ctx context.Context, tx pgx.Tx, st *stagedCommit) error {
	if st.unchanged {
		return nil
	}
	if st.create {
		if err := namespaceMustExist(ctx, tx, st.Namespace); err != nil {
			return err
		}
		if err := nameMustBeFree(ctx, tx, st.Namespace, st.Name, KindTable); err != nil {
			return err
		}
		if err := insertEntry(ctx, tx, entry{ns: st.Namespace, name: st.Name, kind: KindTable, metadataLocation: st.nextLoc,
			own: st.own, adopt: st.reusable}); err != nil {
			return err
		}
		return insertDatasetRow(ctx, tx, &Dataset{Namespace: st.Namespace, Name: st.Name}, st.next, false)
	}
	if st.moved {
		if err := moveEntry(ctx, tx, entry{ns: st.Namespace, name: st.Name, kind: KindTable, own: st.own, adopt: st.reusable}); err != nil {
			return err
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE catalog_entries
		SET metadata_location = $3, previous_metadata_location = $4, updated_at = now()
		WHERE namespace = $1 AND name = $2 AND kind = 'table' AND metadata_location = $4`,
		st.Namespace.String(), st.Name, st.nextLoc, st.baseLoc)
	if err != nil {
		return fmt.Errorf("catalog: swap metadata pointer: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%w: table %s.%s", errLostSwap, st.Namespace, st.Name)
	}
	if st.next.CurrentSchema().ID != st.base.CurrentSchema().ID || st.next.DefaultPartitionSpec() != st.base.DefaultPartitionSpec() {
		// Keep the dataset's schema in step with the table's.
		sc := SchemaFromIceberg(st.next.CurrentSchema())
		parts := PartitionFieldsFromIceberg(st.next.CurrentSchema(), st.next.PartitionSpec())
		if parts == nil {
			parts = []PartitionField{}
		}
		schemaJSON, _ := json.Marshal(sc)
		partJSON, _ := json.Marshal(parts)
		if _, err := tx.Exec(ctx, `UPDATE datasets SET schema = $3, partitioning = $4, version = version + 1, updated_at = now()
			WHERE namespace = $1 AND name = $2`, st.Namespace.String(), st.Name, schemaJSON, partJSON); err != nil {
			return fmt.Errorf("catalog: sync dataset schema: %w", err)
		}
	}
	return notifyChanged(ctx, tx, st.Namespace, st.Name)
}

// guardSchema refuses a breaking change to a registered schema, whoever commits it.
func (s *Service) guardSchema(ctx context.Context, ns Namespace, name string, base, next table.Metadata) error {
	if next.CurrentSchema().ID == base.CurrentSchema().ID {
		return nil
	}
	var enforced bool
	err := s.pool.QueryRow(ctx, `SELECT schema_enforced FROM datasets WHERE namespace = $1 AND name = $2`, ns.String(), name).Scan(&enforced)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("catalog: load dataset of %s.%s: %w", ns, name, err)
	}
	if !enforced {
		return nil
	}
	if breaking := CheckCompatible(base.CurrentSchema(), next.CurrentSchema()); len(breaking) > 0 {
		return &GovernanceError{Reason: fmt.Sprintf("dataset %s.%s has a registered schema; the commit breaks it", ns, name),
			Changes: breaking}
	}
	return nil
}

// GovernanceError is a governance veto on a change: not a conflict to retry, but a change the
// dataset's contract refuses.
type GovernanceError struct {
	Reason  string
	Changes []Change
}

func (e *GovernanceError) Error() string {
	return e.Reason + ": " + (&BreakingChangeError{Changes: e.Changes}).Error()
}

// deleteOldMetadata removes the metadata files that dropped out of the table's metadata log,
// when the table asks for it (write.metadata.delete-after-commit.enabled). A failure is only
// logged: the commit has happened. Only files inside own, the table's location, are removed:
// a registered table's metadata log may name files of the table it was copied from.
func (s *Service) deleteOldMetadata(ctx context.Context, base, next table.Metadata, own string) {
	if !next.Properties().GetBool(table.MetadataDeleteAfterCommitEnabledKey, table.MetadataDeleteAfterCommitEnabledDefault) {
		return
	}
	kept := map[string]bool{}
	for e := range next.PreviousFiles() {
		kept[e.MetadataFile] = true
	}
	for e := range base.PreviousFiles() {
		if !kept[e.MetadataFile] && owns(own, e.MetadataFile) {
			s.removeFile(ctx, e.MetadataFile)
		}
	}
}

// LoadTable returns the current metadata of a table and its location. The pointer comes
// from the dataset cache, which every commit in any lakegate process evicts through a
// Postgres notification: a load may lag a commit made through another process by that
// notification's latency, never a commit made through this one. Commits always check the
// pointer in the database.
func (s *Service) LoadTable(ctx context.Context, ns Namespace, name string) (table.Metadata, string, error) {
	// A table in a namespace that does not exist is just as missing: ErrNoSuchTable, never
	// ErrNoSuchNamespace, since Iceberg clients fall back to metadata tables (db.t.snapshots)
	// and branch identifiers (db.t.branch_x) only on NoSuchTableException.
	d, err := s.GetDataset(ctx, ns, name)
	if err != nil {
		return nil, "", err
	}
	md, err := s.readTableMetadata(ctx, ns, name, d.MetadataLocation)
	if err != nil {
		return nil, "", err
	}
	return md, d.MetadataLocation, nil
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// loadTableMetadata returns a table's current metadata, its metadata file and the location
// the table owns.
func (s *Service) loadTableMetadata(ctx context.Context, q queryer, ns Namespace, name string) (table.Metadata, string, string, error) {
	loc, stored, err := entryPointer(ctx, q, KindTable, ns, name)
	if err != nil {
		return nil, "", "", err
	}
	md, err := s.readTableMetadata(ctx, ns, name, loc)
	if err != nil {
		return nil, "", "", err
	}
	own, err := ownedLocation(stored, md.Location())
	if err != nil {
		return nil, "", "", err
	}
	return md, loc, own, nil
}

// entryPointer returns the current metadata file of table or view (kind) ns.name and the
// location it owns (nil for an entry recorded before locations were tracked).
func entryPointer(ctx context.Context, q queryer, kind string, ns Namespace, name string) (string, *string, error) {
	var (
		loc    string
		stored *string
	)
	err := q.QueryRow(ctx, `SELECT metadata_location, location FROM catalog_entries WHERE namespace = $1 AND name = $2 AND kind = $3`,
		ns.String(), name, kind).Scan(&loc, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, errNoSuchEntry(kind, ns, name)
	}
	if err != nil {
		return "", nil, fmt.Errorf("catalog: load pointer of %s %s.%s: %w", kind, ns, name, err)
	}
	return loc, stored, nil
}

// readTableMetadata reads table ns.name's metadata file loc; a file that is gone is a
// MissingMetadataError naming the table.
func (s *Service) readTableMetadata(ctx context.Context, ns Namespace, name, loc string) (table.Metadata, error) {
	if u, err := url.Parse(loc); err == nil && u.Scheme == "file" {
		// Parsed files are cached; on a local warehouse it costs a stat to notice that the
		// file was removed behind the catalog's back. (On S3 that would be a request per load:
		// there a removed file is noticed when the cache no longer holds it.)
		if _, err := os.Stat(u.Path); errors.Is(err, iofs.ErrNotExist) {
			return nil, &MissingMetadataError{Object: "table", Namespace: ns, Name: name, Location: loc, Err: err}
		}
	}
	md, err := s.readMetadata(ctx, loc)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, &MissingMetadataError{Object: "table", Namespace: ns, Name: name, Location: loc, Err: err}
	}
	return md, err
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

// writeMetadata writes md to loc and returns the bytes written.
func (s *Service) writeMetadata(ctx context.Context, md table.Metadata, loc string) ([]byte, error) {
	fs, err := s.fileIO(ctx, loc)
	if err != nil {
		return nil, err
	}
	wfs, ok := fs.(icebergio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("catalog: file io for %s cannot write", loc)
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode metadata: %w", err)
	}
	if err := wfs.WriteFile(loc, b); err != nil {
		return nil, fmt.Errorf("catalog: write metadata %s: %w", loc, err)
	}
	return b, nil
}

func (s *Service) removeFile(ctx context.Context, loc string) {
	fs, err := s.fileIO(ctx, loc)
	if err == nil {
		err = fs.Remove(loc)
	}
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
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

// metadataCache holds the parsed current metadata file of recently used tables. Metadata
// files never change, so an entry is valid exactly while its location is the one asked for;
// each table keeps only its latest file, which bounds the cache by the number of tables.
type metadataCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cachedMetadata // by table directory
}

type cachedMetadata struct {
	loc string
	md  table.Metadata
}

func newMetadataCache(max int) *metadataCache {
	return &metadataCache{max: max, entries: make(map[string]cachedMetadata, max)}
}

// TableDir is the table directory of a metadata file location: the part before
// "/metadata/", or the location itself when it has none.
func TableDir(loc string) string {
	if i := strings.LastIndex(loc, "/metadata/"); i >= 0 {
		return loc[:i]
	}
	return loc
}

func (c *metadataCache) get(loc string) (table.Metadata, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[TableDir(loc)]
	if !ok || e.loc != loc {
		return nil, false
	}
	return e.md, true
}

func (c *metadataCache) put(loc string, md table.Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := TableDir(loc)
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries { // map order is random: evict an arbitrary table
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedMetadata{loc: loc, md: md}
}
