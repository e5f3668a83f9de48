package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/gateway"
)

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s3.secret")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// Each invalid storage setting fails validation with an error that names its flag.
func TestStorageValidationNamesTheFlag(t *testing.T) {
	secret := secretFile(t, "s3cr3t\n")
	cases := []struct {
		flag string
		set  func(c *serveConfig)
	}{
		{"warehouse", func(c *serveConfig) { c.Warehouse = "s3:///prefix" }},
		{"warehouse", func(c *serveConfig) { c.Warehouse = "gs://bucket/wh" }},
		{"s3-endpoint", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.Endpoint = "127.0.0.1:9000" }},
		{"s3-endpoint", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.Endpoint = "ftp://127.0.0.1:9000" }},
		{"s3-endpoint", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.Endpoint = "http://" }},
		{"s3-region", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.Region = " " }},
		{"s3-secret-access-key-file", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.AccessKeyID = "AKID" }},
		{"s3-access-key-id", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.SecretAccessKeyFile = secret }},
		{"s3-secret-access-key-file", func(c *serveConfig) {
			c.Warehouse = "s3://b/wh"
			c.S3.AccessKeyID, c.S3.SecretAccessKeyFile = "AKID", filepath.Join(t.TempDir(), "missing")
		}},
		{"s3-secret-access-key-file", func(c *serveConfig) {
			c.Warehouse = "s3://b/wh"
			c.S3.AccessKeyID, c.S3.SecretAccessKeyFile = "AKID", secretFile(t, " \n")
		}},
		{"s3-vend-static-credentials", func(c *serveConfig) { c.Warehouse = "s3://b/wh"; c.S3.VendStaticCredentials = true }},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, tc.flag), func(t *testing.T) {
			c := testServeConfig(t)
			tc.set(c)
			err := c.validate()
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tc.flag+":"), err.Error())
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}
}

// A valid S3 configuration becomes iceberg-go FileIO properties for the catalog and a
// StorageConfig for loadTable; the secret is read from its file, never a flag.
func TestStorageConfigS3(t *testing.T) {
	c := testServeConfig(t)
	c.Warehouse = "s3://lake/wh"
	c.S3 = s3Config{Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: true,
		AccessKeyID: "AKID", SecretAccessKeyFile: secretFile(t, "s3cr3t\n"), VendStaticCredentials: true}
	require.NoError(t, c.validate())
	require.True(t, c.s3Warehouse())

	cc := c.catalogConfig()
	require.Equal(t, "s3://lake/wh", cc.Warehouse)
	require.Equal(t, map[string]string{
		"s3.endpoint": "http://127.0.0.1:9000", "s3.region": "eu-west-1", "s3.force-virtual-addressing": "false",
		"s3.access-key-id": "AKID", "s3.secret-access-key": "s3cr3t",
	}, map[string]string(cc.IOProperties))

	sc := c.storageConfig()
	require.Equal(t, &gateway.S3Storage{Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: true}, sc.S3)
	require.Equal(t, gateway.StaticCredentials{AccessKeyID: "AKID", SecretAccessKey: "s3cr3t"}, sc.Credentials)
	creds, err := sc.Credentials.TableCredentials(context.Background(), gateway.TableCredentialRequest{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"s3.access-key-id": "AKID", "s3.secret-access-key": "s3cr3t"}, creds)
	// The vendor never prints its secret.
	require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", sc.Credentials, sc.Credentials, sc.Credentials, sc.Credentials), "s3cr3t")

	// Without vending the clients get the location settings only.
	c.S3.VendStaticCredentials = false
	require.Nil(t, c.storageConfig().Credentials)

	// Without static credentials the AWS default chain applies: no keys in the properties.
	c.S3.AccessKeyID, c.S3.SecretAccessKeyFile = "", ""
	require.NoError(t, c.validate())
	props := c.catalogConfig().IOProperties
	require.NotContains(t, props, "s3.access-key-id")
	require.NotContains(t, props, "s3.secret-access-key")
}

// A file:// warehouse needs no S3 settings and gives clients an empty storage config.
func TestStorageConfigFile(t *testing.T) {
	c := testServeConfig(t)
	require.NoError(t, c.validate())
	require.False(t, c.s3Warehouse())
	require.Empty(t, c.catalogConfig().IOProperties)
	require.Equal(t, gateway.StorageConfig{}, c.storageConfig())
}

// Every S3 flag is in `serve --help` with its environment twin, and the twins work.
func TestStorageFlags(t *testing.T) {
	var help bytes.Buffer
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(&help)
	c := serveFlags(fs)
	fs.Usage = usage(fs, &help, "usage")
	secret := secretFile(t, "from-env")
	env := map[string]string{
		"LAKEGATE_S3_ENDPOINT": "https://s3.example.test", "LAKEGATE_S3_REGION": "eu-central-1",
		"LAKEGATE_S3_PATH_STYLE": "true", "LAKEGATE_S3_ACCESS_KEY_ID": "AKID",
		"LAKEGATE_S3_SECRET_ACCESS_KEY_FILE": secret, "LAKEGATE_S3_VEND_STATIC_CREDENTIALS": "true",
	}
	require.NoError(t, parseFlags(fs, nil, func(k string) string { return env[k] }))
	require.Equal(t, s3Config{Endpoint: "https://s3.example.test", Region: "eu-central-1", PathStyle: true,
		AccessKeyID: "AKID", SecretAccessKeyFile: secret, VendStaticCredentials: true}, c.S3)
	fs.Usage()
	for _, f := range []string{"s3-endpoint", "s3-region", "s3-path-style", "s3-access-key-id", "s3-secret-access-key-file", "s3-vend-static-credentials"} {
		require.Contains(t, help.String(), "--"+f+"  ["+envName(f)+"]")
	}
	require.Contains(t, help.String(), "(default us-east-1)")
}
