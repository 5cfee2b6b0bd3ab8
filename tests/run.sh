#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs every test binary (cmocka output as is), then each fuzzer for
# FUZZ_SECONDS (0 skips them). Each is bounded in time. Exits non-zero if
# anything failed; the last line is "N passed, N failed".
# Usage: tests/run.sh BUILD_DIR FUZZ_SECONDS
set -u
build=${1:-build}
fuzz_s=${2:-10}
per_test_timeout=${WAVE_TEST_TIMEOUT:-300}
pass=0
fail=0
failed=""

count() { # name status
	if [ "$2" -eq 0 ]; then
		pass=$((pass + 1))
	else
		[ "$2" -eq 124 ] && echo "$1: timed out"
		fail=$((fail + 1))
		failed="$failed $1"
	fi
}

for t in "$build"/tests/test-*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "==== $name"
	timeout --kill-after=10 "$per_test_timeout" "$t"
	count "$name" $?
done

# A fuzzer's progress lines go to a log: its summary is shown, all of it on failure.
if [ "$fuzz_s" -gt 0 ]; then
	for f in "$build"/fuzz/fuzz-*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		log="$build/fuzz/$name.log"
		mkdir -p "$build/corpus/$name"
		echo "==== $name (${fuzz_s}s)"
		timeout --kill-after=10 "$((fuzz_s + 60))" "$f" -max_total_time="$fuzz_s" -timeout=10 \
			"$build/corpus/$name" "fuzz/corpus/$name" >"$log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			grep -E "^Done" "$log"
		else
			cat "$log"
		fi
		count "$name" $rc
	done
fi

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
