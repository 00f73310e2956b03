#!/usr/bin/env bash
# bench/pcapstore.sh — the forensic pcap store against a linear tcpdump scan
# of the same files, in one run.
#
# 1. Builds a store of COPIES copies of the mixed captures (../shared/pcaps/
#    mixed, 22,881 packets, 10.8 MB), copy k shifted k*5 s later and with its
#    IPv4/IPv6/ARP addresses remapped (bench/pcapstore_gen.go), merged in time
#    order and written through the store's writer: ~5.2 GB at the default 500
#    copies. Prints the write rate and the index size against the data.
# 2. Times single-host, single-port and community-id queries:
#      mamori pcap query (index, then exact filter; process start, audit log
#                         fsync and writing the result included)
#      tcpdump --time-stamp-precision=nano -r FILE -w OUT EXPR for each file
#                         in turn (a linear scan; outputs concatenated)
#    both with the files in the page cache, and checks that the two results
#    are byte-identical pcap files (same SHA-256).
# 3. stenographer on the same packets (bench/steno.sh, when run as root with
#    stenographer and tcpreplay installed; STENO=0 skips it): the store's
#    files are replayed into a veth pair in a namespace of its own where
#    stenographer captures them, then the same queries are timed against
#    mamori again, interleaved, and the answers compared frame by frame.
#
# Usage: bench/pcapstore.sh [COPIES]      (BENCH_OUT=dir, default bench/out;
#        KEEP=1 keeps the store, REUSE=1 uses a kept one; RUNS / TCPDUMP_RUNS
#        runs per query (default 5 / 3, medians); STENO_FILES / STENO_PPS:
#        see bench/steno.sh; needs tcpdump and ~6 GB free, ~12 GB with
#        stenographer)
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-500}
out=${BENCH_OUT:-bench/out}
store="$out/pcapstore"
shared=../shared/pcaps/mixed
runs=${RUNS:-5}
truns=${TCPDUMP_RUNS:-3}
for tool in tcpdump sha256sum go /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/pcapstore.sh: $tool is not installed" >&2; exit 1; }
done
[ -d "$shared" ] || { echo "bench/pcapstore.sh: $shared is absent" >&2; exit 1; }
mkdir -p "$out"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$store" "$out"/pcapstore-*.pcap "$out/pcapstore-files" "$out/pcapstore-values" "$out/pcapstore-steno-queries" "$out/mamori-pcapstore"; }
trap cleanup EXIT

go build -o "$out/mamori-pcapstore" ./cmd/mamori
mamori="$out/mamori-pcapstore"
# tcpdump drops root for its own user after opening the first file, and the
# store's files are not world-readable: keep root when we are root.
zroot=()
[ "$(id -u)" = 0 ] && zroot=(-Z root)

if [ "${REUSE:-0}" = 1 ] && [ -s "$out/pcapstore-values" ] && [ -d "$store" ]; then
  echo "== reusing $store"
else
  rm -rf "$store"
  echo "== building the store: $copies copies of $shared"
  go run bench/pcapstore_gen.go -store "$store" -copies "$copies" -pick $((copies / 4)) -mixed "$shared" > "$out/pcapstore-values"
fi
. "$out/pcapstore-values"   # HOST, HOST2
"$mamori" pcap ls --store "$store" | tail -1
data=$(du -cb "$store"/*.pcap | tail -1 | cut -f1)
index=$(du -cb "$store"/*.idx | tail -1 | cut -f1)
awk -v d="$data" -v i="$index" 'BEGIN { printf "data %.2f GB, index %.1f MB = %.2f%% of the data\n", d/1e9, i/1e6, 100*i/d }'

ls "$store"/*.pcap > "$out/pcapstore-files"
cat "$store"/*.pcap "$store"/*.idx > /dev/null   # both tools read from the page cache

# A flow of HOST for the community-id query: its ID and 5-tuple from the
# flow record mamori writes for it.
rm -f "$out/pcapstore-one.pcap"
"$mamori" pcap query -q --store "$store" --max-packets 50 -w "$out/pcapstore-one.pcap" "host $HOST and tcp port 445"
rec=$("$mamori" replay -q -o - "$out/pcapstore-one.pcap" | grep '"dataset":"mamori.flow"' | head -1)
cid=$(sed -E 's/.*"community_id":"([^"]*)".*/\1/' <<<"$rec")
sip=$(sed -E 's/.*"source":\{"ip":"([^"]*)","port":([0-9]+).*/\1/' <<<"$rec")
spt=$(sed -E 's/.*"source":\{"ip":"([^"]*)","port":([0-9]+).*/\2/' <<<"$rec")
dip=$(sed -E 's/.*"destination":\{"ip":"([^"]*)","port":([0-9]+).*/\1/' <<<"$rec")
dpt=$(sed -E 's/.*"destination":\{"ip":"([^"]*)","port":([0-9]+).*/\2/' <<<"$rec")
rm -f "$out/pcapstore-one.pcap"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# timed FILE CMD...: runs CMD, appends "wall_ms cpu_ms" (user + system of
# it and its children) to FILE.
timed() {
  local f=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$f.t" "$@"
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$f.t" >> "$f"
  rm -f "$f.t"
}
tcpdump_all() { # EXPR: one tcpdump per store file, outputs numbered
  local i=0 f
  while read -r f; do
    tcpdump "${zroot[@]}" --time-stamp-precision=nano -r "$f" -w "$out/pcapstore-t$i.pcap" "$1" 2>/dev/null
    i=$((i + 1))
  done < "$out/pcapstore-files"
}
export -f tcpdump_all
export out

printf '\n%-50s %8s | %9s %9s %6s | %9s %9s %6s | %s\n' "query" "packets" "mamori" "tcpdump" "ratio" "mamori" "tcpdump" "ratio" "answers"
printf '%-50s %8s | %27s | %27s |\n' "" "" "wall ms (medians)" "CPU ms, user+sys (medians)"
query() { # name, mamori expression, tcpdump expression
  local name=$1 mexpr=$2 texpr=$3 r mt="$out/pcapstore-mt" tt="$out/pcapstore-tt"
  rm -f "$mt" "$tt"
  for ((r = 0; r < runs; r++)); do
    rm -f "$out/pcapstore-m.pcap"
    timed "$mt" "$mamori" pcap query -q --store "$store" --who bench -w "$out/pcapstore-m.pcap" "$mexpr"
  done
  for ((r = 0; r < truns; r++)); do
    # One tcpdump per file (tcpdump -V mixes up timestamp precision across
    # files); the outputs are concatenated without their file headers.
    timed "$tt" env "zroot=${zroot[*]}" bash -c 'zroot=($zroot); tcpdump_all "$1"' _ "$texpr"
  done
  local n
  n=$(wc -l < "$out/pcapstore-files")
  { cat "$out/pcapstore-t0.pcap"; for ((r = 1; r < n; r++)); do tail -c +25 "$out/pcapstore-t$r.pcap"; done; } > "$out/pcapstore-t.pcap"
  rm -f "$out"/pcapstore-t[0-9]*.pcap
  local mw mc tw tc pk msum tsum same="identical"
  mw=$(cut -d' ' -f1 "$mt" | median); mc=$(cut -d' ' -f2 "$mt" | median)
  tw=$(cut -d' ' -f1 "$tt" | median); tc=$(cut -d' ' -f2 "$tt" | median)
  pk=$(tcpdump --time-stamp-precision=nano -r "$out/pcapstore-m.pcap" 2>/dev/null | wc -l)
  msum=$(sha256sum < "$out/pcapstore-m.pcap" | cut -c1-64)
  tsum=$(sha256sum < "$out/pcapstore-t.pcap" | cut -c1-64)
  [ "$msum" = "$tsum" ] || same="DIFFER ($msum vs $tsum)"
  printf '%-50s %8d | %9d %9d %5.0fx | %9d %9d %5.0fx | %s\n' "$name" "$pk" "$mw" "$tw" \
    "$(awk -v a="$tw" -v b="$mw" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$mc" "$tc" \
    "$(awk -v a="$tc" -v b="$mc" 'BEGIN { print (b > 0 ? a / b : a) }')" "$same"
  rm -f "$out/pcapstore-m.pcap" "$out/pcapstore-t.pcap" "$mt" "$tt"
}
query "host $HOST" "host $HOST" "host $HOST"
query "host $HOST2" "host $HOST2" "host $HOST2"
query "port 389" "port 389" "port 389"
query "tcp port 445 and host $HOST" "tcp port 445 and host $HOST" "tcp port 445 and host $HOST"
query "community-id $cid" "community-id $cid" \
  "tcp and ((src host $sip and src port $spt and dst host $dip and dst port $dpt) or (src host $dip and src port $dpt and dst host $sip and dst port $spt))"
echo
echo "(whole commands, mamori's process start, audit log fsync and result file included; medians of $runs"
echo " mamori and $truns tcpdump runs; tcpdump reads the same $(wc -l < "$out/pcapstore-files") store files one after the other;"
echo " community-id is compared with tcpdump's 5-tuple expression for the same flow; load average $(cut -d' ' -f1-3 /proc/loadavg))"

if [ "${STENO:-1}" = 0 ]; then
  exit 0
elif [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null || ! { command -v stenographer || [ -x /usr/sbin/stenographer ]; } >/dev/null; then
  echo
  echo "stenographer not compared: needs root, stenographer and tcpreplay (apt-get install stenographer tcpreplay)"
  exit 0
fi
echo
# stenographer's language has no community-id: the flow's two hosts and two
# ports, as an index lookup (it has no exact filter).
printf '%s\t%s\t%s\n' \
  "host $HOST" "host $HOST" "host $HOST" \
  "host $HOST2" "host $HOST2" "host $HOST2" \
  "port 389" "port 389" "port 389" \
  "tcp port 445 and host $HOST" "tcp port 445 and host $HOST" "tcp and port 445 and host $HOST" \
  "community-id $cid" "community-id $cid" "tcp and host $sip and host $dip and port $spt and port $dpt" \
  > "$out/pcapstore-steno-queries"
MAMORI=$mamori bench/steno.sh "$store" "$out/pcapstore-steno-queries"
