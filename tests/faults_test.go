package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

// Exactly-once under faults (issue #4). lakegate runs as two processes, a gateway and a
// writer, around an external nats-server; producers send batches of records with unique ids,
// each with its own Idempotency-Key, and retry a batch with the same key until it is
// acknowledged (202), sometimes once more after that as if the answer had been lost. While
// they send, the writer is killed, NATS restarted or Postgres stopped. At the end, with
// everything healthy and the stream drained, the table holds exactly the acknowledged ids,
// each once.

const (
	faultsBatchRecords = 100
	faultsProducers    = 3
	// faultsHangGuard bounds every wait of these tests: a wait that long is a hang, not slowness.
	faultsHangGuard = 3 * time.Minute
)

const faultsDatasetJSON = `{"namespace":"faults","name":"events","owner":"team-a",
  "schema":{"fields":[{"name":"id","type":"long","required":true},{"name":"ts","type":"timestamptz","required":true},
                      {"name":"producer","type":"string"}]}}`

// The writer is killed with SIGKILL at random points of ingest, ten times, and restarted;
// producers resend some acknowledged batches with the same Idempotency-Key meanwhile. The
// kills do land between a commit and its acknowledgements: with the writer's lineage check
// disabled, redelivered committed batches show up here.
func TestFaultsWriterKilled(t *testing.T) {
	env := newFaultEnv(t, pgtest.URL(t))
	prod := env.startProducers()
	const trials = 10
	for trial := range trials {
		// A random point of the writer's work: it commits a micro-batch every ~50ms.
		delay := 100*time.Millisecond + rand.N(1500*time.Millisecond)
		time.Sleep(delay)
		before := prod.acknowledged()
		env.writer.kill(t)
		t.Logf("trial %d: writer killed %s after it was ready (%d records acknowledged so far)", trial+1, delay, before)
		env.startWriter()
	}
	prod.stop()
	env.requireExactlyOnce(prod)
}

// The NATS server is restarted under ingest: gracefully (SIGTERM), then crashed (SIGKILL,
// with the store synced before every acknowledgement, as lakegate's embedded server does).
// While it is down after the crash, requests without an Idempotency-Key are refused with 503
// "nothing of this request was accepted": none of them may be stored once NATS is back.
func TestFaultsNATSRestarted(t *testing.T) {
	env := newFaultEnv(t, pgtest.URL(t))
	prod := env.startProducers()
	var refused []int64
	for _, crash := range []bool{false, true} {
		prod.waitAcknowledged(t, prod.acknowledged()+5*faultsBatchRecords)
		if crash {
			env.nats.proc.kill(t)
		} else {
			env.nats.proc.stop(t)
		}
		t.Logf("nats-server down (crash=%v) with %d records acknowledged", crash, prod.acknowledged())
		time.Sleep(time.Second) // producers meet the outage
		if crash {
			// Longer than a publish waits for its acknowledgement (5s): a refused request
			// must not be sent once the connection is back.
			refused = prod.probe(t, 6*time.Second)
			require.NotEmpty(t, refused, "requests are refused while NATS is down")
		}
		env.nats.start()
	}
	prod.waitAcknowledged(t, prod.acknowledged()+5*faultsBatchRecords)
	prod.stop()
	got := env.requireExactlyOnce(prod)
	for _, id := range refused {
		require.NotContains(t, got, id, "a request answered 503 nothing accepted is not stored")
	}
}

// Postgres is stopped: ingest keeps accepting until the stream's limits are reached, then
// answers 429 or 503 with Retry-After and accepts nothing of the request. Once Postgres is
// back, everything acknowledged is committed exactly once.
func TestFaultsPostgresStopped(t *testing.T) {
	pg := newPrivatePostgres(t)
	dbURL := pg.start()

	// A small buffer, so that the outage reaches its limit.
	env := newFaultEnv(t, dbURL, "--stream-max-bytes", "393216")
	prod := env.startProducers()
	prod.waitAcknowledged(t, 5*faultsBatchRecords)

	pg.stop()
	prod.degraded.Store(true)
	t.Logf("postgres stopped with %d records acknowledged", prod.acknowledged())
	prod.waitFull(t)
	// The buffer is full: a request larger than any the producers send cannot fit. It is
	// refused as a whole and never retried, so none of its records may ever appear.
	probe := prod.newBatch(1<<40, 4*faultsBatchRecords)
	status, hdr, body, err := prod.post("", probe.body)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, status, string(body))
	require.NotEmpty(t, hdr.Get("Retry-After"), "a refusal tells when to retry")
	prod.degraded.Store(false)
	pg.start()
	t.Logf("postgres started; %d records were acknowledged while it was down", prod.acceptedDegraded.Load())
	require.Positive(t, prod.acceptedDegraded.Load(), "ingest accepts records while Postgres is down")

	prod.waitAcknowledged(t, prod.acknowledged()+5*faultsBatchRecords)
	prod.stop()
	got := env.requireExactlyOnce(prod)
	for _, id := range probe.ids {
		require.NotContains(t, got, id, "a refused request is not stored")
	}
}

// --- the deployment under test ---

// faultEnv is lakegate as a gateway process and a writer process sharing a data dir (signing
// key, local warehouse), an external nats-server and a Postgres database.
type faultEnv struct {
	t       *testing.T
	bin     string
	dbURL   string
	dataDir string
	nats    *natsServer
	args    []string // both roles
	base    string   // the gateway
	token   string
	writer  *process
}

func newFaultEnv(t *testing.T, dbURL string, args ...string) *faultEnv {
	t.Helper()
	e := &faultEnv{t: t, bin: buildBinary(t), dbURL: dbURL, dataDir: t.TempDir()}
	e.nats = startNATSServer(t)
	// Stream flags go to both roles: each ensures the stream's configuration at start.
	e.args = append([]string{"--nats-url", e.nats.url(), "--writer-max-linger", "50ms", "--writer-ack-wait", "2s"}, args...)
	_, e.base = startLakegateIn(t, e.bin, dbURL, e.dataDir, append([]string{"--role", "gateway"}, e.args...)...)
	e.token = mintToken(t, e.bin, e.dataDir, "faults-admin", "admin")
	admin := client{t: t, base: e.base, token: e.token}
	status, body := admin.do("POST", "/v1/datasets", faultsDatasetJSON)
	require.Equal(t, http.StatusCreated, status, string(body))
	e.startWriter()
	return e
}

func (e *faultEnv) startWriter() {
	e.t.Helper()
	e.writer, _ = startLakegateIn(e.t, e.bin, e.dbURL, e.dataDir, append([]string{"--role", "writer"}, e.args...)...)
}

// requireExactlyOnce waits until the writer has settled every buffered batch, then requires
// the table to hold each acknowledged id exactly once and nothing else. It returns the ids.
func (e *faultEnv) requireExactlyOnce(p *producers) map[int64]int {
	t := e.t
	t.Helper()
	require.Empty(t, p.problems(), "every request ends in a 202 or a retryable refusal with Retry-After")
	e.waitDrained()

	ctx := t.Context()
	cat, err := rest.NewCatalog(ctx, "lakegate", e.base+"/iceberg", rest.WithOAuthToken(e.token))
	require.NoError(t, err)
	tbl, err := cat.LoadTable(ctx, table.Identifier{"faults", "events"})
	require.NoError(t, err)
	at, err := tbl.Scan(table.WithSelectedFields("id")).ToArrowTable(ctx)
	require.NoError(t, err)
	defer at.Release()
	got := map[int64]int{}
	for _, chunk := range at.Column(0).Data().Chunks() {
		ids := chunk.(*array.Int64)
		for i := range ids.Len() {
			got[ids.Value(i)]++
		}
	}

	acked := p.ackedIDs()
	var missing, duplicated, unacknowledged []int64
	for id := range acked {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range got {
		if n > 1 {
			duplicated = append(duplicated, id)
		}
		if !acked[id] {
			unacknowledged = append(unacknowledged, id)
		}
	}
	t.Logf("%d records acknowledged in %d batches (%d resent with their key); the table holds %d rows",
		len(acked), p.batches.Load(), p.resent.Load(), at.NumRows())
	require.Empty(t, missing, "acknowledged records missing from the table")
	require.Empty(t, duplicated, "records in the table more than once")
	require.Empty(t, unacknowledged, "records in the table that no 202 acknowledged (every batch is retried until acknowledged)")
	require.EqualValues(t, len(acked), at.NumRows())
	return got
}

// waitDrained waits until the writers' consumer has every message of the stream delivered
// and acknowledged.
func (e *faultEnv) waitDrained() {
	t := e.t
	t.Helper()
	nc, err := nats.Connect(e.nats.url())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var last string
	for deadline := time.Now().Add(faultsHangGuard); ; time.Sleep(200 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the writer did not drain the stream: %s", last)
		cons, err := js.Consumer(t.Context(), "LAKEGATE_RECORDS", "lakegate-writer")
		if err != nil {
			last = err.Error()
			continue
		}
		info, err := cons.Info(t.Context())
		if err != nil {
			last = err.Error()
			continue
		}
		last = fmt.Sprintf("pending %d, awaiting ack %d", info.NumPending, info.NumAckPending)
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
	}
}

// natsServer is a nats-server child process with JetStream, restartable on its port and store.
type natsServer struct {
	t       *testing.T
	bin     string
	conf    string
	addr    string
	monitor string
	proc    *process
}

func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	dir := t.TempDir()
	n := &natsServer{t: t, bin: filepath.Join(dir, "nats-server"), conf: filepath.Join(dir, "nats.conf"), addr: freeAddr(t), monitor: freeAddr(t)}
	// The server's own main package, at the version go.mod pins for the embedded one.
	build := exec.Command("go", "build", "-o", n.bin, "github.com/nats-io/nats-server/v2")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	// sync_interval: always, as lakegate's embedded server (--nats-sync-always): an
	// acknowledged message is on disk before the acknowledgement.
	conf := fmt.Sprintf("listen: %q\nhttp: %q\njetstream { store_dir: %q, sync_interval: always }\n",
		n.addr, n.monitor, filepath.Join(dir, "store"))
	require.NoError(t, os.WriteFile(n.conf, []byte(conf), 0o600))
	n.start()
	return n
}

func (n *natsServer) start() {
	n.t.Helper()
	n.proc = startProcess(n.t, "nats-server", exec.Command(n.bin, "-c", n.conf))
	n.proc.waitReady(n.t, "http://"+n.monitor+"/healthz", func(status int) bool { return status == http.StatusOK })
}

func (n *natsServer) url() string { return "nats://" + n.addr }

// --- producers ---

// producers send batches concurrently until stopped, each batch retried with its
// Idempotency-Key until it is acknowledged, and keep the ledger of acknowledged ids.
type producers struct {
	t      *testing.T
	url    string
	token  string
	client *http.Client
	nextID atomic.Int64
	halt   chan struct{}
	wg     sync.WaitGroup

	// degraded is set while a fault is in effect; acceptedDegraded counts the records
	// acknowledged by requests sent and answered within it.
	degraded         atomic.Bool
	acceptedDegraded atomic.Int64
	refused          atomic.Int64 // 429 and 503 answers
	full             atomic.Int64 // 429 answers: the stream is at its limits
	batches, resent  atomic.Int64

	mu       sync.Mutex
	acked    map[int64]bool
	count    int
	issues   []string
	ackedSig chan struct{} // closed and replaced at every acknowledgement
}

type faultBatch struct {
	key  string
	ids  []int64
	body string
}

// faultReceipt is the part of the 202 receipt the tests check.
type faultReceipt struct {
	BatchID   string `json:"batch_id"`
	Accepted  int    `json:"accepted"`
	StreamSeq uint64 `json:"stream_seq"`
	Duplicate bool   `json:"duplicate"`
}

func (e *faultEnv) startProducers() *producers {
	p := &producers{t: e.t, url: e.base + "/v1/datasets/faults/events/records", token: e.token,
		client: &http.Client{Timeout: 30 * time.Second}, halt: make(chan struct{}),
		acked: map[int64]bool{}, ackedSig: make(chan struct{})}
	p.nextID.Store(1)
	for i := range faultsProducers {
		p.wg.Add(1)
		go p.run(i)
	}
	e.t.Cleanup(p.stop)
	return p
}

func (p *producers) newBatch(first int64, n int) faultBatch {
	b := faultBatch{key: "faults-" + strconv.FormatInt(first, 10)}
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range int64(n) {
		if i > 0 {
			sb.WriteByte(',')
		}
		b.ids = append(b.ids, first+i)
		fmt.Fprintf(&sb, `{"id":%d,"ts":"2026-01-01T00:00:00Z","producer":"p-%d"}`, first+i, first)
	}
	sb.WriteByte(']')
	b.body = sb.String()
	return b
}

func (p *producers) run(n int) {
	defer p.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n)))
	for {
		select {
		case <-p.halt:
			return
		default:
		}
		b := p.newBatch(p.nextID.Add(faultsBatchRecords)-faultsBatchRecords, faultsBatchRecords)
		degraded := p.degraded.Load()
		rc, ok := p.deliver(b)
		if !ok {
			return
		}
		p.batches.Add(1)
		p.record(b, degraded && p.degraded.Load())
		if rng.IntN(4) == 0 {
			// The answer was lost, as far as the producer knows: it sends the batch again
			// with the same key. The retry must name the same stored message.
			p.resent.Add(1)
			again, ok := p.deliver(b)
			if !ok {
				return
			}
			if again.StreamSeq != rc.StreamSeq {
				p.issue("batch %s resent with its key: stream_seq %d, first acknowledged as %d", b.key, again.StreamSeq, rc.StreamSeq)
			}
		}
		time.Sleep(10 * time.Millisecond) // a steady load, not a benchmark: the machine is shared
	}
}

// deliver sends the batch until it is acknowledged, retrying refusals and connection errors
// with the same Idempotency-Key. Any other answer is an issue of the test.
func (p *producers) deliver(b faultBatch) (faultReceipt, bool) {
	deadline := time.Now().Add(faultsHangGuard)
	for {
		status, hdr, body, err := p.post(b.key, b.body)
		switch {
		case err != nil: // the gateway or its connection failed: the outcome is unknown
		case status == http.StatusAccepted:
			var rc faultReceipt
			if err := json.Unmarshal(body, &rc); err != nil || rc.Accepted != len(b.ids) {
				p.issue("batch %s: receipt %s", b.key, body)
				return rc, false
			}
			return rc, true
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			p.refused.Add(1)
			if status == http.StatusTooManyRequests {
				p.full.Add(1)
			}
			if hdr.Get("Retry-After") == "" {
				p.issue("batch %s: %d without Retry-After", b.key, status)
			}
		case status == http.StatusConflict && strings.Contains(string(body), "idempotency_key_in_progress"):
		default:
			p.issue("batch %s: unexpected %d %s", b.key, status, body)
			return faultReceipt{}, false
		}
		if time.Now().After(deadline) {
			p.issue("batch %s: not acknowledged within %s (last: %d %v)", b.key, faultsHangGuard, status, err)
			return faultReceipt{}, false
		}
		time.Sleep(50*time.Millisecond + rand.N(150*time.Millisecond))
	}
}

func (p *producers) post(key, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func (p *producers) record(b faultBatch, degraded bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range b.ids {
		p.acked[id] = true
	}
	p.count += len(b.ids)
	if degraded {
		p.acceptedDegraded.Add(int64(len(b.ids)))
	}
	close(p.ackedSig)
	p.ackedSig = make(chan struct{})
}

func (p *producers) issue(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issues = append(p.issues, fmt.Sprintf(format, args...))
}

func (p *producers) problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.issues...)
}

func (p *producers) acknowledged() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

func (p *producers) ackedIDs() map[int64]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int64]bool, len(p.acked))
	for id := range p.acked {
		out[id] = true
	}
	return out
}

// waitAcknowledged waits until n records are acknowledged.
func (p *producers) waitAcknowledged(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(faultsHangGuard)
	for {
		p.mu.Lock()
		count, sig := p.count, p.ackedSig
		p.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-sig:
		case <-timeout:
			t.Fatalf("only %d of %d records acknowledged within %s; issues: %v", count, n, faultsHangGuard, p.problems())
		}
	}
}

// probe sends batches without an Idempotency-Key for d, never retrying one, and returns the
// ids of those refused with "nothing of this request was accepted". An acknowledged probe
// joins the ledger.
func (p *producers) probe(t *testing.T, d time.Duration) []int64 {
	t.Helper()
	var refused []int64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b := p.newBatch(p.nextID.Add(faultsBatchRecords)-faultsBatchRecords, faultsBatchRecords)
		status, hdr, body, err := p.post("", b.body)
		require.NoError(t, err)
		switch {
		case status == http.StatusAccepted:
			p.record(b, false)
		case status == http.StatusServiceUnavailable && strings.Contains(string(body), "nothing of this request was accepted"):
			require.NotEmpty(t, hdr.Get("Retry-After"))
			refused = append(refused, b.ids...)
		default:
			t.Fatalf("probe: %d %s", status, body)
		}
	}
	return refused
}

// waitFull waits until a request has been refused for the stream's limits.
func (p *producers) waitFull(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(faultsHangGuard); p.full.Load() == 0; time.Sleep(50 * time.Millisecond) {
		require.Empty(t, p.problems())
		require.True(t, time.Now().Before(deadline), "no request was refused within %s", faultsHangGuard)
	}
}

// stop lets every producer finish its batch (acknowledged, or an issue) and waits for them.
func (p *producers) stop() {
	select {
	case <-p.halt:
	default:
		close(p.halt)
	}
	p.wg.Wait()
}
