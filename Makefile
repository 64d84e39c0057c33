# virtio-gpu userptr: the guest (linux/) and host (qemu/) series and the
# harness that builds, boots and tests them. Every target is documented in
# README.md; each one installs what it misses and builds what is stale.

SHELL := /bin/bash
S := scripts

.PHONY: help run check bench soak fuzz vm-test vm-test-3d vm-exec tree export series-status \
	kernel kernel-release qemu guest harness-test clean distclean

help:
	@sed -n 's/^## \(make .*\)/\1/p' README.md

# The main job: build what is missing, boot, run the demo (or the smoke test).
run:
	@$(S)/run.sh

# Everything a reviewer runs; ends with 'N passed, N failed'.
check:
	@$(S)/check.sh

# Benchmarks on the release kernel: table, build/results/bench.json, plot.
bench:
	@$(S)/bench.sh

vm-test:
	@$(S)/deps.sh fetch kernel qemu guest
	@$(S)/vm-test.sh

# The fault sweeps and a seeded soak in the debug guest (SOAK_SECONDS, default 600).
soak:
	@$(S)/deps.sh fetch kernel qemu guest
	@$(S)/soak.sh

# QEMU's generic-fuzz on the virtio-gpu blob device (libFuzzer, ASan, UBSan)
# for FUZZ_SECONDS (600); build/results/fuzz/summary.json.
fuzz:
	@$(S)/fuzz.sh

# The 3D suite on QEMU with virglrenderer (our series and the stock QEMU).
vm-test-3d:
	@$(S)/deps.sh fetch kernel qemu guest host3d
	@$(S)/vm-test-3d.sh

vm-exec:
	@$(S)/deps.sh fetch kernel qemu guest
	@$(S)/vm-exec.sh "$(PROG)" $(ARGS)

tree:
	@$(S)/tree.sh linux
	@$(S)/tree.sh qemu

export:
	@$(S)/export.sh linux
	@$(S)/export.sh qemu

series-status:
	@$(S)/series-status.sh linux qemu

kernel:
	@$(S)/build-kernel.sh debug

kernel-release:
	@$(S)/build-kernel.sh release

qemu:
	@$(S)/build-qemu.sh

# QEMU built with ASan and UBSan (build/qemu-asan), running the qtest.
.PHONY: qemu-asan
qemu-asan:
	@$(S)/qtest.sh --asan

guest: kernel
	@$(S)/build-guest.sh

# Tests of the harness itself (its failure modes).
harness-test:
	@$(S)/harness-test.sh

clean:
	rm -rf build/linux-* build/qemu build/guest build/results build/logs

distclean:
	@$(S)/series-status.sh linux qemu
	rm -rf build
