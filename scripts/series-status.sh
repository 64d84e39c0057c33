#!/usr/bin/env bash
# Does the series WHAT/patches hold all the work of build/src/WHAT?
#
# Usage: series-status.sh [linux|qemu]...     (default: both)
#        series-status.sh --record WHAT        (after an export)
#        series-status.sh --against-stamp WHAT (used by tree.sh)
# Exits non-zero, saying what, when a work tree holds uncommitted edits or
# commits that differ from the series files.
. "$(dirname "$0")/lib.sh"

# Do the tree's commits, exported as scripts/export.sh does, give exactly
# the series files?
tree_matches_series() {
	local tmp rc=0
	tmp=$(mktemp -d)
	series_format_patch "$1" "$tmp"
	diff -q <(cd "$tmp" && ls) <(series_files "$1" | xargs -r -n1 basename) >/dev/null || rc=1
	if [ $rc -eq 0 ]; then
		for f in "$tmp"/*.patch; do
			[ -e "$f" ] || continue
			cmp -s "$f" "$TOP/$1/patches/$(basename "$f")" || { rc=1; break; }
		done
	fi
	rm -rf "$tmp"
	return $rc
}

mode=check
case ${1:-} in
--record)
	series_record "$2"
	exit 0 ;;
--against-stamp) mode=stamp; shift ;;
esac

rc=0
for what in "${@:-linux qemu}"; do
	for w in $what; do
		src=$BUILD/src/$w
		if [ ! -d "$src/.git" ]; then
			echo "$w: no work tree (make tree creates it)"
			continue
		fi
		dirty=$(git -C "$src" status --porcelain --untracked-files=no)
		if [ -n "$dirty" ]; then
			echo "$w: uncommitted edits in build/src/$w:"
			echo "$dirty" | head -n 10 | sed 's/^/    /'
			rc=1
		fi
		if [ $mode = stamp ]; then
			# Is the tree exactly what the recorded series gave (same HEAD,
			# clean)? Then nothing is lost by applying the new series.
			[ "$(sed -n 2p "$(series_stamp "$w")" 2>/dev/null)" = "$(git -C "$src" rev-parse HEAD)" ] || rc=1
			continue
		fi
		if ! tree_matches_series "$w"; then
			echo "$w: build/src/$w has commits that differ from $w/patches (git -C build/src/$w log --oneline base..HEAD):"
			git -C "$src" log --oneline base..HEAD | head -n 20 | sed 's/^/    /'
			echo "    run 'make export' to save them into the series, then commit the repository"
			rc=1
		fi
	done
done
[ $rc -eq 0 ] && echo "series files hold all work in the work trees"
exit $rc
