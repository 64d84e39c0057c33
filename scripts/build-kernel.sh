#!/usr/bin/env bash
# Build the patched guest kernel from build/src/linux, out of tree, into
# build/linux-VARIANT (bzImage and the UAPI headers under usr/include).
#
# Usage: build-kernel.sh release|debug     Prints the path of the bzImage.
#
# The configuration is allnoconfig plus linux/kconfig/base.config and
# linux/kconfig/VARIANT.config; an option of those fragments that does not
# survive (a missing dependency, an option without a prompt) fails the build
# instead of silently disappearing.
. "$(dirname "$0")/lib.sh"

variant=${1:?usage: build-kernel.sh release|debug}
case $variant in release | debug) ;; *) die "build-kernel.sh: unknown variant '$variant'" ;; esac
src=$BUILD/src/linux
obj=$BUILD/linux-$variant
frags=("$TOP/linux/kconfig/base.config" "$TOP/linux/kconfig/$variant.config")

"$TOP/scripts/deps.sh" kernel
"$TOP/scripts/tree.sh" linux
mkdir -p "$obj"

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
kmake() { make -C "$src" O="$obj" CC="ccache gcc" -j"$(nproc)" "$@"; }

# Regenerate .config when a fragment or a Kconfig file changed.
cfgsum=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.config.fragsum" 2>/dev/null)" != "$cfgsum" ] ||
	[ -n "$(find "$src" -name 'Kconfig*' -newer "$obj/.config.fragsum" -print -quit)" ]; then
	stage "configuring the $variant kernel (allnoconfig + ${frags[*]##*/})"
	run_logged "kernel-$variant-config" sh -c "cd '$src' && ./scripts/kconfig/merge_config.sh -n -O '$obj' ${frags[*]}"
	bad=$(cat "${frags[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=' | while IFS= read -r line; do
		opt=${line%%=*} val=${line#*=}
		if [ "$val" = n ]; then
			grep -qx "$opt=[ym]" "$obj/.config" && echo "$opt (wanted n)"
		else
			grep -qx "$line" "$obj/.config" || echo "$opt (wanted $val, got $(grep -E "^$opt=|^# $opt is not set" "$obj/.config" || echo unset))"
		fi
	done) || true
	if [ -n "$bad" ]; then
		rm -f "$obj/.config"
		die "options of the $variant kernel config did not survive: $(echo "$bad" | tr '\n' ';')"
	fi
	echo "$cfgsum" >"$obj/.config.fragsum"
fi

stage "building the $variant kernel (log: build/logs/kernel-$variant-build.log)"
run_progress "kernel-$variant-build" kmake bzImage
run_logged "kernel-$variant-headers" kmake headers_install
printf '%s\n' "$obj/arch/x86/boot/bzImage"
