// Package afpacket is mamori's live capture: TPACKET_V3 rings on a packet
// socket per worker, joined in a PACKET_FANOUT_HASH group (with IPv4
// defragmentation) so that the kernel spreads flows over workers and both
// directions of a flow reach the same one. Each Ring is a sensor.Source.
//
// It talks to the kernel directly through golang.org/x/sys/unix rather
// than through gopacket/afpacket: that needs no cgo, hands the socket to a
// Setup hook before bind (the eBPF flow counter attaches there, so no
// packet is copied unfiltered), puts a VLAN tag the stack took off back
// into the frame in place instead of copying it, delivers idle ticks, and
// waits for blocks in Go's network poller (a parked goroutine, not a thread
// blocked in poll(2)), woken by Close at once.
//
// # Packets and time
//
// ZeroCopyReadPacketData returns packets in place in the ring: the data is
// valid until the next call, which hands the block back to the kernel when
// it is used up. Timestamps are the kernel's, in nanoseconds. When no
// packet has come for Config.IdleTick, a read returns an idle tick instead:
// zero-length data with CaptureInfo.Length 0 and the current time less the
// block timeout, so that a quiet link still moves packet time forward and
// flows expire. Ticks are not counted as packets.
//
// # Loss is never silent
//
// Each Ring reads the kernel's PACKET_STATISTICS (packets, drops, queue
// freezes) every Config.StatsInterval (at most 10 s) while it reads, and
// whenever Stats or KernelStats is called; the kernel's counters reset on
// each read and are summed here. Packets the kernel dropped because the
// ring was full are KernelDrops; what was read plus what was dropped is
// what reached the socket.
//
// # Concurrency
//
// One goroutine reads a Ring. Stats, KernelStats and Close may be called
// from any goroutine; Close wakes a blocked reader, which then returns
// io.EOF. Sockets are created in the calling thread's network namespace.
package afpacket
