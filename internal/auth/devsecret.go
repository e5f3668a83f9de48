package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DevSecretFileName is the name of the dev HMAC secret file inside the data directory.
const DevSecretFileName = "jwt-hs256.secret"

// maxDevSecretFileBytes bounds how much of the secret file is read.
const maxDevSecretFileBytes = 4096

// LoadOrCreateDevSecret returns the dev HS256 secret stored in <dataDir>/jwt-hs256.secret: 32
// random bytes, base64url-encoded. A missing file is created with mode 0600 (and a missing dataDir
// with 0700); an existing one is read. A file readable or writable by group or others, or one that
// decodes to fewer than 32 bytes, is refused. Creation is atomic: concurrent callers all get the
// secret of whichever created the file first.
func LoadOrCreateDevSecret(dataDir string) ([]byte, error) {
	if dataDir == "" {
		return nil, errors.New("auth: dev secret: data directory is required")
	}
	path := filepath.Join(dataDir, DevSecretFileName)
	secret, err := readDevSecret(path)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: dev secret: create data directory: %w", err)
	}
	secret, err = createDevSecret(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our create: use theirs.
		return readDevSecret(path)
	}
	return secret, err
}

func readDevSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: dev secret: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: dev secret: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: dev secret %q is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("auth: dev secret %q has mode %#o; it must not be accessible by group or others (chmod 600)", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDevSecretFileBytes))
	if err != nil {
		return nil, fmt.Errorf("auth: dev secret: read %q: %w", path, err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(string(data)), "="))
	if err != nil {
		return nil, fmt.Errorf("auth: dev secret %q is not base64url: %w", path, err)
	}
	if len(secret) < minHMACSecretBytes {
		return nil, fmt.Errorf("auth: dev secret %q decodes to %d bytes; at least %d are required", path, len(secret), minHMACSecretBytes)
	}
	return secret, nil
}

// createDevSecret writes a new secret to a private temporary file and hard-links it into place,
// which fails with fs.ErrExist if path already exists, so a reader never sees a partial file.
func createDevSecret(dataDir, path string) ([]byte, error) {
	secret := make([]byte, minHMACSecretBytes)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("auth: dev secret: generate: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, "."+DevSecretFileName+".*")
	if err != nil {
		return nil, fmt.Errorf("auth: dev secret: create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() { _ = os.Remove(tmpName) }()
	if err := writeSecretFile(tmp, base64.RawURLEncoding.EncodeToString(secret)+"\n"); err != nil {
		return nil, fmt.Errorf("auth: dev secret: write %q: %w", tmpName, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		return nil, fmt.Errorf("auth: dev secret: install %q: %w", path, err)
	}
	return secret, nil
}

func writeSecretFile(f *os.File, content string) error {
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
