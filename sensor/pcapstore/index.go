package pcapstore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
	"slices"
)

// Index file format (one ".idx" per packet file, written when the packet
// file closes; all integers little-endian). See DESIGN notes in doc.go.
//
//	header (128 bytes)
//	  0  magic "MAMIDX01"
//	  8  u32 version (1), u32 header length (128)
//	 16  u32 link type, u16 Community ID seed, u16 reserved
//	 24  u64 packets, u64 bytes of the packet file covered
//	 40  i64 first, i64 last packet time (Unix ns)
//	 56  u32 entries, v4 addresses, v6 addresses, ports, Community IDs, time blocks
//	 80  u32 offset of each of the 9 sections below, in order (each ends where the next begins)
//	116  reserved
//	124  u32 CRC-32C of bytes 0..123
//	sections:
//	  entries   24 bytes each: kind, flags, proto, tproto, u16 sport, u16 dport,
//	            u32 src address number, u32 dst address number (0xffffffff: none),
//	            u32 postings offset, u32 packets; grouped by the busier of the
//	            two addresses (see clustered), so a host's entries lie together
//	  v4        8 bytes each, sorted: 4-byte address, u32 offset of its entry list
//	  v6        20 bytes each, sorted: 16-byte address, u32 offset of its entry list
//	  addrlists entry numbers, ascending, as uvarint deltas
//	  ports     6 bytes each, sorted: u16 port, u32 offset of its entry list
//	  portlists entry numbers, ascending, as uvarint deltas
//	  cids      12 bytes each, sorted: first 8 bytes of the Community ID, u32 entry number
//	  blocks    20 bytes each: u32 offset of the block's first packet, i64 min, i64 max time
//	  postings  per entry, the packets' file offsets, ascending, as uvarint deltas
//
// An entry is one canonical tuple (see tuple): every packet of the file
// belongs to exactly one. A query finds candidate entries through the
// address, port and Community ID tables, evaluates the expression on each
// candidate entry's tuple in both directions, and reads only the packets of
// the entries that may match, skipping the time blocks outside its window.
const (
	idxMagic     = "MAMIDX01"
	idxVersion   = 1
	idxHeaderLen = 128
	entryLen     = 24
	v4Len        = 8
	v6Len        = 20
	portLen      = 6
	cidLen       = 12
	blockLen     = 20
	blockPackets = 1024
	noAddr       = math.MaxUint32
)

// Index sections, in file order.
const (
	idxSecEntries = iota
	idxSecV4
	idxSecV6
	idxSecAddrLists
	idxSecPorts
	idxSecPortLists
	idxSecCIDs
	idxSecBlocks
	idxSecPostings
	idxSections
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrBadIndex is wrapped by errors about an index file that cannot be
// used; the packet file is then scanned instead.
var ErrBadIndex = errors.New("bad index")

// indexBuilder gathers a packet file's index while it is written. It is
// owned by the writer goroutine.
type indexBuilder struct {
	link        uint32
	seed        uint16
	packets     uint64
	first, last int64
	entries     map[tuple]int32
	list        []entryBuild
	blocks      []block
	postBytes   int // memory held by postings
}

type entryBuild struct {
	key      tuple
	postings []byte
	lastOff  uint32
	count    uint32
}

type block struct {
	off      uint32
	min, max int64
}

func newIndexBuilder(link uint32, seed uint16) *indexBuilder {
	return &indexBuilder{link: link, seed: seed, entries: make(map[tuple]int32), first: math.MaxInt64, last: math.MinInt64}
}

// add indexes the packet at file offset off.
func (b *indexBuilder) add(off uint32, ts int64, data []byte) {
	var t tuple
	extract(data, b.link, &t)
	b.addTuple(off, ts, t.canonical())
}

func (b *indexBuilder) addTuple(off uint32, ts int64, key tuple) {
	if b.packets%blockPackets == 0 {
		b.blocks = append(b.blocks, block{off: off, min: ts, max: ts})
	}
	blk := &b.blocks[len(b.blocks)-1]
	blk.min, blk.max = min(blk.min, ts), max(blk.max, ts)
	b.packets++
	b.first, b.last = min(b.first, ts), max(b.last, ts)
	i, ok := b.entries[key]
	if !ok {
		i = int32(len(b.list))
		b.entries[key] = i
		b.list = append(b.list, entryBuild{key: key})
	}
	e := &b.list[i]
	n := len(e.postings)
	e.postings = binary.AppendUvarint(e.postings, uint64(off-e.lastOff))
	b.postBytes += len(e.postings) - n
	e.lastOff = off
	e.count++
}

// memory estimates the builder's heap use, for the writer's bound.
func (b *indexBuilder) memory() int { return b.postBytes + len(b.list)*96 }

// encode writes the index of a packet file of dataSize bytes.
func (b *indexBuilder) encode(dataSize int64) []byte {
	list := b.clustered()
	// Address tables.
	type addrRef struct {
		a    netip.Addr
		list []uint32
	}
	addrs := map[netip.Addr]*addrRef{}
	var v4s, v6s []*addrRef
	ref := func(a netip.Addr, e uint32) {
		r := addrs[a]
		if r == nil {
			r = &addrRef{a: a}
			addrs[a] = r
			if a.Is4() {
				v4s = append(v4s, r)
			} else {
				v6s = append(v6s, r)
			}
		}
		if n := len(r.list); n == 0 || r.list[n-1] != e {
			r.list = append(r.list, e)
		}
	}
	ports := map[uint16][]uint32{}
	type cidRef struct {
		prefix uint64
		e      uint32
	}
	var cids []cidRef
	for i := range list {
		e := uint32(i)
		k := &list[i].key
		if k.src.IsValid() {
			ref(k.src, e)
			ref(k.dst, e)
		}
		if k.flags&fPorts != 0 {
			ports[k.sport] = append(ports[k.sport], e)
			if k.dport != k.sport {
				ports[k.dport] = append(ports[k.dport], e)
			}
		}
		if c, ok := communityID(b.seed, k); ok {
			cids = append(cids, cidRef{binary.BigEndian.Uint64(c[:8]), e})
		}
		if sw := k.swapped(); true {
			if c2, ok := communityID(b.seed, &sw); ok {
				if p := binary.BigEndian.Uint64(c2[:8]); len(cids) == 0 || cids[len(cids)-1] != (cidRef{p, e}) {
					cids = append(cids, cidRef{p, e})
				}
			}
		}
	}
	slices.SortFunc(v4s, func(x, y *addrRef) int { return x.a.Compare(y.a) })
	slices.SortFunc(v6s, func(x, y *addrRef) int { return x.a.Compare(y.a) })
	addrNum := make(map[netip.Addr]uint32, len(addrs))
	for i, r := range v4s {
		addrNum[r.a] = uint32(i)
	}
	for i, r := range v6s {
		addrNum[r.a] = uint32(i)
	}
	portKeys := make([]uint16, 0, len(ports))
	for p := range ports {
		portKeys = append(portKeys, p)
	}
	slices.Sort(portKeys)
	slices.SortFunc(cids, func(x, y cidRef) int {
		if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return cmp.Compare(x.e, y.e)
	})
	cids = slices.Compact(cids)

	var sec [idxSections][]byte
	appendList := func(dst []byte, list []uint32) []byte {
		prev := uint32(0)
		for _, v := range list {
			dst = binary.AppendUvarint(dst, uint64(v-prev))
			prev = v
		}
		return dst
	}
	for _, r := range v4s {
		a := r.a.As4()
		sec[idxSecV4] = append(sec[idxSecV4], a[:]...)
		sec[idxSecV4] = binary.LittleEndian.AppendUint32(sec[idxSecV4], uint32(len(sec[idxSecAddrLists])))
		sec[idxSecAddrLists] = appendList(sec[idxSecAddrLists], r.list)
	}
	for _, r := range v6s {
		a := r.a.As16()
		sec[idxSecV6] = append(sec[idxSecV6], a[:]...)
		sec[idxSecV6] = binary.LittleEndian.AppendUint32(sec[idxSecV6], uint32(len(sec[idxSecAddrLists])))
		sec[idxSecAddrLists] = appendList(sec[idxSecAddrLists], r.list)
	}
	for _, p := range portKeys {
		sec[idxSecPorts] = binary.LittleEndian.AppendUint16(sec[idxSecPorts], p)
		sec[idxSecPorts] = binary.LittleEndian.AppendUint32(sec[idxSecPorts], uint32(len(sec[idxSecPortLists])))
		sec[idxSecPortLists] = appendList(sec[idxSecPortLists], ports[p])
	}
	for _, c := range cids {
		sec[idxSecCIDs] = binary.BigEndian.AppendUint64(sec[idxSecCIDs], c.prefix)
		sec[idxSecCIDs] = binary.LittleEndian.AppendUint32(sec[idxSecCIDs], c.e)
	}
	for _, blk := range b.blocks {
		sec[idxSecBlocks] = binary.LittleEndian.AppendUint32(sec[idxSecBlocks], blk.off)
		sec[idxSecBlocks] = binary.LittleEndian.AppendUint64(sec[idxSecBlocks], uint64(blk.min))
		sec[idxSecBlocks] = binary.LittleEndian.AppendUint64(sec[idxSecBlocks], uint64(blk.max))
	}
	for i := range list {
		e := &list[i]
		k := &e.key
		src, dst := uint32(noAddr), uint32(noAddr)
		if k.src.IsValid() {
			src, dst = addrNum[k.src], addrNum[k.dst]
		}
		r := sec[idxSecEntries]
		r = append(r, k.kind, k.flags, k.proto, k.tproto)
		r = binary.LittleEndian.AppendUint16(r, k.sport)
		r = binary.LittleEndian.AppendUint16(r, k.dport)
		r = binary.LittleEndian.AppendUint32(r, src)
		r = binary.LittleEndian.AppendUint32(r, dst)
		r = binary.LittleEndian.AppendUint32(r, uint32(len(sec[idxSecPostings])))
		r = binary.LittleEndian.AppendUint32(r, e.count)
		sec[idxSecEntries] = r
		sec[idxSecPostings] = append(sec[idxSecPostings], e.postings...)
	}

	out := make([]byte, idxHeaderLen, idxHeaderLen+sumLen(sec[:]))
	copy(out, idxMagic)
	le := binary.LittleEndian
	le.PutUint32(out[8:], idxVersion)
	le.PutUint32(out[12:], idxHeaderLen)
	le.PutUint32(out[16:], b.link)
	le.PutUint16(out[20:], b.seed)
	le.PutUint64(out[24:], b.packets)
	le.PutUint64(out[32:], uint64(dataSize))
	first, last := b.first, b.last
	if b.packets == 0 {
		first, last = 0, 0
	}
	le.PutUint64(out[40:], uint64(first))
	le.PutUint64(out[48:], uint64(last))
	le.PutUint32(out[56:], uint32(len(list)))
	le.PutUint32(out[60:], uint32(len(v4s)))
	le.PutUint32(out[64:], uint32(len(v6s)))
	le.PutUint32(out[68:], uint32(len(portKeys)))
	le.PutUint32(out[72:], uint32(len(cids)))
	le.PutUint32(out[76:], uint32(len(b.blocks)))
	// Section offsets: sections are laid out in order, each ending where
	// the next begins; the last ends at the end of the file.
	for i := range sec {
		le.PutUint32(out[80+4*i:], uint32(len(out)))
		out = append(out, sec[i]...)
	}
	le.PutUint32(out[120:], 0) // reserved
	le.PutUint32(out[124:], crc32.Checksum(out[:124], crcTable))
	return out
}

// clustered returns the entries in the order they are written: grouped by
// the busier of their two addresses (the one in more entries), then by the
// other address, then in the order they appeared. Entry numbers are only
// references inside the index, so the order is free; this one puts a host's
// entries, and their postings, next to each other, and a query for a busy
// host reads a few pages of the index instead of touching pages all over
// it (page faults were a quarter of such a query).
func (b *indexBuilder) clustered() []entryBuild {
	n := make(map[netip.Addr]int, len(b.list))
	for i := range b.list {
		k := &b.list[i].key
		if k.src.IsValid() {
			n[k.src]++
			if k.dst != k.src {
				n[k.dst]++
			}
		}
	}
	type keyed struct {
		busy, other netip.Addr
		i           int
	}
	ks := make([]keyed, len(b.list))
	for i := range b.list {
		k := &b.list[i].key
		busy, other := k.src, k.dst
		if n[other] > n[busy] || n[other] == n[busy] && other.Less(busy) {
			busy, other = other, busy
		}
		ks[i] = keyed{busy, other, i}
	}
	slices.SortFunc(ks, func(x, y keyed) int {
		if c := x.busy.Compare(y.busy); c != 0 {
			return c
		}
		if c := x.other.Compare(y.other); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	out := make([]entryBuild, len(ks))
	for j, k := range ks {
		out[j] = b.list[k.i]
	}
	return out
}

func sumLen(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return n
}

// index is a read-only view of an index file's bytes. Every accessor
// checks bounds: a damaged index yields errors wrapping ErrBadIndex, never
// a panic.
type index struct {
	link        uint32
	seed        uint16
	packets     uint64
	dataSize    int64
	first, last int64
	n           [6]uint32 // entries, v4, v6, ports, cids, blocks
	sec         [idxSections][]byte
}

func badIndex(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadIndex, fmt.Sprintf(format, args...))
}

// parseIndex checks an index file's header and section layout.
func parseIndex(b []byte) (*index, error) {
	if len(b) < idxHeaderLen || string(b[:8]) != idxMagic {
		return nil, badIndex("not an index file")
	}
	le := binary.LittleEndian
	if crc32.Checksum(b[:124], crcTable) != le.Uint32(b[124:]) {
		return nil, badIndex("header checksum mismatch")
	}
	if v := le.Uint32(b[8:]); v != idxVersion {
		return nil, badIndex("version %d, want %d", v, idxVersion)
	}
	x := &index{
		link: le.Uint32(b[16:]), seed: le.Uint16(b[20:]),
		packets: le.Uint64(b[24:]), dataSize: int64(le.Uint64(b[32:])),
		first: int64(le.Uint64(b[40:])), last: int64(le.Uint64(b[48:])),
	}
	for i := range x.n {
		x.n[i] = le.Uint32(b[56+4*i:])
	}
	prev := uint32(idxHeaderLen)
	for i := 0; i < idxSections; i++ {
		start := le.Uint32(b[80+4*i:])
		end := uint32(len(b))
		if i+1 < idxSections {
			end = le.Uint32(b[80+4*(i+1):])
		}
		if start != prev || end < start || int(end) > len(b) {
			return nil, badIndex("section %d out of bounds", i)
		}
		x.sec[i] = b[start:end]
		prev = end
	}
	want := []struct {
		sec, n, size int
	}{
		{idxSecEntries, 0, entryLen}, {idxSecV4, 1, v4Len}, {idxSecV6, 2, v6Len},
		{idxSecPorts, 3, portLen}, {idxSecCIDs, 4, cidLen}, {idxSecBlocks, 5, blockLen},
	}
	for _, w := range want {
		if uint64(len(x.sec[w.sec])) != uint64(x.n[w.n])*uint64(w.size) {
			return nil, badIndex("section %d: %d bytes for %d records", w.sec, len(x.sec[w.sec]), x.n[w.n])
		}
	}
	if x.dataSize < fileHeaderLen || x.dataSize > maxFileSize+SnapLen+recHeaderLen {
		return nil, badIndex("packet file size %d", x.dataSize)
	}
	// Every packet has one posting of at least one byte: this bounds what
	// a query decodes by the size of the file.
	if x.packets > uint64(len(x.sec[idxSecPostings])) || x.packets > uint64(x.dataSize-fileHeaderLen)/recHeaderLen {
		return nil, badIndex("%d packets", x.packets)
	}
	return x, nil
}

func (x *index) numEntries() uint32 { return x.n[0] }

// entry reads entry i's tuple and its postings' location.
func (x *index) entry(i uint32) (t tuple, postOff, count uint32, err error) {
	if i >= x.n[0] {
		return t, 0, 0, badIndex("entry %d of %d", i, x.n[0])
	}
	r := x.sec[idxSecEntries][int(i)*entryLen:][:entryLen]
	le := binary.LittleEndian
	t.kind, t.flags, t.proto, t.tproto = r[0], r[1], r[2], r[3]
	t.sport, t.dport = le.Uint16(r[4:]), le.Uint16(r[6:])
	src, dst := le.Uint32(r[8:]), le.Uint32(r[12:])
	if src != noAddr || dst != noAddr {
		if t.src, err = x.addr(t.kind, src); err != nil {
			return t, 0, 0, err
		}
		if t.dst, err = x.addr(t.kind, dst); err != nil {
			return t, 0, 0, err
		}
	}
	return t, le.Uint32(r[16:]), le.Uint32(r[20:]), nil
}

func (x *index) addr(kind uint8, n uint32) (netip.Addr, error) {
	if kind == kindIPv6 {
		if n >= x.n[2] {
			return netip.Addr{}, badIndex("v6 address %d of %d", n, x.n[2])
		}
		return netip.AddrFrom16([16]byte(x.sec[idxSecV6][int(n)*v6Len:])), nil
	}
	if n >= x.n[1] {
		return netip.Addr{}, badIndex("v4 address %d of %d", n, x.n[1])
	}
	return netip.AddrFrom4([4]byte(x.sec[idxSecV4][int(n)*v4Len:])), nil
}

// postings appends entry i's packet offsets to dst. dst never grows past
// the file's packet count.
func (x *index) postings(dst []uint32, postOff, count uint32) ([]uint32, error) {
	p := x.sec[idxSecPostings]
	if int(postOff) > len(p) || uint64(len(dst))+uint64(count) > x.packets {
		return dst, badIndex("postings at %d (%d packets)", postOff, count)
	}
	p = p[postOff:]
	off := uint64(0)
	for j := uint32(0); j < count; j++ {
		d, n := binary.Uvarint(p)
		if n <= 0 {
			return dst, badIndex("postings cut short")
		}
		p = p[n:]
		if j > 0 && d == 0 {
			return dst, badIndex("postings not ascending")
		}
		off += d
		if off >= uint64(x.dataSize) || off < fileHeaderLen {
			return dst, badIndex("packet offset %d beyond the packet file", off)
		}
		dst = append(dst, uint32(off))
	}
	return dst, nil
}

// decodeList decodes an entry list that starts at off in blob and ends at
// end.
func (x *index) decodeList(dst []uint32, blob []byte, off, end uint32) ([]uint32, error) {
	if off > end || int(end) > len(blob) {
		return dst, badIndex("entry list %d..%d", off, end)
	}
	b := blob[off:end]
	v := uint64(0)
	for first := true; len(b) > 0; first = false {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return dst, badIndex("entry list cut short")
		}
		b = b[n:]
		if !first && d == 0 {
			return dst, badIndex("entry list not ascending")
		}
		v += d
		if v >= uint64(x.n[0]) {
			return dst, badIndex("entry %d of %d", v, x.n[0])
		}
		dst = append(dst, uint32(v))
	}
	return dst, nil
}

// prefixEntries returns the entries with an address in pf, ascending.
func (x *index) prefixEntries(pf netip.Prefix) ([]uint32, error) {
	var tbl []byte
	var size, n int
	var lo, hi []byte
	first := pf.Masked().Addr()
	last := lastAddr(pf)
	if first.Is4() {
		tbl, size, n = x.sec[idxSecV4], v4Len, int(x.n[1])
		a, b := first.As4(), last.As4()
		lo, hi = a[:], b[:]
	} else {
		tbl, size, n = x.sec[idxSecV6], v6Len, int(x.n[2])
		a, b := first.As16(), last.As16()
		lo, hi = a[:], b[:]
	}
	klen := size - 4
	key := func(i int) []byte { return tbl[i*size:][:klen] }
	listOff := func(i int) uint32 { return binary.LittleEndian.Uint32(tbl[i*size+klen:]) }
	// v4 lists come first in addrlists, then v6 lists.
	end4 := uint32(len(x.sec[idxSecAddrLists]))
	if x.n[2] > 0 {
		end4 = binary.LittleEndian.Uint32(x.sec[idxSecV6][16:])
	}
	var lists [][]uint32
	for j := searchN(n, func(j int) bool { return bytes.Compare(key(j), lo) >= 0 }); j < n && bytes.Compare(key(j), hi) <= 0; j++ {
		end := uint32(len(x.sec[idxSecAddrLists]))
		switch {
		case j+1 < n:
			end = listOff(j + 1)
		case first.Is4():
			end = end4
		}
		l, err := x.decodeList(nil, x.sec[idxSecAddrLists], listOff(j), end)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	return unionAll(lists), nil
}

// portEntries returns the entries with a port in lo..hi, ascending.
func (x *index) portEntries(lo, hi uint16) ([]uint32, error) {
	tbl, n := x.sec[idxSecPorts], int(x.n[3])
	port := func(i int) uint16 { return binary.LittleEndian.Uint16(tbl[i*portLen:]) }
	i := searchN(n, func(j int) bool { return port(j) >= lo })
	var lists [][]uint32
	for j := i; j < n && port(j) <= hi; j++ {
		off := binary.LittleEndian.Uint32(tbl[j*portLen+2:])
		end := uint32(len(x.sec[idxSecPortLists]))
		if j+1 < n {
			end = binary.LittleEndian.Uint32(tbl[(j+1)*portLen+2:])
		}
		l, err := x.decodeList(nil, x.sec[idxSecPortLists], off, end)
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
	}
	return unionAll(lists), nil
}

// cidEntries returns the entries whose Community ID may be c, ascending.
func (x *index) cidEntries(c CommunityID) ([]uint32, error) {
	tbl, n := x.sec[idxSecCIDs], int(x.n[4])
	want := binary.BigEndian.Uint64(c[:8])
	key := func(i int) uint64 { return binary.BigEndian.Uint64(tbl[i*cidLen:]) }
	var out []uint32
	for j := searchN(n, func(j int) bool { return key(j) >= want }); j < n && key(j) == want; j++ {
		e := binary.LittleEndian.Uint32(tbl[j*cidLen+8:])
		if e >= x.n[0] {
			return nil, badIndex("entry %d of %d", e, x.n[0])
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// block returns time block i.
func (x *index) block(i int) block {
	r := x.sec[idxSecBlocks][i*blockLen:]
	le := binary.LittleEndian
	return block{off: le.Uint32(r), min: int64(le.Uint64(r[4:])), max: int64(le.Uint64(r[12:]))}
}

func searchN(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lastAddr is the highest address in pf.
func lastAddr(pf netip.Prefix) netip.Addr {
	a := pf.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		for i := pf.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := pf.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// unionAll merges ascending lists into one ascending list without
// duplicates.
func unionAll(lists [][]uint32) []uint32 {
	switch len(lists) {
	case 0:
		return []uint32{}
	case 1:
		return lists[0]
	}
	var out []uint32
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
