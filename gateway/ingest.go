package gateway

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"github.com/klauspost/compress/zstd"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/envelope"
	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/internal/stream"
	"github.com/lakegate/lakegate/internal/transform"
	"github.com/lakegate/lakegate/policy"
	"github.com/lakegate/lakegate/quality"
)

// Publisher stores accepted batches durably in the stream.
type Publisher interface {
	Publish(ctx context.Context, namespace, name string, payload []byte, headers map[string]string, msgID string) (seq uint64, duplicate bool, err error)
}

// BatchStatus tells which batches have been committed into a snapshot.
type BatchStatus interface {
	CommittedBatches(ctx context.Context, batchIDs []string) (map[string]int64, error)
}

// Ingest configures the records endpoint; a nil Publisher disables it (writer-only role).
type Ingest struct {
	Publisher Publisher
	Batches   BatchStatus
	// Key signs the batches (shared with the writers).
	Key []byte
	// HashKey keys the HMAC of the hash field transformation.
	HashKey []byte
	// MaxBodyBytes bounds a request body, compressed and decompressed; default 32 MiB.
	MaxBodyBytes int64
	// MaxRecords bounds the records of one request; default 100,000.
	MaxRecords int
	// VisibleTimeout bounds ?wait=visible; default 30s.
	VisibleTimeout time.Duration
}

func (i *Ingest) defaults() {
	if i.MaxBodyBytes == 0 {
		i.MaxBodyBytes = 32 << 20
	}
	if i.MaxRecords == 0 {
		i.MaxRecords = quality.DefaultMaxRecords
	}
	if i.VisibleTimeout == 0 {
		i.VisibleTimeout = 30 * time.Second
	}
}

// authorizeIngest decides records.write on the dataset, with its tagged fields in the input
// so that the decision can return field transformations, and returns the dataset's decoder.
func (s *Server) authorizeIngest(c echo.Context) (catalog.Namespace, string, cachedDecoder, error) {
	nsStr, name := c.Param("namespace"), c.Param("name")
	res := datasetResource(nsStr, name)
	ns, nsErr := catalog.ParseNamespace(nsStr)
	var (
		target cachedDecoder
		dsErr  error
	)
	if nsErr == nil {
		target, dsErr = s.decoderFor(c.Request().Context(), ns, name)
		res.Fields = target.fields
	}
	// Decided before the dataset's existence is revealed.
	if err := s.authorize(c, policy.ActionRecordsWrite, res); err != nil {
		return nil, "", cachedDecoder{}, err
	}
	if nsErr != nil {
		return nil, "", cachedDecoder{}, nsErr
	}
	return ns, name, target, dsErr
}

func isIngestRequest(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && strings.HasSuffix(c.Request().URL.Path, "/records")
}

// receipt is the answer to an ingest request.
type receipt struct {
	BatchID    string             `json:"batch_id"`
	Accepted   int                `json:"accepted"`
	Rejected   int                `json:"rejected"`
	Rejections []receiptRejection `json:"rejections"`
	StreamSeq  uint64             `json:"stream_seq"`
	Duplicate  bool               `json:"duplicate,omitempty"`
	SnapshotID *int64             `json:"snapshot_id,omitempty"`
}

type receiptRejection struct {
	Index  int    `json:"index"`
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

func (s *Server) ingestRecords(c echo.Context) error {
	in := s.deps.Ingest
	if in.Publisher == nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "this lakegate process does not accept records (writer role)"}
	}
	if name := c.Param("name"); catalog.IsQuarantineTable(name) {
		return errBadRequest("%s is a quarantine table: lakegate writes it with the records rejected from its dataset", name)
	}
	ns, name, target, err := s.authorizeIngest(c)
	if err != nil {
		return err
	}
	req := c.Request()
	format, err := recordFormat(req.Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	body, err := decodedBody(req, in.MaxBodyBytes)
	if err != nil {
		return err
	}
	ctx := req.Context()
	schemaID := target.schemaID
	batch, err := target.dec.Decode(body, format)
	if err != nil {
		return ingestError(err)
	}
	defer batch.Record.Release()

	r := reqOf(c)
	if len(r.decision.Transforms) > 0 {
		plan, err := transform.Compile(r.decision.Transforms, batch.Record.Schema(), in.HashKey)
		if err != nil {
			return &apiError{Status: http.StatusUnprocessableEntity, Code: "policy_transform", Message: err.Error() +
				"; the policy's transformations for this dataset cannot apply, so nothing was accepted"}
		}
		rec := plan.Apply(batch.Record, memory.DefaultAllocator)
		defer rec.Release()
		batch.Record = rec
		for i := range batch.Rejections {
			batch.Rejections[i].Raw = plan.ApplyJSON(batch.Rejections[i].Raw)
		}
	}
	meta := envelope.Meta{BatchID: newBatchID(), Producer: r.principal.Subject, ProducerRoles: r.principal.Roles, PolicyRevision: r.decision.Revision,
		SchemaID: schemaID, Accepted: batch.Accepted, Rejected: len(batch.Rejections), ReceivedAt: r.start.UTC()}
	quarantine := quarantineRecord(s.quarantineSchema, batch.Rejections, meta)
	if quarantine != nil {
		defer quarantine.Release()
	}
	var accepted arrow.Record
	if batch.Accepted > 0 {
		accepted = batch.Record
	}
	payload, err := envelope.Encode(in.Key, accepted, quarantine)
	if err != nil {
		return err
	}
	msgID := ""
	if key := req.Header.Get(headerIdempotencyKey); key != "" {
		// The request's fingerprint is part of the id: while the idempotency store is down,
		// a key reused for a different batch must not make JetStream drop that batch.
		msgID = r.principal.Subject + "\x00" + ns.String() + "." + name + "\x00" + key + "\x00" + hex.EncodeToString(r.fingerprint)
	}
	seq, dup, err := in.Publisher.Publish(ctx, ns.String(), name, payload, meta.Headers(), msgID)
	switch {
	case errors.Is(err, stream.ErrFull):
		return &apiError{Status: http.StatusTooManyRequests, Code: "backpressure", Message: "the ingest buffer is full; nothing of this request was accepted, retry later", Cause: err}
	case errors.Is(err, stream.ErrUnconfirmed):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the ingest buffer did not confirm this request in time; it may have been stored: retry later with the same Idempotency-Key", Cause: err}
	case err != nil:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the ingest buffer is unavailable; nothing of this request was accepted, retry later", Cause: err}
	}
	if !dup {
		s.ingestMetrics.observe(ns.String()+"."+name, batch.Accepted, batch.Rejections, len(payload))
	}
	out := receipt{BatchID: meta.BatchID, Accepted: batch.Accepted, Rejected: len(batch.Rejections), StreamSeq: seq, Duplicate: dup,
		Rejections: make([]receiptRejection, 0, len(batch.Rejections))}
	for _, rej := range batch.Rejections {
		for _, v := range rej.Reasons {
			out.Rejections = append(out.Rejections, receiptRejection{Index: rej.Index, Field: v.Field, Rule: v.Rule, Reason: v.Reason})
		}
	}
	r.details = map[string]any{"batch_id": meta.BatchID, "accepted": out.Accepted, "rejected": out.Rejected, "stream_seq": seq}
	switch c.QueryParam("wait") {
	case "", "accepted":
	case "visible":
		if dup {
			break // the first request's batch id is the one committed; its receipt answers that
		}
		snap, err := s.waitVisible(ctx, meta.BatchID)
		if err != nil {
			return err
		}
		out.SnapshotID = &snap
	default:
		return errBadRequest("wait must be accepted or visible")
	}
	return c.JSON(http.StatusAccepted, out)
}

// waitVisible waits until the writers have committed the batch, for read-your-writes.
func (s *Server) waitVisible(ctx context.Context, batchID string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.deps.Ingest.VisibleTimeout)
	defer cancel()
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		done, err := s.deps.Ingest.Batches.CommittedBatches(ctx, []string{batchID})
		if err == nil {
			if snap, ok := done[batchID]; ok {
				return snap, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
				Message: fmt.Sprintf("batch %s is stored but not yet visible after %s; it will be committed", batchID, s.deps.Ingest.VisibleTimeout)}
		case <-time.After(delay):
		}
	}
}

func recordFormat(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
	case mt == "application/json":
		return "json", nil
	case mt == "application/x-ndjson":
		return "ndjson", nil
	}
	return "", &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: fmt.Sprintf("Content-Type %q is not supported; send application/json (an array of objects) or application/x-ndjson", contentType)}
}

// decodedBody undoes Content-Encoding and bounds the decoded size too (a small gzip body can
// inflate without bound).
func decodedBody(req *http.Request, limit int64) (io.Reader, error) {
	var r io.Reader = req.Body
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get(echo.HeaderContentEncoding))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return nil, errBadRequest("body is not valid gzip: %s", err.Error())
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(req.Body, zstd.WithDecoderMaxMemory(uint64(limit)))
		if err != nil {
			return nil, errBadRequest("body is not valid zstd: %s", err.Error())
		}
		r = zr.IOReadCloser()
	default:
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: fmt.Sprintf("Content-Encoding %q is not supported; use gzip, zstd or none", enc)}
	}
	return &limitedReader{r: r, left: limit}, nil
}

// limitedReader fails with *http.MaxBytesError once more than its limit has been read.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &http.MaxBytesError{Limit: l.left}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &http.MaxBytesError{}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		var maxBytes *http.MaxBytesError
		if !errors.As(err, &maxBytes) {
			err = errBadRequest("cannot read the body: %s", err.Error())
		}
	}
	return n, err
}

// ingestError maps decoder errors: a malformed body is 400 naming the record, a limit 413.
func ingestError(err error) error {
	var (
		syn      *quality.SyntaxError
		lim      *quality.LimitError
		maxBytes *http.MaxBytesError
		ae       *apiError
	)
	switch {
	case errors.As(err, &syn):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_argument", Message: syn.Error(), Details: []map[string]any{{"index": syn.Index, "line": syn.Line, "offset": syn.Offset}}}
	case errors.As(err, &lim):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: lim.Error()}
	case errors.As(err, &maxBytes):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "request body (decoded) is larger than the ingest limit"}
	case errors.As(err, &ae):
		return ae
	}
	return err
}

func newBatchID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "b_" + hex.EncodeToString(b[:])
}

// --- decoders, compiled once per dataset version and table schema ---

type decoderCache struct {
	mu      sync.Mutex
	entries map[string]cachedDecoder
}

type cachedDecoder struct {
	key      string
	dec      *quality.Decoder
	schemaID int
	fields   []policy.Field // the dataset's tagged fields, for the records.write decision
}

// decoderFor returns the dataset's decoder, built once per dataset version and table schema.
func (s *Server) decoderFor(ctx context.Context, ns catalog.Namespace, name string) (cachedDecoder, error) {
	ds := ns.String() + "." + name
	d, err := s.deps.Datasets.GetDataset(ctx, ns, name)
	s.decoders.mu.Lock()
	e, ok := s.decoders.entries[ds]
	s.decoders.mu.Unlock()
	switch {
	case err != nil && ok && pg.Unavailable(err):
		// The catalog database is down, so no dataset can change meanwhile: the decoder last
		// seen is current, and ingest goes on into the stream. (A batch of a dataset dropped
		// just before is terminated by the writer, as when the drop races a batch.)
		return e, nil
	case err != nil:
		return cachedDecoder{}, err
	}
	key := d.MetadataLocation + "#" + strconv.FormatInt(d.Version, 10)
	if ok && e.key == key {
		return e, nil
	}
	md, _, err := s.deps.Catalog.LoadTable(ctx, ns, name)
	if err != nil {
		return cachedDecoder{}, err
	}
	sc, err := table.SchemaToArrowSchema(md.CurrentSchema(), nil, true, false)
	if err != nil {
		return cachedDecoder{}, fmt.Errorf("arrow schema of %s: %w", ds, err)
	}
	var rules []quality.Rule
	if err := json.Unmarshal(d.Quality, &rules); err != nil {
		return cachedDecoder{}, fmt.Errorf("quality rules of %s: %w", ds, err)
	}
	dec, err := quality.NewDecoder(columnsOf(d.Schema.Fields), sc, rules, quality.DecodeOptions{
		UnknownFields: d.UnknownFields, MaxRecords: s.deps.Ingest.MaxRecords})
	if err != nil {
		return cachedDecoder{}, fmt.Errorf("decoder of %s: %w", ds, err)
	}
	e = cachedDecoder{key: key, dec: dec, schemaID: md.CurrentSchema().ID}
	for _, f := range d.Tagged() {
		e.fields = append(e.fields, policy.Field{Path: f.Path, Tags: f.Tags})
	}
	s.decoders.mu.Lock()
	if len(s.decoders.entries) >= 4096 {
		clear(s.decoders.entries)
	}
	s.decoders.entries[ds] = e
	s.decoders.mu.Unlock()
	return e, nil
}

// columnsOf describes a dataset schema the way the record decoder needs it.
func columnsOf(fields []catalog.Field) []quality.Column {
	out := make([]quality.Column, len(fields))
	for i, f := range fields {
		out[i] = columnOf(f.Name, f.Type, f.Required)
	}
	return out
}

func columnOf(name string, t catalog.Type, required bool) quality.Column {
	c := quality.Column{Name: name, Required: required}
	switch {
	case t.Primitive != "":
		c.Type = t.Primitive
	case t.Element != nil:
		c.Type = "list"
		el := columnOf("element", *t.Element, t.ElementRequired)
		c.Element = &el
	case t.Key != nil:
		c.Type = "map"
		k := columnOf("key", *t.Key, true)
		v := columnOf("value", *t.Value, t.ValueRequired)
		c.Key, c.Value = &k, &v
	default:
		c.Type = "struct"
		c.Fields = columnsOf(t.Fields)
	}
	return c
}

// --- quarantine ---

// quarantineArrowSchema is the Arrow form of catalog.QuarantineSchema, with its field ids:
// the rejected records of a batch travel in it and the writer appends them as they are.
func quarantineArrowSchema() (*arrow.Schema, error) {
	sc, err := table.SchemaToArrowSchema(catalog.QuarantineSchema(), nil, true, false)
	if err != nil {
		return nil, fmt.Errorf("gateway: quarantine schema: %w", err)
	}
	return sc, nil
}

// quarantineRecord builds the quarantine rows of a batch's rejected records (nil for none).
func quarantineRecord(sc *arrow.Schema, rejections []quality.Rejection, meta envelope.Meta) arrow.Record {
	if len(rejections) == 0 {
		return nil
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	at := arrow.Timestamp(meta.ReceivedAt.UnixMicro())
	var ( // the columns of catalog.QuarantineSchema, in order
		receivedAt = b.Field(0).(*array.TimestampBuilder)
		batchID    = b.Field(1).(*array.StringBuilder)
		index      = b.Field(2).(*array.Int32Builder)
		producer   = b.Field(3).(*array.StringBuilder)
		raw        = b.Field(4).(*array.StringBuilder)
		reasons    = b.Field(5).(*array.ListBuilder)
		reason     = reasons.ValueBuilder().(*array.StructBuilder)
		ruleIDs    = b.Field(6).(*array.ListBuilder)
		ruleID     = ruleIDs.ValueBuilder().(*array.StringBuilder)
	)
	for _, r := range rejections {
		receivedAt.Append(at)
		batchID.Append(meta.BatchID)
		index.Append(int32(r.Index))
		producer.Append(meta.Producer)
		raw.Append(string(r.Raw))
		reasons.Append(true)
		ruleIDs.Append(true)
		for _, v := range r.Reasons {
			reason.Append(true)
			reason.FieldBuilder(0).(*array.StringBuilder).Append(v.Field)
			reason.FieldBuilder(1).(*array.StringBuilder).Append(v.Rule)
			reason.FieldBuilder(2).(*array.StringBuilder).Append(v.Reason)
			ruleID.Append(v.Rule)
		}
	}
	return b.NewRecord()
}
