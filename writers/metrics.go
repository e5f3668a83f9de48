package writers

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	records       prometheus.Counter
	quarantined   prometheus.Counter
	skipped       prometheus.Counter
	dropped       prometheus.Counter
	commitRetries prometheus.Counter
	redelivered   prometheus.Counter
	pending       prometheus.Gauge
	ackPending    prometheus.Gauge
	commitLatency prometheus.Histogram
	freshness     prometheus.Histogram

	compactions          prometheus.Counter
	compactionsAbandoned prometheus.Counter
	compactionFailures   prometheus.Counter
	compactedFiles       prometheus.Counter
	compactionFiles      prometheus.Counter
	compactedBytes       prometheus.Counter
	compactionDuration   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_records_committed_total",
			Help: "Records committed into Iceberg snapshots."}),
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_records_quarantined_total",
			Help: "Rejected records committed into quarantine tables."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_redeliveries_skipped_total",
			Help: "Redelivered batches skipped because they were committed already."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_messages_terminated_total",
			Help: "Messages that can never be committed (dataset gone, not a lakegate batch) and were terminated."}),
		commitRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_commit_retries_total",
			Help: "Micro-batch commits retried after a failure."}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_redeliveries_total",
			Help: "Messages the stream delivered more than once (after a writer restart, a failed commit or an expired ack wait)."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lakegate_writer_stream_pending_messages",
			Help: "Stream lag: accepted batches not yet delivered to the writers."}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lakegate_writer_stream_ack_pending_messages",
			Help: "Batches delivered to the writers and not yet committed."}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lakegate_writer_commit_duration_seconds",
			Help: "Time to write a micro-batch's Parquet files and commit its snapshot.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lakegate_writer_freshness_seconds",
			Help:    "From a batch's acceptance by the gateway to its snapshot's commit.",
			Buckets: []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20, 30, 60}}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compactions_total",
			Help: "Compaction rounds committed (one replace snapshot each)."}),
		compactionsAbandoned: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compactions_abandoned_total",
			Help: "Compaction rounds abandoned because ingest commits came first; their files were deleted."}),
		compactionFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compaction_failures_total",
			Help: "Compaction rounds that failed (read, write or catalog error)."}),
		compactedFiles: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compaction_files_rewritten_total",
			Help: "Small data files replaced by compaction."}),
		compactionFiles: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compaction_files_written_total",
			Help: "Data files written by compaction."}),
		compactedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_writer_compaction_bytes_rewritten_total",
			Help: "Bytes of the small data files replaced by compaction."}),
		compactionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lakegate_writer_compaction_duration_seconds",
			Help: "Time of a committed compaction round, from planning to commit.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
	}
	for _, c := range []prometheus.Collector{m.records, m.quarantined, m.skipped, m.dropped, m.commitRetries, m.redelivered, m.pending, m.ackPending,
		m.commitLatency, m.freshness,
		m.compactions, m.compactionsAbandoned, m.compactionFailures, m.compactedFiles, m.compactionFiles, m.compactedBytes, m.compactionDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("writers: register metrics: %w", err)
		}
	}
	return m, nil
}
