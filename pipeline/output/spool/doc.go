// Package spool is a bounded, durable FIFO of opaque documents in front of
// an output that can be slow or away (Elasticsearch). It has three parts:
//
//   - An in-memory queue that Put appends to. Put never blocks and never
//     does I/O: the packet path can call it. The queue is bounded by
//     Config.QueueBytes.
//   - A writer goroutine that moves the queue, in batches, onto the end of
//     append-only segment files in Config.Dir, rotating to a new segment
//     past Config.SegmentBytes and fsyncing every Config.SyncInterval.
//   - A reader (Read) that returns the documents in order, and Ack, which
//     marks one delivered. A segment file is deleted only when it is sealed,
//     read to its end and every document in it has been acknowledged.
//
// Every document goes through a segment file. When the reader keeps up,
// the writer also hands the records it has just written to the reader in
// memory (at most 16 MiB of them at a time), and Read takes them from there
// instead of reading the file back (Stats.ReadMemory counts them); records
// it did not hand over, or that a slow reader left behind, are read from the
// file. The on-disk guarantees are the same either way. An entry's data
// points into one of the spool's 1 MiB blocks, which is reused once every
// entry taken from it has been passed to Release (an entry never released
// is left to the garbage collector); at most 32 blocks are kept by handed-
// over entries, past that the reader reads the file.
//
// # Bounds and drops
//
// The queue plus the segment files may hold at most Config.MaxBytes. Put with
// keep=false refuses a document that would go past it (or past QueueBytes)
// and counts it in Stats.DroppedFull or Stats.DroppedQueue: at the cap the
// newest documents are dropped, the spooled ones are kept. Put with
// keep=true (alerts) is never refused; documents accepted past a bound are
// counted in Stats.OverCap so that the overrun is visible. Read never has
// more than Config.MaxInFlight documents outstanding (read, not acknowledged).
//
// # Restart
//
// Acknowledgements are recorded in a cursor file (written atomically every
// SyncInterval and on Close): for each segment, the first unacknowledged
// document and a bitmap of the acknowledged ones after it. Open resumes from
// the cursor, so documents acknowledged before a clean Close are not read
// again. After a crash, acknowledgements since the last cursor write are lost
// and those documents are read again (at-least-once delivery).
//
// # File format
//
// A segment is named %020d.seg after its sequence number and starts with
// the 8-byte header "MSPOOL\x00\x01". Each record is
//
//	u32 little-endian payload length n (1 ≤ n ≤ MaxRecordBytes)
//	u32 little-endian CRC-32C (Castagnoli) of the payload
//	n payload bytes
//
// A zero length is invalid, so zero-filled pages after a crash are detected.
// Open checks the newest segment record by record and truncates it after the
// last valid record (Recovery reports the bytes cut). Older segments are
// checked as they are read; a bad record ends that segment early and its
// remaining bytes are counted in Stats.CorruptBytes.
//
// The cursor file "cursor" is text: a line "mamori-spool-cursor 1", then one
// line per partly acknowledged segment: "seq index offset bitmap", where
// index and offset locate the first unacknowledged record and bitmap (hex,
// least significant bit first) marks the acknowledged records after it.
//
// # Concurrency
//
// Put, Ack, Stats and Close are safe for concurrent use. Read must be called
// from one goroutine at a time.
package spool
