package ntlm

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"mamori/pipeline/event"
)

func TestRecordJSON(t *testing.T) {
	auth, _ := Parse(authenticateMsg(FlagUnicode, "CONTOSO", "Administrator", "WS01", 60))
	ch, _ := Parse(challengeMsg(FlagUnicode|FlagTargetInfo, "CONTOSO", "SERVER01", "server01.contoso.local"))
	conn := event.Conn{Source: netip.MustParseAddrPort("10.0.0.11:49200"), Destination: netip.MustParseAddrPort("10.0.0.12:445"), Transport: 6}
	r := NewRecord(conn, time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC), "smb", auth, ch)
	r.Outcome = "failure"
	r.Status = "STATUS_LOGON_FAILURE"
	r.Version = "v2"
	var doc struct {
		Event struct {
			Dataset, Action, Outcome string
			Category                 []string
		}
		Network struct{ Protocol string }
		User    struct{ Name, Domain string }
		Related struct{ User, Hosts []string }
		Mamori  struct {
			NTLM struct {
				Server struct {
					NetBIOS string `json:"netbios_name"`
					DNS     string `json:"dns_name"`
				}
			} `json:"ntlm"`
		}
	}
	raw := r.AppendJSON(nil, &event.Observer{})
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	var m map[string]map[string]map[string]any
	json.Unmarshal(raw, &m)
	n := m["mamori"]["ntlm"]
	if doc.Event.Dataset != "mamori.ntlm" || doc.Event.Action != "ntlm_auth" || doc.Event.Outcome != "failure" ||
		doc.Network.Protocol != "ntlm" || doc.User.Name != "Administrator" || doc.User.Domain != "CONTOSO" ||
		n["workstation"] != "WS01" || n["transport"] != "smb" || n["status"] != "STATUS_LOGON_FAILURE" || n["version"] != "v2" ||
		doc.Mamori.NTLM.Server.NetBIOS != "SERVER01" || doc.Mamori.NTLM.Server.DNS != "server01.contoso.local" ||
		len(doc.Related.User) != 1 || len(doc.Related.Hosts) != 3 {
		t.Fatalf("record:\n%s", raw)
	}
}
