#!/usr/bin/env bash
# Fetch a pinned upstream tarball from the Debian archive into the download
# cache and verify its sha256.
#
# Usage: fetch.sh linux|qemu
# Prints the path of the verified tarball on stdout.
. "$(dirname "$0")/lib.sh"

what=${1:?usage: fetch.sh linux|qemu}
case $what in
linux) pkg=$LINUX_SRCPKG ver=$LINUX_VERSION tarball=$LINUX_TARBALL sum=$LINUX_SHA256 ;;
qemu) pkg=$QEMU_SRCPKG ver=$QEMU_VERSION tarball=$QEMU_TARBALL sum=$QEMU_SHA256 ;;
*) die "fetch.sh: unknown source '$what' (linux or qemu)" ;;
esac

cached_tarball "$tarball" "$sum" && exit 0

"$TOP/scripts/deps.sh" fetch
"$TOP/scripts/deps.sh" --setup-apt

# The Debian revision that packages this upstream version (e.g. 7.2.8-1);
# the source package's epoch, if any, is dropped by apt-get source itself.
debver=$(apt-cache showsrc "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}' |
	grep -E "^([0-9]+:)?${ver//./\\.}(\+ds|\+dfsg)?-" | sort -uV | tail -n 1) || true
[ -n "$debver" ] || die "the Debian archive lists no source of $pkg $ver (apt-cache showsrc $pkg)"

apt_source_download "$what" "$pkg" "$debver" "$tarball" "$sum"
