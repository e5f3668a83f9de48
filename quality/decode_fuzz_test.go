package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"
)

var fuzzColumns = append(append([]Column{{Name: "id", Type: "long", Required: true}}, allTypes[1:]...),
	nestedColumns[1:]...)

var fuzzRules = []Rule{
	{Rule: KindNotNull, Field: "s"},
	{Rule: KindRange, Field: "dec", Min: ptr(-100), Max: ptr(100.5)},
	{Rule: KindRange, Field: "i", Min: ptr(0)},
	{Rule: KindRange, Field: "d", Max: ptr(1e300)},
	{Rule: KindRegex, Field: "s", Pattern: `^[a-z]*$`},
	{Rule: KindAllowedValues, Field: "u", Values: []any{"00112233-4455-6677-8899-AABBCCDDEEFF"}},
	{Rule: KindMaxLength, Field: "bin", Max: ptr(4)},
	{Rule: KindUniqueInBatch, Field: "id"},
	{Rule: KindUniqueInBatch, Field: "addr.city"},
	{Rule: KindUniqueInBatch, Field: "dec"},
}

func FuzzDecode(f *testing.F) {
	seeds := []string{
		nestedBody,
		string(benchBody(3, false)),
		string(benchBody(3, true)),
		`[{"id":1,"b":true,"i":-5,"l":1e15,"f":0.5,"d":-2.25,"dec":"-1.5","s":"x","bin":"AAH/","day":"2026-01-02",` +
			`"t":"12:34:56.789","ts":"2026-01-02T03:04:05.000006","tstz":"2026-01-02T03:04:05+02:00",` +
			`"u":"00112233-4455-6677-8899-aabbccddeeff","st":{"b":"q","a":1},"li":[3,2,1],"m":{"k":1.25,"j":null}}]`,
		"{\"id\":1}\r\n\r\n{\"id\":2,\"s\":\"\\u00e9\\ud83d\\ude00\"}\n{\"id\":1}",
		`[{"id":1},{"id":}]`, `[{"id":1},]`, `[1]`, `{"id":1} {"id":2}`, "\xEF\xBB\xBF[]", "",
		`[{"id":1,"x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}]`,
		"[{\"s\":\"a\xffb\"}]", `[{"s":"\ud800"}]`, `[{"id":1e400,"dec":1e-400,"i":2147483648}]`,
		`[{"id":1,"counts":[{"key":1,"value":"a"},{"key":1,"value":"b"}],"attrs":{"a":1,"a":2}}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	d, err := NewDecoder(fuzzColumns, nil, fuzzRules, DecodeOptions{MaxRecords: 64, MaxDepth: 16, MaxRecordBytes: 2048})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := "json"
		if ndjson {
			format = "ndjson"
		}
		b, err := d.Decode(bytes.NewReader(body), format)
		// Reading the body a byte at a time must give the same result.
		b1, err1 := d.Decode(iotest.OneByteReader(bytes.NewReader(body)), format)
		if err != nil {
			require.Nil(t, b)
			require.Error(t, err1)
			require.Equal(t, err.Error(), err1.Error())
			var serr *SyntaxError
			var lerr *LimitError
			switch {
			case errors.As(err, &serr):
				require.GreaterOrEqual(t, serr.Offset, int64(0))
				require.LessOrEqual(t, serr.Offset, int64(len(body)))
				require.GreaterOrEqual(t, serr.Line, 1)
				require.GreaterOrEqual(t, serr.Index, 0)
				// A body that encoding/json reads as records, with valid UTF-8 and
				// no \u escapes of surrogates, is not malformed.
				_, ok := stdRecords(body, ndjson)
				require.False(t, ok && utf8.Valid(body) && !bytes.Contains(bytes.ToLower(body), []byte(`\ud`)),
					"refused a body encoding/json accepts: %v", err)
			case errors.As(err, &lerr):
			default:
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			return
		}
		defer b.Record.Release()
		require.NoError(t, err1)
		defer b1.Record.Release()

		count, ok := stdRecords(body, ndjson)
		require.True(t, ok, "accepted a body encoding/json refuses")
		require.Equal(t, count, b.Accepted+len(b.Rejections))
		require.EqualValues(t, b.Accepted, b.Record.NumRows())
		for _, col := range b.Record.Columns() {
			require.NoError(t, array.ValidateFull(col))
		}
		last := -1
		for _, r := range b.Rejections {
			require.Greater(t, r.Index, last)
			require.Less(t, r.Index, count)
			last = r.Index
			require.True(t, json.Valid(r.Raw), "raw %q", r.Raw)
			require.Equal(t, byte('{'), r.Raw[0])
			require.NotEmpty(t, r.Reasons)
			for _, v := range r.Reasons {
				require.Equal(t, r.Index, v.Index)
				require.NotEmpty(t, v.Rule)
				require.NotEmpty(t, v.Reason)
			}
		}
		require.Equal(t, b.Accepted, b1.Accepted)
		require.Equal(t, b.Rejections, b1.Rejections)
		require.Equal(t, rows(b.Record), rows(b1.Record))
	})
}

// stdRecords counts the records of a body with encoding/json, and reports
// whether it is a well-formed body of objects.
func stdRecords(body []byte, ndjson bool) (int, bool) {
	body = bytes.TrimPrefix(body, bom)
	isObject := func(raw []byte) bool {
		raw = bytes.TrimLeft(raw, " \t\r\n")
		return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
	}
	if ndjson {
		n := 0
		for line := range strings.SplitSeq(string(body), "\n") {
			line = strings.Trim(line, " \t\r")
			if line == "" {
				continue
			}
			if !isObject([]byte(line)) {
				return 0, false
			}
			n++
		}
		return n, true
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return 1, isObject(trimmed)
	}
	var raws []json.RawMessage
	if json.Unmarshal(body, &raws) != nil || raws == nil {
		return 0, false
	}
	for _, r := range raws {
		if !isObject(r) {
			return 0, false
		}
	}
	return len(raws), true
}
