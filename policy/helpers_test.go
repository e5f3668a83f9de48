package policy

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestEngine(t *testing.T, cfg Config) (*Engine, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	e, err := New(cfg, testLogger(t), reg)
	require.NoError(t, err)
	return e, reg
}

// writeFile replaces dir/name atomically (through a hidden temporary file
// and a rename) so that a concurrent Run never sees a half-written file.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	require.NoError(t, err)
	_, err = tmp.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, tmp.Close())
	require.NoError(t, os.Rename(tmp.Name(), p))
}

// metricValue returns the value of the counter (or the sample count of the
// histogram) name with the given label pair; label may be empty.
func metricValue(t *testing.T, reg *prometheus.Registry, name, labelName, labelValue string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			matched := labelName == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labelName && lp.GetValue() == labelValue {
					matched = true
				}
			}
			if !matched {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s{%s=%q} not found", name, labelName, labelValue)
	return 0
}

func in(sub string, roles []string, action Action, res Resource) Input {
	return Input{
		Version:   InputVersion,
		Principal: Principal{Subject: sub, Roles: roles},
		Action:    action,
		Resource:  res,
		Context:   RequestContext{RequestID: "req-1", Time: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
	}
}

func nsGrant(id, ptype, principal, privilege, ns string) Grant {
	return Grant{
		ID: id, PrincipalType: ptype, Principal: principal, Privilege: privilege,
		ScopeType: ScopeNamespace, Namespace: ns, CreatedBy: "test",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func dsGrant(id, ptype, principal, privilege, ns, name string) Grant {
	g := nsGrant(id, ptype, principal, privilege, ns)
	g.ScopeType = ScopeDataset
	g.Name = name
	return g
}

func ordersDataset() Resource {
	return Resource{Kind: KindDataset, Namespace: "sales", Name: "orders"}
}

func euOrdersTable() Resource {
	return Resource{Kind: KindTable, Namespace: "sales.eu", Name: "orders"}
}
