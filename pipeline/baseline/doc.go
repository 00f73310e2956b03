// Package baseline is mamori's learned model of what a hospital network
// normally does, and its file format.
//
// A Model knows:
//   - every host seen: addresses, MAC addresses, the services it offers
//     (port/transport with counts), the application protocols it speaks,
//     first and last seen, its activity by hour of the week, and a role
//     inferred from its services (InferRole);
//   - the communication matrix: client → server:port/transport with
//     connection counts, bytes, first/last seen and an hour-of-week
//     histogram;
//   - the external peers each internal host uses, with the names they were
//     reached by (DNS answers, TLS SNI, HTTP Host);
//   - DICOM AE title pairs and HL7 application links.
//
// Hours of the week are counted in the site's time zone (0 is Sunday
// 00:00). Everything is learned from packet time, never the wall clock.
//
// Records become Observations (Extract) before they are learned, so that
// the service can hold them back for a while and drop those that belong to
// alerted traffic (the model never learns an attack as normal).
//
// Every table is bounded by Config; past a limit new keys are dropped and
// counted in Model.Overflow, while known keys keep being updated.
//
// Rules read the model only through View, a read-only interface.
//
// Files are versioned (FormatVersion), gzip-compressed JSON, written
// atomically (temporary file, fsync, rename). Models can be merged and
// diffed.
//
// A Model is not safe for concurrent use: one goroutine learns, detects
// with it and saves it.
package baseline
