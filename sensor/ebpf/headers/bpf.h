/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * The few kernel ABI definitions flowcount.c needs, written out so that
 * regenerating the program needs clang and nothing else (no kernel or
 * libbpf headers). Every value here is part of the stable BPF UAPI
 * (include/uapi/linux/bpf.h); a wrong one fails the verifier or the
 * prog.Run tests.
 */
#ifndef MAMORI_BPF_H
#define MAMORI_BPF_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;

/* struct __sk_buff: only its first eight members, which are all this
 * program reads. Context fields are addressed by offset, so a prefix of
 * the UAPI layout is enough. */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
};

enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

enum {
	BPF_HDR_START_MAC = 0,
	BPF_HDR_START_NET = 1,
};

/* Helpers, by their UAPI function number. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to, __u32 len) = (void *)26;
static long (*bpf_skb_load_bytes_relative)(const void *skb, __u32 offset, void *to, __u32 len, __u32 start_header) = (void *)68;

/* BTF map definitions, as libbpf and cilium/ebpf read them. */
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name
#define SEC(name) __attribute__((section(name), used))

#define __always_inline inline __attribute__((always_inline))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define bpf_ntohs(x) __builtin_bswap16(x)
#else
#define bpf_ntohs(x) (x)
#endif

#endif
