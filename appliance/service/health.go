package service

import (
	"mamori/pipeline/event"
	"mamori/sensor/pcapstore"
)

// storeGroup is the pcap store writer's figures as mamori.pcap_store.*:
// in the replay's pcap_store metric record and in live health records.
func storeGroup(st *pcapstore.Stats) event.MetricGroup {
	return event.MetricGroup{Name: "pcap_store", Values: []event.MetricValue{
		{Name: "packets", Value: st.Packets},
		{Name: "bytes", Value: st.Bytes},
		{Name: "dropped", Value: st.Dropped},
		{Name: "lost", Value: st.Lost},
		{Name: "cut", Value: st.Cut},
		{Name: "bad_time", Value: st.BadTime},
		{Name: "write_errors", Value: st.WriteErrors},
		{Name: "disk_full", Value: st.DiskFull},
		{Name: "files_closed", Value: st.FilesClosed},
		{Name: "files_deleted", Value: st.FilesDeleted},
		{Name: "files_recovered", Value: st.FilesRecovered},
		{Name: "pinned_kept", Value: st.PinnedKept},
		{Name: "store_bytes", Value: uint64(max(st.StoreBytes, 0))},
		{Name: "store_files", Value: uint64(max(st.StoreFiles, 0))},
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
