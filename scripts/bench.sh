#!/usr/bin/env bash
# make bench: boot the release guest kernel on the patched QEMU, run
# guest/userptr-bench.c, and report: a table on stdout, build/results/
# bench.json (always valid JSON; {"ok": false, "error": ...} on a failure),
# bench.txt, and a plot per family (bench-sizes.png, bench-live.png,
# bench-teardown.png). The goals are printed beside the figures; they are
# not assertions.
#
# Environment:
#   USERPTR_BZIMAGE     boot this kernel instead of building the release one
#   USERPTR_CMDLINE     extra guest kernel arguments (scripts/boot.sh)
#   USERPTR_BENCH_ARGS  arguments of userptr-bench (-n SAMPLES, -t SAMPLES at 10000)
#   USERPTR_BENCH_NAME  another name than "bench": boot results and the report go
#                       to build/results/NAME/ and NAME-report/ (the harness test uses it)
#
# The guest refuses to measure on a coarse clock (jiffies): that is a
# one-line error and a non-zero exit, with bench.json saying so.
. "$(dirname "$0")/lib.sh"

name=${USERPTR_BENCH_NAME:-bench}
res=$RESULTS/$name out=$RESULTS
[ "$name" = bench ] || out=$RESULTS/$name-report # boot.sh empties $res
mkdir -p "$out"
envf=$out/bench-env.txt rssf=$out/bench-rss.txt
rm -f "$envf" "$rssf" "$out"/bench.json "$out"/bench.txt "$out"/bench-*.png "$out"/bench-*.dat
: >"$rssf"

fail() {
	python3 "$TOP/scripts/bench-report.py" "$out" --error "$*" "$envf" || true
	die "$*"
}

"$TOP/scripts/deps.sh" fetch kernel qemu guest bench
if [ -n "${USERPTR_BZIMAGE:-}" ]; then
	[ -f "$USERPTR_BZIMAGE" ] || fail "USERPTR_BZIMAGE=$USERPTR_BZIMAGE: no such file"
	# Its configuration: a copy beside it (NAME.config), or its build tree's.
	kconfig=${USERPTR_BZIMAGE}.config
	[ -f "$kconfig" ] || kconfig=$(dirname "$USERPTR_BZIMAGE")/../../../.config
else
	"$TOP/scripts/build-kernel.sh" release >/dev/null
	kconfig=$BUILD/linux-release/.config
fi
[ -f "$BUILD/linux-debug/usr/include/drm/virtgpu_drm.h" ] ||
	"$TOP/scripts/build-kernel.sh" debug >/dev/null # the UAPI headers the programs use
"$TOP/scripts/build-qemu.sh" >/dev/null
bin=$("$TOP/scripts/build-guest.sh")

# What was measured: both series, the kernel configuration, the host.
{
	echo "main_commit $(git -C "$TOP" rev-parse HEAD 2>/dev/null || echo unknown)"
	for s in linux qemu; do
		echo "${s}_series $(git -C "$TOP" log -1 --format=%H -- "$s/patches" 2>/dev/null || echo unknown)"
		echo "${s}_commit $(git -C "$BUILD/src/$s" rev-parse HEAD 2>/dev/null || echo unknown)"
		echo "${s}_worktree_edits $(git -C "$BUILD/src/$s" status --porcelain -uno 2>/dev/null | wc -l)"
	done
	echo "bzimage ${USERPTR_BZIMAGE:-build/linux-release/arch/x86/boot/bzImage}"
	echo "kernel_config_sha256 $( { sha256sum <"$kconfig" || echo unknown; } 2>/dev/null | cut -d' ' -f1)"
	echo "cmdline_extra ${USERPTR_CMDLINE:-}"
	echo "host_cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "host_cores $(nproc)"
	echo "load_start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$envf"

# QEMU's resident set, read when the guest asks for it ("BENCH-RSS tag" on
# its output, which arrives through tail -f: no polling loop here).
qemu_rss() {
	local pid
	for pid in $(pgrep -f -- "$res/kernel.log" || true); do
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		qemu-system*) awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; return ;;
		esac
	done
	echo unknown
}
watch_rss() {
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		printf '%s\n' "$line"
		case $line in
		"BENCH-RSS "*) echo "${line#BENCH-RSS } $(qemu_rss)" >>"$rssf" ;;
		esac
	done
}

stage "bench: booting ${USERPTR_BZIMAGE:-the release kernel} and running userptr-bench (about 10 minutes under TCG)"
rc=0
"$TOP/scripts/boot.sh" --kernel release --name "$name" --timeout 3600 \
	--file "$bin/userptr-bench" --run "/opt/bin/userptr-bench ${USERPTR_BENCH_ARGS:-}" |
	watch_rss >"$LOGS/$name-output.log" || rc=$?
{
	echo "load_end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "kernel $(sed -n 's/.*Linux version \([^ ]*\).*/\1/p' "$res/kernel.log" 2>/dev/null | head -n 1)"
	echo "accel $(grep -o -- '-accel [a-z]*' "$res/qemu-cmdline" 2>/dev/null | cut -d' ' -f2)"
	echo "smp $(grep -o -- '-smp [0-9]*' "$res/qemu-cmdline" 2>/dev/null | cut -d' ' -f2)"
	echo "memory $(grep -o -- ' -m [0-9A-Za-z]*' "$res/qemu-cmdline" 2>/dev/null | cut -d' ' -f3)"
	echo "guest_tsc $(grep -E 'tsc: |PMTIMER|PM-Timer' "$res/kernel.log" 2>/dev/null | sed 's/^\[[^]]*\] //' | tr -d '\r' | paste -sd ';' -)"
	echo "guest_clocksource $(grep -o 'Switched to clocksource [a-z_-]*' "$res/kernel.log" 2>/dev/null | tail -n 1 | cut -d' ' -f4)"
} >>"$envf"
if [ "$rc" -ne 0 ]; then
	err=$(sed -n 's/^userptr-bench: error: //p' "$res/output.log" 2>/dev/null | tr -d '\r' | head -n 1)
	[ -n "$err" ] || err="the benchmark failed in the guest (exit $rc; log: ${res#"$TOP"/}/output.log, kernel.log)"
	# What was measured before the failure is still reported (bench.json says ok: false).
	if grep -q '^BENCH {' "$res/output.log" 2>/dev/null; then
		python3 "$TOP/scripts/bench-report.py" "$out" "$res/output.log" "$envf" "$rssf" "$err" >&2 || true
		die "$err"
	fi
	fail "$err"
fi
python3 "$TOP/scripts/bench-report.py" "$out" "$res/output.log" "$envf" "$rssf" ||
	fail "bench-report.py could not read the benchmark's output (${res#"$TOP"/}/output.log)"
