#!/usr/bin/env bash
# Build the programs that run in the guest, as static binaries, against the
# UAPI headers of the patched kernel (build/linux-debug/usr/include):
#   guest/*.c                                  -> build/guest/bin/NAME
#   the series' kselftests (tools/testing/selftests/drm/virtio_gpu), if any
#                                              -> build/guest/bin/kselftest/NAME
#   and as kselftest installs them, with run_kselftest.sh
#                                              -> build/guest/bin/kselftest.tar
#
# Usage: build-guest.sh      Prints the directory of the binaries.
. "$(dirname "$0")/lib.sh"

inc=$BUILD/linux-debug/usr/include
[ -f "$inc/drm/virtgpu_drm.h" ] || die "no UAPI headers in ${inc#"$TOP"/}: build the debug kernel first (scripts/build-kernel.sh debug)"
# The series' kselftest directory: its programs, and hostchan.h, which the
# guest programs include too (a change there rebuilds them).
kst=$BUILD/src/linux/tools/testing/selftests/drm/virtio_gpu
out=$BUILD/guest/bin
mkdir -p "$out"
cflags=(-O2 -g -Wall -Wextra -Werror -static -pthread -isystem "$inc"
	-I"$BUILD/src/linux/tools/testing/selftests" $(pkg-config --cflags libdrm 2>/dev/null))

for c in "$TOP"/guest/*.c; do
	[ -e "$c" ] || continue
	bin=$out/$(basename "$c" .c)
	libs=()
	grep -q '<xf86drm.h>' "$c" && libs=(-ldrm)
	if [ ! -x "$bin" ] || [ "$c" -nt "$bin" ] || [ "$inc/drm/virtgpu_drm.h" -nt "$bin" ] ||
		[ -n "$(find "$TOP/guest" "$kst" -name '*.h' -newer "$bin" -print -quit 2>/dev/null)" ]; then
		run_logged "guest-$(basename "$c" .c)" gcc "${cflags[@]}" -o "$bin" "$c" "${libs[@]}"
	fi
done

if [ -f "$kst/Makefile" ]; then
	kflags=(CFLAGS="-O2 -g -Wall -static -pthread -isystem $inc -I$BUILD/src/linux/tools/testing/selftests"
		LDLIBS="-static -pthread" KHDR_INCLUDES="-isystem $inc")
	mkdir -p "$out/kselftest"
	run_logged guest-kselftests make -C "$kst" OUTPUT="$out/kselftest" "${kflags[@]}"
	# The same tests as kselftest installs them (run_kselftest.sh, its
	# runner, kselftest-list.txt, the settings file), for the guest to run
	# with the kselftest runner: one tar file, unpacked in the guest.
	rm -rf "$BUILD/guest/kselftest-obj" "$BUILD/guest/kselftest-install"
	run_logged guest-kselftest-install make -C "$BUILD/src/linux/tools/testing/selftests" \
		O="$BUILD/guest/kselftest-obj" TARGETS=drm/virtio_gpu \
		INSTALL_PATH="$BUILD/guest/kselftest-install" "${kflags[@]}" install
	tar -C "$BUILD/guest/kselftest-install" -cf "$out/kselftest.tar" .
fi
printf '%s\n' "$out"
