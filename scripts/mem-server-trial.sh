#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Memory control on a stock server: three VMs running Debian's redis server
# (images/xml/mem-redis.xml) share a guest memory budget, loaded by
# redis-benchmark from the host (GETs at random over the whole data set).
# Nothing here was written for Wave: the server holds what its clients
# store, and the policy sees it only through the balloon statistics.
# Phases, per mode:
#   skew   VM a holds DATA MiB (written by scripts/redis-fill.lua), b and c
#          hold nothing; a is read for SECONDS
#   shift  a is emptied (FLUSHALL), b is filled with DATA MiB and read
# Modes (fresh VMs for each):
#   static   each balloon set to a third of the budget, never changed
#   offload  the memory policy (balloon) in wave-agent
#   onhost   the same policy in waved
# Prints per mode and phase: GETs/s, how long the fill took, the balloons
# at the end, what the loaded VM swapped in while it was read (MiB), the
# server still up, OOM kills;
# then offload / static per phase. Everything it starts is stopped and
# removed at the end, on Ctrl-C and on failure. Needs root.
# Usage: scripts/mem-server-trial.sh [MODES [DATA_MIB [SECONDS [BUDGET_MIB]]]]
#   MODES: comma-separated, default static,offload,onhost
set -u
modes=${1:-static,offload,onhost}
data=${2:-300}
secs=${3:-30}
budget=${4:-768}
warm=10
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
export WAVE_RUNDIR=/tmp/wave-mem-trial-$$
chan="shm:wave-mem-trial-$$"
p="mtrial$$"
names="$p-a $p-b $p-c"
waved_pid=""
agent_pid=""
keys=$((data * 247)) # a key and its 4000-byte value take 4.2 KiB in redis
results=$(mktemp)

trial=mem-server-trial
. "$here/scripts/trial-lib.sh"

stop_vms() {
	"$bin/wavectl" stop $names >/dev/null 2>&1
}

cleanup() {
	trap - EXIT INT TERM
	say "stopping and removing what was started"
	stop_daemons
	stop_vms
	trial_host_down
	rm -rf "$WAVE_RUNDIR" "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v redis-benchmark >/dev/null || { say "redis-benchmark missing: run 'make deps'"; exit 1; }
[ -f "$here/build/images/initramfs-redis.img" ] ||
	{ say "no redis guest image: run 'make deps images'"; exit 1; }
trial_host_up waved redis-benchmark redis-cli || exit 1

declare -A ip
launch_vms() {
	for v in a b c; do
		out=$("$bin/wavectl" launch "$here/images/xml/mem-redis.xml" --name "$p-$v") || return 1
		ip[$v]=$(echo "$out" | awk '/address/ { print $2 }')
	done
	for v in a b c; do
		for i in $(seq 1 60); do
			redis-cli -h "${ip[$v]}" ping 2>/dev/null | grep -q PONG && break
			sleep 1
		done
		redis-cli -h "${ip[$v]}" ping 2>/dev/null | grep -q PONG ||
			{ say "the server in $p-$v (${ip[$v]}) does not answer"; return 1; }
	done
}

start_mode() {
	case "$1" in
	static)
		for v in a b c; do
			virsh setmem "$p-$v" "$((budget / 3))M" --live >/dev/null || return 1
		done
		;;
	offload)
		run_daemon "$WAVE_RUNDIR/waved.log" "$bin/waved" --mode offload --policy cfs \
			--mem-budget "$budget" --match "$p-" --channel "$chan"
		waved_pid=$!
		sleep 0.5
		run_daemon "$WAVE_RUNDIR/agent.log" "$bin/wave-agent" --channel "$chan" --policy cfs \
			--mem-policy balloon --report-s 0 --reserve "$agent_reserve"
		agent_pid=$!
		;;
	onhost)
		run_daemon "$WAVE_RUNDIR/waved.log" "$bin/waved" --mode onhost --policy cfs \
			--mem-policy balloon --mem-budget "$budget" --match "$p-"
		waved_pid=$!
		;;
	*) say "unknown mode $1 (static, offload, onhost)"; return 1 ;;
	esac
	sleep 3
}

balloons() {
	for v in a b c; do
		virsh dommemstat "$p-$v" 2>/dev/null | awk '$1 == "actual" { printf "%d ", $2 / 1024 }'
	done
}

# KiB the guest swapped in so far (0 if it does not answer).
swap_in() { virsh dommemstat "$1" 2>/dev/null | awk '$1 == "swap_in" { k = $2 } END { print k + 0 }'; }

hits() { # v: GETs served that found their key, so far
	redis-cli -h "${ip[$1]}" info stats 2>/dev/null | tr -d '\r' |
		awk -F: '$1 == "keyspace_hits" { print $2 }' | grep . || echo 0
}

# GETs/s over SECONDS on VM v, after a warm-up: the server's own count of
# hits over the wall time (redis-benchmark -l restarts its figures every
# batch of requests).
load() { # v
	local h0 h1 t0 t1
	timeout "$warm" redis-benchmark -h "${ip[$1]}" -t get -r "$keys" -l -c 8 -q >/dev/null 2>&1
	h0=$(hits "$1")
	t0=$(date +%s.%N)
	timeout "$secs" redis-benchmark -h "${ip[$1]}" -t get -r "$keys" -l -c 8 -q >/dev/null 2>&1
	h1=$(hits "$1")
	t1=$(date +%s.%N)
	awk -v a="$h0" -v b="$h1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f\n", (b - a) / (e - s) }'
}

phase() { # mode name v
	local t0 t1 s0 rps up
	t0=$(date +%s.%N)
	redis-cli -h "${ip[$3]}" --eval "$here/scripts/redis-fill.lua" , "$keys" 7 >/dev/null ||
		say "$1 $2: the fill of $p-$3 failed"
	t1=$(date +%s.%N)
	s0=$(swap_in "$p-$3")
	rps=$(load "$3")
	up=$(redis-cli -h "${ip[$3]}" ping 2>/dev/null | grep -c PONG)
	printf '%-8s %-6s %9.0f %7.1f   %-14s %9d %3s\n' "$1" "$2" "$rps" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(balloons)" "$(( ($(swap_in "$p-$3") - s0) / 1024 ))" \
		"$([ "$up" = 1 ] && echo yes || echo NO)" | tee -a "$results"
	[ "$up" = 1 ] || grep -ahiE "out of memory|oom-kill|WAVE-EXIT" \
		"$WAVE_RUNDIR/console/$p-$3.log" 2>/dev/null | tail -n 3 | sed "s/^/  $p-$3: /"
}

say "$data MiB per loaded server ($keys keys), budget $budget MiB, ${secs}s per phase (after ${warm}s)"
printf '%-8s %-6s %9s %7s   %-14s %9s %3s\n' mode phase "GETs/s" "fill_s" "balloons_MiB" \
	swapin_MiB up
for m in ${modes//,/ }; do
	say "$m: fresh VMs"
	launch_vms || exit 1
	start_mode "$m" || exit 1
	phase "$m" skew a
	redis-cli -h "${ip[a]}" flushall >/dev/null
	phase "$m" shift b
	stop_daemons
	say "$m: $(cat "$WAVE_RUNDIR"/console/$p-*.log 2>/dev/null | grep -ac "Out of memory") OOM kills in the guests"
	stop_vms
done

# offload / static per phase, from the table.
awk '{ rps[$1 "," $2] = $3 }
END {
	for (ph in rps) { split(ph, k, ","); phases[k[2]] = 1 }
	for (f in phases)
		if (("static," f) in rps && ("offload," f) in rps)
			if (rps["static," f] > 0)
				printf "%s: offload / static GETs/s = %.2f\n", f, rps["offload," f] / rps["static," f]
			else
				printf "%s: offload %.0f GETs/s, static 0 (its server was down)\n", f, rps["offload," f]
	for (f in phases)
		if (rps["onhost," f] > 0 && ("offload," f) in rps)
			printf "%s: offload / onhost GETs/s = %.2f\n", f, rps["offload," f] / rps["onhost," f]
}' "$results"
