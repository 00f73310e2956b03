#!/usr/bin/env bash
# bench/live.sh — live capture: the highest send rate at which each tool
# loses nothing, on the same machine, in the same run.
#
# Tools (TOOLS="..." picks some; each mix runs those that apply to it):
#   mamori           mamori run as deployed: decode, flows, protocol parsers,
#                    rules and learning baseline, NDJSON (to /dev/null), every
#                    copied packet into the pcap store (a temporary
#                    directory on this machine's disk), one fanout worker per
#                    CPU with a 64 MiB ring each, the eBPF flow counter with
#                    the default 1 MiB cutoff
#   mamori-nostore   the same with --no-pcap-store: analysis only
#   mamori-nocutoff  the same as mamori with capture.ebpf.cutoff: unlimited
#   netsniff-pcap    netsniff-ng writing every packet to a pcap file in the
#                    same temporary directory (what the pcap store does, and
#                    nothing else), 128 MiB ring (mamori's two rings)
#   netsniff         netsniff-ng --out /dev/null, 128 MiB ring: the ceiling
#                    of capture alone
#   tcpdump          tcpdump -w /dev/null -B 65536
# Compare mamori with netsniff-pcap (both keep every packet) and
# mamori-nostore with netsniff (neither writes to disk).
#
# A network namespace of its own with a veth pair (MTU 65535, IPv6 off) is
# created and deleted on exit; frames are sent only into it. The sender is
# bench/livesend (PACKET_TX_RING + PACKET_QDISC_BYPASS, frames written into
# the ring once; tcpreplay tops out far lower), looping over a mix for
# SECONDS at each rate. A tool passes a rate when its kernel drop counter
# stays 0 and it accounted for every packet sent (mamori: processed + cut
# off by the kernel; and its pcap store kept every packet copied to it). The ladder (rates ×1.5 from 25,000 packets/s, then
# "max": as fast as the sender can) stops for a tool at its first failure;
# one more run halfway (geometrically) between the last pass and that
# failure refines the result.
#
# Mixes: "lan" (../shared/pcaps/mixed, two lab LAN captures; testdata's
# recorded captures where that is absent) and "bulk" (SMB file copies and a
# DICOM transfer from testdata/pcaps, looped: the same connections go on,
# so most of their bytes lie past the 1 MiB cutoff; the summary prints the
# share the kernel cut off).
#
# On a veth pair the kernel's receive work (the copy into each capture
# ring, the fanout hash, the eBPF program) runs on the sending CPU, inside
# the sender's system calls. So the sender's ceiling is measured alone, and
# the rate it reached at "max" with each tool is printed: a tool that
# passes "max" was limited by the sender (marked "sender-bound"), and its
# figure is a lower bound. A target rate the sender fell more than 3% short
# of is marked "(sender short)".
#
# Usage: sudo bench/live.sh [SECONDS]     (default 3)
#   env: TOOLS, MIXES ("lan bulk"), BENCH_OUT (bench/out), MAMORI (a
#   mamori binary to use instead of building this tree's)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
out=${BENCH_OUT:-bench/out}
mixes=(${MIXES:-lan bulk})
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "bench/live.sh: needs root (network namespace, capture)" >&2; exit 1; }
for tool in ip tcpdump netsniff-ng; do
  command -v "$tool" >/dev/null || { echo "bench/live.sh: $tool is not installed (apt-get install iproute2 tcpdump netsniff-ng)" >&2; exit 1; }
done

if [ -n "${MAMORI:-}" ]; then
  cp "$MAMORI" "$out/mamori"   # a given build (e.g. an older one, to compare)
else
  go build -o "$out/mamori" ./cmd/mamori
fi
go build -o "$out/livesend" ./bench/livesend

ns=mamori-bench-$$
tmp=$(mktemp -d -p "${TMPDIR:-/var/tmp}" mamori-live.XXXXXX)
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

for c in cutoff nocutoff; do
  {
    echo "sensor:"
    echo "  data_dir: $tmp/data"
    echo "capture:"
    echo "  health_interval: 1h"
    [ $c = cutoff ] || printf '  ebpf:\n    cutoff: unlimited\n'
  } >"$tmp/$c.yaml"
done

# send RATE FILES... → SENT, PPS (0 = as fast as possible)
send() {
  local rate=$1; shift
  read -r _ SENT _ _ _ _ _ PPS _ < <(inns "$out/livesend" -i snd0 -r "$rate" -d "${secs}s" "$@" | tail -1)
}

# cputicks PID: user + system CPU time of a process, in clock ticks.
cputicks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run TOOL RATE FILES...: starts the tool on cap0, sends, stops it; sets
# RECV (packets the tool accounted for), DROPS, CUT (mamori: packets the
# kernel cut off), LOST (mamori: packets its pcap store did not keep) and
# CPU (the tool's own CPU time per packet sent, in µs, while sending: the
# figure that decides how far it goes on a busy machine; the kernel's
# receive work is not in it, it runs in the sender).
run() {
  local tool=$1 rate=$2; shift 2
  rm -rf "$tmp/data" "$tmp/ns.pcap"
  : >"$tmp/err"
  # Started directly (not through a shell function), so that $! is the
  # tool itself (ip netns exec execs it) and SIGINT reaches it.
  case $tool in
    mamori)          ip netns exec "$ns" "$out/mamori" run -c "$tmp/cutoff.yaml" -i cap0 -o /dev/null 2>"$tmp/err" & ;;
    mamori-nostore)  ip netns exec "$ns" "$out/mamori" run -c "$tmp/cutoff.yaml" -i cap0 -o /dev/null --no-pcap-store 2>"$tmp/err" & ;;
    mamori-nocutoff) ip netns exec "$ns" "$out/mamori" run -c "$tmp/nocutoff.yaml" -i cap0 -o /dev/null 2>"$tmp/err" & ;;
    tcpdump)         ip netns exec "$ns" tcpdump -i cap0 -w /dev/null -B 65536 2>"$tmp/err" & ;;
    netsniff)        ip netns exec "$ns" netsniff-ng --in cap0 --out /dev/null --silent --ring-size 128MiB >"$tmp/err" 2>&1 & ;;
    netsniff-pcap)   ip netns exec "$ns" netsniff-ng --in cap0 --out "$tmp/ns.pcap" --silent --ring-size 128MiB >"$tmp/err" 2>&1 & ;;
  esac
  pid=$!
  # mamori says when its rings are open; the others start at once.
  case $tool in
    mamori*) for ((w = 0; w < 150; w++)); do grep -q 'msg=capturing' "$tmp/err" && break; sleep 0.1; done; sleep 0.3 ;;
    *) sleep 1 ;;
  esac
  local t0 t1
  t0=$(cputicks "$pid")
  send "$rate" "$@"
  sleep 0.5
  t1=$(cputicks "$pid")
  CPU=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$SENT" 'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "-" }')
  kill -INT "$pid"
  # A tool that does not stop within 30 s is killed and fails the rate.
  for ((w = 0; w < 300; w++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "bench/live.sh: $tool did not stop on SIGINT; killing it" >&2
    kill -QUIT "$pid" 2>/dev/null; sleep 1; kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || true
  pid=
  CUT=0 LOST=0
  case $tool in
    mamori*)
      local pk kd
      pk=$(sed -n 's/^mamori run: .*s: \([0-9,]*\) packets .*/\1/p' "$tmp/err" | tr -d ,)
      kd=$(sed -n 's/.* packets (.* MB), \([0-9,]*\) kernel drops.*/\1/p' "$tmp/err" | tr -d ,)
      CUT=$(sed -n 's/.* counted in the kernel, \([0-9,]*\) cut off.*/\1/p' "$tmp/err" | tr -d ,)
      CUT=${CUT:-0}
      RECV=$((${pk:-0} + CUT)) DROPS=${kd:-?}
      # Packets the pcap store did not keep (its queue full, lost, write
      # errors) fail the rate too: the store must keep every packet copied.
      LOST=$(sed -n -e 's/^pcap store .*: \([0-9]*\) packets not stored.*/\1/p' \
        -e 's/^pcap store .* \([0-9]*\) lost, \([0-9]*\) write errors$/\1 \2/p' "$tmp/err" | tr ' ' '\n' | awk '{ s += $1 } END { print s + 0 }') ;;
    tcpdump)
      RECV=$(sed -n 's/^\([0-9]*\) packets received by filter/\1/p' "$tmp/err")
      DROPS=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$tmp/err") ;;
    netsniff*)
      # netsniff-ng's summary lines start with a carriage return.
      RECV=$(tr '\r' '\n' <"$tmp/err" | awk '/packets incoming/ {print $1}')
      DROPS=$(tr '\r' '\n' <"$tmp/err" | awk '/packets failed filter/ {print $1}') ;;
  esac
  [ -n "$RECV" ] || { echo "bench/live.sh: could not read $tool's counters:" >&2; cat "$tmp/err" >&2; RECV=0 DROPS=?; }
}

# try TOOL MIX RATE FILES...: one run, one line; sets OK and updates best.
declare -A best maxpps cutshare cpu
try() {
  local tool=$1 mix=$2 rate=$3; shift 3
  run "$tool" "$rate" "$@"
  OK=no
  [ "$DROPS" = 0 ] && [ "$RECV" -ge "$SENT" ] && [ "$LOST" = 0 ] && OK=yes
  local note=""
  [ "$LOST" = 0 ] || note="pcap store lost $LOST "
  if [ "$rate" = 0 ]; then
    maxpps[$mix/$tool]=$PPS
    [ $OK = yes ] && note+="sender-bound"
  elif ((PPS * 100 < rate * 97)); then
    note+="(sender short)"
  fi
  ((SENT > 0)) && [ "$CUT" != 0 ] && cutshare[$mix/$tool]=$((CUT * 100 / SENT))
  printf "  %-5s %-16s target %7s pps  sent %8s at %7s pps  seen %8s  drops %8s  cpu %5s µs/pkt  %-3s %s\n" \
    "$mix" "$tool" "$([ "$rate" = 0 ] && echo max || echo "$rate")" "$SENT" "$PPS" "$RECV" "$DROPS" "$CPU" "$OK" "$note"
  # The tool's CPU per packet at the highest rate it passed.
  [ $OK = yes ] && ((PPS >= best[$mix/$tool])) && cpu[$mix/$tool]=$CPU
  ((PPS > best[$mix/$tool])) && [ $OK = yes ] && best[$mix/$tool]=$PPS
  # Passing at the sender's maximum: whatever the best rate, the tool was
  # never the limit.
  [ "$rate" = 0 ] && [ $OK = yes ] && best[$mix/$tool:bound]=1
  return 0
}

rates=(25000 37500 56000 84000 126000 190000 285000 427000 640000 0)
echo "$(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $secs s per run"
echo "sender ceiling alone (no capture socket):"
declare -A alone
for mix in "${mixes[@]}"; do
  eval "files=(\"\${$mix[@]}\")"
  send 0 "${files[@]}"
  alone[$mix]=$PPS
  printf "  %-5s %9s packets/s\n" "$mix" "$PPS"
done
echo
for mix in "${mixes[@]}"; do
  eval "files=(\"\${$mix[@]}\")"
  case $mix in
    lan) tools=(mamori mamori-nostore netsniff-pcap netsniff tcpdump) ;;
    *) tools=(mamori mamori-nocutoff mamori-nostore netsniff-pcap netsniff) ;;
  esac
  for tool in "${tools[@]}"; do
    [ -z "${TOOLS:-}" ] || [[ " $TOOLS " == *" $tool "* ]] || continue
    best[$mix/$tool]=0
    last=0
    for rate in "${rates[@]}"; do
      try "$tool" "$mix" "$rate" "${files[@]}"
      [ $OK = yes ] || break
      last=$rate
    done
    if [ $OK = no ] && [ "$rate" != "${rates[0]}" ]; then
      # One run between the last rate passed and the one failed (for
      # "max": the rate the sender reached there).
      fail=$rate
      [ "$fail" = 0 ] && fail=$PPS
      mid=$(awk -v a="$last" -v b="$fail" 'BEGIN { printf "%d", sqrt(a * b) }')
      ((mid > last)) && try "$tool" "$mix" "$mid" "${files[@]}"
    fi
  done
done
echo
echo "$(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "highest zero-drop rate achieved (packets/s; ≥: passed at the sender's maximum, so the sender, not the tool, was the limit;"
echo "cpu: the tool's own CPU per packet at that rate, the steadier figure when the machine is busy):"
for k in "${!best[@]}"; do
  [[ $k == *:bound ]] && continue
  printf "  %-22s %s%9s   cpu %5s µs/pkt   sender at max: %9s (alone %s)%s\n" "$k" "$([ -n "${best[$k:bound]:-}" ] && echo "≥" || echo " ")" "${best[$k]}" \
    "${cpu[$k]:--}" "${maxpps[$k]:--}" "${alone[${k%%/*}]}" "$([ -n "${cutshare[$k]:-}" ] && echo ", ${cutshare[$k]}% of packets cut off by the kernel")"
done | sort
ratio() {
  [ -n "${best[$1]:-}" ] && [ -n "${best[$2]:-}" ] || return 0
  local r
  r=$(awk -v a="${best[$1]}" -v b="${best[$2]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
  # A tool that passed at the sender's maximum is a lower bound.
  [ -n "${best[$1:bound]:-}" ] && [ -z "${best[$2:bound]:-}" ] && r="≥ $r"
  [ -z "${best[$1:bound]:-}" ] && [ -n "${best[$2:bound]:-}" ] && r="≤ $r"
  [ -n "${best[$1:bound]:-}" ] && [ -n "${best[$2:bound]:-}" ] && r="$r (both sender-bound)"
  printf "  %-40s %s\n" "$3" "$r"
}
echo "ratios:"
ratio lan/mamori lan/netsniff-pcap "lan:  mamori / netsniff-ng → pcap file"
ratio lan/mamori-nostore lan/netsniff "lan:  mamori --no-pcap-store / netsniff-ng"
ratio lan/mamori lan/tcpdump "lan:  mamori / tcpdump"
ratio bulk/mamori bulk/netsniff-pcap "bulk: mamori / netsniff-ng → pcap file"
ratio bulk/mamori-nostore bulk/netsniff "bulk: mamori --no-pcap-store / netsniff-ng"
ratio bulk/mamori bulk/mamori-nocutoff "bulk: cutoff on / cutoff off"
