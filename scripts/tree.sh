#!/usr/bin/env bash
# Create or update the work tree build/src/WHAT: the pinned upstream source as
# a git repository (tag 'base') with the series WHAT/patches/*.patch applied
# by git am. Edit and commit there, then export (scripts/export.sh).
#
# Usage: tree.sh linux|qemu
#
# An existing tree is left alone while the series files are the ones it was
# made from. When the series files changed (a pull, an edit in the repo), the
# tree is reset to 'base' and the series applied again, unless the tree holds
# work that is not in the series: then it stops and says so.
. "$(dirname "$0")/lib.sh"

what=${1:?usage: tree.sh linux|qemu}
case $what in linux | qemu) ;; *) die "tree.sh: unknown tree '$what'" ;; esac
src=$BUILD/src/$what
stamp=$(series_stamp "$what")

git_wt() { git_id -C "$src" "$@"; }

apply_series() {
	local p n=0
	git_wt am --abort >/dev/null 2>&1 || true
	for p in $(series_files "$what"); do
		if ! git_wt am -q --keep-cr --committer-date-is-author-date "$p" >"$LOGS/am-$what.log" 2>&1; then
			git_wt am --abort >/dev/null 2>&1 || true
			sed -n '1,8p' "$LOGS/am-$what.log" >&2
			die "patch ${p#"$TOP"/} does not apply to $what $( [ $what = linux ] && echo "$LINUX_VERSION" || echo "$QEMU_VERSION")"
		fi
		n=$((n + 1))
	done
	series_record "$what"
	info "$what: $n patches applied on base"
}

if [ ! -d "$src/.git" ]; then
	tarball=$("$TOP/scripts/fetch.sh" "$what")
	stage "extracting $(basename "$tarball") into build/src/$what"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -C "$src.tmp" --strip-components=1 -xf "$tarball" ||
		die "could not extract $tarball"
	(
		cd "$src.tmp"
		git init -q
		git config core.autocrlf false
		git config gc.auto 0
		# Commits made here carry the project identity.
		git config user.name "$GIT_NAME"
		git config user.email "$GIT_EMAIL"
		# The tree carries no packaging leftovers; nothing is ignored that
		# upstream does not ignore itself.
		git add -A -f . >/dev/null
		git_id commit -q -m "$what base: $(basename "$tarball")"
		git tag base
	) || die "could not make a git repository of build/src/$what"
	mv "$src.tmp" "$src"
	apply_series
	exit 0
fi

[ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$(series_hash "$what")" ] && exit 0

# The series changed since this tree was made from it.
if ! "$TOP/scripts/series-status.sh" --against-stamp "$what" >/dev/null 2>&1; then
	die "build/src/$what holds work not in $what/patches and the series files changed too: export or drop that work (git -C build/src/$what log base..), then run again"
fi
stage "$what: series files changed; re-applying them on base"
git_wt reset -q --hard base
apply_series
