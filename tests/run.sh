#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs every test binary (cmocka output as is), then the fuzzers for
# FUZZ_SECONDS each (0 skips them). Exits non-zero if anything failed.
# Usage: tests/run.sh BUILD_DIR FUZZ_SECONDS
set -u
build=${1:-build}
fuzz_s=${2:-10}
per_test_timeout=${WAVE_TEST_TIMEOUT:-300}
pass=0
fail=0
failed=""

run() {
	name=$1
	shift
	echo "==== $name"
	if timeout --kill-after=10 "$per_test_timeout" "$@"; then
		pass=$((pass + 1))
	else
		rc=$?
		[ $rc -eq 124 ] && echo "$name: timed out after ${per_test_timeout}s"
		fail=$((fail + 1))
		failed="$failed $name"
	fi
}

for t in "$build"/tests/test-*; do
	[ -x "$t" ] || continue
	run "$(basename "$t")" "$t"
done

if [ "$fuzz_s" -gt 0 ]; then
	for f in "$build"/fuzz/fuzz-*; do
		[ -x "$f" ] || continue
		corpus="$build/corpus/$(basename "$f")"
		mkdir -p "$corpus"
		run "$(basename "$f") (${fuzz_s}s)" "$f" -max_total_time="$fuzz_s" \
			-print_final_stats=0 "$corpus" "fuzz/corpus/$(basename "$f")"
	done
fi

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
