package smblateral

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
)

// Meta describes the rule.
var Meta = rules.Meta{
	ID:          "smb-lateral",
	Name:        "Lateral movement over SMB",
	Category:    "lateral_movement",
	Description: "A host spreads over SMB: it reaches file sharing on hosts it never used, opens administrative shares, copies programs to them or creates services on them, or renames many files (ransomware).",
	Reference:   "https://attack.mitre.org/techniques/T1021/002/",
	Version:     "1",
	Technique:   []string{"T1021.002", "T1570", "T1569.002"},
	Tactic:      []string{"TA0008", "TA0002"},
	Severity:    rules.High,
	Message: [2]string{
		"{src} is moving through the network over SMB (Windows file sharing): {what}",
		"{src} がSMB(Windowsファイル共有)を使ってネットワーク内に広がろうとしています: {what}",
	},
}

// Protocol facts read from SMB records (pipeline/proto/smb implements
// them). Strings must stay valid after the call.
type (
	// Tree is implemented by SMB records of a tree connect: the UNC path
	// (`\\host\share`) and the NT status name of the answer
	// ("STATUS_SUCCESS", "STATUS_ACCESS_DENIED"; "" when unanswered).
	// Records that are not tree connects return "".
	Tree interface {
		SMBTree() (path, status string)
	}
	// File is implemented by SMB records of file operations. op is
	// "create" (opened or created), "write" (closed after writing),
	// "rename" or "delete"; share is the UNC path of the tree, name the
	// path inside it, newName the target of a rename. Other records
	// return op "".
	File interface {
		SMBFile() (op, share, name, newName string)
	}
	// RPC is implemented by DCE/RPC records over SMB named pipes: the pipe
	// ("svcctl", "atsvc") and the operation name ("CreateServiceW");
	// operation is "" for a bind.
	RPC interface {
		DCERPC() (pipe, operation string)
	}
)

// Findings, most severe last.
const (
	findFanout uint16 = 1 << iota
	findAdminShare
	findExecWrite
	findRemoteTask
	findRemoteService
)

var findingNames = []struct {
	bit       uint16
	action    string
	technique string
	sev       int
	en, ja    string
}{
	{findRemoteService, "smb_remote_service", "T1569.002", rules.Critical, "created or started a service remotely (PsExec style)", "リモートでサービスを作成・起動しました(PsExec型)"},
	{findRemoteTask, "smb_remote_task", "T1053.005", rules.Critical, "scheduled a task remotely", "リモートでタスクを登録しました"},
	{findExecWrite, "smb_exec_write", "T1570", rules.Critical, "copied programs onto administrative shares", "管理共有にプログラムをコピーしました"},
	{findAdminShare, "smb_admin_share", "T1021.002", rules.High, "opened administrative shares (ADMIN$, C$)", "管理共有(ADMIN$、C$など)に接続しました"},
	{findFanout, "smb_fanout", "T1021.002", rules.High, "reached file sharing on hosts it never used before", "これまで使ったことのない端末のファイル共有に次々と接続しました"},
}

// Detector is the rule's state. It is driven by one goroutine.
type Detector struct {
	cfg  Config
	site rules.Site
	base baseline.View

	sources map[netip.Addr]*source
	tags    *rules.FlowTags
	eps     *rules.Episodes[netip.Addr]
	ransom  *rules.Episodes[netip.Addr]
	now     time.Time
	sweep   time.Time // next sweep of expired state (once a minute)

	droppedSources, droppedTargets, droppedFiles uint64
}

type source struct {
	targets map[netip.Addr]*target
	last    time.Time
	count   uint64

	findings, raised uint16
	shares           []string
	files            []string
	ops              []string
	users            []string
	flows            []event.FlowID
	cids             []event.CommunityID
	ports            []uint16
	firstFinding     time.Time

	// extension changes
	stems       map[string]*stemState // file stem (lowercase, with directory)
	changes     []change
	ransomPort  uint16
	ransomFlows []event.FlowID
	ransomCIDs  []event.CommunityID
}

// stemState is what one source did to the files of one stem: the
// extension first seen, a new extension written, the original deleted.
type stemState struct {
	ext, wrote string
	deleted    bool
	counted    bool
}

type change struct {
	at  time.Time
	ext string
	dst netip.Addr
}

type target struct {
	first, last time.Time
	isNew       bool // SMB to it is not in the baseline
	failed      bool // every attempt failed
	findings    uint16
}

// New returns the rule's detector. base may be nil (no baseline).
func New(cfg Config, site rules.Site, base baseline.View) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	if err := site.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Meta.ID, err)
	}
	cfg = cfg.withDefaults()
	return &Detector{
		cfg: cfg, site: site, base: base,
		sources: map[netip.Addr]*source{}, tags: rules.NewFlowTags(8192),
		eps:    rules.NewEpisodes[netip.Addr](cfg.Window, cfg.MaxSources),
		ransom: rules.NewEpisodes[netip.Addr](cfg.BurstWindow, cfg.MaxSources),
	}, nil
}

func (d *Detector) exempt(src netip.Addr) bool {
	return !d.cfg.AlertAdmins && d.site.IsAdmin(src)
}

// Observe implements rules.Detector.
func (d *Detector) Observe(r event.Record, raise rules.Raise) {
	if f, ok := r.(*event.Flow); ok {
		d.flow(f, raise)
		return
	}
	b, ok := r.(rules.Based)
	if !ok {
		return
	}
	base := b.BaseRecord()
	if base.Protocol != "smb" && base.Protocol != "smb2" && base.Protocol != "smb1" && base.Protocol != "dcerpc" {
		return
	}
	d.tags.Put(base.FlowID, rules.FlowTag{Protocol: "smb"})
	src, dst := base.Source.Addr().Unmap(), base.Destination.Addr().Unmap()
	at := base.Timestamp
	if at.After(d.now) {
		d.now = at
	}
	if t, ok := r.(Tree); ok {
		if path, status := t.SMBTree(); path != "" {
			d.tree(src, dst, at, path, status, base, raise)
		}
	}
	if f, ok := r.(File); ok {
		if op, share, name, newName := f.SMBFile(); op != "" {
			d.file(src, dst, at, op, share, name, newName, base, raise)
		}
	}
	if c, ok := r.(RPC); ok {
		if pipe, op := c.DCERPC(); op != "" {
			d.rpc(src, dst, at, pipe, op, base, raise)
		}
	}
}

func (d *Detector) flow(f *event.Flow, raise rules.Raise) {
	tag, tagged := d.tags.Get(f.ID)
	if f.Final {
		d.tags.Drop(f.ID)
	}
	if f.Transport != 6 || !(tagged && tag.Protocol == "smb" || slices.Contains(d.cfg.Ports, f.Destination.Port)) {
		return
	}
	src, dst := f.Source.IP.Unmap(), f.Destination.IP.Unmap()
	if src == dst || !d.site.IsInternal(dst) || d.exempt(src) || d.site.IsManager(src) {
		return
	}
	if f.Start.After(d.now) {
		d.now = f.Start
	}
	s := d.source(src)
	if s == nil {
		return
	}
	t := d.target(s, src, dst, f.Start)
	if t == nil {
		return
	}
	if !rules.FlowFailed(f) {
		t.failed = false
	}
	s.last = rules.Later(s.last, f.End)
	s.count++
	s.flows = rules.Sample(s.flows, f.ID, 16)
	if !f.CommunityID.IsZero() {
		s.cids = rules.Sample(s.cids, f.CommunityID, 16)
	}
	s.ports = rules.Sample(s.ports, f.Destination.Port, 4)
	newTargets := 0
	for _, t := range s.targets {
		if t.isNew {
			newTargets++
		}
	}
	if newTargets >= d.cfg.MinNewTargets {
		s.findings |= findFanout
	}
	d.check(src, s, raise, false)
}

func (d *Detector) source(src netip.Addr) *source {
	s := d.sources[src]
	if s == nil {
		if len(d.sources) >= d.cfg.MaxSources {
			d.droppedSources++
			return nil
		}
		s = &source{targets: map[netip.Addr]*target{}}
		d.sources[src] = s
	}
	return s
}

// target returns (creating) src's state for dst, expiring targets quiet
// for longer than the window (those with findings stay for the episode).
func (d *Detector) target(s *source, src, dst netip.Addr, at time.Time) *target {
	for a, t := range s.targets {
		if t.findings == 0 && d.now.Sub(t.last) > d.cfg.Window {
			delete(s.targets, a)
		}
	}
	t := s.targets[dst]
	if t == nil {
		if len(s.targets) >= d.cfg.MaxTargets {
			d.droppedTargets++
			return nil
		}
		t = &target{first: at, last: at, failed: true, isNew: d.isNew(src, dst)}
		s.targets[dst] = t
	}
	t.last = rules.Later(t.last, at)
	return t
}

// isNew reports whether SMB from the source to dst counts as new: not in
// the baseline (on any SMB port); without a baseline, any host but the
// configured infrastructure servers (domain controllers, file servers…).
func (d *Detector) isNew(src, dst netip.Addr) bool {
	if d.base == nil || !d.base.Ready() {
		return !d.site.IsInfrastructure(dst)
	}
	for _, p := range d.cfg.Ports {
		if _, ok := d.base.Edge(baseline.EdgeKey{Client: src, Server: dst, Port: p, Proto: 6}); ok {
			return false
		}
	}
	return true
}

// shareName returns the share of a UNC path, upper-cased: `\\h\admin$` →
// "ADMIN$".
func shareName(path string) string {
	path = strings.TrimRight(path, `\/`)
	if i := strings.LastIndexAny(path, `\/`); i >= 0 {
		path = path[i+1:]
	}
	return strings.ToUpper(path)
}

// adminShare reports whether share is an administrative one: ADMIN$ and
// the drive shares C$, D$ …, or one of the configured extras. Other
// hidden shares (home$, users$) are ordinary file shares in hospitals.
func (d *Detector) adminShare(share string) bool {
	if share == "ADMIN$" || len(share) == 2 && share[1] == '$' && share[0] >= 'A' && share[0] <= 'Z' {
		return true
	}
	return slices.Contains(d.cfg.AdminShares, share)
}

func (d *Detector) tree(src, dst netip.Addr, at time.Time, path, status string, b *event.Base, raise rules.Raise) {
	share := shareName(path)
	if !d.adminShare(share) || d.exempt(src) {
		return
	}
	d.finding(src, dst, at, findAdminShare, `\\`+dst.String()+`\`+share+statusNote(status), b, raise)
}

func statusNote(status string) string {
	if status == "" || status == "STATUS_SUCCESS" {
		return ""
	}
	return " (" + status + ")"
}

func (d *Detector) file(src, dst netip.Addr, at time.Time, op, share, name, newName string, b *event.Base, raise rules.Raise) {
	sh := shareName(share)
	if (op == "create" || op == "write") && d.adminShare(sh) && d.executable(name) && !d.exempt(src) {
		d.finding(src, dst, at, findExecWrite, `\\`+dst.String()+`\`+sh+`\`+strings.TrimLeft(name, `\`), b, raise)
	}
	d.extensions(src, dst, at, op, name, newName, b, raise)
}

func (d *Detector) executable(name string) bool {
	_, ext := splitExt(name)
	return ext != "" && slices.Contains(d.cfg.Executables, ext)
}

func (d *Detector) rpc(src, dst netip.Addr, at time.Time, pipe, op string, b *event.Base, raise rules.Raise) {
	if d.exempt(src) {
		return
	}
	pipe = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(pipe), `\pipe\`), `\`))
	switch {
	case pipe == "svcctl" && (strings.HasPrefix(op, "CreateService") || strings.HasPrefix(op, "StartService") || strings.HasPrefix(op, "RCreateService") || strings.HasPrefix(op, "RStartService")):
		d.finding(src, dst, at, findRemoteService, pipe+" "+op, b, raise)
	case pipe == "atsvc" && (op == "NetrJobAdd" || op == "SchRpcRegisterTask"):
		d.finding(src, dst, at, findRemoteTask, pipe+" "+op, b, raise)
	}
}

func (d *Detector) finding(src, dst netip.Addr, at time.Time, bit uint16, what string, b *event.Base, raise rules.Raise) {
	s := d.source(src)
	if s == nil {
		return
	}
	t := d.target(s, src, dst, at)
	if t == nil {
		return
	}
	t.findings |= bit
	t.failed = false
	s.findings |= bit
	s.count++
	if s.firstFinding.IsZero() || at.Before(s.firstFinding) {
		s.firstFinding = at
	}
	s.last = rules.Later(s.last, at)
	switch bit {
	case findAdminShare:
		s.shares = rules.Sample(s.shares, what, 8)
	case findExecWrite:
		s.files = rules.Sample(s.files, what, 8)
	default:
		s.ops = rules.Sample(s.ops, what, 8)
	}
	for _, u := range b.RelatedUsers {
		s.users = rules.Sample(s.users, u, 4)
	}
	s.flows = rules.Sample(s.flows, b.FlowID, 16)
	if !b.CommunityID.IsZero() {
		s.cids = rules.Sample(s.cids, b.CommunityID, 16)
	}
	s.ports = rules.Sample(s.ports, b.Destination.Port(), 4)
	d.check(src, s, raise, false)
}

// check raises or updates src's lateral-movement episode.
func (d *Detector) check(src netip.Addr, s *source, raise rules.Raise, final bool) {
	if s.findings == 0 {
		return
	}
	// The targets that matter: new ones (for a fan-out) and those with
	// findings.
	var addrs []netip.Addr
	newTargets, failed, servers := 0, 0, 0
	var first time.Time
	for a, t := range s.targets {
		if !(t.isNew && s.findings&findFanout != 0) && t.findings == 0 {
			continue
		}
		addrs = append(addrs, a)
		if t.isNew {
			newTargets++
		}
		if t.failed {
			failed++
		}
		if d.site.IsServer(a) {
			servers++
		}
		if first.IsZero() || t.first.Before(first) {
			first = t.first
		}
	}
	if len(addrs) == 0 {
		return
	}
	sev, action, techs := rules.Low, "", []string(nil)
	var whatEN, whatJA []string
	for _, f := range findingNames {
		if s.findings&f.bit == 0 {
			continue
		}
		if action == "" {
			action = f.action
		}
		sev = max(sev, f.sev)
		techs = append(techs, f.technique)
		whatEN, whatJA = append(whatEN, f.en), append(whatJA, f.ja)
	}
	var why []string
	if servers > 0 {
		sev++
		why = append(why, strconv.Itoa(servers)+" targets are servers")
	}
	if d.site.IsNight(first) {
		sev++
		why = append(why, "at night")
	}
	key := "smb/" + src.String()
	ep, _ := d.eps.Open(src, Meta.NewAlert(key, first, s.last, sev))
	ep.Touch(s.last)
	n := uint64(len(addrs))
	ep.Pending = max(ep.Pending, n)
	if !(final || ep.Due(n, sev) || s.findings != s.raised) {
		return
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	a := ep.Alert
	rules.SetSeverity(&a, max(sev, ep.Severity))
	a.Action = action
	a.Threat = rules.Threat(append(techs, "T1021.002"), Meta.Tactic)
	a.Source = event.AlertEndpoint{IP: src}
	a.Destination = event.AlertEndpoint{}
	if len(addrs) == 1 {
		a.Destination = event.AlertEndpoint{IP: addrs[0], Port: 445}
	}
	a.Transport, a.Protocol = 6, "smb"
	a.Related = append([]netip.Addr{src}, addrs[:min(len(addrs), 32)]...)
	a.RelatedUsers = s.users
	a.Evidence = event.AlertEvidence{
		Count: s.count, TargetCount: len(addrs), Targets: addrs[:min(len(addrs), 32)], Ports: s.ports,
		FlowIDs: s.flows, CommunityIDs: s.cids,
	}
	facts := &a.Evidence.Facts
	*facts = append(*facts, event.Fact{Name: "findings", Value: strings.Join(actions(s.findings), ",")})
	if s.findings&findFanout != 0 {
		*facts = append(*facts, event.Fact{Name: "new_targets", Value: strconv.Itoa(newTargets)},
			event.Fact{Name: "failed_targets", Value: strconv.Itoa(failed)})
	}
	for _, v := range s.shares {
		*facts = append(*facts, event.Fact{Name: "admin_share", Value: v})
	}
	for _, v := range s.files {
		*facts = append(*facts, event.Fact{Name: "program_written", Value: v})
	}
	for _, v := range s.ops {
		*facts = append(*facts, event.Fact{Name: "remote_call", Value: v})
	}
	for _, w := range why {
		*facts = append(*facts, event.Fact{Name: "severity_raised", Value: w})
	}
	filter := "host " + src.String() + " and " + rules.PortFilter("tcp", s.ports)
	if len(addrs) == 1 {
		filter = "host " + src.String() + " and host " + addrs[0].String() + " and " + rules.PortFilter("tcp", s.ports)
	}
	a.Pcap = event.PcapQuery{Filter: filter, From: first, To: s.last}
	list, listJA := rules.AddrList(addrs, len(addrs), 8), rules.AddrListJA(addrs, len(addrs), 8)
	a.Message = rules.Fill(Meta.Message[0], "src", src.String(), "what", strings.Join(whatEN, "; ")) + rules.Fill(
		" on {n} hosts ({list}). Now: unplug {src} from the network and, if programs were copied or services created, also the targets "+
			"(do not switch them off, do not run a virus scan: both destroy evidence); change the password of the account used{users}; call the IT security contact.",
		"n", strconv.Itoa(len(addrs)), "list", list, "src", src.String(), "users", userNote(s.users, " (%s)"))
	a.MessageJA = rules.Fill(Meta.Message[1], "src", src.String(), "what", strings.Join(whatJA, "、")) + rules.Fill(
		"（対象 {n} 台: {list}）。今すぐ: {src} のLANケーブルを抜いて隔離してください。プログラムのコピーやサービス作成があった場合は対象の端末も隔離してください"+
			"（電源は切らない・ウイルススキャンはしない: 証拠が消えます）。使われたアカウント{users}のパスワードを変更し、セキュリティ担当に連絡してください。",
		"n", strconv.Itoa(len(addrs)), "list", listJA, "src", src.String(), "users", userNote(s.users, "（%s）"))
	ep.Alert = a
	s.raised = s.findings
	ep.Raise(raise, n)
}

func userNote(users []string, format string) string {
	if len(users) == 0 {
		return ""
	}
	return fmt.Sprintf(format, strings.Join(users, ", "))
}

func actions(f uint16) []string {
	var out []string
	for i := len(findingNames) - 1; i >= 0; i-- {
		if f&findingNames[i].bit != 0 {
			out = append(out, findingNames[i].action)
		}
	}
	return out
}

// splitExt splits a file path into its stem (directory and base name
// without the extension) and its lowercase extension.
func splitExt(name string) (stem, ext string) {
	base := name
	if i := strings.LastIndexAny(name, `\/`); i >= 0 {
		base = name[i+1:]
	}
	j := strings.LastIndexByte(base, '.')
	if j <= 0 || j == len(base)-1 || len(base)-j > 12 {
		return strings.ToLower(name), ""
	}
	return strings.ToLower(name[:len(name)-len(base)+j]), strings.ToLower(base[j+1:])
}

// extensions counts files that get a new extension the way ransomware
// gives it: renamed from x.a to x.b (or x.a.b), or written as x.b after
// x.a was opened, with x.a then deleted (in either order).
func (d *Detector) extensions(src, dst netip.Addr, at time.Time, op, name, newName string, b *event.Base, raise rules.Raise) {
	if op != "rename" && op != "create" && op != "write" && op != "delete" {
		return
	}
	s := d.source(src)
	if s == nil {
		return
	}
	newExt := ""
	switch op {
	case "rename":
		oldStem, oldExt := splitExt(name)
		newStem, ext := splitExt(newName)
		if ext != "" && ext != oldExt && (newStem == oldStem || strings.HasPrefix(newStem, oldStem+".") || newStem == strings.ToLower(name)) {
			newExt = ext
		}
	default:
		stem, ext := splitExt(name)
		if ext == "" {
			return
		}
		if s.stems == nil {
			s.stems = map[string]*stemState{}
		}
		st := s.stems[stem]
		switch {
		case st == nil && op != "delete":
			if len(s.stems) >= d.cfg.MaxFiles {
				d.droppedFiles++
				clear(s.stems) // forget and start over: bounded
			}
			s.stems[stem] = &stemState{ext: ext}
		case st == nil || st.counted:
		case op == "write" && ext != st.ext:
			st.wrote = ext
			if st.deleted {
				newExt = ext
			}
		case op == "delete" && ext == st.ext:
			st.deleted = true
			if st.wrote != "" {
				newExt = st.wrote
			}
		}
		if newExt != "" {
			st.counted = true
		}
	}
	if newExt == "" {
		return
	}
	cut := 0
	for cut < len(s.changes) && at.Sub(s.changes[cut].at) > d.cfg.BurstWindow {
		cut++
	}
	s.changes = append(s.changes[:0], s.changes[cut:]...)
	if len(s.changes) < 4*d.cfg.MaxFiles {
		s.changes = append(s.changes, change{at, newExt, dst})
	}
	s.last = rules.Later(s.last, at)
	s.ransomPort = b.Destination.Port()
	s.ransomFlows = rules.Sample(s.ransomFlows, b.FlowID, 8)
	if !b.CommunityID.IsZero() {
		s.ransomCIDs = rules.Sample(s.ransomCIDs, b.CommunityID, 8)
	}
	for _, u := range b.RelatedUsers {
		s.users = rules.Sample(s.users, u, 4)
	}
	d.checkRansom(src, s, raise, false)
}

// checkRansom raises or updates src's ransomware-like burst episode.
func (d *Detector) checkRansom(src netip.Addr, s *source, raise rules.Raise, final bool) {
	counts := map[string]int{}
	var top string
	for _, c := range s.changes {
		counts[c.ext]++
		if counts[c.ext] > counts[top] {
			top = c.ext
		}
	}
	n := counts[top]
	if n < d.cfg.BurstFiles {
		return
	}
	var first, at time.Time
	var targets []netip.Addr
	for _, c := range s.changes {
		if c.ext == top {
			if first.IsZero() {
				first = c.at
			}
			at = c.at
			targets = rules.Sample(targets, c.dst, 32)
		}
	}
	key := "ransom/" + src.String()
	ep, _ := d.ransom.Open(src, Meta.NewAlert(key, first, at, rules.Critical))
	ep.Touch(at)
	if ep.Raised > 0 && uint64(n) < ep.Raised {
		return // the window slid past earlier files: keep the larger count
	}
	ep.Pending = max(ep.Pending, uint64(n))
	if !final && !ep.Due(uint64(n), rules.Critical) {
		return
	}
	a := ep.Alert
	a.Action = "smb_ransomware"
	a.Threat = rules.Threat([]string{"T1486"}, []string{"TA0040"})
	a.Source = event.AlertEndpoint{IP: src}
	port := strconv.Itoa(int(s.ransomPort))
	if len(targets) == 1 {
		a.Destination = event.AlertEndpoint{IP: targets[0], Port: s.ransomPort}
	}
	a.Transport, a.Protocol = 6, "smb"
	a.Related = append([]netip.Addr{src}, targets...)
	a.RelatedUsers = s.users
	a.Evidence = event.AlertEvidence{Count: uint64(n), TargetCount: len(targets), Targets: targets,
		FlowIDs: s.ransomFlows, CommunityIDs: s.ransomCIDs, Facts: []event.Fact{{Name: "new_extension", Value: "." + top},
			{Name: "files_in_window", Value: strconv.Itoa(n)}, {Name: "window", Value: d.cfg.BurstWindow.String()}}}
	filter := "host " + src.String() + " and tcp port " + port
	if len(targets) == 1 {
		filter = "host " + src.String() + " and host " + targets[0].String() + " and tcp port " + port
	}
	a.Pcap = event.PcapQuery{Filter: filter, From: first, To: at}
	a.Message = rules.Fill("{src} gave {n} files on {list} the new extension .{ext} within {span}: this is how ransomware encrypts shared files. "+
		"Now: unplug {src} from the network at once (do not switch it off), stop the file shares it writes to or disconnect them, do not pay or contact the attacker, "+
		"and call the IT security contact and the police. Keep the backups offline.",
		"src", src.String(), "n", strconv.Itoa(n), "list", rules.AddrList(targets, len(targets), 4), "ext", top, "span", rules.Span(at.Sub(first)))
	a.MessageJA = rules.Fill("{src} が {span} の間に {list} 上の {n} 個のファイルの拡張子を .{ext} に変えました。ランサムウェアが共有ファイルを暗号化するときの動きです。"+
		"今すぐ: {src} のLANケーブルを抜いて隔離してください（電源は切らない）。書き込み先のファイル共有を停止または切断し、攻撃者への支払いや連絡はしないでください。"+
		"セキュリティ担当と警察に連絡し、バックアップはネットワークから切り離して保管してください。",
		"src", src.String(), "n", strconv.Itoa(n), "list", rules.AddrListJA(targets, len(targets), 4), "ext", top, "span", rules.SpanJA(at.Sub(first)))
	ep.Alert = a
	ep.Raise(raise, uint64(n))
}

// Tick implements rules.Detector.
func (d *Detector) Tick(now time.Time, raise rules.Raise) {
	if now.After(d.now) {
		d.now = now
	}
	d.eps.Expire(d.now, func(src netip.Addr, ep *rules.Episode) {
		if s := d.sources[src]; s != nil {
			d.check(src, s, raise, true)
		}
	})
	d.ransom.Expire(d.now, func(src netip.Addr, ep *rules.Episode) {
		if s := d.sources[src]; s != nil {
			d.checkRansom(src, s, raise, true)
		}
	})
	if d.now.Before(d.sweep) {
		return
	}
	d.sweep = d.now.Add(time.Minute)
	for a, s := range d.sources {
		if d.now.Sub(s.last) > d.cfg.Window && d.eps.Get(a) == nil && d.ransom.Get(a) == nil {
			delete(d.sources, a)
		}
	}
}

// Stats implements rules.Stats.
func (d *Detector) Stats() []event.MetricValue {
	return []event.MetricValue{
		{Name: "sources", Value: uint64(len(d.sources))},
		{Name: "episodes", Value: uint64(d.eps.Len() + d.ransom.Len())},
		{Name: "dropped_sources", Value: d.droppedSources},
		{Name: "dropped_targets", Value: d.droppedTargets},
		{Name: "dropped_files", Value: d.droppedFiles},
		{Name: "evicted_episodes", Value: d.eps.Evicted + d.ransom.Evicted},
		{Name: "evicted_flow_tags", Value: d.tags.Evicted},
	}
}
