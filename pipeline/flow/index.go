package flow

import (
	"encoding/binary"
	"math/bits"
)

// index maps a Key to a slot in the flow slab. It is an open-addressing hash
// table with linear probing and backward-shift deletion. Each entry packs the
// high 32 bits of the key's hash (the tag) with the slot number plus one (0
// marks an empty entry). An entry's home position is its tag masked to the
// table size, so deletion can recompute it without the key, and a probe
// compares keys only when the tags match. The table doubles when it is three
// quarters full and never shrinks. Table sizes are limited to 2^32 entries.
type index struct {
	entries []uint64
	mask    uint64
	n       int
	seeds   [8]uint64 // hashKey's, from the table's random seed
}

func newIndex(capacity int, seed uint64) index {
	size := 16
	for size*3/4 < capacity {
		size *= 2
	}
	ix := index{entries: make([]uint64, size), mask: uint64(size - 1)}
	for i := range ix.seeds {
		seed = mix(seed + uint64(i))
		ix.seeds[i] = seed | 1 // odd: a product with it loses no low bits
	}
	return ix
}

// hashKey mixes the key's 42 bytes into 64 bits, under a per-table random
// seed so that crafted traffic cannot force collisions. It folds the five
// words of the key with three independent 128-bit products and a final
// mix, so that they run side by side: hashKeyWith's chain of five is
// twice as slow, and the index hashes every packet's key.
func (ix *index) hashKey(k *Key) uint64 {
	s := &ix.seeds
	v := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.VLAN)<<32 | uint64(k.InnerVLAN)<<44 | uint64(k.Proto)<<56
	if k.IPv6 {
		v ^= 1 << 63
	}
	x := mum(binary.LittleEndian.Uint64(k.A[0:8])^s[0], binary.LittleEndian.Uint64(k.A[8:16])^s[1])
	y := mum(binary.LittleEndian.Uint64(k.B[0:8])^s[2], binary.LittleEndian.Uint64(k.B[8:16])^s[3])
	z := mum(v^s[4], s[5])
	return mum(x^y^s[6], z^s[7])
}

// mum folds the 128-bit product of x and y into 64 bits.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

func (ix *index) hashKeyWith(k *Key, seed uint64) uint64 {
	h := seed
	h = mix(h ^ binary.LittleEndian.Uint64(k.A[0:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.A[8:16]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.B[0:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.B[8:16]))
	v := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.VLAN)<<32 | uint64(k.InnerVLAN)<<44 | uint64(k.Proto)<<56
	if k.IPv6 {
		v ^= 1 << 63
	}
	return mix(h ^ v)
}

func mix(x uint64) uint64 {
	hi, lo := bits.Mul64(x^0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9)
	return hi ^ lo
}

// find returns the slot holding k, or -1, and the hash to reuse for insert.
func (ix *index) find(k *Key, sl *slab) (int, uint64) {
	h := ix.hashKey(k)
	tag := h >> 32
	for i := tag & ix.mask; ; i = (i + 1) & ix.mask {
		e := ix.entries[i]
		if e == 0 {
			return -1, h
		}
		if e>>32 == tag {
			slot := int(uint32(e)) - 1
			if sl.at(slot).key.equal(k) {
				return slot, h
			}
		}
	}
}

// insert adds slot under hash h (from find). The key must not be present.
func (ix *index) insert(h uint64, slot int, sl *slab) {
	if (ix.n+1)*4 > len(ix.entries)*3 {
		ix.grow(sl)
	}
	ix.put(h, slot)
	ix.n++
}

func (ix *index) put(h uint64, slot int) {
	e := h>>32<<32 | uint64(slot+1)
	for i := (h >> 32) & ix.mask; ; i = (i + 1) & ix.mask {
		if ix.entries[i] == 0 {
			ix.entries[i] = e
			return
		}
	}
}

func (ix *index) grow(sl *slab) {
	old := ix.entries
	ix.entries = make([]uint64, len(old)*2)
	ix.mask = uint64(len(ix.entries) - 1)
	for _, e := range old {
		if e != 0 {
			slot := int(uint32(e)) - 1
			ix.put(ix.hashKey(&sl.at(slot).key), slot)
		}
	}
}

// remove deletes the entry for slot (whose key is k) and closes the gap by
// shifting later entries of the probe run back towards their home.
func (ix *index) remove(k *Key, slot int) {
	h := ix.hashKey(k)
	want := h>>32<<32 | uint64(slot+1)
	i := (h >> 32) & ix.mask
	for ix.entries[i] != want {
		if ix.entries[i] == 0 {
			return // not present
		}
		i = (i + 1) & ix.mask
	}
	ix.n--
	// Backward-shift: scan the run after the hole; an entry may fill the
	// hole when its home is not cyclically within (hole, its position].
	for j := (i + 1) & ix.mask; ix.entries[j] != 0; j = (j + 1) & ix.mask {
		home := (ix.entries[j] >> 32) & ix.mask
		if (j-home)&ix.mask >= (j-i)&ix.mask {
			ix.entries[i] = ix.entries[j]
			i = j
		}
	}
	ix.entries[i] = 0
}
