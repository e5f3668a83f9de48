package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/gateway"
)

// s3Config is the --s3-* flags: how lakegate reaches an s3:// warehouse, and what it tells
// Iceberg clients about it.
type s3Config struct {
	Endpoint              string
	Region                string
	PathStyle             bool
	AccessKeyID           string
	SecretAccessKeyFile   string
	VendStaticCredentials bool

	// secretAccessKey is read from SecretAccessKeyFile by validateStorage; it is never a flag
	// value and never logged.
	secretAccessKey string
}

// s3Warehouse reports whether the warehouse is on S3 (s3:// or s3a://).
func (c *serveConfig) s3Warehouse() bool {
	u, err := url.Parse(c.Warehouse)
	return err == nil && (u.Scheme == "s3" || u.Scheme == "s3a")
}

// validateStorage checks the warehouse and the --s3-* flags, naming the bad one, and reads
// the secret access key file.
func (c *serveConfig) validateStorage() error {
	u, err := url.Parse(c.Warehouse)
	if err != nil {
		return fmt.Errorf("warehouse: %q is not a URL", c.Warehouse)
	}
	switch u.Scheme {
	case "file":
	case "s3", "s3a":
		if u.Host == "" {
			return fmt.Errorf("warehouse: %q names no bucket (s3://bucket/prefix)", c.Warehouse)
		}
	default:
		return fmt.Errorf("warehouse: %q: the scheme must be file:// or s3://", c.Warehouse)
	}
	s := &c.S3
	if s.Endpoint != "" {
		e, err := url.Parse(s.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return fmt.Errorf("s3-endpoint: %q is not an http:// or https:// URL", s.Endpoint)
		}
	}
	if strings.TrimSpace(s.Region) == "" {
		return errors.New("s3-region: must not be empty")
	}
	switch {
	case s.AccessKeyID != "" && s.SecretAccessKeyFile == "":
		return errors.New("s3-secret-access-key-file: required with --s3-access-key-id")
	case s.AccessKeyID == "" && s.SecretAccessKeyFile != "":
		return errors.New("s3-access-key-id: required with --s3-secret-access-key-file")
	case s.SecretAccessKeyFile != "":
		b, err := os.ReadFile(s.SecretAccessKeyFile)
		if err != nil {
			return fmt.Errorf("s3-secret-access-key-file: %w", err)
		}
		s.secretAccessKey = strings.TrimSpace(string(b))
		if s.secretAccessKey == "" {
			return fmt.Errorf("s3-secret-access-key-file: %s is empty", s.SecretAccessKeyFile)
		}
	}
	if s.VendStaticCredentials && s.AccessKeyID == "" {
		return errors.New("s3-vend-static-credentials: needs static credentials (--s3-access-key-id and --s3-secret-access-key-file)")
	}
	return nil
}

// catalogConfig is the catalog's configuration: the warehouse and, for s3://, the FileIO
// properties lakegate writes table metadata with.
func (c *serveConfig) catalogConfig() catalog.Config {
	cc := catalog.Config{Warehouse: c.Warehouse, AllowedLocations: c.AllowedLocations}
	if c.s3Warehouse() {
		cc.IOProperties = catalog.S3Options{
			Endpoint: c.S3.Endpoint, Region: c.S3.Region, PathStyle: c.S3.PathStyle,
			AccessKeyID: c.S3.AccessKeyID, SecretAccessKey: c.S3.secretAccessKey,
		}.IOProperties()
	}
	return cc
}

// storageConfig is what loadTable tells Iceberg clients about the warehouse: nothing for
// file://; for s3:// the endpoint, region and addressing, and the static credentials when
// they are vended.
func (c *serveConfig) storageConfig() gateway.StorageConfig {
	if !c.s3Warehouse() {
		return gateway.StorageConfig{}
	}
	sc := gateway.StorageConfig{S3: &gateway.S3Storage{Endpoint: c.S3.Endpoint, Region: c.S3.Region, PathStyle: c.S3.PathStyle}}
	if c.S3.VendStaticCredentials {
		sc.Credentials = gateway.StaticCredentials{AccessKeyID: c.S3.AccessKeyID, SecretAccessKey: c.S3.secretAccessKey}
	}
	return sc
}
