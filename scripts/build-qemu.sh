#!/usr/bin/env bash
# Build the patched QEMU from build/src/qemu into build/qemu (out of tree):
# x86_64 system emulation under TCG with the devices in qemu/devices.mak.
#
# Usage: build-qemu.sh      Prints the path of the qemu-system-x86_64 binary.
# USERPTR_QEMU_VARIANT=asan builds into build/qemu-asan with AddressSanitizer
# and UndefinedBehaviorSanitizer (--enable-asan --enable-ubsan).
. "$(dirname "$0")/lib.sh"

src=$BUILD/src/qemu
obj=$BUILD/qemu
variant_flags=
case ${USERPTR_QEMU_VARIANT:-} in
'') ;;
asan)
	obj=$BUILD/qemu-asan
	variant_flags="--enable-asan --enable-ubsan"
	;;
*) die "build-qemu.sh: unknown USERPTR_QEMU_VARIANT '${USERPTR_QEMU_VARIANT}'" ;;
esac
log=qemu${USERPTR_QEMU_VARIANT:+-$USERPTR_QEMU_VARIANT}
"$TOP/scripts/deps.sh" qemu
"$TOP/scripts/tree.sh" qemu

# Harness files that configure wants inside the source tree; kept out of
# the tree's git status so that they are never exported as patches.
exclude=$src/.git/info/exclude
grep -qx '/configs/devices/x86_64-softmmu/userptr.mak' "$exclude" 2>/dev/null ||
	printf '%s\n' /configs/devices/x86_64-softmmu/userptr.mak '/pc-bios/edk2-*.fd.bz2' >>"$exclude"
cmp -s "$TOP/qemu/devices.mak" "$src/configs/devices/x86_64-softmmu/userptr.mak" ||
	cp "$TOP/qemu/devices.mak" "$src/configs/devices/x86_64-softmmu/userptr.mak"
# The +ds tarball drops the EDK2 firmware images, but meson still lists them
# when bzip2 is present; empty compressed placeholders satisfy it (we boot
# with qboot and never install firmware).
for f in $(sed -n "s/^ *'\(edk2-[a-z0-9_-]*\.fd\)',$/\1/p" "$src/pc-bios/meson.build"); do
	[ -f "$src/pc-bios/$f.bz2" ] || bzip2 -c </dev/null >"$src/pc-bios/$f.bz2"
done

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
if [ ! -f "$obj/build.ninja" ]; then
	stage "configuring QEMU $QEMU_VERSION (x86_64-softmmu, minimal devices${variant_flags:+, $variant_flags})"
	rm -rf "$obj"
	mkdir -p "$obj"
	# /usr/bin/python3: the Python that sees Debian's meson (a pyenv one may not).
	# -Werror, as QEMU's own CI builds: the work tree is a git tree, so
	# configure writes 'werror = true' into the native file, and meson reads
	# it again at every regeneration over a --disable-werror given here.
	# The bisect's first regeneration then changed every compile command
	# and recompiled all objects (1057, about 6 minutes on a slow machine).
	run_logged $log-configure sh -c "cd '$obj' && '$src/configure' $variant_flags \
		--python=/usr/bin/python3 --cc='ccache gcc' \
		--target-list=x86_64-softmmu \
		--without-default-features --without-default-devices \
		--with-devices-x86_64=userptr \
		--enable-pixman --enable-tcg --disable-docs --disable-install-blobs \
		--enable-werror --disable-download"
fi
stage "building QEMU${variant_flags:+ ($variant_flags)} (log: build/logs/$log-build.log)"
run_progress $log-build ninja -C "$obj" qemu-system-x86_64 ${USERPTR_QEMU_TARGETS:-}
# The +ds tarball has no firmware: QEMU run from its build tree (qtests)
# finds Debian's SeaBIOS and option ROMs in its bundle's data directory.
fw=$obj/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/kvmvapic.bin /usr/share/qemu/qboot.rom; do
	[ -e "$fw/$(basename "$f")" ] || ln -sf "$f" "$fw/$(basename "$f")"
done
printf '%s\n' "$obj/qemu-system-x86_64"
