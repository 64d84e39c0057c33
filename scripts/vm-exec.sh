#!/usr/bin/env bash
# Run any static binary in the debug guest, with the same device options as
# vm-test, as root with the DRM render node present.
#
# Usage: vm-exec.sh /abs/path/to/static-binary [ARGS...]
# Prints its output and exits with its exit status; a kernel splat in the
# guest log fails it (exit 1); a guest that does not boot or hangs, 125.
. "$(dirname "$0")/lib.sh"

prog=${1:-}
[ -n "$prog" ] || die "usage: make vm-exec PROG=/abs/path/to/static-binary [ARGS='...']"
shift
[ -f "$prog" ] || die "PROG=$prog: no such file"
[ -x "$prog" ] || die "PROG=$prog is not executable"
"$TOP/scripts/deps.sh" guest
if file -b "$prog" 2>/dev/null | grep -q 'dynamically linked'; then
	die "PROG=$prog is dynamically linked: the guest has no shared libraries, link it with -static"
fi
"$TOP/scripts/build-kernel.sh" debug >/dev/null
"$TOP/scripts/build-qemu.sh" >/dev/null
name=$(basename "$prog")
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
exec "$TOP/scripts/boot.sh" --kernel debug --name "vm-exec" --timeout "${VM_EXEC_TIMEOUT:-900}" \
	--file "$prog" --run "/opt/bin/$(printf '%q' "$name")$args"
