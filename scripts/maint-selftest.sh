#!/usr/bin/env bash
# Can the maintainer checks fail? Each is run on a throw-away copy of the
# series with one planted defect, and must report it; the real series and
# work trees are not touched.
#   sparse      bisect-build.sh on base + one commit that adds a warning only
#               sparse gives (a plain integer as NULL pointer), building the
#               driver directory only, in its own object directory
#   kernel-doc  a struct member's description removed (virtgpu_userptr.c)
#   docs        an unknown document and an unclosed literal in the new rst
#   coccicheck  'if (p) kfree(p);' in virtgpu_userptr.c (ifnullfree.cocci)
#   uapi        a member inserted in the middle of a UAPI struct
#   qemu        a QEMU patch with an 82-column line (a checkpatch WARNING)
#               and an allow-list entry that matches nothing
#
# Usage: maint-selftest.sh [sparse|maint|qemu]...   (default: all)
# Prints 'PASS name' or 'FAIL name' per case; exits non-zero on a failure.
# Takes about 6 minutes on the 2-core machine (sparse 3, maint 3).
. "$(dirname "$0")/lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(sparse maint qemu)
tmp=$BUILD/maint-selftest
mkdir -p "$tmp"
rc=0

# expect NAME REGEX OUTPUT: OUTPUT has a FAIL line matching REGEX.
expect() {
	if grep -q -E -- "^FAIL .*$2" <<<"$3"; then
		echo "PASS $1"
	else
		echo "FAIL $1 (no FAIL line matching /$2/)"
		tail -n 5 <<<"$3" | sed 's/^/       /'
		rc=1
	fi
}

"$TOP/scripts/tree.sh" linux >/dev/null
plant_commit() { git_id -C "$1" commit -q -a -m "maint-selftest: planted defects"; }

for part in "${parts[@]}"; do
	case $part in
	sparse)
		t=$tmp/sparse
		rm -rf "$t" "$t-obj"
		git clone -q --shared --no-checkout "$BUILD/src/linux" "$t"
		git -C "$t" checkout -q -b plant base
		f=$t/drivers/gpu/drm/virtio/virtgpu_drv.c
		grep -q '^static int virtio_gpu_probe(struct virtio_device \*vdev)$' "$f" ||
			die "maint-selftest: virtio_gpu_probe() not found in $f"
		perl -0pi -e 's/(static int virtio_gpu_probe\(struct virtio_device \*vdev\)\n\{\n(?:\t[^\n]*;\n)*)/$1\tvoid *planted = 0;\n\n\tif (planted)\n\t\treturn -EINVAL;\n/' "$f"
		grep -q '^	void \*planted = 0;$' "$f" || die "maint-selftest: could not plant the sparse warning in $f"
		plant_commit "$t"
		mkdir -p "$t-obj"
		(cd "$t" && ./scripts/kconfig/merge_config.sh -n -O "$t-obj" \
			"$TOP/linux/kconfig/base.config" "$TOP/linux/kconfig/release.config") >"$LOGS/maint-selftest-config.log" 2>&1
		out=$(BISECT_LINUX_TREE=$t BISECT_LINUX_OBJ=$t-obj BISECT_LINUX_TARGET=drivers/gpu/drm/virtio/ \
			"$TOP/scripts/bisect-build.sh" 2>&1) || true
		expect "sparse: a bisect step with a new sparse warning fails, naming it" \
			'0001: no new W=1 and sparse warnings' "$out"
		grep -q '^       drivers/gpu/drm/virtio/virtgpu_drv.c: warning: Using plain integer as NULL pointer' <<<"$out" &&
			echo "PASS sparse: the failure lists the new warning" ||
			{ echo "FAIL sparse: the failure lists the new warning"; rc=1; }
		;;
	maint)
		t=$tmp/maint
		# shellcheck disable=SC2046
		series_clone linux "$t" arch/x86 include scripts tools Documentation usr drivers/gpu/drm/virtio \
			$(series_dirs linux) || die "the series does not apply to base"
		git -C "$t" checkout -q -B plant
		f=$t/drivers/gpu/drm/virtio/virtgpu_userptr.c
		# kernel-doc: drop the first '@member:' line of the first struct comment.
		sed -i '0,/^ \* @[a-z_]*: /{/^ \* @[a-z_]*: /d}' "$f"
		# coccicheck: a NULL check before kfree().
		sed -i '0,/^\tkfree(\([a-z_]*\));$/s//\tif (\1)\n\t\tkfree(\1);/' "$f"
		# uapi: a member inserted in the middle of the blob ioctl's argument.
		sed -i 's/^\t__u32 blob_hints;$/\t__u32 planted;\n\t__u32 blob_hints;/' "$t/include/uapi/drm/virtgpu_drm.h"
		# docs: an unknown document and an unclosed literal.
		printf '\nSee :doc:`no-such-document` and ``an unclosed literal.\n' >>"$t/Documentation/gpu/virtio-gpu-userptr.rst"
		plant_commit "$t"
		[ "$(git -C "$t" diff --stat HEAD~1 | tail -n 1 | grep -o '^ [0-9]* files')" = " 3 files" ] ||
			die "maint-selftest: the planted defects did not all apply ($(git -C "$t" diff --stat HEAD~1 | tail -n 1))"
		out=$(MAINT_TREE=$t "$TOP/scripts/maint-checks.sh" 2>&1) || true
		expect "kernel-doc: a struct member without description fails" "kernel-doc -Wall: [0-9]+ new warning" "$out"
		expect "docs: a new Sphinx warning fails" "docs: Sphinx: [0-9]+ new warning" "$out"
		expect "coccicheck: a new report fails" "coccicheck .*: [0-9]+ new report" "$out"
		expect "uapi: a member moved in a UAPI struct fails" "uapi: drm/virtgpu_drm.h is not compatible with base" "$out"
		;;
	qemu)
		p=$tmp/0099-planted.patch
		cat >"$p" <<'EOP'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: virtio-gpu userptr developers <userptr@example.invalid>
Date: Sat, 28 Nov 2026 00:00:00 +0000
Subject: [PATCH] planted: a checkpatch warning

A patch that only exists to show that a checkpatch warning fails.

Signed-off-by: virtio-gpu userptr developers <userptr@example.invalid>
---
 hw/display/virtio-gpu-base.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/hw/display/virtio-gpu-base.c b/hw/display/virtio-gpu-base.c
index 0000000..1111111 100644
--- a/hw/display/virtio-gpu-base.c
+++ b/hw/display/virtio-gpu-base.c
@@ -1,1 +1,2 @@
 /*
+/* planted: a comment line of more than eighty characters, a checkpatch WARNING */
EOP
		"$TOP/scripts/tree.sh" qemu >/dev/null
		out=$(python3 "$TOP/scripts/qemu-checkpatch.py" "$BUILD/src/qemu" "$TOP/qemu/checkpatch-allow.txt" "$p" 2>&1) || true
		expect "qemu checkpatch: a warning not in the allow-list fails" "qemu checkpatch 0099-planted.patch" "$out"
		grep -q '^       WARNING: line over 80 characters' <<<"$out" &&
			echo "PASS qemu checkpatch: the failure shows the warning" ||
			{ echo "FAIL qemu checkpatch: the failure shows the warning"; rc=1; }
		expect "qemu checkpatch: an allow-list entry that matches nothing fails" "allow-list: entry on line [0-9]+ matches no warning" "$out"
		printf 'include/* | some warning |\n' >"$tmp/allow-noreason.txt"
		out=$(python3 "$TOP/scripts/qemu-checkpatch.py" "$BUILD/src/qemu" "$tmp/allow-noreason.txt" "$p" 2>&1) || true
		expect "qemu checkpatch: an allow-list entry without a reason fails" "allow-list: entry on line 1 has no reason" "$out"
		;;
	*) die "maint-selftest.sh: unknown part '$part'" ;;
	esac
done
exit $rc
