#!/usr/bin/env bash
# bench/steno.sh — stenographer against mamori's pcap store on the same
# packets, in the same run (called by bench/pcapstore.sh; runs alone too).
#
# stenographer (Debian package "stenographer") only stores what its
# stenotype captures from an interface, so the packets of the store are
# replayed onto one:
#
#   1. a network namespace of its own with a veth pair (cap0 <-> snd0, MTU
#      65535, IPv6 off) is created (deleted on exit; nothing is sent
#      anywhere else);
#   2. stenographer runs in it as the stenographer user, stenotype capturing
#      cap0 (--no_watchdogs --seccomp=none, 10 s file age), serving queries
#      over HTTPS on 127.0.0.1 of the namespace with client certificates made
#      here (a CA, a server and a client certificate: what stenokeys.sh
#      makes; the Debian package ships no stenokeys.sh, stenocurl or
#      stenoread, so the query is stenoread's request made with curl: POST
#      /query with the query as the body);
#   3. the store's packet files (STENO_FILES of them, oldest first; all by
#      default) are replayed into snd0 with tcpreplay at STENO_PPS
#      packets/s; stenotype's kernel counters (packets, drops) are read from
#      its log, and the script waits until stenotype has been idle for a
#      whole file and stenographer has picked up the last index;
#   4. each query of QUERIES is timed RUNS times with mamori pcap query and
#      with stenoread's request, interleaved: wall (whole command), CPU
#      (mamori: the process; stenographer: curl plus the server process's
#      user+sys during the query); the answers are compared as multisets of
#      frames (bench/stenocmp.go: timestamps differ, stenographer stores the
#      replay's capture time).
#
# QUERIES is a file of lines "name<TAB>mamori expression<TAB>stenographer
# query". stenographer's query language has host, net, port, ip proto,
# tcp/udp/icmp, and/or, before/after and no exact filter: "host X" is its
# IPv4/IPv6 address index (no ARP), so where tcpdump's semantics differ the
# answers are reported as they are, with the kinds of the differing frames.
#
# Usage: bench/steno.sh STORE QUERIES    (root; BENCH_OUT=dir (default
#        bench/out), MAMORI=binary (built when unset), RUNS (5),
#        STENO_FILES (all), STENO_PPS (100000), STENO_BLOCKS (512 MiB of
#        capture ring), KEEP=1 keeps stenographer's files)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 2 ] || { echo "usage: bench/steno.sh STORE QUERIES" >&2; exit 2; }
store=$1
queries=$2
out=${BENCH_OUT:-bench/out}
runs=${RUNS:-5}
pps=${STENO_PPS:-100000}
blocks=${STENO_BLOCKS:-512}
[ "$(id -u)" = 0 ] || { echo "bench/steno.sh: needs root (network namespace, capture)" >&2; exit 1; }
for tool in stenographer stenotype tcpreplay curl openssl ip runuser go /usr/bin/time; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    echo "bench/steno.sh: $tool is not installed (apt-get install stenographer tcpreplay curl openssl iproute2)" >&2; exit 1; }
done
id stenographer >/dev/null 2>&1 || { echo "bench/steno.sh: no stenographer user (apt-get install stenographer)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -z "${MAMORI:-}" ]; then
  go build -o "$out/mamori-steno" ./cmd/mamori
  MAMORI=$out/mamori-steno
fi

st=$out/steno
ns=mamori-steno-$$
spid=
rpid=
cleanup() {
  local pids=() p
  # runuser, the stenographer server it started, and the server's stenotype.
  for p in $rpid $spid; do pids+=("$p" $(pgrep -P "$p" 2>/dev/null || true)); done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((w = 0; w < 50; w++)); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
    # stenotype waits for a block that never comes once the traffic stopped.
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  local tmpdir
  tmpdir=$(sed -n 's/.*"--dir=\(\/tmp\/stenographer[0-9]*\)".*/\1/p' "$st/stenographer.log" 2>/dev/null | head -1)
  [ -n "$tmpdir" ] && rm -rf "$tmpdir"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$st" "$out/mamori-steno"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

rm -rf "$st"
mkdir -p "$st/pkt" "$st/idx" "$st/certs" "$st/q"
# Certificates: a CA, and a server and a client certificate it signed.
(
  cd "$st/certs"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca_key.pem -out ca_cert.pem -days 2 -subj /CN=mamori-bench-steno-ca \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  for who in server client; do
    eku=serverAuth
    [ $who = client ] && eku=clientAuth
    openssl req -newkey rsa:2048 -nodes -keyout ${who}_key.pem -out $who.csr -subj /CN=localhost 2>/dev/null
    printf 'basicConstraints=CA:false\nextendedKeyUsage=%s\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' $eku > $who.ext
    openssl x509 -req -in $who.csr -CA ca_cert.pem -CAkey ca_key.pem -CAcreateserial -out ${who}_cert.pem -days 2 -extfile $who.ext 2>/dev/null
  done
  rm -f ./*.csr ./*.ext ca_key.pem
)
cat > "$st/config" <<EOF
{
  "Threads": [ { "PacketsDirectory": "$st/pkt", "IndexDirectory": "$st/idx", "DiskFreePercentage": 1 } ],
  "StenotypePath": "$(command -v stenotype || echo /usr/sbin/stenotype)",
  "Interface": "cap0",
  "Host": "127.0.0.1",
  "Port": 9001,
  "CertPath": "$st/certs",
  "Flags": ["--no_watchdogs", "--seccomp=none", "--fileage_sec=10", "--blocks=$blocks", "-v", "--stats_sec=5", "--stats_blocks=0"]
}
EOF
chown -R stenographer:stenographer "$st"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add cap0 type veth peer name snd0
for l in cap0 snd0; do
  ip netns exec "$ns" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$l/disable_ipv6"
  ip -n "$ns" link set "$l" mtu 65535 up
done
inns() { ip netns exec "$ns" "$@"; }

# The server, as the stenographer user (runuser stays its parent).
ip netns exec "$ns" runuser -u stenographer -- "$(command -v stenographer || echo /usr/sbin/stenographer)" \
  -config "$st/config" -syslog=false -v 1 > "$st/stenographer.log" 2>&1 &
rpid=$!
for ((w = 0; w < 600; w++)); do
  grep -q 'starting to process packets' "$st/stenographer.log" && inns bash -c 'exec 3<>/dev/tcp/127.0.0.1/9001' 2>/dev/null && break
  kill -0 "$rpid" 2>/dev/null || { echo "bench/steno.sh: stenographer stopped:" >&2; cat "$st/stenographer.log" >&2; exit 1; }
  sleep 0.1
done
spid=$(pgrep -P "$rpid" -x stenographer || true)
[ -n "$spid" ] || { echo "bench/steno.sh: no stenographer process under runuser $rpid" >&2; exit 1; }
grep -q 'starting to process packets' "$st/stenographer.log" || { echo "bench/steno.sh: stenotype did not start:" >&2; cat "$st/stenographer.log" >&2; exit 1; }

# Replay the store's packet files.
mapfile -t files < <(ls "$store"/*.pcap)
nfiles=${STENO_FILES:-${#files[@]}}
files=("${files[@]:0:$nfiles}")
bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
echo "== stenographer: replaying ${#files[@]} of the store's files ($(awk -v b="$bytes" 'BEGIN { printf "%.2f GB", b/1e9 }')) into its veth at $pps packets/s (tcpreplay)"
inns tcpreplay -i snd0 --pps="$pps" "${files[@]}" > "$st/tcpreplay.log" 2>&1 || { cat "$st/tcpreplay.log" >&2; exit 1; }
sent=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' "$st/tcpreplay.log")
failed=$(sed -n 's/.*Failed packets: *\([0-9]*\).*/\1/p' "$st/tcpreplay.log")
rate=$(sed -n 's/^Rated: .*, \([0-9.]*\) pps.*/\1/p' "$st/tcpreplay.log")
secs=$(sed -n 's/^Actual: .* sent in \([0-9.]*\) seconds.*/\1/p' "$st/tcpreplay.log")
end_us=$(($(date +%s%N) / 1000))
# Flushed: a packet file opened after the replay ended was closed empty
# (stenotype idle for a whole file age), then stenographer's 15 s sync.
for ((w = 0; w < 1200; w++)); do
  done_=0
  for f in "$st/idx"/*; do
    n=$(basename "$f")
    [[ $n =~ ^[0-9]+$ ]] && ((n > end_us)) && [ -f "$st/pkt/$n" ] && [ ! -s "$st/pkt/$n" ] && done_=1 && break
  done
  [ $done_ = 1 ] && break
  sleep 0.5
done
[ $done_ = 1 ] || { echo "bench/steno.sh: stenotype did not go idle within 10 minutes" >&2; tail "$st/stenographer.log" >&2; exit 1; }
sleep 16
# stenotype's counters (packets it read, the kernel's drops), from its last
# statistics line.
read -r spk sdrop < <(sed -n 's/.*packets=\([0-9]*\) blocks=[0-9]* polls=[0-9]* drops=\([0-9]*\).*/\1 \2/p' "$st/stenographer.log" | tail -1)
sdata=$(du -cb "$st/pkt" | tail -1 | cut -f1)
sidx=$(du -cb "$st/idx" | tail -1 | cut -f1)
printf 'sent %d packets in %s s (%s packets/s), %d refused by the veth; stenotype counted %d packets, %d kernel drops\n' \
  "$sent" "$secs" "$rate" "${failed:-0}" "$spk" "$sdrop"
awk -v d="$sdata" -v i="$sidx" 'BEGIN { printf "stenographer data %.2f GB, index %.1f MB = %.2f%% of the data\n", d/1e9, i/1e6, (d > 0 ? 100*i/d : 0) }'

# The mamori side reads the same packets: the whole store, or, when only
# some files were replayed, the time range of those files.
window=()
if ((nfiles < $(ls "$store"/*.pcap | wc -l))); then
  last=$(tcpdump -r "${files[-1]}" --time-stamp-precision=nano -tt -nn 2>/dev/null | tail -1 | cut -d' ' -f1)
  window=(--to "$(date -u -d "@${last%.*}" +%Y-%m-%dT%H:%M:%S).${last#*.}Z")
  echo "(mamori queries limited to the replayed files: ${window[*]})"
fi

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
printf '\n%-44s %8s %8s | %9s %9s %6s | %9s %9s %6s | %s\n' "query" "mamori" "steno" "mamori" "steno" "ratio" "mamori" "steno" "ratio" "answers (a = mamori, b = stenographer, as multisets of frames)"
printf '%-44s %17s | %26s | %26s |\n' "" "packets" "wall ms (medians)" "CPU ms (medians)"
while IFS=$'\t' read -r name mexpr sexpr; do
  [ -n "$name" ] || continue
  rm -f "$st/q/m.t" "$st/q/s.t"
  for ((r = 0; r < runs; r++)); do
    rm -f "$st/q/m.pcap" "$st/q/s.pcap"
    /usr/bin/time -f '%e %U %S' -o "$st/q/t" "$MAMORI" pcap query -q --store "$store" --who bench-steno "${window[@]}" -w "$st/q/m.pcap" "$mexpr"
    awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$st/q/t" >> "$st/q/m.t"
    c0=$(cpu_of "$spid")
    /usr/bin/time -f '%e %U %S' -o "$st/q/t" ip netns exec "$ns" runuser -u stenographer -- curl -sS --fail \
      --cert "$st/certs/client_cert.pem" --key "$st/certs/client_key.pem" --cacert "$st/certs/ca_cert.pem" \
      --max-time 890 -d "$sexpr" -o "$st/q/s.pcap" https://127.0.0.1:9001/query
    c1=$(cpu_of "$spid")
    awk -v c="$(((c1 - c0) * 1000 / ticks))" '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 + c }' "$st/q/t" >> "$st/q/s.t"
  done
  mw=$(cut -d' ' -f1 "$st/q/m.t" | median); mc=$(cut -d' ' -f2 "$st/q/m.t" | median)
  sw=$(cut -d' ' -f1 "$st/q/s.t" | median); sc=$(cut -d' ' -f2 "$st/q/s.t" | median)
  cmp=$(go run bench/stenocmp.go "$st/q/m.pcap" "$st/q/s.pcap")
  read -r _ mp _ _ _ _ sp _ < <(tr -d '|' <<<"$cmp")
  verdict=$(sed -E 's/.*\| common [0-9]+ \| (.*)/\1/' <<<"$cmp")
  printf '%-44s %8d %8d | %9d %9d %5.1fx | %9d %9d %5.1fx | %s\n' "$name" "$mp" "$sp" "$mw" "$sw" \
    "$(awk -v a="$sw" -v b="$mw" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$mc" "$sc" \
    "$(awk -v a="$sc" -v b="$mc" 'BEGIN { print (b > 0 ? a / b : a) }')" "$verdict"
done < "$queries"
echo
echo "(ratio = stenographer / mamori; medians of $runs interleaved runs; stenographer's CPU is curl's plus its"
echo " server process's during the query; both read from the page cache; load average $(cut -d' ' -f1-3 /proc/loadavg))"
