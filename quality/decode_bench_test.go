package quality

import (
	"bytes"
	"fmt"
	"testing"
)

// benchColumns is a dataset of 10 columns of mixed types.
var benchColumns = []Column{
	{Name: "id", Type: "long", Required: true},
	{Name: "ts", Type: "timestamptz", Required: true},
	{Name: "email", Type: "string"},
	{Name: "country", Type: "string"},
	{Name: "amount", Type: "decimal(12,2)"},
	{Name: "qty", Type: "int"},
	{Name: "score", Type: "double"},
	{Name: "active", Type: "boolean"},
	{Name: "session", Type: "uuid"},
	{Name: "note", Type: "string"},
}

var benchRules = []Rule{
	{Rule: KindUniqueInBatch, Field: "id"},
	{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(1e6)},
	{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR", "IT", "ES", "NL"}},
	{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`},
}

// benchBody returns n records of about 256 bytes each.
func benchBody(n int, ndjson bool) []byte {
	countries := []string{"DE", "FR", "IT", "ES", "NL"}
	var b bytes.Buffer
	if !ndjson {
		b.WriteByte('[')
	}
	for i := range n {
		if i > 0 && !ndjson {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"ts":"2026-01-02T03:%02d:%02d.%06dZ","email":"user%d@example.com","country":"%s",`+
			`"amount":"%d.%02d","qty":%d,"score":%g,"active":%t,"session":"123e4567-e89b-12d3-a456-%012d",`+
			`"note":"free text note number %d for the benchmark"}`,
			1_000_000+i, i/60%60, i%60, i%1_000_000, i, countries[i%len(countries)], i%100_000, i%100, i%50, float64(i%1000)/8,
			i%2 == 0, i, i)
		if ndjson {
			b.WriteByte('\n')
		}
	}
	if !ndjson {
		b.WriteByte(']')
	}
	return b.Bytes()
}

func BenchmarkDecode(b *testing.B) {
	for _, format := range []string{"json", "ndjson"} {
		b.Run(format, func(b *testing.B) {
			d, err := NewDecoder(benchColumns, nil, benchRules, DecodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			const n = 10_000
			body := benchBody(n, format == "ndjson")
			batch, err := d.Decode(bytes.NewReader(body), format)
			if err != nil {
				b.Fatal(err)
			}
			if batch.Accepted != n {
				b.Fatalf("accepted %d of %d: %+v", batch.Accepted, n, batch.Rejections[0])
			}
			batch.Record.Release()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				batch, err := d.Decode(bytes.NewReader(body), format)
				if err != nil {
					b.Fatal(err)
				}
				batch.Record.Release()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(len(body))/n, "bytes/record")
		})
	}
}
