#!/usr/bin/env bash
# Build the guest's base initramfs: busybox-static and guest/init.
# The per-run payload is a second cpio archive appended by scripts/boot.sh.
#
# Usage: initramfs.sh      Prints the path of the base archive.
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/deps.sh" guest
out=$BUILD/guest/base.cpio.gz
if [ -f "$out" ] && [ "$out" -nt "$TOP/guest/init" ] && [ "$out" -nt /bin/busybox ]; then
	printf '%s\n' "$out"
	exit 0
fi
stage "building the base initramfs"
root=$BUILD/guest/base-root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc/userptr,proc,sys,dev,tmp,opt/bin,usr/bin}
cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$TOP/guest/init" "$root/init"
# Unprivileged test users (RLIMIT_MEMLOCK cases run as them).
printf 'root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
printf '%s\n' "$out"
