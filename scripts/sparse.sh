#!/usr/bin/env bash
# Build sparse 0.6.5~rc1 from the Debian archive's source into the cache
# (once) and print the path of the binary.
#
# Usage: sparse.sh
#
# Debian 12's and 13's sparse (0.6.4) cannot parse Linux 7.2 (it lacks
# __typeof_unqual__); the archive serves the source of 0.6.5~rc1, which can,
# and which builds in about 20 seconds. The upstream tarball is verified
# against the sha256 below; the Debian patches (gcc-16 as the compiler, ld
# --as-needed) are not needed for a binary that runs from the cache, and
# sparse is built with the machine's gcc, whose headers it then uses.
. "$(dirname "$0")/lib.sh"

: "${SPARSE_SRCPKG:=sparse}"
: "${SPARSE_DEBVER:=0.6.5~rc1-2}"
: "${SPARSE_TARBALL:=sparse_0.6.5~rc1.orig.tar.gz}"
: "${SPARSE_SHA256:=3ac8855ec7f3ab92f325be0f64347ccc2b10f8b4d7c2906783ee8e2bdab3f0de}"

dir=$CACHE/sparse-${SPARSE_DEBVER%-*}
bin=$dir/bin/sparse
if [ -x "$bin" ] && [ "$(cat "$dir/.sha256" 2>/dev/null)" = "$SPARSE_SHA256" ]; then
	printf '%s\n' "$bin"
	exit 0
fi

dl=$CACHE/downloads
tarball=$dl/$SPARSE_TARBALL
mkdir -p "$dl"
if [ ! -f "$tarball" ]; then
	"$TOP/scripts/deps.sh" fetch kernel
	"$TOP/scripts/deps.sh" --setup-apt
	stage "fetching $SPARSE_TARBALL ($SPARSE_SRCPKG $SPARSE_DEBVER) from the Debian archive"
	tmp=$(mktemp -d "$dl/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	if ! (cd "$tmp" && timeout 300 apt-get source --download-only --tar-only -qq "$SPARSE_SRCPKG=$SPARSE_DEBVER") \
		>"$LOGS/fetch-sparse.log" 2>&1; then
		tail -n 3 "$LOGS/fetch-sparse.log" >&2
		die "could not download the source of $SPARSE_SRCPKG $SPARSE_DEBVER (log: build/logs/fetch-sparse.log)"
	fi
	[ -f "$tmp/$SPARSE_TARBALL" ] || die "the archive served $SPARSE_SRCPKG $SPARSE_DEBVER without $SPARSE_TARBALL"
	mv "$tmp/$SPARSE_TARBALL" "$tarball"
fi
got=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$got" = "$SPARSE_SHA256" ] ||
	die "$tarball does not match the pinned sha256 (expected $SPARSE_SHA256, got $got): remove it to download again"

stage "building sparse ${SPARSE_DEBVER%-*} into ${dir/#"$HOME"/\~}"
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/bin"
tar -C "$dir/src" --strip-components=1 -xzf "$tarball"
run_logged sparse-build make -C "$dir/src" CC=gcc HAVE_LLVM=no HAVE_GTK=no HAVE_SQLITE=no \
	HAVE_BOOLECTOR=no -j"$(nproc)" sparse
install -m 0755 "$dir/src/sparse" "$bin"
rm -rf "$dir/src"
echo "$SPARSE_SHA256" >"$dir/.sha256"
printf '%s\n' "$bin"
