// Package ntlm decodes NTLMSSP messages (MS-NLMP §2.2.1) wherever they
// appear: raw (SMB2 SESSION_SETUP of old clients, HTTP "NTLM" headers after
// base64) or wrapped in SPNEGO/GSS-API ASN.1 (SMB2 security blobs, HTTP
// "Negotiate", CredSSP TSRequest negoTokens). Find locates the "NTLMSSP\x00"
// signature inside such a blob instead of decoding the ASN.1 around it: the
// NTLMSSP offsets are relative to the signature, so the wrapper does not
// matter.
//
// Decoded: the message type; NEGOTIATE's OEM domain and workstation;
// CHALLENGE's target name and the NetBIOS/DNS computer names from its
// target info (AV pairs); AUTHENTICATE's user, domain and workstation
// (UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE is set, OEM otherwise), and
// whether its NT response is NTLMv1 or NTLMv2. Not decoded: challenge
// responses' contents, session keys, MIC, signing/sealing. Every string is
// bounded by MaxString bytes and every AV-pair walk by MaxAVPairs.
//
// Record is the "mamori.ntlm" ECS record every transport (SMB, HTTP, RDP)
// emits for an authentication, so that NTLM logons look the same whatever
// carried them.
package ntlm
