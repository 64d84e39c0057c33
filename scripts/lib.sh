# shellcheck shell=bash
# Common helpers for the harness scripts. Sourced, never executed.
#
# Paths:
#   TOP    the repository
#   BUILD  build/ inside it: work trees, objects, logs, results (never committed)
#   CACHE  downloads and ccache, outside the repository, reused across clones

set -euo pipefail

# Debian's tools first: a pyenv python3 earlier in PATH lacks the Debian
# Python modules the builds use (meson for QEMU, ply for checkpatch).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
CACHE=${USERPTR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virtio-gpu-userptr}
LOGS=$BUILD/logs
RESULTS=$BUILD/results
mkdir -p "$BUILD" "$LOGS" "$RESULTS" "$CACHE"

# Pins of the upstream bases, one place for both.
# shellcheck source=../pins.sh
. "$TOP/pins.sh"

# ccache for every build (kernel, QEMU, bisect), kept in the cache so that
# it outlives build/ and a fresh clone.
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
# shellcheck disable=SC2034 # used by the scripts that source this one
KCC="ccache gcc"

# The identity of commits the harness makes in work trees and scratch
# clones (the project's pseudonymous identity; the submitter replaces it).
GIT_NAME="virtio-gpu userptr developers"
GIT_EMAIL=userptr@example.invalid
git_id() { git -c user.name="$GIT_NAME" -c user.email="$GIT_EMAIL" "$@"; }

# The series WHAT (linux or qemu): its patch files in order (the hand-written
# cover letter 0000-* is not part of it), their hash, and the stamp in the
# work tree that records which series files (and HEAD) the tree was made from.
series_files() {
	find "$TOP/$1/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' 2>/dev/null | sort
}
series_hash() { series_files "$1" | xargs -r cat | sha256sum | cut -d' ' -f1; }
series_stamp() { printf '%s\n' "$BUILD/src/$1/.git/userptr-series"; }
series_record() { { series_hash "$1"; git -C "$BUILD/src/$1" rev-parse HEAD; } >"$(series_stamp "$1")"; }

# series_dirs WHAT: the directories the series' patches touch (not '.').
series_dirs() {
	series_files "$1" | xargs -r sed -n 's#^diff --git a/\([^ ]*\) b/.*#\1#p' |
		xargs -r -n1 dirname | { grep -v -x '\.' || true; } | sort -u
}

# series_clone WHAT DIR [PATH...]: a throw-away clone of the work tree at
# its tag 'base' with the series files applied by git am (the work tree
# itself is not touched). With PATHs, only those directories (and the files
# at the top) are checked out. An existing clone in DIR is reused: only the
# files that differ are written again, which is much cheaper than a new
# checkout of the kernel. Fails with the first patch that does not apply
# (log in build/logs/series-clone-WHAT.log).
series_clone() {
	local what=$1 dir=$2 p log=$LOGS/series-clone-$1.log
	shift 2
	if [ -d "$dir/.git" ] && [ "$(git -C "$dir" config remote.origin.url)" = "$BUILD/src/$what" ] &&
		git -C "$dir" fetch -q -f origin 'refs/tags/base:refs/tags/base' 2>/dev/null &&
		git -C "$dir" rev-parse -q --verify 'base^{commit}' >/dev/null; then
		git -C "$dir" am --abort >/dev/null 2>&1 || true
	else
		rm -rf "$dir"
		git clone -q --shared --no-checkout "$BUILD/src/$what" "$dir"
	fi
	if [ $# -gt 0 ]; then
		git -C "$dir" sparse-checkout set --cone "$@"
	else
		git -C "$dir" sparse-checkout disable
	fi
	git -C "$dir" checkout -q -f --detach base
	git -C "$dir" clean -q -f -d -x
	: >"$log"
	for p in $(series_files "$what"); do
		git_id -C "$dir" am -q --keep-cr "$p" >>"$log" 2>&1 || {
			git -C "$dir" am --abort >/dev/null 2>&1 || true
			printf 'error: %s does not apply to %s base\n' "$(basename "$p")" "$what" >&2
			return 1
		}
	done
}

# ensure_built WHAT...: build what is stale, quietly (kernel-debug,
# kernel-release, qemu, guest); prints nothing, fails like the build does.
ensure_built() {
	local w
	for w in "$@"; do
		case $w in
		kernel-debug | kernel-release) "$TOP/scripts/build-kernel.sh" "${w#kernel-}" >/dev/null ;;
		qemu) "$TOP/scripts/build-qemu.sh" >/dev/null ;;
		guest) "$TOP/scripts/build-guest.sh" >/dev/null ;;
		*) die "ensure_built: unknown target '$w'" ;;
		esac
	done
}

stage() { printf '==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# cached_tarball TARBALL SHA256: print the download cache's copy of TARBALL
# and succeed when there is one; a copy that does not match SHA256 is an
# error (it is left for the operator to remove); no copy returns 1. Call
# it in the script's own shell, not in $(...): there its die would end only
# the subshell, and the caller would take a bad copy for a missing one.
cached_tarball() {
	local out=$CACHE/downloads/$1 got
	[ -f "$out" ] || return 1
	got=$(sha256sum "$out" | cut -d' ' -f1)
	[ "$got" = "$2" ] ||
		die "the cached $out does not match the pinned sha256 (expected $2, got $got): remove it to download again"
	printf '%s\n' "$out"
}

# apt_source_download NAME PKG DEBVER TARBALL SHA256: download TARBALL, the
# upstream tarball of the source package PKG at Debian version DEBVER, with
# apt-get source (apt set up by 'deps.sh --setup-apt'), verify it against
# SHA256 and only then move it into the download cache; print its path. The
# log is build/logs/fetch-NAME.log.
apt_source_download() {
	local name=$1 pkg=$2 debver=$3 tarball=$4 sum=$5 dl=$CACHE/downloads tmp got
	mkdir -p "$dl"
	stage "fetching $tarball ($pkg $debver) from the Debian archive"
	tmp=$(mktemp -d "$dl/.fetch.XXXXXX")
	if ! (cd "$tmp" && timeout 900 apt-get source --download-only --tar-only -qq "$pkg=$debver") \
		>"$LOGS/fetch-$name.log" 2>&1; then
		rm -rf "$tmp"
		tail -n 3 "$LOGS/fetch-$name.log" >&2
		die "could not download $tarball: the archive is missing or unreachable (log: build/logs/fetch-$name.log)"
	fi
	if [ ! -f "$tmp/$tarball" ]; then
		got=$(ls "$tmp" | tr '\n' ' ')
		rm -rf "$tmp"
		die "the archive served $pkg $debver without $tarball (got: $got)"
	fi
	got=$(sha256sum "$tmp/$tarball" | cut -d' ' -f1)
	if [ "$got" != "$sum" ]; then
		rm -rf "$tmp"
		die "$tarball does not match the pinned sha256 (expected $sum, got $got)"
	fi
	mv "$tmp/$tarball" "$dl/$tarball"
	rm -rf "$tmp"
	printf '%s\n' "$dl/$tarball"
}

# run_logged NAME CMD...: run CMD with its output in build/logs/NAME.log;
# on failure print the last lines of the log and its path, and fail.
run_logged() {
	local name=$1; shift
	local log=$LOGS/$name.log
	if ! "$@" >"$log" 2>&1; then
		printf 'error: %s failed; last lines of %s:\n' "$name" "$log" >&2
		grep -E -i 'error|fatal|undefined|failed|No such' "$log" | tail -n 15 >&2 || true
		printf -- '--- tail ---\n' >&2
		tail -n 15 "$log" >&2
		exit 1
	fi
}

# run_progress NAME CMD...: like run_logged, but shows a progress line
# (the last line of the log) every few seconds on a terminal, and a heartbeat
# line every minute otherwise.
run_progress() {
	local name=$1; shift
	local log=$LOGS/$name.log rc=0 n=0
	"$@" >"$log" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		n=$((n + 2))
		if [ -t 2 ]; then
			printf '\r    [%4ds] %s' "$n" "$(tail -n 1 "$log" | cut -c1-90)" >&2
			printf '\033[K' >&2
		elif [ $((n % 60)) -eq 0 ]; then
			printf '    [%4ds] %s\n' "$n" "$(tail -n 1 "$log" | cut -c1-90)" >&2
		fi
	done
	wait "$pid" || rc=$?
	[ -t 2 ] && printf '\r\033[K' >&2
	if [ $rc -ne 0 ]; then
		printf 'error: %s failed (exit %d); last lines of %s:\n' "$name" "$rc" "$log" >&2
		grep -E 'error:|Error [0-9]|undefined reference|FAILED|fatal' "$log" | tail -n 15 >&2 || true
		printf -- '--- tail ---\n' >&2
		tail -n 10 "$log" >&2
		exit 1
	fi
	info "$name done in ${n}s (log: ${log#"$TOP"/})"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# series_format_patch WHAT OUTDIR: the work tree's commits (base..HEAD) as
# the series files are written: zero commit ids, no signature, and the
# version of the hand-written cover letter ("[PATCH v2 0/N]") in every
# subject. export.sh writes with it, series-status.sh compares with it.
series_format_patch() {
	local what=$1 out=$2 prefix=PATCH ver
	ver=$(sed -n 's/^Subject: \[PATCH \(v[0-9]*\) 0*0\/.*/\1/p' \
		"$TOP/$what/patches/0000-cover-letter.patch" 2>/dev/null | head -n 1)
	[ -z "$ver" ] || prefix="PATCH $ver"
	git -C "$BUILD/src/$what" format-patch -q --zero-commit --no-signature \
		--subject-prefix="$prefix" -o "$out" base..HEAD >/dev/null
}
