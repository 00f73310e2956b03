package smb

import (
	"errors"
	"fmt"
)

// Config bounds what an SMB session buffers and remembers. A zero field
// takes the default given in its comment.
type Config struct {
	// MaxMessage is the most of one SMB message (NetBIOS session message)
	// buffered: headers, names, security blobs, compound chains. READ and
	// WRITE data are never buffered (except on named pipes, below); the
	// rest of a longer message is skipped and noted as the anomaly
	// "message_truncated". Default 64 KiB; 1 KiB to 16 MiB.
	MaxMessage int `yaml:"max_message"`
	// MaxPipeData is the most of one named-pipe READ/WRITE/IOCTL buffer
	// handed to the DCE/RPC decoder. Default 16 KiB.
	MaxPipeData int `yaml:"max_pipe_data"`
	// MaxPending bounds the requests awaiting a response per flow; the
	// oldest is reported unanswered ("pending_evicted") when full.
	// Default 1024.
	MaxPending int `yaml:"max_pending"`
	// MaxFiles bounds the open files tracked per flow (names, READ/WRITE
	// totals); further opens are reported but not tracked ("files_full").
	// Default 4096.
	MaxFiles int `yaml:"max_files"`
	// MaxTrees bounds the tree connects tracked per flow. Default 256.
	MaxTrees int `yaml:"max_trees"`
	// MaxSessions bounds the authenticated sessions tracked per flow.
	// Default 64.
	MaxSessions int `yaml:"max_sessions"`
	// MaxPipes bounds the named pipes with DCE/RPC state per flow.
	// Default 32.
	MaxPipes int `yaml:"max_pipes"`
	// MaxRecords bounds the records one flow emits; more are counted and
	// dropped ("records_dropped"). Default 100000.
	MaxRecords int `yaml:"max_records"`
	// MaxCompound bounds the commands decoded in one compound chain.
	// Default 64.
	MaxCompound int `yaml:"max_compound"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxMessage:  64 << 10,
		MaxPipeData: 16 << 10,
		MaxPending:  1024,
		MaxFiles:    4096,
		MaxTrees:    256,
		MaxSessions: 64,
		MaxPipes:    32,
		MaxRecords:  100000,
		MaxCompound: 64,
	}
}

type bound struct {
	key      string
	v        *int
	def      int
	min, max int
}

func (c *Config) bounds() []bound {
	d := DefaultConfig()
	return []bound{
		{"max_message", &c.MaxMessage, d.MaxMessage, 1 << 10, 16 << 20},
		{"max_pipe_data", &c.MaxPipeData, d.MaxPipeData, 256, 1 << 20},
		{"max_pending", &c.MaxPending, d.MaxPending, 1, 1 << 20},
		{"max_files", &c.MaxFiles, d.MaxFiles, 1, 1 << 20},
		{"max_trees", &c.MaxTrees, d.MaxTrees, 1, 1 << 16},
		{"max_sessions", &c.MaxSessions, d.MaxSessions, 1, 1 << 16},
		{"max_pipes", &c.MaxPipes, d.MaxPipes, 1, 1 << 12},
		{"max_records", &c.MaxRecords, d.MaxRecords, 1, 1 << 30},
		{"max_compound", &c.MaxCompound, d.MaxCompound, 1, 1 << 12},
	}
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	for _, b := range c.bounds() {
		switch {
		case *b.v == 0:
			*b.v = b.def
		case *b.v < b.min || *b.v > b.max:
			errs = append(errs, fmt.Errorf("%s: must be between %d and %d, got %d", b.key, b.min, b.max, *b.v))
		}
	}
	return c, errors.Join(errs...)
}

// Validate reports the problems with c, naming fields by their
// configuration keys.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}
