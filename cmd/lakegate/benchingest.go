package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchIngest is the ingest load generator: producers POST batches of ~256-byte records with
// durable acknowledgements and it reports records/s, the freshness (accepted → visible)
// percentiles from the writer's histogram, and the server's peak RSS.
func benchIngest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		base, token, dataset string
		producers, batch     int
		duration             time.Duration
		serverPID            int
	)
	fs.StringVar(&base, "url", "http://127.0.0.1:8181", "lakegate base URL")
	fs.StringVar(&token, "token", "", "producer token (records.write on the dataset)")
	fs.StringVar(&dataset, "dataset", "bench.ingest", "NAMESPACE.NAME of a dataset with the bench schema (see scripts/bench.sh)")
	fs.IntVar(&producers, "producers", 8, "concurrent producers")
	fs.IntVar(&batch, "batch", 2000, "records per request")
	fs.DurationVar(&duration, "duration", 15*time.Second, "how long to send")
	fs.IntVar(&serverPID, "server-pid", 0, "pid of the server, to report its peak RSS")
	fs.Usage = usage(fs, stderr, "usage: lakegate bench ingest --token T [flags]\n\nSustained HTTP ingest of ~256-byte records.")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	ns, name, ok := strings.Cut(dataset, ".")
	if !ok || producers < 1 || batch < 1 {
		return errors.New("dataset must be NAMESPACE.NAME; producers and batch must be positive")
	}
	if i := strings.LastIndexByte(dataset, '.'); i > 0 {
		ns, name = dataset[:i], dataset[i+1:]
	}
	url := fmt.Sprintf("%s/v1/datasets/%s/%s/records", strings.TrimSuffix(base, "/"), ns, name)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: producers}}
	before, err := scrapeHistogram(ctx, client, base, "lakegate_writer_freshness_seconds")
	if err != nil {
		return err
	}
	var (
		sent, rejected, errs atomic.Int64
		wg                   sync.WaitGroup
		bytesPerRecord       atomic.Int64
	)
	start := time.Now()
	end := start.Add(duration)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			id := int64(p) << 40
			for time.Now().Before(end) && ctx.Err() == nil {
				body.Reset()
				for i := 0; i < batch; i++ {
					id++
					fmt.Fprintf(&body, `{"id":%d,"ts":%d,"device":"device-%04d","site":"plant-%02d","kind":"temperature","unit":"celsius","value":%d.%d,"status":"ok","firmware":"v2.14.3","note":"periodic reading from the lakegate ingest benchmark, line 3"}`+"\n",
						id, time.Now().UnixMilli(), id%5000, id%40, 15+id%20, id%10)
				}
				bytesPerRecord.Store(int64(body.Len() / batch))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				var rc struct {
					Accepted int `json:"accepted"`
					Rejected int `json:"rejected"`
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || jsonUnmarshal(b, &rc) != nil {
					errs.Add(1)
					continue
				}
				sent.Add(int64(rc.Accepted))
				rejected.Add(int64(rc.Rejected))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Let the writer catch up, then read the freshness of everything sent.
	time.Sleep(3 * time.Second)
	after, err := scrapeHistogram(ctx, client, base, "lakegate_writer_freshness_seconds")
	if err != nil {
		return err
	}
	delta := after.minus(before)
	fmt.Fprintf(stdout, "producers %d, %d records per request, ~%d bytes per record, %s\n", producers, batch, bytesPerRecord.Load(), elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "accepted %d records (%d rejected, %d failed requests)\ningest rate %.0f records/s\n",
		sent.Load(), rejected.Load(), errs.Load(), float64(sent.Load())/elapsed.Seconds())
	fmt.Fprintf(stdout, "freshness (accepted → visible) p50 ≤ %s, p99 ≤ %s (histogram bucket bounds, %d batches)\n",
		delta.quantile(0.5), delta.quantile(0.99), int64(delta.count))
	if serverPID > 0 {
		if rss, err := peakRSS(serverPID); err == nil {
			fmt.Fprintf(stdout, "server peak RSS %d MiB\n", rss>>20)
		}
	}
	if errs.Load() > 0 {
		return fmt.Errorf("%d requests failed", errs.Load())
	}
	return nil
}

type histogram struct {
	bounds []float64
	counts []float64 // cumulative
	count  float64
}

func (h histogram) minus(o histogram) histogram {
	out := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), count: h.count - o.count}
	for i := range h.counts {
		out.counts[i] = h.counts[i]
		if i < len(o.counts) {
			out.counts[i] -= o.counts[i]
		}
	}
	return out
}

func (h histogram) quantile(q float64) string {
	if h.count == 0 {
		return "n/a"
	}
	for i, c := range h.counts {
		if c >= q*h.count {
			if math.IsInf(h.bounds[i], 1) {
				return "+Inf"
			}
			return (time.Duration(h.bounds[i] * float64(time.Second))).String()
		}
	}
	return "+Inf"
}

// scrapeHistogram reads a histogram from the server's /metrics.
func scrapeHistogram(ctx context.Context, client *http.Client, base, name string) (histogram, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return histogram{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	type bucket struct{ le, n float64 }
	var (
		bs []bucket
		h  histogram
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, name+"_bucket{le=\""):
			rest := strings.TrimPrefix(line, name+"_bucket{le=\"")
			leStr, val, _ := strings.Cut(rest, "\"} ")
			le, err := strconv.ParseFloat(leStr, 64)
			if leStr == "+Inf" {
				le, err = math.Inf(1), nil
			}
			n, err2 := strconv.ParseFloat(val, 64)
			if err == nil && err2 == nil {
				bs = append(bs, bucket{le, n})
			}
		case strings.HasPrefix(line, name+"_count "):
			h.count, _ = strconv.ParseFloat(strings.TrimPrefix(line, name+"_count "), 64)
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		h.bounds = append(h.bounds, b.le)
		h.counts = append(h.counts, b.n)
	}
	return h, sc.Err()
}

// peakRSS reads a process's high-water resident set size.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}
