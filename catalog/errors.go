package catalog

import (
	"errors"
	"fmt"

	icebergcatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// The catalog reuses iceberg-go's sentinel errors, so our server and every client agree on
// what a failure means.
var (
	ErrNoSuchTable        = icebergcatalog.ErrNoSuchTable
	ErrNoSuchNamespace    = icebergcatalog.ErrNoSuchNamespace
	ErrTableAlreadyExists = icebergcatalog.ErrTableAlreadyExists
	ErrNamespaceExists    = icebergcatalog.ErrNamespaceAlreadyExists
	ErrNamespaceNotEmpty  = icebergcatalog.ErrNamespaceNotEmpty
	ErrNoSuchView         = icebergcatalog.ErrNoSuchView
	ErrViewAlreadyExists  = icebergcatalog.ErrViewAlreadyExists
	ErrCommitFailed       = table.ErrCommitFailed
	ErrCommitStateUnknown = errors.New("commit state unknown")
	ErrConcurrentUpdate   = errors.New("dataset was changed concurrently")
)

// ErrMissingMetadata marks a catalog entry whose current metadata file is gone from the
// warehouse; see MissingMetadataError.
var ErrMissingMetadata = errors.New("metadata file is missing")

// MissingMetadataError is a table or view whose current metadata file cannot be found. It is
// not a database outage: retrying does not help, an operator must restore the file (or drop
// the entry).
type MissingMetadataError struct {
	Object    string // "table" or "view"
	Namespace Namespace
	Name      string
	Location  string
	Err       error
}

func (e *MissingMetadataError) Error() string {
	// The first words are the reference implementation's, which clients match on.
	return fmt.Sprintf("Failed to open input stream for file: %s (the current metadata file of %s %s.%s is missing)", e.Location, e.Object, e.Namespace, e.Name)
}

func (e *MissingMetadataError) Is(target error) bool { return target == ErrMissingMetadata }

func (e *MissingMetadataError) Unwrap() error { return e.Err }

// kindError is an error worded as the Iceberg reference implementation words it (engines and
// the REST compatibility kit match on the text), that is still errors.Is one of the sentinels
// above.
type kindError struct {
	msg      string
	sentinel error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() error { return e.sentinel }

func errNoSuchNamespace(ns Namespace) error {
	return &kindError{"Namespace does not exist: " + ns.String(), ErrNoSuchNamespace}
}

func errNamespaceExists(ns Namespace) error {
	return &kindError{"Namespace already exists: " + ns.String(), ErrNamespaceExists}
}

// errNoSuchEntry is "Table does not exist: ns.t" or "View does not exist: ns.v".
func errNoSuchEntry(kind string, ns Namespace, name string) error {
	if kind == KindView {
		return &kindError{fmt.Sprintf("View does not exist: %s.%s", ns, name), ErrNoSuchView}
	}
	return &kindError{fmt.Sprintf("Table does not exist: %s.%s", ns, name), ErrNoSuchTable}
}

// NoSuchTableError is ErrNoSuchTable for ns.name, worded as the reference implementation.
func NoSuchTableError(ns Namespace, name string) error { return errNoSuchEntry(KindTable, ns, name) }

// NoSuchViewError is ErrNoSuchView for ns.name, worded as the reference implementation.
func NoSuchViewError(ns Namespace, name string) error { return errNoSuchEntry(KindView, ns, name) }

// errEntryExists answers creating a kind (table or view) named ns.name where an entry of
// kind existing is: "Table already exists: ns.t", or across kinds "View with same name
// already exists: ns.v" (creating a table over a view) and "Table with same name already
// exists: ns.t" (creating a view over a table).
func errEntryExists(creating, existing string, ns Namespace, name string) error {
	sentinel, what := ErrTableAlreadyExists, "Table"
	if existing == KindView {
		sentinel, what = ErrViewAlreadyExists, "View"
	}
	if creating == existing {
		return &kindError{fmt.Sprintf("%s already exists: %s.%s", what, ns, name), sentinel}
	}
	return &kindError{fmt.Sprintf("%s with same name already exists: %s.%s", what, ns, name), sentinel}
}

// errRenameTargetExists is "Cannot rename ns.a to ns.b. View already exists".
func errRenameTargetExists(existing string, fromNS Namespace, from string, toNS Namespace, to string) error {
	sentinel, what := ErrTableAlreadyExists, "Table"
	if existing == KindView {
		sentinel, what = ErrViewAlreadyExists, "View"
	}
	return &kindError{fmt.Sprintf("Cannot rename %s.%s to %s.%s. %s already exists", fromNS, from, toNS, to, what), sentinel}
}
