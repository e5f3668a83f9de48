package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// benchCmd runs lakegate's load generators against a running server.
func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ingest" {
		return benchIngest(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "commits" {
		return benchCommits(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "get" {
		return errors.New("usage: lakegate bench get|commits|ingest [flags]")
	}
	fs := flag.NewFlagSet("bench get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url, token     string
		concurrency    int
		duration, warm time.Duration
	)
	fs.StringVar(&url, "url", "", "URL to GET, e.g. http://127.0.0.1:8181/v1/datasets/bench/events")
	fs.StringVar(&token, "token", "", "bearer token sent with every request")
	fs.IntVar(&concurrency, "concurrency", 32, "concurrent connections")
	fs.DurationVar(&duration, "duration", 10*time.Second, "measured duration")
	fs.DurationVar(&warm, "warmup", 2*time.Second, "unmeasured warm-up before the measurement")
	fs.Usage = usage(fs, stderr, "usage: lakegate bench get [flags]\n\nRepeats an authenticated GET with N keep-alive connections and reports throughput and latency percentiles.")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if url == "" || concurrency < 1 || duration <= 0 {
		return errors.New("url: required; concurrency and duration must be positive")
	}
	res, err := loadGET(ctx, url, token, concurrency, warm, duration)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "GET %s\nconcurrency %d, %s measured after %s warm-up\n", url, concurrency, duration, warm)
	fmt.Fprintf(stdout, "requests %d, errors %d, non-2xx %d\nthroughput %.0f req/s\nlatency p50 %s  p90 %s  p99 %s  max %s\n",
		res.n, res.errors, res.non2xx, res.rps, res.p(50), res.p(90), res.p(99), res.p(100))
	if res.errors > 0 || res.non2xx > 0 {
		return fmt.Errorf("%d errors and %d non-2xx responses", res.errors, res.non2xx)
	}
	return nil
}

type loadResult struct {
	n, errors, non2xx int64
	rps               float64
	latencies         []time.Duration
}

func (r loadResult) p(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * q / 100)
	return r.latencies[i].Round(10 * time.Microsecond)
}

// loadGET runs concurrency workers for warm+dur and records the requests that started
// after the warm-up.
func loadGET(ctx context.Context, url, token string, concurrency int, warm, dur time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	start := time.Now()
	measureFrom, end := start.Add(warm), start.Add(warm+dur)
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		all          []time.Duration
		errs, non2xx atomic.Int64
	)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if t0.Before(measureFrom) {
					continue
				}
				switch {
				case err != nil:
					errs.Add(1)
				case resp.StatusCode/100 != 2:
					non2xx.Add(1)
				default:
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return loadResult{}, ctx.Err()
	}
	slices.Sort(all)
	n := int64(len(all)) + errs.Load() + non2xx.Load()
	return loadResult{n: n, errors: errs.Load(), non2xx: non2xx.Load(), rps: float64(len(all)) / dur.Seconds(), latencies: all}, nil
}
