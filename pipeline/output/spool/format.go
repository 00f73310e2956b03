package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// segmentHeader starts every segment file.
const segmentHeader = "MSPOOL\x00\x01"

const (
	headerLen = len(segmentHeader)
	recordHdr = 8 // u32 length, u32 CRC-32C
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by errors about records that fail their length or
// checksum test.
var ErrCorrupt = errors.New("corrupt spool record")

// appendRecord frames payload as one record.
func appendRecord(dst, payload []byte) []byte {
	var h [recordHdr]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// parseStatus is what parseRecord found at the start of b.
type parseStatus uint8

const (
	recOK      parseStatus = iota // a whole valid record
	recPartial                    // b ends inside the record
	recBad                        // bad length or checksum
)

// parseRecord reads the record at the start of b: its payload and total
// length when ok.
func parseRecord(b []byte) (payload []byte, n int, st parseStatus) {
	if len(b) < recordHdr {
		return nil, 0, recPartial
	}
	size := binary.LittleEndian.Uint32(b[0:])
	if size == 0 || size > MaxRecordBytes {
		return nil, 0, recBad
	}
	if len(b) < recordHdr+int(size) {
		return nil, 0, recPartial
	}
	payload = b[recordHdr : recordHdr+int(size)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, recBad
	}
	return payload, recordHdr + int(size), recOK
}

// scanValid returns the length of the valid prefix of a whole segment file
// (header included) and the number of records in it. A file without a valid
// header has a valid prefix of 0.
func scanValid(b []byte) (valid int, records int) {
	if len(b) < headerLen || string(b[:headerLen]) != segmentHeader {
		return 0, 0
	}
	off := headerLen
	for off < len(b) {
		_, n, st := parseRecord(b[off:])
		if st != recOK {
			break
		}
		off += n
		records++
	}
	return off, records
}

func segmentName(seq uint64) string { return fmt.Sprintf("%020d.seg", seq) }

func parseSegmentName(name string) (uint64, bool) {
	stem, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(stem) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	return n, err == nil
}

// cursorEntry is one line of the cursor file: segment seq's first
// unacknowledged record is number index at byte offset; bit i of acked
// says record index+i is acknowledged (bit 0 is always clear).
type cursorEntry struct {
	seq    uint64
	index  int
	offset int64
	acked  []byte
}

const cursorMagic = "mamori-spool-cursor 1"

func formatCursor(entries []cursorEntry) []byte {
	var b bytes.Buffer
	b.WriteString(cursorMagic)
	b.WriteByte('\n')
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d %d %s\n", e.seq, e.index, e.offset, hex.EncodeToString(e.acked))
	}
	return b.Bytes()
}

// parseCursor reads a cursor file. maxBits bounds each bitmap.
func parseCursor(data []byte, maxBits int) ([]cursorEntry, error) {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) == 0 || lines[0] != cursorMagic {
		return nil, fmt.Errorf("%w: cursor: missing %q header", ErrCorrupt, cursorMagic)
	}
	var out []cursorEntry
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 3 && len(f) != 4 {
			return nil, fmt.Errorf("%w: cursor line %d: want 4 fields", ErrCorrupt, i+2)
		}
		var e cursorEntry
		var err1, err2, err3, err4 error
		e.seq, err1 = strconv.ParseUint(f[0], 10, 64)
		e.index, err2 = strconv.Atoi(f[1])
		e.offset, err3 = strconv.ParseInt(f[2], 10, 64)
		if len(f) == 4 {
			e.acked, err4 = hex.DecodeString(f[3])
		}
		if err := errors.Join(err1, err2, err3, err4); err != nil || e.index < 0 || e.offset < int64(headerLen) || len(e.acked)*8 > maxBits {
			return nil, fmt.Errorf("%w: cursor line %d: %q", ErrCorrupt, i+2, l)
		}
		out = append(out, e)
	}
	return out, nil
}
