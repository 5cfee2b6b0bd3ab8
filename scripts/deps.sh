#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Install every Debian package Wave-VM needs to build and test, idempotently.
# Packages already present are not touched; apt-get update runs only when
# something is missing, so a second run costs a dpkg query and nothing more.
set -eu

# build and tests; BPF (libbpf, bpftool for skeletons); TLS for tcp:// (OpenSSL); channel benchmark
# (DPDK); VMs: libvirt, QEMU, XML and JSON parsers for the vmm layer; guest
# images: busybox, cpio (the kernel itself comes from 'apt-get download' in
# images/mkimages.sh); the guests' bridge; plots of the benchmark report.
# wrk and curl: the load of scripts/server-trial.sh. redis-tools: the server of
# the redis guest image and redis-benchmark, for scripts/mem-server-trial.sh.
PKGS="build-essential pkg-config clang libclang-rt-14-dev llvm libbpf-dev bpftool
libcmocka-dev libdpdk-dev libnuma-dev libssl-dev openssl
libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients libvirt-dev
libxml2-dev libjson-c-dev
qemu-system-x86 seabios ipxe-qemu
busybox-static cpio gzip iproute2
gnuplot-nox
wrk curl
redis-tools"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install -y$missing)" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
