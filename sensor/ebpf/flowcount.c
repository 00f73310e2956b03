//go:build ignore

/*
 * flowcount: a socket filter attached to every capture socket.
 *
 * For each TCP and UDP packet it finds the flow's entry in an LRU hash keyed
 * by a direction-independent 5-tuple plus VLAN tags (the same canonical
 * order as pipeline/flow.Key: endpoint A is the lower of the two by address
 * bytes, then port; IPv4 addresses are IPv4-mapped IPv6), and counts the
 * packet and its bytes for the direction that sent it. Once a flow has
 * carried its cutoff of bytes (both directions together; looked up once,
 * when the flow's entry is made: per-host overrides first, then per-port,
 * then the default) later packets are counted as cut and not copied to user
 * space, except TCP packets with SYN, FIN or RST, which always pass so that
 * user space still sees how the connection starts and ends.
 *
 * Other packets (ARP, ICMP, IP fragments, tunnels, ...) always pass and are
 * counted only in the global statistics.
 *
 * The return value is the number of bytes to copy to user space: the
 * configured snap length, or 0 for a cut packet.
 */

#include "headers/bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100

#define IPPROTO_HOPOPTS 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_DSTOPTS 60

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

/* The flow key. Addresses are in network byte order (the bytes of an IPv6
 * address, or ::ffff:a.b.c.d for IPv4); ports and VLAN IDs in host order. */
struct flow_key {
	__u32 a[4];
	__u32 b[4];
	__u16 port_a;
	__u16 port_b;
	__u16 vlan;
	__u16 inner_vlan;
	__u8 proto;
	__u8 pad[3];
};

/* One flow's counters; index 0 is what endpoint A sent, 1 what B sent. */
struct flow_stats {
	__u64 packets[2];
	__u64 bytes[2];
	__u64 cut_packets[2];
	__u64 cut_bytes[2];
	/* limit is the flow's cutoff in bytes (~0 for none). */
	__u64 limit;
	/* tcp_flags ORs the TCP flags each side sent (best effort: two CPUs
	 * updating one flow at once may lose a bit). */
	__u8 tcp_flags[2];
	__u8 pad[6];
};

/* Settings, written by user space before the program is attached. */
struct config {
	/* cutoff is the default per-flow limit in bytes; ~0 for none. */
	__u64 cutoff;
	/* snaplen is what a passing packet returns: bytes to copy. */
	__u32 snaplen;
	/* len_adjust is where skb->data lies past the MAC header, added to
	 * skb->len to get the frame length: 0 on a packet socket, 14 in
	 * BPF_PROG_TEST_RUN, which hands socket filters the network header. */
	__u32 len_adjust;
};

/* Global counters, per CPU. */
struct stats {
	__u64 packets;
	__u64 bytes;
	__u64 cut_packets;
	__u64 cut_bytes;
	__u64 uncounted;   /* not TCP/UDP, fragments, unparsable */
	__u64 new_flows;
	__u64 map_errors;  /* entry could not be made: the packet passed */
};

/* An address as a host override's key, in the flow key's form. */
struct addr {
	__u32 w[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
	__uint(max_entries, 262144);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, __u64);
	__uint(max_entries, 1024);
} cutoff_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct addr);
	__type(value, __u64);
	__uint(max_entries, 4096);
} cutoff_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct config);
	__uint(max_entries, 1);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 1);
} global SEC(".maps");


/*
 * load copies len bytes at offset off from the start of the frame (the MAC
 * header). On a packet socket skb->data is the MAC header, and
 * bpf_skb_load_bytes also reads packets whose headers are not all in the
 * linear part (large frames built from pages); BPF_PROG_TEST_RUN starts
 * skb->data at the network header (adj 14), and there the Ethernet header
 * is read relative to the MAC header (always linear in a test run).
 */
static __always_inline int load(struct __sk_buff *skb, __u32 adj, __u32 off, void *to, __u32 len)
{
	if (off >= adj)
		return bpf_skb_load_bytes(skb, off - adj, to, len);
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_MAC);
}

static __always_inline __u32 host32(__u32 x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(x);
#else
	return x;
#endif
}

/* before reports whether endpoint (x, px) orders before or equal to (y, py):
 * by address bytes, then port, as pipeline/flow orders them. */
static __always_inline int before(const __u32 *x, __u16 px, const __u32 *y, __u16 py)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 a = host32(x[i]), b = host32(y[i]);
		if (a != b)
			return a < b;
	}
	return px <= py;
}

/*
 * parse fills the key from the packet, sender first (the caller puts the
 * endpoints in order), and returns 0 for a countable packet, -1 otherwise.
 */
static __always_inline int parse(struct __sk_buff *skb, __u32 adj, struct flow_key *k, __u8 *flags)
{
	__u16 type;
	__u32 off = 14;
	int tags = 0;

	if (skb->vlan_present) {
		/* The outer tag was taken off into the skb by the driver or
		 * the stack. */
		k->vlan = skb->vlan_tci & 0x0fff;
		tags = 1;
	}
	if (load(skb, adj, 12, &type, 2) < 0)
		return -1;
	type = bpf_ntohs(type);
#pragma unroll
	for (int i = 0; i < 3; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD && type != ETH_P_QINQ1)
			break;
		__u16 tag[2];
		if (load(skb, adj, off, tag, 4) < 0)
			return -1;
		if (tags == 0)
			k->vlan = bpf_ntohs(tag[0]) & 0x0fff;
		else if (tags == 1)
			k->inner_vlan = bpf_ntohs(tag[0]) & 0x0fff;
		tags++;
		type = bpf_ntohs(tag[1]);
		off += 4;
	}

	__u8 proto;
	if (type == ETH_P_IP) {
		__u8 ip[12];
		if (load(skb, adj, off, ip, 12) < 0)
			return -1;
		if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5)
			return -1;
		if (((ip[6] & 0x3f) | ip[7]) != 0)
			return -1; /* a fragment: MF set or an offset */
		proto = ip[9];
		if (load(skb, adj, off + 12, &k->a[3], 4) < 0 || load(skb, adj, off + 16, &k->b[3], 4) < 0)
			return -1;
		k->a[2] = k->b[2] = host32(0x0000ffff);
		off += (ip[0] & 0x0f) * 4;
	} else if (type == ETH_P_IPV6) {
		__u8 ip[8];
		if (load(skb, adj, off, ip, 8) < 0)
			return -1;
		if ((ip[0] >> 4) != 6)
			return -1;
		proto = ip[6];
		if (load(skb, adj, off + 8, k->a, 16) < 0 || load(skb, adj, off + 24, k->b, 16) < 0)
			return -1;
		off += 40;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (proto != IPPROTO_HOPOPTS && proto != IPPROTO_ROUTING && proto != IPPROTO_DSTOPTS)
				break;
			__u8 ext[2];
			if (load(skb, adj, off, ext, 2) < 0)
				return -1;
			proto = ext[0];
			off += ((__u32)ext[1] + 1) * 8;
		}
	} else {
		return -1;
	}

	if (proto == IPPROTO_TCP) {
		__u8 tcp[14];
		if (load(skb, adj, off, tcp, 14) < 0)
			return -1;
		k->port_a = ((__u16)tcp[0] << 8) | tcp[1];
		k->port_b = ((__u16)tcp[2] << 8) | tcp[3];
		*flags = tcp[13];
	} else if (proto == IPPROTO_UDP) {
		__u8 udp[4];
		if (load(skb, adj, off, udp, 4) < 0)
			return -1;
		k->port_a = ((__u16)udp[0] << 8) | udp[1];
		k->port_b = ((__u16)udp[2] << 8) | udp[3];
		*flags = 0;
	} else {
		return -1; /* also an IPv6 fragment header, or too many extensions */
	}
	k->proto = proto;
	return 0;
}

/* order puts the key's endpoints in canonical order and returns 1 when the
 * sender (parsed as a) turned out to be endpoint b. */
static __always_inline __u32 order(struct flow_key *k)
{
	if (before(k->a, k->port_a, k->b, k->port_b))
		return 0;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 t = k->a[i];
		k->a[i] = k->b[i];
		k->b[i] = t;
	}
	__u16 p = k->port_a;
	k->port_a = k->port_b;
	k->port_b = p;
	return 1;
}

static __always_inline __u64 min_limit(__u64 *p, __u64 cur, int *found)
{
	__u64 v = *p;
	if (*found && cur < v)
		v = cur;
	*found = 1;
	return v;
}

/* limit_for is a new flow's cutoff: the lowest matching host override, else
 * the lowest matching port override, else the default. */
static __always_inline __u64 limit_for(struct flow_key *k, struct config *cfg)
{
	__u64 limit = cfg->cutoff, *p;
	int found = 0;

	p = bpf_map_lookup_elem(&cutoff_hosts, k->a);
	if (p)
		limit = min_limit(p, limit, &found);
	p = bpf_map_lookup_elem(&cutoff_hosts, k->b);
	if (p)
		limit = min_limit(p, limit, &found);
	if (found)
		return limit;
	__u16 port = k->port_a;
	p = bpf_map_lookup_elem(&cutoff_ports, &port);
	if (p)
		limit = min_limit(p, limit, &found);
	port = k->port_b;
	p = bpf_map_lookup_elem(&cutoff_ports, &port);
	if (p)
		limit = min_limit(p, limit, &found);
	return limit;
}

SEC("socket")
int flowcount(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	struct stats *st = bpf_map_lookup_elem(&global, &zero);
	if (!cfg || !st)
		return 0x7fffffff; /* unreachable: array entries always exist */

	__u64 len = (__u64)skb->len + cfg->len_adjust;
	if (skb->vlan_present)
		len += 4; /* user space puts the tag back into the frame */
	st->packets++;
	st->bytes += len;

	struct flow_key key = {};
	__u32 from_b = 0;
	__u8 flags = 0;
	if (parse(skb, cfg->len_adjust, &key, &flags) < 0) {
		st->uncounted++;
		return cfg->snaplen;
	}
	from_b = order(&key) & 1;

	struct flow_stats *fs = bpf_map_lookup_elem(&flows, &key);
	if (!fs) {
		struct flow_stats init = {};
		init.limit = limit_for(&key, cfg);
		if (bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST) == 0)
			st->new_flows++;
		fs = bpf_map_lookup_elem(&flows, &key);
		if (!fs) {
			st->map_errors++;
			return cfg->snaplen;
		}
	}

	__u64 seen = fs->bytes[0] + fs->bytes[1];
	__sync_fetch_and_add(&fs->packets[from_b], 1);
	__sync_fetch_and_add(&fs->bytes[from_b], len);
	if ((fs->tcp_flags[from_b] | flags) != fs->tcp_flags[from_b])
		fs->tcp_flags[from_b] |= flags;

	if (seen >= fs->limit && !(key.proto == IPPROTO_TCP && (flags & (TCP_SYN | TCP_FIN | TCP_RST)))) {
		__sync_fetch_and_add(&fs->cut_packets[from_b], 1);
		__sync_fetch_and_add(&fs->cut_bytes[from_b], len);
		st->cut_packets++;
		st->cut_bytes += len;
		return 0;
	}
	return cfg->snaplen;
}

char __license[] SEC("license") = "Dual BSD/GPL";
