package pcapstore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Hash-chained logs (the manifest and the audit log) are JSON lines. Each
// line is one object whose "prev" member is the previous line's hash and
// whose last member is its own hash:
//
//	{"seq":1,…,"prev":"000…000","hash":"5d1f…"}
//
// hash = hex(SHA-256(the line without its hash member, i.e. the bytes up to
// `,"hash":` followed by "}")). Altering, removing or reordering a line
// breaks the chain at that line; the head (last hash) commits to the whole
// log.

const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

const hashSuffixLen = len(`,"hash":""}`) + 64

// chainLine returns the line (with newline) for body, a JSON object that
// already holds its "prev" member, and its hash.
func chainLine(body []byte) ([]byte, string) {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(body)+hashSuffixLen+1)
	line = append(line, body[:len(body)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, h...)
	line = append(line, "\"}\n"...)
	return line, h
}

// splitLine separates a chained line into its body and its hash, checking
// that the hash is the body's.
func splitLine(line []byte) (body []byte, hash string, err error) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < hashSuffixLen+2 || !bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", errors.New("no hash member at the end of the line")
	}
	hash = string(line[len(line)-hashSuffixLen+9 : len(line)-2])
	body = make([]byte, 0, len(line)-hashSuffixLen+1)
	body = append(body, line[:len(line)-hashSuffixLen]...)
	body = append(body, '}')
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != hash {
		return body, hash, errors.New("line altered: its hash does not match its contents")
	}
	return body, hash, nil
}

// lastHash returns the hash of the last line of the chained log at path,
// or genesis when it is empty or absent.
func lastHash(f *os.File) (string, error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	if size == 0 {
		return genesis, nil
	}
	for chunk := int64(4096); ; chunk *= 4 {
		start := max(0, size-chunk)
		buf := make([]byte, size-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		buf = bytes.TrimRight(buf, "\n")
		i := bytes.LastIndexByte(buf, '\n')
		if i < 0 && start > 0 {
			continue
		}
		line := buf[i+1:]
		if len(line) < hashSuffixLen {
			return "", errors.New("last line has no hash")
		}
		return string(line[len(line)-hashSuffixLen+9 : len(line)-2]), nil
	}
}

// appendChained appends entry to the chained log at path under an
// exclusive lock, filling its prev member through setPrev, and returns the
// new line's hash. The line is synced to disk before it returns.
func appendChained(path string, entry any, setPrev func(prev string)) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return "", fmt.Errorf("locking %s: %w", path, err)
	}
	defer unlockFile(f)
	prev, err := lastHash(f)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	setPrev(prev)
	body, err := json.Marshal(entry)
	if err != nil {
		return "", err
	}
	line, h := chainLine(body)
	if _, err := f.Write(line); err != nil {
		return "", err
	}
	return h, f.Sync()
}

// ChainProblem is a line of a chained log that does not verify.
type ChainProblem struct {
	Line int // 1-based
	Msg  string
}

// readChain reads the chained log at path, calling fn with each line (raw,
// without its newline), its body and its hash (fn may be nil). It checks every line's hash and link, and returns
// the head hash, the number of lines and the problems found. A missing file
// is an empty log.
func readChain(path string, fn func(line int, raw, body []byte, hash string) error) (head string, lines int, problems []ChainProblem, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return genesis, 0, nil, nil
	}
	if err != nil {
		return "", 0, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	prev := genesis
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			lines++
			if line[len(line)-1] != '\n' {
				problems = append(problems, ChainProblem{lines, "last line is incomplete (a write was cut short)"})
				return prev, lines, problems, nil
			}
			body, h, err := splitLine(line)
			if err != nil {
				problems = append(problems, ChainProblem{lines, err.Error()})
			} else {
				var link struct {
					Prev string `json:"prev"`
				}
				if err := json.Unmarshal(body, &link); err != nil {
					problems = append(problems, ChainProblem{lines, "not a JSON object: " + err.Error()})
				} else if link.Prev != prev {
					problems = append(problems, ChainProblem{lines, "chain broken: prev does not match the previous line's hash (a line was removed, inserted or reordered)"})
				}
			}
			if fn != nil && body != nil {
				if err := fn(lines, bytes.TrimRight(line, "\r\n"), body, h); err != nil {
					return h, lines, problems, err
				}
			}
			prev = h
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return prev, lines, problems, nil
			}
			return prev, lines, problems, rerr
		}
	}
}
