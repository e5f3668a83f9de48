package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/internal/segment"
)

// Locations belong to the server. Every table and view owns a location that no other object
// has ever had: <warehouse>/<escaped namespace levels>/<escaped name>-<uuid>. Every location a
// request can influence — a table's or view's location, set-location, the write.*.path
// properties, the manifest lists of added snapshots, register-table's metadata file and the
// files it references — must lie inside the object's own location, and a purge removes only
// what lies inside it. Namespace directories never contain '-' (see segment.Escape), so a
// table's location can never be a namespace's directory, nor lie inside another table's.

// ErrForbiddenLocation marks a location a request may not use; see LocationError.
var ErrForbiddenLocation = errors.New("forbidden location")

// LocationError is a location outside what the object may touch. It answers 403.
type LocationError struct {
	Field    string // the request field that carried it, e.g. "location", "write.data.path"
	Location string
	Reason   string
}

func (e *LocationError) Error() string {
	return fmt.Sprintf("%s %q is not allowed: %s", e.Field, e.Location, e.Reason)
}

func (e *LocationError) Unwrap() error { return ErrForbiddenLocation }

// writePathProperties are the table properties that tell writers where to put files.
var writePathProperties = []string{
	table.WriteMetadataPathKey,  // write.metadata.path
	table.WriteDataPathKey,      // write.data.path
	"write.object-storage.path", // object-storage layout's data path (deprecated in Java, still read)
	"write.folder-storage.path", // deprecated alias of write.data.path, still read by Java
}

// NamespaceLocation is the directory under which the tables and views of ns get their
// locations.
func (s *Service) NamespaceLocation(ns Namespace) string {
	parts := make([]string, len(ns))
	for i, level := range ns {
		parts[i] = segment.Escape(level)
	}
	return s.warehouse + "/" + strings.Join(parts, "/")
}

// newLocation returns a location no object has had: <namespace dir>/<name>-<uuid>.
func (s *Service) newLocation(ns Namespace, name string) string {
	return s.NamespaceLocation(ns) + "/" + segment.Escape(name) + "-" + uuid.NewString()
}

var uniqueSuffixRE = regexp.MustCompile(`^-[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`)

// normalizeLocation checks that raw is an absolute file or s3 location without anything a
// URL parser, a FileIO or a filesystem could read differently from us (percent escapes,
// backslashes, control characters, '.' and '..' or empty segments, user info, queries), and
// returns its canonical form for comparisons: scheme://bucket/path (s3a and s3n are s3;
// file locations have no host), without a trailing '/'.
func normalizeLocation(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q %s", raw, why)
	}
	if raw == "" {
		return "", errors.New("a location is required")
	}
	if !utf8.ValidString(raw) {
		return "", bad("is not valid UTF-8")
	}
	for _, r := range raw {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", bad("contains a control character")
		case r == '%':
			return "", bad("contains a percent escape; write the characters themselves")
		case r == '\\':
			return "", bad("contains a backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", bad("is not a URL")
	}
	if u.Opaque != "" || u.Scheme == "" {
		return "", bad("is not an absolute URL (scheme://bucket/path or file:///path)")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", bad("must not carry user information, a query or a fragment")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	switch scheme {
	case "file":
		if host != "" && host != "localhost" {
			return "", bad("names a host; file locations are local paths")
		}
		host = ""
	case "s3", "s3a", "s3n":
		scheme = "s3"
		if host == "" {
			return "", bad("names no bucket")
		}
	default:
		return "", bad("has an unsupported scheme; use file or s3")
	}
	p := u.Path
	if p != "" && !strings.HasPrefix(p, "/") {
		return "", bad("is not an absolute path")
	}
	p = strings.TrimRight(p, "/")
	if p != "" {
		for _, seg := range strings.Split(p[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", bad("has an empty, '.' or '..' path segment")
			}
		}
	}
	return scheme + "://" + host + p, nil
}

// inside reports whether the normalized location child is parent or lies below it.
func inside(child, parent string) bool {
	return child == parent || strings.HasPrefix(child, parent+"/")
}

// owns reports whether the file loc lies inside own, a normalized location (false for a
// location that does not normalize).
func owns(own, loc string) bool {
	n, err := normalizeLocation(loc)
	return err == nil && inside(n, own)
}

// checkInside checks that raw (from request field) lies inside own, a normalized location
// the object owns; on a file warehouse it must not pass through a symbolic link either.
func (s *Service) checkInside(field, raw, own string) error {
	n, err := normalizeLocation(raw)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Field: field, Message: err.Error()}}}
	}
	if !inside(n, own) {
		return &LocationError{Field: field, Location: raw, Reason: "it lies outside the object's own location " + own}
	}
	return s.checkNoSymlink(field, raw, n)
}

// storageRoot is the root that holds the normalized location n: the warehouse or one of the
// allowed locations; "" when none does.
func (s *Service) storageRoot(n string) string {
	if inside(n, s.warehouse) {
		return s.warehouse
	}
	for _, a := range s.allowed {
		if inside(n, a) {
			return a
		}
	}
	return ""
}

// checkNoSymlink refuses a file location below the warehouse root (or an allowed location)
// whose existing part passes through a symbolic link: the string would say one place and the
// filesystem another.
func (s *Service) checkNoSymlink(field, raw, n string) error {
	const fileScheme = "file://"
	top := s.storageRoot(n)
	if !strings.HasPrefix(n, fileScheme) || top == "" {
		return nil
	}
	root := strings.TrimPrefix(top, fileScheme)
	cur := strings.TrimPrefix(n, fileScheme)
	for cur != root {
		if _, err := os.Lstat(cur); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("catalog: inspect %s: %w", cur, err)
		}
		cur = filepath.Dir(cur)
	}
	if cur == root {
		return nil
	}
	realRoot, err := s.resolvedRoot(root)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(cur)
	if err != nil {
		return fmt.Errorf("catalog: resolve %s: %w", cur, err)
	}
	if real != realRoot+strings.TrimPrefix(cur, root) {
		return &LocationError{Field: field, Location: raw, Reason: "it passes through a symbolic link in the warehouse"}
	}
	return nil
}

// resolvedRoot is root (a local warehouse or allowed location) with its symbolic links
// resolved, cached: the roots are fixed for the process.
func (s *Service) resolvedRoot(root string) (string, error) {
	if r, ok := s.realRoots.Load(root); ok {
		return r.(string), nil
	}
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("catalog: resolve the warehouse %s: %w", root, err)
	}
	s.realRoots.Store(root, r)
	return r, nil
}

// claim is the location a new table or view takes.
type claim struct {
	own string // normalized location it owns
	loc string // location for its metadata (as the client wrote it, or assigned)
	// external is a location under an operator's allowed locations: it must overlap no live
	// entry's location, but may have been had by a dropped one (as for register).
	external bool
}

// claimLocation returns the location a new table or view ns.name owns, and the location to
// put in its metadata. Without a requested location the server assigns a fresh one. A
// requested location is accepted only in the form the server assigns,
// <namespace dir>/<name>-<uuid> (or a path inside it), as a staged create or an engine that
// derives locations from the namespace's location produces; whether nobody has had it is
// checked when the entry is recorded (insertEntry).
//
// With allowed locations configured (Config.AllowedLocations), a requested location strictly
// inside one of them is accepted as it is (external).
func (s *Service) claimLocation(ns Namespace, name, requested string) (claim, error) {
	if requested == "" {
		own := s.newLocation(ns, name)
		return claim{own: own, loc: own}, nil
	}
	n, err := normalizeLocation(requested)
	if err != nil {
		return claim{}, &ValidationError{Problems: []Problem{{Field: "location", Message: err.Error()}}}
	}
	c := claim{loc: strings.TrimRight(requested, "/")}
	dir := s.NamespaceLocation(ns)
	root, _, _ := strings.Cut(strings.TrimPrefix(n, dir+"/"), "/")
	prefix := segment.Escape(name)
	switch {
	case strings.HasPrefix(n, dir+"/") && strings.HasPrefix(root, prefix) && uniqueSuffixRE.MatchString(root[len(prefix):]):
		c.own = dir + "/" + root
	case s.external(n):
		c.own, c.external = n, true
	default:
		return claim{}, &LocationError{Field: "location", Location: requested,
			Reason: fmt.Sprintf("the server assigns locations: leave it out, or use %s/%s-<uuid>", dir, segment.Escape(name))}
	}
	if err := s.checkNoSymlink("location", requested, n); err != nil {
		return claim{}, err
	}
	return c, nil
}

// external reports whether the normalized location n lies strictly inside an allowed
// location.
func (s *Service) external(n string) bool {
	for _, a := range s.allowed {
		if n != a && inside(n, a) {
			return true
		}
	}
	return false
}

// checkTableLocations checks every location in a table's metadata that a request can
// influence against own: the table location, the write.*.path properties and the manifest
// lists of snapshots that base does not have (base nil: of every snapshot). With a base and
// the same own location as before (moved false), values the commit left unchanged were
// checked when they were set and are not checked again.
func (s *Service) checkTableLocations(md, base table.Metadata, own string, moved bool) error {
	unchanged := func(key, v string) bool {
		if base == nil || moved {
			return false
		}
		if key == "location" {
			return base.Location() == v
		}
		old, ok := base.Properties()[key]
		return ok && old == v
	}
	if !unchanged("location", md.Location()) {
		if err := s.checkInside("location", md.Location(), own); err != nil {
			return err
		}
	}
	for _, key := range writePathProperties {
		if v, ok := md.Properties()[key]; ok && !unchanged(key, v) {
			if err := s.checkInside(key, v, own); err != nil {
				return err
			}
		}
	}
	for _, snap := range md.Snapshots() {
		if base != nil && base.SnapshotByID(snap.SnapshotID) != nil {
			continue
		}
		if snap.ManifestList == "" {
			continue
		}
		if err := s.checkInside(fmt.Sprintf("snapshots[%d].manifest-list", snap.SnapshotID), snap.ManifestList, own); err != nil {
			return err
		}
	}
	return nil
}

// checkWritePaths checks the write.*.path properties against own.
func (s *Service) checkWritePaths(props map[string]string, own string) error {
	for _, key := range writePathProperties {
		if v, ok := props[key]; ok {
			if err := s.checkInside(key, v, own); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry is a catalog entry about to be recorded.
type entry struct {
	ns               Namespace
	name, kind       string
	metadataLocation string
	own              string // normalized location the entry owns
	adopt            bool   // register: the location may have been had before (a dropped table's files)
}

// insertEntry records a new table or view with the location it owns, inside tx (see
// claimInTx).
func insertEntry(ctx context.Context, tx pgx.Tx, e entry) error {
	if err := claimInTx(ctx, tx, e, false); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO catalog_entries (namespace, name, kind, metadata_location, location) VALUES ($1, $2, $3, $4, $5)`,
		e.ns.String(), e.name, e.kind, e.metadataLocation, e.own); err != nil {
		if pg.IsUniqueViolation(err) {
			return errEntryExists(e.kind, e.kind, e.ns, e.name)
		}
		return fmt.Errorf("catalog: insert %s: %w", e.kind, err)
	}
	return nil
}

// moveEntry makes an existing entry own e.own instead of its location (a set-location to a
// location it may claim), inside tx (see claimInTx). The files at the old location are the
// entry's no more: a purge leaves them.
func moveEntry(ctx context.Context, tx pgx.Tx, e entry) error {
	if err := claimInTx(ctx, tx, e, true); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE catalog_entries SET location = $3 WHERE namespace = $1 AND name = $2`,
		e.ns.String(), e.name, e.own); err != nil {
		return fmt.Errorf("catalog: move %s %s.%s: %w", e.kind, e.ns, e.name, err)
	}
	return nil
}

// claimInTx claims e.own for the entry inside tx: no live entry (but the entry itself when
// moving) may own a location that contains, equals or lies inside it, and unless adopting,
// no entry may ever have had it.
func claimInTx(ctx context.Context, tx pgx.Tx, e entry, moving bool) error {
	// Serializes location claims, so two concurrent creates cannot both pass the overlap check.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('lakegate.catalog_locations'))`); err != nil {
		return fmt.Errorf("catalog: lock locations: %w", err)
	}
	self := ""
	if moving {
		self = e.ns.String()
	}
	overlap, err := overlapsLive(ctx, tx, e.own, self, e.name)
	if err != nil {
		return err
	}
	if overlap {
		return &LocationError{Field: "location", Location: e.own, Reason: "it overlaps the location of another table or view"}
	}
	onConflict := ""
	if e.adopt {
		onConflict = " ON CONFLICT (location) DO NOTHING"
	}
	if _, err := tx.Exec(ctx, `INSERT INTO catalog_locations (location, namespace, name, kind) VALUES ($1, $2, $3, $4)`+onConflict,
		e.own, e.ns.String(), e.name, e.kind); err != nil {
		if pg.IsUniqueViolation(err) {
			return &LocationError{Field: "location", Location: e.own, Reason: "another table or view has had this location"}
		}
		return fmt.Errorf("catalog: record location %s: %w", e.own, err)
	}
	return nil
}

// overlapsLive reports whether a live entry, other than exceptNS.exceptName, owns a location
// that equals, contains or lies inside own.
func overlapsLive(ctx context.Context, q queryer, own, exceptNS, exceptName string) (bool, error) {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM catalog_entries
		WHERE (location = $1 OR starts_with(location, $1 || '/') OR starts_with($1, location || '/'))
		AND NOT (namespace = $2 AND name = $3) LIMIT 1`, own, exceptNS, exceptName).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("catalog: check location %s: %w", own, err)
	}
}

// ownedLocation is the location entry ns.name owns; an entry recorded before locations were
// tracked (NULL) owns its metadata's location.
func ownedLocation(stored *string, mdLocation string) (string, error) {
	if stored != nil {
		return *stored, nil
	}
	n, err := normalizeLocation(mdLocation)
	if err != nil {
		return "", fmt.Errorf("catalog: the stored location %q is invalid: %w", mdLocation, err)
	}
	return n, nil
}

// RecordLegacyLocations fills in the owned location of entries recorded before locations
// were tracked, from their current metadata, so that overlap checks and purges see them.
// It runs at start; an entry whose metadata cannot be read keeps NULL (and is retried at the
// next start).
func (s *Service) RecordLegacyLocations(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT namespace, name, kind, metadata_location FROM catalog_entries WHERE location IS NULL`)
	if err != nil {
		return fmt.Errorf("catalog: legacy locations: %w", err)
	}
	type legacy struct{ ns, name, kind, mdLoc string }
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (legacy, error) {
		var e legacy
		return e, r.Scan(&e.ns, &e.name, &e.kind, &e.mdLoc)
	})
	if err != nil {
		return fmt.Errorf("catalog: legacy locations: %w", err)
	}
	for _, e := range entries {
		var loc string
		if e.kind == KindView {
			md, err := s.readViewMetadata(ctx, e.mdLoc)
			if err == nil {
				loc = md.Location()
			}
		} else if md, err := s.readMetadata(ctx, e.mdLoc); err == nil {
			loc = md.Location()
		}
		own, err := normalizeLocation(loc)
		if err != nil {
			s.logger.Warn("cannot record the location of an entry made before locations were tracked", "entry", e.ns+"."+e.name, "err", err)
			continue
		}
		if _, err := s.pool.Exec(ctx, `WITH e AS (UPDATE catalog_entries SET location = $3 WHERE namespace = $1 AND name = $2 AND location IS NULL)
			INSERT INTO catalog_locations (location, namespace, name, kind) VALUES ($3, $1, $2, $4) ON CONFLICT (location) DO NOTHING`,
			e.ns, e.name, own, e.kind); err != nil {
			return fmt.Errorf("catalog: record the location of %s.%s: %w", e.ns, e.name, err)
		}
	}
	return nil
}
