#!/usr/bin/env bash
# For whoever changes the guest series: rewrite the commits of the Linux work
# tree (build/src/linux, base..HEAD) from its final state. Edit the code in the
# work tree and amend HEAD (the last patch); this gives every earlier commit
# the final version of the files it owns, so that a fix lands in the patch
# that introduced the code. Patch k's tree = its old tree with the final
# files overlaid by ownership (below); the core patch gets the final core
# files minus what the tracepoint/debugfs patch adds (split-core.py), and no
# commit before the KUnit patch gets the KUnit include. The final tree must
# stay HEAD's (checked). Then: scripts/export.sh linux, checkpatch, commit.
#
# Usage: scripts/dev/regen-linux-series.sh   (the work tree must be clean)
set -e
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$TOP/build/src/linux
cd $SRC
[ -z "$(git status --porcelain --untracked-files=no)" ] || { echo "uncommitted edits"; exit 1; }
D=drivers/gpu/drm/virtio
TMPD=$(mktemp -d)
FINAL=$TMPD/final
trap 'rm -rf "$TMPD"' EXIT
rm -rf $FINAL; mkdir -p $FINAL
git archive HEAD | tar -x -C $FINAL
python3 $TOP/scripts/dev/split-core.py userptr $FINAL/$D/virtgpu_userptr.c $TMPD/p3_userptr.c
python3 $TOP/scripts/dev/split-core.py drv $FINAL/$D/virtgpu_drv.h $TMPD/p3_drv.h
python3 $TOP/scripts/dev/split-core.py kms $FINAL/$D/virtgpu_kms.c $TMPD/p3_kms.c
rm -rf "$TOP/build/linux-series"; git clone -q "$SRC" "$TOP/build/linux-series"
cd "$TOP/build/linux-series"
git config user.name "virtio-gpu userptr developers"; git config user.email userptr@example.invalid
mapfile -t C < <(git log --reverse --format=%H base..HEAD)
[ ${#C[@]} -eq 14 ] || { echo "expected the 14 commits listed below, found ${#C[@]}: update this script"; exit 1; }
git checkout -q --detach ${C[0]}
ov() { mkdir -p $(dirname $1); cp "$FINAL/$1" "$1"; }
# 14 commits: 0 virtio_gpu.h, 1 negotiate, 2 vq -ENOMEM fix, 3 fence and
# queue helpers, 4 vq helpers, 5 answer helper, 6 irq-safe queue lock,
# 7 answers in the interrupt, 8 uapi, 9 core, 10 trace+debugfs, 11 docs,
# 12 selftests, 13 KUnit. Commits 3 to 7 keep their own files (vq.c and
# fence.c; the interrupt's drv.h and kms.c too): after a change to those,
# edit commits 3 to 7 by hand (git rebase -i); commit 2 is kept as it is.
for k in $(seq 1 13); do
  git read-tree -u --reset ${C[$k]}
  [ $k -ge 7 ] && { ov $D/virtgpu_vq.c; ov $D/virtgpu_fence.c; }
  [ $k -ge 8 ] && ov include/uapi/drm/virtgpu_drm.h
  if [ $k -eq 9 ]; then
    cp $TMPD/p3_userptr.c $D/virtgpu_userptr.c; cp $TMPD/p3_drv.h $D/virtgpu_drv.h; cp $TMPD/p3_kms.c $D/virtgpu_kms.c
    for f in virtgpu_submit.c virtgpu_ioctl.c virtgpu_object.c virtgpu_display.c virtgpu_gem.c; do ov $D/$f; done
  fi
  if [ $k -ge 10 ]; then
    for f in virtgpu_userptr.c virtgpu_drv.h virtgpu_kms.c virtgpu_submit.c virtgpu_ioctl.c virtgpu_trace.h virtgpu_object.c virtgpu_display.c virtgpu_gem.c virtgpu_debugfs.c; do ov $D/$f; done
  fi
  [ $k -ge 11 ] && ov Documentation/gpu/virtio-gpu-userptr.rst
  [ $k -ge 12 ] && { rm -rf tools/testing/selftests/drm; cp -r $FINAL/tools/testing/selftests/drm tools/testing/selftests/; ov tools/testing/selftests/Makefile; }
  # The KUnit include at the end of virtgpu_userptr.c belongs to commit 13.
  if [ $k -lt 13 ] && [ -f $D/virtgpu_userptr.c ]; then
    python3 - $D/virtgpu_userptr.c <<'PY'
import sys
p=sys.argv[1]; s=open(p).read()
blk='\n#if IS_ENABLED(CONFIG_DRM_VIRTIO_GPU_KUNIT_TEST)\n#include "tests/virtgpu_userptr_test.c"\n#endif\n'
open(p,'w').write(s.replace(blk,''))
PY
  fi
  git add -A
  git commit -q -C ${C[$k]}
done
# the final tree must be HEAD's
git diff --quiet HEAD ${C[13]} || { echo "final tree differs from the work tree HEAD:"; git diff --stat HEAD ${C[13]}; exit 1; }
cd $SRC
git fetch -q "$TOP/build/linux-series" HEAD
git reset -q --mixed FETCH_HEAD
git log --oneline base..HEAD
