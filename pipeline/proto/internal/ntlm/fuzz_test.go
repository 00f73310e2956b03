package ntlm

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"mamori/internal/testenv"
)

// FuzzParse feeds arbitrary bytes to Parse and Find: they must never panic,
// must return valid UTF-8 strings within the bounds, and Find on a raw
// message must agree with Parse. Seeds: crafted messages and every NTLMSSP
// message in the bundled SMB captures.
func FuzzParse(f *testing.F) {
	f.Add(negotiateMsg(FlagUnicode|FlagOEMDomainSupplied|FlagOEMWorkstationSupplied, "D", "W"))
	f.Add(challengeMsg(FlagUnicode|FlagTargetInfo, "CONTOSO", "SRV", "srv.contoso.local"))
	f.Add(authenticateMsg(FlagUnicode, "CONTOSO", "Administrator", "WS01", 60))
	f.Add(authenticateMsg(FlagOEM, "WORKGROUP", "user", "PC", 24))
	f.Add(spnego(authenticateMsg(FlagUnicode, "D", "U", "W", 60)))
	for _, rel := range testenv.BundledPcaps(f) {
		if !strings.HasPrefix(rel, "smb/") {
			continue
		}
		for _, pl := range tcpPayloads(f, filepath.Join(testenv.Pcaps(f), rel)) {
			if i := bytes.Index(pl, Signature); i >= 0 {
				f.Add(pl[i:])
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		for _, s := range []string{m.User, m.Domain, m.Workstation, m.TargetName, m.ServerNetBIOSName, m.ServerDNSName} {
			if !utf8.ValidString(s) || len(s) > 3*MaxString {
				t.Fatalf("bad string %q", s)
			}
		}
		fm, ok := Find(b)
		if err == nil && (!ok || fm != m) {
			t.Fatalf("Parse gives %+v, Find %+v %v", m, fm, ok)
		}
		NTLMVersion(b)
		FindNTLMVersion(b)
	})
}
