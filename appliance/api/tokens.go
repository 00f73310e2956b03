package api

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Role is what a token may do. Roles are ordered: each allows what the
// ones before it allow.
type Role int

const (
	RoleViewer       Role = iota + 1 // metrics, status, alerts
	RoleAnalyst                      // + alert triage
	RoleInvestigator                 // + pcap retrieval
)

var roleNames = map[string]Role{"viewer": RoleViewer, "analyst": RoleAnalyst, "investigator": RoleInvestigator}

func (r Role) String() string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	if r, ok := roleNames[s]; ok {
		return r, nil
	}
	return 0, fmt.Errorf("unknown role %q (viewer, analyst or investigator)", s)
}

// Token is one line of the token file: a name for the audit log, a role,
// and the SHA-256 of the secret.
type Token struct {
	Name string
	Role Role
	Hash [sha256.Size]byte
}

// ParseTokens reads a token file's text. Lines are "NAME ROLE sha256:HEX";
// blank lines and lines starting with # are skipped. Errors name the line.
func ParseTokens(name string, data []byte) ([]Token, error) {
	var out []Token
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want NAME ROLE sha256:HEX, got %d fields", name, n, len(f))
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		h, ok := strings.CutPrefix(f[2], "sha256:")
		raw, err := hex.DecodeString(h)
		if !ok || err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s:%d: the third field must be sha256: and 64 hex digits", name, n)
		}
		if seen[f[0]] {
			return nil, fmt.Errorf("%s:%d: token name %q is used twice", name, n, f[0])
		}
		seen[f[0]] = true
		out = append(out, Token{Name: f[0], Role: role, Hash: [sha256.Size]byte(raw)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// NewToken makes a random secret (32 bytes, base64url) and the file line
// that admits it as name with role. The secret is shown once; only its
// hash is kept.
func NewToken(name string, role Role) (secret, line string, err error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n#") {
		return "", "", fmt.Errorf("token name %q: use letters, digits, '-', '_' or '.'", name)
	}
	if role < RoleViewer || role > RoleInvestigator {
		return "", "", fmt.Errorf("unknown role %d", role)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	secret = "mamori_" + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, fmt.Sprintf("%s %s sha256:%s", name, role, hex.EncodeToString(h[:])), nil
}

// AddToken appends a new token for name and role to the file at path
// (created with mode 0600) and returns its secret.
func AddToken(path, name string, role Role) (string, error) {
	var existing []Token
	if data, err := os.ReadFile(path); err == nil {
		if existing, err = ParseTokens(path, data); err != nil {
			return "", err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, t := range existing {
		if t.Name == name {
			return "", fmt.Errorf("%s: a token named %q exists; remove its line first", path, name)
		}
	}
	secret, line, err := NewToken(name, role)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(f, "%s\n", line); err != nil {
		f.Close()
		return "", err
	}
	return secret, f.Close()
}

// tokenFile is the token file, re-read when its modification time or size
// changes (checked at most once a second).
type tokenFile struct {
	path string

	mu      sync.Mutex
	tokens  []Token
	mtime   time.Time
	size    int64
	checked time.Time
	err     error
}

// lookup returns the token whose hash matches secret. Every stored hash
// is compared in constant time, so timing says nothing about which.
func (f *tokenFile) lookup(secret string, now time.Time) (Token, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.checked) >= time.Second || f.checked.IsZero() {
		f.checked = now
		f.reload()
	}
	if f.err != nil {
		return Token{}, false, f.err
	}
	h := sha256.Sum256([]byte(secret))
	var found Token
	ok := 0
	for _, t := range f.tokens {
		eq := subtle.ConstantTimeCompare(h[:], t.Hash[:])
		if eq == 1 {
			found = t
		}
		ok |= eq
	}
	return found, ok == 1, nil
}

func (f *tokenFile) reload() {
	st, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		f.tokens, f.err = nil, nil // no file: no token is valid
		return
	}
	if err != nil {
		f.err = err
		return
	}
	if st.Mode().Perm()&0o002 != 0 {
		f.err = fmt.Errorf("%s is writable by everyone: refusing its tokens (chmod 600)", f.path)
		return
	}
	if st.ModTime().Equal(f.mtime) && st.Size() == f.size && f.err == nil {
		return
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		f.err = err
		return
	}
	tokens, err := ParseTokens(f.path, data)
	if err != nil {
		f.err = err
		return
	}
	f.tokens, f.err, f.mtime, f.size = tokens, nil, st.ModTime(), st.Size()
}

// TokensPath is the token file a configuration names: api.tokens, or
// api-tokens in the sensor's data directory.
func TokensPath(cfg Config, dataDir string) string {
	if cfg.Tokens != "" {
		return cfg.Tokens
	}
	return filepath.Join(dataDir, "api-tokens")
}

// ListTokens returns the tokens of the file at path (none when it does
// not exist).
func ListTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseTokens(path, data)
}

// RemoveToken deletes the line of the token named name, rewriting the
// file atomically (other lines, comments included, are kept as they are).
func RemoveToken(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := ParseTokens(path, data); err != nil {
		return err
	}
	var out []byte
	found := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == name && !strings.HasPrefix(f[0], "#") {
			found = true
			continue
		}
		out = append(out, line...)
	}
	if !found {
		return fmt.Errorf("%s: no token named %q", path, name)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
