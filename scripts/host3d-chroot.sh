#!/usr/bin/env bash
# Run a command inside the 3D host's Debian 13 userland (scripts/host3d.sh).
#
# Usage: host3d-chroot.sh ROOT [--bind PATH]... [--bind-at PATH:INSIDE]... -- COMMAND...
#   ROOT       the userland (debootstrap'ed directory)
#   --bind     bind-mount the host's PATH at the same path inside (repeatable)
#   --bind-at  bind-mount the host's PATH at INSIDE (repeatable)
#
# The mounts (/proc, /sys, /dev, /dev/pts, a private /dev/shm and /tmp, and
# the --bind paths) are made in a private mount namespace of their own
# (unshare -m): they are never visible on the host and disappear with the
# last process of the command, however it ends (exit, signal, SIGKILL), so
# nothing is ever left mounted in the cached userland and removing it can
# never reach the host's /dev. Needs root (CI runs as root).
. "$(dirname "$0")/lib.sh"

root=${1:?usage: host3d-chroot.sh ROOT [--bind PATH]... -- COMMAND...}
shift
binds=()
while [ $# -gt 0 ]; do
	case $1 in
	--bind) binds+=("$2:$2"); shift 2 ;;
	--bind-at) binds+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) die "host3d-chroot.sh: unknown argument '$1'" ;;
	esac
done
[ $# -gt 0 ] || die "host3d-chroot.sh: no command"
[ -x "$root/usr/bin/env" ] || die "host3d-chroot.sh: no userland at $root (scripts/host3d.sh makes it)"

if [ "${USERPTR_HOST3D_NS:-}" != 1 ]; then
	[ "$(id -u)" -eq 0 ] || die "the 3D host needs root (mount namespace and chroot)"
	bargs=()
	for b in "${binds[@]}"; do bargs+=(--bind-at "$b"); done
	# exec: signals sent to this process (timeout, Ctrl-C) reach the command.
	exec unshare -m --propagation private -- \
		env USERPTR_HOST3D_NS=1 "$0" "$root" "${bargs[@]}" -- "$@"
fi

# In the private namespace now.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
for b in "${binds[@]}"; do
	from=${b%%:*} to=${b#*:}
	[ -e "$from" ] || die "host3d-chroot.sh: no $from to bind into the userland"
	if [ -d "$from" ]; then
		mkdir -p "$root$to"
	else
		mkdir -p "$(dirname "$root$to")"
		[ -e "$root$to" ] || touch "$root$to"
	fi
	mount --bind "$from" "$root$to"
done
cp -f /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
exec chroot "$root" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
	${CCACHE_DIR:+CCACHE_DIR="$CCACHE_DIR"} "$@"
