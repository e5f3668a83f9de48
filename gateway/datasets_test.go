package gateway_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

func ordersBody() map[string]any {
	return map[string]any{
		"namespace": "sales", "name": "orders", "description": "Orders", "owner": "team-a", "tags": []string{"pii"},
		"schema": map[string]any{"fields": []any{
			map[string]any{"name": "id", "type": "long", "required": true},
			map[string]any{"name": "ts", "type": "timestamptz", "required": true},
			map[string]any{"name": "email", "type": "string"},
			map[string]any{"name": "amount", "type": "decimal(10,2)"},
			map[string]any{"name": "qty", "type": "int"},
			map[string]any{"name": "address", "type": map[string]any{"type": "struct", "fields": []any{map[string]any{"name": "city", "type": "string"}}}},
		}},
		"partitioning": []any{map[string]any{"field": "ts", "transform": "day"}, map[string]any{"field": "id", "transform": "bucket[16]"}},
		"quality": []any{
			map[string]any{"rule": "not_null", "field": "email"},
			map[string]any{"rule": "range", "field": "amount", "min": 0},
			map[string]any{"rule": "regex", "field": "email", "pattern": "^[^@]+@[^@]+$"},
			map[string]any{"rule": "max_length", "field": "address.city", "max": 64},
			map[string]any{"rule": "unique_in_batch", "field": "id"},
		},
	}
}

type dataset struct {
	Namespace        string         `json:"namespace"`
	Name             string         `json:"name"`
	Tags             []string       `json:"tags"`
	Version          int64          `json:"version"`
	Schema           catalog.Schema `json:"schema"`
	MetadataLocation string         `json:"metadata_location"`
	CreatedBy        string         `json:"created_by"`
}

func TestDatasetLifecycle(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	ctx := t.Context()

	r := env.Do(t, "POST", "/v1/datasets", admin, ordersBody())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, "/v1/datasets/sales/orders", r.Header.Get("Location"))
	var d dataset
	r.JSON(t, &d)
	require.Equal(t, "alice", d.CreatedBy)
	require.Regexp(t, "^"+regexp.QuoteMeta(env.Warehouse)+"/sales/orders-[0-9a-f-]{36}/metadata/00000-", d.MetadataLocation)
	createRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "dataset.create", createRow.Action)
	require.Equal(t, "dataset:sales.orders", createRow.Resource)
	require.Equal(t, lineage.DecisionAllow, createRow.Decision)
	require.Equal(t, http.StatusCreated, createRow.Status)
	require.NotEmpty(t, createRow.PolicyRevision)

	// The Iceberg table really exists, with the schema and partition spec.
	md, loc, err := env.Catalog.LoadTable(ctx, catalog.Namespace{"sales"}, "orders")
	require.NoError(t, err)
	require.Equal(t, d.MetadataLocation, loc)
	require.Len(t, md.CurrentSchema().Fields(), 6)
	spec := md.PartitionSpec()
	require.Equal(t, 2, spec.NumFields())

	// Registering it again is a conflict, audited, and leaves one dataset.
	r = env.Do(t, "POST", "/v1/datasets", admin, ordersBody())
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, "already_exists", r.Err(t).Error.Code)
	require.Equal(t, http.StatusConflict, env.AuditRow(t, r.Header.Get("X-Request-Id")).Status)

	// Get and list, with filters and pagination.
	r = env.Do(t, "GET", "/v1/datasets/sales/orders", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, `"1"`, r.Header.Get("ETag"))
	for _, name := range []string{"a", "b", "c"} {
		b := ordersBody()
		b["namespace"], b["name"], b["tags"] = "sales.eu", name, []string{"eu"}
		require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, b).Status)
	}
	var page struct {
		Datasets      []dataset `json:"datasets"`
		NextPageToken string    `json:"next_page_token"`
	}
	env.Do(t, "GET", "/v1/datasets?tag=eu&page_size=2", admin, nil).JSON(t, &page)
	require.Len(t, page.Datasets, 2)
	require.NotEmpty(t, page.NextPageToken)
	var page2 struct {
		Datasets []dataset `json:"datasets"`
	}
	env.Do(t, "GET", "/v1/datasets?tag=eu&page_size=2&page_token="+page.NextPageToken, admin, nil).JSON(t, &page2)
	require.Len(t, page2.Datasets, 1)
	require.Equal(t, "c", page2.Datasets[0].Name)
	env.Do(t, "GET", "/v1/datasets?namespace=sales", admin, nil).JSON(t, &page)
	require.Len(t, page.Datasets, 4, "namespace sales includes sales.eu")
	env.Do(t, "GET", "/v1/datasets?namespace=sales.eu", admin, nil).JSON(t, &page)
	require.Len(t, page.Datasets, 3)
	r = env.Do(t, "GET", "/v1/datasets?page_token=garbage!", admin, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)

	// Update attributes; If-Match guards against lost updates.
	r = env.Do(t, "PATCH", "/v1/datasets/sales/orders", admin, map[string]any{"owner": "team-b", "tags": []string{"pii", "gold"}}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, `"2"`, r.Header.Get("ETag"))
	r = env.Do(t, "PATCH", "/v1/datasets/sales/orders", admin, map[string]any{"owner": "team-c"}, "If-Match", `"1"`)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))

	// Delete with purge removes the pointer, the dataset and the files.
	r = env.Do(t, "DELETE", "/v1/datasets/sales/orders?purge=true", admin, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", "/v1/datasets/sales/orders", admin, nil).Status)
	_, _, err = env.Catalog.LoadTable(ctx, catalog.Namespace{"sales"}, "orders")
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)
	require.Equal(t, http.StatusNotFound, env.Do(t, "DELETE", "/v1/datasets/sales/orders", admin, nil).Status)
}

func TestDatasetValidation(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	mod := func(f func(b map[string]any)) map[string]any { b := ordersBody(); f(b); return b }
	fields := func(fs ...any) map[string]any { return map[string]any{"fields": fs} }
	f := func(name string, typ any) map[string]any { return map[string]any{"name": name, "type": typ} }

	cases := []struct {
		name   string
		body   any
		status int
		field  string // a problem or the message names this
	}{
		{"bad namespace", mod(func(b map[string]any) { b["namespace"] = "sa/les" }), 400, "namespace"},
		{"bad name", mod(func(b map[string]any) { b["name"] = "or*ders" }), 400, "name"},
		{"unknown type", mod(func(b map[string]any) { b["schema"] = fields(f("id", "varchar")) }), 422, "schema.fields[0].type"},
		{"duplicate fields", mod(func(b map[string]any) {
			b["schema"] = fields(f("id", "long"), f("ID", "string"))
			b["partitioning"], b["quality"] = []any{}, []any{}
		}), 422, "schema.fields[1].name"},
		{"bad decimal", mod(func(b map[string]any) { b["schema"] = fields(f("x", "decimal(40,2)")) }), 422, "schema.fields[0].type"},
		{"invalid transform", mod(func(b map[string]any) {
			b["partitioning"] = []any{map[string]any{"field": "id", "transform": "bucket[0]"}}
		}), 422, "partitioning[0].transform"},
		{"day on string", mod(func(b map[string]any) {
			b["partitioning"] = []any{map[string]any{"field": "email", "transform": "day"}}
		}), 422, "partitioning[0]"},
		{"partition on missing column", mod(func(b map[string]any) {
			b["partitioning"] = []any{map[string]any{"field": "nope", "transform": "identity"}}
		}), 422, "partitioning[0].field"},
		{"regex on long", mod(func(b map[string]any) {
			b["quality"] = []any{map[string]any{"rule": "regex", "field": "id", "pattern": "x"}}
		}), 422, "quality[0]"},
		{"bad regex", mod(func(b map[string]any) {
			b["quality"] = []any{map[string]any{"rule": "regex", "field": "email", "pattern": "("}}
		}), 422, "quality[0].pattern"},
		{"rule on unknown field", mod(func(b map[string]any) { b["quality"] = []any{map[string]any{"rule": "not_null", "field": "nope"}} }), 422, "quality[0].field"},
		{"unknown rule", mod(func(b map[string]any) { b["quality"] = []any{map[string]any{"rule": "sometimes", "field": "id"}} }), 400, "rule"},
		{"unknown body field", mod(func(b map[string]any) { b["colour"] = "red" }), 400, "colour"},
		{"missing schema", mod(func(b map[string]any) { delete(b, "schema") }), 400, "schema"},
		{"malformed JSON", `{"namespace": "sales",`, 400, "JSON"},
		{"not an object", `[1,2]`, 400, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do(t, "POST", "/v1/datasets", admin, tc.body)
			require.Equal(t, tc.status, r.Status, string(r.Body))
			require.Contains(t, string(r.Body), tc.field)
			e := r.Err(t)
			require.NotEmpty(t, e.Error.RequestID)
			if tc.status == 422 {
				require.Equal(t, "validation_failed", e.Error.Code)
				require.NotEmpty(t, e.Error.Details, "422 carries field-level details")
			}
			row := env.AuditRow(t, e.Error.RequestID)
			require.Equal(t, tc.status, row.Status)
			require.Equal(t, "alice", row.Principal)
		})
	}
	r := env.Do(t, "GET", "/v1/datasets", admin, nil)
	var list struct{ Datasets []dataset }
	r.JSON(t, &list)
	require.Empty(t, list.Datasets, "no invalid dataset was half-registered")

	t.Run("wrong content type", func(t *testing.T) {
		r := env.Do(t, "POST", "/v1/datasets", admin, "namespace=sales", "Content-Type", "application/x-www-form-urlencoded")
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, string(r.Body))
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"namespace":"sales","name":"x","description":"` + strings.Repeat("a", 2<<20) + `"}`
		r := env.Do(t, "POST", "/v1/datasets", admin, big)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Body[:min(len(r.Body), 300)]))
	})
}

func TestSchemaEvolution(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
	var d dataset
	env.Do(t, "GET", "/v1/datasets/sales/orders", admin, nil).JSON(t, &d)
	schema := func(edit func([]catalog.Field) []catalog.Field) catalog.Schema {
		fs := append([]catalog.Field(nil), d.Schema.Fields...)
		return catalog.Schema{Fields: edit(fs)}
	}

	// Allowed: add an optional column, widen int→long, make a required column optional.
	next := schema(func(fs []catalog.Field) []catalog.Field {
		for i := range fs {
			switch fs[i].Name {
			case "qty":
				fs[i].Type = catalog.Type{Primitive: "long"}
			case "ts":
				fs[i].Required = false
			}
		}
		return append(fs, catalog.Field{Name: "channel", Type: catalog.Type{Primitive: "string"}})
	})
	r := env.Do(t, "PATCH", "/v1/datasets/sales/orders", admin, map[string]any{"schema": next})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var upd struct {
		Dataset       dataset          `json:"dataset"`
		SchemaChanges []catalog.Change `json:"schema_changes"`
	}
	r.JSON(t, &upd)
	kinds := map[string]string{}
	for _, c := range upd.SchemaChanges {
		kinds[c.Field] = c.Kind
	}
	require.Equal(t, map[string]string{"channel": "add_optional_column", "qty": "widen_type", "ts": "make_optional"}, kinds)
	require.NotEqual(t, d.MetadataLocation, upd.Dataset.MetadataLocation)
	require.Contains(t, upd.Dataset.MetadataLocation, "/metadata/00001-")
	md, _, err := env.Catalog.LoadTable(t.Context(), catalog.Namespace{"sales"}, "orders")
	require.NoError(t, err)
	require.Equal(t, 1, md.CurrentSchema().ID)
	f, ok := md.CurrentSchema().FindFieldByName("channel")
	require.True(t, ok)
	require.False(t, f.Required)

	// Breaking: drop a column, narrow a type, add a required column — all listed at once.
	breaking := schema(func(fs []catalog.Field) []catalog.Field {
		var out []catalog.Field
		for _, f := range fs {
			switch f.Name {
			case "email":
				continue
			case "amount":
				f.Type = catalog.Type{Primitive: "string"}
			}
			out = append(out, f)
		}
		return append(out, catalog.Field{Name: "region", Type: catalog.Type{Primitive: "string"}, Required: true})
	})
	_ = breaking
	r = env.Do(t, "PATCH", "/v1/datasets/sales/orders", admin, map[string]any{"schema": map[string]any{"fields": breaking.Fields}})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	e := r.Err(t)
	require.Equal(t, "breaking_change", e.Error.Code)
	var changes []catalog.Change
	for _, raw := range e.Error.Details {
		var c catalog.Change
		require.NoError(t, json.Unmarshal(raw, &c))
		changes = append(changes, c)
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Field] = c.Kind
	}
	require.Equal(t, "drop_column", got["email"])
	require.Contains(t, []string{"change_type", "narrow_type"}, got["amount"])
	require.Equal(t, "add_required_column", got["region"])
	require.Equal(t, http.StatusConflict, env.AuditRow(t, e.Error.RequestID).Status)

	// Nothing changed.
	md2, _, err := env.Catalog.LoadTable(t.Context(), catalog.Namespace{"sales"}, "orders")
	require.NoError(t, err)
	require.Equal(t, md.CurrentSchema().ID, md2.CurrentSchema().ID)
}
