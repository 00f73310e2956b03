package rdp

import (
	"net/netip"
	"strconv"

	"mamori/pipeline/event"
	"mamori/pipeline/flow"
)

// Dataset is the ECS dataset of RDP records.
const Dataset = "mamori.rdp"

// Results (mamori.rdp.result).
const (
	ResultNegotiated = "negotiated"
	ResultRefused    = "refused"
	ResultNoAnswer   = "no_answer"
)

// Record is one RDP connection set-up. Fields not seen stay zero and are
// left out of the JSON.
type Record struct {
	event.Base

	// Cookie is the user name of a "Cookie: mstshash=" cookie as sent
	// (clients truncate it, mstsc to 9 characters); RoutingToken is any
	// other token ("msts=…" of a load balancer, "tsv://…" of a broker).
	Cookie       string
	RoutingToken string
	// RoutingAddr is the target decoded from an "msts=" routing token.
	RoutingAddr netip.AddrPort
	// User and Domain split a DOMAIN\user cookie.
	User, Domain string

	Result string

	HasRequest bool
	Requested  uint32 // RDP_NEG_REQ requestedProtocols
	ReqFlags   uint8  // RDP_NEG_REQ flags

	HasSelected bool
	Selected    uint32 // RDP_NEG_RSP selectedProtocol
	RspFlags    uint8
	HasFailure  bool
	Failure     uint32 // RDP_NEG_FAILURE failureCode
	Disconnect  bool   // X.224 Disconnect Request instead of a Confirm
	MCSResult   int    // MCS Connect Response result; -1 when not seen

	// From the MCS Connect Initial's client data (classic RDP security).
	HasClient      bool
	ClientName     string
	ClientBuild    uint32
	ClientVersion  uint32
	ProductID      uint16
	DigProductID   string
	KeyboardLayout uint32
	DesktopWidth   uint16
	DesktopHeight  uint16
	ColorDepth     uint16 // highColorDepth when given, else from colorDepth
	Channels       []string
	ClientEncMeths uint32

	// From the MCS Connect Response's server security data.
	HasSecurity   bool
	EncMethod     uint32
	EncLevel      uint32
	CertType      string // "proprietary" or "x509"
	CertCount     uint32
	CertPermanent bool

	// TLS is set when a TLS handshake record followed the negotiation.
	TLS bool

	// UDP (MS-RDPEUDP) handshake details.
	UDPVersion uint16 // from the SYNEX payload
	UDPLossy   bool
	UDPCorrID  bool

	Anomalies []string
}

var (
	recCategory = []string{"network"}
	recType     = []string{"protocol", "info"}
)

func (r *Record) init(f *flow.Info) {
	r.Conn = f.Conn
	r.Protocol = "rdp"
	r.Action = "rdp_negotiation"
	r.Category = recCategory
	r.Type = recType
	r.MCSResult = -1
}

func (r *Record) anomaly(a string) {
	for _, x := range r.Anomalies {
		if x == a {
			return
		}
	}
	if len(r.Anomalies) < 8 {
		r.Anomalies = append(r.Anomalies, a)
	}
}

// finish sets Result, Outcome and Reason from what was seen.
func (r *Record) finish() {
	switch {
	case r.HasFailure:
		r.Result, r.Reason = ResultRefused, FailureName(r.Failure)
	case r.Disconnect:
		r.Result, r.Reason = ResultRefused, "disconnect"
	case r.MCSResult > 0:
		r.Result, r.Reason = ResultRefused, "mcs_"+mcsResultName(r.MCSResult)
	case r.Result == "":
		r.Result, r.Reason = ResultNoAnswer, "no answer"
	}
	switch r.Result {
	case ResultNegotiated:
		r.Outcome = "success"
	case ResultRefused:
		r.Outcome = "failure"
	default:
		r.Outcome = "unknown"
	}
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, r.body)
}

func (r *Record) body(w *event.JSON) {
	if r.User != "" {
		w.Object("user")
		w.String("name", r.User)
		w.StringIf("domain", r.Domain)
		w.End()
	}
	w.Object("mamori")
	w.Object("rdp")
	w.String("result", r.Result)
	if r.Cookie != "" || r.RoutingToken != "" {
		w.StringIf("cookie", r.Cookie)
		w.StringIf("routing_token", r.RoutingToken)
	}
	if r.RoutingAddr.IsValid() {
		w.Object("routing")
		w.IP("ip", r.RoutingAddr.Addr())
		w.Uint("port", uint64(r.RoutingAddr.Port()))
		w.End()
	}
	if r.HasRequest {
		w.Strings("requested_protocols", protocolNames(r.Requested)...)
		if r.ReqFlags&0x01 != 0 {
			w.Bool("restricted_admin", true)
		}
		if r.ReqFlags&0x02 != 0 {
			w.Bool("redirected_authentication", true)
		}
	}
	switch {
	case r.HasSelected:
		w.String("security_protocol", ProtocolName(r.Selected))
	case r.Result == ResultNegotiated && !r.HasFailure:
		// A Connection Confirm without RDP_NEG_RSP: an old server that
		// speaks only classic RDP security.
		w.String("security_protocol", "rdp")
	}
	if r.HasFailure {
		w.String("failure_code", FailureName(r.Failure))
	}
	if r.MCSResult >= 0 {
		w.String("mcs_result", mcsResultName(r.MCSResult))
	}
	if r.HasClient {
		w.Object("client")
		w.StringIf("name", r.ClientName)
		w.Uint("build", uint64(r.ClientBuild))
		w.StringIf("version", clientVersionName(r.ClientVersion))
		if r.ProductID != 0 {
			w.Uint("product_id", uint64(r.ProductID))
		}
		w.StringIf("dig_product_id", r.DigProductID)
		if len(r.Channels) > 0 {
			w.Strings("channels", r.Channels...)
		}
		w.End()
		w.Uint("keyboard_layout", uint64(r.KeyboardLayout))
		w.StringIf("keyboard_language", languageName(r.KeyboardLayout))
		w.Object("desktop")
		w.Uint("width", uint64(r.DesktopWidth))
		w.Uint("height", uint64(r.DesktopHeight))
		if r.ColorDepth != 0 {
			w.Uint("color_depth", uint64(r.ColorDepth))
		}
		w.End()
	}
	if r.HasSecurity {
		w.Object("encryption")
		w.String("method", encMethodName(r.EncMethod))
		w.String("level", encLevelName(r.EncLevel))
		w.End()
		if r.CertType != "" {
			w.Object("cert")
			w.String("type", r.CertType)
			w.Uint("count", uint64(r.CertCount))
			w.Bool("permanent", r.CertPermanent)
			w.End()
		}
	}
	if r.TLS {
		w.Bool("tls", true)
	}
	if r.Transport == 17 {
		w.Object("udp")
		if r.UDPVersion != 0 {
			w.String("version", udpVersionName(r.UDPVersion))
		}
		w.Bool("lossy", r.UDPLossy)
		w.End()
	}
	if len(r.Anomalies) > 0 {
		w.Strings("anomalies", r.Anomalies...)
	}
	w.End()
	w.End()
}

// Security protocol flags (MS-RDPBCGR §2.2.1.1.1 requestedProtocols).
var protoFlags = [...]struct {
	bit  uint32
	name string
}{
	{0x01, "ssl"},
	{0x02, "hybrid"},
	{0x04, "rdstls"},
	{0x08, "hybrid_ex"},
	{0x10, "rdsaad"},
}

// ProtocolName names one selected protocol: "rdp" (classic RDP security),
// "ssl" (TLS), "hybrid" (CredSSP/NLA), "rdstls", "hybrid_ex" (CredSSP with
// an Early User Authorization Result), "rdsaad" (Azure AD), or the hex
// value when unknown.
func ProtocolName(v uint32) string {
	if v == 0 {
		return "rdp"
	}
	for _, f := range protoFlags {
		if v == f.bit {
			return f.name
		}
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// protocolNames names each flag of requestedProtocols; 0 is ["rdp"].
func protocolNames(v uint32) []string {
	if v == 0 {
		return []string{"rdp"}
	}
	out := make([]string, 0, 4)
	for _, f := range protoFlags {
		if v&f.bit != 0 {
			out = append(out, f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		out = append(out, "0x"+strconv.FormatUint(uint64(v), 16))
	}
	return out
}

var failureNames = [...]string{
	1: "SSL_REQUIRED_BY_SERVER",
	2: "SSL_NOT_ALLOWED_BY_SERVER",
	3: "SSL_CERT_NOT_ON_SERVER",
	4: "INCONSISTENT_FLAGS",
	5: "HYBRID_REQUIRED_BY_SERVER",
	6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}

// FailureName names an RDP_NEG_FAILURE code (MS-RDPBCGR §2.2.1.2.2).
func FailureName(c uint32) string {
	if int(c) < len(failureNames) && failureNames[c] != "" {
		return failureNames[c]
	}
	return "UNKNOWN_" + strconv.FormatUint(uint64(c), 10)
}

var mcsResults = [...]string{
	"rt-successful", "rt-domain-merging", "rt-domain-not-hierarchical", "rt-no-such-channel",
	"rt-no-such-domain", "rt-no-such-user", "rt-not-admitted", "rt-other-user-id",
	"rt-parameters-unacceptable", "rt-token-not-available", "rt-token-not-possessed",
	"rt-too-many-channels", "rt-too-many-tokens", "rt-too-many-users", "rt-unspecified-failure",
	"rt-user-rejected",
}

// mcsResultName names a T.125 Result.
func mcsResultName(v int) string {
	if v >= 0 && v < len(mcsResults) {
		return mcsResults[v]
	}
	return strconv.Itoa(v)
}

// encMethodName names a server security data encryptionMethod
// (MS-RDPBCGR §2.2.1.4.3).
func encMethodName(v uint32) string {
	switch v {
	case 0:
		return "none"
	case 0x01:
		return "40bit"
	case 0x02:
		return "128bit"
	case 0x08:
		return "56bit"
	case 0x10:
		return "fips"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// encLevelName names an encryptionLevel.
func encLevelName(v uint32) string {
	switch v {
	case 0:
		return "none"
	case 1:
		return "low"
	case 2:
		return "client_compatible"
	case 3:
		return "high"
	case 4:
		return "fips"
	}
	return strconv.FormatUint(uint64(v), 10)
}

// clientVersionName names the RDP version of a client core data block
// (MS-RDPBCGR §2.2.1.3.2 version).
func clientVersionName(v uint32) string {
	switch v {
	case 0x00080001:
		return "4.0"
	case 0x00080004:
		return "5.0+"
	case 0x00080005:
		return "10.0"
	case 0x00080006:
		return "10.1"
	case 0x00080007:
		return "10.2"
	case 0x00080008:
		return "10.3"
	case 0x00080009:
		return "10.4"
	case 0x0008000A:
		return "10.5"
	case 0x0008000B:
		return "10.6"
	case 0x0008000C:
		return "10.7"
	case 0x0008000D:
		return "10.8"
	case 0x0008000E:
		return "10.9"
	case 0x0008000F:
		return "10.10"
	case 0x00080010:
		return "10.11"
	case 0x00080011:
		return "10.12"
	}
	return ""
}

// languageName gives the BCP 47 tag of common keyboard layouts (a Windows
// LCID in the low 16 bits); "" when not in the table.
func languageName(layout uint32) string {
	switch layout & 0xFFFF {
	case 0x0409:
		return "en-US"
	case 0x0809:
		return "en-GB"
	case 0x0411:
		return "ja-JP"
	case 0x0412:
		return "ko-KR"
	case 0x0804:
		return "zh-CN"
	case 0x0404:
		return "zh-TW"
	case 0x0407:
		return "de-DE"
	case 0x040C:
		return "fr-FR"
	case 0x0410:
		return "it-IT"
	case 0x0C0A:
		return "es-ES"
	case 0x0416:
		return "pt-BR"
	case 0x0419:
		return "ru-RU"
	case 0x0413:
		return "nl-NL"
	case 0x041D:
		return "sv-SE"
	case 0x0415:
		return "pl-PL"
	case 0x041F:
		return "tr-TR"
	}
	return ""
}

// udpVersionName names an MS-RDPEUDP SYNEX uUdpVer.
func udpVersionName(v uint16) string {
	switch v {
	case 0x0001:
		return "1"
	case 0x0002:
		return "2"
	case 0x0003, 0x0101:
		return "3"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}
