#!/usr/bin/env bash
# Install the Debian packages the harness needs, saying what and why.
#
# Usage: deps.sh GROUP...   (groups: fetch kernel qemu guest check bench host3d)
#        deps.sh --mirror     prints the configured Debian archive URI
#
# Also makes sure apt knows the source packages (deb-src) and trixie's meson:
# both are derived from the Debian mirror this machine is already configured
# with; no mirror host is named here.
. "$(dirname "$0")/lib.sh"

declare -A WHY=(
	[fetch]="dpkg-dev xz-utils ca-certificates"
	[kernel]="build-essential flex bison bc libelf-dev libssl-dev rsync ccache cpio git perl"
	[qemu]="ninja-build pkg-config libglib2.0-dev libpixman-1-dev zlib1g-dev device-tree-compiler libfdt-dev python3-venv qemu-system-data seabios"
	[guest]="busybox-static cpio gzip file libdrm-dev"
	[check]="codespell python3-ply python3-git coccinelle ocaml-nox python3-sphinx python3-yaml abigail-tools dwarves"
	[bench]="gnuplot-nox"
	[host3d]="debootstrap debian-archive-keyring util-linux"
	# QEMU's libFuzzer targets: clang, its runtimes (libFuzzer, ASan,
	# UBSan: libclang-rt-14-dev) and llvm-symbolizer (llvm-14) for reports.
	[fuzz]="clang libclang-rt-14-dev llvm-14 ccache rsync bzip2 patch"
)
declare -A TRIXIE=(
	[qemu]="meson python3-pycotap"
)

apt_src=/etc/apt/sources.list.d/userptr-harness.sources
apt_pref=/etc/apt/preferences.d/userptr-harness-trixie

# The URI of the configured Debian archive (the entry serving bookworm).
debian_mirror() {
	local uri=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && /bookworm( |$)/ {print u; exit}' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1=="deb" && $0 ~ / bookworm / {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
			/etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "cannot find the Debian archive in the apt configuration (/etc/apt/sources.list*)"
	printf '%s\n' "$uri"
}

setup_apt() {
	if [ -f "$apt_src" ] && [ -f "$apt_pref" ]; then
		return
	fi
	local mirror
	mirror=$(debian_mirror)
	stage "apt: adding deb-src (bookworm, trixie, sid) and trixie binaries (pinned low) from the configured mirror"
	as_root tee "$apt_src" >/dev/null <<EOT
# Added by the virtio-gpu userptr harness (scripts/deps.sh).
Types: deb-src
URIs: $mirror
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	as_root tee "$apt_pref" >/dev/null <<EOT
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOT
	as_root rm -f "$CACHE/.apt-updated"
}

apt_update() {
	# Once per hour at most; the harness calls this from several stages.
	local stamp=$CACHE/.apt-updated
	if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -60)" ]; then
		return
	fi
	stage "apt-get update"
	if ! as_root apt-get update -qq >"$LOGS/apt-update.log" 2>&1; then
		tail -n 5 "$LOGS/apt-update.log" >&2
		die "apt-get update failed: the Debian archive is missing or unreachable (log: build/logs/apt-update.log)"
	fi
	touch "$stamp"
}

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
	done
}

install_group() {
	local g=$1 miss tmiss
	[ -n "${WHY[$g]+x}" ] || die "deps.sh: unknown group '$g'"
	miss=$(missing ${WHY[$g]})
	tmiss=""
	if [ -n "${TRIXIE[$g]+x}" ]; then
		tmiss=$(missing ${TRIXIE[$g]})
		# bookworm's meson (1.0) is too old for QEMU 10.2 (needs >= 1.5).
		if [ -z "$tmiss" ] && [ "$g" = qemu ] &&
			dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson)" lt 1.5; then
			tmiss=meson
		fi
	fi
	[ -n "$miss$tmiss" ] || return 0
	setup_apt
	apt_update
	if [ -n "$miss" ]; then
		stage "installing for '$g': $miss"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss \
			>"$LOGS/apt-install-$g.log" 2>&1 ||
			{ tail -n 5 "$LOGS/apt-install-$g.log" >&2; die "apt-get install failed for: $miss"; }
	fi
	if [ -n "$tmiss" ]; then
		stage "installing for '$g' from trixie (bookworm's are too old): $tmiss"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t trixie $tmiss \
			>"$LOGS/apt-install-$g-trixie.log" 2>&1 ||
			{ tail -n 5 "$LOGS/apt-install-$g-trixie.log" >&2; die "apt-get install -t trixie failed for: $tmiss"; }
	fi
}

if [ "${1:-}" = --mirror ]; then
	debian_mirror
	exit 0
fi
if [ "${1:-}" = --setup-apt ]; then
	setup_apt
	apt_update
	exit 0
fi
for g in "$@"; do
	install_group "$g"
done
