package auth

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadOrCreateDevSecretCreatesOnce(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreateDevSecret(dataDir)
	require.NoError(t, err)
	require.Len(t, first, 32)

	path := filepath.Join(dataDir, DevSecretFileName)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dirInfo, err := os.Stat(dataDir)
	require.NoError(t, err)
	require.Zero(t, dirInfo.Mode().Perm()&0o077, "a created data directory is private")

	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(first)+"\n", string(content))

	second, err := LoadOrCreateDevSecret(dataDir)
	require.NoError(t, err)
	require.Equal(t, first, second)

	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")

	// The secret works for minting and verifying.
	token, err := MintHS256(second, MintOptions{Subject: "dev", TTL: time.Minute})
	require.NoError(t, err)
	v := newTestVerifier(t, Config{HMACSecret: first})
	p, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, "dev", p.Subject)
}

func TestLoadOrCreateDevSecretDistinctPerDir(t *testing.T) {
	a, err := LoadOrCreateDevSecret(t.TempDir())
	require.NoError(t, err)
	b, err := LoadOrCreateDevSecret(t.TempDir())
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestLoadOrCreateDevSecretConcurrent(t *testing.T) {
	dataDir := t.TempDir()
	const callers = 8
	secrets := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { secrets[i], errs[i] = LoadOrCreateDevSecret(dataDir) })
	}
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, secrets[0], secrets[i], "every caller gets the same secret")
	}
}

func TestLoadOrCreateDevSecretReadsExisting(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"raw", base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))},
		{"padded with newline", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) + "\n"},
		{"longer secret", base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 48))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			writeFile(t, dataDir, DevSecretFileName, []byte(tc.content))
			secret, err := LoadOrCreateDevSecret(dataDir)
			require.NoError(t, err)
			require.Equal(t, byte(0xfb), secret[0])
			require.GreaterOrEqual(t, len(secret), 32)
		})
	}
}

func TestLoadOrCreateDevSecretRefuses(t *testing.T) {
	valid := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"mode 0644", valid, 0o644, "must not be accessible by group or others"},
		{"mode 0640", valid, 0o640, "must not be accessible by group or others"},
		{"mode 0606", valid, 0o606, "must not be accessible by group or others"},
		{"short secret", base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 31)), 0o600, "decodes to 31 bytes"},
		{"empty file", "", 0o600, "decodes to 0 bytes"},
		{"not base64url", "!!!not-base64!!!", 0o600, "is not base64url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			path := writeFile(t, dataDir, DevSecretFileName, []byte(tc.content))
			require.NoError(t, os.Chmod(path, tc.mode))
			secret, err := LoadOrCreateDevSecret(dataDir)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, secret)
			if tc.content != "" {
				require.NotContains(t, err.Error(), tc.content, "the file content is never echoed")
			}
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tc.content, string(after), "a refused file is left untouched")
		})
	}
}

func TestLoadOrCreateDevSecretRefusesDirectory(t *testing.T) {
	dataDir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dataDir, DevSecretFileName), 0o700))
	_, err := LoadOrCreateDevSecret(dataDir)
	require.ErrorContains(t, err, "is not a regular file")
}

func TestLoadOrCreateDevSecretRequiresDir(t *testing.T) {
	_, err := LoadOrCreateDevSecret("")
	require.ErrorContains(t, err, "data directory is required")
}
