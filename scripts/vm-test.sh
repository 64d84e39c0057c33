#!/usr/bin/env bash
# The guest suite: boot the debug kernel on the patched QEMU and run every
# guest test program in one boot: the smoke test, the series' kselftests
# under the kselftest runner, run_kselftest.sh (userptr, and userptr_host,
# which asks the device what it sees through the host channel that
# scripts/boot.sh provides), the race test guest/userptr-race.c (one vCPU
# held through the relay's gdbstub), the series' KUnit suite (run by the debug
# kernel at boot, read from its log) and the demo. TAP per
# program and the guest kernel log go to build/results/vm-test/; any kernel
# splat fails the run.
#
# Usage: vm-test.sh       Exit 0 when every case passed and the log is clean.
. "$(dirname "$0")/lib.sh"

ensure_built kernel-debug qemu
bin=$("$TOP/scripts/build-guest.sh")

tests=(smoke)
files=("$bin/smoke")
# The series' kselftests, run by the kselftest runner (run_kselftest.sh) as
# a maintainer runs them: build-guest.sh installed them into kselftest.tar.
if [ -f "$bin/kselftest.tar" ]; then
	tests+=(kselftest)
	files+=("$bin/kselftest.tar")
fi
# The race test that holds one vCPU through the relay (guest/userptr-race.c).
tests+=(userptr-race)
files+=("$bin/userptr-race")
# Last, the demo behind 'make run', as one case.
tests+=(userptr-demo)
files+=("$bin/userptr-demo")

payload=""
for t in "${tests[@]}"; do
	if [ "$t" = kselftest ]; then
		payload+="echo '### BEGIN $t'; mkdir -p /opt/kselftest && tar -xf /opt/bin/kselftest.tar -C /opt/kselftest && /opt/kselftest/run_kselftest.sh; echo \"### END $t \$?\"; "
	elif [ "$t" = userptr-demo ]; then
		payload+="echo '### BEGIN $t'; echo 1..1; /opt/bin/$t && echo 'ok 1 userptr-demo' || echo 'not ok 1 userptr-demo'; echo \"### END $t 0\"; "
	else
		payload+="echo '### BEGIN $t'; /opt/bin/$t; echo \"### END $t \$?\"; "
	fi
done
fileargs=()
for f in "${files[@]}"; do fileargs+=(--file "$f"); done

stage "vm-test: ${tests[*]} on the debug kernel"
rc=0
"$TOP/scripts/boot.sh" --kernel debug --name vm-test --timeout "${VM_TEST_TIMEOUT:-1800}" \
	"${fileargs[@]}" --run "$payload" || rc=$?
res=$RESULTS/vm-test
stage "vm-test results (TAP and kernel log in ${res#"$TOP"/}/)"
trc=0
# The series' KUnit suite ran at boot (debug.config): its KTAP in the
# kernel log becomes one more section; a suite that did not run fails.
{
	cat "$res/output.log"
	python3 "$TOP/scripts/kunit-tap.py" "$res/kernel.log" virtio_gpu_userptr
} >"$res/all.log"
# The TAP cases and boot.sh's verdict (a kernel splat is one failure more).
python3 "$TOP/scripts/tap-summary.py" --verdict "$res/verdict" "$res/all.log" "$res" || trc=$?
[ $rc -ne 125 ] || exit 125
# The debug guest provides what the kselftest's fs-dax case needs (boot.sh's
# memmap= region, mounted -o dax by guest/init): a SKIP there means the setup
# broke, not that the feature is absent.
if ! tr -d '\r' <"$res/output.log" | grep -q -E '^# ok [0-9]+ userptr\.fsdax_range_is_eopnotsupp$'; then
	echo "vm-test: FAILED: the fs-dax case did not run and pass (was /dev/pmem0 mounted -o dax? see guest/init)"
	trc=1
fi
# Likewise the race test: this harness provides everything it needs (two
# vCPUs, userfaultfd, the relay's vCPU stall), so a SKIP is a broken setup.
if ! tr -d '\r' <"$res/output.log" | grep -q -E '^ok 1 the notifier leaves an object the worker is revoking to the worker$'; then
	echo "vm-test: FAILED: the userptr-race case did not run and pass (see its lines in ${res#"$TOP"/}/output.log)"
	trc=1
fi
[ $trc -eq 0 ] || { echo "vm-test: FAILED"; exit 1; }
echo "vm-test: all cases passed, guest kernel log clean"
