#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Builds the lean guest images into OUT (default build/images-lean): a
# kernel from Debian's linux-source-6.1, configured as tinyconfig plus
# images/lean-kernel.config (everything the guests use, built in), and the
# initramfs of IMAGES (build/images) without its modules.
#
# Why: Debian's kernel keeps 55 MiB of a 512 MiB guest for itself (its
# image, its page structs: "Memory: ... 64976K reserved") and its guests
# use 31 MiB more after boot; the lean one keeps 18 and uses 13. Three
# guests on a small memory budget feel the difference (see README,
# "Guest memory"). Optional: the tests use Debian's kernel.
#
# The source is unpacked and built once in OUT/src (about 6 minutes on
# two cores) and reused while the configuration is unchanged.
# Usage: images/mklean.sh [OUT [IMAGES]]
set -eu
out=${1:-build/images-lean}
images=${2:-build/images}
here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
pkgs="linux-source-6.1 bc flex bison libelf-dev"

[ -f "$images/initramfs.img" ] || { echo "mklean: $images/initramfs.img missing: run 'make images'" >&2; exit 1; }
images=$(cd "$images" && pwd)
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || { echo "mklean: missing packages:$missing (apt-get install them)" >&2; exit 1; }
	echo "mklean: installing$missing"
	apt-get install -y -q $missing >/dev/null
fi
mkdir -p "$out"
src="$out/src/linux-source-6.1"
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
if [ ! -f "$src/Makefile" ] || [ "$(cat "$out/src/version" 2>/dev/null)" != "$ver" ]; then
	echo "mklean: unpacking $tarball ($ver)"
	rm -rf "$out/src"
	mkdir -p "$out/src"
	tar -C "$out/src" -xf "$tarball"
	echo "$ver" > "$out/src/version"
fi

opts=$(grep -v '^#' "$here/lean-kernel.config" | grep -v '^$')
cfg="$out/src/config.wanted"
{ echo "$opts"; echo "NR_CPUS=8"; } > "$cfg.new"
if ! cmp -s "$cfg.new" "$cfg" || [ ! -f "$src/arch/x86/boot/bzImage" ]; then
	echo "mklean: configuring (tinyconfig + $(echo "$opts" | wc -l) options)"
	rm -f "$cfg" # stamped again only once the kernel is built
	make -s -C "$src" tinyconfig >/dev/null
	for o in $opts; do
		"$src/scripts/config" --file "$src/.config" -e "$o"
	done
	"$src/scripts/config" --file "$src/.config" --set-val NR_CPUS 8
	make -s -C "$src" olddefconfig >/dev/null
	for o in $opts; do
		grep -q "^CONFIG_$o=y" "$src/.config" || { echo "mklean: CONFIG_$o did not take (a dependency is off)" >&2; exit 1; }
	done
	echo "mklean: building the kernel (a few minutes)"
	make -s -C "$src" -j"$(nproc)" bzImage >/dev/null
	mv "$cfg.new" "$cfg"
fi
rm -f "$cfg.new"
cp "$src/arch/x86/boot/bzImage" "$out/vmlinuz.new"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
zcat "$images/initramfs.img" | (cd "$tmp" && cpio -id --quiet)
rm -f "$tmp"/lib/modules/*.ko
: > "$tmp/lib/modules/list"
(cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -n -9 > "$out/initramfs.img.new"
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/initramfs.img.new" "$out/initramfs.img"
echo "$(make -s -C "$src" kernelversion)-wave-lean" > "$out/kernel-version"
echo "mklean: $out/vmlinuz ($(cat "$out/kernel-version"), $(du -k "$out/vmlinuz" | cut -f1) KiB), $out/initramfs.img"
