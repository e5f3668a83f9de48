# Default lakegate authorization policy.
#
# Query: data.lakegate.authz.decision -> {"allow": bool, "reason": string, "transforms"?: [...]}
#
# Input (version "v1"):
#   {"version": "v1",
#    "principal": {"sub": "alice", "roles": ["analyst"]},
#    "action": "dataset.read",
#    "resource": {"kind": "dataset", "namespace": "sales.eu", "name": "orders"},
#    "context": {"request_id": "...", "client_ip": "...", "method": "GET",
#                "path": "/...", "time": "2026-01-02T15:04:05Z"}}
#   resource.namespace and resource.name are absent when empty. For records.write,
#   resource.fields lists the dataset's tagged fields: [{"path": "email", "tags": ["pii"]}].
#
# Data:
#   data.grants: list of grant objects
#     {"id", "principal_type" ("role"|"subject"), "principal", "privilege",
#      "scope_type" ("namespace"|"dataset"), "namespace", "name"?,
#      "created_by", "created_at"}
#   data.grant_index: the same grants indexed for lookups (see
#     allowing_grant_ids below); policies may ignore it and use data.grants.
package lakegate.authz

# Listing actions: allowed globally (empty namespace) for any authenticated
# principal, the caller filters the items with per-item read decisions.
list_actions := {"dataset.list", "namespace.list", "table.list", "view.list"}

# Metadata-only actions of the auditor role (no table.read_data).
auditor_actions := {
	"audit.read",
	"lineage.read",
	"dataset.read",
	"dataset.list",
	"namespace.list",
	"namespace.read",
	"table.list",
	"table.load",
	"view.list",
	"view.load",
}

# Resource kinds a dataset-scoped grant can match. "dataset" and "table" are
# the same thing; "grant" lets a dataset-scoped grant.manage grant cover the
# grants of that dataset, and "lineage" its lineage.
dataset_scoped_kinds := {"dataset", "table", "grant", "lineage"}

subject := object.get(input.principal, "sub", "")

roles := object.get(input.principal, "roles", [])

resource_kind := object.get(input.resource, "kind", "")

resource_namespace := object.get(input.resource, "namespace", "")

resource_name := object.get(input.resource, "name", "")

authenticated if subject != ""

decision := {"allow": true, "reason": reason, "transforms": field_transforms} if {
	authenticated
	reason := allow_reason
} else := {"allow": false, "reason": deny_reason}

# Field transformations applied to every record a producer writes, before it is stored
# (ops: "mask" with optional "value"/"keep_last", "hash" keyed HMAC-SHA256, "drop"). The
# example: values of fields tagged "pii" are hashed unless the producer has role pii_writer.
# input.resource.fields lists the dataset's tagged fields as {"path", "tags"}.
field_transforms := [{"field": f.path, "op": "hash"} |
	input.action == "records.write"
	not "pii_writer" in roles
	some f in object.get(input.resource, "fields", [])
	"pii" in f.tags
]

allow_reason := "role admin" if {
	"admin" in roles
} else := "role auditor" if {
	"auditor" in roles
	input.action in auditor_actions
} else := "global list" if {
	input.action in list_actions
	resource_namespace == ""
} else := sprintf("grant %s", [min(allowing_grant_ids)]) if {
	count(allowing_grant_ids) > 0
}

deny_reason := "unauthenticated principal" if {
	not authenticated
} else := sprintf("no grant allows %s on %s for %s", [input.action, resource_label, subject])

resource_label := resource_kind if {
	resource_namespace == ""
	resource_name == ""
} else := sprintf("%s %s", [resource_kind, resource_name]) if {
	resource_namespace == ""
} else := sprintf("%s %s", [resource_kind, resource_namespace]) if {
	resource_name == ""
} else := sprintf("%s %s.%s", [resource_kind, resource_namespace, resource_name])

# Grant privileges that allow the requested action: the action itself, its
# family wildcard and "*". "*" does not include grant.manage, which must be
# granted explicitly ("grant.manage" or "grant.*"). table.register and
# view.register adopt files that already exist in the warehouse, so neither the
# family wildcard ("table.*", "view.*") nor "*" includes them: they must be
# granted by name.
privilege_candidates := {input.action} if {
	input.action in {"table.register", "view.register"}
} else := {input.action, action_family, "*"} if {
	input.action != "grant.manage"
} else := {input.action, action_family}

action_family := concat("", [split(input.action, ".")[0], ".*"])

# The resource namespace as it is matched against grant_index scope keys:
# "sales.eu." for "sales.eu", "" when the resource has no namespace.
namespace_key := concat("", [input.resource.namespace, "."]) if {
	input.resource.namespace != ""
} else := ""

# data.grant_index holds the grants of data.grants indexed for lookups; the
# engine rebuilds it whenever the grants change:
#
#   namespace[principal_type][principal][scope][privilege] = [id, ...]
#   dataset[principal_type][principal][namespace][name][privilege] = [id, ...]
#
# where scope is the grant namespace followed by "." ("sales." for "sales")
# or "" for the "*" namespace. A namespace grant covers the resource when its
# scope is a prefix of namespace_key. Rule values used inside the loops are
# bound to locals first, which keeps the evaluation cheap.
allowing_grant_ids contains id if {
	key := namespace_key
	candidates := privilege_candidates
	some scope, by_privilege in data.grant_index.namespace.subject[input.principal.sub]
	startswith(key, scope)
	some privilege in candidates
	some id in by_privilege[privilege]
}

allowing_grant_ids contains id if {
	key := namespace_key
	candidates := privilege_candidates
	index := data.grant_index.namespace.role
	some role in input.principal.roles
	some scope, by_privilege in index[role]
	startswith(key, scope)
	some privilege in candidates
	some id in by_privilege[privilege]
}

allowing_grant_ids contains id if {
	input.resource.kind in dataset_scoped_kinds
	by_privilege := data.grant_index.dataset.subject[input.principal.sub][input.resource.namespace][input.resource.name]
	some privilege in privilege_candidates
	some id in by_privilege[privilege]
}

allowing_grant_ids contains id if {
	input.resource.kind in dataset_scoped_kinds
	namespace := input.resource.namespace
	name := input.resource.name
	candidates := privilege_candidates
	index := data.grant_index.dataset.role
	some role in input.principal.roles
	by_privilege := index[role][namespace][name]
	some privilege in candidates
	some id in by_privilege[privilege]
}

# Listing inside a namespace needs a namespace grant covering it, with any
# privilege.
allowing_grant_ids contains id if {
	input.action in list_actions
	key := namespace_key
	key != ""
	some scope, by_privilege in data.grant_index.namespace.subject[input.principal.sub]
	startswith(key, scope)
	some ids in by_privilege
	some id in ids
}

allowing_grant_ids contains id if {
	input.action in list_actions
	key := namespace_key
	key != ""
	index := data.grant_index.namespace.role
	some role in input.principal.roles
	some scope, by_privilege in index[role]
	startswith(key, scope)
	some ids in by_privilege
	some id in ids
}
