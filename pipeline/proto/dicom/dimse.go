package dicom

import (
	"time"

	"mamori/pipeline/flow"
)

// command is the part of a DIMSE command set (PS3.7 §E.1, always Implicit
// VR Little Endian, group 0000) the session uses.
type command struct {
	field       uint16
	hasField    bool
	messageID   uint16
	respondedTo uint16
	hasDataSet  bool
	status      uint16
	hasStatus   bool
	sopClass    string
	moveDest    string
	completed   int32
	failed      int32
	warning     int32
}

// parseCommand decodes a command set. It reports false when an element
// overruns the buffer or the command field is missing.
func parseCommand(b []byte, c *command) bool {
	*c = command{completed: -1, failed: -1, warning: -1, hasDataSet: true}
	ok := true
	for len(b) > 0 {
		if len(b) < 8 {
			ok = false
			break
		}
		group, elem, n := le16(b), le16(b[2:]), le32(b[4:])
		if n > uint32(len(b)-8) {
			ok = false
			break
		}
		v := b[8 : 8+n]
		b = b[8+n:]
		if group != 0x0000 {
			continue
		}
		switch elem {
		case 0x0002: // Affected SOP Class UID
			c.sopClass = uid(v)
		case 0x0003: // Requested SOP Class UID
			if c.sopClass == "" {
				c.sopClass = uid(v)
			}
		case 0x0100:
			if len(v) == 2 {
				c.field, c.hasField = le16(v), true
			}
		case 0x0110:
			if len(v) == 2 {
				c.messageID = le16(v)
			}
		case 0x0120:
			if len(v) == 2 {
				c.respondedTo = le16(v)
			}
		case 0x0600: // Move Destination (an AE title)
			c.moveDest = aeTitle(v)
		case 0x0800: // Command Data Set Type: 0x0101 means none
			if len(v) == 2 {
				c.hasDataSet = le16(v) != 0x0101
			}
		case 0x0900:
			if len(v) == 2 {
				c.status, c.hasStatus = le16(v), true
			}
		case 0x1021:
			c.completed = sub(v)
		case 0x1022:
			c.failed = sub(v)
		case 0x1023:
			c.warning = sub(v)
		}
		// Error Comment (0000,0902) and Affected SOP Instance UID
		// (0000,1000) are deliberately not read: free text may name a
		// patient, and instance UIDs identify studies.
	}
	return ok && c.hasField
}

func sub(v []byte) int32 {
	if len(v) != 2 {
		return -1
	}
	return int32(le16(v))
}

// pending is an outstanding request awaiting its final response.
type pending struct {
	dir      flow.Dir // direction of the request
	id       uint16
	kind     int8
	at       time.Time
	sopClass string
	moveDest string
}

// onCommand accounts one complete command set sent in direction d at ts. It
// returns the kind whose data set follows (or -1).
func (s *Session) onCommand(d flow.Dir, ts time.Time, b []byte) int8 {
	a := s.assoc(ts)
	var c command
	if !parseCommand(b, &c) {
		a.Anomalies |= anBadCommand
		return -1
	}
	k, ok := kindOf(c.field)
	if !ok {
		a.Anomalies |= anUnknownCommand
		return -1
	}
	st := &a.Commands[k]
	dataKind := int8(-1)
	if c.hasDataSet {
		dataKind = int8(k)
	}
	if c.field&cmdResponse == 0 {
		st.Requests++
		if c.sopClass != "" {
			s.addSOPClass(a, c.sopClass)
		}
		if c.moveDest != "" {
			s.addMoveDest(a, c.moveDest)
		}
		if c.field == cmdCCancelRQ {
			return dataKind // C-CANCEL has no response
		}
		if len(s.pending) >= s.p.cfg.MaxPending {
			a.Anomalies |= anPendingFull
			return dataKind
		}
		s.pending = append(s.pending, pending{dir: d, id: c.messageID, kind: int8(k), at: ts, sopClass: c.sopClass, moveDest: c.moveDest})
		return dataKind
	}

	st.Responses++
	cat := statusCategory(c.status)
	if !c.hasStatus {
		a.Anomalies |= anBadCommand
	}
	switch cat {
	case statusSuccess:
		st.Success++
	case statusPending:
		st.Pending++
	case statusCancel:
		st.Cancel++
	case statusWarning:
		st.Warning++
	case statusFailure:
		st.Failure++
	}
	if cat == statusWarning || cat == statusFailure {
		addStatus(a, st, c.status)
	}
	// Find the request: sent the other way, with this message ID.
	var req *pending
	idx := -1
	for i := range s.pending {
		p := &s.pending[i]
		if p.dir != d && p.id == c.respondedTo && int(p.kind) == k {
			req, idx = p, i
			break
		}
	}
	if req == nil {
		a.Anomalies |= anResponseWithoutRequest
	}
	if cat == statusFailure {
		a.Failures++
		s.failure(a, k, &c, req, ts)
	}
	if cat != statusPending && idx >= 0 {
		s.pending = append(s.pending[:idx], s.pending[idx+1:]...)
	}
	return dataKind
}

// failure emits one record for a failed DIMSE response, within
// MaxFailureRecords per association.
func (s *Session) failure(a *Association, k int, c *command, req *pending, ts time.Time) {
	if s.p.cfg.MaxFailureRecords < 0 {
		return
	}
	if s.failures >= s.p.cfg.MaxFailureRecords {
		a.Anomalies |= anFailureRecordsLimited
		return
	}
	s.failures++
	f := &Failure{
		CallingAE: a.CallingAE, CalledAE: a.CalledAE,
		Command: kinds[k], MessageID: c.respondedTo, SOPClass: c.sopClass,
		Status: c.status, Completed: c.completed, Failed: c.failed, Warning: c.warning,
	}
	r := &Record{Failure: f}
	r.Base = s.base(ts, "dicom_command")
	r.Outcome = "failure"
	if req != nil {
		if f.SOPClass == "" {
			f.SOPClass = req.sopClass
		}
		f.MoveDestination = req.moveDest
		r.Timestamp = req.at
		r.Duration = durationBetween(req.at, ts)
	}
	r.Reason = kinds[k] + " failed: " + hex4(c.status)
	if n := statusName(c.status); n != "" {
		r.Reason += " " + n
	}
	s.emit(r)
}

func addStatus(a *Association, st *CommandStats, code uint16) {
	for _, s := range st.Statuses {
		if s == code {
			return
		}
	}
	if len(st.Statuses) >= maxStatuses {
		a.Anomalies |= anStatusesFull
		return
	}
	st.Statuses = append(st.Statuses, code)
}

func (s *Session) addSOPClass(a *Association, u string) {
	for _, x := range a.SOPClasses {
		if x == u {
			return
		}
	}
	if len(a.SOPClasses) >= s.p.cfg.MaxSOPClasses {
		a.Anomalies |= anSOPClassesFull
		return
	}
	a.SOPClasses = append(a.SOPClasses, u)
}

func (s *Session) addMoveDest(a *Association, ae string) {
	for _, x := range a.MoveDestinations {
		if x == ae {
			return
		}
	}
	if len(a.MoveDestinations) >= s.p.cfg.MaxMoveDestinations {
		a.Anomalies |= anMoveDestinationsFull
		return
	}
	a.MoveDestinations = append(a.MoveDestinations, ae)
}
