#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Builds the guest images into OUT (default build/images), offline-repeatably
# from Debian packages only:
#   vmlinuz         the kernel of Debian's current linux-image-amd64
#   initramfs.img   busybox-static, the virtio and zram modules (in load order,
#                   listed in /lib/modules/list for /init), /init and wave-guest
#   initramfs-redis.img  the same plus Debian's redis server and the libraries
#                   it links (wave.workload=redis; scripts/mem-server-trial.sh),
#                   if redis-tools is installed
# The kernel package is fetched once with 'apt-get download' into
# OUT/cache and reused; nothing else is downloaded.
# Usage: images/mkimages.sh OUT WAVE_GUEST_BINARY
set -eu
out=${1:-build/images}
guest=${2:?usage: mkimages.sh OUT WAVE_GUEST_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
# In load order (no modules.dep in the package): zram needs zsmalloc; lzo-rle is built in.
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon failover net_failover virtio_net zsmalloc zram"

need() { command -v "$1" >/dev/null 2>&1 || { echo "mkimages: $1 not found: run 'make deps'" >&2; exit 1; }; }
need cpio
need dpkg
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -z "${busybox:-}" ] && { echo "mkimages: /bin/busybox (busybox-static) missing: run 'make deps'" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
	ldd "$busybox" >/dev/null 2>&1 && { echo "mkimages: $busybox is not static: install busybox-static" >&2; exit 1; }
fi

mkdir -p "$out/cache"
# The kernel: the version linux-image-amd64 points to, or the one cached.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
deb=$(ls "$out"/cache/${pkg:-linux-image-}*_amd64.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
	[ -n "$pkg" ] || { echo "mkimages: cannot find the kernel package (apt-cache depends linux-image-amd64)" >&2; exit 1; }
	echo "mkimages: downloading $pkg"
	(cd "$out/cache" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null)
	deb=$(ls "$out"/cache/${pkg}_*_amd64.deb | head -n1)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
dpkg -x "$deb" "$tmp/kernel"
kver=$(ls "$tmp/kernel/lib/modules" | head -n1)
cp "$tmp/kernel/boot/vmlinuz-$kver" "$out/vmlinuz.new"

root="$tmp/root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/lib/modules" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$guest" "$root/bin/wave-guest"
cp "$here/init" "$root/init"
chmod 755 "$root/init" "$root/bin/wave-guest"
for m in $mods; do
	f=$(find "$tmp/kernel/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" | head -n1)
	[ -n "$f" ] || { echo "mkimages: module $m not in $deb" >&2; exit 1; }
	case "$f" in
	*.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
done
echo "$mods" > "$root/lib/modules/list"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -n -9 > "$out/initramfs.img.new"
# redis-tools ships the server as redis-check-rdb (argv[0] picks the role).
rs=/usr/bin/redis-check-rdb
if [ -x "$rs" ]; then
	cp "$rs" "$root/bin/redis-server"
	if ldd "$rs" | grep -q "not found"; then
		echo "mkimages: $rs links libraries this host lacks:" >&2
		ldd "$rs" | grep "not found" >&2
		exit 1
	fi
	for l in $(ldd "$rs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$l")"
		cp -L "$l" "$root$l"
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -n -9 > "$out/initramfs-redis.img.new"
	mv "$out/initramfs-redis.img.new" "$out/initramfs-redis.img"
else
	echo "mkimages: $rs missing (redis-tools): no redis guest image; run 'make deps'"
fi
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/initramfs.img.new" "$out/initramfs.img"
echo "$kver" > "$out/kernel-version"
echo "mkimages: $out/vmlinuz ($kver), $out/initramfs.img ($(du -k "$out/initramfs.img" | cut -f1) KiB)"
if [ -f "$out/initramfs-redis.img" ]; then
	echo "mkimages: $out/initramfs-redis.img ($(du -k "$out/initramfs-redis.img" | cut -f1) KiB)"
fi
