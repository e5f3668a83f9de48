package catalog

import (
	"errors"

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
