# Default lakegate authorization policy.
#
# Query: data.lakegate.authz.decision -> {"allow": bool, "reason": string}
#
# Input (version "v1"):
#   {"version": "v1",
#    "principal": {"sub": "alice", "roles": ["analyst"]},
#    "action": "dataset.read",
#    "resource": {"kind": "dataset", "namespace": "sales.eu", "name": "orders"},
#    "context": {"request_id": "...", "client_ip": "...", "method": "GET",
#                "path": "/...", "time": "2026-01-02T15:04:05Z"}}
#   resource.namespace and resource.name are absent when empty.
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
# grants of that dataset.
dataset_scoped_kinds := {"dataset", "table", "grant"}

subject := object.get(input.principal, "sub", "")

roles := object.get(input.principal, "roles", [])

resource_kind := object.get(input.resource, "kind", "")

resource_namespace := object.get(input.resource, "namespace", "")

resource_name := object.get(input.resource, "name", "")

authenticated if subject != ""

decision := {"allow": true, "reason": reason} if {
	authenticated
	reason := allow_reason
} else := {"allow": false, "reason": deny_reason}

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
# granted explicitly ("grant.manage" or "grant.*").
privilege_candidates := {input.action, action_family, "*"} if {
	input.action != "grant.manage"
} else := {input.action, action_family}

action_family := concat("", [split(input.action, ".")[0], ".*"])

# Namespace grant scopes covering the resource: "*", the resource namespace
# and every ancestor of it ({"*", "sales", "sales.eu"} for "sales.eu").
namespace_scopes := {"*"} if {
	resource_namespace == ""
} else := {scope |
	parts := split(resource_namespace, ".")
	some n in numbers.range(0, count(parts))
	scope := namespace_prefix(parts, n)
}

namespace_prefix(_, 0) := "*"

namespace_prefix(parts, n) := concat(".", array.slice(parts, 0, n)) if n > 0

# Index entries of the principal: its subject's and each of its roles'.
# data.grant_index is built by the engine from data.grants:
#   data.grant_index.namespace[principal_type][principal][namespace][privilege] = [id, ...]
#   data.grant_index.dataset[principal_type][principal][namespace][name][privilege] = [id, ...]
namespace_entries contains entry if {
	entry := data.grant_index.namespace.subject[subject]
}

namespace_entries contains entry if {
	some role in roles
	entry := data.grant_index.namespace.role[role]
}

# Ids of the grants that allow the requested action on the resource.
allowing_grant_ids contains id if {
	some entry in namespace_entries
	some scope in namespace_scopes
	by_privilege := entry[scope]
	some privilege in privilege_candidates
	some id in by_privilege[privilege]
}

allowing_grant_ids contains id if {
	resource_kind in dataset_scoped_kinds
	some privilege, ids in data.grant_index.dataset.subject[subject][resource_namespace][resource_name]
	privilege in privilege_candidates
	some id in ids
}

allowing_grant_ids contains id if {
	resource_kind in dataset_scoped_kinds
	some role in roles
	some privilege, ids in data.grant_index.dataset.role[role][resource_namespace][resource_name]
	privilege in privilege_candidates
	some id in ids
}

# Listing inside a namespace needs a namespace grant covering it, with any
# privilege.
allowing_grant_ids contains id if {
	input.action in list_actions
	resource_namespace != ""
	some entry in namespace_entries
	some scope in namespace_scopes
	some ids in entry[scope]
	some id in ids
}
