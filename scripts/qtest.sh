#!/usr/bin/env bash
# Host-side checks: the QEMU series' qtests, run against the patched QEMU.
# Prints 'PASS name' or 'FAIL name' per test case; exits non-zero on a
# failure. Logs in build/logs/qtest-NAME.log.
#
# Usage: qtest.sh [--asan]
#   --asan: against the ASan+UBSan build (build/qemu-asan); any sanitizer
#   report fails the test case it happens in (logs: qtest-asan-NAME.log).
. "$(dirname "$0")/lib.sh"

variant= tag=
if [ "${1:-}" = --asan ]; then
	variant=asan tag=asan-
	# Any finding aborts (QEMU's death fails the case); leaks are not
	# checked: QEMU does not free everything at exit.
	export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=0
	export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
fi
qtests=(virtio-gpu-blob-test)
targets=()
for t in "${qtests[@]}"; do targets+=("tests/qtest/$t"); done
USERPTR_QEMU_VARIANT=$variant USERPTR_QEMU_TARGETS="${targets[*]}" \
	"$TOP/scripts/build-qemu.sh" >/dev/null
obj=$BUILD/qemu${variant:+-$variant}
rc=0
for t in "${qtests[@]}"; do
	log=$LOGS/qtest-$tag$t.log
	trc=0
	(cd "$obj" && QTEST_QEMU_BINARY=./qemu-system-x86_64 timeout 1200 \
		"./tests/qtest/$t" --tap -k) >"$log" 2>&1 || trc=$?
	n=0
	while IFS= read -r l; do
		case $l in
		"ok "*) echo "PASS ${tag}qtest ${l#ok [0-9]* }"; n=$((n + 1)) ;;
		"not ok "*) echo "FAIL ${tag}qtest ${l#not ok [0-9]* } (log: ${log#"$TOP"/})"; n=$((n + 1)); rc=1 ;;
		esac
	done <"$log"
	if [ $n -eq 0 ] || { [ $trc -ne 0 ] && ! grep -q '^not ok ' "$log"; }; then
		echo "FAIL ${tag}qtest $t exited $trc (log: ${log#"$TOP"/})"
		rc=1
	fi
done
exit $rc
