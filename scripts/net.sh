#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The host side of the guests' network: a Linux bridge that libvirt plugs
# each VM's tap into (<interface type='bridge'>). The host has an address
# on it, so host programs (tests, the benchmark's UDP client) reach guests
# directly; no DHCP, no NAT: guests take their address from the kernel
# command line.
#   scripts/net.sh up     create the bridge if missing; record that we did
#   scripts/net.sh down   remove the bridge if 'up' created it
# Settings: WAVE_BRIDGE (wavebr0), WAVE_HOST_IP (10.77.0.1; the prefix is /24),
# WAVE_RUNDIR (/run/wave-vm).
set -u
br=${WAVE_BRIDGE:-wavebr0}
hostip=${WAVE_HOST_IP:-10.77.0.1}/24
rundir=${WAVE_RUNDIR:-/run/wave-vm}
state="$rundir/bridge.$br.created"

up() {
	mkdir -p "$rundir"
	if ip link show "$br" >/dev/null 2>&1; then
		echo "net: bridge $br present"
	else
		ip link add "$br" type bridge || { echo "net: cannot create bridge $br (root needed)" >&2; return 1; }
		touch "$state"
		echo "net: created bridge $br"
	fi
	ip addr show dev "$br" | grep -q "inet ${hostip%/*}/" || ip addr add "$hostip" dev "$br"
	ip link set "$br" up
}

down() {
	if [ -e "$state" ]; then
		ip link del "$br" 2>/dev/null && echo "net: removed bridge $br"
		rm -f "$state"
	else
		echo "net: bridge $br not created by us: left alone"
	fi
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
