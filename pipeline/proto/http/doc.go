// Package http parses HTTP/1.x (RFC 9110, RFC 9112) by content, on any
// port, and emits one "mamori.http" record per request/response exchange.
//
// A session runs a streaming parser per direction. Header blocks are
// buffered up to Config.MaxHeaderBytes; bodies are never buffered: their
// length comes from Content-Length, the chunked transfer coding (walked
// chunk by chunk, sizes and trailers read, data skipped) or the end of the
// connection, as RFC 9112 §6.3 orders them. Requests wait in a FIFO (at
// most Config.MaxPending, for pipelining) and each response takes the
// oldest; interim 1xx responses take none. A response to HEAD, a 204 or
// a 304 has no body. After a 101 (protocol switch) or a 2xx to CONNECT the
// connection is a tunnel and is no longer parsed.
//
// Recorded: method, target (url.original, url.path, url.query, url.scheme
// and url.domain/port of absolute-form and authority-form targets), Host
// (url.domain, url.port), version, User-Agent, Referer, Content-Type,
// body and message sizes, status code, the Server header, and
// authentication: the scheme of Authorization / WWW-Authenticate, the user
// of Basic (never the password, which is decoded into a scratch buffer and
// dropped) and Digest, and NTLM (raw or in SPNEGO "Negotiate" tokens, via
// pipeline/proto/internal/ntlm): the AUTHENTICATE message's user, domain
// and workstation, the CHALLENGE's server names, and a separate
// "mamori.ntlm" record whose outcome is the status of the response that
// answered the AUTHENTICATE.
//
// Not parsed: HTTP/2 and HTTP/3 (binary framing; an h2c upgrade ends
// parsing), TLS (see pipeline/proto/tls), body contents, cookies (never
// recorded: they are credentials), multipart parts.
//
// A Session is owned by one worker and is not safe for concurrent use; the
// Parser is read-only and may be shared.
package http
