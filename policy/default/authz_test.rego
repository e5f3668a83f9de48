package lakegate.authz_test

import data.lakegate.authz

# index builds data.grant_index the way the Go engine does.
index(grants) := {
	"namespace": ns_index(select(grants, "scope_type", "namespace")),
	"dataset": ds_index(select(grants, "scope_type", "dataset")),
}

select(grants, field, value) := [g | some g in grants; g[field] == value]

group(grants, field) := {v: select(grants, field, v) | some g in grants; v := g[field]}

ids(grants) := sort([g.id | some g in grants])

scope_key("*") := ""

scope_key(ns) := concat("", [ns, "."]) if ns != "*"

ns_index(gs) := {t: ns_by_principal(g) | some t, g in group(gs, "principal_type")}

ns_by_principal(gs) := {p: ns_by_scope(g) | some p, g in group(gs, "principal")}

ns_by_scope(gs) := {scope_key(n): by_privilege(g) | some n, g in group(gs, "namespace")}

ds_index(gs) := {t: ds_by_principal(g) | some t, g in group(gs, "principal_type")}

ds_by_principal(gs) := {p: ds_by_namespace(g) | some p, g in group(gs, "principal")}

ds_by_namespace(gs) := {n: ds_by_name(g) | some n, g in group(gs, "namespace")}

ds_by_name(gs) := {m: by_privilege(g) | some m, g in group(gs, "name")}

by_privilege(gs) := {v: ids(g) | some v, g in group(gs, "privilege")}

test_index_helper if {
	grants := [
		ns_grant("b", "role", "r", "dataset.read", "sales"),
		ns_grant("a", "role", "r", "dataset.read", "sales"),
		ns_grant("d", "role", "r", "table.*", "*"),
		ds_grant("c", "subject", "s", "*", "sales", "orders"),
	]
	index(grants) == {
		"namespace": {"role": {"r": {"sales.": {"dataset.read": ["a", "b"]}, "": {"table.*": ["d"]}}}},
		"dataset": {"subject": {"s": {"sales": {"orders": {"*": ["c"]}}}}},
	}
}

req(sub, roles, action, resource) := {
	"version": "v1",
	"principal": {"sub": sub, "roles": roles},
	"action": action,
	"resource": resource,
	"context": {"time": "2026-01-02T15:04:05Z"},
}

decide(inp, grants) := d if {
	idx := index(grants)
	d := authz.decision with input as inp with data.grants as grants with data.grant_index as idx
}

ns_grant(id, ptype, principal, privilege, ns) := {
	"id": id,
	"principal_type": ptype,
	"principal": principal,
	"privilege": privilege,
	"scope_type": "namespace",
	"namespace": ns,
}

ds_grant(id, ptype, principal, privilege, ns, name) := {
	"id": id,
	"principal_type": ptype,
	"principal": principal,
	"privilege": privilege,
	"scope_type": "dataset",
	"namespace": ns,
	"name": name,
}

orders := {"kind": "dataset", "namespace": "sales", "name": "orders"}

eu_orders := {"kind": "table", "namespace": "sales.eu", "name": "orders"}

test_deny_by_default if {
	d := decide(req("alice", [], "dataset.read", orders), [])
	d == {"allow": false, "reason": "no grant allows dataset.read on dataset sales.orders for alice"}
}

test_unauthenticated_denied_even_as_admin if {
	d := decide(req("", ["admin"], "dataset.read", orders), [])
	d == {"allow": false, "reason": "unauthenticated principal"}
}

test_admin_allowed if {
	d := decide(req("root", ["admin"], "table.drop", eu_orders), [])
	d == {"allow": true, "reason": "role admin", "transforms": []}
}

test_admin_may_manage_grants if {
	d := decide(req("root", ["admin"], "grant.manage", {"kind": "grant", "namespace": "sales"}), [])
	d.allow == true
}

test_auditor_metadata_allowed if {
	every action in ["audit.read", "lineage.read", "dataset.read", "table.load", "namespace.read"] {
		d := decide(req("aud", ["auditor"], action, eu_orders), [])
		d == {"allow": true, "reason": "role auditor", "transforms": []}
	}
}

test_auditor_data_denied if {
	d := decide(req("aud", ["auditor"], "table.read_data", eu_orders), [])
	d.allow == false
	d.reason == "no grant allows table.read_data on table sales.eu.orders for aud"
}

test_auditor_write_denied if {
	d := decide(req("aud", ["auditor"], "dataset.update", orders), [])
	d.allow == false
}

test_role_grant if {
	grants := [ns_grant("g1", "role", "analyst", "dataset.read", "sales")]
	d := decide(req("alice", ["analyst"], "dataset.read", orders), grants)
	d == {"allow": true, "reason": "grant g1", "transforms": []}
}

test_role_grant_needs_the_role if {
	grants := [ns_grant("g1", "role", "analyst", "dataset.read", "sales")]
	d := decide(req("alice", ["engineer"], "dataset.read", orders), grants)
	d.allow == false
}

test_subject_grant if {
	grants := [ns_grant("g2", "subject", "alice", "dataset.read", "sales")]
	decide(req("alice", [], "dataset.read", orders), grants) == {"allow": true, "reason": "grant g2", "transforms": []}
	decide(req("bob", [], "dataset.read", orders), grants).allow == false
}

test_subject_grant_does_not_match_role_of_same_name if {
	grants := [ns_grant("g2", "subject", "alice", "dataset.read", "sales")]
	decide(req("bob", ["alice"], "dataset.read", orders), grants).allow == false
}

test_namespace_grant_covers_children_not_siblings if {
	grants := [ns_grant("g3", "subject", "alice", "table.load", "sales")]
	decide(req("alice", [], "table.load", eu_orders), grants).allow == true
	sibling := {"kind": "table", "namespace": "salesx", "name": "orders"}
	decide(req("alice", [], "table.load", sibling), grants).allow == false
	parent := {"kind": "table", "namespace": "corp", "name": "orders"}
	decide(req("alice", [], "table.load", parent), grants).allow == false
}

test_child_namespace_grant_does_not_cover_parent if {
	grants := [ns_grant("g3", "subject", "alice", "table.load", "sales.eu")]
	decide(req("alice", [], "table.load", orders), grants).allow == false
}

test_star_namespace_covers_resources_without_namespace if {
	grants := [ns_grant("g4", "role", "compliance", "audit.read", "*")]
	decide(req("alice", ["compliance"], "audit.read", {"kind": "audit"}), grants) == {"allow": true, "reason": "grant g4", "transforms": []}
	scoped := [ns_grant("g4", "role", "compliance", "audit.read", "sales")]
	decide(req("alice", ["compliance"], "audit.read", {"kind": "audit"}), scoped).allow == false
}

test_star_namespace_covers_everything if {
	grants := [ns_grant("g4", "role", "reader", "dataset.read", "*")]
	decide(req("alice", ["reader"], "dataset.read", {"kind": "dataset", "namespace": "x.y", "name": "z"}), grants).allow == true
}

test_dataset_grant if {
	grants := [ds_grant("g5", "subject", "alice", "table.read_data", "sales.eu", "orders")]
	decide(req("alice", [], "table.read_data", eu_orders), grants) == {"allow": true, "reason": "grant g5", "transforms": []}

	# dataset and table are the same resource
	as_dataset := {"kind": "dataset", "namespace": "sales.eu", "name": "orders"}
	decide(req("alice", [], "table.read_data", as_dataset), grants).allow == true
	other := {"kind": "table", "namespace": "sales.eu", "name": "customers"}
	decide(req("alice", [], "table.read_data", other), grants).allow == false
	child := {"kind": "table", "namespace": "sales.eu.x", "name": "orders"}
	decide(req("alice", [], "table.read_data", child), grants).allow == false
	view := {"kind": "view", "namespace": "sales.eu", "name": "orders"}
	decide(req("alice", [], "table.read_data", view), grants).allow == false
}

test_wildcard_privileges if {
	family := [ns_grant("g6", "subject", "alice", "dataset.*", "sales")]
	decide(req("alice", [], "dataset.delete", orders), family).allow == true
	decide(req("alice", [], "table.drop", eu_orders), family).allow == false

	all := [ns_grant("g7", "subject", "alice", "*", "sales")]
	decide(req("alice", [], "table.drop", eu_orders), all).allow == true
	decide(req("alice", [], "records.write", orders), all).allow == true
}

test_wildcard_does_not_imply_grant_manage if {
	grants := [ns_grant("g7", "subject", "alice", "*", "sales")]
	d := decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "sales"}), grants)
	d.allow == false
}

test_grant_manage_grant if {
	grants := [ns_grant("g8", "subject", "alice", "grant.manage", "sales")]
	decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "sales.eu"}), grants) == {"allow": true, "reason": "grant g8", "transforms": []}
	decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "hr"}), grants).allow == false
	decide(req("alice", [], "grant.manage", {"kind": "grant"}), grants).allow == false
}

test_grant_manage_family_wildcard if {
	grants := [ns_grant("g9", "subject", "alice", "grant.*", "sales")]
	decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "sales"}), grants).allow == true
}

test_dataset_scoped_grant_manage if {
	grants := [ds_grant("g10", "subject", "alice", "grant.manage", "sales", "orders")]
	decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "sales", "name": "orders"}), grants).allow == true
	decide(req("alice", [], "grant.manage", {"kind": "grant", "namespace": "sales", "name": "other"}), grants).allow == false
}

test_global_list_allowed if {
	every action in ["dataset.list", "namespace.list", "table.list"] {
		d := decide(req("alice", [], action, {"kind": "service"}), [])
		d == {"allow": true, "reason": "global list", "transforms": []}
	}
}

test_namespace_list_needs_a_covering_grant if {
	ns := {"kind": "namespace", "namespace": "sales.eu"}
	decide(req("alice", [], "table.list", ns), []).allow == false

	any_privilege := [ns_grant("g11", "subject", "alice", "table.read_data", "sales")]
	decide(req("alice", [], "table.list", ns), any_privilege) == {"allow": true, "reason": "grant g11", "transforms": []}

	elsewhere := [ns_grant("g12", "subject", "alice", "table.list", "hr")]
	decide(req("alice", [], "table.list", ns), elsewhere).allow == false
}

test_lowest_grant_id_is_reported if {
	grants := [
		ns_grant("g-b", "subject", "alice", "dataset.read", "sales"),
		ns_grant("g-a", "role", "analyst", "dataset.*", "*"),
	]
	decide(req("alice", ["analyst"], "dataset.read", orders), grants).reason == "grant g-a"
}

test_deny_reason_labels if {
	decide(req("alice", [], "audit.read", {"kind": "audit"}), []).reason == "no grant allows audit.read on audit for alice"
	decide(req("alice", [], "namespace.drop", {"kind": "namespace", "namespace": "sales"}), []).reason == "no grant allows namespace.drop on namespace sales for alice"
}

test_dataset_grant_covers_its_lineage if {
	grants := [ds_grant("g1", "subject", "carol", "lineage.read", "sales", "orders")]
	d := decide(req("carol", [], "lineage.read", {"kind": "lineage", "namespace": "sales", "name": "orders"}), grants)
	d == {"allow": true, "reason": "grant g1", "transforms": []}
	other := decide(req("carol", [], "lineage.read", {"kind": "lineage", "namespace": "sales", "name": "returns"}), grants)
	other.allow == false
}

# Fields tagged pii are hashed for producers, unless they hold role pii_writer; other
# actions and untagged fields get no transformation.
test_pii_fields_hashed_unless_pii_writer if {
	grants := [ds_grant("g1", "role", "producer", "records.write", "sales", "orders")]
	tagged := object.union(orders, {"fields": [
		{"path": "email", "tags": ["pii"]},
		{"path": "customer.phone", "tags": ["contact", "pii"]},
		{"path": "region", "tags": ["geo"]},
	]})
	d := decide(req("sensor", ["producer"], "records.write", tagged), grants)
	d.allow == true
	d.transforms == [{"field": "email", "op": "hash"}, {"field": "customer.phone", "op": "hash"}]
	decide(req("sensor", ["producer", "pii_writer"], "records.write", tagged), grants).transforms == []
	decide(req("root", ["admin"], "dataset.read", tagged), grants).transforms == []
}

test_table_register_needs_its_own_grant if {
	t := {"kind": "table", "namespace": "sales", "name": "adopted"}
	family := [ns_grant("g10", "subject", "alice", "table.*", "sales")]
	decide(req("alice", [], "table.register", t), family).allow == false
	all := [ns_grant("g11", "subject", "alice", "*", "sales")]
	decide(req("alice", [], "table.register", t), all).allow == false
	named := [ns_grant("g12", "subject", "alice", "table.register", "sales")]
	decide(req("alice", [], "table.register", t), named).allow == true
	decide(req("root", ["admin"], "table.register", t), []).allow == true
}

test_view_register_needs_its_own_grant if {
	v := {"kind": "view", "namespace": "sales", "name": "adopted"}
	family := [ns_grant("g13", "subject", "alice", "view.*", "sales")]
	decide(req("alice", [], "view.register", v), family).allow == false
	all := [ns_grant("g14", "subject", "alice", "*", "sales")]
	decide(req("alice", [], "view.register", v), all).allow == false
	table_named := [ns_grant("g15", "subject", "alice", "table.register", "sales")]
	decide(req("alice", [], "view.register", v), table_named).allow == false
	named := [ns_grant("g16", "subject", "alice", "view.register", "sales")]
	decide(req("alice", [], "view.register", v), named).allow == true
	decide(req("alice", [], "view.create", v), named).allow == false
	decide(req("root", ["admin"], "view.register", v), []).allow == true
}
