#!/usr/bin/env bash
# make run: build whatever is missing, boot the patched guest kernel on the
# patched QEMU, run the userptr demo (guest/userptr-demo.c) or, while there
# is none, the smoke test, and say in plain words what happened.
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/deps.sh" fetch kernel qemu guest
"$TOP/scripts/build-kernel.sh" debug >/dev/null
"$TOP/scripts/build-qemu.sh" >/dev/null
bin=$("$TOP/scripts/build-guest.sh")
prog=smoke
[ -x "$bin/userptr-demo" ] && prog=userptr-demo

stage "booting the guest and running $prog"
rc=0
"$TOP/scripts/boot.sh" --kernel debug --name run --timeout 600 --file "$bin/$prog" --run "/opt/bin/$prog" || rc=$?
echo
case $rc in
0) echo "run: $prog finished successfully in the guest; the guest kernel log is clean (build/results/run/kernel.log)." ;;
125) echo "run: the guest did not get to run $prog (see the error above)." ;;
*) echo "run: $prog FAILED in the guest (exit $rc); output in build/results/run/output.log, kernel log in build/results/run/kernel.log." ;;
esac
exit $rc
