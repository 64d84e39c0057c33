#!/usr/bin/env bash
# Export the commits of the work tree build/src/WHAT (base..HEAD) back into
# the series files WHAT/patches/NNNN-*.patch. The cover letter
# (0000-cover-letter.patch) is written by hand and left alone.
#
# Usage: export.sh linux|qemu
. "$(dirname "$0")/lib.sh"

what=${1:?usage: export.sh linux|qemu}
src=$BUILD/src/$what
series_dir=$TOP/$what/patches
[ -d "$src/.git" ] || die "no work tree build/src/$what: run 'make tree' first"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
	die "build/src/$what has uncommitted edits: commit them there first (git -C build/src/$what status)"
[ -z "$(git -C "$src" status --porcelain --untracked-files=normal | grep '^??' | grep -v -E '^\?\? (configs/devices/x86_64-softmmu/userptr\.mak)$' || true)" ] ||
	info "note: untracked files in build/src/$what are not exported: $(git -C "$src" status --porcelain | grep '^??' | head -n 3 | tr '\n' ' ')"

mkdir -p "$series_dir"
series_files "$what" | xargs -r rm -f
# Stable output: zero commit ids and no version signature, so that applying
# and exporting again gives the same bytes.
series_format_patch "$what" "$series_dir"
# format-patch numbers from 0001: keep that, the cover letter is 0000.
series_record "$what"
info "$what: $(git -C "$src" rev-list --count base..HEAD) patches exported to ${series_dir#"$TOP"/}"
