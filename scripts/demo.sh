#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The main job ('make demo'): VMs under offloaded scheduling, then the
# comparison against Linux alone, by hand-pinning, by hand-set SCHED_FIFO
# and the same policy on the host (wavectl bench sched --quick).
# Everything it starts is stopped and removed at the end, on Ctrl-C and on
# failure: daemons by their pid, VMs by their names, the bridge and libvirtd
# only if it started them.
# Usage: scripts/demo.sh [BUILD_DIR]
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/$build/bin"
report="$here/$build/report"
rundir=/run/wave-vm-demo
export WAVE_RUNDIR=$rundir
names="demo$$-lat demo$$-bat"
waved_pid=""
agent_pid=""

step() { printf '\n== %s\n' "$*"; }

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	step "cleaning up"
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	if [ -n "$waved_pid" ]; then
		kill "$waved_pid" 2>/dev/null   # waved restores every baseline on SIGTERM
		wait "$waved_pid" 2>/dev/null
	fi
	[ -n "$agent_pid" ] && wait "$agent_pid" 2>/dev/null
	"$bin/wavectl" stop $names >/dev/null 2>&1
	for n in $names; do rm -f "$rundir/console/$n.log"; done
	"$here/scripts/net.sh" down >/dev/null
	"$here/scripts/libvirtd.sh" stop >/dev/null
	rm -f "$rundir/accel" "$rundir/waved.journal"
	# The daemons' logs go with the rest, unless something failed: then they tell why.
	if [ "$rc" -eq 0 ]; then
		rm -f "$rundir/waved.log" "$rundir/agent.log"
	else
		echo "demo: failed; the daemons' logs are in $rundir/waved.log and $rundir/agent.log"
	fi
	rmdir "$rundir/console" "$rundir" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (VMs, BPF, scheduling classes)" >&2
	exit 1
fi
mkdir -p "$rundir"

step "starting libvirtd (if it is not running) and the guests' bridge"
"$here/scripts/libvirtd.sh" start || exit 1
"$here/scripts/net.sh" up || exit 1

step "launching a latency VM (UDP echo) and a batch VM (spinning) from images/xml/"
"$bin/wavectl" launch "$here/images/xml/latency-echo.xml" --name "demo$$-lat" || exit 1
"$bin/wavectl" launch "$here/images/xml/batch-spin.xml" --name "demo$$-bat" || exit 1

step "waiting for the guests to come up"
i=0
until grep -q "WAVE-READY workload=echo" "$rundir/console/demo$$-lat.log" 2>/dev/null &&
      grep -q "WAVE-SPIN" "$rundir/console/demo$$-bat.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 1800 ] && { echo "demo: the guests did not come up" >&2; exit 1; }
	sleep 0.1
done

# Both daemons at SCHED_FIFO 20: a host's control plane is not starved by
# the VMs it manages; the agent, standing for an IPU's own cores, also
# takes a SCHED_DEADLINE reservation (FIFO waits behind the latency VM's).
step "starting wave-agent (the emulated IPU) and waved (offload over shm)"
chrt -f 20 "$bin/wave-agent" --channel "shm:demo$$" --report-s 0 --reserve 1ms/5ms >"$rundir/agent.log" 2>&1 &
agent_pid=$!
chrt -f 20 "$bin/waved" --mode offload --channel "shm:demo$$" --match "demo$$-" \
	>"$rundir/waved.log" 2>&1 &
waved_pid=$!
i=0
until "$bin/wavectl" status --json 2>/dev/null | grep -q '"state":"offload"'; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "demo: waved did not hand control to the agent; its log:" >&2
		cat "$rundir/waved.log" >&2
		exit 1
	fi
	sleep 0.1
done

step "wavectl status, once a second for 5 s (the agent decides, waved applies)"
for s in 1 2 3 4 5; do
	sleep 1
	"$bin/wavectl" status --once
	echo
done

step "stopping the demo VMs and daemons before the measurement"
kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; agent_pid=""
kill "$waved_pid" 2>/dev/null; wait "$waved_pid" 2>/dev/null; waved_pid=""
"$bin/wavectl" stop $names >/dev/null

step "wavectl bench sched --quick: cfs, pin, rt, offload, onhost on fresh VMs (about 5 min)"
rm -rf "$report"
"$bin/wavectl" bench sched --quick --report "$report" || exit 1
step "done: the report is $report/report.md (plots next to it)"
