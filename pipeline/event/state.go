package event

import "time"

// StateDataset is the data stream of event.kind "state" records.
const StateDataset = "mamori.state"

// StateHead is what every state record says: when, which ECS category and
// type, the action, a one-line message and, for a change of the capture
// interface, its name (observer.ingress.interface.name).
type StateHead struct {
	At         time.Time
	Categories []string
	Type       string
	Action     string
	Message    string
	Interface  string
}

// AppendState appends an event.kind "state" record (mamori.state): a
// change in the sensor's own condition, such as a link going down or a
// full disk under the pcap store. body writes the record's own members
// (a "mamori" object) after the common ones.
func AppendState(dst []byte, o *Observer, h *StateHead, body func(w *JSON)) []byte {
	w := JSON{B: dst}
	w.Begin()
	header(&w, o, h.At, "logs", StateDataset)
	w.Object("event")
	w.String("kind", "state")
	w.Strings("category", h.Categories...)
	w.Strings("type", h.Type)
	w.String("action", h.Action)
	w.String("dataset", StateDataset)
	w.String("module", "mamori")
	w.End()
	w.String("message", h.Message)
	footer(&w, o, h.Interface)
	body(&w)
	w.Finish()
	return w.B
}
