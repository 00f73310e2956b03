package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"mamori/pipeline/prefixset"
)

// Site holds the hospital's facts from the configuration file. Its YAML
// keys sit at the top level of mamori's configuration (appliance/config
// inlines it). Every field is optional; see examples/hospital-500.yaml.
//
// Values are kept as written and checked by Validate, which names the key
// path of each problem ("maintenance.0.windows.1.start: …") so that the
// loader can add the file and line. A Site is read-only once validated and
// safe for concurrent use then.
type Site struct {
	// Timezone is an IANA zone name for night hours and windows. Defaults
	// to Asia/Tokyo.
	Timezone string `yaml:"timezone"`
	// Night is the night-time span, local time. Defaults to 22:00–06:00.
	Night Night `yaml:"night"`
	// Segments name parts of the internal network by CIDR; the most
	// specific prefix wins.
	Segments []Segment `yaml:"segments"`
	// Servers lists known infrastructure by role (see Roles): addresses,
	// prefixes or segment names.
	Servers map[string]List `yaml:"servers"`
	// Admins are the hosts allowed to administer others over RDP and SMB
	// (admin shares, remote services).
	Admins List `yaml:"admins"`
	// AllowedExternal are the approved external peers.
	AllowedExternal []AllowExternal `yaml:"allowed_external"`
	// Maintenance lists vendors' remote maintenance access.
	Maintenance []Vendor `yaml:"maintenance"`
	// SegmentPolicy declares which flows between segments are allowed.
	SegmentPolicy SegmentPolicy `yaml:"segment_policy"`

	// Internal is networks.internal, set by the loader (it is not a key of
	// its own here). Empty means the RFC 1918, RFC 4193 and link-local
	// ranges.
	Internal []netip.Prefix `yaml:"-"`

	c *compiled
}

// Night is a daily span in local time, "HH:MM" each; it may cross midnight.
type Night struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// Segment is a named part of the internal network.
type Segment struct {
	Name  string `yaml:"name"`
	CIDRs List   `yaml:"cidrs"`
	Note  string `yaml:"note"`
}

// AllowExternal approves traffic between internal hosts and an external
// peer.
type AllowExternal struct {
	// From lists internal hosts: addresses, prefixes, segment or role
	// names. Empty means any internal host.
	From List `yaml:"from"`
	// To lists external addresses, prefixes or domain names ("example.com"
	// matches it and its subdomains; "*.example.com" only subdomains).
	To List `yaml:"to"`
	// Ports lists destination ports or ranges ("443", "8000-8100"); empty
	// means any.
	Ports List `yaml:"ports"`
	// Proto is tcp, udp, icmp or empty for any.
	Proto string `yaml:"proto"`
	Note  string `yaml:"note"`
}

// Vendor is one vendor's remote maintenance access.
type Vendor struct {
	Name string `yaml:"vendor"`
	// External lists the vendor's addresses, prefixes or domain names.
	External List `yaml:"external"`
	// Via lists the VPN router or jump host (踏み台) the vendor must come
	// through.
	Via List `yaml:"via"`
	// Reach lists the internal hosts the vendor may reach.
	Reach List `yaml:"reach"`
	// Windows are the approved maintenance windows; none means the vendor
	// is never approved (every session alerts).
	Windows []Window `yaml:"windows"`
	Note    string   `yaml:"note"`
}

// Window is a weekly maintenance window in local time. End before Start
// crosses midnight into the next day.
type Window struct {
	// Days: mon tue wed thu fri sat sun (or 月 火 水 木 金 土 日), weekdays,
	// weekends, daily.
	Days  List   `yaml:"days"`
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// SegmentPolicy lists the allowed flows between segments. Flows within a
// segment are always allowed. The policy applies only when Allow is not
// empty.
type SegmentPolicy struct {
	Allow []SegmentRule `yaml:"allow"`
}

// SegmentRule allows flows from one set of segments to another.
type SegmentRule struct {
	From  List   `yaml:"from"` // segment names, or "*"
	To    List   `yaml:"to"`
	Ports List   `yaml:"ports"` // empty: any
	Proto string `yaml:"proto"` // tcp, udp, icmp, empty: any
	Note  string `yaml:"note"`
}

// List is a YAML sequence of strings that also accepts a single scalar.
type List []string

// UnmarshalYAML accepts "x" as well as [x, y].
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = List{n.Value}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: want a value or a list of values", n.Line)
	}
	out := make(List, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: want a value, not a %s", c.Line, kindName(c.Kind))
		}
		out = append(out, c.Value)
	}
	*l = out
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// Roles are the server roles Site.Servers accepts.
var Roles = []string{
	"domain_controller", "dns", "ntp", "dhcp", "file_server", "print_server",
	"ehr", "database", "pacs", "modality", "hl7", "lis", "backup", "antivirus",
	"update", "proxy", "mail", "web", "monitoring", "jump_host", "vpn_router", "other",
}

// infrastructureRoles serve (nearly) every host: traffic to them is routine.
var infrastructureRoles = []string{"domain_controller", "dns", "ntp", "dhcp", "file_server", "print_server", "antivirus", "update", "proxy"}

// managerRoles reach many hosts by design (backups, monitoring, pushes).
var managerRoles = []string{"backup", "monitoring", "antivirus", "update"}

// FieldError is a problem with the value at a key path such as
// "night.start" or "maintenance.0.windows.1.days.2".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// ErrInvalid is wrapped by every Site validation error.
var ErrInvalid = errors.New("invalid site configuration")

// Is makes FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// DefaultInternal is used when Site.Internal is empty.
var DefaultInternal = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// compiled is the lookup form of a Site.
type compiled struct {
	loc                   *time.Location
	nightStart, nightEnd  int // minutes after midnight
	internal              prefixSet
	internalSet           prefixset.Set // internal's prefixes as words, for IsInternal
	segs                  []named       // most specific first
	segNames              []string
	roles                 []named // most specific first
	admins, jump, manager prefixSet
	infra                 prefixSet
	allowed               []allowRule
	vendors               []VendorInfo
	policy                []policyRule
}

type named struct {
	p    netip.Prefix
	name string
}

type prefixSet []netip.Prefix

func (s prefixSet) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type portRange struct{ lo, hi uint16 }

type ports []portRange

func (ps ports) match(p uint16) bool {
	if len(ps) == 0 {
		return true
	}
	for _, r := range ps {
		if p >= r.lo && p <= r.hi {
			return true
		}
	}
	return false
}

type allowRule struct {
	from, to prefixSet
	anyFrom  bool
	names    []string // lowercase; "*.x" or "x"
	ports    ports
	proto    uint8
	note     string
}

type policyRule struct {
	from, to []string // segment names; "*" any
	ports    ports
	proto    uint8
}

// VendorInfo is a validated maintenance entry.
type VendorInfo struct {
	Name     string
	Note     string
	external prefixSet
	names    []string
	via      prefixSet
	reach    prefixSet
	windows  []window
}

type window struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes
}

// Validate checks every value, compiles the lookups and returns the
// problems as FieldErrors joined (nil when there are none). The lookup
// methods call it when it was not called.
func (s *Site) Validate() error {
	c, err := s.compile()
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// WithInternal returns a copy of s with networks.internal set and its
// lookups compiled.
func (s Site) WithInternal(internal []netip.Prefix) (Site, error) {
	s.Internal = internal
	s.c = nil
	err := s.Validate()
	return s, err
}

func (s *Site) lookups() *compiled {
	if s.c == nil {
		c, err := s.compile()
		if err != nil {
			// An invalid site still answers: the constructors refuse it
			// first (New calls Validate), so this is only reached by
			// callers that skipped that; they get the defaults.
			c, _ = (&Site{Internal: s.Internal}).compile()
		}
		s.c = c
	}
	return s.c
}

type errs struct{ list []error }

func (e *errs) add(path, format string, args ...any) {
	e.list = append(e.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (s *Site) compile() (*compiled, error) {
	var e errs
	c := &compiled{}

	tz := s.Timezone
	if tz == "" {
		tz = "Asia/Tokyo"
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		e.add("timezone", "%q is not a time zone name such as Asia/Tokyo", s.Timezone)
		loc = time.UTC
	}
	c.loc = loc

	c.nightStart, c.nightEnd = 22*60, 6*60
	if s.Night.Start != "" {
		if m, ok := parseClock(s.Night.Start); ok {
			c.nightStart = m
		} else {
			e.add("night.start", "%q is not a time of day such as 22:00", s.Night.Start)
		}
	}
	if s.Night.End != "" {
		if m, ok := parseClock(s.Night.End); ok {
			c.nightEnd = m
		} else {
			e.add("night.end", "%q is not a time of day such as 06:00", s.Night.End)
		}
	}

	internal := s.Internal
	if len(internal) == 0 {
		internal = DefaultInternal
	}
	c.internal = prefixSet(internal)
	c.internalSet = prefixset.New(c.internal)

	// Segments first: other lists may name them.
	segCIDRs := map[string]prefixSet{}
	for i, sg := range s.Segments {
		path := "segments." + strconv.Itoa(i)
		name := strings.TrimSpace(sg.Name)
		switch {
		case name == "":
			e.add(path+".name", "every segment needs a name")
			continue
		case name == "*" || strings.ContainsAny(name, " /,"):
			e.add(path+".name", "%q: use letters, digits, '-' and '_'", name)
			continue
		case segCIDRs[name] != nil:
			e.add(path+".name", "segment %q is defined twice", name)
			continue
		}
		if len(sg.CIDRs) == 0 {
			e.add(path+".cidrs", "segment %q has no cidrs", name)
		}
		var set prefixSet
		for j, v := range sg.CIDRs {
			p, ok := parsePrefix(v)
			if !ok {
				e.add(path+".cidrs."+strconv.Itoa(j), "%q is not an address or CIDR prefix such as 10.10.0.0/16", v)
				continue
			}
			set = append(set, p)
			c.segs = append(c.segs, named{p, name})
		}
		segCIDRs[name] = append(set, prefixSet{}...)
		c.segNames = append(c.segNames, name)
	}
	sortNamed(c.segs)

	// Servers by role (they may name segments, not other roles).
	roleHosts := map[string]prefixSet{}
	roleNames := make([]string, 0, len(s.Servers))
	for role := range s.Servers {
		roleNames = append(roleNames, role)
	}
	slices.Sort(roleNames)
	for _, role := range roleNames {
		path := "servers." + role
		if !slices.Contains(Roles, role) {
			e.add(path, "unknown role %q (roles: %s)", role, strings.Join(Roles, ", "))
			continue
		}
		set := resolveHosts(&e, path, s.Servers[role], segCIDRs, nil)
		roleHosts[role] = set
		for _, p := range set {
			c.roles = append(c.roles, named{p, role})
		}
		if slices.Contains(infrastructureRoles, role) {
			c.infra = append(c.infra, set...)
		}
		if slices.Contains(managerRoles, role) {
			c.manager = append(c.manager, set...)
		}
		if role == "jump_host" || role == "vpn_router" {
			c.jump = append(c.jump, set...)
		}
	}
	sortNamed(c.roles)

	c.admins = resolveHosts(&e, "admins", s.Admins, segCIDRs, roleHosts)

	for i, a := range s.AllowedExternal {
		path := "allowed_external." + strconv.Itoa(i)
		r := allowRule{note: a.Note}
		if len(a.From) == 0 {
			r.anyFrom = true
		} else {
			r.from = resolveHosts(&e, path+".from", a.From, segCIDRs, roleHosts)
		}
		if len(a.To) == 0 {
			e.add(path+".to", "say which external addresses or domains are allowed")
		}
		r.to, r.names = resolvePeers(&e, path+".to", a.To)
		r.ports = parsePorts(&e, path+".ports", a.Ports)
		r.proto = parseProto(&e, path+".proto", a.Proto)
		c.allowed = append(c.allowed, r)
	}

	vendorNames := map[string]bool{}
	for i, v := range s.Maintenance {
		path := "maintenance." + strconv.Itoa(i)
		vi := VendorInfo{Name: strings.TrimSpace(v.Name), Note: v.Note}
		if vi.Name == "" {
			e.add(path+".vendor", "every maintenance entry needs a vendor name")
		} else if vendorNames[vi.Name] {
			e.add(path+".vendor", "vendor %q is listed twice", vi.Name)
		}
		vendorNames[vi.Name] = true
		if len(v.External) == 0 && len(v.Via) == 0 {
			e.add(path, "vendor %q needs external addresses or a via host (VPN router or jump host)", vi.Name)
		}
		vi.external, vi.names = resolvePeers(&e, path+".external", v.External)
		vi.via = resolveHosts(&e, path+".via", v.Via, segCIDRs, roleHosts)
		vi.reach = resolveHosts(&e, path+".reach", v.Reach, segCIDRs, roleHosts)
		c.jump = append(c.jump, vi.via...)
		for j, w := range v.Windows {
			wp := path + ".windows." + strconv.Itoa(j)
			var win window
			if len(w.Days) == 0 {
				e.add(wp+".days", "say on which days (mon … sun, weekdays, weekends, daily)")
			}
			for k, d := range w.Days {
				if !parseDays(d, &win.days) {
					e.add(wp+".days."+strconv.Itoa(k), "%q is not a day (mon … sun, 月 … 日, weekdays, weekends, daily)", d)
				}
			}
			var ok bool
			if win.start, ok = parseClock(w.Start); !ok {
				e.add(wp+".start", "%q is not a time of day such as 13:00", w.Start)
			}
			if win.end, ok = parseClock(w.End); !ok {
				e.add(wp+".end", "%q is not a time of day such as 17:00 (24:00 means midnight)", w.End)
			}
			vi.windows = append(vi.windows, win)
		}
		c.vendors = append(c.vendors, vi)
	}

	for i, r := range s.SegmentPolicy.Allow {
		path := "segment_policy.allow." + strconv.Itoa(i)
		pr := policyRule{ports: parsePorts(&e, path+".ports", r.Ports), proto: parseProto(&e, path+".proto", r.Proto)}
		for _, side := range []struct {
			key  string
			list List
			dst  *[]string
		}{{"from", r.From, &pr.from}, {"to", r.To, &pr.to}} {
			if len(side.list) == 0 {
				e.add(path+"."+side.key, "name the segments (or \"*\" for any)")
			}
			for j, name := range side.list {
				if name != "*" && segCIDRs[name] == nil {
					e.add(path+"."+side.key+"."+strconv.Itoa(j), "unknown segment %q (segments: %s)", name, strings.Join(c.segNames, ", "))
				}
				*side.dst = append(*side.dst, name)
			}
		}
		c.policy = append(c.policy, pr)
	}
	if len(c.policy) > 0 && len(c.segs) == 0 {
		e.add("segment_policy", "a segment policy needs segments")
	}
	return c, errors.Join(e.list...)
}

func sortNamed(ns []named) {
	slices.SortStableFunc(ns, func(a, b named) int { return b.p.Bits() - a.p.Bits() })
}

// resolveHosts turns addresses, prefixes, segment names and (when roles is
// not nil) role names into prefixes.
func resolveHosts(e *errs, path string, list List, segs, roles map[string]prefixSet) prefixSet {
	var out prefixSet
	for i, v := range list {
		v = strings.TrimSpace(v)
		if p, ok := parsePrefix(v); ok {
			out = append(out, p)
			continue
		}
		if set, ok := segs[v]; ok {
			out = append(out, set...)
			continue
		}
		if set, ok := roles[v]; ok && roles != nil {
			out = append(out, set...)
			continue
		}
		what := "an address, a CIDR prefix or a segment name"
		if roles != nil {
			what = "an address, a CIDR prefix, a segment or a server role"
		}
		e.add(path+"."+strconv.Itoa(i), "%q is not %s", v, what)
	}
	return out
}

// resolvePeers splits external peers into prefixes and domain names.
func resolvePeers(e *errs, path string, list List) (prefixSet, []string) {
	var out prefixSet
	var names []string
	for i, v := range list {
		v = strings.TrimSpace(v)
		if p, ok := parsePrefix(v); ok {
			out = append(out, p)
			continue
		}
		n := strings.ToLower(strings.TrimSuffix(v, "."))
		if !validDomain(strings.TrimPrefix(n, "*.")) {
			e.add(path+"."+strconv.Itoa(i), "%q is not an address, a CIDR prefix or a domain name", v)
			continue
		}
		names = append(names, n)
	}
	return out, names
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		q := netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
		return q, q.IsValid()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func parsePorts(e *errs, path string, list List) ports {
	var out ports
	for i, v := range list {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(v), "-")
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			e.add(path+"."+strconv.Itoa(i), "%q is not a port (0–65535) or a range such as 8000-8100", v)
			continue
		}
		out = append(out, portRange{uint16(a), uint16(b)})
	}
	return out
}

func parseProto(e *errs, path, s string) uint8 {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "any":
		return 0
	case "tcp":
		return 6
	case "udp":
		return 17
	case "icmp":
		return 1
	case "icmpv6", "ipv6-icmp":
		return 58
	}
	e.add(path, "%q is not tcp, udp, icmp or any", s)
	return 0
}

// parseClock parses "HH:MM" (00:00–24:00) into minutes after midnight.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(m) != 2 || len(h) == 0 || len(h) > 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

var dayNames = map[string][]time.Weekday{
	"sun": {time.Sunday}, "mon": {time.Monday}, "tue": {time.Tuesday}, "wed": {time.Wednesday},
	"thu": {time.Thursday}, "fri": {time.Friday}, "sat": {time.Saturday},
	"日": {time.Sunday}, "月": {time.Monday}, "火": {time.Tuesday}, "水": {time.Wednesday},
	"木": {time.Thursday}, "金": {time.Friday}, "土": {time.Saturday},
	"weekdays": {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	"weekends": {time.Saturday, time.Sunday},
	"daily":    {time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
	"平日":       {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	"毎日":       {time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
}

func parseDays(s string, days *[7]bool) bool {
	k := strings.ToLower(strings.TrimSpace(s))
	if dayNames[k] == nil && strings.HasSuffix(k, "曜日") {
		k = strings.TrimSuffix(k, "曜日") // 月曜日 → 月
	}
	if len(k) > 3 && strings.HasSuffix(k, "day") && dayNames[k[:3]] != nil {
		k = k[:3] // monday, tuesday …
	}
	ds, ok := dayNames[k]
	if !ok {
		return false
	}
	for _, d := range ds {
		days[d] = true
	}
	return true
}

// LoadLocation loads an IANA time zone. Asia/Tokyo (and JST) fall back to a
// fixed UTC+9 zone where the system has no zone database: Japan has no
// daylight saving time.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "UTC", "utc":
		return time.UTC, nil
	case "JST":
		name = "Asia/Tokyo"
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil && name == "Asia/Tokyo" {
		loc, err = time.FixedZone("JST", 9*3600), nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading time zone %q: %w", name, err)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones caches loaded time zones (time.LoadLocation reads the zone
// database every time).
var zones sync.Map
