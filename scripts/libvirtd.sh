#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Starts libvirtd (and virtlogd) on a host without systemd, and stops only
# what it started. Tests and the demo call it; on a systemd host libvirtd is
# normally running already and this script leaves it alone.
#   scripts/libvirtd.sh start   start the daemons that are not running;
#                               record the pids of those it started
#   scripts/libvirtd.sh stop    stop the daemons recorded by 'start'
#   scripts/libvirtd.sh status  exit 0 if qemu:///system answers
# State: $WAVE_RUNDIR (default /run/wave-vm)/libvirtd.started
set -u
rundir=${WAVE_RUNDIR:-/run/wave-vm}
state="$rundir/libvirtd.started"

answers() { virsh -c qemu:///system version >/dev/null 2>&1; }

# pid of a daemon from its pidfile, if that process is alive and is it.
alive_pid() { # name pidfile
	[ -r "$2" ] || return 1
	p=$(cat "$2" 2>/dev/null)
	[ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat /proc/$p/comm)" = "$1" ] && echo "$p"
}

start() {
	mkdir -p "$rundir"
	if answers; then
		echo "libvirtd: already running"
		return 0
	fi
	command -v libvirtd >/dev/null || { echo "libvirtd: not installed: run 'make deps'" >&2; return 1; }
	started=""
	if ! alive_pid virtlogd /run/virtlogd.pid >/dev/null; then
		virtlogd -d || { echo "libvirtd: virtlogd failed to start" >&2; return 1; }
		started="$started virtlogd"
	fi
	if ! alive_pid libvirtd /run/libvirtd.pid >/dev/null; then
		# dbus, udev and dmidecode complaints are harmless without systemd.
		libvirtd -d 2>/dev/null || { echo "libvirtd: failed to start" >&2; return 1; }
		started="$started libvirtd"
	fi
	i=0
	until answers; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "libvirtd: started but qemu:///system does not answer after 10 s" >&2
			return 1
		fi
		sleep 0.1
	done
	for d in $started; do
		p=$(alive_pid "$d" "/run/$d.pid") && echo "$d $p" >> "$state"
	done
	echo "libvirtd: started${started}"
}

stop() {
	[ -r "$state" ] || { echo "libvirtd: nothing started by us"; return 0; }
	# libvirtd first: it holds virtlogd's log pipes.
	for d in libvirtd virtlogd; do
		p=$(awk -v d="$d" '$1 == d {print $2}' "$state" | tail -n1)
		[ -n "$p" ] || continue
		if [ -r "/proc/$p/comm" ] && [ "$(cat /proc/$p/comm)" = "$d" ]; then
			kill -TERM "$p"
			i=0
			while [ -e "/proc/$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
			[ -e "/proc/$p" ] && kill -KILL "$p"
			echo "libvirtd: stopped $d ($p)"
		fi
	done
	rm -f "$state"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
