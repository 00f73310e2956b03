package tls

import (
	"sort"
	"strconv"
)

// hex4 is "0x" and four lower-case hex digits: the name of a value no
// registry entry names.
func hex4(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

// versionName returns the ECS tls.version and tls.version_protocol of a
// protocol version: "1.2"/"tls", "3.0"/"ssl". Drafts of TLS 1.3 (0x7fNN,
// Facebook's 0xfbNN) read as "1.3".
func versionName(v uint16) (version, protocol string) {
	switch v {
	case 0x0002:
		return "2.0", "ssl"
	case 0x0300:
		return "3.0", "ssl"
	case 0x0301:
		return "1.0", "tls"
	case 0x0302:
		return "1.1", "tls"
	case 0x0303:
		return "1.2", "tls"
	case 0x0304:
		return "1.3", "tls"
	}
	if isTLS13Draft(v) {
		return "1.3", "tls"
	}
	return hex4(v), "tls"
}

func isTLS13Draft(v uint16) bool { return v>>8 == 0x7f || v>>8 == 0xfb }

// isTLS13 reports whether a negotiated version encrypts the rest of the
// handshake after the ServerHello.
func isTLS13(v uint16) bool { return v == 0x0304 || isTLS13Draft(v) }

// cipherName returns the registry name of a cipher suite, or its number.
func cipherName(id uint16) string {
	i := sort.Search(len(cipherNames), func(i int) bool { return cipherNames[i].id >= id })
	if i < len(cipherNames) && cipherNames[i].id == id {
		return cipherNames[i].name
	}
	return hex4(id)
}

// extensionNames are the IANA TLS ExtensionType Values registry names.
var extensionNames = map[uint16]string{
	0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
	4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz", 8: "server_authz",
	9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp", 13: "signature_algorithms",
	14: "use_srtp", 15: "heartbeat", 16: "application_layer_protocol_negotiation", 17: "status_request_v2",
	18: "signed_certificate_timestamp", 19: "client_certificate_type", 20: "server_certificate_type",
	21: "padding", 22: "encrypt_then_mac", 23: "extended_master_secret", 24: "token_binding",
	25: "cached_info", 26: "tls_lts", 27: "compress_certificate", 28: "record_size_limit",
	29: "pwd_protect", 30: "pwd_clear", 31: "password_salt", 32: "ticket_pinning",
	33: "tls_cert_with_extern_psk", 34: "delegated_credential", 35: "session_ticket", 36: "TLMSP",
	37: "TLMSP_proxying", 38: "TLMSP_delegate", 39: "supported_ekt_ciphers", 41: "pre_shared_key",
	42: "early_data", 43: "supported_versions", 44: "cookie", 45: "psk_key_exchange_modes",
	47: "certificate_authorities", 48: "oid_filters", 49: "post_handshake_auth",
	50: "signature_algorithms_cert", 51: "key_share", 52: "transparency_info", 53: "connection_id_deprecated",
	54: "connection_id", 55: "external_id_hash", 56: "external_session_id", 57: "quic_transport_parameters",
	58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms", 61: "rrc",
	0x3374: "next_protocol_negotiation", 0x4469: "application_settings", 0x44cd: "application_settings",
	0x754f: "channel_id_old", 0x7550: "channel_id", 0xfe0d: "encrypted_client_hello",
	0xff01: "renegotiation_info", 0xffce: "encrypted_server_name",
}

func extensionName(v uint16) string {
	if n, ok := extensionNames[v]; ok {
		return n
	}
	return hex4(v)
}

// groupNames are the IANA TLS Supported Groups registry names.
var groupNames = map[uint16]string{
	1: "sect163k1", 2: "sect163r1", 3: "sect163r2", 4: "sect193r1", 5: "sect193r2", 6: "sect233k1",
	7: "sect233r1", 8: "sect239k1", 9: "sect283k1", 10: "sect283r1", 11: "sect409k1", 12: "sect409r1",
	13: "sect571k1", 14: "sect571r1", 15: "secp160k1", 16: "secp160r1", 17: "secp160r2", 18: "secp192k1",
	19: "secp192r1", 20: "secp224k1", 21: "secp224r1", 22: "secp256k1", 23: "secp256r1", 24: "secp384r1",
	25: "secp521r1", 26: "brainpoolP256r1", 27: "brainpoolP384r1", 28: "brainpoolP512r1", 29: "x25519",
	30: "x448", 31: "brainpoolP256r1tls13", 32: "brainpoolP384r1tls13", 33: "brainpoolP512r1tls13",
	256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
	512: "MLKEM512", 513: "MLKEM768", 514: "MLKEM1024", 0x11eb: "SecP256r1MLKEM768",
	0x11ec: "X25519MLKEM768", 0x11ed: "SecP384r1MLKEM1024", 0x6399: "X25519Kyber768Draft00",
	0x639a: "SecP256r1Kyber768Draft00", 0xff01: "arbitrary_explicit_prime_curves",
	0xff02: "arbitrary_explicit_char2_curves",
}

func groupName(v uint16) string {
	if n, ok := groupNames[v]; ok {
		return n
	}
	return hex4(v)
}

// sigAlgNames are the TLS SignatureScheme registry names (RFC 8446 §4.2.3),
// with the TLS 1.2 hash/signature pairs it does not name (RFC 5246
// §7.4.1.4.1) written the same way.
var sigAlgNames = map[uint16]string{
	0x0101: "rsa_pkcs1_md5", 0x0102: "dsa_md5", 0x0103: "ecdsa_md5",
	0x0201: "rsa_pkcs1_sha1", 0x0202: "dsa_sha1", 0x0203: "ecdsa_sha1",
	0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224", 0x0303: "ecdsa_sha224",
	0x0401: "rsa_pkcs1_sha256", 0x0402: "dsa_sha256", 0x0403: "ecdsa_secp256r1_sha256",
	0x0501: "rsa_pkcs1_sha384", 0x0502: "dsa_sha384", 0x0503: "ecdsa_secp384r1_sha384",
	0x0601: "rsa_pkcs1_sha512", 0x0602: "dsa_sha512", 0x0603: "ecdsa_secp521r1_sha512",
	0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256", 0x080a: "rsa_pss_pss_sha384",
	0x080b: "rsa_pss_pss_sha512", 0x081a: "ecdsa_brainpoolP256r1tls13_sha256",
	0x081b: "ecdsa_brainpoolP384r1tls13_sha384", 0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
	0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
}

func sigAlgName(v uint16) string {
	if n, ok := sigAlgNames[v]; ok {
		return n
	}
	return hex4(v)
}

func pointFormatName(v uint8) string {
	switch v {
	case 0:
		return "uncompressed"
	case 1:
		return "ansiX962_compressed_prime"
	case 2:
		return "ansiX962_compressed_char2"
	}
	return strconv.Itoa(int(v))
}

// alertNames are the TLS Alert registry's descriptions (RFC 8446 §6, RFC
// 5246 §7.2 and later RFCs).
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
	112: "unrecognized_name", 113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol", 121: "ech_required",
}

func alertName(v uint8) string {
	if n, ok := alertNames[v]; ok {
		return n
	}
	return "alert_" + strconv.Itoa(int(v))
}
