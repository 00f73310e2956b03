package pcapstore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EvidenceRequest asks for an evidence package: the packets of a query,
// the alerts they belong to, the manifest lines that prove where they came
// from, and a README listing every file's SHA-256.
type EvidenceRequest struct {
	// Query selects the packets; typically Expr "alert ID". Who and Why are
	// required for the README and the audit log.
	Query Query
	// AlertIDs are the alerts whose pins (and alert records) go in the
	// package; empty means those the expression names.
	AlertIDs []string
	// Out is the package: a directory to create, or a tar file when it
	// ends in ".tar". It must not exist.
	Out string
	// Tool names the software for the README (e.g. "mamori 0.1.0").
	Tool string
}

// EvidenceFile is one file of a package.
type EvidenceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// EvidenceResult describes a written package.
type EvidenceResult struct {
	Out    string
	Result Result // the packets
	Files  []EvidenceFile
	// SHA256 is the tar file's hash (empty for a directory).
	SHA256 string
}

// Evidence writes an evidence package and records it in the audit log.
// The package appears complete or not at all (it is written under a
// temporary name and renamed).
func (s *Store) Evidence(ctx context.Context, req EvidenceRequest) (EvidenceResult, error) {
	res, err := s.evidence(ctx, req)
	q := req.Query
	q.Output = req.Out
	if aerr := s.audit("evidence", q, &res.Result, err); aerr != nil {
		return res, errors.Join(err, aerr)
	}
	return res, err
}

func (s *Store) evidence(ctx context.Context, req EvidenceRequest) (EvidenceResult, error) {
	out := EvidenceResult{Out: req.Out}
	if req.Out == "" {
		return out, fmt.Errorf("pcapstore: evidence: no output given")
	}
	if req.Query.Who == "" {
		return out, fmt.Errorf("pcapstore: evidence: say who is asking (Query.Who)")
	}
	if _, err := os.Lstat(req.Out); err == nil {
		return out, fmt.Errorf("pcapstore: evidence: %s already exists", req.Out)
	}
	e, err := ParseExpr(req.Query.Expr)
	if err != nil {
		return out, err
	}
	ids := req.AlertIDs
	if len(ids) == 0 {
		ids = alertIDs(e.root)
	}
	var pins []Pin
	for _, id := range ids {
		p, err := s.LookupPin(id)
		if err != nil {
			return out, err
		}
		pins = append(pins, p)
	}
	asTar := strings.HasSuffix(req.Out, ".tar")
	work := req.Out + partExt
	if asTar {
		work = req.Out + ".d" + partExt
	}
	if err := os.Mkdir(work, 0o750); err != nil {
		return out, fmt.Errorf("pcapstore: evidence: %w", err)
	}
	defer os.RemoveAll(work)

	// The packets.
	pf, err := os.OpenFile(filepath.Join(work, "packets.pcap"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return out, fmt.Errorf("pcapstore: evidence: %w", err)
	}
	res, err := s.export(ctx, req.Query, pf)
	out.Result = res
	if cerr := pf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out, err
	}
	pcapName := "packets.pcap"
	if res.Format == "pcapng" {
		pcapName = "packets.pcapng"
		if err := os.Rename(filepath.Join(work, "packets.pcap"), filepath.Join(work, pcapName)); err != nil {
			return out, fmt.Errorf("pcapstore: evidence: %w", err)
		}
	}
	files := []EvidenceFile{{Name: pcapName, Size: res.Bytes, SHA256: res.SHA256}}
	add := func(name string, data []byte) error {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o640); err != nil {
			return fmt.Errorf("pcapstore: evidence: %w", err)
		}
		sum := sha256.Sum256(data)
		files = append(files, EvidenceFile{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	}

	// The alerts and their pins.
	for _, p := range pins {
		safe := safeName(p.AlertID)
		if len(p.Alert) > 0 {
			var buf bytes.Buffer
			if json.Indent(&buf, p.Alert, "", "  ") != nil {
				buf.Reset()
				buf.Write(p.Alert)
			}
			buf.WriteByte('\n')
			if err := add("alert-"+safe+".json", buf.Bytes()); err != nil {
				return out, err
			}
		}
		pin := p
		pin.Alert = nil
		b, _ := json.MarshalIndent(pin, "", "  ")
		if err := add("pin-"+safe+".json", append(b, '\n')); err != nil {
			return out, err
		}
	}

	// The manifest lines of the store files the packets came from, with
	// the store's creation line, and the chain's head.
	m, problems, err := s.Manifest()
	if err != nil {
		return out, err
	}
	var lines []string
	head := ""
	for _, me := range m {
		if me.Op == "create" || me.Op == "add" && slices.Contains(res.Files, me.File) {
			lines = append(lines, me.Line)
		}
		head = me.Hash
	}
	if err := add("manifest.jsonl", []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return out, err
	}

	now := s.opts.Now().UTC()
	info := struct {
		Created      time.Time `json:"created"`
		Who          string    `json:"who"`
		Why          string    `json:"why,omitempty"`
		Tool         string    `json:"tool,omitempty"`
		Store        string    `json:"store"`
		Query        string    `json:"query"`
		From         string    `json:"from,omitempty"`
		To           string    `json:"to,omitempty"`
		Packets      uint64    `json:"packets"`
		First        string    `json:"first_packet,omitempty"`
		Last         string    `json:"last_packet,omitempty"`
		Truncated    bool      `json:"truncated,omitempty"`
		SourceFiles  []string  `json:"source_files"`
		ManifestHead string    `json:"manifest_head"`
		ManifestOK   bool      `json:"manifest_chain_ok"`
	}{now, req.Query.Who, req.Query.Why, req.Tool, s.dir, req.Query.Expr, fmtTime(req.Query.From), fmtTime(req.Query.To),
		res.Packets, fmtTime(res.First), fmtTime(res.Last), res.Truncated, res.Files, head, len(problems) == 0}
	ib, _ := json.MarshalIndent(info, "", "  ")
	if err := add("query.json", append(ib, '\n')); err != nil {
		return out, err
	}

	var rd strings.Builder
	fmt.Fprintf(&rd, "Evidence package\n================\n\n")
	fmt.Fprintf(&rd, "Created:   %s\nBy:        %s\n", now.Format(time.RFC3339), req.Query.Who)
	if req.Query.Why != "" {
		fmt.Fprintf(&rd, "Reason:    %s\n", req.Query.Why)
	}
	if req.Tool != "" {
		fmt.Fprintf(&rd, "Tool:      %s\n", req.Tool)
	}
	fmt.Fprintf(&rd, "Query:     %s\n", req.Query.Expr)
	if !req.Query.From.IsZero() || !req.Query.To.IsZero() {
		fmt.Fprintf(&rd, "Window:    %s .. %s\n", fmtTime(req.Query.From), fmtTime(req.Query.To))
	}
	fmt.Fprintf(&rd, "Packets:   %d", res.Packets)
	if res.Packets > 0 {
		fmt.Fprintf(&rd, ", %s .. %s (UTC, packet time)", fmtTime(res.First), fmtTime(res.Last))
	}
	if res.Truncated {
		fmt.Fprintf(&rd, " (stopped at the packet or byte limit)")
	}
	fmt.Fprintf(&rd, "\n\nFiles (SHA-256):\n")
	for _, f := range files {
		fmt.Fprintf(&rd, "  %s  %s  (%d bytes)\n", f.SHA256, f.Name, f.Size)
	}
	fmt.Fprintf(&rd, "\n%s holds the packets that matched the query, in time order, copied\n", pcapName)
	fmt.Fprintf(&rd, "byte for byte from the store's capture files listed in manifest.jsonl.\n")
	fmt.Fprintf(&rd, "Each manifest line records a capture file's SHA-256 when the sensor closed\n")
	fmt.Fprintf(&rd, "it, and the hash of the line before it (a hash chain). The store's chain\n")
	fmt.Fprintf(&rd, "head at packaging time was\n  %s\n", head)
	if len(problems) > 0 {
		fmt.Fprintf(&rd, "WARNING: the store's manifest chain did not verify when this package was made.\n")
	}
	fmt.Fprintf(&rd, "\nTo check this package: sha256sum -c SHA256SUMS\n")
	fmt.Fprintf(&rd, "To check the store:    mamori pcap verify --store %s\n", s.dir)
	if err := add("README.txt", []byte(rd.String())); err != nil {
		return out, err
	}
	var sums strings.Builder
	for _, f := range files {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
	}
	if err := os.WriteFile(filepath.Join(work, "SHA256SUMS"), []byte(sums.String()), 0o640); err != nil {
		return out, fmt.Errorf("pcapstore: evidence: %w", err)
	}
	out.Files = files

	if !asTar {
		if err := os.Rename(work, req.Out); err != nil {
			return out, fmt.Errorf("pcapstore: evidence: %w", err)
		}
		return out, nil
	}
	names := make([]string, 0, len(files)+1)
	for _, f := range files {
		names = append(names, f.Name)
	}
	sum, err := writeTar(req.Out, work, filepath.Base(strings.TrimSuffix(req.Out, ".tar")), now, append(names, "SHA256SUMS"))
	if err != nil {
		return out, fmt.Errorf("pcapstore: evidence: %w", err)
	}
	out.SHA256 = sum
	return out, nil
}

// writeTar writes the named files of dir into a tar at path (under a
// top directory prefix), with fixed owners and times, and returns its
// SHA-256.
func writeTar(path, dir, prefix string, mtime time.Time, names []string) (string, error) {
	tmp := path + partExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	werr := func() error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		for _, name := range names {
			src, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			st, err := src.Stat()
			if err == nil {
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + "/" + name, Mode: 0o644, Size: st.Size(), ModTime: mtime, Format: tar.FormatPAX})
			}
			if err == nil {
				_, err = io.Copy(tw, src)
			}
			src.Close()
			if err != nil {
				return err
			}
		}
		return tw.Close()
	}()
	if err := f.Sync(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return "", werr
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func alertIDs(n *node) []string {
	if n == nil {
		return nil
	}
	if n.op == opPrim {
		if n.p.kind == pAlert {
			return []string{n.p.alert}
		}
		return nil
	}
	ids := append(alertIDs(n.l), alertIDs(n.r)...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
