#!/usr/bin/env bash
# Scan a guest kernel log for reports of the kernel's checkers. Prints each
# report's first line and exits 1 when there is any; exits 0 on a clean log.
#
# Usage: splat.sh KERNEL_LOG
set -euo pipefail
log=${1:?usage: splat.sh KERNEL_LOG}
[ -f "$log" ] || { echo "error: no kernel log $log" >&2; exit 2; }

# One pattern a checker: WARN/BUG, oops, KASAN, lockdep, kmemleak, RCU
# stalls, hung tasks, soft lockups, list/object debugging, UBSAN, panics.
patterns=(
	'WARNING: CPU: [0-9]+ PID: '
	'------------\[ cut here \]------------'
	'BUG: '
	'kernel BUG at '
	'Oops: '
	'general protection fault'
	'Kernel panic - not syncing'
	'KASAN: '
	'possible circular locking dependency'
	'possible recursive locking detected'
	'inconsistent lock state'
	'suspicious RCU usage'
	'WARNING: .*lock'
	'INFO: lockdep is turned off'
	'unreferenced object 0x'
	'kmemleak: [0-9]+ new suspected memory leaks'
	'rcu: INFO: .* detected stalls'
	'rcu_.* self-detected stall'
	'INFO: task .* blocked for more than'
	'watchdog: BUG: soft lockup'
	'list_(add|del) corruption'
	'ODEBUG: '
	'UBSAN: '
	'Bad page state'
	'Bad page map'
)
re=$(IFS='|'; printf '%s' "${patterns[*]}")
if hits=$(grep -E -n -- "$re" "$log"); then
	printf 'kernel splat in %s:\n' "$log"
	printf '%s\n' "$hits" | head -n 20 | sed 's/^/    /'
	exit 1
fi
exit 0
