package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Decoder turns the body of an ingest request — JSON records — into an Arrow
// record batch of the accepted records and a list of rejections. It decodes
// every record against the dataset's columns, then evaluates the dataset's
// quality rules on the decoded values; a record with any problem is rejected
// with every problem it has, and the others are appended. A Decoder is
// immutable and safe for concurrent use; it keeps reusable per-call buffers
// in a pool.
//
// # Bodies
//
// Format "json" is a JSON array of objects (a lone object is a batch of one);
// format "ndjson" is one object per line, lines ending in LF or CRLF, blank
// lines ignored. A leading UTF-8 byte order mark is skipped. A body that is not
// JSON, is not an array of objects or one object per line, holds invalid UTF-8
// (also as a \u escape of a lone surrogate), or has a record that is not an
// object is refused whole with a *SyntaxError naming the record index, the
// line and the byte offset. A body over the limits of DecodeOptions is refused
// whole with a *LimitError: more than MaxRecords records, a record nested
// deeper than MaxDepth (the record object is depth 1) or longer than
// MaxRecordBytes (the text of the record object). The body is
// read as a stream: memory use is bounded by the accepted batch, the
// rejected records and one record, and a body over the limits fails as soon
// as the limit is crossed.
//
// # Schema validation and coercions
//
// Object keys match column names exactly (case-sensitively). A record's
// problems are reported as Violations whose Rule is one of:
//
//   - "schema.required": a required column (or list element, or map value
//     of a map with required values) is missing or null.
//   - "schema.unknown_field": a key that is not a column, with
//     UnknownFields "reject" (the default); with "drop" such keys are
//     skipped (their values must still be well-formed JSON).
//   - "schema.duplicate_key": a key given twice in one object, or a map key
//     given twice in one map.
//   - "schema.type": the JSON value has the wrong type or a text that does
//     not parse as the column type.
//   - "schema.range": the value is of the right kind but too large for the
//     column (int overflow, too many integer digits for a decimal, a float
//     beyond the float range, an epoch beyond the timestamp range).
//   - "schema.precision": the value has more fractional digits than the
//     column keeps (a decimal's scale; sub-microsecond time).
//
// At most MaxReasons problems are listed per record; a record with more
// ends its list with one Violation of rule "truncated".
//
// Values are converted without loss or rejected:
//
//   - boolean: true or false only (no strings, no numbers).
//   - int, long: a JSON number whose value is an integer, however written
//     (42, -7, 1e2 and 100.0 are integers; 1.5 is "schema.type"). Outside
//     the 32-bit or 64-bit range: "schema.range". Numeric strings such as
//     "42" are "schema.type".
//   - float, double: a JSON number, rounded to the nearest float32/float64
//     (a number too small to represent becomes 0). Numbers beyond the
//     largest finite value are "schema.range"; NaN and infinities do not
//     exist in JSON, and strings ("NaN", "1.5") are "schema.type".
//   - decimal(p,s): a JSON number or a string holding a decimal number
//     ("12.50", "-3", "1e2", "+0.5"), read from its exact text (never through
//     float64). More than s fractional digits, unless the extra ones are
//     zeros ("12.500" fits decimal(10,2), "12.505" does not), is
//     "schema.precision"; more than p-s integer digits is "schema.range".
//     Stored as Arrow decimal128(p,s).
//   - string: a JSON string (escapes decoded; UTF-8 is guaranteed).
//   - binary: a base64 string, standard or URL alphabet, padded or not.
//   - date: "YYYY-MM-DD" (year 0000-9999, a real calendar day), stored as days
//     since 1970-01-01.
//   - time: "HH:MM:SS" with an optional fraction of up to 9 digits, stored in
//     microseconds since midnight; digits beyond the sixth must be zeros,
//     else "schema.precision". No leap second, no offset.
//   - timestamp (without time zone): "YYYY-MM-DDTHH:MM:SS[.ffffff]" with no
//     offset (a value with "Z" or ±HH:MM is "schema.type": use timestamptz),
//     or an integer JSON number of milliseconds since 1970-01-01T00:00:00.
//     Stored in microseconds; the fraction follows the rule of time.
//   - timestamptz: RFC 3339 with an offset ("Z" or ±HH:MM, required),
//     normalised to UTC, or an integer JSON number of milliseconds since the
//     Unix epoch. Stored in microseconds, UTC. 'T' and 'Z' may be lowercase.
//   - uuid: the canonical 8-4-4-4-12 hexadecimal form, either case, stored as
//     16 bytes (Arrow fixed_size_binary(16) or the arrow.uuid extension type).
//   - struct: a JSON object, decoded recursively with the same rules.
//   - list: a JSON array; a null element of a list with required elements is
//     "schema.required".
//   - map: with string keys, a JSON object ({"k": v}); with keys of any type,
//     also a JSON array of {"key": k, "value": v} objects. A JSON object for
//     a map whose keys are not strings is "schema.type". Keys are never null.
//
// A field that fails any of these checks is reported once and skipped by
// the quality rules; a missing optional field counts as null. Violation
// fields name the value's path: "address.zip", "tags[2]", "attrs[0].value"
// (map entries are numbered in their order in the record), or the key of an
// unknown field ("address.street"). Reasons never quote record values.
//
// # Quality rules
//
// After decoding, the rules are evaluated on the decoded values, in rule
// order, and their violations follow the schema ones: not_null (missing or
// null), range (integers and decimals compared exactly with the bound's
// decimal value, floats as float64), regex (string columns), allowed_values
// (compared by the column's type: uuids and dates by value, not text),
// max_length (Unicode characters of a string, bytes of a binary), and
// unique_in_batch, which compares decoded values (so 1e2 and 100 in a long
// column are duplicates) against the accepted records of the same Decode
// call: the first accepted record holding a value keeps it, and a rejected
// record never blocks a later one.
type Decoder struct {
	root      *colNode // struct of the top-level columns
	schema    *arrow.Schema
	rules     []decRule
	uniques   int // number of unique_in_batch rules
	rejectUnk bool
	maxRecs   int
	maxDepth  int
	maxBytes  int
	mem       memory.Allocator
	pool      sync.Pool // *run
}

// Column describes one field of the dataset schema, as the decoder needs it.
type Column struct {
	Name string
	// Type is a primitive name ("boolean", "int", "long", "float", "double",
	// "decimal(p,s)", "string", "binary", "date", "time", "timestamp",
	// "timestamptz", "uuid") or "struct", "list" or "map".
	Type     string
	Required bool
	Fields   []Column // struct
	Element  *Column  // list; Element.Required means the elements are required
	// Key and Value describe a map; Value.Required means the values are
	// required. Keys are always required.
	Key, Value *Column
}

// Defaults of DecodeOptions.
const (
	DefaultMaxRecords     = 100_000
	DefaultMaxDepth       = 32
	DefaultMaxRecordBytes = 1 << 20
	maxMaxDepth           = 1000
	maxMaxRecordBytes     = 1 << 30
)

// DecodeOptions configures a Decoder. Zero values mean the defaults.
type DecodeOptions struct {
	// UnknownFields is "reject" (the default: a record with a key that is
	// not a column is rejected with "schema.unknown_field") or "drop" (such
	// keys are ignored).
	UnknownFields string
	// MaxRecords bounds the records of one body (default 100,000); more is a
	// *LimitError, which the caller answers with 413.
	MaxRecords int
	// MaxDepth bounds the JSON nesting of one record, the record object
	// being depth 1 (default 32, at most 1000); deeper is a *LimitError.
	MaxDepth int
	// MaxRecordBytes bounds the text of one record (default 1 MiB, at most
	// 1 GiB); longer is a *LimitError.
	MaxRecordBytes int
	// Allocator allocates the Arrow buffers (default memory.DefaultAllocator).
	Allocator memory.Allocator
}

// Batch is the result of decoding one body.
type Batch struct {
	// Record holds the accepted records in body order, with the Arrow schema
	// given to NewDecoder. It is never nil; the caller must release it.
	Record     arrow.Record
	Accepted   int
	Rejections []Rejection
}

// Rejection reports one rejected record.
type Rejection struct {
	// Index is the position of the record in the body (0-based, counting
	// every record, accepted or not).
	Index int `json:"index"`
	// Raw is the record as received (the object's text, without the
	// whitespace around it), for the quarantine table.
	Raw json.RawMessage `json:"-"`
	// Reasons lists every problem of the record: schema problems in document
	// order, then quality rule violations in rule order; at most MaxReasons
	// of them, then one of rule RuleTruncated.
	Reasons []Violation `json:"reasons"`
}

// SyntaxError reports a malformed body, which is refused whole.
type SyntaxError struct {
	// Index is the index of the record being read: the malformed record, or
	// the record that was expected next.
	Index int
	// Line is the 1-based line of the error; for NDJSON the record's line.
	Line int
	// Offset is the byte offset of the error in the body.
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed body at record %d (line %d, byte %d): %s", e.Index, e.Line, e.Offset, e.Msg)
}

// The limits a LimitError reports.
const (
	LimitRecords     = "records"
	LimitDepth       = "depth"
	LimitRecordBytes = "record_bytes"
)

// LimitError reports a body over a limit of DecodeOptions; it is refused
// whole.
type LimitError struct {
	Limit string // LimitRecords, LimitDepth or LimitRecordBytes
	Max   int    // the limit
	Index int    // index of the record that crossed the limit
	Line  int    // 1-based line where that record starts
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitRecords:
		return fmt.Sprintf("body has more than %d records", e.Max)
	case LimitDepth:
		return fmt.Sprintf("record %d (line %d) is nested deeper than %d levels", e.Index, e.Line, e.Max)
	default:
		return fmt.Sprintf("record %d (line %d) is longer than %d bytes", e.Index, e.Line, e.Max)
	}
}

// ErrUnknownFormat is returned by Decode for a format other than "json" and
// "ndjson".
var ErrUnknownFormat = errors.New("unknown record format")

// NewDecoder compiles the dataset columns and quality rules. arrowSchema is
// the Arrow schema of the table (as iceberg-go's table.SchemaToArrowSchema
// derives it, field ids included); its top-level fields must be the columns
// in order, with matching types. A nil arrowSchema is derived from the
// columns with iceberg-go's conventions, without field ids (see
// Decoder.Schema). The rules are normalized and validated against the
// columns; invalid ones are an error wrapping a *ValidationError.
func NewDecoder(cols []Column, arrowSchema *arrow.Schema, rules []Rule, opts DecodeOptions) (*Decoder, error) {
	d := &Decoder{
		maxRecs:  opts.MaxRecords,
		maxDepth: opts.MaxDepth,
		maxBytes: opts.MaxRecordBytes,
		mem:      opts.Allocator,
	}
	switch opts.UnknownFields {
	case "", "reject":
		d.rejectUnk = true
	case "drop":
	default:
		return nil, fmt.Errorf("new decoder: unknown fields must be %q or %q, got %q", "reject", "drop", opts.UnknownFields)
	}
	if d.maxRecs < 0 || d.maxDepth < 0 || d.maxBytes < 0 || d.maxDepth > maxMaxDepth || d.maxBytes > maxMaxRecordBytes {
		return nil, errors.New("new decoder: limits must not be negative, MaxDepth at most 1000 and MaxRecordBytes at most 1 GiB")
	}
	if d.maxRecs == 0 {
		d.maxRecs = DefaultMaxRecords
	}
	if d.maxDepth == 0 {
		d.maxDepth = DefaultMaxDepth
	}
	if d.maxBytes == 0 {
		d.maxBytes = DefaultMaxRecordBytes
	}
	if d.mem == nil {
		d.mem = memory.DefaultAllocator
	}

	root, err := compileColumns(cols)
	if err != nil {
		return nil, fmt.Errorf("new decoder: %w", err)
	}
	d.root = root
	if arrowSchema == nil {
		arrowSchema = deriveArrowSchema(root)
	} else if err := checkArrowSchema(root, arrowSchema); err != nil {
		return nil, fmt.Errorf("new decoder: arrow schema does not match the columns: %w", err)
	}
	d.schema = arrowSchema
	if err := d.compileRules(cols, rules); err != nil {
		return nil, fmt.Errorf("new decoder: %w", err)
	}
	return d, nil
}

// Schema returns the Arrow schema of the batches.
func (d *Decoder) Schema() *arrow.Schema { return d.schema }

// Decode reads a JSON array of objects (format "json") or NDJSON (format
// "ndjson") from r and decodes every record. A malformed body is a
// *SyntaxError, a body over the limits a *LimitError, and an error reading r
// is returned wrapped; then there is no batch.
func (d *Decoder) Decode(r io.Reader, format string) (*Batch, error) {
	var ndjson bool
	switch format {
	case "json":
	case "ndjson":
		ndjson = true
	default:
		return nil, fmt.Errorf("%w %q: use json or ndjson", ErrUnknownFormat, format)
	}
	st := d.getRun()
	st.begin(r)
	var err error
	if ndjson {
		err = st.readNDJSON()
	} else {
		err = st.readJSON()
	}
	if err == nil && st.stream.err != nil {
		err = st.readErr()
	}
	if err != nil {
		st.discard()
		return nil, err
	}
	b := &Batch{Record: st.rb.NewRecordBatch(), Accepted: st.accepted, Rejections: st.rejections}
	d.putRun(st)
	return b, nil
}

// stream is the buffered body: unread data is buf[pos:lim].
type stream struct {
	r        io.Reader
	buf      []byte
	pos, lim int
	eof      bool
	err      error // read error, other than io.EOF
	base     int64 // body offset of buf[0]
	lines    int   // newlines before buf[0]
}

const (
	initialBufSize = 64 << 10
	minRead        = 4 << 10
	// lineSlack is the whitespace an NDJSON line may hold around its record.
	lineSlack = 4 << 10
)

// more discards buf[:keep] and reads at least want more bytes unless the
// body ends first. Positions in buf move down by keep.
func (s *stream) more(keep, want int) {
	if keep > 0 {
		s.lines += bytes.Count(s.buf[:keep], newline)
		s.base += int64(keep)
		n := copy(s.buf, s.buf[keep:s.lim])
		s.pos -= keep
		s.lim = n
	}
	if need := s.lim + want; need > len(s.buf) {
		size := max(2*len(s.buf), need, initialBufSize)
		nb := make([]byte, size)
		copy(nb, s.buf[:s.lim])
		s.buf = nb
	}
	target := s.lim + want
	empty := 0
	for s.lim < target && !s.eof {
		n, err := s.r.Read(s.buf[s.lim:])
		s.lim += n
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil:
			s.err = err
			s.eof = true
		case n > 0:
			empty = 0
		default:
			// As bufio does with a reader that keeps returning (0, nil).
			if empty++; empty >= 100 {
				s.err = io.ErrNoProgress
				s.eof = true
			}
		}
	}
}

var newline = []byte{'\n'}

// line returns the 1-based line of buffer position pos.
func (s *stream) line(pos int) int {
	return s.lines + bytes.Count(s.buf[:pos], newline) + 1
}

// run is the state of one Decode call.
type run struct {
	d *Decoder
	stream
	parser

	rb       *array.RecordBuilder
	sinks    []*sink
	n        int // records seen
	accepted int

	rejections []Rejection
	raws       byteArena // Raw copies, handed to the caller
	keys       byteArena // unique_in_batch string keys
	uniq       []uniqueState
	pending    []pendingUnique
}

func (d *Decoder) getRun() *run {
	if st, ok := d.pool.Get().(*run); ok {
		return st
	}
	st := &run{d: d}
	st.parser.d = d
	st.rb = array.NewRecordBuilder(d.mem, d.schema)
	st.sinks = make([]*sink, len(d.root.fields))
	for i, c := range d.root.fields {
		st.sinks[i] = newSink(c, st.rb.Field(i))
	}
	st.uniq = make([]uniqueState, d.uniques)
	return st
}

func (d *Decoder) putRun(st *run) {
	st.stream = stream{buf: st.buf}
	if len(st.buf) > 4*initialBufSize {
		st.buf = nil
	}
	st.rejections = nil
	st.raws = byteArena{}
	st.keys = byteArena{}
	for i := range st.uniq {
		st.uniq[i].reset()
	}
	if cap(st.arena) > 1<<16 || cap(st.scratch) > 4*initialBufSize {
		st.arena, st.scratch = nil, nil
	}
	// Keep no record data in the pool.
	clear(st.arena[:cap(st.arena)])
	st.keySets, st.keybuf, st.src = nil, nil, nil
	d.pool.Put(st)
}

// discard drops a run that failed: its builders hold partial data.
func (st *run) discard() {
	st.rb.Release()
}

func (st *run) begin(r io.Reader) {
	buf := st.buf
	st.stream = stream{r: r, buf: buf}
	if st.buf == nil {
		st.buf = make([]byte, initialBufSize)
	}
	st.n, st.accepted = 0, 0
}

func (st *run) readErr() error {
	return fmt.Errorf("read records: %w", st.stream.err)
}

// syntaxAt reports a malformed body at buffer position pos.
func (st *run) syntaxAt(pos int, msg string) error {
	return &SyntaxError{Index: st.n, Line: st.stream.line(pos), Offset: st.base + int64(pos), Msg: msg}
}

// skipSpace skips whitespace, reading more as needed. It returns false at
// the end of the body (or on a read error, left in st.stream.err).
func (st *run) skipSpace() bool {
	for {
		for st.pos < st.lim && isSpace(st.buf[st.pos]) {
			st.pos++
		}
		if st.pos < st.lim {
			return true
		}
		if st.eof {
			return false
		}
		st.more(st.pos, minRead)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipBOM skips a UTF-8 byte order mark at the start of the body.
func (st *run) skipBOM() {
	for st.lim-st.pos < len(bom) && !st.eof {
		st.more(st.pos, len(bom)-(st.lim-st.pos))
	}
	if st.stream.err != nil {
		return
	}
	if bytes.HasPrefix(st.buf[st.pos:st.lim], bom) {
		st.pos += len(bom)
	}
}

// readJSON decodes a JSON array of objects, or a single object.
func (st *run) readJSON() error {
	st.skipBOM()
	if st.stream.err != nil {
		return st.readErr()
	}
	if !st.skipSpace() {
		if st.stream.err != nil {
			return st.readErr()
		}
		return st.syntaxAt(st.pos, "empty body; expected a JSON array of objects")
	}
	switch st.buf[st.pos] {
	case '{':
		if err := st.jsonRecord(); err != nil {
			return err
		}
		return st.expectEnd("unexpected data after the record")
	case '[':
	default:
		return st.syntaxAt(st.pos, "body must be a JSON array of objects")
	}
	st.pos++
	if !st.skipSpace() {
		return st.endErr()
	}
	if st.buf[st.pos] == ']' {
		st.pos++
		return st.expectEnd("unexpected data after the array")
	}
	for {
		if c := st.buf[st.pos]; c != '{' {
			if c == ']' && st.n > 0 {
				return st.syntaxAt(st.pos, "trailing comma after the last record")
			}
			return st.syntaxAt(st.pos, "record is not a JSON object")
		}
		if err := st.jsonRecord(); err != nil {
			return err
		}
		if !st.skipSpace() {
			return st.endErr()
		}
		switch st.buf[st.pos] {
		case ',':
			st.pos++
			if !st.skipSpace() {
				return st.endErr()
			}
		case ']':
			st.pos++
			return st.expectEnd("unexpected data after the array")
		default:
			return st.syntaxAt(st.pos, "expected ',' or ']' after a record")
		}
	}
}

// endErr reports a body that ended inside the array.
func (st *run) endErr() error {
	if st.stream.err != nil {
		return st.readErr()
	}
	return st.syntaxAt(st.pos, "unexpected end of body: the array is not closed")
}

// expectEnd checks that only whitespace follows.
func (st *run) expectEnd(msg string) error {
	if st.skipSpace() {
		return st.syntaxAt(st.pos, msg)
	}
	if st.stream.err != nil {
		return st.readErr()
	}
	return nil
}

// jsonRecord decodes the record starting at st.pos ('{'), reading more of
// the body until the record is complete.
func (st *run) jsonRecord() error {
	if st.n >= st.d.maxRecs {
		return &LimitError{Limit: LimitRecords, Max: st.d.maxRecs, Index: st.n, Line: st.stream.line(st.pos)}
	}
	for {
		// The parser sees at most MaxRecordBytes of the record, so that the
		// outcome does not depend on how much of the body has been read.
		start := st.pos
		end, final := st.lim, st.eof
		if end-start > st.d.maxBytes {
			end, final = start+st.d.maxBytes, false
		}
		st.parser.reset(st.buf, start, end, final, st.n)
		if st.parseRecord() {
			if st.off-start > st.d.maxBytes {
				return st.bytesLimit(start)
			}
			st.stream.pos = st.off
			st.finishRecord(st.buf[start:st.stream.pos])
			return nil
		}
		switch st.errKind {
		case perrMore:
			if st.lim-start > st.d.maxBytes {
				return st.bytesLimit(start)
			}
			st.more(start, max(minRead, st.lim-start))
			if st.stream.err != nil {
				return st.readErr()
			}
		case perrDepth:
			return &LimitError{Limit: LimitDepth, Max: st.d.maxDepth, Index: st.n, Line: st.stream.line(start)}
		default:
			return st.syntaxAt(st.errPos, st.errMsg)
		}
	}
}

func (st *run) bytesLimit(start int) error {
	return &LimitError{Limit: LimitRecordBytes, Max: st.d.maxBytes, Index: st.n, Line: st.stream.line(start)}
}

// readNDJSON decodes one object per line.
func (st *run) readNDJSON() error {
	st.skipBOM()
	if st.stream.err != nil {
		return st.readErr()
	}
	line := 0
	scanned := st.pos // bytes before scanned hold no newline
	for {
		i := bytes.IndexByte(st.buf[scanned:st.lim], '\n')
		var end, next int
		switch {
		case i >= 0:
			end = scanned + i
			next = end + 1
		case !st.eof:
			if st.lim-st.pos > st.d.maxBytes+lineSlack {
				return &LimitError{Limit: LimitRecordBytes, Max: st.d.maxBytes, Index: st.n, Line: line + 1}
			}
			done := st.lim - st.pos
			st.more(st.pos, max(minRead, st.lim-st.pos))
			if st.stream.err != nil {
				return st.readErr()
			}
			scanned = st.pos + done
			continue
		case st.pos == st.lim:
			return nil
		default:
			end, next = st.lim, st.lim
		}
		line++
		if end-st.pos > st.d.maxBytes+lineSlack {
			return &LimitError{Limit: LimitRecordBytes, Max: st.d.maxBytes, Index: st.n, Line: line}
		}
		start := st.pos
		for start < end && isSpace(st.buf[start]) {
			start++
		}
		stop := end
		for stop > start && isSpace(st.buf[stop-1]) {
			stop--
		}
		if start < stop {
			if err := st.ndjsonRecord(start, stop, line); err != nil {
				return err
			}
		}
		st.pos, scanned = next, next
	}
}

// ndjsonRecord decodes the record of one line, buf[start:stop] without
// surrounding whitespace.
func (st *run) ndjsonRecord(start, stop, line int) error {
	if stop-start > st.d.maxBytes {
		return &LimitError{Limit: LimitRecordBytes, Max: st.d.maxBytes, Index: st.n, Line: line}
	}
	if st.n >= st.d.maxRecs {
		return &LimitError{Limit: LimitRecords, Max: st.d.maxRecs, Index: st.n, Line: line}
	}
	syntax := func(pos int, msg string) error {
		return &SyntaxError{Index: st.n, Line: line, Offset: st.base + int64(pos), Msg: msg}
	}
	if st.buf[start] != '{' {
		return syntax(start, "record is not a JSON object")
	}
	st.parser.reset(st.buf, start, stop, true, st.n)
	if !st.parseRecord() {
		if st.errKind == perrDepth {
			return &LimitError{Limit: LimitDepth, Max: st.d.maxDepth, Index: st.n, Line: line}
		}
		return syntax(st.errPos, st.errMsg)
	}
	st.ws()
	if st.off != stop {
		return syntax(st.off, "unexpected data after the record on its line")
	}
	st.finishRecord(st.buf[start:stop])
	return nil
}

// finishRecord evaluates the quality rules on the decoded record and either
// appends it or rejects it.
func (st *run) finishRecord(raw []byte) {
	st.checkRules()
	if len(st.viol) == 0 {
		st.appendRecord()
		st.commitUniques()
		st.accepted++
	} else {
		st.rejections = append(st.rejections, Rejection{
			Index:   st.n,
			Raw:     st.raws.copy(raw),
			Reasons: append([]Violation(nil), st.viol...),
		})
	}
	st.n++
}

// byteArena copies byte strings into large shared chunks, saving an
// allocation per copy. Copies are never modified.
type byteArena struct {
	chunk []byte
}

const arenaChunk = 64 << 10

func (a *byteArena) copy(b []byte) []byte {
	if len(b) > arenaChunk/8 {
		return append([]byte(nil), b...)
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		a.chunk = make([]byte, 0, arenaChunk)
	}
	n := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return a.chunk[n:len(a.chunk):len(a.chunk)]
}

// itoa is strconv.Itoa, named for brevity in path building.
func itoa(i int) string { return strconv.Itoa(i) }
