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
