package pcapstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Packet files are classic pcap, little-endian, with nanosecond timestamps
// (magic a1b23c4d), version 2.4, snap length 262144, one link type per
// file: every tool that reads pcap reads them.
const (
	pcapMagicNano  = 0xa1b23c4d
	pcapMagicMicro = 0xa1b2c3d4
	fileHeaderLen  = 24
	recHeaderLen   = 16
	// SnapLen is the longest packet record the store keeps; longer ones are
	// cut to it and counted.
	SnapLen = 262144
)

func appendFileHeader(b []byte, link uint32) []byte {
	b = binary.LittleEndian.AppendUint32(b, pcapMagicNano)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0) // thiszone
	b = binary.LittleEndian.AppendUint32(b, 0) // sigfigs
	b = binary.LittleEndian.AppendUint32(b, SnapLen)
	b = binary.LittleEndian.AppendUint32(b, link)
	return b
}

// appendRecord appends one packet record. ts must be representable (see
// timeOK).
func appendRecord(b []byte, ts int64, orig int, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(ts/1e9))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts%1e9))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	if orig < len(data) {
		orig = len(data)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(orig))
	return append(b, data...)
}

// timeOK reports whether a pcap record can hold ts (32-bit seconds since
// 1970).
func timeOK(ts int64) bool { return ts >= 0 && ts/1e9 <= 0xffffffff }

// recHeader is a decoded record header.
type recHeader struct {
	ts     int64
	capLen uint32
	orig   uint32
}

func parseRecHeader(b []byte) (recHeader, error) {
	sec := binary.LittleEndian.Uint32(b[0:])
	nsec := binary.LittleEndian.Uint32(b[4:])
	h := recHeader{ts: int64(sec)*1e9 + int64(nsec), capLen: binary.LittleEndian.Uint32(b[8:]), orig: binary.LittleEndian.Uint32(b[12:])}
	if nsec >= 1e9 || h.capLen > SnapLen || h.orig < h.capLen {
		return h, errBadRecord
	}
	return h, nil
}

var errBadRecord = errors.New("bad packet record")

// readFileHeader checks a store packet file's header and returns its link
// type.
func readFileHeader(b []byte) (uint32, error) {
	if len(b) < fileHeaderLen {
		return 0, fmt.Errorf("short pcap header")
	}
	if m := binary.LittleEndian.Uint32(b); m != pcapMagicNano {
		return 0, fmt.Errorf("not a store packet file (magic %08x)", m)
	}
	return binary.LittleEndian.Uint32(b[20:]), nil
}

// scanRecords reads a store packet file from its start and calls fn for
// each complete, valid record with its offset; data is valid only during the
// call. It returns the link type and the length of the valid prefix: a
// record cut short or malformed (a crash mid-write) ends the scan there
// without error. An error from fn stops the scan and is returned.
func scanRecords(r io.Reader, fn func(off int64, h recHeader, data []byte) error) (link uint32, valid int64, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var hdr [fileHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("reading pcap header: %w", err)
	}
	link, err = readFileHeader(hdr[:])
	if err != nil {
		return 0, 0, err
	}
	off := int64(fileHeaderLen)
	buf := make([]byte, 0, 65536)
	var rh [recHeaderLen]byte
	for {
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return link, off, nil
			}
			return link, off, fmt.Errorf("reading packet file: %w", err)
		}
		h, err := parseRecHeader(rh[:])
		if err != nil {
			return link, off, nil
		}
		if cap(buf) < int(h.capLen) {
			buf = make([]byte, h.capLen)
		}
		buf = buf[:h.capLen]
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return link, off, nil
			}
			return link, off, fmt.Errorf("reading packet file: %w", err)
		}
		if fn != nil {
			if err := fn(off, h, buf); err != nil {
				return link, off, err
			}
		}
		off += recHeaderLen + int64(h.capLen)
	}
}

// tsTime converts Unix nanoseconds to a UTC time.
func tsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
