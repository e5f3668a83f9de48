package gateway

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakegate/lakegate/quality"
)

// maxDatasetLabels bounds the dataset label values of the ingest metrics; datasets beyond
// it are counted under "other", so a deployment with very many datasets cannot blow up the
// metrics' cardinality. Rule labels are bounded by each dataset's rules.
const maxDatasetLabels = 500

type ingestMetrics struct {
	records    *prometheus.CounterVec
	rejections *prometheus.CounterVec
	batchBytes prometheus.Histogram

	mu       sync.Mutex
	datasets map[string]bool
}

func newIngestMetrics(reg prometheus.Registerer) (*ingestMetrics, error) {
	m := &ingestMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakegate_ingest_records_total",
			Help: "Records of accepted ingest requests by dataset and outcome (accepted, rejected)."}, []string{"dataset", "outcome"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakegate_ingest_rejections_total",
			Help: "Reasons records were rejected, by dataset and rule id (a record can fail several rules)."}, []string{"dataset", "rule"}),
		batchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lakegate_ingest_batch_bytes",
			Help: "Size of the batches stored in the stream (Arrow IPC, compressed).", Buckets: prometheus.ExponentialBuckets(1024, 4, 10)}),
		datasets: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.records, m.rejections, m.batchBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register ingest metrics: %w", err)
		}
	}
	return m, nil
}

// datasetLabel returns ds, or "other" once maxDatasetLabels others have been seen.
func (m *ingestMetrics) datasetLabel(ds string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.datasets[ds] {
		return ds
	}
	if len(m.datasets) >= maxDatasetLabels {
		return "other"
	}
	m.datasets[ds] = true
	return ds
}

// observe counts a stored batch.
func (m *ingestMetrics) observe(ds string, accepted int, rejections []quality.Rejection, payloadBytes int) {
	ds = m.datasetLabel(ds)
	m.records.WithLabelValues(ds, "accepted").Add(float64(accepted))
	m.records.WithLabelValues(ds, "rejected").Add(float64(len(rejections)))
	for _, r := range rejections {
		for _, v := range r.Reasons {
			m.rejections.WithLabelValues(ds, v.Rule).Inc()
		}
	}
	m.batchBytes.Observe(float64(payloadBytes))
}
