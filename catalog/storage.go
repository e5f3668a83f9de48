package catalog

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	s3io "github.com/apache/iceberg-go/io/gocloud/s3" // registers the s3, s3a, s3n and oss FileIO schemes
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// S3Options configures an s3:// warehouse on AWS S3 or an S3-compatible store.
type S3Options struct {
	// Endpoint is the URL of an S3-compatible server; empty uses AWS S3.
	Endpoint string
	// Region is the signing region (us-east-1 for most S3-compatible servers).
	Region string
	// PathStyle addresses buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint>.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; without them the AWS default
	// chain applies (environment, shared profile, instance or task role).
	AccessKeyID     string
	SecretAccessKey string
}

// IOProperties returns the iceberg-go FileIO properties for o (io.S3* keys of iceberg-go
// v0.7.0, which chooses path-style addressing with s3.force-virtual-addressing).
func (o S3Options) IOProperties() iceberg.Properties {
	p := iceberg.Properties{
		icebergio.S3ForceVirtualAddressing: strconv.FormatBool(!o.PathStyle),
	}
	if o.Endpoint != "" {
		p[icebergio.S3EndpointURL] = o.Endpoint
	}
	if o.Region != "" {
		p[icebergio.S3Region] = o.Region
	}
	if o.AccessKeyID != "" {
		p[icebergio.S3AccessKeyID] = o.AccessKeyID
		p[icebergio.S3SecretAccessKey] = o.SecretAccessKey
	}
	return p
}

// isS3 reports whether a warehouse location is on an S3 scheme.
func isS3(location string) bool {
	u, err := url.Parse(location)
	return err == nil && (u.Scheme == "s3" || u.Scheme == "s3a")
}

// newObjectStoreConfig resolves, once, the AWS configuration of an s3:// warehouse: the
// credential chain (its provider caches and refreshes credentials, so an instance role is
// not asked again for every metadata file) and one HTTP client whose connections are reused
// across requests. Without it every FileIO would load the configuration and dial anew.
func newObjectStoreConfig(props iceberg.Properties) (*aws.Config, error) {
	cfg, err := s3io.ParseAWSConfig(context.Background(), props)
	if err != nil {
		return nil, fmt.Errorf("catalog: s3 configuration: %w", err)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
		t.IdleConnTimeout = 90 * time.Second
	})
	return cfg, nil
}

// withObjectStore puts the warehouse's shared AWS configuration on ctx, where iceberg-go's
// S3 FileIO picks it up (properties such as the endpoint and static keys still apply).
func (s *Service) withObjectStore(ctx context.Context) context.Context {
	if s.aws == nil || utils.GetAwsConfig(ctx) != nil {
		return ctx
	}
	return utils.WithAwsConfig(ctx, s.aws)
}

// removeTree removes every file under loc, a table location. A FileIO that can list and
// bulk-delete (iceberg-go's object store FileIO) lists the objects under loc/ and deletes
// them concurrently; RemoveAll then removes the rest — the directory on the local
// filesystem, and on an object store whatever the listing did not show (directory markers).
// The object store's RemoveAll removes the object named loc and the objects under loc + "/",
// never a sibling such as <loc>2/.
func removeTree(ctx context.Context, fs icebergio.IO, loc string) error {
	lfs, listable := fs.(icebergio.ListableIO)
	bfs, bulk := fs.(icebergio.BulkRemovableIO)
	if listable && bulk {
		var files []string
		err := lfs.WalkDir(loc, func(p string, d iofs.DirEntry, err error) error {
			switch {
			case errors.Is(err, iofs.ErrNotExist):
				return iofs.SkipDir // nothing (left) there
			case err != nil:
				return err
			case !d.IsDir():
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", loc, err)
		}
		if _, err := bfs.DeleteFiles(ctx, files); err != nil {
			return err
		}
	}
	rfs, ok := fs.(icebergio.RemoveAllIO)
	if !ok {
		return fmt.Errorf("the file io of %s cannot remove a tree", loc)
	}
	return rfs.RemoveAll(loc)
}
