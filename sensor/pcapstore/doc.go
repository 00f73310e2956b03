// Package pcapstore is mamori's forensic packet store: a rolling ring of
// capture files on disk with a per-file index, retrieval by a tcpdump-style
// expression, alert pins that outlive the ring, a hash-chained manifest
// that proves the files were not altered, evidence packages and an audit
// log of every retrieval.
//
// # Files
//
// A store is one directory:
//
//	0000000042-20240101T020304Z.pcap   packet file: classic pcap, nanosecond times, one link type
//	0000000042-20240101T020304Z.idx    its index, written when the packet file closed
//	.0000000043-20240101T020804Z.pcap.part   the open packet file (hidden until complete)
//	manifest.jsonl   hash chain: store creation, every closed file's SHA-256, every deletion
//	audit.jsonl      hash chain: every export (who, when, query, packets, SHA-256 of the result)
//	pins.jsonl       alert pins: alert id, time window, expression, expiry, alert record
//	LOCK             held (flock) by the one writer
//
// Packet files are written under a hidden temporary name and renamed when
// complete. The close protocol is: sync the packet file, write its index
// (temporary name, sync, rename), rename the packet file to its final name,
// sync the directory, append the manifest line (synced). A crash at any
// point leaves a state the next OpenWriter repairs: an open file is cut
// after its last complete packet record, indexed, hashed and added to the
// manifest with reason "recovered after a crash"; a closed file missing
// from the manifest is added the same way; a missing index is rebuilt.
//
// # Index
//
// Every packet belongs to one entry: its canonical tuple (both directions
// of a conversation share it) of network kind, protocol, addresses, ports
// or ICMP type and code, and the facts tcpdump's filters depend on
// (fragments, truncation). An index holds the entries, sorted tables of
// IPv4 addresses, IPv6 addresses, ports and Community ID prefixes that
// point to entries, the packets' file offsets per entry (delta-encoded),
// and the time range of every block of 1,024 packets. A query intersects
// and unions the tables' entry lists along its and/or structure, evaluates
// the expression on each candidate entry (in both directions; alert windows
// unknown), reads only the packets of the entries that may match and runs
// the exact filter on them. Entries are stored grouped by the busier of
// their two addresses, so a host's entries and their packet offsets lie
// together in the index. Index files are read through mmap and every
// access is bounds-checked: a damaged index yields ErrBadIndex and the file
// is read whole instead, never a panic (FuzzIndex); what a query decodes
// is bounded by the index's size. Candidate packets are read with pread,
// one read per run of nearby candidates. The open file's index lives in
// the writer's memory until the file closes; past 64 MiB (a file of very
// many conversations, a scan) the file closes early.
//
// # Query semantics
//
// The expression language is tcpdump's (pcap-filter(7)) subset: host, net,
// port, portrange with src/dst and ip/ip6/arp/rarp/tcp/udp/sctp qualifiers,
// tcp, udp, sctp, icmp, icmp6, ip, ip6, arp, rarp, [ip|ip6] proto N, and,
// or, not (and/or with equal precedence, left to right, as tcpdump),
// parentheses, and two of mamori's own: "community-id 1:…" and
// "alert ID". Packets are matched as libpcap's compiled filter matches them
// (IPv4 ports only in first fragments; IPv6 ports only right after the
// fixed header; "host" also matches ARP and RARP addresses), with one
// deliberate difference: the store looks through VLAN tags (802.1Q, 802.1ad,
// up to 8), where tcpdump needs "vlan and …". The Community ID of a
// packet is computed from the packet alone (the spec's algorithm), so the
// fragments after the first of a fragmented datagram have none.
//
// Results are written in time order: files merged by packet time, the
// packets of one file in the order they were captured (which is what
// tcpdump shows for a capture whose timestamps go backwards). A file joins
// the merge only when no packet of it can come earlier than the next one
// due (its index's first time), so files written one after another are
// read one after another and share a few read windows.
//
// # Retention and pins
//
// After each file closes, the oldest closed files are deleted while the
// store exceeds MaxBytes, the file system has less than MinFree free, or a
// file is older than MaxAge (wall time since it was written) — except files
// that hold packets of a live pin (Store.Pin): those stay until the pin
// expires. Each deletion is written to the manifest before the files are
// removed. A write that fails because the disk is full triggers retention
// and one retry; what is still lost is counted (Stats.Lost, DiskFull) and
// reported through Options.Report, never silent.
//
// # Concurrency
//
// One Writer per store (an flock on LOCK). Writer.Append is safe for
// concurrent use and never blocks on I/O: packets are copied into one of
// WriteQueue buffers that a single writer goroutine writes sequentially
// (Options.Lossless waits instead of dropping, for imports). A Store is
// safe for concurrent use and may be opened by other processes while the
// writer runs: queries read closed files through their indexes and the
// open file from its start.
package pcapstore
