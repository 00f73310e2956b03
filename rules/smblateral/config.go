package smblateral

import (
	"errors"
	"time"
)

// Config tunes the rule. A zero field means the default.
type Config struct {
	// Ports are the TCP ports SMB is expected on. Defaults to [445, 139].
	Ports []uint16 `yaml:"ports"`
	// Window is the sliding window of a fan-out. Defaults to 15m.
	Window time.Duration `yaml:"window"`
	// MinNewTargets is how many hosts a source must newly reach over SMB
	// in the window to be a fan-out. Defaults to 5.
	MinNewTargets int `yaml:"min_new_targets"`
	// AdminShares lists further share names treated as administrative,
	// upper-case with the '$' (ADMIN$ and drive shares C$, D$ … always
	// are).
	AdminShares []string `yaml:"admin_shares"`
	// AlertAdmins also reports hosts listed under admins (off by default:
	// admins use admin shares by design).
	AlertAdmins bool `yaml:"alert_admins"`
	// BurstWindow and BurstFiles: BurstFiles files given one new extension
	// by one host within BurstWindow (renamed, or rewritten under it with
	// the original deleted) is a ransomware-like burst. Defaults to 2m and
	// 10.
	BurstWindow time.Duration `yaml:"burst_window"`
	BurstFiles  int           `yaml:"burst_files"`
	// Executables are the file extensions treated as programs. Defaults to
	// exe dll sys scr bat cmd ps1 vbs js hta msi com.
	Executables []string `yaml:"executables"`
	// MaxSources bounds the sources tracked. Defaults to 16,384.
	MaxSources int `yaml:"max_sources"`
	// MaxTargets bounds the targets tracked per source. Defaults to 4,096.
	MaxTargets int `yaml:"max_targets"`
	// MaxFiles bounds the file names remembered per source for the
	// extension-change check. Defaults to 4,096.
	MaxFiles int `yaml:"max_files"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Ports: []uint16{445, 139}, Window: 15 * time.Minute, MinNewTargets: 5,
		BurstWindow: 2 * time.Minute, BurstFiles: 10,
		Executables: []string{"exe", "dll", "sys", "scr", "bat", "cmd", "ps1", "vbs", "js", "hta", "msi", "com"},
		MaxSources:  16_384, MaxTargets: 4_096, MaxFiles: 4_096,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Ports == nil {
		c.Ports = d.Ports
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.MinNewTargets == 0 {
		c.MinNewTargets = d.MinNewTargets
	}
	if c.BurstWindow == 0 {
		c.BurstWindow = d.BurstWindow
	}
	if c.BurstFiles == 0 {
		c.BurstFiles = d.BurstFiles
	}
	if c.Executables == nil {
		c.Executables = d.Executables
	}
	if c.MaxSources == 0 {
		c.MaxSources = d.MaxSources
	}
	if c.MaxTargets == 0 {
		c.MaxTargets = d.MaxTargets
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = d.MaxFiles
	}
	return c
}

// Validate reports bad values as "key: reason", joined.
func (c Config) Validate() error {
	var errs []error
	if c.Window < 0 || (c.Window > 0 && c.Window < 10*time.Second) {
		errs = append(errs, errors.New("window: must be at least 10s"))
	}
	if c.MinNewTargets < 0 || c.MinNewTargets == 1 {
		errs = append(errs, errors.New("min_new_targets: must be at least 2"))
	}
	if c.BurstWindow < 0 {
		errs = append(errs, errors.New("burst_window: must not be negative"))
	}
	if c.BurstFiles < 0 || c.BurstFiles == 1 {
		errs = append(errs, errors.New("burst_files: must be at least 2"))
	}
	for _, p := range []struct {
		k string
		v int
	}{{"max_sources", c.MaxSources}, {"max_targets", c.MaxTargets}, {"max_files", c.MaxFiles}} {
		if p.v < 0 {
			errs = append(errs, errors.New(p.k+": must be > 0"))
		}
	}
	return errors.Join(errs...)
}
