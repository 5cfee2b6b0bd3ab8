# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the trial scripts (server-, mem-server-, switch-trial.sh): what
# they share. The caller sets trial (its name), here (the tree), bin and
# WAVE_RUNDIR.

say() { printf '%s: %s\n' "$trial" "$*" >&2; }

# Checks root, the load tools (TOOL...) and the build (BINARY must be
# built), then starts libvirtd and the guests' bridge if they are not there.
trial_host_up() { # BINARY TOOL...
	[ "$(id -u)" -eq 0 ] || { say "needs root"; return 1; }
	for t in "${@:2}"; do
		command -v "$t" >/dev/null || { say "$t missing: run 'make deps'"; return 1; }
	done
	[ -x "$bin/$1" ] && [ -f "$here/build/images/initramfs.img" ] ||
		{ say "build first: make all images"; return 1; }
	mkdir -p "$WAVE_RUNDIR"
	"$here/scripts/libvirtd.sh" start >/dev/null && "$here/scripts/net.sh" up >/dev/null ||
		{ say "libvirtd or the bridge would not start"; return 1; }
}

# Runs a Wave daemon (waved, wave-agent) in the background, appending its
# output to LOG, at SCHED_FIFO $daemon_prio, as the benchmarks and the demo
# run them (bench/vmenv.h): the host's control plane must not wait behind
# the VMs it manages. The agent also takes --reserve "$agent_reserve": it
# stands for an IPU's own cores. Left at SCHED_OTHER on two cores shared
# with six busy vCPU threads, it missed the kernel's beat and sent waved
# into fallback about 30 times in 20 s; at FIFO alone, 2-7 times.
# Its pid is in $! as for any background job.
daemon_prio=20
agent_reserve=1ms/5ms
run_daemon() { # LOG BINARY ARG...
	local log=$1
	shift
	chrt -f "$daemon_prio" "$@" >> "$log" 2>&1 &
}

# Stops wave-agent and waved if running (their pids in agent_pid and
# waved_pid, cleared): waved restores every baseline on SIGTERM.
stop_daemons() {
	[ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	if [ -n "${waved_pid:-}" ]; then
		kill "$waved_pid" 2>/dev/null
		wait "$waved_pid" 2>/dev/null
	fi
	agent_pid=""
	waved_pid=""
}

# Stops the bridge and libvirtd if trial_host_up started them.
trial_host_down() {
	"$here/scripts/net.sh" down >/dev/null
	"$here/scripts/libvirtd.sh" stop >/dev/null
}

# wrk's latency at percentile P ("50%") in FILE, in ms.
trial_ms() {
	awk -v k="$1" '$1 == k { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		f = u == "s" ? 1000 : u == "us" ? 0.001 : 1; printf "%.2f", v * f }' "$2"
}
