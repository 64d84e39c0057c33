#!/usr/bin/env bash
# make bench: boot the release guest kernel on the patched QEMU, run
# guest/userptr-bench.c, and report: a table on stdout, build/results/
# bench.json, and a plot (build/results/bench.png) of registration time
# against size. The goals are printed beside the figures; they are not
# assertions.
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/deps.sh" fetch kernel qemu guest bench
"$TOP/scripts/build-kernel.sh" release >/dev/null
"$TOP/scripts/build-kernel.sh" debug >/dev/null # the UAPI headers the programs use
"$TOP/scripts/build-qemu.sh" >/dev/null
bin=$("$TOP/scripts/build-guest.sh")

stage "bench: booting the release kernel and running userptr-bench (a few minutes under TCG)"
"$TOP/scripts/boot.sh" --kernel release --name bench --timeout 3600 \
	--file "$bin/userptr-bench" --run "/opt/bin/userptr-bench" >"$LOGS/bench-output.log" ||
	die "the benchmark failed in the guest (build/results/bench/output.log)"
python3 "$TOP/scripts/bench-report.py" "$RESULTS/bench/output.log" "$RESULTS"
