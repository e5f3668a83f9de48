package catalog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/segment"
)

func TestNormalizeLocation(t *testing.T) {
	ok := map[string]string{
		"file:///wh/ns/t":          "file:///wh/ns/t",
		"file:/wh/ns/t/":           "file:///wh/ns/t",
		"FILE:///wh/ns/t":          "file:///wh/ns/t",
		"file://localhost/wh/t":    "file:///wh/t",
		"s3://bucket/p/t":          "s3://bucket/p/t",
		"s3a://bucket/p/t":         "s3://bucket/p/t",
		"S3N://Bucket/p/t//":       "s3://bucket/p/t",
		"s3://bucket":              "s3://bucket",
		"file:///wh/t~2dx-1234/x_": "file:///wh/t~2dx-1234/x_",
	}
	for in, want := range ok {
		got, err := normalizeLocation(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	bad := []string{
		"", "/wh/ns/t", "wh/ns/t", "file:wh/t", "http://host/wh", "gs://b/p", "file://otherhost/wh",
		"file:///wh/../etc", "file:///wh/./t", "file:///wh//t", "file:///wh/t/..", "s3://b/p/../q",
		"file:///wh/%2e%2e/x", "file:///wh/a%2Fb", "s3://b/p\\..\\q", "file:///wh/t\x00x", "file:///wh/t\nx",
		"file:///wh/t?x=1", "file:///wh/t#frag", "s3://user:pw@b/p", "s3:///p", "file:///wh/\xff",
	}
	for _, in := range bad {
		_, err := normalizeLocation(in)
		require.Error(t, err, "%q", in)
	}
}

func TestInsideIsByPathSegment(t *testing.T) {
	require.True(t, inside("s3://b/wh/tenant_a", "s3://b/wh/tenant_a"))
	require.True(t, inside("s3://b/wh/tenant_a/t", "s3://b/wh/tenant_a"))
	require.False(t, inside("s3://b/wh/tenant_ab", "s3://b/wh/tenant_a"))
	require.False(t, inside("s3://b/wh/tenant_ab/t", "s3://b/wh/tenant_a"))
	require.False(t, inside("s3://b2/wh/tenant_a", "s3://b/wh/tenant_a"))
}

// Names become one path segment each, from which no other name's segment can be made and in
// which no table location (name-<uuid>) can appear: escaped names never contain '-'.
func TestEscapeSegment(t *testing.T) {
	for _, name := range []string{"..", ".", "a/b", "a-b", "Ünïcode", "a b", "a%2Fb", "a~2fb", "t-0b8f6c7e-2c1b-4a8e-9d5e-6f1a2b3c4d5e", "\x00"} {
		e := segment.Escape(name)
		require.NotContains(t, e, "/", name)
		require.NotContains(t, e, "-", name)
		require.NotContains(t, e, "%", name)
		require.NotEqual(t, ".", e)
		require.NotEqual(t, "..", e)
	}
	require.Equal(t, "orders", segment.Escape("orders"))
	require.Equal(t, "a~2fb", segment.Escape("a/b"))
	require.NotEqual(t, segment.Escape("a/b"), segment.Escape("a~2fb"))
}

func FuzzNormalizeLocation(f *testing.F) {
	for _, s := range []string{"file:///wh/ns/t", "s3a://b/p/../q", "file:///wh/%2e%2e", "s3://B/x//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := normalizeLocation(raw)
		if err != nil {
			return
		}
		// A normalized location is stable, and has no segment a filesystem or URL parser
		// would read as something else.
		again, err := normalizeLocation(n)
		if err != nil || again != n {
			t.Fatalf("normalize(%q) = %q, not a fixed point (%q, %v)", raw, n, again, err)
		}
		_, rest, _ := strings.Cut(n, "://")
		for _, seg := range strings.Split(rest, "/")[1:] {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "%\\?#") {
				t.Fatalf("normalize(%q) = %q has segment %q", raw, n, seg)
			}
		}
	})
}
