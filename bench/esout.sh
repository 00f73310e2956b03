#!/usr/bin/env bash
# bench/esout.sh — what shipping to Elasticsearch costs a replay: CPU time
# (user + system) of `mamori replay` on the same capture with the
# Elasticsearch output on and off, interleaved, on one core.
#
#   ndjson   mamori replay -o /dev/null CAPTURE              (the NDJSON sink only)
#   es       the same with elasticsearch.enabled: the records also go
#            through the spool (in a fresh directory each run) and gzip'd
#            bulk requests to bench/esout_fakees.go, and the replay waits
#            until every record is acknowledged
#
# mamori runs with GOMAXPROCS=1 pinned to core 0; the fake server is a
# separate process pinned to core 1, so its decompression and counting are
# not billed to mamori. ESOUT_CORES=0-1 (a taskset list) runs mamori on
# those cores with GOMAXPROCS set to their number instead: the output then
# works beside the packet path, as on a sensor, and the replay's wall-clock
# speed is what to compare (the fake server shares the last core). Each ES run checks that the server received every
# record mamori counted as acknowledged. Other work on the machine inflates
# CPU times, so the runs alternate and the summary uses the least and the
# median CPU time of each.
#
# Usage: bench/esout.sh [ROUNDS] [CAPTURE] [extra replay flags, e.g. --no-detect]
#        (defaults: 5, bench/out/mixed-x60.pcap from bench/offline.sh)
#        ESOUT_CORES=0-1: see above;
#        ESOUT_COMPRESSION=-1 sends uncompressed bodies (compression_level;
#        default 1, the configuration's default); ESOUT_MAMORI=BINARY times
#        that mamori binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
cores=${ESOUT_CORES:-0}
procs=$(taskset -c "$cores" nproc)
rounds=${1:-5}
pcap=${2:-bench/out/mixed-x60.pcap}
shift $(($# < 2 ? $# : 2))
extra=("$@")
for tool in taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/esout.sh: $tool is not installed" >&2; exit 1; }
done
[ -s "$pcap" ] || { echo "bench/esout.sh: $pcap is absent (bench/offline.sh builds it)" >&2; exit 1; }
pcap=$(readlink -f "$pcap")

tmp=$(mktemp -d)
fakepid=
cleanup() {
  [ -n "$fakepid" ] && kill "$fakepid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${ESOUT_MAMORI:-}" ]; then # a binary built elsewhere, e.g. an older commit
  cp "$ESOUT_MAMORI" "$tmp/mamori"
else
  go build -o "$tmp/mamori" ./cmd/mamori
fi
go build -o "$tmp/fakees" bench/esout_fakees.go
cat "$pcap" >/dev/null # warm the page cache

cat >"$tmp/ndjson.yaml" <<EOF
sensor:
  data_dir: $tmp/data
EOF

# run_es: one replay shipping to a fresh fake server; sets CPU and checks
# that the server got every acknowledged record.
run_es() {
  rm -rf "$tmp/spool" "$tmp/addr"
  taskset -c 1 "$tmp/fakees" -addr-file "$tmp/addr" >"$tmp/fakees.out" &
  fakepid=$!
  for _ in $(seq 100); do [ -s "$tmp/addr" ] && break; sleep 0.05; done
  cat >"$tmp/es.yaml" <<EOF
sensor:
  data_dir: $tmp/data
elasticsearch:
  enabled: true
  urls: [http://$(cat "$tmp/addr")]
  compression_level: ${ESOUT_COMPRESSION:-1}
  spool:
    dir: $tmp/spool
EOF
  /usr/bin/time -f "%U %S %e" -o "$tmp/time" env GOMAXPROCS="$procs" taskset -c "$cores" \
    "$tmp/mamori" replay -c "$tmp/es.yaml" -o /dev/null "${extra[@]}" "$pcap" >/dev/null 2>"$tmp/es.err"
  kill -TERM "$fakepid"
  wait "$fakepid" || true
  fakepid=
  local acked got
  acked=$(awk '/^elasticsearch:/ {print $2 + $6}' "$tmp/es.err")
  got=$(awk '{print $2}' "$tmp/fakees.out")
  if [ -z "$acked" ] || [ "$acked" != "$got" ]; then
    echo "bench/esout.sh: mamori acknowledged ${acked:-?} records, the server counted ${got:-?}:" >&2
    cat "$tmp/es.err" "$tmp/fakees.out" >&2
    exit 1
  fi
  ES_DOCS=$got
  ES_INFO=$(cat "$tmp/fakees.out")
  CPU=$(awk '{print $1 + $2}' "$tmp/time")
  WALL=$(awk '{print $3}' "$tmp/time")
}

run_ndjson() {
  /usr/bin/time -f "%U %S %e" -o "$tmp/time" env GOMAXPROCS="$procs" taskset -c "$cores" \
    "$tmp/mamori" replay -q -c "$tmp/ndjson.yaml" -o /dev/null "${extra[@]}" "$pcap" >/dev/null 2>"$tmp/nd.err"
  CPU=$(awk '{print $1 + $2}' "$tmp/time")
  WALL=$(awk '{print $3}' "$tmp/time")
}

nd=() es=() ndw=() esw=()
for ((r = 1; r <= rounds; r++)); do
  run_ndjson
  nd+=("$CPU") ndw+=("$WALL")
  printf 'round %d: ndjson %6.2f s cpu (%5.2f s wall)' "$r" "$CPU" "$WALL"
  run_es
  es+=("$CPU") esw+=("$WALL")
  printf '   es %6.2f s cpu (%5.2f s wall), %d documents acknowledged\n' "$CPU" "$WALL" "$ES_DOCS"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[1], a[int((NR + 1) / 2)]}'; }
read -r nd_min nd_med < <(stats "${nd[@]}")
read -r es_min es_med < <(stats "${es[@]}")
read -r ndw_min ndw_med < <(stats "${ndw[@]}")
read -r esw_min esw_med < <(stats "${esw[@]}")
echo
echo "input: $pcap; mamori on core(s) $cores, GOMAXPROCS=$procs; replay flags: ${extra[*]:-(none)}; compression_level ${ESOUT_COMPRESSION:-1}; last ES run's server: $ES_INFO"
awk -v a="$nd_min" -v b="$es_min" -v c="$nd_med" -v d="$es_med" -v n="$ES_DOCS" 'BEGIN {
  printf "ndjson: least %.2f s, median %.2f s CPU\n", a, c
  printf "es:     least %.2f s, median %.2f s CPU\n", b, d
  printf "ES on / NDJSON: %.2fx (least), %.2fx (median); the output path adds %.2f s for %d documents (%.0f documents per CPU second)\n", b / a, d / c, b - a, n, n / (b - a)
}'
awk -v a="$ndw_min" -v b="$esw_min" -v c="$ndw_med" -v d="$esw_med" 'BEGIN {
  printf "wall clock: ndjson least %.2f s, median %.2f s; es least %.2f s, median %.2f s; ES on / NDJSON %.2fx (least), %.2fx (median)\n", a, c, b, d, b / a, d / c
}'
echo "(target: the replay's speed changes by at most 10% with ES on, i.e. a ratio <= 1.10: CPU on one core, wall clock with ESOUT_CORES)"
