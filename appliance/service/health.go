package service

import (
	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

// storeGroup is the pcap store writer's figures as mamori.pcap_store.*.
func storeGroup(st *pcapstore.Stats) event.MetricGroup {
	v := func(name string, x uint64) event.MetricValue { return event.MetricValue{Name: name, Value: x} }
	return event.MetricGroup{Name: "pcap_store", Values: []event.MetricValue{
		v("packets", st.Packets), v("bytes", st.Bytes), v("dropped", st.Dropped), v("lost", st.Lost),
		v("write_errors", st.WriteErrors), v("disk_full", st.DiskFull), v("files_closed", st.FilesClosed),
		v("files_deleted", st.FilesDeleted), v("pinned_kept", st.PinnedKept),
		v("store_bytes", uint64(max(st.StoreBytes, 0))), v("store_files", uint64(max(st.StoreFiles, 0))),
	}}
}

// outputHealth is what the live run's outputs add to its health records:
// the pcap store's writer (mamori.pcap_store.*) and the Elasticsearch
// output (mamori.elasticsearch.*: queue, spool, acknowledged, failed,
// retried, dead-lettered and dropped documents, bulk latency), when
// present.
func outputHealth(feed *pcapFeed, tee *teeSink) []event.MetricGroup {
	var gs []event.MetricGroup
	if feed != nil && feed.w != nil {
		st := feed.w.Stats()
		gs = append(gs, storeGroup(&st))
	}
	if tee != nil && tee.es != nil {
		gs = append(gs, tee.es.Health())
	}
	return gs
}
