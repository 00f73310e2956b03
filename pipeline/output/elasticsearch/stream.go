package elasticsearch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"mamori/pipeline/event"
)

// AlertDataset is the dataset of alert records.
const AlertDataset = "mamori.alert"

// DeadLetterDataset receives documents Elasticsearch refused for good.
const DeadLetterDataset = "mamori.deadletter"

// HealthDataset is the sensor's health metrics; it goes to a metrics-
// data stream.
const HealthDataset = "mamori.health"

// Alert is implemented by alert records (issue 4). AlertID must be stable
// for one alert across restarts and re-sends (for example a hash of the
// sensor, rule, community ID and first-seen time), at most 200 bytes; it
// becomes the document _id so that a re-sent alert is a harmless 409.
type Alert interface {
	event.Record
	AlertID() string
}

// StreamTyper may be implemented by a record to choose its data stream
// type ("logs" or "metrics"); without it the type is "metrics" for the
// health dataset and "logs" for every other.
type StreamTyper interface {
	DataStreamType() string
}

// ErrBadDataset is wrapped when a record's dataset cannot name a data
// stream.
var ErrBadDataset = errors.New("dataset cannot name a data stream")

// DataStream returns the data stream name "<type>-<dataset>-<namespace>".
// Dataset and namespace must be lowercase letters, digits, '_' and '.',
// without '-', at most 100 bytes.
func DataStream(typ, dataset, namespace string) (string, error) {
	if namespace == "" {
		namespace = "default"
	}
	if typ != "logs" && typ != "metrics" {
		return "", fmt.Errorf("%w: type %q", ErrBadDataset, typ)
	}
	for _, s := range [2]string{dataset, namespace} {
		if s == "" || len(s) > 100 || s[0] == '.' || s[0] == '_' {
			return "", fmt.Errorf("%w: %q", ErrBadDataset, s)
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
				return "", fmt.Errorf("%w: %q", ErrBadDataset, s)
			}
		}
	}
	return typ + "-" + dataset + "-" + namespace, nil
}

func streamType(r event.Record) string {
	if t, ok := r.(StreamTyper); ok {
		return t.DataStreamType()
	}
	if r.Dataset() == HealthDataset {
		return "metrics"
	}
	return "logs"
}

// A spooled document is: u8 len(index) | index | u8 len(id) | id | JSON.

func appendPayload(dst []byte, index, id string) []byte {
	dst = append(dst, byte(len(index)))
	dst = append(dst, index...)
	dst = append(dst, byte(len(id)))
	return append(dst, id...)
}

var errBadPayload = errors.New("malformed spooled document")

// parsePayload splits a spooled document; the slices point into b.
func parsePayload(b []byte) (index, id, doc []byte, err error) {
	if len(b) < 1 || len(b) < 1+int(b[0])+1 {
		return nil, nil, nil, errBadPayload
	}
	n := int(b[0])
	index, b = b[1:1+n], b[1+n:]
	m := int(b[0])
	if len(b) < 1+m+2 {
		return nil, nil, nil, errBadPayload
	}
	id, doc = b[1:1+m], b[1+m:]
	if doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, nil, nil, errBadPayload
	}
	return index, id, doc, nil
}

// contentID is the _id of an alert record without AlertID: a digest of its
// document, which the deterministic encoder makes stable.
func contentID(doc []byte) string {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:16])
}
