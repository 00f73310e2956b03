package flow

import "mamori/pipeline/decode"

// TCP endpoint states, as Zeek's TCP analyzer names them.
const (
	tcpInactive uint8 = iota
	tcpSynSent
	tcpSynAckSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// History letters in Zeek's conn.log order of meaning; the originator's are
// upper case, the responder's lower case. Each is recorded once per
// direction, except the counted ones (T, W, G), which are recorded again
// each time their count reaches 10, 100, 1000, …
const (
	hSYN     = iota // S: SYN without ACK
	hSYNACK         // H: SYN with ACK
	hACK            // A: pure ACK
	hData           // D: payload
	hFIN            // F
	hRST            // R
	hRetrans        // T: retransmitted payload
	hZeroWin        // W: zero window
	hGap            // G: content gap (data acknowledged but never seen)
	hFinRst         // I: FIN and RST together (inconsistent)
	hMulti          // Q: SYN with FIN or RST
	hFlip           // ^: roles flipped (the first packet was a SYN-ACK)
	numLetters
)

const letters = "SHADFRTWGIQ^"

// history is an ordered sequence of up to 24 letters, 5 bits each (letter
// index and a responder bit), packed into two words, plus the set of letters
// already recorded per direction.
type history struct {
	packed [2]uint64
	n      uint8
	seen   [2]uint16 // bit per letter, by Dir
}

const histCap = 24

func (h *history) add(d Dir, letter int) {
	if h.n >= histCap {
		return
	}
	code := uint64(letter) | uint64(d)<<4
	w, shift := h.n/12, uint(h.n%12)*5
	h.packed[w] |= code << shift
	h.n++
}

// once records letter for d the first time it happens.
func (h *history) once(d Dir, letter int) {
	bit := uint16(1) << letter
	if h.seen[d]&bit == 0 {
		h.seen[d] |= bit
		h.add(d, letter)
	}
}

// onceAs records letter for d the first time the event bit happens.
func (h *history) onceAs(d Dir, bit, letter int) {
	if h.seen[d]&(1<<bit) == 0 {
		h.seen[d] |= 1 << bit
		h.add(d, letter)
	}
}

// has reports whether d's history contains letter.
func (h *history) has(d Dir, letter int) bool { return h.seen[d]&(1<<letter) != 0 }

// AppendTo writes the letters, upper case for the originator.
func (h *history) AppendTo(b []byte) []byte {
	for i := uint8(0); i < h.n; i++ {
		code := h.packed[i/12] >> (uint(i%12) * 5) & 0x1f
		c := letters[code&0xf]
		if code&0x10 != 0 && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// tcpConn is the TCP state of one flow: Zeek's two endpoint state machines,
// the highest sequence number seen per direction (for retransmissions and
// gaps) and the counted history letters.
type tcpConn struct {
	state   [2]uint8
	prev    [2]uint8
	seqInit [2]bool
	lastSeq [2]uint32 // one past the highest sequence number sent, by Dir
	counts  [2][3]uint16
}

// counted history letters: T, W, G.
const (
	cRetrans = iota
	cZeroWin
	cGap
)

var countedLetter = [3]int{hRetrans, hZeroWin, hGap}

// bump counts one event and records its letter at counts 1, 10, 100, …
func (c *tcpConn) bump(h *history, d Dir, which int) {
	n := c.counts[d][which]
	if n == 0xffff {
		return
	}
	n++
	c.counts[d][which] = n
	switch n {
	case 1, 10, 100, 1000, 10000:
		h.add(d, countedLetter[which])
	}
}

func (c *tcpConn) set(d Dir, s uint8) {
	c.prev[d] = c.state[d]
	c.state[d] = s
}

func seqDelta(a, b uint32) int32 { return int32(a - b) }

// update advances the connection by one packet sent in direction d.
func (c *tcpConn) update(h *history, d Dir, p *decode.Packet) {
	f := p.TCPFlags
	syn, fin, rst, ack := f&decode.FlagSYN != 0, f&decode.FlagFIN != 0, f&decode.FlagRST != 0, f&decode.FlagACK != 0
	plen := p.PayloadLen
	peer := 1 - d

	// History letters for control flags and data (Zeek's update_history).
	nflags := 0
	for _, b := range [3]bool{syn, fin, rst} {
		if b {
			nflags++
		}
	}
	switch {
	case nflags > 1 && fin && rst:
		h.once(d, hFinRst)
	case nflags > 1:
		h.once(d, hMulti)
	case syn && ack:
		h.onceAs(d, hSYN, hSYNACK) // Zeek keeps one "SYN seen" bit for S and H
	case syn:
		h.once(d, hSYN)
	case fin:
		h.once(d, hFIN)
	case rst:
		h.once(d, hRST)
	case plen > 0:
		h.once(d, hData)
	case ack:
		h.once(d, hACK)
	}
	if p.Window == 0 && !rst && c.state[peer] != tcpClosed && c.state[d] != tcpReset {
		c.bump(h, d, cZeroWin)
	}

	// Sequence space: SYN and FIN take one number each; RST data does not count.
	segLen := uint32(plen)
	if rst {
		segLen = 0
	}
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	end := p.Seq + segLen
	switch {
	case !c.seqInit[d]:
		c.seqInit[d] = true
		c.lastSeq[d] = end
	case c.state[d] == tcpReset:
		// don't trust sequence numbers after a reset
	default:
		delta := seqDelta(end, c.lastSeq[d])
		const tooLarge = 1 << 20
		if (syn || rst) && (delta > tooLarge || delta < -tooLarge) {
			break
		}
		if delta > 0 {
			c.lastSeq[d] = end
		} else if plen > 0 && !syn {
			c.bump(h, d, cRetrans)
		}
	}
	// An acknowledgement beyond what the peer was seen sending means the
	// capture missed some of the peer's data: a content gap on the peer's side.
	if ack && !rst && !fin && c.seqInit[peer] && c.state[peer] != tcpClosed && c.state[peer] != tcpReset {
		if seqDelta(p.Ack, c.lastSeq[peer]) > 0 && seqDelta(p.Ack, c.lastSeq[peer]) < 1<<30 {
			c.bump(h, peer, cGap)
			c.lastSeq[peer] = p.Ack
		}
	}

	c.transition(d, syn, fin, rst, ack, plen)
}

// transition is Zeek's UpdateStateMachine for the endpoint that sent the packet.
func (c *tcpConn) transition(d Dir, syn, fin, rst, ack bool, plen int) {
	peer := 1 - d
	switch c.state[d] {
	case tcpInactive:
		if syn {
			if d == FromClient {
				if ack {
					c.set(d, tcpSynAckSent)
				} else {
					c.set(d, tcpSynSent)
				}
			} else {
				if c.state[peer] == tcpSynSent {
					c.set(peer, tcpEstablished)
				}
				c.set(d, tcpEstablished)
			}
		}
		if fin {
			c.set(d, tcpClosed)
		}
		if rst {
			c.set(d, tcpReset)
		}
		if c.state[d] == tcpInactive { // no control flag changed it
			switch {
			case d == FromServer && plen == 0 && c.state[FromClient] == tcpSynSent:
				// an ACK of the SYN before the SYN-ACK: not a partial connection
			case ack && c.state[peer] == tcpEstablished:
				c.set(d, tcpEstablished) // we missed the originator's SYN
			default:
				c.set(d, tcpPartial)
			}
		}
	case tcpSynSent, tcpSynAckSent:
		if fin {
			c.set(d, tcpClosed)
		}
		if rst {
			c.set(d, tcpReset)
		}
	case tcpEstablished, tcpPartial:
		if syn && c.state[d] == tcpPartial && c.state[peer] == tcpInactive && !ack {
			c.set(d, tcpSynSent)
		}
		if fin && !rst {
			c.set(d, tcpClosed)
			if c.state[peer] == tcpReset && c.prev[peer] == tcpClosed {
				c.set(peer, tcpClosed) // the peer's FIN then RST was a normal close
			}
		}
		if rst {
			c.set(d, tcpReset)
		}
	case tcpClosed:
		if rst && c.state[peer] != tcpClosed {
			c.set(d, tcpReset)
		}
	}
}

// closed reports whether the connection is over: both sides closed, or
// either side reset.
func (c *tcpConn) closed() bool {
	return (c.state[0] == tcpClosed && c.state[1] == tcpClosed) || c.state[0] == tcpReset || c.state[1] == tcpReset
}

// attempt reports whether only the originator's SYN has been seen.
func (c *tcpConn) attempt() bool {
	return (c.state[0] == tcpSynSent || c.state[0] == tcpSynAckSent) && c.state[1] == tcpInactive
}

// connState is Zeek's conn_state for a TCP connection.
func (c *tcpConn) connState(h *history) string {
	os, rs := c.state[FromClient], c.state[FromServer]
	oInactive := os == tcpInactive || os == tcpPartial
	rInactive := rs == tcpInactive || rs == tcpPartial
	switch {
	case rs == tcpReset:
		noData := !h.has(FromClient, hData) && !h.has(FromServer, hData)
		if os == tcpSynSent || os == tcpSynAckSent || (os == tcpReset && noData) {
			return "REJ"
		}
		if oInactive {
			return "RSTRH"
		}
		return "RSTR"
	case os == tcpReset:
		if rInactive {
			if h.synThenReset() {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case os == tcpClosed && rs == tcpClosed:
		return "SF"
	case os == tcpClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == tcpClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == tcpSynSent && rs == tcpInactive:
		return "S0"
	case os == tcpEstablished && rs == tcpEstablished:
		return "S1"
	}
	return "OTH"
}

// synThenReset matches Zeek's /^\^?S[^HAFGIQ]*R.*/ on the history string.
func (h *history) synThenReset() bool {
	var buf [histCap]byte
	s := h.AppendTo(buf[:0])
	i := 0
	if i < len(s) && s[i] == '^' {
		i++
	}
	if i >= len(s) || s[i] != 'S' {
		return false
	}
	for i++; i < len(s); i++ {
		switch s[i] {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
