#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs every test binary (cmocka output shown as it comes), then each fuzzer
# for FUZZ_SECONDS (0 skips them). Each is bounded in time. Counts test
# cases, not binaries: the last line is "N passed, N failed, N skipped",
# and every skipped case is listed with the reason it gave (a test skips
# with test_skip("reason"), which prints "SKIP reason" before cmocka's
# "[  SKIPPED ] name"). A binary that dies or times out counts as one
# failed case. Exits non-zero if anything failed.
# Usage: tests/run.sh BUILD_DIR FUZZ_SECONDS
set -u
build=${1:-build}
fuzz_s=${2:-10}
per_test_timeout=${WAVE_TEST_TIMEOUT:-300}
pass=0
fail=0
skipped=0
failed=""
skips=""
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# The number in cmocka's summary line "[  WORD  ] N test(s)" of log, or 0.
summary() { # log WORD
	sed -n "s/^\[  *$2  *\] \([0-9][0-9]*\) test(s).*/\1/p" "$1" | tail -n 1 | grep . || echo 0
}

for t in "$build"/tests/test-*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log="$logdir/$name.log"
	echo "==== $name"
	{ timeout --kill-after=10 "$per_test_timeout" "$t"; echo $? >"$log.rc"; } 2>&1 | tee "$log"
	rc=$(cat "$log.rc")
	p=$(summary "$log" PASSED)
	f=$(summary "$log" FAILED)
	s=$(summary "$log" SKIPPED)
	pass=$((pass + p))
	skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Died, timed out, or failed outside a case: one failure.
		[ "$rc" -eq 124 ] && echo "$name: timed out after ${per_test_timeout}s"
		f=1
	fi
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed="$failed $name"
	# "SKIP reason" then "[  SKIPPED ] case": pair them up.
	skips="$skips$(awk -v bin="$name" '
		/^SKIP / { reason = substr($0, 6); next }
		/^\[  SKIPPED \] [0-9]+ test/ { listed = 1; next }
		/^\[  SKIPPED \] / && !listed {
			printf "\n  %s %s: %s", bin, $4, reason != "" ? reason : "(no reason given)"
			reason = ""
		}' "$log")"
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
			pass=$((pass + 1))
		else
			cat "$log"
			fail=$((fail + 1))
			failed="$failed $name"
		fi
	done
fi

echo
[ -n "$skips" ] && printf 'skipped:%s\n' "$skips"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
