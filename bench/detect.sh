#!/usr/bin/env bash
# bench/detect.sh — what detection adds to a full-pipeline replay: the
# same mamori binary on the same capture with the rules off (--no-detect),
# on without a baseline (learning as it goes), and on with a baseline
# learned beforehand from the same capture, interleaved, each round giving
# its own ratios (the issue's target: detection adds at most 10%).
#
# mamori runs with GOMAXPROCS=1 pinned to core 0; CPU time is user + system
# from /usr/bin/time. --no-detect runs twice per round (before and after)
# and is averaged, so a drift in the machine's load shows in both sides.
#
# Usage: bench/detect.sh [ROUNDS] [CAPTURE]   (defaults: 5, bench/out/mixed-x60.pcap from bench/offline.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
pcap=${2:-bench/out/mixed-x60.pcap}
[ -s "$pcap" ] || { echo "bench/detect.sh: $pcap is absent (bench/offline.sh builds it)" >&2; exit 1; }
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"
go build -o "$out/mamori" ./cmd/mamori
bin=$(readlink -f "$out/mamori")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" baseline learn -q -o "$tmp/baseline.json.gz" "$pcap"

cpu() {
  /usr/bin/time -f "%U %S" -o "$tmp/time" env GOMAXPROCS=1 taskset -c 0 "$bin" "$@" >/dev/null 2>&1
  awk '{print $1 + $2}' "$tmp/time"
}
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
rd=() rb=()
printf '%-6s %10s %10s %10s %10s %10s\n' round no-detect detect ratio baseline ratio
for ((i = 1; i <= rounds; i++)); do
  a=$(cpu replay -q --no-detect -o /dev/null "$pcap")
  d=$(cpu replay -q -o /dev/null "$pcap")
  b=$(cpu replay -q --baseline "$tmp/baseline.json.gz" -o /dev/null "$pcap")
  a2=$(cpu replay -q --no-detect -o /dev/null "$pcap")
  nd=$(awk -v x="$a" -v y="$a2" 'BEGIN {print (x + y) / 2}')
  rd+=("$(awk -v x="$d" -v y="$nd" 'BEGIN {printf "%.3f", x / y}')")
  rb+=("$(awk -v x="$b" -v y="$nd" 'BEGIN {printf "%.3f", x / y}')")
  printf '%-6s %10.3f %10.3f %10s %10.3f %10s\n' "$i" "$nd" "$d" "${rd[-1]}" "$b" "${rb[-1]}"
done
echo "input: $pcap; CPU seconds (user + system), GOMAXPROCS=1, core 0; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "detection adds (median of rounds): $(awk -v r="$(med "${rd[@]}")" 'BEGIN {printf "%+.0f%%", (r - 1) * 100}') without a baseline," \
  "$(awk -v r="$(med "${rb[@]}")" 'BEGIN {printf "%+.0f%%", (r - 1) * 100}') with one (target: at most +10%)"
