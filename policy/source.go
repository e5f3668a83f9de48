package policy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

//go:embed default/*.rego
var defaultPolicyFS embed.FS

// policyFile is one Rego source file of a policy.
type policyFile struct {
	name    string // slash-separated, relative to the policy root
	content []byte
}

// isPolicyFile reports whether name is a runtime Rego file (test files are
// excluded).
func isPolicyFile(name string) bool {
	return strings.HasSuffix(name, ".rego") && !strings.HasSuffix(name, "_test.rego")
}

// defaultPolicyFiles returns the embedded default policy.
func defaultPolicyFiles() ([]policyFile, error) {
	entries, err := fs.ReadDir(defaultPolicyFS, "default")
	if err != nil {
		return nil, fmt.Errorf("read embedded default policy: %w", err)
	}
	var files []policyFile
	for _, entry := range entries {
		if entry.IsDir() || !isPolicyFile(entry.Name()) {
			continue
		}
		content, err := fs.ReadFile(defaultPolicyFS, path.Join("default", entry.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded default policy %s: %w", entry.Name(), err)
		}
		files = append(files, policyFile{name: entry.Name(), content: content})
	}
	if len(files) == 0 {
		return nil, errors.New("embedded default policy has no .rego files")
	}
	return files, nil
}

// readPolicyDir reads every *.rego file (except *_test.rego) below dir,
// recursively, in name order. Entries whose name starts with "." are skipped,
// which also skips the "..data" indirection of Kubernetes volume mounts;
// symlinked files are followed.
func readPolicyDir(dir string) ([]policyFile, error) {
	// Resolve a symlinked root so that WalkDir descends into it.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy dir %s: %w", dir, err)
	}
	var files []policyFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isPolicyFile(d.Name()) {
			return nil
		}
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("relative name of %s: %w", p, err)
		}
		files = append(files, policyFile{name: filepath.ToSlash(rel), content: content})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policy dir %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read policy dir %s: no .rego files", dir)
	}
	slices.SortFunc(files, func(a, b policyFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// revisionOf digests the sorted file names and contents:
// "sha256:" + the first 16 hex characters of the SHA-256.
func revisionOf(files []policyFile) string {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b policyFile) int { return strings.Compare(a.name, b.name) })
	h := sha256.New()
	for _, f := range sorted {
		// Length-prefix both parts so that no two file sets share a digest
		// input.
		h.Write([]byte(strconv.Itoa(len(f.name)) + ":" + f.name + "\n"))
		h.Write([]byte(strconv.Itoa(len(f.content)) + ":"))
		h.Write(f.content)
		h.Write([]byte("\n"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}
