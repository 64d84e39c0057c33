#!/usr/bin/env bash
# Build every patch of both series on its own, in order, in the work trees:
# each commit of base..HEAD is checked out and built incrementally (the
# debug kernel's and QEMU's object trees), then the tree returns to its
# branch. For Linux, drivers/gpu/drm/virtio is also built with W=1 and
# sparse (C=2) at base and at each commit: a warning that base does not have
# fails that commit.
#
# Prints one 'PASS name' or 'FAIL name' line per case; exits non-zero on a
# failure. Refuses to run on a work tree whose work is not in the series.
. "$(dirname "$0")/lib.sh"

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
rc=0
"$TOP/scripts/series-status.sh" linux qemu >/dev/null ||
	die "the work trees hold work that is not in the series (make series-status): export it first"

# Does the kernel accept this machine's sparse? Linux 7.2 needs one that
# knows __typeof_unqual__; Debian's 0.6.4 does not.
sparse_ok() {
	[ "$(cd "$1" && sh scripts/checker-valid.sh sparse -m64 2>/dev/null)" = 1 ]
}

warnings() {
	# Warnings of W=1 (and sparse, where usable) in the driver, without line
	# numbers, so that code moving down a file is not a new warning. The
	# directory's objects are removed first so that every file is compiled
	# again; a run that compiled nothing is an error, not a clean result.
	local src=$1 obj=$2 raw=$LOGS/bisect-w1-raw.log check=()
	sparse_ok "$src" && check=(C=2)
	find "$obj/drivers/gpu/drm/virtio" -name '*.o' -delete 2>/dev/null || true
	make -C "$src" O="$obj" CC="ccache gcc" -j"$(nproc)" W=1 "${check[@]}" \
		drivers/gpu/drm/virtio/ >"$raw" 2>&1 || true
	grep -q '^  CC .*drivers/gpu/drm/virtio/virtgpu_drv.o' "$raw" ||
		die "the W=1 build compiled nothing in drivers/gpu/drm/virtio (log: ${raw#"$TOP"/})"
	if [ ${#check[@]} -gt 0 ]; then
		grep -q '^  CHECK .*drivers/gpu/drm/virtio/' "$raw" ||
			die "sparse checked nothing in drivers/gpu/drm/virtio (log: ${raw#"$TOP"/})"
	fi
	{ grep -E '(warning|error):' "$raw" || true; } |
		sed -E 's/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/' | sort -u
}

for w in linux qemu; do
	src=$BUILD/src/$w
	commits=$(git -C "$src" rev-list --reverse base..HEAD)
	[ -n "$commits" ] || continue
	head=$(git -C "$src" symbolic-ref -q --short HEAD || git -C "$src" rev-parse HEAD)
	trap 'git -C "$src" checkout -q "$head"' EXIT
	if [ $w = linux ]; then
		"$TOP/scripts/build-kernel.sh" debug >/dev/null
		obj=$BUILD/linux-debug
		wkind="W=1 and sparse"
		sparse_ok "$src" || wkind="W=1"
		sparse_ok "$src" ||
			echo "SKIP sparse (C=2) on drivers/gpu/drm/virtio: this machine's sparse ($(sparse --version 2>&1 | head -n 1)) is too old for Linux $LINUX_VERSION (it lacks __typeof_unqual__); W=1 still runs"
		git -C "$src" checkout -q --detach base
		warnings "$src" "$obj" >"$LOGS/bisect-warnings-base.txt"
	else
		"$TOP/scripts/build-qemu.sh" >/dev/null
		obj=$BUILD/qemu
	fi
	n=0
	for c in $commits; do
		n=$((n + 1))
		subj=$(git -C "$src" log -1 --format=%s "$c")
		name=$(printf '%s %04d builds (%s)' "$w" "$n" "$subj")
		git -C "$src" checkout -q --detach "$c"
		log=$LOGS/bisect-$w-$n.log
		if [ $w = linux ]; then
			warnings "$src" "$obj" >"$LOGS/bisect-warnings-$n.txt"
			new=$(comm -13 "$LOGS/bisect-warnings-base.txt" "$LOGS/bisect-warnings-$n.txt")
			if [ -n "$new" ]; then
				echo "FAIL linux $(printf %04d $n): no new $wkind warnings in drivers/gpu/drm/virtio"
				printf '%s\n' "$new" | head -n 10 | sed 's/^/       /'
				rc=1
			else
				echo "PASS linux $(printf %04d $n): no new $wkind warnings in drivers/gpu/drm/virtio"
			fi
			ok=0
			make -C "$src" O="$obj" CC="ccache gcc" -j"$(nproc)" bzImage >"$log" 2>&1 || ok=1
		else
			ok=0
			ninja -C "$obj" qemu-system-x86_64 >"$log" 2>&1 || ok=1
		fi
		if [ $ok -eq 0 ]; then
			echo "PASS $name"
		else
			echo "FAIL $name (log: ${log#"$TOP"/})"
			grep -E 'error|undefined' "$log" | head -n 5 | sed 's/^/       /'
			rc=1
		fi
	done
	git -C "$src" checkout -q "$head"
	trap - EXIT
done
exit $rc
