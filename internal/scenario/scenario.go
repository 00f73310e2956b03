package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"mamori/rules/rulestest"
)

// Config shapes a scenario. Zero fields take values drawn from Seed.
type Config struct {
	Seed         uint64
	Workstations int // clinical workstations (default 20–50; at least 20)
	LearnDays    int // normal days before the attack day (default 3–5)
}

// Scenario is one simulated hospital rendered as captures: the site
// facts, a capture per normal day to learn from, the attack day (and the
// next morning, so that night episodes end) and the labels of its attack
// episodes and near misses.
type Scenario struct {
	Config Config
	// Site is the hospital's configuration file (YAML) for mamori -c.
	Site string
	// Labels are the attack episodes and near misses of the attack day.
	Labels []rulestest.Label
	// AttackDay is the attack day's midnight in the site's zone.
	AttackDay time.Time
	// Deadlines say by when (packet time) some labelled episodes must
	// have alerted.
	Deadlines []Deadline

	h      *hospital
	learn  []*capture
	attack *capture
}

// Tokyo is the site's zone (Japan has no daylight saving time).
var Tokyo = time.FixedZone("Asia/Tokyo", 9*3600)

// Generate builds the scenario of c.
func Generate(c Config) *Scenario {
	r := rand.New(rand.NewPCG(c.Seed, 0x6d616d6f72692d73))
	if c.LearnDays == 0 {
		c.LearnDays = 3 + r.IntN(3)
	}
	if c.Workstations != 0 {
		c.Workstations = max(c.Workstations, 20) // the episodes need as many distinct hosts
	}
	h := newHospital(r, c)
	// A start date in spring 2026, any weekday; the vendor's window days
	// hold the attack day and one learning day.
	start := time.Date(2026, 4, 1+r.IntN(28), 0, 0, 0, 0, Tokyo)
	attackDay := start.AddDate(0, 0, c.LearnDays)
	h.windowDays = []time.Weekday{attackDay.Weekday()}
	if other := start.AddDate(0, 0, r.IntN(c.LearnDays)).Weekday(); other != attackDay.Weekday() {
		h.windowDays = append(h.windowDays, other)
	}
	s := &Scenario{Config: c, AttackDay: attackDay, h: h}
	for i := range c.LearnDays {
		cp := &capture{}
		h.w = &wire{cap: cp, r: r, internal: h.internal}
		d := start.AddDate(0, 0, i)
		h.day(d, d.Add(24*time.Hour))
		s.learn = append(s.learn, cp)
	}
	h.pumpMove = attackDay.Add(time.Duration(10*60+r.IntN(240)) * time.Minute)
	s.attack = &capture{}
	h.w = &wire{cap: s.attack, r: r, internal: h.internal}
	h.day(attackDay, attackDay.Add(24*time.Hour))
	h.day(attackDay.AddDate(0, 0, 1), attackDay.AddDate(0, 0, 1).Add(8*time.Hour))
	s.Labels = append(h.attacks(attackDay), h.nearMisses(attackDay)...)
	s.Deadlines = h.deadlines
	s.Site = h.site()
	return s
}

// Deadline is a time-to-alert target: the first alert of the episode of
// Labels[Label] must come by By.
type Deadline struct {
	Label int
	By    time.Time
	Why   string
}

// Files are the paths Write wrote.
type Files struct {
	Site   string   // site.yaml
	Learn  []string // learn-1.pcap …, one per normal day
	Attack string   // attack.pcap
	Labels string   // labels.json
}

// labelJSON is a label as labels.json holds it: the rule, a name, the
// actor (and peer) an alert must name, the span its evidence must start
// in (an hour's slack either side), whether it is a near miss that no
// alert may match, and for some attacks the time by which the first
// alert must come.
type labelJSON struct {
	Rule     string    `json:"rule"`
	Name     string    `json:"name"`
	Actor    string    `json:"actor"`
	Peer     string    `json:"peer,omitempty"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	NearMiss bool      `json:"near_miss,omitempty"`
	AlertBy  time.Time `json:"alert_by,omitzero"`
}

// Write writes the scenario into dir (created if needed).
func (s *Scenario) Write(dir string) (Files, error) {
	var f Files
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, fmt.Errorf("write scenario: %w", err)
	}
	f.Site = filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(f.Site, []byte(s.Site), 0o644); err != nil {
		return f, fmt.Errorf("write scenario: %w", err)
	}
	for i, c := range s.learn {
		p := filepath.Join(dir, fmt.Sprintf("learn-%d.pcap", i+1))
		if err := c.write(p); err != nil {
			return f, err
		}
		f.Learn = append(f.Learn, p)
	}
	f.Attack = filepath.Join(dir, "attack.pcap")
	if err := s.attack.write(f.Attack); err != nil {
		return f, err
	}
	b, err := json.MarshalIndent(s.labelsJSON(), "", "  ")
	if err != nil {
		return f, fmt.Errorf("write scenario: %w", err)
	}
	f.Labels = filepath.Join(dir, "labels.json")
	if err := os.WriteFile(f.Labels, append(b, '\n'), 0o644); err != nil {
		return f, fmt.Errorf("write scenario: %w", err)
	}
	return f, nil
}

// labelsJSON is the labels as labels.json holds them.
func (s *Scenario) labelsJSON() []labelJSON {
	ls := make([]labelJSON, len(s.Labels))
	for i, l := range s.Labels {
		ls[i] = labelJSON{Rule: l.Rule, Name: l.Name, Actor: l.Actor.String(), From: l.From, To: l.To, NearMiss: l.NearMiss}
		if l.Peer.IsValid() {
			ls[i].Peer = l.Peer.String()
		}
	}
	for _, d := range s.Deadlines {
		ls[d.Label].AlertBy = d.By
	}
	return ls
}

// Packets returns the number of packets and captured bytes of the
// learning captures and of the attack capture.
func (s *Scenario) Packets() (learnPkts, learnBytes, attackPkts, attackBytes int) {
	for _, c := range s.learn {
		learnPkts += len(c.pkts)
		learnBytes += c.bytes
	}
	return learnPkts, learnBytes, len(s.attack.pkts), s.attack.bytes
}
