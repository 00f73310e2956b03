package all

import (
	"os"
	"slices"
	"strings"
	"testing"

	"mamori/internal/testenv"
	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/pipeline/proto/dicom"
	"mamori/pipeline/proto/dns"
	"mamori/pipeline/proto/hl7"
	"mamori/pipeline/proto/http"
	"mamori/pipeline/proto/prototest"
	"mamori/pipeline/proto/rdp"
	"mamori/pipeline/proto/smb"
	"mamori/pipeline/proto/tls"
	"mamori/rules"
	"mamori/rules/nightbeacon"
	"mamori/rules/rdpscan"
	"mamori/rules/smblateral"
)

// The detectors read protocol facts through interfaces of their own; the
// records must implement them (checked at compile time here, since the
// rules may not import the parsers).
var (
	_ rules.ServerNamer       = (*tls.Record)(nil)
	_ rules.ServerNamer       = (*http.Record)(nil)
	_ rules.Resolver          = (*dns.Record)(nil)
	_ nightbeacon.DNSQuestion = (*dns.Record)(nil)
	_ rdpscan.RDPCookie       = (*rdp.Record)(nil)
	_ smblateral.Tree         = (*smb.Record)(nil)
	_ smblateral.File         = (*smb.Record)(nil)
	_ smblateral.RPC          = (*smb.Record)(nil)
	_ rules.Based             = (*smb.Record)(nil)
	_ interface {
		DICOMAssociation() (string, string)
	} = (*dicom.Record)(nil)
	_ interface {
		HL7Link() (string, string, string, string)
	} = (*hl7.Record)(nil)
)

// TestBaselineLearnsDICOMAndHL7 checks that the baseline's observations of
// real DICOM and HL7 captures carry their AE titles and applications.
func TestBaselineLearnsDICOMAndHL7(t *testing.T) {
	paths := []string{"recorded/dicom_store_find_move_get_abort.pcap"}
	ents, err := os.ReadDir(testenv.Pcap(t, "hl7"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		paths = append(paths, "hl7/"+e.Name())
	}
	var dicoms, hl7s []string
	for _, p := range paths {
		for _, r := range records(t, p) {
			for _, o := range baseline.Extract(r, nil) {
				switch o.Kind {
				case baseline.ObsDICOM:
					dicoms = append(dicoms, o.A+" -> "+o.B)
				case baseline.ObsHL7:
					hl7s = append(hl7s, o.A+"/"+o.B+" -> "+o.C+"/"+o.D)
				}
			}
		}
	}
	if len(dicoms) == 0 || len(hl7s) == 0 {
		t.Errorf("baseline observations: DICOM %q, HL7 %q (want both)", dicoms, hl7s)
	}
	t.Logf("DICOM %q; HL7 %q", dicoms[:min(3, len(dicoms))], hl7s[:min(3, len(hl7s))])
}

func records(t *testing.T, path string) []event.Record {
	ps, err := Parsers(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return prototest.Records(t, path, ps...)
}

// TestFactsFromRealCaptures checks the facts the detectors see on captures
// whose content the MANIFEST describes (and tshark confirms in the
// parsers' own tests): PsExec over SMB, an RDP cookie, TLS SNI, DNS.
func TestFactsFromRealCaptures(t *testing.T) {
	var trees, files, rpcs []string
	for _, r := range records(t, "smb/sv_20171220_smb_psexec_add_user.pcap") {
		if x, ok := r.(smblateral.Tree); ok {
			if p, st := x.SMBTree(); p != "" {
				trees = append(trees, p+" "+st)
			}
		}
		if x, ok := r.(smblateral.File); ok {
			if op, share, name, _ := x.SMBFile(); op != "" {
				files = append(files, op+" "+share+" "+name)
			}
		}
		if x, ok := r.(smblateral.RPC); ok {
			if pipe, op := x.DCERPC(); pipe != "" {
				rpcs = append(rpcs, pipe+" "+op)
			}
		}
	}
	for _, want := range []string{`\\dc1\ADMIN$ STATUS_SUCCESS`, `\\dc1\IPC$ STATUS_SUCCESS`} {
		if !containsFold(trees, want) {
			t.Errorf("tree connects %q lack %q", trees, want)
		}
	}
	if !containsFold(files, `create \\dc1\ADMIN$ PSEXESVC.exe`) {
		t.Errorf("file operations %q lack the PSEXESVC.exe create", files)
	}
	// PsExec's 64-bit service creation: opnum 44, as tshark names it too.
	for _, want := range []string{"svcctl CreateServiceWOW64W", "svcctl StartServiceW"} {
		if !slices.Contains(rpcs, want) {
			t.Errorf("DCE/RPC calls %q lack %s", rpcs, want)
		}
	}

	var cookies []string
	for _, r := range records(t, "rdp/ndpi_rdp_over_tls.pcap") {
		if c, ok := r.(rdpscan.RDPCookie); ok {
			cookies = append(cookies, c.RDPCookie())
		}
	}
	if !slices.Contains(cookies, "WDeployAd") {
		t.Errorf("RDP cookies %q lack WDeployAd", cookies)
	}

	var snis []string
	for _, r := range records(t, "beacon/slips_test-cc-capture-1.pcap") {
		if n, ok := r.(rules.ServerNamer); ok && n.ServerName() != "" {
			snis = append(snis, n.ServerName())
		}
	}
	if len(snis) < 290 || !slices.Contains(snis, "testing.com") {
		t.Errorf("%d SNIs (want the ~297 beacons to testing.com): %q", len(snis), snis[:min(5, len(snis))])
	}

	resolved := 0
	for _, r := range records(t, "dns/zeek_dns-edns-ecs.pcap") {
		if res, ok := r.(rules.Resolver); ok {
			if name, addrs := res.DNSResolution(); name != "" && len(addrs) > 0 {
				resolved++
			}
		}
	}
	if resolved == 0 {
		t.Error("no DNS resolution with addresses in a capture of answered A/AAAA queries")
	}
}

func containsFold(list []string, want string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, want) })
}
