package baseline

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mamori/pipeline/event"
)

var (
	jst   = time.FixedZone("JST", 9*3600)
	t0    = time.Date(2026, 4, 6, 9, 0, 0, 0, jst) // a Monday, 09:00 local
	ws    = netip.MustParseAddr("10.10.3.21")
	dc    = netip.MustParseAddr("10.10.0.10")
	fs    = netip.MustParseAddr("10.10.0.20")
	avsrv = netip.MustParseAddr("10.10.0.30")
	cloud = netip.MustParseAddr("203.0.113.9")
)

func flowRec(src, dst netip.Addr, dport uint16, proto uint8, start time.Time, d time.Duration, state string) *event.Flow {
	f := &event.Flow{Start: start, End: start.Add(d), Final: true, Transport: proto, ConnState: state,
		Source:      event.Endpoint{IP: src, Port: 50000, HasPort: true, Bytes: 600, Packets: 5, MAC: [6]byte{2, 0, 0, 0, 0, 1}, HasMAC: true},
		Destination: event.Endpoint{IP: dst, Port: dport, HasPort: true, Bytes: 1400, Packets: 4, MAC: [6]byte{2, 0, 0, 0, 0, 2}, HasMAC: true},
	}
	if state == "S0" || state == "REJ" {
		f.Destination.Packets, f.Destination.Bytes = 0, 0
	}
	return f
}

// tlsRec is a stand-in for a TLS record: it has the methods the baseline
// reads (structural typing), as pipeline/proto/tls's record will.
type tlsRec struct {
	event.Base
	sni string
}

func (r *tlsRec) Dataset() string                               { return "mamori.tls" }
func (r *tlsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *tlsRec) ServerName() string                            { return r.sni }

type dnsRec struct {
	event.Base
	name  string
	addrs []netip.Addr
}

func (r *dnsRec) Dataset() string                               { return "mamori.dns" }
func (r *dnsRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *dnsRec) DNSResolution() (string, []netip.Addr)         { return r.name, r.addrs }

type dicomRec struct {
	event.Base
	calling, called string
}

func (r *dicomRec) Dataset() string                               { return "mamori.dicom" }
func (r *dicomRec) AppendJSON(b []byte, _ *event.Observer) []byte { return b }
func (r *dicomRec) DICOMAssociation() (string, string)            { return r.calling, r.called }

func base(src, dst netip.Addr, dport uint16, at time.Time, protocol string) event.Base {
	return event.Base{Conn: event.Conn{Source: netip.AddrPortFrom(src, 50001), Destination: netip.AddrPortFrom(dst, dport), Transport: 6}, Timestamp: at, Protocol: protocol}
}

// learnWeek feeds a small hospital's normal week.
func learnWeek(m *Model) {
	var obs []Obs
	learn := func(r event.Record) {
		obs = Extract(r, obs[:0])
		for i := range obs {
			m.Learn(&obs[i])
		}
	}
	for day := range 5 {
		d := t0.Add(time.Duration(day) * 24 * time.Hour)
		learn(flowRec(ws, dc, 445, 6, d, time.Second, "SF"))
		learn(flowRec(ws, dc, 88, 6, d.Add(time.Second), time.Second, "SF"))
		learn(flowRec(ws, fs, 445, 6, d.Add(time.Hour), time.Minute, "SF"))
		learn(&dnsRec{Base: base(avsrv, dc, 53, d.Add(2*time.Hour), "dns"), name: "update.example.com.", addrs: []netip.Addr{cloud}})
		learn(flowRec(avsrv, cloud, 443, 6, d.Add(2*time.Hour), 30*time.Second, "SF"))
		learn(&tlsRec{Base: base(avsrv, cloud, 443, d.Add(2*time.Hour), "tls"), sni: "Update.Example.com"})
		learn(&dicomRec{Base: base(ws, fs, 104, d.Add(3*time.Hour), "dicom"), calling: "CT01", called: "PACS_MAIN"})
		learn(flowRec(ws, netip.MustParseAddr("10.10.3.99"), 3389, 6, d, 30*time.Second, "REJ"))
		// an interim record is not learned: its final one carries the counts
		interim := flowRec(ws, fs, 9999, 6, d, time.Minute, "S1")
		interim.Final = false
		learn(interim)
	}
}

func TestLearnAndView(t *testing.T) {
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	if !m.Ready() {
		t.Fatal("not ready after learning")
	}
	e, ok := m.Edge(EdgeKey{ws, dc, 445, 6})
	if !ok || e.Count != 5 || e.Bytes != 5*2000 {
		t.Fatalf("edge ws→dc:445 = %+v, %v", e, ok)
	}
	if h := m.HourOfWeek(t0); h != 24+9 || e.Hours[h] != 1 || e.Hours[h+24] != 1 || e.Hours.Total() != 5 {
		t.Errorf("hours: how(t0)=%d, hist[%d]=%d, total %d", h, h, e.Hours[h], e.Hours.Total())
	}
	// EdgeActiveIn is Edge's hours without the copy: marked hours with a
	// count answer true, others false.
	var mark [HoursPerWeek]bool
	if m.EdgeActiveIn(EdgeKey{ws, dc, 445, 6}, &mark) {
		t.Error("EdgeActiveIn with no hour marked")
	}
	for h, n := range e.Hours {
		mark = [HoursPerWeek]bool{}
		mark[h] = true
		if got := m.EdgeActiveIn(EdgeKey{ws, dc, 445, 6}, &mark); got != (n > 0) {
			t.Errorf("EdgeActiveIn(hour %d) = %v, Edge counts %d", h, got, n)
		}
	}
	for h := range mark {
		mark[h] = true
	}
	if m.EdgeActiveIn(EdgeKey{ws, fs, 9999, 6}, &mark) {
		t.Error("EdgeActiveIn of an edge never learned")
	}
	if _, ok := m.Edge(EdgeKey{ws, netip.MustParseAddr("10.10.3.99"), 3389, 6}); ok {
		t.Error("a refused connection was learned as an edge")
	}
	if _, ok := m.Edge(EdgeKey{ws, fs, 9999, 6}); ok {
		t.Error("an interim record was learned")
	}
	if n := m.ClientServers(ws, 445, 6); n != 2 {
		t.Errorf("ClientServers(ws, 445) = %d, want 2", n)
	}
	seen, role, act := m.Host(dc, -1)
	if !seen || role != "domain_controller" || act != 10 {
		t.Errorf("Host(dc) = %v %q %d", seen, role, act)
	}
	if _, role, _ := m.Host(ws, -1); role != "" {
		t.Errorf("workstation role %q", role)
	}
	p, ok := m.Peer(avsrv, cloud)
	if !ok || p.Outbound != 5 || len(p.Names) != 1 || p.Names[0] != "update.example.com" {
		t.Errorf("Peer(av, cloud) = %+v, %v", p, ok)
	}
	if !m.UsedName(avsrv, "update.example.com", false) || m.UsedName(avsrv, "cdn.example.com", false) ||
		!m.UsedName(avsrv, "cdn.example.com", true) || m.UsedName(ws, "update.example.com", true) || m.UsedName(avsrv, "example.org", true) {
		t.Error("UsedName")
	}
	if !m.KnownAEPair(AEPair{"CT01", "PACS_MAIN"}) || m.KnownAEPair(AEPair{"CT02", "PACS_MAIN"}) {
		t.Error("KnownAEPair")
	}
	if seen, _, _ := m.Host(cloud, -1); !seen {
		t.Error("the external peer is a host too")
	}
}

func TestRegisteredDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a.b.example.com.":   "example.com",
		"www.hospital.or.jp": "hospital.or.jp",
		"example.co.jp":      "example.co.jp",
		"localhost":          "",
		"x.io":               "x.io",
	} {
		if got := RegisteredDomain(in); got != want {
			t.Errorf("RegisteredDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRoundTrip saves, loads and saves again: the files are identical and
// the loaded model answers the same.
func TestRoundTrip(t *testing.T) {
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	dir := t.TempDir()
	path := filepath.Join(dir, "baseline.json.gz")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	m2, err := Load(path, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	m.WriteTo(&a)
	m2.WriteTo(&b)
	if !bytes.Equal(gunzip(t, a.Bytes()), gunzip(t, b.Bytes())) {
		t.Errorf("reloaded model differs:\n%s\n%s", gunzip(t, a.Bytes()), gunzip(t, b.Bytes()))
	}
	if !Compare(m, m2).Empty() {
		t.Error("diff of a model and its reload is not empty")
	}
	if e, ok := m2.Edge(EdgeKey{ws, dc, 445, 6}); !ok || e.Count != 5 || e.Hours[24+9] != 1 {
		t.Errorf("reloaded edge %+v", e)
	}
	if !m2.UsedName(avsrv, "cdn.example.com", true) || m2.ClientServers(ws, 445, 6) != 2 {
		t.Error("reloaded indices")
	}
	if m2.Timezone() != "JST" || m2.HourOfWeek(t0) != 33 {
		t.Errorf("reloaded zone %s", m2.Timezone())
	}
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(zr)
	return out.Bytes()
}

func TestFormatChecks(t *testing.T) {
	for name, tc := range map[string]struct {
		data string
		want error
		text string
	}{
		"newer version": {`{"format":"mamori-baseline","version":2}`, ErrVersion, "upgrade mamori"},
		"old version":   {`{"format":"mamori-baseline","version":0}`, ErrVersion, "version 0"},
		"other format":  {`{"format":"something","version":1}`, ErrFormat, "something"},
		"not json":      {"hello", ErrFormat, ""},
		"empty":         {"", ErrFormat, ""},
		"bad hour":      {`{"format":"mamori-baseline","version":1,"timezone":"UTC","edges":[{"client":"10.0.0.1","server":"10.0.0.2","port":1,"proto":6,"hours":[[200,1]]}]}`, ErrFormat, "out of range"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.data), DefaultConfig())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
	// Plain (uncompressed) JSON is read too.
	if _, err := Read(strings.NewReader(`{"format":"mamori-baseline","version":1,"timezone":"Asia/Tokyo"}`), DefaultConfig()); err != nil {
		t.Errorf("plain JSON: %v", err)
	}
	// A file larger than the configured bounds is refused, not cut.
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	var buf bytes.Buffer
	m.WriteTo(&buf)
	if _, err := Read(&buf, Config{MaxHosts: 2}); err == nil || !strings.Contains(err.Error(), "max_hosts") {
		t.Errorf("bounds: %v", err)
	}
}

func TestBoundsCountOverflow(t *testing.T) {
	m := New(Config{MaxHosts: 3, MaxEdges: 2}, jst, nil)
	var obs []Obs
	for i := range 10 {
		obs = Extract(flowRec(ws, netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), 445, 6, t0.Add(time.Duration(i)*time.Minute), time.Second, "SF"), obs[:0])
		m.Learn(&obs[0])
	}
	st := m.Stats()
	if st.Hosts != 3 || st.Edges != 2 || m.Overflow.Hosts == 0 || m.Overflow.Edges != 8 {
		t.Errorf("stats %+v overflow %+v", st, m.Overflow)
	}
	// Known keys keep learning when full.
	obs = Extract(flowRec(ws, netip.AddrFrom4([4]byte{10, 9, 0, 0}), 445, 6, t0.Add(time.Hour), time.Second, "SF"), obs[:0])
	m.Learn(&obs[0])
	if e, _ := m.Edge(EdgeKey{ws, netip.AddrFrom4([4]byte{10, 9, 0, 0}), 445, 6}); e.Count != 2 {
		t.Errorf("known edge count %d", e.Count)
	}
}

func TestMergeAndDiff(t *testing.T) {
	a := New(DefaultConfig(), jst, nil)
	learnWeek(a)
	b := New(DefaultConfig(), jst, nil)
	learnWeek(b)
	var obs []Obs
	newPC := netip.MustParseAddr("10.10.3.50")
	obs = Extract(flowRec(newPC, fs, 445, 6, t0.Add(8*24*time.Hour), time.Second, "SF"), obs[:0])
	b.Learn(&obs[0])

	d := Compare(a, b)
	if len(d.HostsAdded) != 1 || d.HostsAdded[0] != newPC || len(d.EdgesAdded) != 1 || len(d.HostsRemoved)+len(d.EdgesRemoved) != 0 {
		t.Fatalf("diff %+v", d)
	}
	var out bytes.Buffer
	d.WriteText(&out, 0)
	for _, want := range []string{"hosts (+1 -0)", "+ 10.10.3.50", "+ 10.10.3.50 → 10.10.0.20:445/tcp"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, out.String())
		}
	}
	if back := Compare(b, a); len(back.HostsRemoved) != 1 || len(back.EdgesRemoved) != 1 {
		t.Errorf("reverse diff %+v", back)
	}

	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Edge(EdgeKey{ws, dc, 445, 6}); e.Count != 10 || e.Hours[33] != 2 {
		t.Errorf("merged edge %+v", e)
	}
	if _, ok := a.Edge(EdgeKey{newPC, fs, 445, 6}); !ok || !a.To.Equal(b.To) {
		t.Error("merge lost the new edge or the span")
	}
	if err := a.Merge(New(DefaultConfig(), time.UTC, nil)); err == nil {
		t.Error("merging across time zones must fail")
	}
}

func TestSummary(t *testing.T) {
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	var out bytes.Buffer
	if err := m.WriteSummary(&out, 0); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"time zone JST", "10.10.0.10", "domain_controller", "445/tcp", "10.10.0.30 ↔ 203.0.113.9 (update.example.com)", "CT01 → PACS_MAIN"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestClone(t *testing.T) {
	m := New(DefaultConfig(), jst, nil)
	learnWeek(m)
	c := m.Clone()
	if !Compare(m, c).Empty() {
		t.Fatal("clone differs")
	}
	var obs []Obs
	obs = Extract(flowRec(ws, netip.MustParseAddr("10.10.9.9"), 445, 6, t0, time.Second, "SF"), obs[:0])
	m.Learn(&obs[0])
	if Compare(m, c).Empty() {
		t.Error("learning into the model changed the clone")
	}
	var a, b bytes.Buffer
	c.WriteTo(&a)
	c2 := c.Clone()
	c2.WriteTo(&b)
	if !bytes.Equal(gunzip(t, a.Bytes()), gunzip(t, b.Bytes())) {
		t.Error("clone of a clone writes a different file")
	}
}

// TestNameFunctionsAgainstPlainForms: NormalizeName and RegisteredDomain
// (which avoid parsing and allocating) answer as their plain forms do:
// parse every candidate as an address, split and join the labels.
func TestNameFunctionsAgainstPlainForms(t *testing.T) {
	plainNormalize := func(n string) string {
		n = strings.TrimSpace(n)
		if i := strings.LastIndexByte(n, ':'); i > 0 && !strings.Contains(n[:i], ":") {
			n = n[:i]
		}
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if len(n) > 253 {
			return ""
		}
		if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
			return ""
		}
		return n
	}
	plainRegistered := func(name string) string {
		labels := strings.Split(plainNormalize(name), ".")
		n := len(labels)
		if n < 2 {
			return ""
		}
		if n >= 3 && len(labels[n-1]) == 2 {
			switch labels[n-2] {
			case "co", "ac", "or", "ne", "go", "ed", "gr", "lg", "ad", "com", "net", "org", "gov", "edu":
				return strings.Join(labels[n-3:], ".")
			}
		}
		return strings.Join(labels[n-2:], ".")
	}
	inputs := []string{"", ".", "..", "a", "a.", ".jp", "co.jp", "x.co.jp", "a.x.co.jp", "www.Example.COM.", "10.1.2.3", "10.1.2.3:8080",
		"[10.1.2.3]", "[fe80::1]", "fe80::1%eth0", "[2001:db8::1]:443", "::1", "1.2.3.4.example", "deadbeef", "dead:beef", "1e100.net",
		"host.example.com:80", " spaced.example.org ", "a.b.c.d.e.go.jp", "1.2.3", "1.2.3.4.5", "[1.2.3.4", "0x1.2.3.4", "ab.cd"}
	r := rand.New(rand.NewPCG(3, 3))
	const alphabet = "0123456789abcdefABC.:[]%-_ jpco"
	for range 20000 {
		b := make([]byte, r.IntN(16))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := NormalizeName(in), plainNormalize(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
		if got, want := RegisteredDomain(in), plainRegistered(in); got != want {
			t.Errorf("RegisteredDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIsInternalFastPath: the model's IPv4 mask table answers as its
// prefixes do.
func TestIsInternalFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		var internal []netip.Prefix
		for range 1 + r.IntN(4) {
			a := netip.AddrFrom4([4]byte{byte(9 + r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
			internal = append(internal, netip.PrefixFrom(a, r.IntN(33)).Masked())
		}
		internal = append(internal, netip.MustParsePrefix("fd00::/8"))
		m := New(DefaultConfig(), nil, internal)
		for range 200 {
			a := netip.AddrFrom4([4]byte{byte(9 + r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			if r.IntN(3) == 0 {
				a = netip.AddrFrom16(a.As16())
			}
			want := false
			for _, p := range internal {
				want = want || p.Contains(a.Unmap())
			}
			if got := m.isInternal(a); got != want {
				t.Fatalf("internal %v: isInternal(%v) = %v, want %v", internal, a, got, want)
			}
		}
	}
}
