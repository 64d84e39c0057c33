#!/usr/bin/env bash
# Boot the patched guest kernel on the patched QEMU (TCG), run a payload in
# the guest, and collect what happened.
#
# Usage: boot.sh [--kernel debug|release] [--name NAME] [--timeout SECONDS]
#                [--file HOSTPATH]... [--run 'COMMAND']
#   --file     copy a host file into the guest's /opt/bin (repeatable)
#   --run      the guest shell command to run as root (default: the smoke test)
#
# Results in build/results/NAME/: kernel.log (the guest's console) and
# output.log (what the payload printed). The payload's output is streamed.
# The verdict, for the scripts that read the results (vm-test.sh,
# tap-summary.py --verdict), goes to build/results/NAME/verdict, one
# key=value a line: boot (ok, no-boot, hung, qemu-failed), status (the
# payload's exit status, or none when it did not finish) and splat (yes or
# no; the checkers' reports are in splat.txt). Splat detection runs here only.
# Exit status: the payload's, when the guest finished and its kernel log is
# free of splats; 1 with a splat; 125 when the guest did not boot, hung, or
# QEMU failed (always with a one-line error).
. "$(dirname "$0")/lib.sh"

kernel=debug name="" timeout=600 run="smoke" files=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--run) run=$2; shift 2 ;;
	*) die "boot.sh: unknown argument '$1'" ;;
	esac
done
name=${name:-boot-$kernel}

res=""
# verdict BOOT STATUS SPLAT: write build/results/NAME/verdict.
verdict() {
	[ -n "$res" ] && [ -d "$res" ] || return 0
	printf 'boot=%s\nstatus=%s\nsplat=%s\n' "$1" "$2" "$3" >"$res/verdict"
}
fail() { printf 'error: %s\n' "$*" >&2; exit 125; }

bzimage=${USERPTR_BZIMAGE:-$BUILD/linux-$kernel/arch/x86/boot/bzImage}
qemu=${USERPTR_QEMU:-$BUILD/qemu/qemu-system-x86_64}
[ -f "$bzimage" ] || fail "no $kernel kernel at ${bzimage#"$TOP"/}: build it first (scripts/build-kernel.sh $kernel)"
[ -x "$qemu" ] || fail "no QEMU at ${qemu#"$TOP"/}: build it first (scripts/build-qemu.sh)"
base=$("$TOP/scripts/initramfs.sh")
firmware=/usr/share/qemu
[ -f "$firmware/qboot.rom" ] || fail "no $firmware/qboot.rom: install qemu-system-data (scripts/deps.sh qemu)"

res=$RESULTS/$name
rm -rf "$res"
mkdir -p "$res/payload/etc/userptr" "$res/payload/opt/bin"
for f in "${files[@]}"; do
	[ -f "$f" ] || fail "no file $f to copy into the guest"
	install -m 0755 "$f" "$res/payload/opt/bin/"
done
printf '%s\n' "$run" >"$res/payload/etc/userptr/run"
(cd "$res/payload" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$res/payload.cpio.gz"
cat "$base" "$res/payload.cpio.gz" >"$res/initrd"

qmp=$res/qmp.sock
# tsc=reliable: without ACPI or HPET in our kernels the TSC is the only
# fine-grained clocksource; TCG derives it from host time, so it is sound,
# and without it benchmarks would see 4 ms jiffies.
cmdline="console=ttyS0 panic=-1 oops=panic tsc=reliable"
# The debug kernel gets a legacy pmem region (e820 type 12) at 4 GiB: the
# first 128 MiB of the RAM above the PCI hole, section-aligned. guest/init
# mounts it as an ext4 filesystem with -o dax for the kselftest's fs-dax case.
[ "$kernel" != debug ] || cmdline+=" memmap=128M!4G"
# la57=off: TCG's "max" CPU offers 5-level paging, under which the debug
# kernel's early-boot KASAN shadow trips over interrupts (a wild-memory-access
# report in handle_edge_irq before SMP bring-up, unrelated to what we test).
args=(
	-M q35 -accel tcg -cpu max,la57=off -smp 2 -m 4G
	-nodefaults -no-user-config -display none -vga none -no-reboot
	-bios "$firmware/qboot.rom" -L "$firmware"
	-kernel "$bzimage" -initrd "$res/initrd"
	-append "$cmdline ${USERPTR_CMDLINE:-}"
	-serial "file:$res/kernel.log" -serial "file:$res/output.log"
	-device "${USERPTR_GPU_DEVICE:-virtio-gpu-pci,blob=on,x-blob-read-only=on}"
	-qmp "unix:$qmp,server=on,wait=off"
	# The host channel: guest tests ask what the device sees through it.
	-device virtio-serial-pci,id=vser0
	-chardev "socket,id=hostchan,path=$res/host.sock,server=on,wait=off"
	-device virtserialport,bus=vser0.0,chardev=hostchan,name=org.virtio-gpu-userptr.host
	# The gdbstub, for the relay only: a race test holds one vCPU with it.
	-gdb "unix:$res/gdb.sock,server=on,wait=off"
)
printf '%q ' "$qemu" "${args[@]}" >"$res/qemu-cmdline"
: >"$res/output.log"
tail -n +1 -f "$res/output.log" 2>/dev/null | grep --line-buffered -v '^USERPTR-EXIT: ' &
tailpid=$!
# The relay turns the guest's requests on the host channel into QMP calls.
python3 "$TOP/scripts/host-relay.py" "$qmp" "$res/host.sock" "$res/host-relay.log" "$res/gdb.sock" &
relaypid=$!
qrc=0
timeout -k 10 "$timeout" "$qemu" "${args[@]}" >"$res/qemu.log" 2>&1 || qrc=$?
sleep 0.3
kill "$tailpid" "$relaypid" 2>/dev/null || true
wait "$tailpid" "$relaypid" 2>/dev/null || true

# The one splat scan of this run.
splat=no
if [ -f "$res/kernel.log" ] && ! "$TOP/scripts/splat.sh" "$res/kernel.log" >"$res/splat.txt" 2>&1; then
	splat=yes
fi
rc=$(sed -n 's/^USERPTR-EXIT: \([0-9]*\).*/\1/p' "$res/output.log" | tail -n 1)

if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
	verdict hung "${rc:-none}" "$splat"
	fail "the guest hung: no result within ${timeout}s (logs: ${res#"$TOP"/}/kernel.log, output.log)"
fi
if [ $qrc -ne 0 ]; then
	verdict qemu-failed "${rc:-none}" "$splat"
	fail "QEMU exited with status $qrc: $(head -n 1 "$res/qemu.log") (log: ${res#"$TOP"/}/qemu.log)"
fi
if ! grep -q 'userptr-init: started' "$res/kernel.log"; then
	verdict no-boot none "$splat"
	fail "the $kernel kernel did not boot to init: $(grep -E -m1 'Kernel panic|No working init|Oops' "$res/kernel.log" || tail -n 1 "$res/kernel.log") (log: ${res#"$TOP"/}/kernel.log)"
fi
verdict ok "${rc:-none}" "$splat"
[ $splat = no ] || cat "$res/splat.txt" >&2
if [ -z "$rc" ]; then
	fail "the guest stopped before the payload finished (log: ${res#"$TOP"/}/kernel.log)"
fi
[ $splat = no ] || exit 1
exit "$rc"
