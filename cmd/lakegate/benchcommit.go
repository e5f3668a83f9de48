package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// benchCommits measures Iceberg commit latency as a table's history grows: it creates a
// table through the REST catalog and commits one append snapshot at a time (each with a
// snapshot-ref requirement, as engines do), reporting the latency at the start and at the end.
func benchCommits(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench commits", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		uri, token, namespace string
		snapshots, window     int
	)
	fs.StringVar(&uri, "uri", "", "Iceberg REST catalog URI, e.g. http://127.0.0.1:8181/iceberg")
	fs.StringVar(&token, "token", "", "bearer token")
	fs.StringVar(&namespace, "namespace", "bench_commits", "namespace to create the table in")
	fs.IntVar(&snapshots, "snapshots", 5000, "number of commits (snapshots)")
	fs.IntVar(&window, "window", 10, "commits measured at the start and at the end")
	fs.Usage = usage(fs, stderr, "usage: lakegate bench commits --uri URI --token T [--snapshots N]\n\nCommit latency at snapshot 1..W compared with snapshot N-W..N on one table.")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if uri == "" || snapshots < 2*window || window < 1 {
		return errors.New("uri: required; snapshots must be at least twice the window")
	}
	c := &catalogClient{base: strings.TrimSuffix(uri, "/") + "/v1", token: token, http: &http.Client{Timeout: time.Minute}}
	tableName := fmt.Sprintf("t%d", time.Now().UnixNano())
	if err := c.call(ctx, "POST", "/namespaces", map[string]any{"namespace": []string{namespace}}, nil); err != nil && !strings.Contains(err.Error(), "409") {
		return err
	}
	var created struct {
		Metadata struct {
			Location string `json:"location"`
		} `json:"metadata"`
	}
	if err := c.call(ctx, "POST", "/namespaces/"+namespace+"/tables", map[string]any{
		"name": tableName,
		"schema": map[string]any{"type": "struct", "schema-id": 0, "fields": []any{
			map[string]any{"id": 1, "name": "id", "type": "long", "required": true}}},
	}, &created); err != nil {
		return err
	}
	path := "/namespaces/" + namespace + "/tables/" + tableName
	lat := make([]time.Duration, 0, snapshots)
	var parent *int64
	for i := 1; i <= snapshots; i++ {
		id := int64(i)
		snap := map[string]any{
			"snapshot-id": id, "sequence-number": i, "timestamp-ms": time.Now().UnixMilli(),
			"manifest-list": fmt.Sprintf("%s/metadata/snap-%d.avro", created.Metadata.Location, id),
			"summary":       map[string]string{"operation": "append"}, "schema-id": 0,
		}
		req := map[string]any{"snapshot-id": parent}
		if parent != nil {
			snap["parent-snapshot-id"] = *parent
		}
		body := map[string]any{
			"requirements": []any{map[string]any{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": req["snapshot-id"]}},
			"updates": []any{
				map[string]any{"action": "add-snapshot", "snapshot": snap},
				map[string]any{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id},
			},
		}
		t0 := time.Now()
		if err := c.call(ctx, "POST", path, body, nil); err != nil {
			return fmt.Errorf("commit %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
		parent = &id
	}
	first := median(lat[:window])
	last := median(lat[len(lat)-window:])
	fmt.Fprintf(stdout, "commits %d on one table\nmedian latency at snapshots 1-%d: %s\nmedian latency at snapshots %d-%d: %s\nratio %.2f\n",
		snapshots, window, first.Round(10*time.Microsecond), snapshots-window+1, snapshots, last.Round(10*time.Microsecond), float64(last)/float64(first))
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// catalogClient is a minimal Iceberg REST client for the benchmarks.
type catalogClient struct {
	base, token string
	http        *http.Client
}

func (c *catalogClient) call(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
