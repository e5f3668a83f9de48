// Package api holds lakegate's own API contract.
package api

import _ "embed"

// Spec is api/openapi.yaml, served at /openapi.yaml and used to validate requests.
//
//go:embed openapi.yaml
var Spec []byte
