package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lakegate/lakegate/internal/pg"
)

func namespaceMustExist(ctx context.Context, q queryer, ns Namespace) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM namespaces WHERE name = $1`, ns.String()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoSuchNamespace(ns)
	}
	if err != nil {
		return fmt.Errorf("catalog: look up namespace %s: %w", ns, err)
	}
	return nil
}

// CreateNamespace creates ns with properties. Its parent must exist.
func (s *Service) CreateNamespace(ctx context.Context, ns Namespace, props map[string]string, hook TxHook) error {
	if err := ns.Validate(); err != nil {
		return err
	}
	if props == nil {
		props = map[string]string{}
	}
	if err := s.checkNamespaceLocation(ns, props); err != nil {
		return err
	}
	b, err := json.Marshal(props)
	if err != nil {
		return fmt.Errorf("catalog: encode properties: %w", err)
	}
	return s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if len(ns) > 1 {
			if err := namespaceMustExist(ctx, tx, ns[:len(ns)-1]); err != nil {
				return fmt.Errorf("parent of %s: %w", ns, err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO namespaces (name, levels, properties) VALUES ($1, $2, $3)`, ns.String(), []string(ns), b)
		if pg.IsUniqueViolation(err) {
			return errNamespaceExists(ns)
		}
		if err != nil {
			return fmt.Errorf("catalog: create namespace %s: %w", ns, err)
		}
		return nil
	})
}

// NamespaceProperties returns the properties of ns.
func (s *Service) NamespaceProperties(ctx context.Context, ns Namespace) (map[string]string, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT properties FROM namespaces WHERE name = $1`, ns.String()).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoSuchNamespace(ns)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: load namespace %s: %w", ns, err)
	}
	props := map[string]string{}
	if err := json.Unmarshal(b, &props); err != nil {
		return nil, fmt.Errorf("catalog: stored properties of %s: %w", ns, err)
	}
	if _, ok := props[NamespaceLocationKey]; !ok {
		// Engines (Trino, Spark's session catalog) derive a new table's location from it.
		props[NamespaceLocationKey] = s.NamespaceLocation(ns)
	}
	return props, nil
}

// NamespaceLocationKey is the namespace property that tells engines where its tables go.
const NamespaceLocationKey = "location"

// checkNamespaceLocation refuses a namespace location property other than the one the
// server derives for ns: the namespace's tables get their locations there, whatever a client
// would like.
func (s *Service) checkNamespaceLocation(ns Namespace, props map[string]string) error {
	loc, ok := props[NamespaceLocationKey]
	if !ok {
		return nil
	}
	n, err := normalizeLocation(loc)
	if err != nil {
		return &ValidationError{Problems: []Problem{{Field: NamespaceLocationKey, Message: err.Error()}}}
	}
	if want := s.NamespaceLocation(ns); n != want {
		return &LocationError{Field: NamespaceLocationKey, Location: loc, Reason: "a namespace's location is assigned by the server: " + want}
	}
	return nil
}

// ListNamespaces returns the direct children of parent (the top level when parent is
// empty) in name order, after the namespace named after, at most limit of them.
func (s *Service) ListNamespaces(ctx context.Context, parent Namespace, after string, limit int) ([]Namespace, error) {
	if len(parent) > 0 {
		if err := namespaceMustExist(ctx, s.pool, parent); err != nil {
			return nil, err
		}
	}
	prefix := ""
	if len(parent) > 0 {
		prefix = parent.String() + "."
	}
	rows, err := s.pool.Query(ctx, `SELECT levels FROM namespaces
		WHERE array_length(levels, 1) = $1 AND starts_with(name, $2) AND name > $3
		ORDER BY name LIMIT $4`, len(parent)+1, prefix, after, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: list namespaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Namespace, error) {
		var levels []string
		err := r.Scan(&levels)
		return Namespace(levels), err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: list namespaces: %w", err)
	}
	return out, nil
}

// PropertiesUpdate is the outcome of UpdateNamespaceProperties.
type PropertiesUpdate struct {
	Updated, Removed, Missing []string
}

// UpdateNamespaceProperties removes and sets properties of ns in one transaction. Keys
// both removed and updated are refused.
func (s *Service) UpdateNamespaceProperties(ctx context.Context, ns Namespace, removals []string, updates map[string]string, hook TxHook) (PropertiesUpdate, error) {
	for _, k := range removals {
		if _, ok := updates[k]; ok {
			return PropertiesUpdate{}, &ValidationError{Problems: []Problem{{Field: "removals", Message: fmt.Sprintf("property %q is both removed and updated", k)}}}
		}
	}
	if err := s.checkNamespaceLocation(ns, updates); err != nil {
		return PropertiesUpdate{}, err
	}
	var out PropertiesUpdate
	err := s.inTx(ctx, hook, func(tx pgx.Tx) error {
		var b []byte
		err := tx.QueryRow(ctx, `SELECT properties FROM namespaces WHERE name = $1 FOR UPDATE`, ns.String()).Scan(&b)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoSuchNamespace(ns)
		}
		if err != nil {
			return fmt.Errorf("catalog: load namespace %s: %w", ns, err)
		}
		props := map[string]string{}
		if err := json.Unmarshal(b, &props); err != nil {
			return fmt.Errorf("catalog: stored properties of %s: %w", ns, err)
		}
		out = PropertiesUpdate{Updated: []string{}, Removed: []string{}, Missing: []string{}}
		for _, k := range removals {
			if _, ok := props[k]; ok {
				delete(props, k)
				out.Removed = append(out.Removed, k)
			} else {
				out.Missing = append(out.Missing, k)
			}
		}
		maps.Copy(props, updates)
		out.Updated = slices.Sorted(maps.Keys(updates))
		nb, err := json.Marshal(props)
		if err != nil {
			return fmt.Errorf("catalog: encode properties: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE namespaces SET properties = $2, updated_at = now() WHERE name = $1`, ns.String(), nb)
		if err != nil {
			return fmt.Errorf("catalog: update namespace %s: %w", ns, err)
		}
		return nil
	})
	return out, err
}

// DropNamespace drops an empty namespace: one with no tables, views or child namespaces.
func (s *Service) DropNamespace(ctx context.Context, ns Namespace, hook TxHook) error {
	return s.inTx(ctx, hook, func(tx pgx.Tx) error {
		if err := namespaceMustExist(ctx, tx, ns); err != nil {
			return err
		}
		var children, entries int
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM namespaces WHERE starts_with(name, $1 || '.')),
				(SELECT count(*) FROM catalog_entries WHERE namespace = $1)`, ns.String()).Scan(&children, &entries); err != nil {
			return fmt.Errorf("catalog: check namespace %s: %w", ns, err)
		}
		if children > 0 || entries > 0 {
			return fmt.Errorf("%w: Namespace %s is not empty: it holds %d tables or views and %d namespaces", ErrNamespaceNotEmpty, ns, entries, children)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM namespaces WHERE name = $1`, ns.String()); err != nil {
			return fmt.Errorf("catalog: drop namespace %s: %w", ns, err)
		}
		return nil
	})
}
