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

stage() { printf '==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

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
