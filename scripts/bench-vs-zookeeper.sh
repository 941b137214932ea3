#!/usr/bin/env bash
# bench-vs-zookeeper.sh — run the same `zabkit bench` workloads against
# zabkit built from this repository and against Debian's Apache ZooKeeper
# 3.8, one after the other on this machine, and print a side-by-side table
# with zabkit/zookeeper ratios (`zabkit bench -compare`).
#
# Standalone (default): each server runs alone on a random loopback port
# with a fresh data directory and the same zoo.cfg (forceSync=yes,
# maxClientCnxns=0). With --ensemble, each runs as a 3-member ensemble on
# loopback (same zoo.cfg plus initLimit/syncLimit and server.N lines, data
# directories side by side on the same disk); the clients of a workload
# are spread round-robin over the members. Parts:
#
#   throughput  set, create, get with --clients sessions (default 64)
#   latency     set with a single client (p50/p99 of one request at a time)
#   memory      standalone only: load --znodes znodes (default 1M) of
#               --value-size bytes, sample RSS, restart the server and time
#               process start -> first successful getData, sample RSS again
#   failover    ensemble only, --trials times: kill -9 the leader and time
#               the first write a survivor acknowledges (`zabkit bench
#               -failover-pid`: probe sessions on both survivors connected
#               before the kill, writing every 5 ms and redialling at once
#               when their member drops them; background writers on all
#               members); restart the killed member, wait until it serves
#
# Usage: scripts/bench-vs-zookeeper.sh [options]
#   --ensemble           3-member ensembles; parts throughput,latency,failover
#   --quick              smoke run: 1 s per workload, no warm-up, 20k znodes,
#                        3 failover trials
#   --duration D         measured time per workload (default 10s)
#   --warmup D           unmeasured warm-up per workload (default 2s)
#   --prewarm D          unmeasured set, create and get for D each, once
#                        after start, so the JVM has compiled ZooKeeper's hot
#                        paths before the first measurement (default 5s with
#                        --ensemble, 0s standalone)
#   --clients N          sessions for the throughput part (default 64)
#   --value-size N       bytes per znode value (default 100)
#   --znodes N           znodes for the memory part (default 1000000)
#   --trials N           failover trials per round and target (default 20)
#   --rounds N           repeat everything N times, alternating which target
#                        goes first; the table shows median (min-max)
#   --parts LIST         comma list of the parts above
#   --targets LIST       comma list of zabkit,zookeeper (default both)
#   --tick-time MS       tickTime (default 2000); with --ensemble also
#   --init-limit N       initLimit (default 10) and
#   --sync-limit N       syncLimit (default 5)
#   --zabkit-bin PATH    use this zabkit binary instead of building one
#   --cpuprofile DIR     zabkit servers write CPU profiles here (on SIGTERM;
#                        a member killed by the failover part writes none)
#   --out DIR            keep JSON results and server logs here
#   --zk-heap SIZE       ZooKeeper -Xmx (default 2g)
#
# Requires: go (unless --zabkit-bin), java + Debian's zookeeper package,
# python3 (to pick free ports). Every process it starts is stopped on exit.
set -euo pipefail

MODE=standalone
DURATION=10s
WARMUP=2s
PREWARM=
CLIENTS=64
VALUE_SIZE=100
ZNODES=1000000
TRIALS=20
ROUNDS=1
PARTS=
TARGETS=zabkit,zookeeper
TICK_TIME=2000
INIT_LIMIT=10
SYNC_LIMIT=5
MEMBERS=3
ZABKIT_BIN=
PROFILE_DIR=
OUT=
ZK_HEAP=2g
ZK_CP=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
	case "$1" in
	--ensemble) MODE=ensemble; shift ;;
	--quick) DURATION=1s WARMUP=0s PREWARM=0s ZNODES=20000 TRIALS=3; shift ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--prewarm) PREWARM=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--value-size) VALUE_SIZE=$2; shift 2 ;;
	--znodes) ZNODES=$2; shift 2 ;;
	--trials) TRIALS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--parts) PARTS=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	--tick-time) TICK_TIME=$2; shift 2 ;;
	--init-limit) INIT_LIMIT=$2; shift 2 ;;
	--sync-limit) SYNC_LIMIT=$2; shift 2 ;;
	--zabkit-bin) ZABKIT_BIN=$2; shift 2 ;;
	--cpuprofile) PROFILE_DIR=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--zk-heap) ZK_HEAP=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
done

has() { [[ ",$1," == *",$2,"* ]]; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

if [[ $MODE == ensemble ]]; then
	PREWARM=${PREWARM:-5s}
	PARTS=${PARTS:-throughput,latency,failover}
	has "$PARTS" memory && { echo "--parts memory is standalone only" >&2; exit 2; }
else
	PREWARM=${PREWARM:-0s}
	PARTS=${PARTS:-throughput,latency,memory}
	has "$PARTS" failover && { echo "--parts failover needs --ensemble" >&2; exit 2; }
	MEMBERS=1
fi

WORK=$(mktemp -d /tmp/bench-vs-zk.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT"
[[ -z $PROFILE_DIR ]] || mkdir -p "$PROFILE_DIR"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3

# Member i (0-based) of the running target: its pid (empty once stopped),
# config, log, client address.
MEMBER_PID=()
MEMBER_CFG=()
MEMBER_LOG=()
ADDR=()
STARTS=0 # processes started, to name CPU profiles

cleanup() {
	local rc=$?
	stop_all
	rm -rf "$WORK/data-"* 2>/dev/null || true
	[[ $OUT == "$WORK/results" ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# gone PID SECONDS: wait until process PID has ended (members are disowned,
# so this polls; the shell still reaps them); false if it has not.
gone() {
	local n=$(($2 * 20))
	while ((n-- > 0)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	! kill -0 "$1" 2>/dev/null
}

# stop_member I: SIGTERM, SIGKILL after 30 s.
stop_member() {
	local pid=${MEMBER_PID[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
	gone "$pid" 10 || echo "pid $pid outlived SIGKILL" >&2
	MEMBER_PID[$1]=
}

stop_all() {
	local i
	for i in "${!MEMBER_PID[@]}"; do stop_member "$i"; done
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

bench() { "$ZABKIT_BIN" bench "$@"; }

# start_member TARGET I: launch member I in the background.
start_member() {
	local target=$1 i=$2
	case "$target" in
	zookeeper)
		local main=org.apache.zookeeper.server.ZooKeeperServerMain
		[[ $MODE == ensemble ]] && main=org.apache.zookeeper.server.quorum.QuorumPeerMain
		java "-Xmx$ZK_HEAP" -cp "$ZK_CP" "$main" "${MEMBER_CFG[$i]}" >>"${MEMBER_LOG[$i]}" 2>&1 &
		;;
	zabkit)
		STARTS=$((STARTS + 1))
		local prof=
		[[ -z $PROFILE_DIR ]] || prof=$PROFILE_DIR/zabkit-$MODE-member$((i + 1))-$STARTS.prof
		ZABKIT_CPUPROFILE=$prof "$ZABKIT_BIN" server --config "${MEMBER_CFG[$i]}" >>"${MEMBER_LOG[$i]}" 2>&1 &
		;;
	esac
	MEMBER_PID[$i]=$!
	# Disowned, so a member the failover part kills is not announced as a
	# "Killed" job in the middle of the output.
	disown "$!"
}

# wait_ready I PATH SINCE_NS OUTFILE: block until getData(PATH) succeeds
# on member I; OUTFILE gets the time taken and the member's RSS.
wait_ready() {
	local i=$1
	if ! bench -server "${ADDR[$i]}" -wait-read "$2" -since "$3" -timeout 600s -pid "${MEMBER_PID[$i]}" -json -o "$4" >/dev/null; then
		echo "member $((i + 1)) at ${ADDR[$i]} never served a read of $2; log tail:" >&2
		tail -20 "${MEMBER_LOG[$i]}" >&2
		exit 1
	fi
}

# mode_of ADDR: the "Mode:" line of srvr (leader, follower, standalone),
# empty if the server does not answer.
mode_of() {
	local host=${1%:*} port=${1##*:}
	{
		exec 3<>"/dev/tcp/$host/$port" && printf srvr >&3 && timeout 2 cat <&3
		exec 3>&-
	} 2>/dev/null | sed -n 's/^Mode: //p' || true
}

# wait_quorum: block until every member serves, one as leader; set LEADER.
wait_quorum() {
	local deadline=$((SECONDS + 120)) i m leaders
	while ((SECONDS < deadline)); do
		leaders=() LEADER=
		for i in "${!ADDR[@]}"; do
			m=$(mode_of "${ADDR[$i]}")
			case "$m" in
			leader) leaders+=("$i") ;;
			follower) ;;
			*) leaders=(x x); break ;;
			esac
		done
		if [[ ${#leaders[@]} -eq 1 ]]; then
			LEADER=${leaders[0]}
			return 0
		fi
		sleep 0.05
	done
	echo "no settled quorum within 120 s; log tails:" >&2
	for i in "${!ADDR[@]}"; do tail -5 "${MEMBER_LOG[$i]}" >&2; done
	exit 1
}

# setup_target TARGET DIR: fresh data directories and zoo.cfg files for
# MEMBERS members, the logs in DIR.
setup_target() {
	local target=$1 dir=$2 i j
	local -a client quorum election
	for ((i = 0; i < MEMBERS; i++)); do
		client[i]=$(free_port) quorum[i]=$(free_port) election[i]=$(free_port)
	done
	MEMBER_PID=() MEMBER_CFG=() MEMBER_LOG=() ADDR=()
	for ((i = 0; i < MEMBERS; i++)); do
		local data=$WORK/data-$target-$((i + 1))
		rm -rf "$data"
		mkdir -p "$data"
		MEMBER_CFG[i]=$WORK/$target-$((i + 1)).cfg
		MEMBER_LOG[i]=$dir/$target-member$((i + 1)).log
		[[ $MODE == ensemble ]] || MEMBER_LOG[i]=$dir/$target.log
		ADDR[i]=127.0.0.1:${client[i]}
		: >"${MEMBER_LOG[i]}"
		cat >"${MEMBER_CFG[i]}" <<-CFG
			tickTime=$TICK_TIME
			dataDir=$data
			clientPort=${client[i]}
			clientPortAddress=127.0.0.1
			maxClientCnxns=0
			forceSync=yes
			4lw.commands.whitelist=*
			admin.enableServer=false
		CFG
		if [[ $MODE == ensemble ]]; then
			echo "$((i + 1))" >"$data/myid"
			{
				echo "initLimit=$INIT_LIMIT"
				echo "syncLimit=$SYNC_LIMIT"
				for ((j = 0; j < MEMBERS; j++)); do
					echo "server.$((j + 1))=127.0.0.1:${quorum[j]}:${election[j]};127.0.0.1:${client[j]}"
				done
			} >>"${MEMBER_CFG[i]}"
		fi
	done
}

# failover_trials TARGET DIR: the failover part.
failover_trials() {
	local target=$1 dir=$2 trial pid out i all
	all=$(IFS=,; echo "${ADDR[*]}")
	for ((trial = 1; trial <= TRIALS; trial++)); do
		wait_quorum
		local survivors=()
		for i in "${!ADDR[@]}"; do
			[[ $i == "$LEADER" ]] || survivors+=("${ADDR[$i]}")
		done
		pid=${MEMBER_PID[$LEADER]}
		out=$dir/$target-failover.t$trial.json
		bench -failover-pid "$pid" -server "$(IFS=,; echo "${survivors[*]}")" -writers "$all" \
			-warmup 1s -timeout 60s -json -o "$out" >/dev/null || true
		if ! gone "$pid" 10; then
			echo "$target trial $trial: the leader (pid $pid) was not killed; see $out" >&2
			exit 1
		fi
		log "$target: trial $trial: killed leader member $((LEADER + 1)); $(grep -Eo '"(ms|error)": [^,]*' "$out" | head -1)"
		start_member "$target" "$LEADER"
		wait_ready "$LEADER" / "$(date +%s%N)" "$dir/$target-rejoin.tmp"
	done
	rm -f "$dir/$target-rejoin.tmp"
}

run_target() {
	local target=$1 dir=$2 i
	LEADER=
	setup_target "$target" "$dir"
	log "$target: starting $MEMBERS member(s) on ${ADDR[*]}"
	local t0
	t0=$(date +%s%N)
	for i in "${!ADDR[@]}"; do start_member "$target" "$i"; done
	for i in "${!ADDR[@]}"; do
		local ready=$dir/$target-startup.json
		[[ $MODE == ensemble ]] && ready=$dir/$target-ready$((i + 1)).tmp
		wait_ready "$i" / "$t0" "$ready"
	done
	rm -f "$dir/$target-ready"*.tmp
	[[ $MODE == ensemble ]] && wait_quorum

	# The leader goes last, so the single client of the latency part talks
	# to a follower (its writes are forwarded), as most clients of an
	# ensemble do; the 64 clients are spread round-robin over all members.
	local order=() connect leader=${LEADER:-}
	for i in "${!ADDR[@]}"; do
		[[ $i == "$leader" ]] || order+=("${ADDR[$i]}")
	done
	[[ -z $leader ]] || order+=("${ADDR[$leader]}")
	connect=$(IFS=,; echo "${order[*]}")
	local common=(-server "$connect" -duration "$DURATION" -warmup "$WARMUP" -value-size "$VALUE_SIZE" -znodes 1000 -json)
	if [[ ! $PREWARM =~ ^0+[a-z]*$ ]]; then
		log "$target: set, create, get for $PREWARM each, unmeasured (JIT warm-up)"
		for wl in set create get; do
			bench "${common[@]}" -workload "$wl" -clients "$CLIENTS" -duration "$PREWARM" -warmup 0s >/dev/null
		done
	fi
	if has "$PARTS" throughput; then
		for wl in set create get; do
			log "$target: $wl x $CLIENTS clients"
			bench "${common[@]}" -workload "$wl" -clients "$CLIENTS" -o "$dir/$target-$wl-$CLIENTS.json" >/dev/null
		done
	fi
	if has "$PARTS" latency; then
		log "$target: set x 1 client"
		bench "${common[@]}" -workload set -clients 1 -o "$dir/$target-set-1.json" >/dev/null
	fi
	if has "$PARTS" memory; then
		log "$target: loading $ZNODES znodes"
		bench -server "${ADDR[0]}" -load-znodes "$ZNODES" -root /zabkit-load -value-size "$VALUE_SIZE" \
			-pid "${MEMBER_PID[0]}" -json -o "$dir/$target-load.json" >/dev/null
		log "$target: restarting with $ZNODES znodes"
		stop_member 0
		t0=$(date +%s%N)
		start_member "$target" 0
		wait_ready 0 /zabkit-load/b00000/n0000000 "$t0" "$dir/$target-restart.json"
	fi
	if has "$PARTS" failover; then
		log "$target: $TRIALS failover trials"
		failover_trials "$target" "$dir"
	fi
	stop_all
	rm -rf "$WORK/data-$target-"*
}

IFS=, read -ra TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
	case "$t" in
	zabkit | zookeeper) ;;
	*) echo "unknown target $t" >&2; exit 2 ;;
	esac
done
for ((round = 1; round <= ROUNDS; round++)); do
	dir=$OUT
	((ROUNDS == 1)) || dir=$OUT/r$round
	mkdir -p "$dir"
	order=("${TARGET_LIST[@]}")
	if ((round % 2 == 0)); then # every other round the other target first
		order=()
		for ((k = ${#TARGET_LIST[@]} - 1; k >= 0; k--)); do order+=("${TARGET_LIST[k]}"); done
	fi
	for t in "${order[@]}"; do
		((ROUNDS == 1)) || log "round $round/$ROUNDS: $t"
		run_target "$t" "$dir"
	done
done

echo "$MODE, $MEMBERS member(s) per target, tickTime=$TICK_TIME, forceSync=yes"
bench -compare "$OUT"
echo
echo "JSON results and server logs: $OUT"
