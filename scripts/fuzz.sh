#!/usr/bin/env bash
# make fuzz: the patched virtio-gpu device under QEMU's own fuzzer.
#
# QEMU's generic-fuzz target (tests/qtest/fuzz/generic_fuzz.c) drives a
# q35 machine with '-device virtio-gpu-pci,blob=on,x-blob-read-only=on'
# through its PCI BARs and guest memory (DMA patterns), under libFuzzer,
# AddressSanitizer (leaks included) and UndefinedBehaviorSanitizer, built
# with clang. It starts from the committed seed corpus fuzz/corpus/ (valid
# blob command sequences, made by scripts/fuzz-corpus.py) and runs for
# FUZZ_SECONDS (default 600) of libFuzzer's -max_total_time.
#
# Source: a snapshot (git archive) of the QEMU work tree's HEAD in
# build/fuzz/src, taken again when HEAD moves (never while a rebase or am is
# in progress there); objects in build/fuzz/obj, ccache as the other builds.
# Results: build/results/fuzz/summary.json (executions, coverage, features,
# corpus, crashes, leaks, seconds), fuzz.log, and crash/leak inputs under
# build/results/fuzz/crashes/. Exits non-zero on a crash, a leak, or a
# sanitizer report.
#
# Usage: fuzz.sh [--build-only]
#   FUZZ_SECONDS=N      run time (default 600)
#   FUZZ_NO_TREE=1      do not update build/src/qemu from the series files
#                       first (fuzz its HEAD as it is)
#   FUZZ_ARGS='...'     more libFuzzer options (e.g. -seed=1 -runs=1000)
#   FUZZ_PATCH=FILE     apply a diff (-p1, against build/src/qemu) to the
#                       snapshot first: a fix tried under the fuzzer before
#                       it goes into the series
#   FUZZ_REPRODUCE=FILE run one input (a crash) instead of fuzzing; its
#                       qtest trace goes to FILE.trace
. "$(dirname "$0")/lib.sh"

seconds=${FUZZ_SECONDS:-600}
case $seconds in '' | *[!0-9]*) die "FUZZ_SECONDS must be a number of seconds, not '$seconds'" ;; esac
tree=$BUILD/src/qemu
fz=$BUILD/fuzz
src=$fz/src
obj=$fz/obj
out=$RESULTS/fuzz
bin=$obj/qemu-fuzz-x86_64

"$TOP/scripts/deps.sh" fetch qemu fuzz
[ -n "${FUZZ_NO_TREE:-}" ] || "$TOP/scripts/tree.sh" qemu >/dev/null
[ -d "$tree/.git" ] || die "no QEMU work tree in build/src/qemu (run make tree)"

# The snapshot: the work tree's HEAD (with FUZZ_PATCH applied, if given),
# unpacked in a scratch directory and synced by content, so that files which
# did not change keep their mtimes and the build stays incremental.
head=$(git -C "$tree" rev-parse HEAD)
patch=
if [ -n "${FUZZ_PATCH:-}" ]; then
	patch=$(cd "$(dirname "$FUZZ_PATCH")" && pwd)/$(basename "$FUZZ_PATCH")
	[ -f "$patch" ] || die "FUZZ_PATCH: no file '$FUZZ_PATCH'"
fi
want="$head${patch:+ $(sha256sum <"$patch" | cut -c1-16)}"
busy=
for d in rebase-merge rebase-apply MERGE_HEAD CHERRY_PICK_HEAD; do
	[ -e "$tree/.git/$d" ] && busy=$d
done
if [ "$(cat "$fz/src.commit" 2>/dev/null)" != "$want" ]; then
	if [ -n "$busy" ] && [ -d "$src" ] && [ -z "$patch" ]; then
		info "build/src/qemu is in the middle of a git operation ($busy): fuzzing the snapshot of $(cut -c1-12 "$fz/src.commit")"
	elif [ -n "$busy" ]; then
		die "build/src/qemu is in the middle of a git operation ($busy); run again when it is done"
	else
		stage "fuzz: snapshot of build/src/qemu at $(git -C "$tree" log --oneline -1 HEAD | cut -c1-70)${patch:+ with $FUZZ_PATCH}"
		rm -rf "$fz/src.new"
		mkdir -p "$fz/src.new" "$src"
		git -C "$tree" archive HEAD | tar -x -C "$fz/src.new"
		if [ -n "$patch" ]; then
			patch -s -p1 -d "$fz/src.new" <"$patch" || die "FUZZ_PATCH $FUZZ_PATCH does not apply to build/src/qemu's HEAD"
		fi
		# The harness's device list, where configure looks for it, and
		# build-qemu.sh's placeholders for the EDK2 images of the +ds tarball.
		cp "$TOP/qemu/devices.mak" "$fz/src.new/configs/devices/x86_64-softmmu/userptr.mak"
		for f in $(sed -n "s/^ *'\(edk2-[a-z0-9_-]*\.fd\)',$/\1/p" "$fz/src.new/pc-bios/meson.build"); do
			bzip2 -c </dev/null >"$fz/src.new/pc-bios/$f.bz2"
		done
		rsync -rlc --delete "$fz/src.new/" "$src/"
		rm -rf "$fz/src.new"
		printf '%s\n' "$want" >"$fz/src.commit"
	fi
fi

# clang with libFuzzer, ASan and UBSan. Only the fuzz target is built; KVM
# stands in for TCG as the configured accelerator (the fuzzer runs with
# accel=qtest and needs neither; KVM's code is a fraction of TCG's).
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
if [ ! -f "$obj/build.ninja" ]; then
	stage "fuzz: configuring QEMU (clang, --enable-fuzzing --enable-asan --enable-ubsan)"
	rm -rf "$obj"
	mkdir -p "$obj"
	run_logged fuzz-configure sh -c "cd '$obj' && nice -n 10 '$src/configure' \
		--python=/usr/bin/python3 --cc='ccache clang' --cxx='ccache clang++' \
		--enable-fuzzing --enable-asan --enable-ubsan \
		--target-list=x86_64-softmmu \
		--without-default-features --without-default-devices \
		--with-devices-x86_64=userptr \
		--enable-pixman --disable-tcg --enable-kvm --disable-docs \
		--disable-install-blobs --disable-werror --disable-download"
fi
stage "fuzz: building qemu-fuzz-x86_64 (log: build/logs/fuzz-build.log)"
t0=$(date +%s)
run_progress fuzz-build nice -n 10 ninja -j2 -C "$obj" qemu-fuzz-x86_64
build_seconds=$(($(date +%s) - t0))
# Firmware for the q35 machine, where a binary in the build tree looks.
fw=$obj/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin; do
	[ -e "$fw/$(basename "$f")" ] || ln -sf "$f" "$fw/$(basename "$f")"
done
[ "${1:-}" = --build-only ] && { printf '%s\n' "$bin"; exit 0; }

# The machine and the device: QEMU_FUZZ_ARGS and QEMU_FUZZ_OBJECTS are
# generic-fuzz's configuration (an entry of generic_fuzz_configs.h sets the
# same two variables); it adds -machine accel=qtest, -display none and
# -m 512M. QEMU_AVOID_DOUBLE_FETCH as the predefined configurations set it:
# a guest range read twice within one operation is filled once, which the
# seeds of fuzz-corpus.py rely on.
export QEMU_FUZZ_ARGS="-machine q35 -nodefaults -device virtio-gpu-pci,blob=on,x-blob-read-only=on${FUZZ_QEMU_EXTRA:+ $FUZZ_QEMU_EXTRA}"
export QEMU_FUZZ_OBJECTS='virtio*'
export QEMU_AVOID_DOUBLE_FETCH=1
# Every sanitizer finding stops the run and leaves its input behind (UBSan
# reports are recoverable by default: make them fatal).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:symbolize=1
export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

if [ -n "${FUZZ_REPRODUCE:-}" ]; then
	[ -f "$FUZZ_REPRODUCE" ] || die "FUZZ_REPRODUCE: no file '$FUZZ_REPRODUCE'"
	f=$(cd "$(dirname "$FUZZ_REPRODUCE")" && pwd)/$(basename "$FUZZ_REPRODUCE")
	stage "fuzz: running $FUZZ_REPRODUCE once (its qtest trace: $FUZZ_REPRODUCE.trace)"
	cd "$fz"
	rc=0
	# As the input of a corpus (-runs=0 DIR), where libFuzzer looks for
	# leaks input by input; a file given alone is not checked for them.
	rm -rf "$fz/reproduce"
	mkdir -p "$fz/reproduce"
	cp "$f" "$fz/reproduce/"
	"$bin" --fuzz-target=generic-fuzz -runs=0 -artifact_prefix="$fz/reproduce/" "$fz/reproduce" || rc=$?
	QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 ASAN_OPTIONS=detect_leaks=0 \
		"$bin" --fuzz-target=generic-fuzz -runs=1 "$f" >"$f.trace" 2>&1 || true
	exit $rc
fi

corpus=$TOP/fuzz/corpus
[ -n "$(ls -A "$corpus" 2>/dev/null)" ] || die "no seed corpus in fuzz/corpus (scripts/fuzz-corpus.py writes it)"
python3 "$TOP/scripts/fuzz-corpus.py" --check "$corpus" ||
	die "fuzz/corpus is not what scripts/fuzz-corpus.py makes: run it and commit fuzz/corpus"
rm -rf "$out"
mkdir -p "$out/crashes" "$out/corpus"
log=$out/fuzz.log

# The seeds must reach the device: run each once with the device's trace
# events on and count the commands it carried out. A corpus that no longer
# fits the device (another BAR layout, say) fails here instead of fuzzing
# from nothing. Sanitizer findings are left to the run itself (a seed that
# crashes is reported there, with its input).
stage "fuzz: seed check (each seed once, the device's trace events on)"
(cd "$fz" && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS= \
	QEMU_FUZZ_ARGS="$QEMU_FUZZ_ARGS -trace virtio_gpu_cmd_*" \
	"$bin" --fuzz-target=generic-fuzz -runs=0 -detect_leaks=0 \
	-artifact_prefix="$out/seed-check-" "$corpus") >"$out/seed-check.log" 2>&1 || true
rm -f "$out"/seed-check-*
seed_cmds=$(grep 'virtio_gpu_cmd_' "$out/seed-check.log" | grep -vc 'virtio_gpu_cmd_suspended' || true)
seed_blobs=$(grep -c 'virtio_gpu_cmd_res_create_blob' "$out/seed-check.log" || true)
seed_scanouts=$(grep -c 'virtio_gpu_cmd_set_scanout_blob' "$out/seed-check.log" || true)
info "the seeds carry out $seed_cmds device commands ($seed_blobs CREATE_BLOB, $seed_scanouts SET_SCANOUT_BLOB)"
[ "$seed_blobs" -gt 0 ] && [ "$seed_scanouts" -gt 0 ] ||
	die "the seeds do not reach the device's blob commands (log: ${out#"$TOP"/}/seed-check.log)"

stage "fuzz: generic-fuzz on virtio-gpu-pci (blob=on, x-blob-read-only=on) for ${seconds}s (log: ${log#"$TOP"/})"
t0=$(date +%s)
rc=0
# New inputs go to the first corpus directory (the run's, in the results);
# the committed seeds are only read. -close_fd_mask=1: QEMU's stdout.
(cd "$fz" && exec "$bin" --fuzz-target=generic-fuzz \
	-max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -max_len=8192 \
	-print_final_stats=1 -close_fd_mask=1 \
	-artifact_prefix="$out/crashes/" ${FUZZ_ARGS:-} \
	"$out/corpus" "$corpus") >"$log" 2>&1 &
pid=$!
n=0
while kill -0 "$pid" 2>/dev/null; do
	sleep 5
	n=$((n + 5))
	[ $((n % 60)) -ne 0 ] || info "[${n}s] $(grep -a '^#[0-9]' "$log" | tail -n 1 | cut -c1-100)"
done
wait "$pid" || rc=$?
wall=$(($(date +%s) - t0))

python3 - "$log" "$out" "$rc" "$wall" "$seconds" "$build_seconds" "$head" "$corpus" \
	"$seed_cmds" "$seed_blobs" "$seed_scanouts" <<'PY'
import json, os, re, sys
(log, out, rc, wall, seconds, build_s, head, corpus,
 s_cmds, s_blobs, s_scan) = sys.argv[1:]
text = open(log, errors="replace").read()
status = [l for l in text.splitlines() if re.match(r"#\d+\s", l)]


def fields(line):
    d = {}
    m = re.match(r"#(\d+)\s+(\w+)", line)
    if m:
        d["execs"], d["event"] = int(m.group(1)), m.group(2)
    for k in ("cov", "ft", "exec/s", "rss"):
        m = re.search(r"\b" + re.escape(k) + r": (\d+)", line)
        if m:
            d[k] = int(m.group(1))
    m = re.search(r"corp: (\d+)/(\S+)", line)
    if m:
        d["corp"], d["corp_size"] = int(m.group(1)), m.group(2)
    return d


inited = next((fields(l) for l in status if "INITED" in l), {})
last = fields(status[-1]) if status else {}
stats = {m.group(1): int(m.group(2)) for m in
         re.finditer(r"^stat::(\w+):\s+(\d+)", text, re.M)}
done = re.search(r"^Done (\d+) runs in (\d+) second", text, re.M)
arts = sorted(os.listdir(os.path.join(out, "crashes")))
kind = lambda p: len([a for a in arts if a.startswith(p)])
reports = re.findall(r"ERROR: (?:AddressSanitizer|LeakSanitizer)|runtime error:",
                     text)
s = {
    "engine": "libFuzzer (clang 14), QEMU generic-fuzz; ASan, UBSan, LeakSanitizer",
    "qemu_commit": head,
    "patch": os.environ.get("FUZZ_PATCH") or None,
    "qemu_args": os.environ["QEMU_FUZZ_ARGS"],
    "fuzz_objects": os.environ["QEMU_FUZZ_OBJECTS"],
    "seconds": int(wall),
    "max_total_time": int(seconds),
    "build_seconds": int(build_s),
    "executions": stats.get("number_of_executed_units",
                            int(done.group(1)) if done else last.get("execs", 0)),
    "exec_per_sec": stats.get("average_exec_per_sec", last.get("exec/s")),
    "coverage": last.get("cov"),
    "features": last.get("ft"),
    "coverage_after_seeds": inited.get("cov"),
    "features_after_seeds": inited.get("ft"),
    "corpus_units": last.get("corp"),
    "corpus_size": last.get("corp_size"),
    "new_units_added": stats.get("new_units_added"),
    "peak_rss_mb": stats.get("peak_rss_mb", last.get("rss")),
    "seeds": len(os.listdir(corpus)),
    "seed_check": {"device_commands": int(s_cmds), "create_blob": int(s_blobs),
                   "set_scanout_blob": int(s_scan)},
    "crashes": kind("crash-"),
    "leaks": kind("leak-"),
    "timeouts": kind("timeout-"),
    "ooms": kind("oom-"),
    "sanitizer_reports": len(reports),
    "artifacts": ["build/results/fuzz/crashes/" + a for a in arts],
    "libfuzzer_exit": int(rc),
    "log": "build/results/fuzz/fuzz.log",
}
s["ok"] = (s["crashes"] + s["leaks"] + s["timeouts"] + s["ooms"] +
           s["sanitizer_reports"] == 0 and s["libfuzzer_exit"] == 0)
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(s, f, indent=2)
    f.write("\n")
print("fuzz: %(executions)s executions in %(seconds)s s (%(exec_per_sec)s/s); "
      "coverage %(coverage)s, features %(features)s (%(coverage_after_seeds)s and "
      "%(features_after_seeds)s after the %(seeds)s seeds); corpus %(corpus_units)s "
      "units; crashes %(crashes)s, leaks %(leaks)s, timeouts %(timeouts)s, "
      "ooms %(ooms)s" % s)
if not s["ok"]:
    print("fuzz: FAILED: see build/results/fuzz/fuzz.log; inputs in "
          "build/results/fuzz/crashes/ (replay one with "
          "FUZZ_REPRODUCE=FILE scripts/fuzz.sh)", file=sys.stderr)
sys.exit(0 if s["ok"] else 1)
PY
