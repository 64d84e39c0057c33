#!/usr/bin/env bash
# Build every patch of both series on its own, in order, in the work trees:
# each commit of base..HEAD is checked out and built incrementally (the
# debug kernel's and QEMU's object trees), then the tree returns to its
# branch. For Linux, drivers/gpu/drm/virtio is also built with W=1 and
# sparse (C=1, CHECK= the sparse 0.6.5~rc1 that scripts/sparse.sh builds into
# the cache) at base and at each commit: a warning that base does not have
# fails that commit.
#
# Linux configurations: every step starts again from the debug kernel's
# configuration (as built at HEAD), run through olddefconfig at that commit,
# so an option the series adds late (its KUnit tests) is back on at the
# commit that adds it. The kernel builds use it as it is: debug.config turns
# MMU_NOTIFIER on at every commit (see there), so no step recompiles the
# whole kernel. The W=1 and sparse builds of the driver run in their own
# object directory (build/linux-bisect-w1) with X86_SGX off, so each commit
# compiles the driver with MMU_NOTIFIER as its own Kconfig leaves it: a
# patch that used the notifier before the one that selects it fails there.
# At HEAD the step's configuration must be the debug kernel's, and the W=1
# build must compile every object the debug build has in the driver's
# directory.
#
# Prints one 'PASS name' or 'FAIL name' line per case, a failure followed by
# its details indented (the new warnings, the build errors); exits non-zero
# on a failure. Refuses to run on a work tree whose work is not in the series.
#
# For the harness's own tests: BISECT_LINUX_TREE=DIR BISECT_LINUX_OBJ=DIR
# bisect base..HEAD of DIR (a throw-away git tree with the tag 'base') in the
# configured object directory BISECT_LINUX_OBJ instead, Linux only;
# BISECT_LINUX_TARGET (default bzImage) is what each step builds.
. "$(dirname "$0")/lib.sh"

rc=0
trees=(linux qemu)
if [ -n "${BISECT_LINUX_TREE:-}" ]; then
	[ -f "${BISECT_LINUX_OBJ:?BISECT_LINUX_OBJ: a configured object directory}/.config" ] ||
		die "BISECT_LINUX_OBJ=$BISECT_LINUX_OBJ has no .config"
	trees=(linux)
else
	"$TOP/scripts/series-status.sh" linux qemu >/dev/null ||
		die "the work trees hold work that is not in the series (make series-status): export it first"
fi

SPARSE=$("$TOP/scripts/sparse.sh") || die "could not build sparse (scripts/sparse.sh)"

# Does the kernel accept this sparse? Linux 7.2 needs one that knows
# __typeof_unqual__ (Debian's 0.6.4 does not; 0.6.5~rc1 does).
sparse_ok() {
	[ "$(cd "$1" && sh scripts/checker-valid.sh "$SPARSE" -m64 2>/dev/null)" = 1 ]
}

warnings() {
	# Warnings of W=1 and sparse in the driver, without line
	# numbers, so that code moving down a file is not a new warning. The
	# directory's objects are removed first so that every file is compiled
	# again; a run that compiled nothing is an error, not a clean result.
	local src=$1 obj=$2 raw=$LOGS/bisect-w1-raw.log
	find "$obj/drivers/gpu/drm/virtio" -name '*.o' -delete 2>/dev/null || true
	make -C "$src" O="$obj" CC="$KCC" -j"$(nproc)" W=1 C=1 CHECK="$SPARSE" \
		drivers/gpu/drm/virtio/ >"$raw" 2>&1 || true
	grep -q '^  CC .*drivers/gpu/drm/virtio/virtgpu_drv.o' "$raw" ||
		die "the W=1 build compiled nothing in drivers/gpu/drm/virtio (log: ${raw#"$TOP"/})"
	# Every object compiled must have been checked by sparse too.
	[ "$(grep -c '^  CHECK .*drivers/gpu/drm/virtio/.*\.c$' "$raw")" -ge \
		"$(grep -c '^  CC .*drivers/gpu/drm/virtio/.*\.o$' "$raw")" ] ||
		die "sparse did not check every file it compiled in drivers/gpu/drm/virtio (log: ${raw#"$TOP"/})"
	cp "$raw" "$LOGS/bisect-w1-raw-$3.log"
	{ grep -E '(warning|error):' "$raw" || true; } |
		sed -E "s#$src/##g; s/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/" | LC_ALL=C sort
}

for w in "${trees[@]}"; do
	src=$BUILD/src/$w
	[ $w != linux ] || src=${BISECT_LINUX_TREE:-$src}
	commits=$(git -C "$src" rev-list --reverse base..HEAD)
	[ -n "$commits" ] || continue
	head=$(git -C "$src" symbolic-ref -q --short HEAD || git -C "$src" rev-parse HEAD)
	trap 'git -C "$src" checkout -q "$head"' EXIT
	if [ $w = linux ]; then
		if [ -n "${BISECT_LINUX_TREE:-}" ]; then
			obj=$BISECT_LINUX_OBJ w1obj=$BISECT_LINUX_OBJ
		else
			ensure_built kernel-debug
			obj=$BUILD/linux-debug w1obj=$BUILD/linux-bisect-w1
			mkdir -p "$w1obj"
		fi
		# The configurations every step starts from (see the header).
		cp "$obj/.config" "$obj/.config.bisect"
		sed 's/^CONFIG_X86_SGX=y$/# CONFIG_X86_SGX is not set/' "$obj/.config" >"$w1obj/.config.bisect-w1"
		# What the debug build compiled in the driver's directory at HEAD.
		(cd "$obj" && find drivers/gpu/drm/virtio -name '*.o' ! -name '*built-in*' ! -name '*.mod.o' | LC_ALL=C sort) \
			>"$obj/.bisect-objects-head.txt"
		# A commit that changes no Kconfig file would configure to what the
		# previous step did (olddefconfig reads only those): such a step
		# keeps the previous configuration (twice 5 s saved a step).
		configured_at=
		configure() {
			if [ -n "$configured_at" ] &&
				git -C "$src" diff --quiet "$configured_at" HEAD -- ':(glob)**/Kconfig*'; then
				return
			fi
			configured_at=$(git -C "$src" rev-parse HEAD)
			cp "$obj/.config.bisect" "$obj/.config"
			[ "$w1obj" = "$obj" ] || cp "$w1obj/.config.bisect-w1" "$w1obj/.config"
			make -C "$src" O="$obj" -s olddefconfig >/dev/null
			[ "$w1obj" = "$obj" ] || make -C "$src" O="$w1obj" -s olddefconfig >/dev/null
		}
		wkind="W=1 and sparse"
		git -C "$src" checkout -q --detach base
		configure
		if sparse_ok "$src"; then
			echo "PASS linux: $(basename "${SPARSE%/bin/sparse}") (built from Debian's source) parses Linux $LINUX_VERSION (scripts/checker-valid.sh)"
		else
			echo "FAIL linux: sparse ($SPARSE) cannot parse Linux $LINUX_VERSION (scripts/checker-valid.sh)"
			rc=1
		fi
		warnings "$src" "$w1obj" base >"$LOGS/bisect-warnings-base.txt"
	else
		ensure_built qemu
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
			configure
			warnings "$src" "$w1obj" "$n" >"$LOGS/bisect-warnings-$n.txt"
			if [ "$c" = "$(git -C "$src" rev-parse "$head")" ] && [ -z "${BISECT_LINUX_TREE:-}" ]; then
				missed=$(grep -oE '^  CC +drivers/gpu/drm/virtio/[^ ]+\.o$' "$LOGS/bisect-w1-raw-$n.log" |
					awk '{print $2}' | LC_ALL=C sort | LC_ALL=C comm -23 "$obj/.bisect-objects-head.txt" -)
				if ! cmp -s "$obj/.config" "$obj/.config.bisect"; then
					echo "FAIL linux $(printf %04d $n): the step's configuration at HEAD is the debug kernel's ($(diff "$obj/.config.bisect" "$obj/.config" | grep -c '^[<>]') lines differ)"
					rc=1
				elif [ -n "$missed" ]; then
					echo "FAIL linux $(printf %04d $n): the W=1 and sparse build compiles every object of the debug build in drivers/gpu/drm/virtio (missing: $(echo "$missed" | tr '\n' ' '))"
					rc=1
				else
					echo "PASS linux $(printf %04d $n): at HEAD the step's configuration is the debug kernel's, and the W=1 and sparse build compiles every object of the debug build in drivers/gpu/drm/virtio ($(grep -c . "$obj/.bisect-objects-head.txt"))"
				fi
			fi
			new=$(LC_ALL=C comm -13 "$LOGS/bisect-warnings-base.txt" "$LOGS/bisect-warnings-$n.txt")
			if [ -n "$new" ]; then
				echo "FAIL linux $(printf %04d $n): no new $wkind warnings in drivers/gpu/drm/virtio ($(grep -c . <<<"$new") new; log: build/logs/bisect-w1-raw-$n.log)"
				printf '%s\n' "$new" | head -n 10 | sed 's/^/       /'
				rc=1
			else
				echo "PASS linux $(printf %04d $n): no new $wkind warnings in drivers/gpu/drm/virtio"
			fi
			ok=0
			make -C "$src" O="$obj" CC="$KCC" -j"$(nproc)" "${BISECT_LINUX_TARGET:-bzImage}" >"$log" 2>&1 || ok=1
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
