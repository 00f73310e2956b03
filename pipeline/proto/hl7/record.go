package hl7

import (
	"time"

	"mamori/pipeline/event"
)

// Dataset is the record's event.dataset.
const Dataset = "mamori.hl7"

// Record is one HL7 exchange: a message and, when seen, the message that
// acknowledged it. It carries MSH metadata, acknowledgement codes and
// counts only: never the contents of PID, OBX or any other segment.
type Record struct {
	event.Base
	Message *Message
	Ack     *Message // nil when unanswered or when Message is itself an unmatched ack
}

// Dataset implements event.Record.
func (r *Record) Dataset() string { return Dataset }

// Message is what the session keeps of one MLLP-framed HL7 message. Text
// fields that are not clean UTF-8 (ISO-2022-JP escape sequences, Shift_JIS
// bytes, control characters) have those bytes written as \xNN.
type Message struct {
	At       time.Time // packet time of the start block
	FromServ bool      // sent by the flow's responder

	SendingApplication, SendingFacility     string   // MSH-3, MSH-4
	ReceivingApplication, ReceivingFacility string   // MSH-5, MSH-6
	Time                                    string   // MSH-7, as sent
	Type, Trigger, Structure                string   // MSH-9 components
	ControlID                               string   // MSH-10
	ProcessingID                            string   // MSH-11
	Version                                 string   // MSH-12 (first component)
	AcceptAckType, AppAckType               string   // MSH-15, MSH-16
	Charsets                                []string // MSH-18 repetitions

	AckCode      string // MSA-1
	AckControlID string // MSA-2
	ErrorCode    string // ERR-3.1 (v2.5+) or ERR-1.4.1
	ErrorSev     string // ERR-4

	Segments     int
	Bytes        int // between the start and end blocks
	SegmentTypes []string
	Anomalies    anomalies
}

// AppendJSON implements event.Record.
func (r *Record) AppendJSON(dst []byte, o *event.Observer) []byte {
	return event.AppendProto(dst, o, Dataset, &r.Base, func(w *event.JSON) {
		w.Object("mamori")
		w.Object("hl7")
		if r.Message != nil {
			r.Message.write(w, "message")
		}
		if r.Ack != nil {
			r.Ack.write(w, "ack")
		}
		w.End()
		w.End()
	})
}

func (m *Message) write(w *event.JSON, key string) {
	w.Object(key)
	if m.FromServ {
		w.String("sender", "server")
	} else {
		w.String("sender", "client")
	}
	w.StringIf("type", m.Type)
	w.StringIf("trigger", m.Trigger)
	w.StringIf("structure", m.Structure)
	w.StringIf("control_id", m.ControlID)
	w.StringIf("processing_id", m.ProcessingID)
	w.StringIf("version", m.Version)
	if len(m.Charsets) > 0 {
		w.Strings("charset", m.Charsets...)
	}
	w.StringIf("time", m.Time)
	w.StringIf("sending_application", m.SendingApplication)
	w.StringIf("sending_facility", m.SendingFacility)
	w.StringIf("receiving_application", m.ReceivingApplication)
	w.StringIf("receiving_facility", m.ReceivingFacility)
	w.StringIf("accept_ack_type", m.AcceptAckType)
	w.StringIf("application_ack_type", m.AppAckType)
	if m.AckCode != "" || m.AckControlID != "" {
		w.StringIf("ack_code", m.AckCode)
		w.StringIf("ack_code_name", ackName(m.AckCode))
		w.StringIf("acknowledged_control_id", m.AckControlID)
	}
	w.StringIf("error_code", m.ErrorCode)
	w.StringIf("error_severity", m.ErrorSev)
	w.Uint("segments", uint64(m.Segments))
	w.Uint("bytes", uint64(m.Bytes))
	if len(m.SegmentTypes) > 0 {
		w.Strings("segment_types", m.SegmentTypes...)
	}
	m.Anomalies.write(w)
	w.End()
}

// ackName names an MSA-1 acknowledgment code (HL7 table 0008).
func ackName(code string) string {
	switch code {
	case "AA":
		return "application accept"
	case "AE":
		return "application error"
	case "AR":
		return "application reject"
	case "CA":
		return "commit accept"
	case "CE":
		return "commit error"
	case "CR":
		return "commit reject"
	}
	return ""
}

// ackOutcome maps an MSA-1 code to event.outcome.
func ackOutcome(code string) string {
	switch code {
	case "AA", "CA":
		return "success"
	case "AE", "AR", "CE", "CR":
		return "failure"
	}
	return "unknown"
}

// anomalies is a set of fixed anomaly names, as a bit set.
type anomalies uint16

const (
	anNoMSH anomalies = 1 << iota
	anBadMSH
	anSegmentTruncated
	anSegmentTypesFull
	anGap
	anUnterminated
	anNoEnd
	anPendingFull
	anAckWithoutMessage
	anNoAck
)

var anomalyNames = [...]string{
	"message without msh",
	"bad msh",
	"segment truncated",
	"segment type list full",
	"gap",
	"start block inside message",
	"no end block",
	"pending table full",
	"ack without message",
	"superseded before its ack",
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
