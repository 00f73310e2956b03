package pcapstore

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The query language is the subset of tcpdump's filter language (pcap-filter(7))
// that analysts use to pull packets, plus two primitives of mamori's own:
//
//	expr      = term { ("and" | "&&" | "or" | "||") term }   (and, or: equal precedence, left to right, as in tcpdump)
//	term      = ("not" | "!") term | "(" expr ")" | primitive | value  (a bare value repeats the last primitive's qualifiers)
//	primitive = [proto] [dir] ("host" addr | "net" prefix | "net" addr "mask" mask | "port" port | "portrange" port "-" port)
//	          | [dir] addr
//	          | "tcp" | "udp" | "sctp" | "icmp" | "icmp6" | "ip" | "ip6" | "arp" | "rarp"
//	          | ["ip" | "ip6"] "proto" number
//	          | "community-id" id   (Community ID v1, "1:…=")
//	          | "alert" id          (the packets pinned for that alert: its expression in its time window)
//	dir       = "src" | "dst" | "src or dst" | "src and dst"
//	proto     = "ip" | "ip6" | "arp" | "rarp" (before host or net) | "tcp" | "udp" | "sctp" (before port or portrange)
//
// Host names are not resolved: give addresses. Port names are the common
// services (http, https, domain, ssh, …).

// Expr is a parsed query expression. It is immutable and safe for
// concurrent use.
type Expr struct {
	text string
	root *node
}

// String returns the expression as written.
func (e *Expr) String() string { return e.text }

// SyntaxError is a query expression that could not be parsed. Pos is the
// byte offset of the problem in Expr.
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: column %d: %s", e.Pos+1, e.Msg)
}

// Detail returns the error with the expression and a caret under the
// problem, for a terminal:
//
//	query: column 15: expected a port number or name after "port", found "htp"
//	  host 10.0.0.1 and port htp
//	                         ^
func (e *SyntaxError) Detail() string {
	return e.Error() + "\n  " + e.Expr + "\n  " + strings.Repeat(" ", e.Pos) + "^"
}

type opKind uint8

const (
	opPrim opKind = iota
	opAnd
	opOr
	opNot
)

type primKind uint8

const (
	pHost  primKind = iota // host and net: prefix
	pPort                  // port and portrange: lo..hi
	pProto                 // protocol tests
	pCID
	pAlert
)

type dirKind uint8

const (
	dirAny  dirKind = iota // src or dst
	dirSrc                 // src
	dirDst                 // dst
	dirBoth                // src and dst
)

type qual uint8

const (
	qNone qual = iota
	qIP
	qIP6
	qARP
	qRARP
	qTCP
	qUDP
	qSCTP
	qICMP
	qICMP6
	qProto // "proto N": ip or ip6
)

var qualNames = map[string]qual{
	"ip": qIP, "ip6": qIP6, "arp": qARP, "rarp": qRARP,
	"tcp": qTCP, "udp": qUDP, "sctp": qSCTP, "icmp": qICMP, "icmp6": qICMP6,
}

type node struct {
	op   opKind
	l, r *node
	p    prim
}

type prim struct {
	kind   primKind
	dir    dirKind
	q      qual
	prefix netip.Prefix
	lo, hi uint16
	num    uint8 // protocol number for "proto N"; -1 none
	hasNum bool
	cid    CommunityID
	alert  string
	pin    *Pin  // resolved alert
	sub    *node // resolved alert expression
}

// token kinds
type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tLParen
	tRParen
	tAnd
	tOr
	tNot
)

type token struct {
	kind tokKind
	text string
	pos  int
}

const maxExprLen = 4096
const maxDepth = 100

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '!':
			toks = append(toks, token{tNot, "!", i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(s) || s[i+1] != c {
				return nil, &SyntaxError{s, i, fmt.Sprintf("%q: did you mean %q?", string(c), string([]byte{c, c}))}
			}
			k := tAnd
			if c == '|' {
				k = tOr
			}
			toks = append(toks, token{k, s[i : i+2], i})
			i += 2
		case c < 0x20 || c >= 0x7f:
			return nil, &SyntaxError{s, i, fmt.Sprintf("unexpected character %q", rune(c))}
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()!&|", rune(s[j])) && s[j] >= 0x20 && s[j] < 0x7f {
				j++
			}
			w := s[i:j]
			k := tWord
			switch w {
			case "and":
				k = tAnd
			case "or":
				k = tOr
			case "not":
				k = tNot
			}
			toks = append(toks, token{k, w, i})
			i = j
		}
	}
	toks = append(toks, token{tEOF, "", len(s)})
	return toks, nil
}

type parser struct {
	s     string
	toks  []token
	i     int
	depth int
	last  *prim // qualifiers a bare value repeats
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &SyntaxError{p.s, t.pos, fmt.Sprintf(format, args...)}
}

func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the query"
	}
	return strconv.Quote(t.text)
}

// ParseExpr parses a query expression. Errors are *SyntaxError with the
// position of the problem. An empty expression matches every packet.
func ParseExpr(s string) (*Expr, error) {
	if len(s) > maxExprLen {
		return nil, &SyntaxError{s[:64] + "…", 64, fmt.Sprintf("query longer than %d bytes", maxExprLen)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	e := &Expr{text: s}
	if toks[0].kind == tEOF {
		return e, nil
	}
	p := &parser{s: s, toks: toks}
	root, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t, "unbalanced \")\"")
		}
		return nil, p.errAt(t, "expected \"and\" or \"or\" before %s", describe(t))
	}
	e.root = root
	return e, nil
}

func (p *parser) expr() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(p.peek(), "expression nested deeper than %d", maxDepth)
	}
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op opKind
		switch t.kind {
		case tAnd:
			op = opAnd
		case tOr:
			op = opOr
		default:
			return left, nil
		}
		p.next()
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = &node{op: op, l: left, r: right}
	}
}

func (p *parser) term() (*node, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errAt(t, "expression nested deeper than %d", maxDepth)
		}
		sub, err := p.term()
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, l: sub}, nil
	case tLParen:
		p.next()
		sub, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			if c.kind == tEOF {
				return nil, p.errAt(t, "unclosed \"(\"")
			}
			return nil, p.errAt(c, "expected \")\" or \"and\"/\"or\", found %s", describe(c))
		}
		p.next()
		return sub, nil
	case tWord:
		return p.primitive()
	case tEOF:
		return nil, p.errAt(t, "expected a primitive (host, net, port, tcp, …) at the end of the query")
	default:
		return nil, p.errAt(t, "expected a primitive (host, net, port, tcp, …), found %s", describe(t))
	}
}

func (p *parser) primitive() (*node, error) {
	start := p.next()
	w := start.text
	switch w {
	case "community-id":
		v := p.next()
		if v.kind != tWord {
			return nil, p.errAt(v, "expected a Community ID such as 1:LQU9qZlK+B5F3KDmev6m5PMibrg= after \"community-id\", found %s", describe(v))
		}
		c, err := ParseCommunityID(v.text)
		if err != nil {
			return nil, p.errAt(v, "%s", err.Error())
		}
		p.last = nil
		return &node{p: prim{kind: pCID, cid: c}}, nil
	case "alert":
		v := p.next()
		if v.kind != tWord {
			return nil, p.errAt(v, "expected an alert id after \"alert\", found %s", describe(v))
		}
		p.last = nil
		return &node{p: prim{kind: pAlert, alert: v.text}}, nil
	case "icmp", "icmp6":
		p.last = nil
		return &node{p: prim{kind: pProto, q: qualNames[w]}}, nil
	case "proto":
		return p.protoNum(start, qProto)
	}
	pr := prim{}
	// [proto]
	if q, ok := qualNames[w]; ok {
		pr.q = q
		nt := p.peek()
		if nt.kind != tWord || !isQualifierWord(nt.text) {
			p.last = nil
			return &node{p: prim{kind: pProto, q: q}}, nil
		}
		if nt.text == "proto" {
			if q != qIP && q != qIP6 {
				return nil, p.errAt(nt, "\"proto\" follows only \"ip\" or \"ip6\"")
			}
			p.next()
			return p.protoNum(nt, q)
		}
		start = p.next()
		w = start.text
	}
	// [dir]
	if w == "src" || w == "dst" {
		pr.dir = dirSrc
		if w == "dst" {
			pr.dir = dirDst
		}
		if t := p.peek(); t.kind == tAnd || t.kind == tOr {
			if t2 := p.toks[p.i+1]; t2.kind == tWord && (t2.text == "src" || t2.text == "dst") && t2.text != w {
				p.next()
				p.next()
				if t.kind == tAnd {
					pr.dir = dirBoth
				} else {
					pr.dir = dirAny
				}
			}
		}
		nt := p.peek()
		if nt.kind != tWord {
			return nil, p.errAt(nt, "expected host, net, port or an address after %q, found %s", w, describe(nt))
		}
		start = nt
		w = nt.text
		if w == "host" || w == "net" || w == "port" || w == "portrange" {
			p.next()
		} else {
			w = "host" // "src 10.0.0.1"
		}
	} else if w == "host" || w == "net" || w == "port" || w == "portrange" {
		// type given
	} else if pr.q == qNone {
		// A bare value: repeat the last primitive's qualifiers, or "host".
		p.i--
		if p.last != nil {
			pr = *p.last
			switch pr.kind {
			case pPort:
				if pr.lo != pr.hi {
					w = "portrange"
				} else {
					w = "port"
				}
			default:
				w = "host"
				if pr.prefix.IsValid() && pr.prefix.Bits() != pr.prefix.Addr().BitLen() {
					w = "net"
				}
			}
		} else {
			w = "host"
		}
	} else {
		return nil, p.errAt(start, "expected host, net, port or portrange after the protocol, found %q", w)
	}
	v := p.next()
	if v.kind != tWord {
		return nil, p.errAt(v, "expected a value after %q, found %s", w, describe(v))
	}
	switch w {
	case "host":
		a, err := netip.ParseAddr(v.text)
		if err != nil {
			if strings.ContainsAny(v.text, "/") {
				return nil, p.errAt(v, "%q is a network: use \"net %s\"", v.text, v.text)
			}
			if _, known := qualNames[v.text]; known || isQualifierWord(v.text) {
				return nil, p.errAt(v, "expected an address, found the keyword %q", v.text)
			}
			return nil, p.errAt(v, "%q is not an IPv4 or IPv6 address (host names are not resolved)", v.text)
		}
		a = a.Unmap()
		pr.kind = pHost
		pr.prefix = netip.PrefixFrom(a, a.BitLen())
	case "net":
		pf, err := parseNet(v.text)
		if err != nil {
			return nil, p.errAt(v, "%s", err.Error())
		}
		if t := p.peek(); t.kind == tWord && t.text == "mask" {
			p.next()
			m := p.next()
			bits, err := maskBits(m.text)
			if err != nil || !pf.Addr().Is4() || strings.Contains(v.text, "/") {
				if err == nil {
					err = fmt.Errorf("\"mask\" follows an IPv4 address without /len")
				}
				return nil, p.errAt(m, "%s", err.Error())
			}
			pf = netip.PrefixFrom(pf.Addr(), bits).Masked()
		}
		pr.kind = pHost
		pr.prefix = pf
	case "port", "portrange":
		lo, hi, err := parsePorts(v.text, w == "portrange")
		if err != nil {
			return nil, p.errAt(v, "%s", err.Error())
		}
		pr.kind = pPort
		pr.lo, pr.hi = lo, hi
	}
	// Check the qualifiers fit the primitive, as tcpdump does.
	switch pr.kind {
	case pHost:
		switch pr.q {
		case qNone:
		case qIP, qARP, qRARP:
			if !pr.prefix.Addr().Is4() {
				return nil, p.errAt(v, "%q is an IPv6 address: use ip6 or no protocol", v.text)
			}
		case qIP6:
			if !pr.prefix.Addr().Is6() {
				return nil, p.errAt(v, "%q is an IPv4 address: use ip or no protocol", v.text)
			}
		default:
			return nil, p.errAt(start, "a protocol such as tcp does not qualify %s (tcpdump refuses it too): write \"tcp and host …\"", w)
		}
	case pPort:
		switch pr.q {
		case qNone, qTCP, qUDP, qSCTP:
		default:
			return nil, p.errAt(start, "only tcp, udp or sctp qualify %s", w)
		}
	}
	last := pr
	p.last = &last
	return &node{p: pr}, nil
}

func (p *parser) protoNum(at token, q qual) (*node, error) {
	v := p.next()
	n, err := strconv.ParseUint(v.text, 0, 8)
	if v.kind != tWord || err != nil {
		if v.kind == tWord {
			if q2, ok := qualNames[v.text]; ok && q2 >= qTCP {
				n = map[qual]uint64{qTCP: protoTCP, qUDP: protoUDP, qSCTP: protoSCTP, qICMP: protoICMP, qICMP6: protoICMPv6}[q2]
				err = nil
			}
		}
		if err != nil {
			return nil, p.errAt(v, "expected a protocol number 0-255 after %q, found %s", at.text, describe(v))
		}
	}
	p.last = nil
	return &node{p: prim{kind: pProto, q: q, num: uint8(n), hasNum: true}}, nil
}

func isQualifierWord(w string) bool {
	switch w {
	case "src", "dst", "host", "net", "port", "portrange", "proto":
		return true
	}
	return false
}

// parseNet parses a CIDR prefix, an address (a host route), or a partial
// dotted IPv4 network ("10", "192.168", "172.16.5") as tcpdump does.
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return pf, fmt.Errorf("%q is not a network such as 10.1.0.0/16 or fd00::/8", s)
		}
		if pf.Masked() != pf {
			return pf, fmt.Errorf("%q has host bits set beyond /%d (tcpdump refuses it too); did you mean %s?", s, pf.Bits(), pf.Masked())
		}
		return netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-map[bool]int{true: 96, false: 0}[pf.Addr().Is4In6()]), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	parts := strings.Split(s, ".")
	if len(parts) <= 3 {
		var b [4]byte
		ok := true
		for i, part := range parts {
			v, err := strconv.ParseUint(part, 10, 8)
			if err != nil || part == "" {
				ok = false
				break
			}
			b[i] = byte(v)
		}
		if ok {
			return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a network such as 10.1.0.0/16, 10.1 or fd00::/8", s)
}

func maskBits(s string) (int, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("%q is not an IPv4 netmask such as 255.255.0.0", s)
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && v<<n != 0 {
		return 0, fmt.Errorf("%q is not a contiguous netmask", s)
	}
	return n, nil
}

// services are the port names a query may use (the same number for TCP
// and UDP in /etc/services).
var services = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53,
	"bootps": 67, "bootpc": 68, "tftp": 69, "http": 80, "www": 80, "kerberos": 88, "pop3": 110,
	"ntp": 123, "msrpc": 135, "epmap": 135, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139,
	"imap": 143, "snmp": 161, "snmp-trap": 162, "ldap": 389, "https": 443, "microsoft-ds": 445, "smb": 445,
	"syslog": 514, "ldaps": 636, "dicom": 104, "acr-nema": 104, "mllp": 2575, "hl7": 2575,
	"ms-sql-s": 1433, "mysql": 3306, "ms-wbt-server": 3389, "rdp": 3389, "postgresql": 5432,
	"winrm": 5985, "vnc": 5900, "http-alt": 8080,
}

func parsePort(s string) (uint16, error) {
	if v, ok := services[s]; ok {
		return v, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number (0-65535) or a known service name", s)
	}
	return uint16(n), nil
}

func parsePorts(s string, isRange bool) (lo, hi uint16, err error) {
	if !isRange {
		lo, err = parsePort(s)
		return lo, lo, err
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a port range such as 6000-6010", s)
	}
	if lo, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	if hi, err = parsePort(b); err != nil {
		return 0, 0, err
	}
	if lo > hi {
		lo, hi = hi, lo // tcpdump accepts a reversed range
	}
	return lo, hi, nil
}

// String renders the expression tree (for tests and logs).
func (n *node) String() string {
	if n == nil {
		return "all"
	}
	switch n.op {
	case opAnd:
		return "(" + n.l.String() + " and " + n.r.String() + ")"
	case opOr:
		return "(" + n.l.String() + " or " + n.r.String() + ")"
	case opNot:
		return "not " + n.l.String()
	}
	pr := &n.p
	var b strings.Builder
	for name, q := range qualNames {
		if q == pr.q && pr.kind != pProto {
			b.WriteString(name + " ")
		}
	}
	switch pr.dir {
	case dirSrc:
		b.WriteString("src ")
	case dirDst:
		b.WriteString("dst ")
	case dirBoth:
		b.WriteString("src and dst ")
	}
	switch pr.kind {
	case pHost:
		if pr.prefix.Bits() == pr.prefix.Addr().BitLen() {
			b.WriteString("host " + pr.prefix.Addr().String())
		} else {
			b.WriteString("net " + pr.prefix.String())
		}
	case pPort:
		if pr.lo == pr.hi {
			fmt.Fprintf(&b, "port %d", pr.lo)
		} else {
			fmt.Fprintf(&b, "portrange %d-%d", pr.lo, pr.hi)
		}
	case pProto:
		for name, q := range qualNames {
			if q == pr.q {
				b.WriteString(name)
			}
		}
		if pr.q == qProto {
			b.WriteString("ip or ip6")
		}
		if pr.hasNum {
			fmt.Fprintf(&b, " proto %d", pr.num)
		}
	case pCID:
		b.WriteString("community-id " + pr.cid.String())
	case pAlert:
		b.WriteString("alert " + pr.alert)
	}
	return b.String()
}
