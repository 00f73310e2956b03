package baseline

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FormatName and FormatVersion identify baseline files. The version goes
// up whenever a reader of the previous version would misread a file.
const (
	FormatName    = "mamori-baseline"
	FormatVersion = 1
)

// ErrFormat is wrapped when a file is not a mamori baseline.
var ErrFormat = errors.New("not a mamori baseline file")

// ErrVersion is wrapped when a file's format version is not one this
// mamori reads.
var ErrVersion = errors.New("unsupported baseline format version")

// The file is gzip-compressed JSON: one document with a header and sorted
// tables, so that equal models give equal files. Hours are sparse
// [hour, count] pairs.
type fileDoc struct {
	Format       string     `json:"format"`
	Version      int        `json:"version"`
	Timezone     string     `json:"timezone"`
	Internal     []string   `json:"internal"`
	From         time.Time  `json:"from"`
	To           time.Time  `json:"to"`
	Observations uint64     `json:"observations"`
	Overflow     Overflow   `json:"overflow"`
	Hosts        []fileHost `json:"hosts"`
	Edges        []fileEdge `json:"edges"`
	Peers        []filePeer `json:"peers"`
	Names        []fileName `json:"names"`
	AEPairs      []fileAE   `json:"dicom_ae_pairs"`
	HL7Links     []fileHL7  `json:"hl7_links"`
}

type fileHost struct {
	Addr      netip.Addr    `json:"addr"`
	Role      string        `json:"role,omitempty"` // inferred; informational
	MACs      []string      `json:"macs,omitempty"`
	Services  []fileService `json:"services,omitempty"`
	Protocols []string      `json:"protocols,omitempty"`
	Names     []string      `json:"names,omitempty"`
	First     time.Time     `json:"first"`
	Last      time.Time     `json:"last"`
	Client    uint64        `json:"client"`
	Server    uint64        `json:"server"`
	Hours     [][2]uint32   `json:"hours,omitempty"`
}

type fileService struct {
	Port  uint16 `json:"port"`
	Proto uint8  `json:"proto"`
	App   string `json:"app,omitempty"`
	Count uint64 `json:"count"`
}

type fileEdge struct {
	Client netip.Addr  `json:"client"`
	Server netip.Addr  `json:"server"`
	Port   uint16      `json:"port"`
	Proto  uint8       `json:"proto"`
	Count  uint64      `json:"count"`
	Bytes  uint64      `json:"bytes"`
	First  time.Time   `json:"first"`
	Last   time.Time   `json:"last"`
	Hours  [][2]uint32 `json:"hours,omitempty"`
}

type filePeer struct {
	Internal netip.Addr `json:"internal"`
	External netip.Addr `json:"external"`
	Outbound uint64     `json:"outbound"`
	Inbound  uint64     `json:"inbound"`
	Bytes    uint64     `json:"bytes"`
	First    time.Time  `json:"first"`
	Last     time.Time  `json:"last"`
	Names    []string   `json:"names,omitempty"`
	Ports    []uint16   `json:"ports,omitempty"`
}

type fileName struct {
	Host  netip.Addr `json:"host"`
	Name  string     `json:"name"`
	Count uint64     `json:"count"`
	First time.Time  `json:"first"`
	Last  time.Time  `json:"last"`
}

type fileLink struct {
	Client netip.Addr `json:"client"`
	Server netip.Addr `json:"server"`
	Count  uint64     `json:"count"`
	First  time.Time  `json:"first"`
	Last   time.Time  `json:"last"`
}

type fileAE struct {
	Calling string `json:"calling"`
	Called  string `json:"called"`
	fileLink
}

type fileHL7 struct {
	SendingApp        string `json:"sending_app"`
	SendingFacility   string `json:"sending_facility"`
	ReceivingApp      string `json:"receiving_app"`
	ReceivingFacility string `json:"receiving_facility"`
	fileLink
}

func sparse[T uint8 | uint16 | uint32](h []T) [][2]uint32 {
	var out [][2]uint32
	for i, v := range h {
		if v != 0 {
			out = append(out, [2]uint32{uint32(i), uint32(v)})
		}
	}
	return out
}

func cmpAddr(a, b netip.Addr) int { return a.Compare(b) }

// WriteTo writes the model in the file format (gzip-compressed JSON).
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	doc := fileDoc{
		Format: FormatName, Version: FormatVersion, Timezone: m.tz,
		From: m.From.UTC(), To: m.To.UTC(), Observations: m.Observations, Overflow: m.Overflow,
	}
	for _, p := range m.internal {
		doc.Internal = append(doc.Internal, p.String())
	}
	for _, h := range m.hosts {
		fh := fileHost{Addr: h.Addr, Role: InferRole(h), Protocols: h.Protocols, Names: h.Names,
			First: h.First.UTC(), Last: h.Last.UTC(), Client: h.Client, Server: h.Server, Hours: sparse(h.Hours[:])}
		for _, mac := range h.MACs {
			fh.MACs = append(fh.MACs, macString(mac))
		}
		for _, s := range h.Services {
			fh.Services = append(fh.Services, fileService(s))
		}
		slices.SortFunc(fh.Services, func(a, b fileService) int {
			return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
		})
		doc.Hosts = append(doc.Hosts, fh)
	}
	slices.SortFunc(doc.Hosts, func(a, b fileHost) int { return cmpAddr(a.Addr, b.Addr) })
	for ik, ie := range m.edges {
		k, e := ik.export(), ie.export()
		doc.Edges = append(doc.Edges, fileEdge{k.Client, k.Server, k.Port, k.Proto, e.Count, e.Bytes, e.First.UTC(), e.Last.UTC(), sparse(ie.hours[:])})
	}
	slices.SortFunc(doc.Edges, func(a, b fileEdge) int {
		return cmp.Or(cmpAddr(a.Client, b.Client), cmpAddr(a.Server, b.Server), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	for k, p := range m.peers {
		doc.Peers = append(doc.Peers, filePeer{k.Internal, k.External, p.Outbound, p.Inbound, p.Bytes, p.First.UTC(), p.Last.UTC(), p.Names, p.Ports})
	}
	slices.SortFunc(doc.Peers, func(a, b filePeer) int {
		return cmp.Or(cmpAddr(a.Internal, b.Internal), cmpAddr(a.External, b.External))
	})
	for k, u := range m.names {
		doc.Names = append(doc.Names, fileName{k.Host, k.Name, u.Count, u.First.UTC(), u.Last.UTC()})
	}
	slices.SortFunc(doc.Names, func(a, b fileName) int {
		return cmp.Or(cmpAddr(a.Host, b.Host), strings.Compare(a.Name, b.Name))
	})
	for k, l := range m.ae {
		doc.AEPairs = append(doc.AEPairs, fileAE{k.Calling, k.Called, fileLink{l.Client, l.Server, l.Count, l.First.UTC(), l.Last.UTC()}})
	}
	slices.SortFunc(doc.AEPairs, func(a, b fileAE) int {
		return cmp.Or(strings.Compare(a.Calling, b.Calling), strings.Compare(a.Called, b.Called))
	})
	for k, l := range m.hl7 {
		doc.HL7Links = append(doc.HL7Links, fileHL7{k.SendingApp, k.SendingFacility, k.ReceivingApp, k.ReceivingFacility, fileLink{l.Client, l.Server, l.Count, l.First.UTC(), l.Last.UTC()}})
	}
	slices.SortFunc(doc.HL7Links, func(a, b fileHL7) int {
		return cmp.Or(strings.Compare(a.SendingApp, b.SendingApp), strings.Compare(a.SendingFacility, b.SendingFacility),
			strings.Compare(a.ReceivingApp, b.ReceivingApp), strings.Compare(a.ReceivingFacility, b.ReceivingFacility))
	})

	cw := &countWriter{w: w}
	zw, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	zw.Name = "baseline.json"
	bw := bufio.NewWriterSize(zw, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(&doc); err != nil {
		return cw.n, fmt.Errorf("encoding baseline: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("writing baseline: %w", err)
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("writing baseline: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func macString(m MAC) string {
	var b [17]byte
	const hexd = "0123456789abcdef"
	for i, c := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3], b[i*3+1] = hexd[c>>4], hexd[c&0xf]
	}
	return string(b[:])
}

func parseMAC(s string) (MAC, bool) {
	var m MAC
	raw, err := hex.DecodeString(strings.NewReplacer(":", "", "-", "").Replace(s))
	if err != nil || len(raw) != 6 {
		return m, false
	}
	copy(m[:], raw)
	return m, true
}

// Save writes the model to path atomically: a temporary file in the same
// directory, synced, then renamed over path (and the directory synced), so
// that a crash leaves the old file or the new one, never half of one.
func (m *Model) Save(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving baseline: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this finds nothing
	bw := bufio.NewWriterSize(f, 256<<10)
	if _, err := m.WriteTo(bw); err != nil {
		f.Close()
		return fmt.Errorf("saving baseline to %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("saving baseline to %s: %w", path, err)
	}
	if err := f.Chmod(0o640); err != nil {
		f.Close()
		return fmt.Errorf("saving baseline to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("saving baseline to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving baseline to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("saving baseline: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Load reads a baseline file. cfg bounds the loaded model (a file larger
// than the bounds is refused rather than cut). It returns an error wrapping
// ErrFormat for a file that is not a baseline, ErrVersion for a version
// this mamori does not read, and fs errors as they are.
func Load(path string, cfg Config) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading baseline: %w", err)
	}
	defer f.Close()
	m, err := Read(bufio.NewReaderSize(f, 256<<10), cfg)
	if err != nil {
		return nil, fmt.Errorf("loading baseline %s: %w", path, err)
	}
	return m, nil
}

// Read decodes a baseline (gzip-compressed or plain JSON) from r.
func Read(r io.Reader, cfg Config) (*Model, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	var src io.Reader = br
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		defer zr.Close()
		src = zr
	} else if len(magic) == 0 || magic[0] != '{' {
		return nil, ErrFormat
	}
	data, err := io.ReadAll(io.LimitReader(src, 4<<30))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if head.Format != FormatName {
		return nil, fmt.Errorf("%w (format %q)", ErrFormat, head.Format)
	}
	if head.Version != FormatVersion {
		if head.Version > FormatVersion {
			return nil, fmt.Errorf("%w: the file is version %d, this mamori reads version %d: upgrade mamori or learn the baseline again", ErrVersion, head.Version, FormatVersion)
		}
		return nil, fmt.Errorf("%w: version %d", ErrVersion, head.Version)
	}
	var doc fileDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return fromDoc(&doc, cfg)
}

func fromDoc(doc *fileDoc, cfg Config) (*Model, error) {
	loc, err := loadLocation(doc.Timezone)
	if err != nil {
		return nil, err
	}
	var internal []netip.Prefix
	for _, s := range doc.Internal {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: internal network %q", ErrFormat, s)
		}
		internal = append(internal, p)
	}
	m := New(cfg, loc, internal)
	m.tz = doc.Timezone
	cfg = m.cfg
	switch {
	case len(doc.Hosts) > cfg.MaxHosts:
		return nil, fmt.Errorf("%d hosts: more than max_hosts (%d)", len(doc.Hosts), cfg.MaxHosts)
	case len(doc.Edges) > cfg.MaxEdges:
		return nil, fmt.Errorf("%d edges: more than max_edges (%d)", len(doc.Edges), cfg.MaxEdges)
	case len(doc.Peers) > cfg.MaxPeers:
		return nil, fmt.Errorf("%d peers: more than max_peers (%d)", len(doc.Peers), cfg.MaxPeers)
	case len(doc.Names) > cfg.MaxNames:
		return nil, fmt.Errorf("%d names: more than max_names (%d)", len(doc.Names), cfg.MaxNames)
	case len(doc.AEPairs) > cfg.MaxLinks || len(doc.HL7Links) > cfg.MaxLinks:
		return nil, fmt.Errorf("more links than max_links (%d)", cfg.MaxLinks)
	}
	m.From, m.To, m.Observations, m.Overflow = doc.From, doc.To, doc.Observations, doc.Overflow
	for _, fh := range doc.Hosts {
		if !fh.Addr.IsValid() {
			return nil, fmt.Errorf("%w: host without an address", ErrFormat)
		}
		h := &Host{Addr: fh.Addr.Unmap(), Protocols: fh.Protocols, Names: fh.Names, First: fh.First, Last: fh.Last, Client: fh.Client, Server: fh.Server}
		for _, s := range fh.MACs {
			if mac, ok := parseMAC(s); ok {
				h.MACs = append(h.MACs, mac)
			}
		}
		for _, s := range fh.Services {
			h.Services = append(h.Services, Service(s))
		}
		if err := unsparse(fh.Hours, func(i int, v uint32) { h.Hours[i] = v }); err != nil {
			return nil, err
		}
		m.hosts[h.Addr] = h
	}
	for _, fe := range doc.Edges {
		k := EdgeKey{fe.Client.Unmap(), fe.Server.Unmap(), fe.Port, fe.Proto}
		e := &edge{count: fe.Count, bytes: fe.Bytes, first: fe.First.UnixNano(), last: fe.Last.UnixNano()}
		if err := unsparse(fe.Hours, func(i int, v uint32) { e.hours[i] = uint8(min(v, 0xff)) }); err != nil {
			return nil, err
		}
		m.edges[key(k)] = e
		m.clientPort[clientPortKey{k.Client, k.Port, k.Proto}]++
	}
	for _, fp := range doc.Peers {
		m.peers[PeerKey{fp.Internal.Unmap(), fp.External.Unmap()}] = &Peer{fp.Outbound, fp.Inbound, fp.Bytes, fp.First, fp.Last, fp.Names, fp.Ports}
		for _, n := range fp.Names {
			m.resolved[fp.External.Unmap()] = n
		}
	}
	for _, fn := range doc.Names {
		k := NameKey{fn.Host.Unmap(), fn.Name}
		m.names[k] = &Use{fn.Count, fn.First, fn.Last}
		if reg := RegisteredDomain(fn.Name); reg != "" {
			m.regs[NameKey{k.Host, reg}] = struct{}{}
		}
	}
	for _, a := range doc.AEPairs {
		m.ae[AEPair{a.Calling, a.Called}] = &Link{Use{a.Count, a.First, a.Last}, a.Client, a.Server}
	}
	for _, h := range doc.HL7Links {
		m.hl7[HL7Link{h.SendingApp, h.SendingFacility, h.ReceivingApp, h.ReceivingFacility}] = &Link{Use{h.Count, h.First, h.Last}, h.Client, h.Server}
	}
	return m, nil
}

func unsparse(pairs [][2]uint32, set func(int, uint32)) error {
	for _, p := range pairs {
		if p[0] >= HoursPerWeek {
			return fmt.Errorf("%w: hour of week %d out of range", ErrFormat, p[0])
		}
		set(int(p[0]), p[1])
	}
	return nil
}

// loadLocation loads the zone a baseline was learned in; Asia/Tokyo falls
// back to fixed UTC+9 where the system has no zone database.
func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "JST":
		return time.FixedZone("JST", 9*3600), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if name == "Asia/Tokyo" {
			return time.FixedZone("JST", 9*3600), nil
		}
		return nil, fmt.Errorf("baseline time zone %q: %w", name, err)
	}
	return loc, nil
}
