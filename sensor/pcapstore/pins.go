package pcapstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Pin registers an alert's packets with the store: the query "alert ID"
// returns the packets that match Expr between From and To, and retention
// keeps every file holding such packets until Until, even past the store's
// byte and age limits.
type Pin struct {
	AlertID string    `json:"alert_id"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Expr selects the alert's packets (the alert record's pcap query);
	// it may not use "alert". Empty means every packet in the window.
	Expr string `json:"expr"`
	// Until is when the pin expires. Zero means Created + PinFor.
	Until   time.Time `json:"until"`
	Created time.Time `json:"created"`
	// Alert is the alert record (ECS JSON) for evidence packages; optional.
	Alert json.RawMessage `json:"alert,omitempty"`
}

const maxAlertIDLen = 256

func validAlertID(id string) error {
	if id == "" || len(id) > maxAlertIDLen {
		return fmt.Errorf("alert id must be 1 to %d characters", maxAlertIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r > '~' || strings.ContainsRune("()!&|\"\\", r) {
			return fmt.Errorf("alert id %q: use letters, digits and punctuation other than ()!&|\"\\", id)
		}
	}
	return nil
}

// Pin records p in the store's pin log (pins.jsonl). A later pin of the
// same alert replaces the earlier one. It may be called from any process.
func (s *Store) Pin(p Pin) error {
	if err := validAlertID(p.AlertID); err != nil {
		return fmt.Errorf("pcapstore: pin: %w", err)
	}
	if p.From.IsZero() || p.To.IsZero() || p.To.Before(p.From) {
		return fmt.Errorf("pcapstore: pin %s: need a time window with from <= to", p.AlertID)
	}
	e, err := ParseExpr(p.Expr)
	if err != nil {
		return fmt.Errorf("pcapstore: pin %s: %w", p.AlertID, err)
	}
	if usesAlert(e.root) {
		return fmt.Errorf("pcapstore: pin %s: the expression may not use \"alert\"", p.AlertID)
	}
	if len(p.Alert) > 0 && !json.Valid(p.Alert) {
		return fmt.Errorf("pcapstore: pin %s: the alert record is not valid JSON", p.AlertID)
	}
	if p.Created.IsZero() {
		p.Created = s.opts.Now().UTC()
	}
	if p.Until.IsZero() {
		p.Until = p.Created.Add(s.cfg.PinFor)
	}
	p.From, p.To, p.Until, p.Created = p.From.UTC(), p.To.UTC(), p.Until.UTC(), p.Created.UTC()
	line, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("pcapstore: pin %s: %w", p.AlertID, err)
	}
	f, err := os.OpenFile(s.path(pinsName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("pcapstore: pin %s: %w", p.AlertID, err)
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return fmt.Errorf("pcapstore: pin %s: locking: %w", p.AlertID, err)
	}
	defer unlockFile(f)
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("pcapstore: pin %s: %w", p.AlertID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pcapstore: pin %s: %w", p.AlertID, err)
	}
	return nil
}

// Unpin ends an alert's pin now (its files then age out normally).
func (s *Store) Unpin(alertID string) error {
	p, err := s.LookupPin(alertID)
	if err != nil {
		return err
	}
	p.Until = s.opts.Now().UTC()
	return s.Pin(p)
}

// Pins returns every pin, the latest per alert, expired ones included, in
// the order they were first pinned.
func (s *Store) Pins() ([]Pin, error) {
	f, err := os.Open(s.path(pinsName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcapstore: reading pins: %w", err)
	}
	defer f.Close()
	var out []Pin
	at := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var p Pin
		if json.Unmarshal(sc.Bytes(), &p) != nil || p.AlertID == "" {
			continue // a line cut short by a crash
		}
		if i, ok := at[p.AlertID]; ok {
			out[i] = p
			continue
		}
		at[p.AlertID] = len(out)
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pcapstore: reading pins: %w", err)
	}
	return out, nil
}

// LookupPin returns the pin of an alert, or an error wrapping ErrNotFound.
func (s *Store) LookupPin(alertID string) (Pin, error) {
	pins, err := s.Pins()
	if err != nil {
		return Pin{}, err
	}
	for _, p := range pins {
		if p.AlertID == alertID {
			return p, nil
		}
	}
	return Pin{}, fmt.Errorf("pcapstore: alert %q: no pin: %w", alertID, ErrNotFound)
}

func usesAlert(n *node) bool {
	if n == nil {
		return false
	}
	if n.op == opPrim {
		return n.p.kind == pAlert
	}
	return usesAlert(n.l) || usesAlert(n.r)
}

// resolve binds the expression's alert primitives to their pins.
func (s *Store) resolve(e *Expr) (*node, error) {
	if !usesAlert(e.root) {
		return e.root, nil
	}
	pins, err := s.Pins()
	if err != nil {
		return nil, err
	}
	byID := map[string]*Pin{}
	for i := range pins {
		byID[pins[i].AlertID] = &pins[i]
	}
	var walk func(n *node) (*node, error)
	walk = func(n *node) (*node, error) {
		if n == nil {
			return nil, nil
		}
		c := *n
		if n.op == opPrim {
			if n.p.kind != pAlert {
				return &c, nil
			}
			p := byID[n.p.alert]
			if p == nil {
				return nil, fmt.Errorf("pcapstore: alert %q: no pin: %w", n.p.alert, ErrNotFound)
			}
			sub, err := ParseExpr(p.Expr)
			if err != nil {
				return nil, fmt.Errorf("pcapstore: alert %q: pinned expression: %w", n.p.alert, err)
			}
			c.p.pin, c.p.sub = p, sub.root // nil: every packet in the window
			return &c, nil
		}
		var err error
		if c.l, err = walk(n.l); err != nil {
			return nil, err
		}
		if c.r, err = walk(n.r); err != nil {
			return nil, err
		}
		return &c, nil
	}
	return walk(e.root)
}
