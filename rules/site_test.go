package rules

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
)

const testSite = `
timezone: Asia/Tokyo
night: {start: "22:00", end: "06:00"}
networks:
  internal: [10.0.0.0/8]
segments:
  - name: his
    cidrs: [10.10.0.0/16]
  - name: servers
    cidrs: [10.10.0.0/24]
  - name: department
    cidrs: [10.20.0.0/16]
servers:
  domain_controller: [10.10.0.10, 10.10.0.11]
  backup: 10.10.0.50
  jump_host: [10.10.9.5]
admins: [10.10.5.0/28, jump_host]
allowed_external:
  - from: 10.10.0.30
    to: [update.example.com, 203.0.113.0/24]
    ports: [443, "8000-8100"]
    proto: tcp
    note: antivirus updates
maintenance:
  - vendor: ct-vendor
    external: [198.51.100.7, remote.vendor.example]
    via: 10.10.9.5
    reach: [10.20.3.0/24]
    windows:
      - days: [tue, thu]
        start: "13:00"
        end: "17:00"
      - days: [sat]
        start: "22:00"
        end: "02:00"
segment_policy:
  allow:
    - from: department
      to: his
      ports: [443]
      proto: tcp
`

func mustSite(t *testing.T, y string) Site {
	t.Helper()
	s, err := ParseSite("site.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var tokyo = time.FixedZone("JST", 9*3600)

func jst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSiteLookups(t *testing.T) {
	s := mustSite(t, testSite)
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"segment most specific", s.Segment(a("10.10.0.10")), "servers"},
		{"segment", s.Segment(a("10.10.3.4")), "his"},
		{"no segment", s.Segment(a("10.99.0.1")), ""},
		{"role", s.Role(a("10.10.0.11")), "domain_controller"},
		{"role scalar", s.Role(a("10.10.0.50")), "backup"},
		{"admin prefix", s.IsAdmin(a("10.10.5.3")), true},
		{"admin via role", s.IsAdmin(a("10.10.9.5")), true},
		{"not admin", s.IsAdmin(a("10.10.5.30")), false},
		{"jump", s.IsJumpHost(a("10.10.9.5")), true},
		{"infra", s.IsInfrastructure(a("10.10.0.10")), true},
		{"manager", s.IsManager(a("10.10.0.50")), true},
		{"internal", s.IsInternal(a("10.1.2.3")), true},
		{"external", s.IsExternal(a("8.8.8.8")), true},
		{"multicast not external", s.IsExternal(a("224.0.0.251")), false},
		{"mapped internal", s.IsInternal(a("::ffff:10.1.2.3")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestSiteAllowed(t *testing.T) {
	s := mustSite(t, testSite)
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name  string
		in    string
		out   string
		names []string
		port  uint16
		proto uint8
		want  bool
	}{
		{"by prefix", "10.10.0.30", "203.0.113.9", nil, 443, 6, true},
		{"by name", "10.10.0.30", "192.0.2.1", []string{"update.example.com"}, 443, 6, true},
		{"by subdomain", "10.10.0.30", "192.0.2.1", []string{"eu.update.example.com."}, 8050, 6, true},
		{"port range end", "10.10.0.30", "203.0.113.9", nil, 8100, 6, true},
		{"wrong port", "10.10.0.30", "203.0.113.9", nil, 80, 6, false},
		{"wrong proto", "10.10.0.30", "203.0.113.9", nil, 443, 17, false},
		{"other host", "10.10.0.31", "203.0.113.9", nil, 443, 6, false},
		{"lookalike name", "10.10.0.30", "192.0.2.1", []string{"evilupdate.example.com"}, 443, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := s.Allowed(a(tc.in), a(tc.out), tc.names, tc.port, tc.proto); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNightAcrossMidnight checks night hours in Asia/Tokyo on both sides
// of midnight, from UTC packet times.
func TestNightAcrossMidnight(t *testing.T) {
	s := mustSite(t, testSite)
	for _, tc := range []struct {
		utc  string
		want bool
	}{
		{"2026-04-01T12:59:00Z", false}, // 21:59 JST
		{"2026-04-01T13:00:00Z", true},  // 22:00 JST
		{"2026-04-01T15:00:00Z", true},  // 00:00 JST next day
		{"2026-04-01T20:59:59Z", true},  // 05:59 JST
		{"2026-04-01T21:00:00Z", false}, // 06:00 JST
		{"2026-04-01T03:00:00Z", false}, // noon JST
	} {
		t.Run(tc.utc, func(t *testing.T) {
			at, _ := time.Parse(time.RFC3339, tc.utc)
			if got := s.IsNight(at); got != tc.want {
				t.Errorf("IsNight(%s) = %v, want %v", at.In(s.Location()), got, tc.want)
			}
		})
	}
	day := mustSite(t, "night: {start: \"08:00\", end: \"18:00\"}\n")
	if !day.IsNight(jst("2026-04-01 09:00")) || day.IsNight(jst("2026-04-01 19:00")) {
		t.Error("a span that does not cross midnight")
	}
}

func TestMaintenanceWindows(t *testing.T) {
	s := mustSite(t, testSite)
	v := s.Vendors()[0]
	// 2026-04-07 is a Tuesday.
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-04-07 13:00", true},
		{"2026-04-07 16:59", true},
		{"2026-04-07 17:00", false},
		{"2026-04-07 12:59", false},
		{"2026-04-08 14:00", false}, // wednesday
		{"2026-04-09 14:00", true},  // thursday
		{"2026-04-11 23:30", true},  // saturday night window
		{"2026-04-12 01:59", true},  // … into sunday
		{"2026-04-12 02:00", false},
		{"2026-04-12 23:30", false}, // sunday night: not a window start
		{"2026-04-06 01:00", false}, // monday early: no window the day before
	} {
		t.Run(tc.at, func(t *testing.T) {
			if got := v.InWindow(jst(tc.at).UTC(), s.Location()); got != tc.want {
				t.Errorf("InWindow = %v, want %v", got, tc.want)
			}
		})
	}
	if got := v.WindowText(); got != "tue,thu 13:00–17:00; sat 22:00–02:00" {
		t.Errorf("WindowText = %q", got)
	}
	if !v.IsExternal(netip.MustParseAddr("192.0.2.200"), []string{"remote.vendor.example"}) || !v.IsVia(netip.MustParseAddr("10.10.9.5")) || !v.MayReach(netip.MustParseAddr("10.20.3.40")) || v.MayReach(netip.MustParseAddr("10.20.4.40")) {
		t.Error("vendor lookups")
	}
}

func TestSegmentPolicy(t *testing.T) {
	s := mustSite(t, testSite)
	for _, tc := range []struct {
		name     string
		from, to string
		port     uint16
		proto    uint8
		want     bool
	}{
		{"allowed", "department", "his", 443, 6, true},
		{"wrong port", "department", "his", 445, 6, false},
		{"reverse not allowed", "his", "department", 443, 6, false},
		{"same segment", "his", "his", 445, 6, true},
		{"unsegmented", "", "his", 445, 6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.SegmentAllowed(tc.from, tc.to, tc.port, tc.proto); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	empty := mustSite(t, "")
	if !s.HasSegmentPolicy() || empty.HasSegmentPolicy() {
		t.Error("HasSegmentPolicy")
	}
}

// TestSiteErrors checks that every problem names the file, the line and
// the key path.
func TestSiteErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"bad timezone":       {"timezone: Mars/Olympus\n", `site.yaml:1: timezone: "Mars/Olympus" is not a time zone`},
		"bad night":          {"night:\n  start: \"25:00\"\n", `site.yaml:2: night.start: "25:00" is not a time of day`},
		"bad cidr":           {"segments:\n  - name: his\n    cidrs:\n      - 10.0.0.0/33\n", `site.yaml:4: segments.0.cidrs.0:`},
		"duplicate segment":  {"segments:\n  - {name: a, cidrs: [10.0.0.0/8]}\n  - {name: a, cidrs: [11.0.0.0/8]}\n", `site.yaml:3: segments.1.name: segment "a" is defined twice`},
		"unknown role":       {"servers:\n  dc: [10.0.0.1]\n", `site.yaml:2: servers.dc: unknown role "dc"`},
		"bad admin":          {"admins:\n  - 10.0.0.1\n  - nurses\n", `site.yaml:3: admins.1: "nurses" is not an address`},
		"bad day":            {"maintenance:\n  - vendor: v\n    via: 10.0.0.1\n    windows:\n      - days: [tue, funday]\n        start: \"13:00\"\n        end: \"17:00\"\n", `site.yaml:5: maintenance.0.windows.0.days.1: "funday" is not a day`},
		"bad window end":     {"maintenance:\n  - vendor: v\n    via: 10.0.0.1\n    windows:\n      - days: daily\n        start: \"13:00\"\n        end: 5pm\n", `site.yaml:7: maintenance.0.windows.0.end:`},
		"bad port":           {"allowed_external:\n  - to: [example.com]\n    ports: [443, 70000]\n", `site.yaml:3: allowed_external.0.ports.1: "70000" is not a port`},
		"bad proto":          {"allowed_external:\n  - to: example.com\n    proto: sctpx\n", `site.yaml:3: allowed_external.0.proto:`},
		"unknown policy seg": {"segments:\n  - {name: his, cidrs: [10.0.0.0/8]}\nsegment_policy:\n  allow:\n    - from: his\n      to: [pacs]\n", `site.yaml:6: segment_policy.allow.0.to.0: unknown segment "pacs"`},
		"unknown key":        {"nigth: {start: \"22:00\"}\n", `site.yaml:1: field nigth not found`},
		"wrong shape":        {"admins: {a: b}\n", `site.yaml:1: want a value or a list`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSite("site.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestFill(t *testing.T) {
	if got := Fill("{a} to {b}, {c}", "a", "x", "b", "y"); got != "x to y, {c}" {
		t.Errorf("Fill = %q", got)
	}
	if got := SpanJA(3*time.Hour + 5*time.Minute); got != "3時間5分" {
		t.Errorf("SpanJA = %q", got)
	}
	if got := SpanJA(45 * time.Second); got != "45秒" {
		t.Errorf("SpanJA = %q", got)
	}
}

func TestFlowTagsBounded(t *testing.T) {
	tags := NewFlowTags(4)
	for i := range 10 {
		tags.Put(event.FlowID{byte(i)}, FlowTag{Protocol: "rdp"})
		if i%3 == 0 {
			tags.Drop(event.FlowID{byte(i)})
		}
	}
	if tags.Len() > 4 {
		t.Errorf("%d tags held, limit 4", tags.Len())
	}
	if _, ok := tags.Get(event.FlowID{8}); !ok {
		t.Error("the newest tag is gone")
	}
	if tags.Evicted == 0 {
		t.Error("evictions not counted")
	}
}

func TestAddrList(t *testing.T) {
	as := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	if got := AddrList(as, 30, 2); got != "10.0.0.1, 10.0.0.2 (+28 more)" {
		t.Errorf("AddrList = %q", got)
	}
	if got := AddrListJA(as, 30, 2); got != "10.0.0.1, 10.0.0.2（他28台）" {
		t.Errorf("AddrListJA = %q", got)
	}
	if got := AddrListJA(as, 3, 5); got != "10.0.0.1, 10.0.0.2, 10.0.0.3" {
		t.Errorf("AddrListJA = %q", got)
	}
}

// TestIsInternalFastPath: IsInternal's IPv4 table answers as the prefix
// list does, for IPv4, mapped and IPv6 addresses, /0 to /32 prefixes.
func TestIsInternalFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	addr4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(r.IntN(4) + 9), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	for range 200 {
		var internal []netip.Prefix
		for range 1 + r.IntN(5) {
			if r.IntN(4) == 0 {
				internal = append(internal, netip.PrefixFrom(netip.MustParseAddr("fd00::"), 8+r.IntN(120)).Masked())
				continue
			}
			internal = append(internal, netip.PrefixFrom(addr4(), r.IntN(33)).Masked())
		}
		s, err := (Site{}).WithInternal(internal)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			a := addr4()
			switch r.IntN(4) {
			case 0:
				a = netip.AddrFrom16(a.As16()) // IPv4-mapped
			case 1:
				a = netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(r.IntN(256))})
			}
			if got, want := s.IsInternal(a), prefixSet(internal).contains(a); got != want {
				t.Fatalf("internal %v: IsInternal(%v) = %v, the prefixes say %v", internal, a, got, want)
			}
		}
	}
}

// TestIsExternalFastPath: IsExternal's IPv4 path answers as the netip
// predicates and the prefix list do (the rule it stands in for), around
// every special range and for random addresses, plain and IPv4-mapped.
func TestIsExternalFastPath(t *testing.T) {
	slow := func(s *Site, a netip.Addr) bool {
		a = a.Unmap()
		if !a.IsValid() || a.IsMulticast() || a.IsLoopback() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
			return false
		}
		if a.Is4() && (a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.As4()[3] == 255 && prefixSet(s.lookups().internal).contains(a)) {
			return false
		}
		return !prefixSet(s.lookups().internal).contains(a)
	}
	r := rand.New(rand.NewPCG(9, 9))
	edges := []string{"0.0.0.0", "0.0.0.1", "126.255.255.255", "127.0.0.1", "128.0.0.0", "169.253.255.255", "169.254.0.1",
		"169.255.0.0", "223.255.255.255", "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.254", "255.255.255.255",
		"10.1.2.255", "192.0.2.255", "172.16.0.0", "8.8.8.8"}
	for _, internal := range [][]netip.Prefix{nil, {netip.MustParsePrefix("0.0.0.0/0")}, {netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/8")}} {
		s, err := (Site{}).WithInternal(internal)
		if err != nil {
			t.Fatal(err)
		}
		var addrs []netip.Addr
		for _, e := range edges {
			addrs = append(addrs, netip.MustParseAddr(e))
		}
		for range 5000 {
			addrs = append(addrs, netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}))
		}
		for _, a := range addrs {
			for _, v := range []netip.Addr{a, netip.AddrFrom16(a.As16())} {
				if got, want := s.IsExternal(v), slow(&s, v); got != want {
					t.Fatalf("internal %v: IsExternal(%v) = %v, want %v", internal, v, got, want)
				}
			}
		}
	}
}

// TestFillAgainstReplacer: Fill answers as a strings.Replacer of every
// "{name}" does, on random templates with nested, unknown and unclosed
// braces and values that hold braces themselves.
func TestFillAgainstReplacer(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	kv := []string{"src", "10.0.0.1", "peer", "{src}", "n", "", "src", "ignored (the first wins)"}
	var pairs []string
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+kv[i]+"}", kv[i+1])
	}
	rep := strings.NewReplacer(pairs...)
	parts := []string{"{", "}", "src", "peer", "n", "x", " ", "{src}", "{peer}", "{n}", "{x}", "日本"}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		tmpl := b.String()
		if got, want := Fill(tmpl, kv...), rep.Replace(tmpl); got != want {
			t.Fatalf("Fill(%q) = %q, a Replacer gives %q", tmpl, got, want)
		}
	}
}
