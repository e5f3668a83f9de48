package catalog

import (
	"encoding/json"
	"fmt"

	"github.com/apache/iceberg-go/table"
)

// requirementError is a failed commit requirement, worded as the Iceberg reference
// implementation words it (UpdateRequirement.java): engines and the REST compatibility kit
// match on the text, and Java clients prepend "Commit failed: ". It is ErrCommitFailed.
type requirementError struct{ msg string }

func (e *requirementError) Error() string { return e.msg }

func (e *requirementError) Unwrap() error { return ErrCommitFailed }

// failedRequirement words the failure of r against base (nil: the table does not exist).
// cause is iceberg-go's own error, used when r is of a type this does not know.
func failedRequirement(r table.Requirement, base table.Metadata, cause error) error {
	var req struct {
		Type                    string `json:"type"`
		UUID                    string `json:"uuid"`
		Ref                     string `json:"ref"`
		SnapshotID              *int64 `json:"snapshot-id"`
		LastAssignedFieldID     int    `json:"last-assigned-field-id"`
		CurrentSchemaID         int    `json:"current-schema-id"`
		LastAssignedPartitionID int    `json:"last-assigned-partition-id"`
		DefaultSpecID           int    `json:"default-spec-id"`
		DefaultSortOrderID      int    `json:"default-sort-order-id"`
	}
	raw, err := json.Marshal(r)
	if err == nil {
		err = json.Unmarshal(raw, &req)
	}
	fail := func(format string, args ...any) error {
		return &requirementError{msg: "Requirement failed: " + fmt.Sprintf(format, args...)}
	}
	if err != nil {
		return fail("%v", cause)
	}
	if req.Type == "assert-create" {
		return fail("table already exists")
	}
	if base == nil {
		return fail("table does not exist")
	}
	switch req.Type {
	case "assert-table-uuid":
		return fail("UUID does not match: expected %s != %s", base.TableUUID(), req.UUID)
	case "assert-ref-snapshot-id":
		kind, current := "branch", (*table.SnapshotRef)(nil)
		for name, ref := range base.Refs() {
			if name == req.Ref {
				ref := ref
				current = &ref
			}
		}
		if current != nil && current.SnapshotRefType == table.TagRef {
			kind = "tag"
		}
		switch {
		case current == nil:
			return fail("branch or tag %s is missing, expected %d", req.Ref, deref(req.SnapshotID))
		case req.SnapshotID == nil:
			return fail("%s %s was created concurrently", kind, req.Ref)
		default:
			return fail("%s %s has changed: expected id %d != %d", kind, req.Ref, *req.SnapshotID, current.SnapshotID)
		}
	case "assert-last-assigned-field-id":
		return fail("last assigned field id changed: expected id %d != %d", req.LastAssignedFieldID, base.LastColumnID())
	case "assert-current-schema-id":
		return fail("current schema changed: expected id %d != %d", req.CurrentSchemaID, base.CurrentSchema().ID)
	case "assert-last-assigned-partition-id":
		last := 0
		if p := base.LastPartitionSpecID(); p != nil {
			last = *p
		}
		return fail("last assigned partition id changed: expected id %d != %d", req.LastAssignedPartitionID, last)
	case "assert-default-spec-id":
		return fail("default partition spec changed: expected id %d != %d", req.DefaultSpecID, base.DefaultPartitionSpec())
	case "assert-default-sort-order-id":
		return fail("default sort order changed: expected id %d != %d", req.DefaultSortOrderID, base.DefaultSortOrder())
	}
	return fail("%v", cause)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
