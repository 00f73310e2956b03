package rules

import (
	"slices"
	"strings"

	"mamori/pipeline/event"
)

// techniques names the MITRE ATT&CK (Enterprise) techniques and
// sub-techniques the rules use.
var techniques = map[string]string{
	"T1021":     "Remote Services",
	"T1021.001": "Remote Desktop Protocol",
	"T1021.002": "SMB/Windows Admin Shares",
	"T1046":     "Network Service Discovery",
	"T1048":     "Exfiltration Over Alternative Protocol",
	"T1053":     "Scheduled Task/Job",
	"T1053.005": "Scheduled Task",
	"T1071":     "Application Layer Protocol",
	"T1071.001": "Web Protocols",
	"T1071.004": "DNS",
	"T1078":     "Valid Accounts",
	"T1110":     "Brute Force",
	"T1133":     "External Remote Services",
	"T1486":     "Data Encrypted for Impact",
	"T1569":     "System Services",
	"T1569.002": "Service Execution",
	"T1570":     "Lateral Tool Transfer",
	"T1573":     "Encrypted Channel",
	"T1599":     "Network Boundary Bridging",
}

// tactics names the ATT&CK tactics the rules use.
var tactics = map[string]string{
	"TA0001": "Initial Access",
	"TA0002": "Execution",
	"TA0003": "Persistence",
	"TA0006": "Credential Access",
	"TA0007": "Discovery",
	"TA0008": "Lateral Movement",
	"TA0010": "Exfiltration",
	"TA0011": "Command and Control",
	"TA0040": "Impact",
	"TA0005": "Defense Evasion",
}

// TechniqueName returns the ATT&CK name of a technique or sub-technique id,
// or "" when the id is not one the rules use.
func TechniqueName(id string) string { return techniques[id] }

// TacticName returns the ATT&CK name of a tactic id, or "".
func TacticName(id string) string { return tactics[id] }

// Threat builds ECS threat.* from technique and tactic ids. A sub-technique
// ("T1021.001") is listed under its parent technique.
func Threat(techs, tacts []string) event.AlertThreat {
	var t event.AlertThreat
	for i, id := range techs {
		if slices.Contains(techs[:i], id) {
			continue
		}
		parent, _, isSub := strings.Cut(id, ".")
		tech := event.Technique{ID: parent, Name: techniques[parent]}
		if isSub {
			tech.SubID, tech.SubName = id, techniques[id]
		}
		merged := false
		for i := range t.Techniques {
			if t.Techniques[i].ID == parent && (t.Techniques[i].SubID == "" || !isSub) {
				if isSub {
					t.Techniques[i].SubID, t.Techniques[i].SubName = tech.SubID, tech.SubName
				}
				merged = true
				break
			}
		}
		if !merged {
			t.Techniques = append(t.Techniques, tech)
		}
	}
	for i, id := range tacts {
		if !slices.Contains(tacts[:i], id) {
			t.Tactics = append(t.Tactics, event.Tactic{ID: id, Name: tactics[id]})
		}
	}
	return t
}
