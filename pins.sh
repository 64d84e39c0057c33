# shellcheck shell=bash
# The upstream bases our two series apply to. Changing a pin is a commit of
# its own: the series are rebased and retested against the new base.
# (The environment may override a pin: the harness's own tests do.)

# Linux: the Debian archive's orig tarball of the release.
: "${LINUX_VERSION:=7.2.8}"
: "${LINUX_SRCPKG:=linux}"
: "${LINUX_TARBALL:=linux_7.2.8.orig.tar.xz}"
: "${LINUX_SHA256:=08f058f9de8d487e32a5c9e2855ee7e35bee1a047e77d37ba797d734c0cc07b3}"

# QEMU: the Debian archive's orig tarball (+ds: repacked without blobs).
: "${QEMU_VERSION:=10.2.2}"
: "${QEMU_SRCPKG:=qemu}"
: "${QEMU_TARBALL:=qemu_10.2.2+ds.orig.tar.xz}"
: "${QEMU_SHA256:=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb}"
