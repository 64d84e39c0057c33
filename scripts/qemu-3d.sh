#!/usr/bin/env bash
# Run a QEMU of the 3D host (built by scripts/host3d.sh) in its Debian 13
# userland, with a GL display on llvmpipe: Xvfb is started there and
# '-display sdl,gl=on' is appended to the arguments (the last -display
# wins). The repository, the build directory and the host's firmware
# directories are bind-mounted at the same paths, so boot.sh's arguments
# work unchanged. boot.sh runs it through the wrappers host3d.sh writes
# (USERPTR_QEMU=build/host3d/bin/qemu-series or qemu-stock).
#
# Usage: qemu-3d.sh QEMU-BINARY [QEMU-ARGUMENTS...]
# Exit status: QEMU's; 125 when the display could not be started.
. "$(dirname "$0")/lib.sh"

qemu=${1:?usage: qemu-3d.sh QEMU-BINARY [ARGS...]}
shift
root=$CACHE/host3d/trixie
[ -f "$root/.userptr-userland" ] || die "no 3D host userland in $root: run scripts/host3d.sh"

binds=("$TOP")
case $BUILD/ in "$TOP"/*) ;; *) binds+=("$BUILD") ;; esac
for d in /usr/share/qemu /usr/share/seabios; do
	[ -d "$d" ] && binds+=("$d")
done
# Files named on the command line outside those (a kernel elsewhere).
prev=""
for a in "$@"; do
	case $prev in
	-kernel | -initrd | -bios)
		case $a in "$TOP"/* | "$BUILD"/* | /usr/share/qemu/* | /usr/share/seabios/*) ;;
		/*) binds+=("$(dirname "$a")") ;; esac ;;
	esac
	prev=$a
done
bargs=()
for b in "${binds[@]}"; do bargs+=(--bind "$b"); done

# Inside: Xvfb picks a free display (-displayfd), QEMU runs on it, and Xvfb
# goes when QEMU does. A signal to the process group (boot.sh's timeout)
# reaches both; the mount namespace goes with the last of them.
# shellcheck disable=SC2016
exec "$TOP/scripts/host3d-chroot.sh" "$root" "${bargs[@]}" -- /bin/sh -c '
	qemu=$1; shift
	Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>/tmp/display 2>/tmp/xvfb.log &
	xvfb=$!
	i=0
	while ! [ -s /tmp/display ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $xvfb 2>/dev/null; then
			echo "qemu-3d: Xvfb did not start: $(tail -n 3 /tmp/xvfb.log)" >&2
			kill $xvfb 2>/dev/null
			exit 125
		fi
		sleep 0.1
	done
	export DISPLAY=:$(cat /tmp/display)
	rc=0
	"$qemu" "$@" -display sdl,gl=on || rc=$?
	kill $xvfb 2>/dev/null
	wait $xvfb 2>/dev/null
	exit $rc
' qemu-3d "$qemu" "$@"
