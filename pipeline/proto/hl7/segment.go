package hl7

// Field access on a kept segment: fields are separated by the field
// separator; in MSH, field index k (counting "MSH" as 0) is MSH-(k+1),
// because MSH-1 is the separator itself.

// fields calls f for each field of seg with its index, stopping after
// index max.
func fields(seg []byte, sep byte, max int, f func(i int, v []byte)) {
	i, start := 0, 0
	for j := 0; j <= len(seg) && i <= max; j++ {
		if j == len(seg) || seg[j] == sep {
			f(i, seg[start:j])
			i++
			start = j + 1
		}
	}
}

// component returns component n (0-based) of v split by sep.
func component(v []byte, sep byte, n int) []byte {
	for i := 0; ; i++ {
		j := 0
		for j < len(v) && v[j] != sep {
			j++
		}
		if i == n {
			return v[:j]
		}
		if j == len(v) {
			return nil
		}
		v = v[j+1:]
	}
}

// kept returns the kept segment of st: when it was cut (by the limit or a
// gap), only its complete fields, up to the last separator.
func kept(st *stream, sep byte) []byte {
	seg := st.seg
	if st.segTrunc {
		if i := lastIndex(seg, sep); i >= 0 {
			seg = seg[:i]
		}
	}
	return seg
}

func lastIndex(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// maxCharsets bounds the MSH-18 repetitions kept.
const maxCharsets = 8

// parseMSH reads the message header: separators from MSH-1 and MSH-2, then
// the fields the record carries. MSH-8 (security) is never read.
func (s *Session) parseMSH(st *stream) {
	seg, m := st.seg, st.m
	if len(seg) < 4 {
		m.Anomalies |= anBadMSH
		return
	}
	sep := seg[3]
	seg = kept(st, sep)
	if sep == '\r' || sep == '\n' || (sep >= 'A' && sep <= 'Z') || (sep >= '0' && sep <= '9') {
		m.Anomalies |= anBadMSH
		return
	}
	st.sep = sep
	fields(seg, sep, 17, func(i int, v []byte) {
		switch i {
		case 1: // MSH-2: component, repetition, escape, subcomponent
			if len(v) >= 1 {
				st.comp = v[0]
			}
			if len(v) >= 2 {
				st.rep = v[1]
			}
			if len(v) >= 4 {
				st.sub = v[3]
			}
		case 2:
			m.SendingApplication = text(v)
		case 3:
			m.SendingFacility = text(v)
		case 4:
			m.ReceivingApplication = text(v)
		case 5:
			m.ReceivingFacility = text(v)
		case 6:
			m.Time = text(component(v, st.comp, 0))
		case 8:
			m.Type = text(component(v, st.comp, 0))
			m.Trigger = text(component(v, st.comp, 1))
			m.Structure = text(component(v, st.comp, 2))
		case 9:
			m.ControlID = text(v)
		case 10:
			m.ProcessingID = text(component(v, st.comp, 0))
		case 11:
			m.Version = text(component(v, st.comp, 0))
		case 14:
			m.AcceptAckType = text(v)
		case 15:
			m.AppAckType = text(v)
		case 17:
			for k := 0; k < maxCharsets; k++ {
				c := component(v, st.rep, k)
				if c == nil {
					break
				}
				if len(c) > 0 {
					m.Charsets = append(m.Charsets, text(c))
				}
			}
		}
	})
	if m.Type == "" && !st.segTrunc {
		m.Anomalies |= anBadMSH
	}
}

// parseMSA reads MSA-1 (the acknowledgment code) and MSA-2 (the control ID
// of the message acknowledged). MSA-3 (free text) is never read.
func (s *Session) parseMSA(st *stream) {
	m := st.m
	fields(kept(st, st.sep), st.sep, 2, func(i int, v []byte) {
		switch i {
		case 1:
			m.AckCode = text(component(v, st.comp, 0))
		case 2:
			m.AckControlID = text(v)
		}
	})
}

// parseERR reads the error code (ERR-3.1 from v2.5, else ERR-1.4.1) and
// the severity (ERR-4), keeping only short coded values: never ERR-7/8
// (diagnostic and user messages, free text).
func (s *Session) parseERR(st *stream) {
	m := st.m
	var code, old []byte
	fields(kept(st, st.sep), st.sep, 4, func(i int, v []byte) {
		switch i {
		case 1:
			old = component(component(v, st.comp, 3), st.sub, 0)
		case 3:
			code = component(v, st.comp, 0)
		case 4:
			if sev := component(v, st.comp, 0); len(sev) == 1 && sev[0] >= 'A' && sev[0] <= 'Z' {
				m.ErrorSev = string(sev)
			}
		}
	})
	if len(code) == 0 {
		code = old
	}
	if coded(code) {
		m.ErrorCode = string(code)
	}
}

// coded reports whether v is a short code of letters and digits.
func coded(v []byte) bool {
	if len(v) == 0 || len(v) > 16 {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
