#!/usr/bin/env bash
# bench-vs-zookeeper.sh — run the same `zabkit bench` workloads against a
# zabkit server built from this repository and against Debian's Apache
# ZooKeeper 3.8, one after the other on this machine, and print a
# side-by-side table with zabkit/zookeeper ratios.
#
# Both servers run standalone on a random loopback port with a fresh data
# directory and the same zoo.cfg (forceSync=yes, maxClientCnxns=0). Parts:
#
#   throughput  set, create, get with --clients sessions (default 64)
#   latency     set with a single client (p50/p99 of one request at a time)
#   memory      load --znodes znodes (default 1M) of --value-size bytes,
#               sample RSS, restart the server and time process start ->
#               first successful getData, sample RSS again
#
# Usage: scripts/bench-vs-zookeeper.sh [options]
#   --quick              smoke run: 1 s per workload, no warm-up, 20k znodes
#   --duration D         measured time per workload (default 10s)
#   --warmup D           unmeasured warm-up per workload (default 2s)
#   --clients N          sessions for the throughput part (default 64)
#   --value-size N       bytes per znode value (default 100)
#   --znodes N           znodes for the memory part (default 1000000)
#   --parts LIST         comma list of throughput,latency,memory (default all)
#   --targets LIST       comma list of zabkit,zookeeper (default both)
#   --zabkit-bin PATH    use this zabkit binary instead of building one
#   --out DIR            keep JSON results and server logs here
#   --zk-heap SIZE       ZooKeeper -Xmx (default 2g)
#
# Requires: go (unless --zabkit-bin), java + Debian's zookeeper package,
# python3 (for the table). Every process it starts is stopped on exit.
set -euo pipefail

DURATION=10s
WARMUP=2s
CLIENTS=64
VALUE_SIZE=100
ZNODES=1000000
PARTS=throughput,latency,memory
TARGETS=zabkit,zookeeper
ZABKIT_BIN=
OUT=
ZK_HEAP=2g
ZK_CP=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
	case "$1" in
	--quick) DURATION=1s WARMUP=0s ZNODES=20000; shift ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--value-size) VALUE_SIZE=$2; shift 2 ;;
	--znodes) ZNODES=$2; shift 2 ;;
	--parts) PARTS=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	--zabkit-bin) ZABKIT_BIN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--zk-heap) ZK_HEAP=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
done

has() { [[ ",$1," == *",$2,"* ]]; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

WORK=$(mktemp -d /tmp/bench-vs-zk.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3

# Processes this script started, stopped on any exit.
SERVER_PID=
cleanup() {
	local rc=$?
	stop_server
	rm -rf "$WORK/data-"* 2>/dev/null || true
	[[ $OUT == "$WORK/results" ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 300); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

if [[ -z $ZABKIT_BIN ]]; then
	ROOT=$(cd "$(dirname "$0")/.." && pwd)
	ZABKIT_BIN=$WORK/zabkit
	log "building zabkit from $ROOT"
	(cd "$ROOT" && go build -o "$ZABKIT_BIN" ./cmd/zabkit)
fi
[[ -x $ZABKIT_BIN ]] || { echo "no zabkit binary at $ZABKIT_BIN" >&2; exit 1; }

# start_server TARGET CFG LOG: launch in the background, set SERVER_PID.
start_server() {
	local target=$1 cfg=$2 logf=$3
	case "$target" in
	zookeeper)
		java "-Xmx$ZK_HEAP" -cp "$ZK_CP" org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" >>"$logf" 2>&1 &
		;;
	zabkit)
		"$ZABKIT_BIN" server --config "$cfg" >>"$logf" 2>&1 &
		;;
	esac
	SERVER_PID=$!
}

bench() { "$ZABKIT_BIN" bench "$@"; }

# wait_ready ADDR PATH SINCE_NS OUTFILE: block until getData(PATH) succeeds.
wait_ready() {
	if ! bench -server "$1" -wait-read "$2" -since "$3" -timeout 600s -pid "$SERVER_PID" -json -o "$4" >/dev/null; then
		echo "server at $1 never served a read of $2; log tail:" >&2
		tail -20 "$LOGF" >&2
		exit 1
	fi
}

run_target() {
	local target=$1
	local port dir cfg addr
	port=$(free_port)
	dir=$WORK/data-$target
	mkdir -p "$dir"
	cfg=$WORK/$target.cfg
	LOGF=$OUT/$target.log
	: >"$LOGF"
	cat >"$cfg" <<-EOF
		tickTime=2000
		dataDir=$dir
		clientPort=$port
		clientPortAddress=127.0.0.1
		maxClientCnxns=0
		forceSync=yes
		4lw.commands.whitelist=*
		admin.enableServer=false
	EOF
	addr=127.0.0.1:$port
	log "$target: starting on $addr"
	start_server "$target" "$cfg" "$LOGF"
	wait_ready "$addr" / "$(date +%s%N)" "$OUT/$target-startup.json"

	local common=(-server "$addr" -duration "$DURATION" -warmup "$WARMUP" -value-size "$VALUE_SIZE" -znodes 1000 -json)
	if has "$PARTS" throughput; then
		for wl in set create get; do
			log "$target: $wl x $CLIENTS clients"
			bench "${common[@]}" -workload "$wl" -clients "$CLIENTS" -o "$OUT/$target-$wl-$CLIENTS.json" >/dev/null
		done
	fi
	if has "$PARTS" latency; then
		log "$target: set x 1 client"
		bench "${common[@]}" -workload set -clients 1 -o "$OUT/$target-set-1.json" >/dev/null
	fi
	if has "$PARTS" memory; then
		log "$target: loading $ZNODES znodes"
		bench -server "$addr" -load-znodes "$ZNODES" -root /zabkit-load -value-size "$VALUE_SIZE" \
			-pid "$SERVER_PID" -json -o "$OUT/$target-load.json" >/dev/null
		log "$target: restarting with $ZNODES znodes"
		stop_server
		local t0
		t0=$(date +%s%N)
		start_server "$target" "$cfg" "$LOGF"
		wait_ready "$addr" /zabkit-load/b00000/n0000000 "$t0" "$OUT/$target-restart.json"
	fi
	stop_server
	rm -rf "$dir"
}

IFS=, read -ra TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
	case "$t" in
	zabkit | zookeeper) run_target "$t" ;;
	*) echo "unknown target $t" >&2; exit 2 ;;
	esac
done

$PY - "$OUT" "$CLIENTS" "$ZNODES" <<'PYEOF'
import json, os, sys

out, clients, znodes = sys.argv[1], sys.argv[2], int(sys.argv[3])

def load(target, name):
    p = os.path.join(out, f"{target}-{name}.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)

def result(target, name):
    d = load(target, name)
    return d["results"][0] if d and d.get("results") else None

rows = []  # (label, zabkit value, zookeeper value, higher_is_better)
def add(label, get, higher):
    vals = []
    for t in ("zabkit", "zookeeper"):
        try:
            vals.append(get(t))
        except (TypeError, KeyError):
            vals.append(None)
    if any(v is not None for v in vals):
        rows.append((label, vals[0], vals[1], higher))

for wl in ("set", "create", "get"):
    n = f"{wl}-{clients}"
    add(f"{wl} {clients}c ops/s", lambda t: result(t, n)["ops_per_sec"], True)
    add(f"{wl} {clients}c p50 us", lambda t: result(t, n)["latency_us"]["p50"], False)
    add(f"{wl} {clients}c p99 us", lambda t: result(t, n)["latency_us"]["p99"], False)
    add(f"{wl} {clients}c errors", lambda t: result(t, n)["errors"], False)
add("set 1c ops/s", lambda t: result(t, "set-1")["ops_per_sec"], True)
add("set 1c p50 us", lambda t: result(t, "set-1")["latency_us"]["p50"], False)
add("set 1c p99 us", lambda t: result(t, "set-1")["latency_us"]["p99"], False)
add("idle RSS MiB", lambda t: load(t, "startup")["server_rss_kb"] / 1024, False)
add(f"load {znodes} znodes creates/s", lambda t: load(t, "load")["load"]["ops_per_sec"], True)
add(f"RSS with {znodes} znodes MiB", lambda t: load(t, "load")["server_rss_kb"] / 1024, False)
add(f"restart-to-first-read ms", lambda t: load(t, "restart")["ready_ms"], False)
add(f"RSS after restart MiB", lambda t: load(t, "restart")["server_rss_kb"] / 1024, False)

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"

w = max(len(r[0]) for r in rows) if rows else 10
print(f"{'metric':<{w}}  {'zabkit':>14}  {'zookeeper':>14}  {'zabkit/zk':>9}  better")
for label, z, k, higher in rows:
    ratio, better = "-", ""
    if z is not None and k is not None and k != 0:
        ratio = f"{z / k:.2f}"
        if z != k:
            better = "zabkit" if (z > k) == higher else "zookeeper"
    print(f"{label:<{w}}  {fmt(z):>14}  {fmt(k):>14}  {ratio:>9}  {better}")
print(f"\nJSON results and server logs: {out}")
PYEOF
