package dicom

import (
	"time"

	"mamori/pipeline/event"
)

// Dataset is the record's event.dataset.
const Dataset = "mamori.dicom"

// Record is one DICOM record: an association summary (Assoc set), or one
// DIMSE command that failed (Failure set). It never holds data set
// contents: no patient names, IDs or pixel data, only command metadata.
type Record struct {
	event.Base
	Assoc   *Association
	Failure *Failure
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// Impl is what one side of an association says about itself in its user
// information item.
type Impl struct {
	ClassUID string // implementation class UID (sub-item 0x52)
	Version  string // implementation version name (sub-item 0x55)
	MaxPDU   uint32 // maximum length received (sub-item 0x51); 0 = unlimited or absent
	hasMax   bool
}

// Context is one presentation context: proposed in the A-ASSOCIATE-RQ and
// answered in the -AC.
type Context struct {
	ID               byte
	AbstractSyntax   string   // SOP class UID
	TransferSyntaxes []string // proposed
	Result           int16    // -1 until answered, else PS3.8 Table 9-18 result
	TransferSyntax   string   // accepted transfer syntax (result 0 only)
}

// CommandStats counts one DIMSE service's messages in an association.
type CommandStats struct {
	Requests, Responses                        uint32
	Success, Pending, Warning, Failure, Cancel uint32
	Unanswered                                 uint32 // requests without a final response
	DatasetBytes                               uint64 // data set PDV bytes after its commands
	Statuses                                   []uint16
}

// maxStatuses bounds CommandStats.Statuses (distinct warning/failure codes).
const maxStatuses = 8

// Association is the summary of one DICOM association.
type Association struct {
	CallingAE, CalledAE string
	AppContext          string
	Requestor, Acceptor Impl
	UserIdentity        byte   // user identity negotiation type, 0 = none
	Username            string // types 1 and 2 only; never the passcode

	Contexts         []Context
	ContextsProposed int // in the RQ, including those past MaxContexts
	ContextsAccepted int

	Answer     string // "accepted", "rejected", "" (not seen)
	End        string // "released", "aborted", "closed", "idle", "unfinished"
	requested  bool   // the A-ASSOCIATE-RQ was seen
	answered   bool
	Reject     [3]byte // result, source, reason
	Abort      [2]byte // source, reason
	AbortBy    string  // "client" or "server"
	ReleaseReq bool

	Commands         [numKinds]CommandStats
	DataBytes        uint64 // every data set PDV byte, both directions
	SOPClasses       []string
	MoveDestinations []string
	Failures         uint32
	Anomalies        anomalies
}

// Failure is one DIMSE response with a failure status.
type Failure struct {
	CallingAE, CalledAE string
	Command             string // "C-STORE", ...
	MessageID           uint16
	SOPClass            string // affected (or requested) SOP class UID
	Status              uint16
	MoveDestination     string
	// Sub-operation counts of C-MOVE/C-GET responses; -1 when absent.
	Completed, Failed, Warning int32
}

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, func(w *event.JSON) {
		if r.Assoc != nil && r.Assoc.Username != "" {
			w.Object("user")
			w.String("name", r.Assoc.Username)
			w.End()
		}
		w.Object("mamori")
		w.Object("dicom")
		if r.Assoc != nil {
			r.Assoc.write(w)
		}
		if r.Failure != nil {
			r.Failure.write(w)
		}
		w.End()
		w.End()
	})
}

func (a *Association) write(w *event.JSON) {
	w.StringIf("calling_ae", a.CallingAE)
	w.StringIf("called_ae", a.CalledAE)
	w.StringIf("application_context", a.AppContext)
	switch {
	case a.Answer != "":
		w.String("association", a.Answer)
	case a.requested:
		w.String("association", "no answer")
	default:
		w.String("association", "unknown")
	}
	w.StringIf("end", a.End)
	a.Requestor.write(w, "requestor")
	a.Acceptor.write(w, "acceptor")
	if a.UserIdentity != 0 {
		w.Object("user_identity")
		w.String("type", userIdentityType(a.UserIdentity))
		w.End()
	}
	if a.requested || a.answered {
		w.Uint("presentation_contexts_proposed", uint64(a.ContextsProposed))
	}
	if a.answered {
		w.Uint("presentation_contexts_accepted", uint64(a.ContextsAccepted))
	}
	a.writeContexts(w)
	if a.Answer == "rejected" {
		w.Object("reject")
		w.String("result", rejectResult(a.Reject[0]))
		w.String("source", rejectSource(a.Reject[1]))
		w.String("reason", rejectReason(a.Reject[1], a.Reject[2]))
		w.End()
	}
	if a.End == "aborted" {
		w.Object("abort")
		w.String("source", abortSource(a.Abort[0]))
		w.StringIf("reason", abortReason(a.Abort[0], a.Abort[1]))
		w.StringIf("by", a.AbortBy)
		w.End()
	}
	if a.ReleaseReq && a.End != "released" {
		w.Bool("release_requested", true)
	}
	any := false
	for k := range a.Commands {
		c := &a.Commands[k]
		if c.Requests+c.Responses == 0 {
			continue
		}
		if !any {
			w.Array("commands")
			any = true
		}
		w.Item()
		w.String("command", kinds[k])
		w.Uint("requests", uint64(c.Requests))
		w.Uint("responses", uint64(c.Responses))
		uintIf(w, "success", c.Success)
		uintIf(w, "pending", c.Pending)
		uintIf(w, "warning", c.Warning)
		uintIf(w, "failure", c.Failure)
		uintIf(w, "cancel", c.Cancel)
		uintIf(w, "unanswered", c.Unanswered)
		if c.DatasetBytes > 0 {
			w.Uint("dataset_bytes", c.DatasetBytes)
		}
		if len(c.Statuses) > 0 {
			w.Array("statuses")
			for _, s := range c.Statuses {
				w.Item()
				w.String("code", hex4(s))
				w.String("category", statusCategory(s))
				w.StringIf("name", statusName(s))
				w.End()
			}
			w.EndArray()
		}
		w.End()
	}
	if any {
		w.EndArray()
	}
	st := &a.Commands[0]
	if st.Requests > 0 {
		w.Uint("stores", uint64(st.Requests))
		w.Uint("store_bytes", st.DatasetBytes)
	}
	if a.DataBytes > 0 {
		w.Uint("data_bytes", a.DataBytes)
	}
	if len(a.SOPClasses) > 0 {
		w.Array("sop_classes")
		for _, u := range a.SOPClasses {
			w.Item()
			w.String("uid", u)
			w.StringIf("name", sopClassName(u))
			w.End()
		}
		w.EndArray()
	}
	if len(a.MoveDestinations) > 0 {
		w.Strings("move_destinations", a.MoveDestinations...)
	}
	uintIf(w, "failures", a.Failures)
	a.Anomalies.write(w)
}

// writeContexts writes the presentation contexts grouped by abstract
// syntax (a storescu proposes each of 64 SOP classes twice): per SOP class,
// how many contexts proposed and accepted it, the accepted transfer
// syntaxes, and, when none was accepted, the first rejection result and
// the proposed transfer syntaxes.
func (a *Association) writeContexts(w *event.JSON) {
	if len(a.Contexts) == 0 {
		return
	}
	w.Array("presentation_contexts")
	var ts []string
	for i := range a.Contexts {
		c := &a.Contexts[i]
		seen := false
		for j := 0; j < i && !seen; j++ {
			seen = a.Contexts[j].AbstractSyntax == c.AbstractSyntax
		}
		if seen {
			continue
		}
		proposed, accepted, result := 0, 0, int16(-1)
		ts = ts[:0]
		for j := i; j < len(a.Contexts); j++ {
			o := &a.Contexts[j]
			if o.AbstractSyntax != c.AbstractSyntax {
				continue
			}
			proposed++
			if o.Result == 0 {
				accepted++
				ts = appendNew(ts, o.TransferSyntax)
			} else if result < 0 {
				result = o.Result
			}
		}
		w.Item()
		w.StringIf("abstract_syntax", c.AbstractSyntax)
		w.StringIf("sop_class", sopClassName(c.AbstractSyntax))
		w.Uint("contexts", uint64(proposed))
		if a.answered {
			w.Uint("accepted", uint64(accepted))
		}
		if accepted > 0 {
			w.Strings("transfer_syntaxes", ts...)
		} else {
			if result >= 0 {
				w.String("result", contextResult(byte(result)))
			}
			ts = ts[:0]
			for j := i; j < len(a.Contexts); j++ {
				if o := &a.Contexts[j]; o.AbstractSyntax == c.AbstractSyntax {
					for _, t := range o.TransferSyntaxes {
						ts = appendNew(ts, t)
					}
				}
			}
			if len(ts) > 0 {
				w.Strings("proposed_transfer_syntaxes", ts...)
			}
		}
		w.End()
	}
	w.EndArray()
}

// appendNew appends s to ss unless it is empty or already there.
func appendNew(ss []string, s string) []string {
	if s == "" {
		return ss
	}
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}

func (m *Impl) write(w *event.JSON, key string) {
	if m.ClassUID == "" && m.Version == "" && !m.hasMax {
		return
	}
	w.Object(key)
	w.StringIf("implementation_class_uid", m.ClassUID)
	w.StringIf("implementation_version", m.Version)
	if m.hasMax {
		w.Uint("max_pdu_length", uint64(m.MaxPDU))
	}
	w.End()
}

func (f *Failure) write(w *event.JSON) {
	w.StringIf("calling_ae", f.CallingAE)
	w.StringIf("called_ae", f.CalledAE)
	w.Object("command")
	w.String("name", f.Command)
	w.Uint("message_id", uint64(f.MessageID))
	w.StringIf("sop_class_uid", f.SOPClass)
	w.StringIf("sop_class", sopClassName(f.SOPClass))
	w.String("status", hex4(f.Status))
	w.String("status_category", statusCategory(f.Status))
	w.StringIf("status_name", statusName(f.Status))
	w.StringIf("move_destination", f.MoveDestination)
	if f.Completed >= 0 || f.Failed >= 0 || f.Warning >= 0 {
		w.Object("sub_operations")
		intIf(w, "completed", f.Completed)
		intIf(w, "failed", f.Failed)
		intIf(w, "warning", f.Warning)
		w.End()
	}
	w.End()
}

func uintIf(w *event.JSON, k string, v uint32) {
	if v > 0 {
		w.Uint(k, uint64(v))
	}
}

func intIf(w *event.JSON, k string, v int32) {
	if v >= 0 {
		w.Int(k, int64(v))
	}
}

// anomalies is a set of fixed anomaly names, as a bit set.
type anomalies uint32

const (
	anAssocTruncated anomalies = 1 << iota
	anTooManyContexts
	anTooManyTransferSyntaxes
	anCommandTooLarge
	anBadCommand
	anUnknownCommand
	anPendingFull
	anSOPClassesFull
	anMoveDestinationsFull
	anFailureRecordsLimited
	anResponseWithoutRequest
	anStartNotSeen
	anRepeatedRequest
	anBadItem
	anGap
	anLostSync
	anResync
	anMalformed
	anPDUAfterEnd
	anStatusesFull
)

var anomalyNames = [...]string{
	"associate pdu truncated",
	"too many presentation contexts",
	"too many transfer syntaxes",
	"command set too large",
	"bad command set",
	"unknown command field",
	"pending table full",
	"sop class list full",
	"move destination list full",
	"failure records limited",
	"response without request",
	"association start not seen",
	"repeated associate request",
	"bad association item",
	"gap",
	"lost sync",
	"resynchronised",
	"malformed pdu",
	"pdu after association end",
	"status list full",
}

func (a anomalies) write(w *event.JSON) {
	if a == 0 {
		return
	}
	var names [len(anomalyNames)]string
	n := 0
	for i, s := range anomalyNames {
		if a&(1<<i) != 0 {
			names[n] = s
			n++
		}
	}
	w.Strings("anomalies", names[:n]...)
}

// durationBetween is b-a, or 0 when either is unknown or b is earlier.
func durationBetween(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}
