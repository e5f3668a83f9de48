package quality

import (
	"encoding/json"
	"strconv"
	"testing"
)

func BenchmarkCheck(b *testing.B) {
	rules := []Rule{
		{Rule: KindNotNull, Field: "email"},
		{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(1e6)},
		{Rule: KindRange, Field: "address.zip", Min: ptr(1000), Max: ptr(99999)},
		{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`},
		{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR", "IT", "ES", "NL"}},
		{Rule: KindMaxLength, Field: "name", Max: ptr(64)},
		{Rule: KindUniqueInBatch, Field: "id"},
	}
	c := mustCompile(b, rules)
	countries := []string{"DE", "FR", "IT", "ES", "NL"}
	records := make([]map[string]any, 1000)
	for i := range records {
		records[i] = map[string]any{
			"id":      json.Number(strconv.Itoa(1_000_000 + i)),
			"email":   "user" + strconv.Itoa(i) + "@example.com",
			"amount":  json.Number(strconv.Itoa(i) + ".50"),
			"country": countries[i%len(countries)],
			"name":    "Customer " + strconv.Itoa(i),
			"address": map[string]any{"city": "Berlin", "zip": float64(10000 + i)},
		}
	}
	if v := c.Check(records); len(v) != 0 {
		b.Fatalf("benchmark records must pass, got %d violations: %+v", len(v), v[0])
	}
	b.ReportAllocs()
	for b.Loop() {
		if v := c.Check(records); v != nil {
			b.Fatal("unexpected violations")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(records)), "ns/record")
}
