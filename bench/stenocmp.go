//go:build ignore

// stenocmp compares the packets of two pcap files as multisets of frames
// (their bytes, not their timestamps or order), for bench/steno.sh: the
// same frames replayed into stenographer come back with the capture time of
// the replay, so only the frames themselves can be compared.
//
//	go run bench/stenocmp.go A.pcap B.pcap
//
// It prints one line:
//
//	a N packets B bytes | b N packets B bytes | common N | only-a N (KINDS) | only-b N (KINDS) | same|differ
//
// where KINDS counts the differing frames by kind (arp, ipv4, ipv6,
// vlan, other), and exits 0 whether or not they differ (1 on a read error).
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gopacket/gopacket/pcapgo"
)

type set struct {
	count   map[[32]byte]int
	kind    map[[32]byte]string
	packets int
	bytes   int64
}

func kindOf(b []byte) string {
	if len(b) < 14 {
		return "short"
	}
	switch binary.BigEndian.Uint16(b[12:]) {
	case 0x0806:
		return "arp"
	case 0x8035:
		return "rarp"
	case 0x0800:
		return "ipv4"
	case 0x86dd:
		return "ipv6"
	case 0x8100, 0x88a8:
		return "vlan"
	}
	return "other"
}

func load(path string) (*set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &set{count: map[[32]byte]int{}, kind: map[[32]byte]string{}}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return s, nil // an empty answer
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		h := sha256.Sum256(data)
		s.count[h]++
		if _, ok := s.kind[h]; !ok {
			s.kind[h] = kindOf(data)
		}
		s.packets++
		s.bytes += int64(len(data))
	}
}

// minus returns how many frames of a are not in b, by kind.
func minus(a, b *set) (int, string) {
	n := 0
	kinds := map[string]int{}
	for h, c := range a.count {
		if d := c - b.count[h]; d > 0 {
			n += d
			kinds[a.kind[h]] += d
		}
	}
	var parts []string
	for k, c := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, c))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return n, ""
	}
	return n, " (" + strings.Join(parts, ", ") + ")"
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run bench/stenocmp.go A.pcap B.pcap")
		os.Exit(2)
	}
	a, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stenocmp:", err)
		os.Exit(1)
	}
	b, err := load(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stenocmp:", err)
		os.Exit(1)
	}
	onlyA, kindsA := minus(a, b)
	onlyB, kindsB := minus(b, a)
	verdict := "same"
	if onlyA > 0 || onlyB > 0 {
		verdict = "differ"
	}
	fmt.Printf("a %d packets %d bytes | b %d packets %d bytes | common %d | only-a %d%s | only-b %d%s | %s\n",
		a.packets, a.bytes, b.packets, b.bytes, a.packets-onlyA, onlyA, kindsA, onlyB, kindsB, verdict)
}
