#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# 'make install' into a scratch DESTDIR, as a packager or an operator would:
# every file where the README says, the units naming the installed paths and
# passing 'systemd-analyze verify' (where systemd-analyze is installed; this
# machine has no systemd running), the installed binaries run, an edited
# configuration survives a second install, 'make uninstall' removes what
# install put there and keeps the configuration. Prints cmocka-style lines
# for tests/run.sh. Nothing outside the scratch directory is touched.
set -u
build=$(dirname "$(dirname "$0")")
dest=$(mktemp -d /tmp/wave-install-XXXXXX)
pass=0
fail=0
skip=0
failed=""
log="$dest.log"
trap 'rm -rf "$dest" "$log"' EXIT INT TERM

# Already built: install must not rebuild (a SAN=1 build has other flags).
keep=""
for f in "$build"/bin/wavectl "$build"/bin/waved "$build"/bin/wave-agent \
	"$build"/images/vmlinuz "$build"/images/initramfs.img; do
	keep="$keep -o $f"
done
mk() { # target...
	# shellcheck disable=SC2086
	make -s --no-print-directory BUILD="$build" $keep DESTDIR="$dest" PREFIX=/usr "$@" >"$log" 2>&1
}

run_case() { # name function
	echo "[ RUN      ] $1"
	if "$2"; then
		echo "[       OK ] $1"
		pass=$((pass + 1))
	elif [ -n "${skipped_why:-}" ]; then
		echo "SKIP $skipped_why"
		echo "[  SKIPPED ] $1"
		skip=$((skip + 1))
		skipped_why=""
	else
		echo "[  FAILED  ] $1"
		fail=$((fail + 1))
		failed="$failed $1"
	fi
}

check() { # description command...
	what=$1
	shift
	if ! "$@"; then
		echo "  not so: $what"
		return 1
	fi
}

installs_everything() {
	mk install || { cat "$log"; return 1; }
	for b in waved wave-agent wavectl; do
		check "usr/bin/$b executable" test -x "$dest/usr/bin/$b" || return 1
	done
	for f in usr/share/wave-vm/images/vmlinuz usr/share/wave-vm/images/initramfs.img \
		usr/share/wave-vm/xml/latency-echo.xml usr/share/doc/wave-vm/README.md \
		usr/lib/systemd/system/waved.service usr/lib/systemd/system/wave-agent.service \
		etc/wave-vm/waved.conf etc/wave-vm/wave-agent.conf; do
		check "$f installed" test -s "$dest/$f" || return 1
	done
	check "etc/wave-vm is 0700 (it holds keys)" \
		test "$(stat -c %a "$dest/etc/wave-vm")" = 700 || return 1
	check "waved.service runs the installed waved" \
		grep -q '^ExecStart=/usr/bin/waved \$WAVED_OPTS$' "$dest/usr/lib/systemd/system/waved.service" || return 1
	check "waved.service reads /etc/wave-vm/waved.conf" \
		grep -q '^EnvironmentFile=-/etc/wave-vm/waved.conf$' "$dest/usr/lib/systemd/system/waved.service" || return 1
	check "waved.service starts after libvirtd" \
		grep -q '^After=libvirtd.service' "$dest/usr/lib/systemd/system/waved.service" || return 1
	check "no placeholder left" \
		sh -c "! grep -l '@[A-Z]*@' '$dest'/usr/lib/systemd/system/*.service '$dest'/etc/wave-vm/*.conf" || return 1
	check "the configuration names the installed key path" \
		grep -q -- '--psk-file /etc/wave-vm/psk' "$dest/etc/wave-vm/waved.conf" || return 1
}

installed_binaries_run() {
	check "wavectl --version" "$dest/usr/bin/wavectl" --version >/dev/null || return 1
	check "waved --help" "$dest/usr/bin/waved" --help >/dev/null || return 1
	check "wave-agent --help" "$dest/usr/bin/wave-agent" --help >/dev/null || return 1
	# The installed agent refuses to start without key material, naming what to do.
	if out=$("$dest/usr/bin/wave-agent" --channel tcp://127.0.0.1:9 2>&1); then
		echo "  not so: wave-agent without TLS material refuses to start"
		return 1
	fi
	case $out in
	*--psk-file*) ;;
	*) echo "  not so: the refusal names --psk-file: $out"; return 1 ;;
	esac
}

units_verify() {
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		skipped_why="systemd-analyze is not installed"
		return 1
	fi
	systemd-analyze verify --man=no --generators=no --recursive-errors=no --root="$dest" \
		/usr/lib/systemd/system/waved.service /usr/lib/systemd/system/wave-agent.service \
		>"$log" 2>&1 || { cat "$log"; return 1; }
	# And it would say so: a unit that names a missing binary fails.
	sed 's|^ExecStart=/usr/bin/waved|ExecStart=/usr/bin/no-such-waved|' \
		"$dest/usr/lib/systemd/system/waved.service" >"$dest/usr/lib/systemd/system/broken.service"
	if systemd-analyze verify --man=no --generators=no --recursive-errors=no --root="$dest" \
		/usr/lib/systemd/system/broken.service >"$log" 2>&1; then
		echo "  not so: verify catches a unit with a missing binary"
		return 1
	fi
	rm -f "$dest/usr/lib/systemd/system/broken.service"
}

config_kept_on_reinstall() {
	echo '# edited by the operator' >>"$dest/etc/wave-vm/waved.conf"
	mk install || { cat "$log"; return 1; }
	check "an edited waved.conf survives a reinstall" \
		grep -q '^# edited by the operator$' "$dest/etc/wave-vm/waved.conf" || return 1
}

uninstall_keeps_config() {
	mk uninstall || { cat "$log"; return 1; }
	check "binaries removed" test ! -e "$dest/usr/bin/waved" || return 1
	check "units removed" test ! -e "$dest/usr/lib/systemd/system/waved.service" || return 1
	check "data removed" test ! -e "$dest/usr/share/wave-vm" || return 1
	check "configuration kept" test -s "$dest/etc/wave-vm/waved.conf" || return 1
}

run_case installs_everything installs_everything
run_case installed_binaries_run installed_binaries_run
run_case units_verify units_verify
run_case config_kept_on_reinstall config_kept_on_reinstall
run_case uninstall_keeps_config uninstall_keeps_config

echo "[==========] $((pass + fail + skip)) test(s) run."
echo "[  PASSED  ] $pass test(s)."
[ "$skip" -gt 0 ] && echo "[  SKIPPED ] $skip test(s), listed below:"
if [ "$fail" -gt 0 ]; then
	echo "[  FAILED  ] $fail test(s), listed below:"
	for f in $failed; do
		echo "[  FAILED  ] $f"
	done
	exit 1
fi
exit 0
