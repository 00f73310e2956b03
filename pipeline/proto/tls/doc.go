// Package tls is mamori's TLS handshake analyzer (network.protocol "tls",
// dataset "mamori.tls"). It is named tls for its protocol; it has nothing to
// do with crypto/tls, which it does not use to talk to anyone: it only reads
// the handshake a client and a server exchange in the clear.
//
// What it parses (RFC 8446 TLS 1.3, RFC 5246 TLS 1.2, RFC 4346/2246 TLS
// 1.1/1.0, RFC 6101 SSL 3.0, and the SSL 2.0-compatible ClientHello of RFC
// 6101 appendix E.1):
//
//   - the record layer of both directions (content type, version, length),
//     with handshake messages reassembled across records and TCP segments
//     in a per-direction buffer bounded by Config.HandshakeLimit; longer
//     messages are skipped and noted, never buffered;
//   - the ClientHello: legacy version, cipher suites, extensions, server
//     name (SNI), ALPN, supported_versions, supported_groups,
//     ec_point_formats, signature_algorithms, GREASE; from them the JA3
//     fingerprint (Salesforce, https://github.com/salesforce/ja3) and the
//     JA4 fingerprint (FoxIO, technical_details/JA4.md, BSD-3-Clause);
//   - the ServerHello: negotiated version (supported_versions included),
//     cipher suite, ALPN, key_share group, HelloRetryRequest, and JA3S;
//   - the Certificate messages of TLS ≤ 1.2, server and client, with
//     crypto/x509: subject, issuer, validity, serial number, subject
//     alternative names, SHA-256 of the leaf, self-signed leaf, and the rest
//     of the chain (bounded by Config.MaxCertificates). In TLS 1.3 the
//     certificates are encrypted and the record says so;
//   - ServerKeyExchange's named curve (ECDHE, TLS ≤ 1.2), ServerHelloDone,
//     CertificateRequest, ChangeCipherSpec, alerts (fatal ones end the
//     handshake with their description named) and heartbeat records.
//
// What it does not parse: anything encrypted (it holds no keys), DTLS and
// QUIC (UDP), STARTTLS upgrades inside other protocols (the flow is not TLS
// from its first byte), JA4S/JA4X and the other JA4+ methods (FoxIO License,
// not BSD), session tickets' contents, and the SSL 2.0 server side.
//
// Each connection gives one record, emitted once the handshake is seen
// through: in TLS ≤ 1.2 when both sides have sent ChangeCipherSpec and their
// encrypted Finished, in TLS 1.3 when the client sends encrypted data after
// the ServerHello; or at a fatal alert; or when the flow ends.
//
// A Parser is safe for concurrent use; a Session belongs to one worker.
// Sessions are pure functions of the bytes and packet times they are given.
package tls
