#!/usr/bin/env bash
# The 3D host: QEMU with virglrenderer, run on llvmpipe under Xvfb.
#
# Debian 12 has no virglrenderer >= 1.0 (QEMU 10.2 needs it for blob
# resources) and Debian 13's needs a newer glibc, so the 3D host lives in a
# minbase Debian 13 (trixie) userland made once with debootstrap from the
# configured Debian archive into the cache (verified by a stamp holding the
# hash of its recipe, reused while that matches). In it, two QEMU 10.2.2
# builds, each from a pristine extraction of the pinned tarball, with
# --enable-opengl --enable-virglrenderer --enable-sdl:
#   build/host3d/qemu-series   our series (qemu/patches, 0000 excluded)
#   build/host3d/qemu-stock    upstream, plus only the series' hw/cxl build
#                              fix (--without-default-devices needs it)
# each rebuilt when what it is made from changes (a stamp with the hash).
# Writes the wrappers build/host3d/bin/qemu-series and qemu-stock, to be
# given to boot.sh as USERPTR_QEMU: each runs its QEMU in the userland with
# Xvfb and '-display sdl,gl=on' (scripts/qemu-3d.sh).
#
# Usage: host3d.sh [userland|series|stock]...   (default: all three)
# Prints the directory of the wrappers.
. "$(dirname "$0")/lib.sh"

H3=$BUILD/host3d
ROOT=$CACHE/host3d/trixie
SUITE=trixie
# What the userland holds: QEMU's build dependencies with opengl,
# virglrenderer and SDL, and what runs it (Xvfb, Mesa's llvmpipe).
PKGS="build-essential ccache ninja-build meson pkgconf python3 python3-venv
python3-setuptools python3-pycotap libglib2.0-dev libpixman-1-dev libepoxy-dev
libvirglrenderer-dev libsdl2-dev libgbm-dev xvfb xauth libgl1-mesa-dri
libegl-mesa0 libglx-mesa0 device-tree-compiler libfdt-dev bzip2 zlib1g-dev
flex bison"
# Userland files that must be there (a cheap check of the stamp's claim).
NEEDS="usr/bin/Xvfb usr/bin/gcc usr/bin/ninja usr/bin/meson
usr/lib/x86_64-linux-gnu/pkgconfig/virglrenderer.pc
usr/lib/x86_64-linux-gnu/pkgconfig/epoxy.pc usr/lib/x86_64-linux-gnu/pkgconfig/sdl2.pc
usr/lib/x86_64-linux-gnu/dri/swrast_dri.so"

# As scripts/build-qemu.sh configures, plus the GL display and virgl.
CONFIGURE="--python=/usr/bin/python3 --cc='ccache gcc' --target-list=x86_64-softmmu
--without-default-features --without-default-devices --with-devices-x86_64=userptr
--enable-pixman --enable-tcg --disable-docs --disable-install-blobs
--disable-werror --disable-download --enable-opengl --enable-virglrenderer --enable-sdl"
CONFIGURE=$(echo $CONFIGURE)

recipe_hash() { printf '%s\n' "$SUITE minbase v1" $PKGS | sha256sum | cut -d' ' -f1; }

userland_ok() {
	local f
	[ -f "$ROOT/.userptr-userland" ] && [ "$(cat "$ROOT/.userptr-userland")" = "$(recipe_hash)" ] || return 1
	for f in $NEEDS; do
		[ -e "$ROOT/$f" ] || { info "the cached userland lacks /$f"; return 1; }
	done
}

# Remove a userland directory, refusing while anything is mounted under it
# (our mounts live in private namespaces; this guards against anyone else's).
remove_tree() {
	local d=$1
	[ -e "$d" ] || return 0
	if findmnt -rn -o TARGET | grep -q -F "$d/"; then
		die "something is mounted under $d (findmnt): unmount it, then run again"
	fi
	rm -rf --one-file-system "$d"
}

make_userland() {
	local tmp=$ROOT.tmp mirror
	"$TOP/scripts/deps.sh" host3d
	mirror=$("$TOP/scripts/deps.sh" --mirror)
	stage "3D host: making a minbase Debian 13 ($SUITE) userland in ${ROOT/#$HOME/\~} (once; about 2 minutes)"
	remove_tree "$tmp"
	remove_tree "$ROOT"
	mkdir -p "$(dirname "$ROOT")"
	run_progress host3d-debootstrap debootstrap --variant=minbase --include=ca-certificates \
		"$SUITE" "$tmp" "$mirror"
	stage "3D host: installing QEMU's build and run dependencies in the userland"
	run_progress host3d-packages "$TOP/scripts/host3d-chroot.sh" "$tmp" -- \
		sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $(echo $PKGS) && apt-get clean"
	recipe_hash >"$tmp/.userptr-userland"
	mv "$tmp" "$ROOT"
	userland_ok || die "the new userland in $ROOT lacks files it should have (log: build/logs/host3d-packages.log)"
}

# build VARIANT: QEMU 10.2.2 (series or stock) built inside the userland.
build() {
	local v=$1 src=$H3/src-$1 obj=$H3/qemu-$1 tarball patches want p
	tarball=$("$TOP/scripts/fetch.sh" qemu)
	case $v in
	series)
		patches=$(find "$TOP/qemu/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
		;;
	stock)
		# Only the build fix: found by its subject, not its number.
		patches=$(grep -l -E '^Subject: \[PATCH[^]]*\] hw/cxl' "$TOP"/qemu/patches/[0-9]*.patch | grep -v '/0000-' || true)
		[ "$(printf '%s\n' "$patches" | grep -c .)" -eq 1 ] ||
			die "stock QEMU: expected one hw/cxl build-fix patch in qemu/patches, found: ${patches:-none}"
		;;
	esac
	want=$( {
		echo "$QEMU_SHA256 $(cat "$ROOT/.userptr-userland")"
		echo "$CONFIGURE"
		cat "$TOP/qemu/devices.mak" $patches
	} | sha256sum | cut -d' ' -f1)
	if [ -x "$obj/qemu-system-x86_64" ] && [ "$(cat "$obj/.userptr-stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	stage "3D host: QEMU $QEMU_VERSION ($v: $(printf '%s\n' $patches | grep -c .) patches) from a pristine extraction"
	rm -rf "$src" "$obj"
	mkdir -p "$src" "$obj"
	tar -C "$src" --strip-components=1 -xf "$tarball" || die "could not extract $tarball"
	(
		cd "$src"
		git init -q
		git add -A -f . >/dev/null
		git -c user.name="virtio-gpu userptr developers" -c user.email=userptr@example.invalid \
			commit -q -m "base: $(basename "$tarball")"
		for p in $patches; do
			git -c user.name="virtio-gpu userptr developers" -c user.email=userptr@example.invalid \
				am -q --keep-cr "$p" >"$LOGS/host3d-am-$v.log" 2>&1 ||
				{ cat "$LOGS/host3d-am-$v.log" >&2; die "${p#"$TOP"/} does not apply to QEMU $QEMU_VERSION"; }
		done
	) || exit 1
	cp "$TOP/qemu/devices.mak" "$src/configs/devices/x86_64-softmmu/userptr.mak"
	# As in build-qemu.sh: the +ds tarball lacks the EDK2 images meson lists.
	for f in $(sed -n "s/^ *'\(edk2-[a-z0-9_-]*\.fd\)',$/\1/p" "$src/pc-bios/meson.build"); do
		[ -f "$src/pc-bios/$f.bz2" ] || bzip2 -c </dev/null >"$src/pc-bios/$f.bz2"
	done
	mkdir -p "$CACHE/host3d/ccache"
	# Both builds run at the same paths inside (/build/src, /build/obj), so
	# that ccache serves the stock build what the series build compiled.
	local in=(env CCACHE_DIR="$CACHE/host3d/ccache" "$TOP/scripts/host3d-chroot.sh" "$ROOT"
		--bind-at "$src:/build/src" --bind-at "$obj:/build/obj" --bind "$CACHE/host3d/ccache" --)
	run_logged "host3d-configure-$v" "${in[@]}" \
		sh -c "cd /build/obj && /build/src/configure $CONFIGURE"
	grep -q -E 'VirGL support +: YES' "$LOGS/host3d-configure-$v.log" ||
		die "QEMU ($v) configured without virglrenderer (log: build/logs/host3d-configure-$v.log)"
	stage "3D host: building QEMU ($v) in the userland (log: build/logs/host3d-build-$v.log)"
	run_progress "host3d-build-$v" "${in[@]}" ninja -C /build/obj qemu-system-x86_64
	echo "$want" >"$obj/.userptr-stamp"
}

# The wrapper boot.sh runs as USERPTR_QEMU.
wrapper() {
	local v=$1 w=$H3/bin/qemu-$1
	mkdir -p "$H3/bin"
	cat >"$w.tmp" <<EOT
#!/bin/sh
# Written by scripts/host3d.sh: QEMU ($v) of the 3D host, for boot.sh.
exec "$TOP/scripts/qemu-3d.sh" "$H3/qemu-$v/qemu-system-x86_64" "\$@"
EOT
	chmod +x "$w.tmp"
	mv "$w.tmp" "$w"
}

what=("$@")
[ ${#what[@]} -gt 0 ] || what=(userland series stock)
userland_ok || make_userland
for w in "${what[@]}"; do
	case $w in
	userland) ;;
	series | stock) build "$w"; wrapper "$w" ;;
	*) die "host3d.sh: unknown part '$w' (userland, series, stock)" ;;
	esac
done
printf '%s\n' "$H3/bin"
