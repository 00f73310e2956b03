#!/usr/bin/env bash
# bench/live.sh — live capture: the highest send rate at which each tool
# loses nothing, on the same machine, in the same run.
#
#   mamori run             full pipeline (decode, flows, protocol parsers, NDJSON),
#                          one fanout worker per CPU, eBPF flow counter with the
#                          default 1 MiB cutoff; and again with the cutoff off
#   tcpdump -w /dev/null -B 65536
#   netsniff-ng --out /dev/null --ring-size 64MiB
#
# A network namespace of its own with a veth pair (MTU 65535, IPv6 off) is
# created and deleted on exit; frames are sent only into it. The sender is
# bench/livesend (PACKET_TX_RING + PACKET_QDISC_BYPASS; tcpreplay tops out
# far lower), looping over a capture for SECONDS at each rate of a ladder;
# a tool passes a rate when its kernel drop counter stays 0 and it saw every
# packet sent (mamori: processed + cut off by the kernel). The ladder stops
# for a tool at its first failure. Two mixes: "lan" (../shared/pcaps/mixed,
# two lab LAN captures; testdata's recorded captures where that is absent)
# and "bulk" (SMB file copies and DICOM transfers from testdata/pcaps).
#
# On a veth pair the receive work of the kernel (including the copy into the
# capture rings and the eBPF program) runs on the sending CPU, so the
# sender's ceiling is measured alone first and again per tool at "max".
#
# Usage: sudo bench/live.sh [SECONDS]     (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "bench/live.sh: needs root (network namespace, capture)" >&2; exit 1; }
for tool in ip tcpdump netsniff-ng; do
  command -v "$tool" >/dev/null || { echo "bench/live.sh: $tool is not installed (apt-get install iproute2 tcpdump netsniff-ng)" >&2; exit 1; }
done

go build -o "$out/mamori" ./cmd/mamori
go build -o "$out/livesend" ./bench/livesend

ns=mamori-bench-$$
tmp=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add cap0 type veth peer name snd0
for l in cap0 snd0; do
  ip netns exec "$ns" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$l/disable_ipv6"
  ip -n "$ns" link set "$l" mtu 65535 up
done
sleep 1
inns() { ip netns exec "$ns" "$@"; }

if ls ../shared/pcaps/mixed/*.pcap >/dev/null 2>&1; then
  lan=(../shared/pcaps/mixed/*.pcap)
else
  lan=(testdata/pcaps/recorded/benign_smb_rdp.pcap testdata/pcaps/recorded/rdp_scan_nmap.pcap testdata/pcaps/tls/ndpi_443-firefox.pcap)
fi
bulk=(testdata/pcaps/recorded/smb_mass_rename.pcap testdata/pcaps/recorded/smb_fanout_admin_shares.pcap
  testdata/pcaps/smb/zeek_smb2.pcap testdata/pcaps/dicom/dcmtk_echo_store_find_reject.pcap)

cat > "$tmp/cutoff.yaml" <<'EOF'
capture:
  health_interval: 1h
EOF
cat > "$tmp/nocutoff.yaml" <<'EOF'
capture:
  health_interval: 1h
  ebpf:
    cutoff: unlimited
EOF

# send RATE FILES... → "$SENT $PPS" (0 = as fast as possible)
send() {
  local rate=$1; shift
  read -r _ SENT _ _ _ _ _ PPS _ < <(inns "$out/livesend" -i snd0 -r "$rate" -d "${secs}s" "$@" | tail -1)
}

# run TOOL RATE FILES...: starts the tool on cap0, sends, stops it; sets
# RECV (packets the tool accounted for) and DROPS.
run() {
  local tool=$1 rate=$2; shift 2
  # Started directly (not through a shell function), so that $! is the
  # tool itself (ip netns exec execs it) and SIGINT reaches it.
  case $tool in
    mamori)   ip netns exec "$ns" "$out/mamori" run -c "$tmp/cutoff.yaml" -i cap0 -o /dev/null 2>"$tmp/err" & ;;
    mamori-nocutoff) ip netns exec "$ns" "$out/mamori" run -c "$tmp/nocutoff.yaml" -i cap0 -o /dev/null 2>"$tmp/err" & ;;
    tcpdump)  ip netns exec "$ns" tcpdump -i cap0 -w /dev/null -B 65536 2>"$tmp/err" & ;;
    netsniff) ip netns exec "$ns" netsniff-ng --in cap0 --out /dev/null --silent --ring-size 64MiB >"$tmp/err" 2>&1 & ;;
  esac
  pid=$!
  sleep 1.5
  send "$rate" "$@"
  sleep 0.5
  kill -INT "$pid"
  # A tool that does not stop within 30 s is killed and fails the rate.
  for ((w = 0; w < 300; w++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "bench/live.sh: $tool did not stop on SIGINT; killing it" >&2
    kill -QUIT "$pid" 2>/dev/null; sleep 1; kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || true
  pid=
  case $tool in
    mamori*)
      local pk kd cut
      pk=$(sed -n 's/^mamori run: .*s: \([0-9,]*\) packets .*/\1/p' "$tmp/err" | tr -d ,)
      kd=$(sed -n 's/.* packets (.* MB), \([0-9,]*\) kernel drops.*/\1/p' "$tmp/err" | tr -d ,)
      cut=$(sed -n 's/.* counted in the kernel, \([0-9,]*\) cut off.*/\1/p' "$tmp/err" | tr -d ,)
      RECV=$((${pk:-0} + ${cut:-0})) DROPS=${kd:-?} ;;
    tcpdump)
      RECV=$(sed -n 's/^\([0-9]*\) packets received by filter/\1/p' "$tmp/err")
      DROPS=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$tmp/err") ;;
    netsniff)
      # netsniff-ng's summary lines start with a carriage return.
      RECV=$(tr '\r' '\n' <"$tmp/err" | awk '/packets incoming/ {print $1}')
      DROPS=$(tr '\r' '\n' <"$tmp/err" | awk '/packets failed filter/ {print $1}') ;;
  esac
  [ -n "$RECV" ] || { echo "bench/live.sh: could not read $tool's counters:" >&2; cat "$tmp/err" >&2; RECV=0 DROPS=?; }
}

rates=(20000 40000 60000 80000 100000 150000 200000 250000 300000 400000 500000 0)
echo "sender ceiling alone (no capture socket), $secs s per run:"
for mix in lan bulk; do
  eval "files=(\"\${$mix[@]}\")"
  send 0 "${files[@]}"
  printf "  %-5s %9s packets/s\n" "$mix" "$PPS"
done
echo
declare -A best
for mix in lan bulk; do
  eval "files=(\"\${$mix[@]}\")"
  for tool in mamori mamori-nocutoff tcpdump netsniff; do
    [ "$mix" = lan ] || [ "$tool" != tcpdump ] || continue   # bulk: mamori with and without cutoff, and netsniff-ng
    best[$mix/$tool]=0
    for rate in "${rates[@]}"; do
      run "$tool" "$rate" "${files[@]}"
      ok=no
      [ "$DROPS" = 0 ] && [ "$RECV" -ge "$SENT" ] && ok=yes
      printf "  %-5s %-16s target %7s pps  sent %8s at %7s pps  seen %8s  drops %8s  %s\n" \
        "$mix" "$tool" "$([ "$rate" = 0 ] && echo max || echo "$rate")" "$SENT" "$PPS" "$RECV" "$DROPS" "$ok"
      [ $ok = yes ] || break
      ((PPS > best[$mix/$tool])) && best[$mix/$tool]=$PPS
    done
  done
done
echo
echo "highest zero-drop rate achieved (packets/s; a tool that passed 'max' was limited by the sender, not by itself):"
for k in "${!best[@]}"; do printf "  %-22s %9s\n" "$k" "${best[$k]}"; done | sort
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "ratios:"
echo "  lan:  mamori / netsniff-ng       $(ratio "${best[lan/mamori]}" "${best[lan/netsniff]}")"
echo "  lan:  mamori / tcpdump           $(ratio "${best[lan/mamori]}" "${best[lan/tcpdump]}")"
echo "  bulk: mamori / netsniff-ng       $(ratio "${best[bulk/mamori]}" "${best[bulk/netsniff]}")"
echo "  bulk: cutoff on / cutoff off     $(ratio "${best[bulk/mamori]}" "${best[bulk/mamori-nocutoff]}")"
