package dicom

import "strings"

// PDU types (PS3.8 §9.3, Table 9-11).
const (
	pduAssociateRQ = 0x01
	pduAssociateAC = 0x02
	pduAssociateRJ = 0x03
	pduPData       = 0x04
	pduReleaseRQ   = 0x05
	pduReleaseRP   = 0x06
	pduAbort       = 0x07
)

// assocFixed is the fixed part of an A-ASSOCIATE-RQ/AC after the PDU
// header: protocol version (2), reserved (2), called AE (16), calling AE
// (16), reserved (32).
const assocFixed = 68

// Item types of the A-ASSOCIATE variable part (PS3.8 §9.3.2, §9.3.3 and
// PS3.7 Annex D.3).
const (
	itemAppContext    = 0x10
	itemPresContextRQ = 0x20
	itemPresContextAC = 0x21
	itemAbstract      = 0x30
	itemTransfer      = 0x40
	itemUserInfo      = 0x50
	subMaxLength      = 0x51
	subImplClass      = 0x52
	subImplVersion    = 0x55
	subUserIdentityRQ = 0x58
)

// items walks the items of b (type, reserved, 2-byte length, value), calling
// f for each; it reports false when an item overruns b.
func items(b []byte, f func(typ byte, v []byte)) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return false
		}
		n := int(be16(b[2:]))
		if 4+n > len(b) {
			return false
		}
		f(b[0], b[4:4+n])
		b = b[4+n:]
	}
	return true
}

// parseAssociate decodes an A-ASSOCIATE-RQ (ac false) or -AC body into a.
// body may be cut short at the buffer limit (truncated): items cut by the
// limit are dropped without an anomaly beyond anAssocTruncated.
func (s *Session) parseAssociate(a *Association, body []byte, ac, truncated bool) {
	if len(body) < assocFixed {
		a.Anomalies |= anBadItem
		return
	}
	called, calling := aeTitle(body[4:20]), aeTitle(body[20:36])
	if !ac || !a.requested {
		a.CalledAE, a.CallingAE = called, calling
	}
	impl := &a.Requestor
	if ac {
		impl = &a.Acceptor
	}
	ok := items(body[assocFixed:], func(typ byte, v []byte) {
		switch typ {
		case itemAppContext:
			if !ac || a.AppContext == "" {
				a.AppContext = uid(v)
			}
		case itemPresContextRQ:
			if !ac {
				s.proposeContext(a, v)
			}
		case itemPresContextAC:
			if ac {
				s.answerContext(a, v)
			}
		case itemUserInfo:
			if !items(v, func(sub byte, sv []byte) { s.userInfo(a, impl, sub, sv, ac) }) {
				a.Anomalies |= anBadItem
			}
		}
	})
	if !ok && !truncated {
		a.Anomalies |= anBadItem
	}
}

// proposeContext adds an A-ASSOCIATE-RQ presentation context item.
func (s *Session) proposeContext(a *Association, v []byte) {
	a.ContextsProposed++
	if len(v) < 4 {
		a.Anomalies |= anBadItem
		return
	}
	if len(a.Contexts) >= s.p.cfg.MaxContexts {
		a.Anomalies |= anTooManyContexts
		return
	}
	c := Context{ID: v[0], Result: -1}
	if !items(v[4:], func(typ byte, sv []byte) {
		switch typ {
		case itemAbstract:
			c.AbstractSyntax = uid(sv)
		case itemTransfer:
			if len(c.TransferSyntaxes) >= s.p.cfg.MaxTransferSyntaxes {
				a.Anomalies |= anTooManyTransferSyntaxes
				return
			}
			c.TransferSyntaxes = append(c.TransferSyntaxes, uid(sv))
		}
	}) {
		a.Anomalies |= anBadItem
	}
	a.Contexts = append(a.Contexts, c)
}

// answerContext applies an A-ASSOCIATE-AC presentation context item.
func (s *Session) answerContext(a *Association, v []byte) {
	if len(v) < 4 {
		a.Anomalies |= anBadItem
		return
	}
	id, result := v[0], v[2]
	if result == 0 {
		a.ContextsAccepted++
	}
	var c *Context
	for i := range a.Contexts {
		if a.Contexts[i].ID == id && a.Contexts[i].Result < 0 {
			c = &a.Contexts[i]
			break
		}
	}
	if c == nil {
		if a.requested && a.ContextsProposed > len(a.Contexts) {
			return // proposed past MaxContexts: counted, not kept
		}
		if len(a.Contexts) >= s.p.cfg.MaxContexts {
			a.Anomalies |= anTooManyContexts
			return
		}
		a.Contexts = append(a.Contexts, Context{ID: id})
		c = &a.Contexts[len(a.Contexts)-1]
	}
	c.Result = int16(result)
	if !items(v[4:], func(typ byte, sv []byte) {
		if typ == itemTransfer && result == 0 {
			c.TransferSyntax = uid(sv)
		}
	}) {
		a.Anomalies |= anBadItem
	}
}

// userInfo applies one user information sub-item.
func (s *Session) userInfo(a *Association, impl *Impl, typ byte, v []byte, ac bool) {
	switch typ {
	case subMaxLength:
		if len(v) == 4 {
			impl.MaxPDU, impl.hasMax = be32(v), true
		} else {
			a.Anomalies |= anBadItem
		}
	case subImplClass:
		impl.ClassUID = uid(v)
	case subImplVersion:
		impl.Version = text(v)
	case subUserIdentityRQ:
		if ac || len(v) < 4 {
			return
		}
		a.UserIdentity = v[0]
		n := int(be16(v[2:]))
		if 4+n > len(v) {
			a.Anomalies |= anBadItem
			return
		}
		if v[0] == 1 || v[0] == 2 { // the primary field is a user name
			a.Username = text(v[4 : 4+n])
		}
		// The secondary field (passcode) is never read.
	}
}

// aeTitle decodes a 16-byte AE title field: leading and trailing spaces
// (and NUL padding) are not significant.
func aeTitle(b []byte) string {
	return text(trimPad(b))
}

// uid decodes a UID value, padded with a trailing NUL to even length.
func uid(b []byte) string { return text(trimPad(b)) }

func trimPad(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == 0) {
		b = b[1:]
	}
	return b
}

// text returns b as a string with every byte outside printable ASCII
// written as \xNN, so that what DICOM calls the default character
// repertoire comes out as is and anything else is visible but harmless.
func text(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	const hex = "0123456789abcdef"
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for _, c := range b {
		if c >= 0x20 && c <= 0x7e && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteString(`\x`)
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}
