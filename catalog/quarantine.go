package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// QuarantineSuffix names a dataset's quarantine table: the records the gateway rejected
// from dataset NAME are stored in the Iceberg table NAME__quarantine of the same namespace.
// The suffix is reserved: no table or dataset of anyone else's may end with it.
const QuarantineSuffix = "__quarantine"

// QuarantineOfKey is the quarantine table's property naming the dataset it belongs to.
const QuarantineOfKey = "lakegate.quarantine-of"

// QuarantineTableName returns the name of dataset name's quarantine table.
func QuarantineTableName(name string) string { return name + QuarantineSuffix }

// IsQuarantineTable reports whether name is a quarantine table's name.
func IsQuarantineTable(name string) bool { return strings.HasSuffix(name, QuarantineSuffix) }

// validateNewName checks the name of a table or dataset about to be created: a valid name,
// not ending with the reserved QuarantineSuffix, and short enough for its quarantine table's
// name to be valid too.
func validateNewName(name string) error {
	if err := ValidateTableName(name); err != nil {
		return err
	}
	if IsQuarantineTable(name) {
		return &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("%q ends with %q, which is reserved for quarantine tables", name, QuarantineSuffix)}}}
	}
	if max := maxNameLength - len(QuarantineSuffix); len(name) > max {
		return &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("%q is %d characters long; a table or dataset name may have at most %d (its quarantine table's name adds %q)", name, len(name), max, QuarantineSuffix)}}}
	}
	return nil
}

// Field ids of the quarantine schema, as table.NewMetadata assigns them (depth first), so
// Arrow records built from QuarantineSchema carry the ids of the table it creates.
const (
	qidReceivedAt = iota + 1
	qidBatchID
	qidRecordIndex
	qidProducer
	qidRawRecord
	qidReasons
	qidReason
	qidReasonField
	qidReasonRule
	qidReasonText
	qidRuleIDs
	qidRuleID
)

// QuarantineSchema is the schema of every quarantine table: one row per rejected record,
// with these columns in this order.
//
//	received_at   timestamptz  when the gateway accepted the request (the batch)
//	batch_id      string       the batch (ingest request) the record came in
//	record_index  int          the record's position in the request body
//	producer      string       the producer's JWT subject
//	raw_record    string       the record as received (JSON text)
//	reasons       list<struct<field, rule, reason>>  every problem found
//	rule_ids      list<string> the rules it failed, for filtering
func QuarantineSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: qidReceivedAt, Name: "received_at", Type: iceberg.PrimitiveTypes.TimestampTz, Required: true,
			Doc: "when the gateway accepted the request"},
		iceberg.NestedField{ID: qidBatchID, Name: "batch_id", Type: iceberg.PrimitiveTypes.String, Required: true,
			Doc: "the ingest batch (request) the record came in"},
		iceberg.NestedField{ID: qidRecordIndex, Name: "record_index", Type: iceberg.PrimitiveTypes.Int32, Required: true,
			Doc: "the record's 0-based position in the request body"},
		iceberg.NestedField{ID: qidProducer, Name: "producer", Type: iceberg.PrimitiveTypes.String, Required: true,
			Doc: "the producer's JWT subject"},
		iceberg.NestedField{ID: qidRawRecord, Name: "raw_record", Type: iceberg.PrimitiveTypes.String, Required: true,
			Doc: "the record as received, JSON"},
		iceberg.NestedField{ID: qidReasons, Name: "reasons", Required: true, Doc: "every problem found in the record",
			Type: &iceberg.ListType{ElementID: qidReason, ElementRequired: true, Element: &iceberg.StructType{FieldList: []iceberg.NestedField{
				{ID: qidReasonField, Name: "field", Type: iceberg.PrimitiveTypes.String, Required: true},
				{ID: qidReasonRule, Name: "rule", Type: iceberg.PrimitiveTypes.String, Required: true},
				{ID: qidReasonText, Name: "reason", Type: iceberg.PrimitiveTypes.String, Required: true},
			}}}},
		iceberg.NestedField{ID: qidRuleIDs, Name: "rule_ids", Required: true, Doc: "the rules the record failed",
			Type: &iceberg.ListType{ElementID: qidRuleID, ElementRequired: true, Element: iceberg.PrimitiveTypes.String}},
	)
}

// EnsureQuarantineTable creates dataset ns.name's quarantine table unless it exists: same
// namespace, owner and tags plus "quarantine", partitioned by day(received_at), its schema
// enforced (external commits may only evolve it compatibly). Concurrent callers are fine:
// the loser finds the winner's table.
func (s *Service) EnsureQuarantineTable(ctx context.Context, ns Namespace, name string) error {
	qname := QuarantineTableName(name)
	if _, _, err := s.LoadTable(ctx, ns, qname); err == nil || !errors.Is(err, ErrNoSuchTable) {
		return err
	}
	d, err := s.GetDataset(ctx, ns, name)
	if err != nil {
		return err
	}
	sc := QuarantineSchema()
	spec := iceberg.NewPartitionSpecID(0, iceberg.PartitionField{SourceIDs: []int{qidReceivedAt}, FieldID: 1000,
		Name: "received_at_day", Transform: iceberg.DayTransform{}})
	props := DefaultTableProperties()
	props[QuarantineOfKey] = name
	loc := s.newLocation(ns, qname)
	md, err := table.NewMetadata(sc, &spec, table.UnsortedSortOrder, loc, props)
	if err != nil {
		return fmt.Errorf("catalog: quarantine table of %s.%s: %w", ns, name, err)
	}
	q := Dataset{Namespace: ns, Name: qname, Owner: d.Owner, CreatedBy: "lakegate",
		Description: fmt.Sprintf("Records rejected from %s.%s, with the reasons.", ns, name), Tags: []string{"quarantine"}}
	_, err = s.persistNewTable(ctx, q, md, newTableOptions{enforceSchema: true, own: loc}, nil)
	if errors.Is(err, ErrTableAlreadyExists) {
		return nil
	}
	return err
}

// QuarantineQuery selects rejected records of a dataset.
type QuarantineQuery struct {
	Since, Until time.Time // received_at in [Since, Until); zero Until: no upper bound
	BatchID      string    // only this batch
	Rule         string    // only records that failed this rule
	Limit        int       // at most this many, newest first
}

// QuarantinedRecord is one rejected record.
type QuarantinedRecord struct {
	ReceivedAt  time.Time          `json:"received_at"`
	BatchID     string             `json:"batch_id"`
	RecordIndex int                `json:"record_index"`
	Producer    string             `json:"producer"`
	Record      json.RawMessage    `json:"record"`
	Reasons     []QuarantineReason `json:"reasons"`
	RuleIDs     []string           `json:"rule_ids"`
}

// QuarantineReason is one problem of a rejected record.
type QuarantineReason struct {
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// ReadQuarantine returns dataset ns.name's rejected records that q selects, newest first
// (then by batch and position), and whether more matched than q.Limit. It scans the
// quarantine table through Iceberg, so partition (day) and file statistics prune what a
// recent window does not need. A dataset without rejections yet has an empty quarantine.
func (s *Service) ReadQuarantine(ctx context.Context, ns Namespace, name string, q QuarantineQuery) ([]QuarantinedRecord, bool, error) {
	if _, err := s.GetDataset(ctx, ns, name); err != nil {
		return nil, false, err
	}
	qname := QuarantineTableName(name)
	md, loc, err := s.LoadTable(ctx, ns, qname)
	if errors.Is(err, ErrNoSuchTable) {
		return []QuarantinedRecord{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	filter := iceberg.BooleanExpression(iceberg.GreaterThanEqual(iceberg.Reference("received_at"), iceberg.Timestamp(q.Since.UnixMicro())))
	if !q.Until.IsZero() {
		filter = iceberg.NewAnd(filter, iceberg.LessThan(iceberg.Reference("received_at"), iceberg.Timestamp(q.Until.UnixMicro())))
	}
	if q.BatchID != "" {
		filter = iceberg.NewAnd(filter, iceberg.EqualTo(iceberg.Reference("batch_id"), q.BatchID))
	}
	tbl := table.New(table.Identifier(append(append([]string{}, ns...), qname)), md, loc, func(ctx context.Context) (icebergio.IO, error) { return s.fileIO(ctx, loc) }, nil)
	_, batches, err := tbl.Scan(table.WithRowFilter(filter)).ToArrowRecords(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("catalog: scan %s.%s: %w", ns, qname, err)
	}
	var (
		out     []QuarantinedRecord
		matched int
	)
	keepNewest := func() {
		slices.SortFunc(out, func(a, b QuarantinedRecord) int {
			if c := b.ReceivedAt.Compare(a.ReceivedAt); c != 0 {
				return c
			}
			if c := strings.Compare(a.BatchID, b.BatchID); c != 0 {
				return c
			}
			return a.RecordIndex - b.RecordIndex
		})
		out = out[:min(len(out), q.Limit)]
	}
	for rec, err := range batches {
		if err != nil {
			return nil, false, fmt.Errorf("catalog: scan %s.%s: %w", ns, qname, err)
		}
		rows, err := quarantineRows(rec)
		rec.Release()
		if err != nil {
			return nil, false, fmt.Errorf("catalog: read %s.%s: %w", ns, qname, err)
		}
		for _, r := range rows {
			if q.Rule == "" || slices.Contains(r.RuleIDs, q.Rule) {
				out = append(out, r)
				matched++
			}
		}
		if len(out) > 4*q.Limit+1024 {
			keepNewest()
		}
	}
	keepNewest()
	return out, matched > len(out), nil
}

// quarantineRows decodes a scanned batch of the quarantine table, by column name.
func quarantineRows(rec arrow.RecordBatch) ([]QuarantinedRecord, error) {
	col := func(name string) (arrow.Array, error) {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("no column %q", name)
		}
		return rec.Column(idx[0]), nil
	}
	var cols [7]arrow.Array
	for i, name := range []string{"received_at", "batch_id", "record_index", "producer", "raw_record", "reasons", "rule_ids"} {
		c, err := col(name)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	receivedAt, ok1 := cols[0].(*array.Timestamp)
	batchID, ok2 := cols[1].(*array.String)
	index, ok3 := cols[2].(*array.Int32)
	producer, ok4 := cols[3].(*array.String)
	raw, ok5 := cols[4].(*array.String)
	reasons, ok6 := cols[5].(*array.List)
	ruleIDs, ok7 := cols[6].(*array.List)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return nil, errors.New("the quarantine table's columns do not have the quarantine schema's types")
	}
	reason, ok1 := reasons.ListValues().(*array.Struct)
	rule, ok2 := ruleIDs.ListValues().(*array.String)
	if !ok1 || !ok2 || reason.NumField() != 3 {
		return nil, errors.New("the quarantine table's lists do not have the quarantine schema's types")
	}
	rField, ok1 := reason.Field(0).(*array.String)
	rRule, ok2 := reason.Field(1).(*array.String)
	rReason, ok3 := reason.Field(2).(*array.String)
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("the quarantine table's reasons do not have the quarantine schema's types")
	}
	out := make([]QuarantinedRecord, rec.NumRows())
	for i := range out {
		r := QuarantinedRecord{ReceivedAt: receivedAt.Value(i).ToTime(arrow.Microsecond).UTC(), BatchID: batchID.Value(i),
			RecordIndex: int(index.Value(i)), Producer: producer.Value(i), Record: json.RawMessage(raw.Value(i)),
			Reasons: []QuarantineReason{}, RuleIDs: []string{}}
		if !json.Valid(r.Record) { // written by someone else than lakegate: keep it readable
			r.Record, _ = json.Marshal(raw.Value(i))
		}
		start, end := reasons.ValueOffsets(i)
		for j := start; j < end; j++ {
			r.Reasons = append(r.Reasons, QuarantineReason{Field: rField.Value(int(j)), Rule: rRule.Value(int(j)), Reason: rReason.Value(int(j))})
		}
		start, end = ruleIDs.ValueOffsets(i)
		for j := start; j < end; j++ {
			r.RuleIDs = append(r.RuleIDs, rule.Value(int(j)))
		}
		out[i] = r
	}
	return out, nil
}
