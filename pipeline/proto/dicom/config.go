package dicom

import (
	"errors"
	"fmt"
)

// Config bounds what a DICOM session keeps. A zero field means the default
// given in its comment; every limit reached is counted in the record's
// mamori.dicom.anomalies, never silent.
type Config struct {
	// MaxAssociatePDU is the most bytes of an A-ASSOCIATE-RQ or -AC PDU
	// buffered for decoding; the rest of a longer PDU is skipped and its
	// items past the limit are lost ("associate pdu truncated"). Defaults to
	// 64 KiB (a storescu proposing all 128 contexts sends about 11 KiB).
	MaxAssociatePDU int `yaml:"max_associate_pdu"`
	// MaxContexts is the most presentation contexts kept per association.
	// Defaults to 128, the most PS3.8 allows (odd IDs 1..255).
	MaxContexts int `yaml:"max_contexts"`
	// MaxTransferSyntaxes is the most proposed transfer syntaxes kept per
	// presentation context. Defaults to 8.
	MaxTransferSyntaxes int `yaml:"max_transfer_syntaxes"`
	// MaxCommandBytes is the most bytes of one DIMSE command set buffered
	// (command sets are usually 60-250 bytes). Defaults to 4096.
	MaxCommandBytes int `yaml:"max_command_bytes"`
	// MaxPending is the most outstanding DIMSE requests (awaiting a final
	// response) tracked per association. Defaults to 256.
	MaxPending int `yaml:"max_pending"`
	// MaxSOPClasses is the most distinct SOP classes (from commands' Affected
	// or Requested SOP Class UID) listed per association. Defaults to 32.
	MaxSOPClasses int `yaml:"max_sop_classes"`
	// MaxMoveDestinations is the most distinct C-MOVE destination AE titles
	// listed per association. Defaults to 16.
	MaxMoveDestinations int `yaml:"max_move_destinations"`
	// MaxFailureRecords is the most records emitted per association for
	// DIMSE responses with a failure status (one record each). Defaults to
	// 16; negative disables them (failures are still counted in the
	// association record).
	MaxFailureRecords int `yaml:"max_failure_records"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxAssociatePDU:     64 << 10,
		MaxContexts:         128,
		MaxTransferSyntaxes: 8,
		MaxCommandBytes:     4096,
		MaxPending:          256,
		MaxSOPClasses:       32,
		MaxMoveDestinations: 16,
		MaxFailureRecords:   16,
	}
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	var errs []error
	fill := func(name string, v *int, def, lo, hi int) {
		switch {
		case *v == 0:
			*v = def
		case *v < lo || *v > hi:
			errs = append(errs, fmt.Errorf("%s: must be between %d and %d, got %d", name, lo, hi, *v))
		}
	}
	fill("max_associate_pdu", &c.MaxAssociatePDU, d.MaxAssociatePDU, 1024, 16<<20)
	fill("max_contexts", &c.MaxContexts, d.MaxContexts, 1, 128)
	fill("max_transfer_syntaxes", &c.MaxTransferSyntaxes, d.MaxTransferSyntaxes, 1, 64)
	fill("max_command_bytes", &c.MaxCommandBytes, d.MaxCommandBytes, 256, 1<<20)
	fill("max_pending", &c.MaxPending, d.MaxPending, 1, 65536)
	fill("max_sop_classes", &c.MaxSOPClasses, d.MaxSOPClasses, 1, 1024)
	fill("max_move_destinations", &c.MaxMoveDestinations, d.MaxMoveDestinations, 1, 1024)
	if c.MaxFailureRecords >= 0 {
		fill("max_failure_records", &c.MaxFailureRecords, d.MaxFailureRecords, 1, 1<<20)
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys ("max_pending: must be ...").
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
