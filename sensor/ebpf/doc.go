// Package ebpf owns mamori's in-kernel flow counter: a socket filter
// (flowcount.c, compiled with bpf2go; the generated bpf_bpfel.go/.o and
// bpf_bpfeb.go/.o are committed, so building needs no clang) attached to
// every capture socket, and the Go side that loads it and reads its maps.
//
// # What the kernel does
//
// For every TCP and UDP packet the program counts packets, bytes and TCP
// flags per direction in an LRU hash keyed by Key, a direction-independent
// 5-tuple plus VLAN tags in the same canonical order as pipeline/flow.Key.
// Past a flow's cutoff (Config.Cutoff, default 1 MiB of the two directions
// together, overridable per host and per port) it stops copying the flow's
// packets to user space, except TCP SYN, FIN and RST, which always pass so
// that connection state stays right; it keeps counting what it cuts
// (Counters.CutPackets, CutBytes). Other packets (non-IP, ICMP, IP
// fragments, tunnels) always pass and are only counted in Stats.
//
// # What user space does
//
// Whoever owns a flow record adds the cut bytes and packets to what it saw
// itself, so flow totals stay exact, and removes the kernel's entry when
// the flow ends (LookupAndDelete, or DeleteBatch for flows it knows were
// never cut: fewer bytes seen than Limit). A flow that continues after its
// entry was removed starts a new entry with a fresh cutoff.
//
// # Concurrency
//
// A Program is safe for concurrent use: the kernel updates counters
// atomically and every method is one or a few system calls. Counters read
// while packets arrive are a snapshot.
//
// # Testing
//
// The program is unit-tested with BPF_PROG_TEST_RUN (prog.Run) on crafted
// packets and on every packet of real captures against gopacket's
// decoding; live capture through it is tested in sensor/afpacket's
// namespace tests. Loading needs root (CAP_BPF); tests skip without it and
// fail instead when MAMORI_TEST_STRICT=1.
package ebpf
