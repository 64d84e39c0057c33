#!/usr/bin/env bash
# Tests of the harness itself: each failure mode ends in a one-line error
# and a non-zero exit, never a hang and never a pass. Prints 'PASS name' or
# 'FAIL name' per case; exits non-zero on a failure.
#
# Needs the debug kernel and QEMU built (make kernel qemu).
. "$(dirname "$0")/lib.sh"

tmp=$BUILD/harness-test
rm -rf "$tmp"
mkdir -p "$tmp"
rc=0

# expect NAME WANT_RC REGEX CMD...: CMD exits WANT_RC ('nonzero' for any
# failure) within 5 minutes and its output matches REGEX.
expect() {
	local name=$1 want=$2 re=$3
	shift 3
	last_got=0
	last_out=$(timeout 300 "$@" 2>&1) || last_got=$?
	judge "$name" "$want" "$re"
}
# judge NAME WANT_RC REGEX: a second case on the last expect's command (one
# boot answers several cases).
judge() {
	local name=$1 want=$2 re=$3 got=$last_got
	if { [ "$want" = nonzero ] && [ $got -ne 0 ] && [ $got -ne 124 ]; } || [ "$got" = "$want" ]; then
		if grep -q -E -- "$re" <<<"$last_out"; then
			echo "PASS $name"
			return
		fi
	fi
	echo "FAIL $name (exit $got, wanted $want and /$re/)"
	printf '%s\n' "$last_out" | tail -n 5 | sed 's/^/       /'
	rc=1
}

# Downloads go to a scratch cache, so the real cache is never touched.
scratch=(env USERPTR_CACHE="$tmp/cache" BUILD="$tmp/build")

expect "fetch: a wrong sha256 is refused" nonzero 'error: .*does not match the pinned sha256' \
	"${scratch[@]}" QEMU_SHA256=0000000000000000000000000000000000000000000000000000000000000000 \
	"$TOP/scripts/fetch.sh" qemu
expect "fetch: a version the archive does not have is refused" nonzero 'error: the Debian archive lists no source of qemu 0\.0\.1' \
	"${scratch[@]}" QEMU_VERSION=0.0.1 "$TOP/scripts/fetch.sh" qemu
printf 'Acquire::http::Proxy "http://127.0.0.1:9";\nAcquire::https::Proxy "http://127.0.0.1:9";\nAcquire::Retries "0";\n' >"$tmp/apt.conf"
expect "fetch: an unreachable archive is an error" nonzero 'error: .*(missing or unreachable)' \
	"${scratch[@]}" APT_CONFIG="$tmp/apt.conf" "$TOP/scripts/fetch.sh" qemu
expect "fetch: a cached tarball that does not match the pin is refused" nonzero 'does not match the pin' \
	env USERPTR_CACHE="$tmp/cache-bad" BUILD="$tmp/build" sh -c \
	"mkdir -p '$tmp/cache-bad/downloads' && echo junk >'$tmp/cache-bad/downloads/$QEMU_TARBALL' && '$TOP/scripts/fetch.sh' qemu"

# A series with a patch that does not apply: a copy of the harness whose
# QEMU series is one bogus patch.
mkdir -p "$tmp/repo/qemu/patches"
cp -r "$TOP/scripts" "$TOP/pins.sh" "$tmp/repo/"
cat >"$tmp/repo/qemu/patches/0001-bogus.patch" <<'EOP'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: virtio-gpu userptr developers <userptr@example.invalid>
Date: Thu, 1 Jan 2026 00:00:00 +0000
Subject: [PATCH] bogus: change a line that is not there

---
 VERSION | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/VERSION b/VERSION
--- a/VERSION
+++ b/VERSION
@@ -1 +1 @@
-0.0.0
+0.0.1
EOP
expect "tree: a patch that does not apply is an error" nonzero 'error: patch .*0001-bogus.patch does not apply' \
	env BUILD="$tmp/build" "$tmp/repo/scripts/tree.sh" qemu

# Boots: a kernel that does not reach init, a guest that hangs, a splat.
expect "boot: a kernel that does not boot is an error" 125 'error: the debug kernel did not boot to init' \
	env USERPTR_CMDLINE="rdinit=/nonexistent init=/nonexistent" "$TOP/scripts/boot.sh" --name ht-noboot --timeout 240
expect "boot: a guest that hangs is stopped and reported" 125 'error: the guest hung: no result within 40s' \
	"$TOP/scripts/boot.sh" --name ht-hang --timeout 40 --run 'sleep 100000'
expect "boot: a kernel splat in the guest log fails the run" 1 'WARNING: CPU: 0 PID: 1 at harness-test injected' \
	"$TOP/scripts/boot.sh" --name ht-splat --timeout 240 --run 'echo "WARNING: CPU: 0 PID: 1 at harness-test injected" >/dev/kmsg'

# Guest shell: open the host channel's port as file descriptor 3.
open_port='
		for n in /sys/class/virtio-ports/*/name; do
			d=${n%/name}
			[ "$(cat "$n")" != org.virtio-gpu-userptr.host ] || port=/dev/${d##*/}
		done
		[ -n "$port" ] || { echo "no host channel port"; exit 1; }
		exec 3<>"$port"'

# The host relay forwards only the device's test commands: a guest that
# asks for anything else (here a harmless query-status, so that a relay that
# forwarded everything does no harm) gets an error line back. Its vCPU
# stall refuses a range without the call it is to hold at; one that no vCPU
# reaches in time goes away. The guest runs on throughout (each command
# gets its answer). One boot for both cases.
expect "host relay: a command other than the device's test commands is refused" 0 'RELAY: .*"error"' \
	"$TOP/scripts/boot.sh" --name ht-relay --timeout 240 --run "$open_port"'
		ask() { echo "$1" >&3; read -r line <&3; echo "$line"; }
		echo "RELAY: $(ask "{\"execute\": \"query-status\"}")"
		sym() { sort /proc/kallsyms | awk -v s="$1" -v n="$2" "\$3 == s { if (n) getline; print \$1; exit }"; }
		f=$(sym virtio_gpu_userptr_invalidate 0)
		e=$(sym virtio_gpu_userptr_invalidate 1)
		c=$(sym _mutex_trylock_nest_lock 0)
		[ -n "$c" ] || c=$(sym mutex_trylock 0)
		k=$(sym kthread_stop 0)
		[ -n "$f" ] && [ -n "$e" ] && [ -n "$c" ] && [ -n "$k" ] || { echo "no such symbols"; exit 1; }
		t=${f%?}f # its first 15 bytes (functions are 16-byte aligned)
		a=$(ask "{\"execute\": \"x-relay-vcpu-stall-arm\", \"arguments\": {\"from\": \"0x$f\", \"to\": \"0x$t\", \"callees\": [\"0x$k\"]}}")
		b=$(ask "{\"execute\": \"x-relay-vcpu-stall-arm\", \"arguments\": {\"from\": \"0x$f\", \"to\": \"0x$e\", \"callees\": [\"0x$c\"], \"timeout\": 2}}")
		w=$(ask "{\"execute\": \"x-relay-vcpu-stall-wait\"}")
		n=$(ask "{\"execute\": \"x-relay-vcpu-stall-wait\"}")
		echo "STALL: $a ARMED: $b WAIT: $w NEXT: $n"'
judge "host relay: a vCPU stall without its call site, or not reached in time, leaves the guest running" 0 \
	'STALL: .*0 direct calls.*ARMED: .*"address".*WAIT: .*in time.*NEXT: .*no stall is armed'

# blob=off, QEMU's default: the device works as before and offers no blobs.
bin=$BUILD/guest/bin
if [ -x "$bin/smoke" ]; then
	expect "boot: with blob=off the device works and offers no blob resources" 0 'GETPARAM RESOURCE_BLOB = 0' \
		env USERPTR_GPU_DEVICE=virtio-gpu-pci "$TOP/scripts/boot.sh" --name ht-blob-off --timeout 240 \
		--file "$bin/smoke" --run /opt/bin/smoke
else
	echo "FAIL boot: with blob=off ... (no build/guest/bin/smoke: build the guest programs first)"
	rc=1
fi

# The benchmark refuses a coarse clock: one-line error, non-zero exit, and a
# bench.json that is valid JSON saying so (the debug kernel, forced to jiffies).
expect "bench: a coarse guest clock is refused and bench.json stays valid" nonzero 'error: the guest clock is coarse' \
	env USERPTR_BZIMAGE="$BUILD/linux-debug/arch/x86/boot/bzImage" USERPTR_CMDLINE=clocksource=jiffies \
	USERPTR_BENCH_NAME=ht-bench-coarse sh -c '"$1" && exit 0; rc=$?; python3 -c "import json, sys; sys.exit(json.load(open(sys.argv[1]))[\"ok\"] is not False)" "$2" || exit 0; exit $rc' \
	sh "$TOP/scripts/bench.sh" "$RESULTS/ht-bench-coarse-report/bench.json"

# vm-exec runs any static binary and passes its exit status through.
printf '#include <stdio.h>\nint main(int c, char **v) { printf("hello from the guest\\n"); return c > 1 ? 7 : 0; }\n' >"$tmp/exit.c"
gcc -static -O2 -o "$tmp/exit-prog" "$tmp/exit.c"
expect "vm-exec: a program's output and exit 0 come back" 0 'hello from the guest' \
	"$TOP/scripts/vm-exec.sh" "$tmp/exit-prog"
expect "vm-exec: a program's exit status 7 comes back" 7 'hello from the guest' \
	"$TOP/scripts/vm-exec.sh" "$tmp/exit-prog" fail
expect "vm-exec: a dynamically linked program is refused" nonzero 'dynamically linked' \
	"$TOP/scripts/vm-exec.sh" /bin/true

# The TAP summary of a run under the kselftest runner counts the nested
# cases, and a program the runner reports as failed (a timeout) fails even
# when none of its cases did.
mkdir -p "$tmp/tap"
cat >"$tmp/tap/nested.log" <<'EOT'
### BEGIN kselftest
TAP version 13
1..2
# selftests: drm/virtio_gpu: userptr
# TAP version 13
# 1..3
#            OK  global.a
# ok 1 global.a
# ok 2 global.b # SKIP needs a 3D device
# not ok 3 global.c
not ok 1 selftests: drm/virtio_gpu: userptr # exit=1
# selftests: drm/virtio_gpu: other
# ok 1 global.d
not ok 2 selftests: drm/virtio_gpu: other # TIMEOUT 900 seconds
### END kselftest 1
EOT
expect "tap-summary: nested kselftest-runner results are counted, a runner failure too" 1 \
	'kselftest +2 passed, 2 failed, 1 skipped' \
	python3 "$TOP/scripts/tap-summary.py" "$tmp/tap/nested.log" "$tmp/tap"

# A KUnit suite that is absent from the kernel log fails; its failed row
# is a failed case.
printf 'KTAP version 1\n1..1\n' >"$tmp/tap/no-kunit.log"
expect "kunit-tap: a suite that did not run is a failure" 0 'not ok 1 - KUnit suite virtio_gpu_userptr did not run' \
	python3 "$TOP/scripts/kunit-tap.py" "$tmp/tap/no-kunit.log" virtio_gpu_userptr
printf '    KTAP version 1\n    # Subtest: virtio_gpu_userptr\n    1..2\n        # Subtest: rows\n        ok 1 a\n        not ok 2 b\n    # rows: pass:1 fail:1\n    not ok 1 rows\n    ok 2 single\nnot ok 1 virtio_gpu_userptr\n' >"$tmp/tap/kunit.log"
expect "kunit-tap: the leaves of a suite are its cases, a failed row fails" 0 '^not ok 2 - b$' \
	python3 "$TOP/scripts/kunit-tap.py" "$tmp/tap/kunit.log" virtio_gpu_userptr

exit $rc
