#!/usr/bin/env bash
# make check: everything a reviewer runs, each result counted as a case.
#   1. each series applies to its pinned base
#   2. checkpatch on every patch (--strict for Linux, QEMU's own for QEMU)
#   3. the maintainer tools on the Linux series, against base: kernel-doc
#      -Wall, Sphinx (the new rst), coccicheck, UAPI compatibility
#   4. each patch builds on its own (bisect build); no new W=1 or sparse
#      warning in drivers/gpu/drm/virtio (a failure lists its new warnings)
#   5. the QEMU series' qtests (host side, raw commands)
#   6. the harness's own failure-mode tests
#   7. the guest suite in the VM on the debug kernel (every TAP case counts)
#   8. the 3D suite on QEMU with virglrenderer, series and stock (TAP cases)
# Ends with the line 'N passed, N failed' (', N skipped') and exits non-zero
# on any failure.
. "$(dirname "$0")/lib.sh"

# Each stage line says how far into the run it starts, so that a CI log
# shows where a slow machine spends its time.
elapsed() { printf '%d min %02d s' $((SECONDS / 60)) $((SECONDS % 60)); }
stage() { printf '==> %s (at %s)\n' "$*" "$(elapsed)" >&2; }

passed=0 failed=0 skipped=0
failures=()
pass() { passed=$((passed + 1)); printf '  PASS %s\n' "$1"; }
fail() {
	failed=$((failed + 1))
	# The summary at the end repeats the first lines of the details.
	failures+=("$1${2:+$'\n'$(printf '%s\n' "$2" | head -n 10 | sed 's/^/        /')}")
	printf '  FAIL %s\n' "$1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | head -n 20 | sed 's/^/       /'
}
skip() { skipped=$((skipped + 1)); printf '  SKIP %s%s\n' "$1" "${2:+: $2}"; }

# Add the counts file ("passed failed skipped") that a VM stage wrote to the
# totals. A stage that wrote none or whose guest did not run (exit 125)
# fails, and so does a non-zero exit with no failed case (a leak or a
# splat its summary reported outside the cases).
merge_counts() {
	local name=$1 rc=$2 counts=$3 where=$4 p f s
	if [ ! -f "$counts" ] || [ "$rc" -eq 125 ]; then
		fail "$name: did not run (exit $rc)"
		return
	fi
	read -r p f s <"$counts"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -eq 0 ] || failures+=("$name: $f case(s), see $where")
	[ "$f" -ne 0 ] || [ "$rc" -eq 0 ] || fail "$name: exit $rc without a failed case"
}

# collect OUTPUT: count a sub-check's 'PASS name', 'FAIL name' and 'SKIP name'
# lines; the lines indented by 7 spaces under a FAIL are its details.
collect_one() { case $1 in PASS) pass "$2" ;; FAIL) fail "$2" "${3%$'\n'}" ;; SKIP) skip "$2" "" ;; esac; }
collect() {
	local l kind="" name="" det=""
	while IFS= read -r l; do
		case $l in
		PASS\ * | FAIL\ * | SKIP\ *)
			collect_one "$kind" "$name" "$det"
			kind=${l%% *} name=${l#* } det="" ;;
		"       "*) [ "$kind" != FAIL ] || det+="${l#       }"$'\n' ;;
		*) collect_one "$kind" "$name" "$det"; kind="" det="" ;;
		esac
	done <<<"$1"
	collect_one "$kind" "$name" "$det"
}

finish() {
	echo
	echo "make check took $(elapsed)"
	for f in "${failures[@]}"; do echo "failed: $f"; done
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ]
}
trap 'echo "check: interrupted"; finish; exit 1' INT TERM

"$TOP/scripts/deps.sh" fetch kernel qemu guest check host3d

# The 3D host (a Debian 13 userland and two QEMU builds, stage 8) is made in
# the background meanwhile: its downloads overlap with the stages below.
"$TOP/scripts/fetch.sh" qemu >/dev/null
"$TOP/scripts/host3d.sh" >"$LOGS/check-host3d.log" 2>&1 &
host3d_pid=$!

series() { series_files "$1"; }

# 1. The series apply to a pristine base (a throw-away clone of the work
# tree at its tag 'base' with only the directories the series touches
# checked out, kept for the next run; the work tree itself is not touched).
stage "check: series apply"
for w in linux qemu; do
	"$TOP/scripts/tree.sh" "$w" >/dev/null || { fail "$w: work tree"; continue; }
	# shellcheck disable=SC2046
	if err=$(series_clone "$w" "$BUILD/check-apply-$w" $(series_dirs "$w") 2>&1); then
		pass "$w: series applies to base ($(series "$w" | wc -l) patches)"
	else
		fail "$w: series applies to base ($(tail -n 1 <<<"${err#error: }"))" "$(head -n 5 "$LOGS/series-clone-$w.log")"
	fi
done

# 2. checkpatch, one case a patch.
stage "check: checkpatch"
for p in $(series linux); do
	if out=$(cd "$BUILD/src/linux" && ./scripts/checkpatch.pl --strict --quiet --show-types "$p" 2>&1) &&
		[ -z "$out" ]; then
		pass "linux checkpatch --strict $(basename "$p")"
	else
		fail "linux checkpatch --strict $(basename "$p")" "$out"
	fi
done
# QEMU: warnings fail too, unless qemu/checkpatch-allow.txt lists them with a
# reason.
collect "$(python3 "$TOP/scripts/qemu-checkpatch.py" "$BUILD/src/qemu" "$TOP/qemu/checkpatch-allow.txt" $(series qemu) 2>&1)"

# 3. The maintainer tools, each compared with base (scripts/maint-checks.sh).
stage "check: maintainer tools (kernel-doc, Sphinx, coccicheck, UAPI compatibility)"
mrc=0
out=$("$TOP/scripts/maint-checks.sh" 2>&1) || mrc=$?
collect "$out"
if [ "$(grep -c -E '^(PASS|FAIL) ' <<<"$out")" -lt 4 ] || { [ $mrc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; }; then
	fail "maintainer tools: not every check reported (exit $mrc)" "$(tail -n 10 <<<"$out")"
fi

# 4. Bisect builds, then the full builds the suite runs on.
stage "check: each patch builds on its own"
brc=0
out=$("$TOP/scripts/bisect-build.sh" 2>&1) || brc=$?
collect "$out"
if [ $brc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	fail "bisect builds" "$(tail -n 10 <<<"$out")"
fi
"$TOP/scripts/build-qemu.sh" >/dev/null && pass "qemu builds (series head)" || fail "qemu builds (series head)"
"$TOP/scripts/build-kernel.sh" debug >/dev/null && pass "debug kernel builds (series head)" || fail "debug kernel builds (series head)"

# 5. Host-side checks: the QEMU series' qtests (raw hostile commands).
stage "check: host-side qtests"
qrc=0
out=$("$TOP/scripts/qtest.sh" 2>&1) || qrc=$?
while IFS= read -r l; do case $l in PASS\ *) pass "${l#PASS }" ;; FAIL\ *) fail "${l#FAIL }" ;; esac; done <<<"$out"
if [ $qrc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	fail "qtests" "$(tail -n 10 <<<"$out")"
fi

# 5b. The same qtests on QEMU built with ASan and UBSan (build/qemu-asan):
# 'make qemu-asan'. Its first build costs 13 minutes of CPU, which would take
# a fresh CI run past its budget, so make check runs it only when asked
# (USERPTR_CHECK_ASAN=1) and otherwise says so.
stage "check: host-side qtests under ASan+UBSan"
if [ "${USERPTR_CHECK_ASAN:-0}" = 1 ]; then
	qrc=0
	out=$("$TOP/scripts/qtest.sh" --asan 2>&1) || qrc=$?
	while IFS= read -r l; do case $l in PASS\ *) pass "${l#PASS }" ;; FAIL\ *) fail "${l#FAIL }" ;; esac; done <<<"$out"
	if [ $qrc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		fail "asan qtests" "$(tail -n 10 <<<"$out")"
	fi
else
	skip "qtests under ASan+UBSan" "not in make check by default (first build: 13 min of CPU); run 'make qemu-asan', or USERPTR_CHECK_ASAN=1 make check"
fi

# 6. The harness's own failure modes.
stage "check: harness tests"
"$TOP/scripts/build-guest.sh" >/dev/null
if out=$("$TOP/scripts/harness-test.sh" 2>&1); then :; fi
while IFS= read -r l; do case $l in PASS\ *) pass "${l#PASS }" ;; FAIL\ *) fail "${l#FAIL }" ;; esac; done <<<"$out"
grep -q -E '^(PASS|FAIL) ' <<<"$out" || fail "harness tests ran" "$(tail -n 10 <<<"$out")"

# 7. The guest suite.
stage "check: guest suite in the VM (debug kernel)"
"$TOP/scripts/vm-test.sh" && vrc=0 || vrc=$?
merge_counts vm-test $vrc "$RESULTS/vm-test/counts" build/results/vm-test/

# 7b. Forced bounce buffering (a confidential guest, restricted DMA): the
# host would see bounce pages, so the driver must offer no userptrs.
stage "check: forced bounce buffering (swiotlb=force, iommu_platform=on)"
if out=$(USERPTR_GPU_DEVICE="virtio-gpu-pci,blob=on,iommu_platform=on" USERPTR_CMDLINE="swiotlb=force" \
	"$TOP/scripts/vm-exec.sh" "$BUILD/guest/bin/userptr-param" 0 2>&1); then
	pass "guest: forced bounce buffering: the driver reports no userptr support"
else
	fail "guest: forced bounce buffering: the driver reports no userptr support" "$(tail -n 5 <<<"$out")"
fi

# 7c. The reliability campaign's guest side: the fail-nth sweeps of
# guest/userptr-faults.c and a short seeded soak (guest/userptr-soak.c);
# 'make soak' runs the soak for 10 minutes.
soak_s=${USERPTR_CHECK_SOAK_S:-30}
stage "check: fault sweeps and a ${soak_s} s soak in the VM (debug kernel)"
SOAK_SECONDS=$soak_s "$TOP/scripts/soak.sh" && vrc=0 || vrc=$?
merge_counts soak $vrc "$RESULTS/soak/counts" build/results/soak/

# 8. The 3D suite (virglrenderer), on our series' QEMU and on the stock one.
stage "check: 3D suite in the VM (virgl host: series and stock QEMU)"
wait "$host3d_pid" || info "making the 3D host in the background failed (build/logs/check-host3d.log); vm-test-3d tries again"
# The stock host adds the compatibility cases; on a slow machine it is left
# out, visibly, so that the run stays within CI's limit.
hosts3d=(series)
if [ "$SECONDS" -lt "${USERPTR_CHECK_BUDGET_S:-3300}" ]; then
	hosts3d+=(stock)
else
	skip "3D suite on the stock host" "$((SECONDS / 60)) minutes into make check, past its budget of $((${USERPTR_CHECK_BUDGET_S:-3300} / 60)); run 'make vm-test-3d'"
fi
"$TOP/scripts/vm-test-3d.sh" "${hosts3d[@]}" && vrc=0 || vrc=$?
merge_counts vm-test-3d $vrc "$RESULTS/vm-test-3d/counts" "build/results/vm-test-3d-*/"

finish
