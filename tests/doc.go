// Package tests holds lakegate's cross-package suites: the import-graph rules and the
// end-to-end test that drives the real binary.
package tests
