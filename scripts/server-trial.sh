#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A stock server under Wave: busybox httpd in the latency VM, serving a CGI
# that spends CPU per request (images/xml/latency-httpd.xml), loaded by wrk
# from the host (closed loop), with two batch VMs spinning. Three modes,
# interleaved over the runs on the same VMs:
#   cfs      waved --mode observe: Linux alone
#   offload  wave-agent (latency policy), the VMs' traffic counted
#   nonet    the same, traffic not counted (waved --net-observe none):
#            the policy sees CPU only
# Prints per mode and run: requests/s, latency p50/p90/p99 (wrk), the
# policy's demotions of the server VM, waved's fallbacks (the agent lost),
# and the CPU of waved and wave-agent (both at SCHED_FIFO, as the
# benchmarks run them).
# Everything it starts is stopped and removed at the end, on Ctrl-C and on
# failure. Needs root (libvirt, BPF, scheduling classes).
# Usage: scripts/server-trial.sh [RUNS [SECONDS [CONNECTIONS [TURNS]]]]
#   TURNS: the CGI's loop turns per request (its CPU cost), default 300.
set -u
runs=${1:-3}
secs=${2:-20}
conns=${3:-4}
turns=${4:-300}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
export WAVE_RUNDIR=/tmp/wave-server-trial-$$
chan="shm:wave-trial-$$"
p="trial$$"
names="$p-lat $p-bat1 $p-bat2"
waved_pid=""
agent_pid=""
out=$(mktemp)

trial=server-trial
. "$here/scripts/trial-lib.sh"

cleanup() {
	trap - EXIT INT TERM
	say "stopping and removing what was started"
	stop_daemons
	"$bin/wavectl" stop $names >/dev/null 2>&1
	trial_host_down
	rm -rf "$WAVE_RUNDIR" "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

trial_host_up waved wrk curl || exit 1
say "launching the server VM and two batch VMs"
"$bin/wavectl" launch "$here/images/xml/latency-httpd.xml" --name "$p-lat" > "$out" || exit 1
ip=$(awk '/address/ { print $2 }' "$out")
for b in bat1 bat2; do
	"$bin/wavectl" launch "$here/images/xml/batch-spin.xml" --name "$p-$b" >/dev/null || exit 1
done
for i in $(seq 1 120); do
	curl -s -m 2 "http://$ip/" >/dev/null && break
	sleep 1
done
curl -s -m 5 "http://$ip/" >/dev/null || { say "the server at $ip does not answer"; exit 1; }

# The latency VM's demotions and waved's fallbacks so far, from its status.
counts() {
	"$bin/wavectl" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([v.get("demotions", 0) for v in d["vms"] if v["class"] == "latency"][0],
      d["stats"].get("fallbacks", 0))'
}

# CPU time (clock ticks) of PID so far; 0 without one.
ticks() {
	[ -n "$1" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

start_mode() {
	case "$1" in
	cfs)
		run_daemon "$WAVE_RUNDIR/waved.log" "$bin/waved" --mode observe --match "$p-"
		waved_pid=$! ;;
	offload|nonet)
		local extra=""
		[ "$1" = nonet ] && extra="--net-observe none"
		run_daemon "$WAVE_RUNDIR/waved.log" "$bin/waved" --mode offload --policy latency \
			--match "$p-" --channel "$chan" $extra
		waved_pid=$!
		run_daemon "$WAVE_RUNDIR/agent.log" "$bin/wave-agent" --channel "$chan" \
			--policy latency --report-s 0 --reserve "$agent_reserve"
		agent_pid=$! ;;
	esac
	sleep 5   # attached, and the policy settled on the idle server
}

printf '%-8s %4s %8s %9s %9s %9s %9s %9s %8s %8s\n' mode run "req/s" "p50 ms" "p90 ms" \
	"p99 ms" demotions fallbacks "waved%" "agent%"
modes="cfs offload nonet"
for run in $(seq 1 "$runs"); do
	for mode in $modes; do
		say "run $run/$runs: $mode"
		start_mode "$mode"
		read -r d0 f0 <<< "$(counts)"
		w0=$(ticks "$waved_pid")
		a0=$(ticks "$agent_pid")
		wrk -t 2 -c "$conns" -d "${secs}s" --latency "http://$ip/cgi-bin/work?$turns" > "$out" 2>&1
		w1=$(ticks "$waved_pid")
		a1=$(ticks "$agent_pid")
		read -r d1 f1 <<< "$(counts)"
		ms() { trial_ms "$1" "$out"; }
		pct() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v s="$secs" \
			'BEGIN { printf "%.2f", t / hz / s * 100 }'; }
		printf '%-8s %4s %8s %9s %9s %9s %9s %9s %8s %8s\n' "$mode" "$run" \
			"$(awk '/Requests\/sec/ { print $2 }' "$out")" "$(ms 50%)" "$(ms 90%)" "$(ms 99%)" \
			"$((d1 - d0))" "$((f1 - f0))" "$(pct $((w1 - w0)))" \
			"$([ -n "$agent_pid" ] && pct $((a1 - a0)) || echo -)"
		stop_daemons
	done
	modes="$(echo $modes | awk '{ print $2, $3, $1 }')"   # the order rotates each run
done
