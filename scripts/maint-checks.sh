#!/usr/bin/env bash
# The checks a DRM maintainer runs before reading the Linux series, each on
# the series head and compared with the same check on the pinned base: a
# finding that base does not have fails.
#   kernel-doc  scripts/kernel-doc -Wall -none on every new or changed file
#               of drivers/gpu/drm/virtio and on the UAPI headers
#               (include/uapi/drm/virtgpu_drm.h, include/uapi/linux/virtio_gpu.h)
#   docs        Sphinx (Debian's) with the kernel's own Documentation/conf.py
#               and extensions (kernel-doc directives included), restricted to
#               the new or changed rst files and their toctree parents
#   coccicheck  make coccicheck MODE=report M=drivers/gpu/drm/virtio
#   uapi        every UAPI header the series changes, installed
#               (make headers_install) and compiled with -g as
#               scripts/check-uapi.sh does, then compared with base: struct
#               layouts (pahole), enumerators (DWARF), macros (gcc -dM); the
#               abidiff report is kept in the log (see uapi_check below)
#
# Usage: maint-checks.sh [kernel-doc|docs|coccicheck|uapi]...   (default: all)
# Environment: MAINT_TREE=DIR runs on DIR, a git tree with the tag 'base'
#   and the series (or anything else to check) committed on top, instead of
#   a fresh clone of linux/patches applied on base.
# Prints 'PASS name' or 'FAIL name' per check, the details of a failure
# indented below it; exits non-zero on a failure. Logs: build/logs/maint-*.
. "$(dirname "$0")/lib.sh"

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(kernel-doc docs coccicheck uapi)
work=$BUILD/maint
mkdir -p "$work"
rc=0

pass() { echo "PASS linux $1"; }
fail() {
	echo "FAIL linux $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | head -n 15 | sed 's/^/       /'
	rc=1
}

# The trees: head (the series) and base, both reused while they are current,
# and both sparse: the directories these checks read (kernel-doc's and
# Sphinx's Python in tools/ and scripts/, headers_install's arch/x86 and
# include/, the driver, Documentation/) and those the series touches, a
# third of the kernel's files.
paths=(arch/x86 include scripts tools Documentation usr drivers/gpu/drm/virtio)
mapfile -t -O ${#paths[@]} paths < <(series_dirs linux)
if [ -n "${MAINT_TREE:-}" ]; then
	head=$(cd "$MAINT_TREE" && pwd)
else
	head=$work/linux
	"$TOP/scripts/tree.sh" linux >/dev/null
	want="$(series_hash linux) $(git -C "$BUILD/src/linux" rev-parse base)"
	if [ "$(cat "$head/.git/maint-series" 2>/dev/null)" != "$want" ] ||
		[ -n "$(git -C "$head" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		stage "maint: applying the series on base (build/maint/linux)"
		rm -f "$head/.git/maint-series"
		series_clone linux "$head" "${paths[@]}" || die "the series does not apply to base"
		echo "$want" >"$head/.git/maint-series"
	fi
fi
basesha=$(git -C "$head" rev-parse base)
base=$work/linux-base
# Base is cloned from the work tree, which outlives any MAINT_TREE given.
origin=$BUILD/src/linux
git -C "$origin" rev-parse -q --verify "$basesha^{commit}" >/dev/null 2>&1 || origin=$head
if [ ! -d "$base/.git" ] || [ "$(git -C "$base" config remote.origin.url)" != "$origin" ] ||
	! git -C "$base" rev-parse -q --verify "$basesha^{commit}" >/dev/null 2>&1; then
	rm -rf "$base"
	git clone -q --shared --no-checkout "$origin" "$base"
fi
if [ "$(git -C "$base" rev-parse HEAD 2>/dev/null)" != "$basesha" ] ||
	[ -n "$(git -C "$base" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	stage "maint: checking out base (build/maint/linux-base)"
	git -C "$base" sparse-checkout set --cone "${paths[@]}"
	git -C "$base" checkout -q -f --detach "$basesha"
fi
# Results at base depend only on the pinned base tarball, the tool and this
# script: kept in the cache, across clones of the repository.
bcache=$CACHE/maint-base
mkdir -p "$bcache"
bkey=$LINUX_SHA256-$(sha256sum "$0" | cut -c1-12)

changed() { git -C "$head" diff --name-only --diff-filter=AM "$basesha" HEAD -- "$@"; }
# Findings without line numbers (code moving in a file is not new), sorted
# with duplicates kept, so that comm(1) gives the findings base lacks.
norm() { sed -E "s#$1/##g; s/:[0-9]+(:[0-9]+)?(-[0-9]+)?//g; s/ line [0-9]+/ line N/g" | LC_ALL=C sort; }
new_findings() { LC_ALL=C comm -13 "$1" "$2"; }

kerneldoc_check() {
	local files f have=() log=$LOGS/maint-kernel-doc.log
	files=$({ changed drivers/gpu/drm/virtio | grep -E '\.[ch]$' || true
		printf '%s\n' include/uapi/drm/virtgpu_drm.h include/uapi/linux/virtio_gpu.h; } | sort -u)
	# shellcheck disable=SC2086
	(cd "$head" && ./scripts/kernel-doc -Wall -none $files) >"$log" 2>&1 ||
		echo "kernel-doc exited $?" >>"$log"
	norm "$head" <"$log" >"$work/kernel-doc-head.txt"
	for f in $files; do [ -f "$base/$f" ] && have+=("$f"); done
	(cd "$base" && ./scripts/kernel-doc -Wall -none "${have[@]}") 2>&1 | norm "$base" >"$work/kernel-doc-base.txt" || true
	# kernel-doc must have parsed the files: the rst output of the UAPI
	# header documents struct drm_virtgpu_resource_create_blob at base already.
	[ "$(cd "$head" && ./scripts/kernel-doc -rst include/uapi/drm/virtgpu_drm.h 2>/dev/null | grep -c 'c:struct:: drm_virtgpu')" -gt 0 ] ||
		{ fail "kernel-doc -Wall (did not parse include/uapi/drm/virtgpu_drm.h; log: ${log#"$TOP"/})"; return; }
	local new
	new=$(new_findings "$work/kernel-doc-base.txt" "$work/kernel-doc-head.txt")
	if [ -n "$new" ]; then
		fail "kernel-doc -Wall: $(grep -c . <<<"$new") new warning(s) in the driver and UAPI headers (log: ${log#"$TOP"/})" "$new"
	else
		pass "kernel-doc -Wall: no new warning in $(wc -w <<<"$files") new or changed files (driver, UAPI headers)"
	fi
}

# A minimal htmldocs: the kernel's conf.py and extensions, only the documents
# the series adds or changes and the documents whose toctree lists them.
sphinx_run() {
	local tree=$1 out=$2 root=$3 docs=$4 conf=$work/sphinx-conf
	mkdir -p "$conf"
	cat >"$conf/conf.py" <<'EOF'
# The kernel's own Documentation/conf.py (its extensions, kernel-doc
# included), restricted to the documents named in USERPTR_DOCS.
import os
_kconf = os.environ['USERPTR_KCONF']
__file__ = _kconf
exec(compile(open(_kconf).read(), _kconf, 'exec'))
# Paths the kernel's conf.py gives relative to its own directory.
templates_path = [os.path.join(kern_doc_dir, p) for p in templates_path]
html_static_path = [os.path.join(kern_doc_dir, p) for p in html_static_path]
html_logo = html_favicon = os.path.join(kern_doc_dir, 'images/logo.svg')
master_doc = root_doc = os.environ['USERPTR_ROOT_DOC']
include_patterns = os.environ['USERPTR_DOCS'].split(',')
dyn_include_patterns.clear()
kerneldoc_srctree = os.environ['srctree']
EOF
	rm -rf "$out"
	(cd "$tree" && srctree=$tree USERPTR_KCONF=$tree/Documentation/conf.py USERPTR_ROOT_DOC=$root \
		USERPTR_DOCS=$docs sphinx-build -b html -q -E -c "$conf" Documentation "$out")
}

docs_check() {
	local rst parents d name root docs log=$LOGS/maint-docs.log
	rst=$(changed Documentation | grep -E '\.rst$' || true)
	[ -n "$rst" ] || { fail "docs: the series adds or changes no rst file (is Documentation/gpu/virtio-gpu-userptr.rst gone?)"; return; }
	parents=""
	for f in $rst; do
		d=$(dirname "$f") name=$(basename "$f" .rst)
		parents+=$(grep -l -E "^[[:space:]]+${name}[[:space:]]*\$" "$head/$d"/*.rst 2>/dev/null | sed "s#^$head/##")$'\n'
	done
	parents=$(grep . <<<"$parents" | sort -u || true)
	[ -n "$parents" ] || { fail "docs: no toctree lists $(echo $rst)"; return; }
	# The root: a parent that the series does not change itself (the
	# topmost), else the first.
	root=$(grep -v -x -F -f <(printf '%s\n' $rst) <<<"$parents" | head -n 1 || true)
	[ -n "$root" ] || root=$(head -n 1 <<<"$parents")
	docs=$(printf '%s\n' $rst $parents | sed 's#^Documentation/##' | sort -u | paste -sd,)
	root=${root#Documentation/}
	root=${root%.rst}
	if ! sphinx_run "$head" "$work/docs-head" "$root" "$docs" >"$log" 2>&1; then
		fail "docs: sphinx-build failed (log: ${log#"$TOP"/})" "$(tail -n 5 "$log")"
		return
	fi
	for f in $rst; do
		f=${f#Documentation/}
		[ -s "$work/docs-head/${f%.rst}.html" ] || { fail "docs: Sphinx wrote no ${f%.rst}.html (log: ${log#"$TOP"/})"; return; }
	done
	grep -E 'WARNING|ERROR|CRITICAL|SEVERE' "$log" | norm "$head" >"$work/docs-head.txt" || true
	sphinx_run "$base" "$work/docs-base" "$root" "$docs" >"$LOGS/maint-docs-base.log" 2>&1 || true
	grep -E 'WARNING|ERROR|CRITICAL|SEVERE' "$LOGS/maint-docs-base.log" | norm "$base" >"$work/docs-base.txt" || true
	local new
	new=$(new_findings "$work/docs-base.txt" "$work/docs-head.txt")
	if [ -n "$new" ]; then
		fail "docs: Sphinx: $(grep -c . <<<"$new") new warning(s) ($(paste -sd' ' <<<"$docs" | tr , ' ')) (log: ${log#"$TOP"/})" "$new"
	else
		pass "docs: Sphinx (kernel conf.py and extensions) builds $(tr , ' ' <<<"$docs") with no new warning"
	fi
}

cocci_run() {
	make -s -C "$1" coccicheck MODE=report M=drivers/gpu/drm/virtio J="$(nproc)" 2>&1
}
cocci_findings() {
	# Reports name a file of the directory ('./file.c:LINE:COL-COL: ...');
	# coccinelle's own warnings about the semantic patches are kept too.
	grep -E '^\./|^warning:|^(ERROR|WARNING):' | grep -v '^warning: Skipping ' | norm "$1"
}

cocci_check() {
	local log=$LOGS/maint-coccicheck.log crc=0 key new n
	cocci_run "$head" >"$log" || crc=$?
	n=$(grep -c '^/usr/bin/spatch ' "$log" || true)
	if [ $crc -ne 0 ] || [ "$n" -lt 20 ]; then
		fail "coccicheck: did not run through (exit $crc, $n semantic patches; log: ${log#"$TOP"/})" "$(grep -v '^/usr/bin/spatch' "$log" | tail -n 5)"
		return
	fi
	cocci_findings "$head" <"$log" >"$work/cocci-head.txt"
	key=$bcache/coccicheck-$bkey-$(spatch --version | head -n 1 | awk '{print $3}')
	if [ ! -f "$key" ]; then
		cocci_run "$base" >"$LOGS/maint-coccicheck-base.log" || die "coccicheck failed at base (log: build/logs/maint-coccicheck-base.log)"
		cocci_findings "$base" <"$LOGS/maint-coccicheck-base.log" >"$key.tmp" && mv "$key.tmp" "$key"
	fi
	new=$(new_findings "$key" "$work/cocci-head.txt")
	if [ -n "$new" ]; then
		fail "coccicheck MODE=report drivers/gpu/drm/virtio: $(grep -c . <<<"$new") new report(s) (log: ${log#"$TOP"/})" "$new"
	else
		pass "coccicheck MODE=report drivers/gpu/drm/virtio: no new report ($n semantic patches, $(grep -c . "$key" || true) finding(s) at base and head alike)"
	fi
}

# UAPI compatibility. scripts/check-uapi.sh needs abidiff >= 2.4; Debian 12
# has 2.2 (trixie's 2.6 needs trixie's glibc), which crashes on the
# suppressions check-uapi.sh writes. So the same steps on the headers the
# series changes: headers_install at base and head, each header compiled
# with -g as check-uapi.sh compiles it, compared by scripts/uapi-layout.py
# (pahole layouts, DWARF enumerators, gcc -dM macros); abidiff 2.2 (without
# those suppressions) writes its report into the log for the reader.
headers_at() {
	local tree=$1 dest=$2
	[ -f "$dest/.done" ] && return 0
	rm -rf "$dest"
	make -s -C "$tree" O="$dest/obj" ARCH=x86 INSTALL_HDR_PATH="$dest" headers_install >"$dest.log" 2>&1 ||
		{ cat "$dest.log"; return 1; }
	touch "$dest/.done"
}
uapi_compile() {
	local inc=$1 h=$2 out=$3
	printf 'int f(void) { return 0; }\n' | gcc -shared -nostdlib -fPIC -o "$out.bin" -x c -O0 -std=c90 \
		-fno-eliminate-unused-debug-types -g "-I$inc" -include "$inc/$h" - &&
		printf '' | gcc -E -dM -x c -std=c90 "-I$inc" -include "$inc/$h" - >"$out.mac"
}

uapi_check() {
	local hdrs h rel log=$LOGS/maint-uapi.log out ok=1 n=0
	hdrs=$(changed include/uapi arch/x86/include/uapi | grep -E '\.h$' || true)
	[ -n "$hdrs" ] || { fail "uapi: the series changes no UAPI header (expected include/uapi/drm/virtgpu_drm.h)"; return; }
	: >"$log"
	headers_at "$base" "$bcache/headers-$bkey" >>"$log" 2>&1 || { fail "uapi: headers_install failed at base (log: ${log#"$TOP"/})"; return; }
	rm -rf "$work/headers-head"
	headers_at "$head" "$work/headers-head" >>"$log" 2>&1 || { fail "uapi: headers_install failed at head (log: ${log#"$TOP"/})" "$(tail -n 5 "$log")"; return; }
	mkdir -p "$work/uapi"
	for h in $hdrs; do
		rel=${h#include/uapi/}
		rel=${rel#arch/x86/include/uapi/}
		[ -f "$bcache/headers-$bkey/include/$rel" ] || { echo "$rel: new header, nothing to compare" >>"$log"; continue; }
		n=$((n + 1))
		out=$work/uapi/$(tr / _ <<<"$rel")
		if ! uapi_compile "$bcache/headers-$bkey/include" "$rel" "$out-base" >>"$log" 2>&1 ||
			! uapi_compile "$work/headers-head/include" "$rel" "$out-head" >>"$log" 2>&1; then
			fail "uapi: $rel does not compile as check-uapi.sh compiles it (log: ${log#"$TOP"/})" "$(tail -n 5 "$log")"
			ok=0
			continue
		fi
		echo "== $rel: abidiff --non-reachable-types base head (for the reader)" >>"$log"
		abidiff --non-reachable-types "$out-base.bin" "$out-head.bin" >>"$log" 2>&1 || true
		echo "== $rel: uapi-layout.py" >>"$log"
		if ! python3 "$TOP/scripts/uapi-layout.py" "$out-base.bin" "$out-head.bin" "$out-base.mac" "$out-head.mac" >"$out.verdict" 2>&1; then
			cat "$out.verdict" >>"$log"
			fail "uapi: $rel is not compatible with base (log: ${log#"$TOP"/})" "$(cat "$out.verdict")"
			ok=0
		else
			cat "$out.verdict" >>"$log"
			summary+="$rel: $(cat "$out.verdict"); "
		fi
	done
	[ $n -gt 0 ] || { fail "uapi: no changed UAPI header existed at base: nothing was compared"; return; }
	[ $ok = 1 ] && pass "uapi: ABI compatible with base: ${summary%; }"
}

for c in "${checks[@]}"; do
	t0=$SECONDS
	case $c in
	kernel-doc) kerneldoc_check ;;
	docs) docs_check ;;
	coccicheck) cocci_check ;;
	uapi) summary="" uapi_check ;;
	*) die "maint-checks.sh: unknown check '$c'" ;;
	esac
	info "maint: $c took $((SECONDS - t0)) s"
done
exit $rc
