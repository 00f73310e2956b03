package all

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"mamori/pipeline/baseline"
	"mamori/pipeline/event"
	"mamori/rules"
	"mamori/rules/maintwindow"
	"mamori/rules/newpeer"
	"mamori/rules/nightbeacon"
	"mamori/rules/rdpscan"
	"mamori/rules/segmentpolicy"
	"mamori/rules/smblateral"
)

// Config is the rules: section of the configuration file.
type Config struct {
	// Disable lists rule ids to turn off, e.g. [segment-policy].
	Disable       []string             `yaml:"disable"`
	RDPScan       rdpscan.Config       `yaml:"rdp_scan"`
	SMBLateral    smblateral.Config    `yaml:"smb_lateral"`
	NightBeacon   nightbeacon.Config   `yaml:"night_beacon"`
	NewPeer       newpeer.Config       `yaml:"new_external_peer"`
	MaintWindow   maintwindow.Config   `yaml:"maintenance_window"`
	SegmentPolicy segmentpolicy.Config `yaml:"segment_policy"`
}

// DefaultConfig returns every rule's defaults, none disabled.
func DefaultConfig() Config {
	return Config{
		RDPScan: rdpscan.DefaultConfig(), SMBLateral: smblateral.DefaultConfig(),
		NightBeacon: nightbeacon.DefaultConfig(), NewPeer: newpeer.DefaultConfig(),
		MaintWindow: maintwindow.DefaultConfig(), SegmentPolicy: segmentpolicy.DefaultConfig(),
	}
}

// Rule is one registered rule.
type Rule struct {
	Meta *rules.Meta
	// Key is the rule's key in the rules: section.
	Key string
	// New builds the rule's detector from the whole rules configuration.
	New      func(c Config, site rules.Site, base baseline.View) (rules.Detector, error)
	validate func(c Config) error
}

// Rules lists every rule, in the order they see each record.
func Rules() []Rule {
	return []Rule{
		{&rdpscan.Meta, "rdp_scan", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return rdpscan.New(c.RDPScan, s, b)
		}, func(c Config) error { return c.RDPScan.Validate() }},
		{&smblateral.Meta, "smb_lateral", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return smblateral.New(c.SMBLateral, s, b)
		}, func(c Config) error { return c.SMBLateral.Validate() }},
		{&nightbeacon.Meta, "night_beacon", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return nightbeacon.New(c.NightBeacon, s, b)
		}, func(c Config) error { return c.NightBeacon.Validate() }},
		{&newpeer.Meta, "new_external_peer", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return newpeer.New(c.NewPeer, s, b)
		}, func(c Config) error { return c.NewPeer.Validate() }},
		{&maintwindow.Meta, "maintenance_window", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return maintwindow.New(c.MaintWindow, s, b)
		}, func(c Config) error { return c.MaintWindow.Validate() }},
		{&segmentpolicy.Meta, "segment_policy", func(c Config, s rules.Site, b baseline.View) (rules.Detector, error) {
			return segmentpolicy.New(c.SegmentPolicy, s, b)
		}, func(c Config) error { return c.SegmentPolicy.Validate() }},
	}
}

// Validate reports bad values as "key: reason" (key under the rules:
// section, e.g. "rdp_scan.window"), joined.
func (c Config) Validate() error {
	var errs []error
	ids := make([]string, 0, 6)
	for _, r := range Rules() {
		ids = append(ids, r.Meta.ID)
		if err := r.validate(c); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s.%w", r.Key, e))
			}
		}
	}
	for i, id := range c.Disable {
		if !slices.Contains(ids, id) {
			errs = append(errs, fmt.Errorf("disable.%d: unknown rule %q (rules: %s)", i, id, strings.Join(ids, ", ")))
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Named is a built detector with its rule id.
type Named struct {
	ID string
	rules.Detector
}

// Detectors builds every rule not disabled. base may be nil (no baseline).
func Detectors(c Config, site rules.Site, base baseline.View) ([]Named, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := site.Validate(); err != nil {
		return nil, err
	}
	var out []Named
	names := rules.NewSharedNames(sharedFlows, sharedAddrs)
	shared := false
	for _, r := range Rules() {
		if slices.Contains(c.Disable, r.Meta.ID) {
			continue
		}
		d, err := r.New(c, site, base)
		if err != nil {
			return nil, err
		}
		if u, ok := d.(rules.NameUser); ok {
			u.UseNames(names)
			shared = true
		}
		out = append(out, Named{r.Meta.ID, d})
	}
	if shared {
		// The last detector learns each record's names for all of them
		// once they all saw it (and forgets a finished flow's name).
		last := &out[len(out)-1]
		last.Detector = &keeper{last.Detector, names}
	}
	return out, nil
}

// The shared name memory's bounds: the largest any rule had on its own
// (server names of 16,384 flows awaiting their records; DNS names of
// 65,536 addresses).
const (
	sharedFlows = 16_384
	sharedAddrs = 65_536
)

// keeper is a detector followed by the shared name memory's work on each
// record. It reports the detector's counters.
type keeper struct {
	rules.Detector
	names *rules.Names
}

// Observe implements rules.Detector.
func (k *keeper) Observe(r event.Record, raise rules.Raise) {
	k.Detector.Observe(r, raise)
	k.names.Done(r)
}

// Stats implements rules.Stats.
func (k *keeper) Stats() []event.MetricValue {
	if st, ok := k.Detector.(rules.Stats); ok {
		return st.Stats()
	}
	return nil
}
