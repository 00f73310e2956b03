// Package api is the appliance's HTTP interface: an authenticated API for
// the health figures (Prometheus text at /metrics), the recent alerts and
// their triage, forensic pcap retrieval from the packet store, and a small
// web console for alert triage at /.
//
// # Who may do what
//
// Every request except GET /healthz and the console's static page carries
// a bearer token (Authorization: Bearer TOKEN). Tokens live in a file
// (api.tokens, default DATA_DIR/api-tokens) as "NAME ROLE sha256:HEX"
// lines: only the SHA-256 of each token is stored, `mamori api token add`
// creates one and prints it once, and the file is re-read when it changes,
// so adding or removing a token needs no restart. Roles are ordered, each
// one allowed what the previous one is:
//
//	viewer        /metrics, GET /api/v1/alerts, GET /api/v1/status
//	analyst       POST /api/v1/alerts/{id}/triage (status and a note)
//	investigator  GET /api/v1/pcap, GET /api/v1/alerts/{id}/pcap
//
// Pcaps hold patient data: a retrieval needs the investigator role and a
// reason (why=, e.g. a case or ticket number), and the pcap store records
// it in its hash-chained audit log (who: the token's name and the client's
// address, the query, the packet count and the SHA-256 of the result),
// failed ones too. Every request is also logged (slog) with the token's
// name and the status.
//
// # Transport
//
// The server listens on api.listen (off when empty). On a loopback
// address plain HTTP is allowed; on any other address it needs TLS
// (api.tls_cert and api.tls_key) unless api.allow_plain_http says
// otherwise. The sensor never transmits on its sniffing interface, which
// carries no address (sensor/iface refuses one), so the API is reachable
// only on the management network.
//
// # Endpoints
//
//	GET  /healthz                      "ok" (no token; says nothing else)
//	GET  /metrics                      the latest health figures, Prometheus text format
//	GET  /api/v1/status                sensor name, version, uptime, store and alert counts (JSON)
//	GET  /api/v1/alerts?limit=N&status=S   recent alerts, newest first, with triage state (JSON)
//	POST /api/v1/alerts/{id}/triage    {"status": "acknowledged", "note": "…"}
//	GET  /api/v1/alerts/{id}/pcap?why=REASON           the alert's packets (pcap)
//	GET  /api/v1/pcap?q=EXPR&from=T&to=T&why=REASON&max_packets=N&max_bytes=N
//	GET  /                             the triage console (HTML; it asks for a token)
//
// A pcap response streams as it is read from the store; its SHA-256 and
// packet count follow as HTTP trailers (X-Mamori-Sha256, X-Mamori-Packets)
// and are in the audit log. A bad expression is refused with 400 and the
// position of the fault, before anything is read.
package api
