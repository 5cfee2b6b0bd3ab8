#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The VMs' network through wave-switch against the kernel bridge: the same
# stock server (busybox httpd in images/xml/latency-httpd.xml, a CGI that
# spends CPU per request) loaded by wrk from the host, once on the bridge
# (a tap, Linux alone) and once on the switch (vhost-user, DPDK), launched
# one after the other, alternating over the runs. Prints per path and run:
# requests/s, latency p50/p99 (wrk), and wave-switch's CPU (its main
# thread, from schedstat) while loaded and while idle.
# Everything it starts is stopped and removed at the end, on Ctrl-C and on
# failure. Needs root.
# Usage: scripts/switch-trial.sh [RUNS [SECONDS [CONNECTIONS [TURNS]]]]
#   WAVE_POLL_IDLE=US: the switch's poll window (wave-switch --poll-idle)
set -u
runs=${1:-2}
secs=${2:-15}
conns=${3:-4}
turns=${4:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
export WAVE_RUNDIR=/tmp/wave-switch-trial-$$
vm="strial$$"
out=$(mktemp)

trial=switch-trial
. "$here/scripts/trial-lib.sh"

cleanup() {
	trap - EXIT INT TERM
	say "stopping and removing what was started"
	"$bin/wavectl" stop "$vm" >/dev/null 2>&1
	"$bin/wavectl" net down >/dev/null 2>&1
	trial_host_down
	rm -rf "$WAVE_RUNDIR" "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

trial_host_up wave-switch wrk || exit 1
"$bin/wavectl" net up ${WAVE_POLL_IDLE:+--poll-idle "$WAVE_POLL_IDLE"} >/dev/null || { say "wave-switch would not start"; exit 1; }
sw_pid=$(cat "$WAVE_RUNDIR/switch.pid")
sw_ns() { awk '{ print $1 }' "/proc/$sw_pid/schedstat"; }

# Launches the server on PATH (bridge or switch); sets ip.
launch() {
	local extra=""
	[ "$1" = bridge ] && extra="--no-switch"
	"$bin/wavectl" stop "$vm" >/dev/null 2>&1
	"$bin/wavectl" launch "$here/images/xml/latency-httpd.xml" --name "$vm" $extra > "$out" ||
		return 1
	ip=$(awk '/address/ { print $2 }' "$out")
	for i in $(seq 1 120); do
		curl -s -m 2 "http://$ip/" >/dev/null && return 0
		sleep 1
	done
	say "the server at $ip does not answer"
	return 1
}

printf '%-7s %4s %8s %9s %9s %12s %12s\n' path run "req/s" "p50 ms" "p99 ms" "switch% load" \
	"switch% idle"
paths="bridge switch"
for run in $(seq 1 "$runs"); do
	for path in $paths; do
		say "run $run/$runs: $path"
		launch "$path" || exit 1
		c0=$(sw_ns)
		wrk -t 2 -c "$conns" -d "${secs}s" --latency "http://$ip/cgi-bin/work?$turns" > "$out" 2>&1
		c1=$(sw_ns)
		sleep 10
		c2=$(sw_ns)
		ms() { trial_ms "$1" "$out"; }
		printf '%-7s %4s %8s %9s %9s %12.2f %12.3f\n' "$path" "$run" \
			"$(awk '/Requests\/sec/ { print $2 }' "$out")" "$(ms 50%)" "$(ms 99%)" \
			"$(awk -v d=$((c1 - c0)) -v s="$secs" 'BEGIN { print d / 1e9 / s * 100 }')" \
			"$(awk -v d=$((c2 - c1)) 'BEGIN { print d / 1e9 / 10 * 100 }')"
	done
	paths="$(echo $paths | awk '{ print $2, $1 }')"
done
"$bin/wavectl" net status
