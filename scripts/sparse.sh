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

tarball=$CACHE/downloads/$SPARSE_TARBALL
if [ ! -f "$tarball" ]; then
	"$TOP/scripts/deps.sh" fetch kernel
	"$TOP/scripts/deps.sh" --setup-apt
	apt_source_download sparse "$SPARSE_SRCPKG" "$SPARSE_DEBVER" "$SPARSE_TARBALL" "$SPARSE_SHA256" >/dev/null
fi
# Not in a command substitution: a cached copy that does not match the pin
# must stop the script here (cached_tarball dies), not be downloaded again.
cached_tarball "$SPARSE_TARBALL" "$SPARSE_SHA256" >/dev/null

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
