package policy

import "strings"

// Action is an operation a principal asks to perform. The set of actions is
// closed: Decide denies any action for which Valid reports false without
// consulting the policy.
type Action string

// Gateway actions.
const (
	ActionDatasetCreate Action = "dataset.create"
	ActionDatasetRead   Action = "dataset.read"
	ActionDatasetList   Action = "dataset.list"
	ActionDatasetUpdate Action = "dataset.update"
	ActionDatasetDelete Action = "dataset.delete"
	ActionRecordsWrite  Action = "records.write"
	ActionAuditRead     Action = "audit.read"
	ActionLineageRead   Action = "lineage.read"
	ActionGrantManage   Action = "grant.manage"
)

// Iceberg catalog actions.
const (
	ActionNamespaceList     Action = "namespace.list"
	ActionNamespaceCreate   Action = "namespace.create"
	ActionNamespaceRead     Action = "namespace.read"
	ActionNamespaceUpdate   Action = "namespace.update"
	ActionNamespaceDrop     Action = "namespace.drop"
	ActionTableList         Action = "table.list"
	ActionTableCreate       Action = "table.create"
	ActionTableLoad         Action = "table.load"
	ActionTableReadData     Action = "table.read_data"
	ActionTableCommit       Action = "table.commit"
	ActionTableDrop         Action = "table.drop"
	ActionTableRename       Action = "table.rename"
	ActionTableRegister     Action = "table.register"
	ActionViewList          Action = "view.list"
	ActionViewCreate        Action = "view.create"
	ActionViewLoad          Action = "view.load"
	ActionViewCommit        Action = "view.commit"
	ActionViewDrop          Action = "view.drop"
	ActionViewRename        Action = "view.rename"
	ActionViewRegister      Action = "view.register"
	ActionTransactionCommit Action = "transaction.commit"
)

// Actions returns every known action, in a stable order. The returned slice
// is a fresh copy the caller may modify.
func Actions() []Action {
	return []Action{
		ActionDatasetCreate,
		ActionDatasetRead,
		ActionDatasetList,
		ActionDatasetUpdate,
		ActionDatasetDelete,
		ActionRecordsWrite,
		ActionAuditRead,
		ActionLineageRead,
		ActionGrantManage,
		ActionNamespaceList,
		ActionNamespaceCreate,
		ActionNamespaceRead,
		ActionNamespaceUpdate,
		ActionNamespaceDrop,
		ActionTableList,
		ActionTableCreate,
		ActionTableLoad,
		ActionTableReadData,
		ActionTableCommit,
		ActionTableDrop,
		ActionTableRename,
		ActionTableRegister,
		ActionViewList,
		ActionViewCreate,
		ActionViewLoad,
		ActionViewCommit,
		ActionViewDrop,
		ActionViewRename,
		ActionViewRegister,
		ActionTransactionCommit,
	}
}

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionDatasetCreate, ActionDatasetRead, ActionDatasetList, ActionDatasetUpdate,
		ActionDatasetDelete, ActionRecordsWrite, ActionAuditRead, ActionLineageRead,
		ActionGrantManage,
		ActionNamespaceList, ActionNamespaceCreate, ActionNamespaceRead, ActionNamespaceUpdate,
		ActionNamespaceDrop,
		ActionTableList, ActionTableCreate, ActionTableLoad, ActionTableReadData, ActionTableCommit,
		ActionTableDrop, ActionTableRename, ActionTableRegister,
		ActionViewList, ActionViewCreate, ActionViewLoad, ActionViewCommit, ActionViewDrop,
		ActionViewRename, ActionViewRegister,
		ActionTransactionCommit:
		return true
	default:
		return false
	}
}

// validPrivilege reports whether p may appear as a grant privilege: "*", a
// known action, or "<prefix>.*" where prefix is the family of at least one
// known action (for example "dataset.*" or "table.*").
func validPrivilege(p string) bool {
	if p == "*" || Action(p).Valid() {
		return true
	}
	family, ok := strings.CutSuffix(p, ".*")
	if !ok || family == "" {
		return false
	}
	for _, a := range Actions() {
		if strings.HasPrefix(string(a), family+".") {
			return true
		}
	}
	return false
}
