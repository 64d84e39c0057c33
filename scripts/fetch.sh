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

dl=$CACHE/downloads
mkdir -p "$dl"
out=$dl/$tarball

verify() {
	local got
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[ "$got" = "$sum" ] && return 0
	printf 'error: sha256 mismatch for %s: expected %s, got %s\n' "$tarball" "$sum" "$got" >&2
	return 1
}

if [ -f "$out" ]; then
	verify "$out" || die "the cached $out does not match the pin in pins.sh: remove it to download again"
	printf '%s\n' "$out"
	exit 0
fi

"$TOP/scripts/deps.sh" fetch
"$TOP/scripts/deps.sh" --setup-apt

# The Debian revision that packages this upstream version (e.g. 7.2.8-1);
# the source package's epoch, if any, is dropped by apt-get source itself.
debver=$(apt-cache showsrc "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}' |
	grep -E "^([0-9]+:)?${ver//./\\.}(\+ds|\+dfsg)?-" | sort -uV | tail -n 1) || true
[ -n "$debver" ] || die "the Debian archive lists no source of $pkg $ver (apt-cache showsrc $pkg)"

stage "fetching $tarball ($pkg $debver) from the Debian archive"
tmp=$(mktemp -d "$dl/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && timeout 900 apt-get source --download-only --tar-only -qq "$pkg=$debver") \
	>"$LOGS/fetch-$what.log" 2>&1; then
	tail -n 3 "$LOGS/fetch-$what.log" >&2
	die "could not download $tarball: the archive is missing or unreachable (log: build/logs/fetch-$what.log)"
fi
[ -f "$tmp/$tarball" ] || die "the archive served $pkg $debver without $tarball (got: $(ls "$tmp" | tr '\n' ' '))"
verify "$tmp/$tarball" || die "$tarball does not match the pinned sha256 in pins.sh"
mv "$tmp/$tarball" "$out"
printf '%s\n' "$out"
