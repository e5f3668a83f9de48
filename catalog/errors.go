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
	return fmt.Sprintf("the current metadata file of %s %s.%s is missing: %s", e.Object, e.Namespace, e.Name, e.Location)
}

func (e *MissingMetadataError) Is(target error) bool { return target == ErrMissingMetadata }

func (e *MissingMetadataError) Unwrap() error { return e.Err }
