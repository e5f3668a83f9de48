package gateway

import (
	"context"
	"log/slog"
	"maps"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/policy"
)

// Iceberg client configuration keys of loadTable's config (the Iceberg FileIO properties that
// Java, PyIceberg and iceberg-go read).
const (
	configS3Endpoint               = "s3.endpoint"
	configS3Region                 = "s3.region"
	configS3PathStyleAccess        = "s3.path-style-access"        // Java's S3FileIO
	configS3ForceVirtualAddressing = "s3.force-virtual-addressing" // PyIceberg and iceberg-go
	configS3AccessKeyID            = "s3.access-key-id"
	configS3SecretAccessKey        = "s3.secret-access-key"
)

// StorageConfig describes the warehouse's object store to Iceberg clients: loadTable's
// config (LoadTableResult.config, also answered by createTable and registerTable) is built
// from it. The zero value — a file:// warehouse — answers an empty config.
type StorageConfig struct {
	// S3 is set for an s3:// warehouse on AWS S3 or an S3-compatible server.
	S3 *S3Storage
	// Credentials vends the storage credentials of a table to principals allowed
	// table.read_data on it; nil vends none, and clients bring their own.
	Credentials CredentialVendor
}

// S3Storage is where clients find an s3:// warehouse's objects.
type S3Storage struct {
	Endpoint  string // URL of an S3-compatible server; empty for AWS S3
	Region    string
	PathStyle bool // path-style addressing (<endpoint>/<bucket>)
}

// CredentialVendor hands out the storage credentials for one table's files, as Iceberg client
// configuration properties (s3.access-key-id, s3.secret-access-key, s3.session-token). The
// gateway asks it only on behalf of principals the policy allows table.read_data on the
// table. StaticCredentials gives every such principal the same keys; a vendor of temporary
// credentials scoped to the table (AWS STS AssumeRole with a session policy limited to
// TableCredentialRequest.Location) implements the same interface.
type CredentialVendor interface {
	TableCredentials(ctx context.Context, req TableCredentialRequest) (map[string]string, error)
}

// TableCredentialRequest is one principal's request for one table's credentials.
type TableCredentialRequest struct {
	Principal policy.Principal
	Namespace catalog.Namespace
	Table     string
	// Location is the table's location (s3://bucket/prefix/ns/table).
	Location string
}

// StaticCredentials vends one static key pair: the one lakegate itself uses. Its String,
// GoString and LogValue never show the secret.
type StaticCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// TableCredentials returns the key pair, whatever the table.
func (s StaticCredentials) TableCredentials(context.Context, TableCredentialRequest) (map[string]string, error) {
	return map[string]string{configS3AccessKeyID: s.AccessKeyID, configS3SecretAccessKey: s.SecretAccessKey}, nil
}

func (s StaticCredentials) String() string {
	return "StaticCredentials{AccessKeyID: " + s.AccessKeyID + ", SecretAccessKey: [redacted]}"
}

func (s StaticCredentials) GoString() string { return s.String() }

func (s StaticCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", s.AccessKeyID), slog.String("secret_access_key", "[redacted]"))
}

// tableConfig is what a client needs to read and write the files of table ns.name at
// location: for an s3:// warehouse the endpoint, region and addressing, plus the vended
// credentials when the principal may read the table's data. A principal with table.load
// alone gets the configuration without credentials.
func (s *Server) tableConfig(c echo.Context, ns catalog.Namespace, name, location string) (map[string]string, error) {
	st := s.deps.Storage
	out := map[string]string{}
	if st.S3 == nil {
		return out, nil
	}
	if st.S3.Endpoint != "" {
		out[configS3Endpoint] = st.S3.Endpoint
	}
	if st.S3.Region != "" {
		out[configS3Region] = st.S3.Region
	}
	out[configS3PathStyleAccess] = strconv.FormatBool(st.S3.PathStyle)
	out[configS3ForceVirtualAddressing] = strconv.FormatBool(!st.S3.PathStyle)
	if st.Credentials == nil {
		return out, nil
	}
	d, err := s.decide(c, policy.ActionTableReadData, tableResource(ns, name))
	if err != nil {
		return nil, err
	}
	if !d.Allow {
		return out, nil
	}
	creds, err := st.Credentials.TableCredentials(c.Request().Context(), TableCredentialRequest{
		Principal: reqOf(c).principal, Namespace: ns, Table: name, Location: location,
	})
	if err != nil {
		return nil, err
	}
	maps.Copy(out, creds)
	return out, nil
}
