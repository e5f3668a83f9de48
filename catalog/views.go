package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/view"
	"github.com/jackc/pgx/v5"
)

// NewView describes a view created through the Iceberg catalog: the REST spec's
// CreateViewRequest without its name.
type NewView struct {
	Schema     *iceberg.Schema
	Version    *view.Version // the first view version; its id becomes 1 and its schema id the schema's
	Location   string        // empty: a fresh location the server assigns
	Properties iceberg.Properties
}

// newViewMetadata builds a new view's first metadata with iceberg-go, at a location the
// view owns (see claimLocation), which it also returns.
func (s *Service) newViewMetadata(ns Namespace, name string, v NewView) (view.Metadata, claim, error) {
	if err := ns.Validate(); err != nil {
		return nil, claim{}, err
	}
	if err := ValidateTableName(name); err != nil {
		return nil, claim{}, err
	}
	if v.Schema == nil {
		return nil, claim{}, &ValidationError{Problems: []Problem{{Field: "schema", Message: "a schema is required"}}}
	}
	if v.Version == nil {
		return nil, claim{}, &ValidationError{Problems: []Problem{{Field: "view-version", Message: "a view version is required"}}}
	}
	c, err := s.claimLocation(ns, name, v.Location)
	if err != nil {
		return nil, claim{}, err
	}
	if err := s.checkWritePaths(v.Properties, c.own); err != nil {
		return nil, claim{}, err
	}
	md, err := view.NewMetadata(v.Version, v.Schema, c.loc, v.Properties)
	if err != nil {
		field := "view-version"
		if errors.Is(err, iceberg.ErrInvalidFormatVersion) {
			field = "properties"
		}
		return nil, claim{}, &ValidationError{Problems: []Problem{{Field: field, Message: err.Error()}}}
	}
	return md, c, nil
}

// CreateView creates a view in an existing namespace: it writes the view's first metadata
// file and records its pointer in one transaction with hook. Tables and views share one
// name space per namespace, so an existing table of that name is ErrTableAlreadyExists and
// an existing view ErrViewAlreadyExists. On failure the written file is removed.
func (s *Service) CreateView(ctx context.Context, ns Namespace, name string, v NewView, hook TxHook) (view.Metadata, string, error) {
	md, c, err := s.newViewMetadata(ns, name, v)
	if err != nil {
		return nil, "", err
	}
	mdLoc, err := s.newViewMetadataLocation(md, 0)
	if err != nil {
		return nil, "", err
	}
	if err := s.writeViewMetadata(ctx, md, mdLoc); err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if err := namespaceMustExist(ctx, tx, ns); err != nil {
			return err
		}
		if err := nameMustBeFree(ctx, tx, ns, name, KindView); err != nil {
			return err
		}
		return insertEntry(ctx, tx, entry{ns: ns, name: name, kind: KindView, metadataLocation: mdLoc, own: c.own, adopt: c.external})
	})
	if err != nil {
		if !errors.Is(err, ErrCommitStateUnknown) {
			s.removeFile(ctx, mdLoc)
		}
		return nil, "", err
	}
	return md, mdLoc, nil
}

// RegisterView adopts an existing view metadata file, with the rules of RegisterTable: the
// file must lie inside the warehouse or an allowed location; the view's location (from the
// file) must lie strictly inside one of them and overlap no live table's or view's location;
// the metadata file and the write.*.path properties must lie inside that location. A name
// already taken is ErrViewAlreadyExists or ErrTableAlreadyExists, as for CreateView. The
// caller must hold view.register, a privilege of its own.
func (s *Service) RegisterView(ctx context.Context, ns Namespace, name, metadataLocation string, hook TxHook) (view.Metadata, error) {
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateTableName(name); err != nil {
		return nil, err
	}
	if err := s.checkRegisterFile(metadataLocation); err != nil {
		return nil, err
	}
	md, err := s.readViewMetadata(ctx, metadataLocation)
	if err != nil {
		return nil, unreadableRegisterFile(KindView, err)
	}
	own, err := s.registeredLocation(KindView, metadataLocation, md.Location())
	if err != nil {
		return nil, err
	}
	if err := s.checkWritePaths(md.Properties(), own); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if err := namespaceMustExist(ctx, tx, ns); err != nil {
			return err
		}
		if err := nameMustBeFree(ctx, tx, ns, name, KindView); err != nil {
			return err
		}
		return insertEntry(ctx, tx, entry{ns: ns, name: name, kind: KindView, metadataLocation: metadataLocation, own: own, adopt: true})
	})
	if err != nil {
		return nil, err
	}
	return md, nil
}

// nameMustBeFree answers ErrTableAlreadyExists or ErrViewAlreadyExists (worded for creating
// a kind, see errEntryExists) when a table or view named name exists in ns.
func nameMustBeFree(ctx context.Context, q queryer, ns Namespace, name, creating string) error {
	var kind string
	err := q.QueryRow(ctx, `SELECT kind FROM catalog_entries WHERE namespace = $1 AND name = $2`, ns.String(), name).Scan(&kind)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("catalog: look up %s.%s: %w", ns, name, err)
	default:
		return errEntryExists(creating, kind, ns, name)
	}
}

// LoadView returns the current metadata of a view and its location.
func (s *Service) LoadView(ctx context.Context, ns Namespace, name string) (view.Metadata, string, error) {
	md, loc, _, err := s.loadViewMetadata(ctx, s.pool, ns, name)
	return md, loc, err
}

// loadViewMetadata returns a view's current metadata, its metadata file and the location the
// view owns.
func (s *Service) loadViewMetadata(ctx context.Context, q queryer, ns Namespace, name string) (view.Metadata, string, string, error) {
	loc, stored, err := entryPointer(ctx, q, KindView, ns, name)
	if err != nil {
		return nil, "", "", err
	}
	md, err := s.readViewMetadata(ctx, loc)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, "", "", &MissingMetadataError{Object: "view", Namespace: ns, Name: name, Location: loc, Err: err}
	}
	if err != nil {
		return nil, "", "", err
	}
	own, err := ownedLocation(stored, md.Location())
	if err != nil {
		return nil, "", "", err
	}
	return md, loc, own, nil
}

// CommitView is the one commit function for views. It loads the view's current metadata,
// checks the requirements (a failure is ErrCommitFailed), applies the updates with
// iceberg-go's view metadata builder and writes the next metadata file; then one
// transaction swaps the pointer with a compare-and-swap and runs hook. A lost swap answers
// ErrCommitFailed (retryable), a failed transaction commit ErrCommitStateUnknown. Updates
// that change nothing write nothing and answer the current metadata.
func (s *Service) CommitView(ctx context.Context, ns Namespace, name string, reqs []view.Requirement, updates []view.Update, hook TxHook) (view.Metadata, string, error) {
	base, baseLoc, own, err := s.loadViewMetadata(ctx, s.pool, ns, name)
	if err != nil {
		return nil, "", err
	}
	for _, r := range reqs {
		if err := r.Validate(base); err != nil {
			return nil, "", fmt.Errorf("%w: view %s.%s: %w", ErrCommitFailed, ns, name, err)
		}
	}
	b, err := view.MetadataBuilderFromBase(base)
	if err != nil {
		return nil, "", fmt.Errorf("catalog: view metadata builder: %w", err)
	}
	for i, u := range updates {
		if err := u.Apply(b); err != nil {
			return nil, "", &ValidationError{Problems: []Problem{{Field: fmt.Sprintf("updates[%d]", i),
				Message: fmt.Sprintf("%s: %s", u.Action(), err.Error())}}}
		}
	}
	if !b.HasChanges() {
		return base, baseLoc, nil
	}
	next, err := b.Build()
	if err != nil {
		return nil, "", &ValidationError{Problems: []Problem{{Field: "updates", Message: err.Error()}}}
	}
	var move *entry
	if next.Location() != base.Location() && !owns(own, next.Location()) {
		// A set-location out of the view's own location: allowed to a location the view may
		// claim as if it were new, which it then owns instead.
		c, err := s.claimLocation(ns, name, next.Location())
		if err != nil {
			return nil, "", err
		}
		own, move = c.own, &entry{ns: ns, name: name, kind: KindView, own: c.own, adopt: c.external}
	}
	if err := s.checkInside("location", next.Location(), own); err != nil {
		return nil, "", err
	}
	if err := s.checkWritePaths(next.Properties(), own); err != nil {
		return nil, "", err
	}
	nextLoc, err := s.newViewMetadataLocation(next, metadataVersion(baseLoc)+1)
	if err != nil {
		return nil, "", err
	}
	if err := s.writeViewMetadata(ctx, next, nextLoc); err != nil {
		return nil, "", err
	}
	err = s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if move != nil {
			if err := moveEntry(ctx, tx, *move); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE catalog_entries
			SET metadata_location = $3, previous_metadata_location = $4, updated_at = now()
			WHERE namespace = $1 AND name = $2 AND kind = 'view' AND metadata_location = $4`,
			ns.String(), name, nextLoc, baseLoc)
		if err != nil {
			return fmt.Errorf("catalog: swap view metadata pointer: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: view %s.%s was changed concurrently", ErrCommitFailed, ns, name)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrCommitStateUnknown) {
			s.removeFile(ctx, nextLoc)
		}
		return nil, "", err
	}
	return next.Metadata, nextLoc, nil
}

// DropView drops a view's pointer in one transaction with hook. Its metadata files stay in
// the warehouse: a view owns no data.
func (s *Service) DropView(ctx context.Context, ns Namespace, name string, hook TxHook) error {
	return s.inTx(ctx, hook, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM catalog_entries WHERE namespace = $1 AND name = $2 AND kind = 'view'`, ns.String(), name)
		if err != nil {
			return fmt.Errorf("catalog: drop view %s.%s: %w", ns, name, err)
		}
		if tag.RowsAffected() == 0 {
			return errNoSuchEntry(KindView, ns, name)
		}
		return nil
	})
}

// readViewMetadata reads and parses a view metadata file.
func (s *Service) readViewMetadata(ctx context.Context, loc string) (view.Metadata, error) {
	fs, err := s.fileIO(ctx, loc)
	if err != nil {
		return nil, err
	}
	f, err := fs.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("catalog: open view metadata %s: %w", loc, err)
	}
	defer f.Close()
	md, err := view.ParseMetadata(f)
	if err != nil {
		return nil, fmt.Errorf("catalog: parse view metadata %s: %w", loc, err)
	}
	return md, nil
}

func (s *Service) writeViewMetadata(ctx context.Context, md view.Metadata, loc string) error {
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
		return fmt.Errorf("catalog: encode view metadata: %w", err)
	}
	if err := wfs.WriteFile(loc, b); err != nil {
		return fmt.Errorf("catalog: write view metadata %s: %w", loc, err)
	}
	return nil
}

// newViewMetadataLocation is <view location>/metadata/NNNNN-<uuid>.metadata.json, or
// <write.metadata.path>/NNNNN-<uuid>.metadata.json when the view sets that property (as Java
// views do; checkWritePaths keeps it inside the view's own location). No other write.*
// property applies to views.
func (s *Service) newViewMetadataLocation(md view.Metadata, version int) (string, error) {
	props := iceberg.Properties{}
	if p, ok := md.Properties()[table.WriteMetadataPathKey]; ok {
		props[table.WriteMetadataPathKey] = strings.TrimRight(p, "/")
	}
	lp, err := table.LoadLocationProvider(md.Location(), props)
	if err != nil {
		return "", fmt.Errorf("catalog: view location provider: %w", err)
	}
	loc, err := lp.NewTableMetadataFileLocation(version)
	if err != nil {
		return "", fmt.Errorf("catalog: view metadata location: %w", err)
	}
	return loc, nil
}
