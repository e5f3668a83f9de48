package lineage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Spill files hold one JSON AuditEntry a line. A file is written under a temporary name,
// fsynced, renamed and its directory fsynced; the process that writes or replays a file holds
// an exclusive flock on it, so that processes sharing a data dir never replay a file twice.
const (
	spillSuffix = ".jsonl"
	tmpSuffix   = ".tmp"
	// abandonedAfter is the age from which an unlocked temporary file is taken for the
	// remains of a process that died while spilling.
	abandonedAfter = time.Minute
)

// spill keeps rows in a new file of the spill directory. Without a directory, or when the
// file cannot be written, the rows are counted lost and the error is logged.
func (a *AuditLog) spill(rows []AuditEntry) error {
	if len(rows) == 0 {
		return nil
	}
	err := a.spillFile(rows)
	if err != nil {
		a.lost.WithLabelValues("spill_failed").Add(float64(len(rows)))
		a.logger.Error("audit rows lost: cannot spill them", "rows", len(rows), "err", err)
		return err
	}
	a.spilled.Add(float64(len(rows)))
	return nil
}

func (a *AuditLog) spillFile(rows []AuditEntry) error {
	dir := a.cfg.SpillDir
	if dir == "" {
		return errors.New("audit: no spill directory configured")
	}
	a.spillMu.Lock()
	defer a.spillMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	name := filepath.Join(dir, fmt.Sprintf("audit-%s-%d-%s%s", time.Now().UTC().Format("20060102T150405.000000000Z"), os.Getpid(), hex.EncodeToString(id[:]), spillSuffix))
	f, err := os.OpenFile(name+tmpSuffix, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	defer f.Close() // after the rename: closing releases the lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("audit: spill: lock: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range rows {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("audit: spill: encode: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	if err := os.Rename(name+tmpSuffix, name); err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("audit: spill: %w", err)
	}
	a.logger.Warn("audit rows spilled to disk; they are written at the next start", "rows", len(rows), "file", name)
	return nil
}

// replay writes the rows of every spill file, removing each file once its rows are written.
// A file is left for the next start when ctx ends first (its rows may then be written twice,
// never lost).
func (a *AuditLog) replay(ctx context.Context) {
	dir := a.cfg.SpillDir
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.logger.Error("audit spill directory unreadable; its rows are not replayed", "dir", dir, "err", err)
		}
		return
	}
	for _, de := range entries {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, spillSuffix):
		case strings.HasSuffix(name, spillSuffix+tmpSuffix):
			if info, err := de.Info(); err != nil || time.Since(info.ModTime()) < abandonedAfter {
				continue
			}
		default:
			continue
		}
		if ctx.Err() != nil {
			return
		}
		a.replayFile(ctx, filepath.Join(dir, name))
	}
}

func (a *AuditLog) replayFile(ctx context.Context, path string) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.logger.Error("audit spill file unreadable", "file", path, "err", err)
		}
		return
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return // another process writes or replays it
	}
	if st, err := f.Stat(); err != nil || st.Sys().(*syscall.Stat_t).Nlink == 0 {
		return // replayed and removed by another process meanwhile
	}
	var rows []AuditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var e AuditEntry
		if err := dec.Decode(&e); err != nil {
			// A torn last line of a process that died while spilling.
			a.lost.WithLabelValues("spill_corrupt").Inc()
			a.logger.Error("audit spill file has an unreadable line; skipped", "file", path, "line", line, "err", err)
			continue
		}
		rows = append(rows, a.prepare(e))
	}
	if err := sc.Err(); err != nil {
		a.logger.Error("audit spill file unreadable; left for the next start", "file", path, "err", err)
		return
	}
	for batch := range slices.Chunk(rows, a.cfg.BatchSize) {
		if rest := a.writeWithRetry(ctx, batch); len(rest) > 0 {
			a.logger.Warn("audit spill file not fully replayed; left for the next start", "file", path)
			return
		}
	}
	if err := os.Remove(path); err != nil {
		a.logger.Error("audit spill file replayed but not removed; its rows may be written again", "file", path, "err", err)
	}
	_ = syncDir(filepath.Dir(path))
	a.replayed.Add(float64(len(rows)))
	a.logger.Info("spilled audit rows written", "rows", len(rows), "file", path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
