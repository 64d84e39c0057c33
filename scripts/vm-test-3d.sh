#!/usr/bin/env bash
# The 3D suite: boot the debug guest on the 3D host (scripts/host3d.sh: QEMU
# with virglrenderer in a Debian 13 userland, llvmpipe under Xvfb) with
# virtio-gpu-gl-pci,blob=on, twice: on QEMU with our series, and on the
# stock QEMU (only the build fix). Each runs guest/userptr-3d.c: a virgl
# context, userptr blobs in it, execbuffer with out-fences, revocation, the
# submit/munmap race, the host's limit of memory entries, read-only refusal;
# the series' host also runs the kselftest cases that need a 3D device.
# TAP and the guest's kernel log go to build/results/vm-test-3d-HOST/, the
# summed counts to build/results/vm-test-3d/counts; any splat fails.
#
# Usage: vm-test-3d.sh [series|stock]...   (default: both)
# Exit 0 when every case passed on every host and the logs are clean.
. "$(dirname "$0")/lib.sh"

hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(series stock)

"$TOP/scripts/deps.sh" fetch kernel qemu guest host3d
# The normal path builds the debug kernel; USERPTR_BZIMAGE boots another.
[ -n "${USERPTR_BZIMAGE:-}" ] || "$TOP/scripts/build-kernel.sh" debug >/dev/null
wrappers=$("$TOP/scripts/host3d.sh" userland "${hosts[@]}")
bin=$("$TOP/scripts/build-guest.sh")

kselftest_3d=(execbuffer_on_a_revoked_userptr_is_efault execbuffer_racing_munmap
	transfer_from_host_is_refused host3d_guest_userptr)

sum=$RESULTS/vm-test-3d
rm -rf "$sum"
mkdir -p "$sum"
tp=0 tf=0 ts=0
for h in "${hosts[@]}"; do
	name=vm-test-3d-$h
	payload="echo '### BEGIN userptr-3d-$h'; /opt/bin/userptr-3d --host $h; echo \"### END userptr-3d-$h \$?\"; "
	files=(--file "$bin/userptr-3d")
	# The series' kselftest cases that need a 3D device (they skip on the
	# 2D device of vm-test), on our series' host.
	if [ "$h" = series ]; then
		payload+="echo '### BEGIN kselftest-3d-$h'; /opt/bin/userptr"
		for t in "${kselftest_3d[@]}"; do payload+=" -t $t"; done
		payload+="; echo \"### END kselftest-3d-$h \$?\"; "
		files+=(--file "$bin/kselftest/userptr")
	fi
	stage "vm-test-3d: userptr-3d on the $h 3D host (virtio-gpu-gl-pci, virglrenderer, llvmpipe)"
	rc=0
	USERPTR_QEMU=$wrappers/qemu-$h USERPTR_GPU_DEVICE=virtio-gpu-gl-pci,blob=on \
		"$TOP/scripts/boot.sh" --kernel debug --name "$name" --timeout "${VM_TEST_TIMEOUT:-1800}" \
		"${files[@]}" --run "$payload" || rc=$?
	res=$RESULTS/$name
	stage "vm-test-3d results, $h host (TAP and kernel log in ${res#"$TOP"/}/)"
	python3 "$TOP/scripts/tap-summary.py" "$res/output.log" "$res" || true
	read -r p f s <"$res/counts"
	if [ $rc -eq 125 ]; then
		echo "vm-test-3d: FAILED: the guest did not run on the $h host (${res#"$TOP"/}/qemu.log, kernel.log)"
		f=$((f + 1))
	elif [ $rc -eq 1 ] && ! "$TOP/scripts/splat.sh" "$res/kernel.log" >/dev/null; then
		echo "vm-test-3d: FAILED: kernel splat in the guest log (${res#"$TOP"/}/kernel.log)"
		f=$((f + 1))
	fi
	# A -t filter that names no test runs nothing and passes: every case of
	# the list must have reported.
	if [ "$h" = series ]; then
		n=$(sed -n '/^### BEGIN kselftest-3d/,/^### END kselftest-3d/p' "$res/output.log" |
			grep -c -E '^(not )?ok [0-9]+ userptr\.' || true)
		if [ "$n" -ne ${#kselftest_3d[@]} ]; then
			echo "vm-test-3d: FAILED: $n of the ${#kselftest_3d[@]} kselftest cases that need 3D reported (${kselftest_3d[*]})"
			f=$((f + 1))
		fi
	fi
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
done
echo "$tp $tf $ts" >"$sum/counts"
echo "vm-test-3d: $tp passed, $tf failed, $ts skipped on: ${hosts[*]}"
[ $tf -eq 0 ] || { echo "vm-test-3d: FAILED"; exit 1; }
echo "vm-test-3d: all cases passed, guest kernel logs clean"
