#!/usr/bin/env bash
# The reliability campaign's guest side, in one boot of the debug kernel:
# guest/userptr-faults.c (fail-nth sweeps over userptr creation, close and
# revocation, with leak checks after every step and kmemleak at the end),
# then guest/userptr-soak.c (a seeded random soak for SOAK_SECONDS).
# TAP per program, the guest kernel log and each program's RESULT-JSON line
# (build/results/soak/faults.json and soak.json) go to build/results/soak/;
# any failed case, missing summary or kernel splat fails the run.
#
# Usage: soak.sh
#   SOAK_SECONDS   the soak's duration in guest seconds (default 600)
#   SOAK_SEED      the soak's seed (default: chosen by the program, printed)
#   SOAK_FAULTS=0  leave out the fault sweeps (default 1)
. "$(dirname "$0")/lib.sh"

secs=${SOAK_SECONDS:-600}
seed=${SOAK_SEED:-}
faults=${SOAK_FAULTS:-1}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
	die "SOAK_SECONDS=$secs: not a positive number of seconds"
fi
[ -z "$seed" ] || [[ $seed =~ ^[0-9]+$ ]] || die "SOAK_SEED=$seed: not a number"

ensure_built kernel-debug qemu
bin=$("$TOP/scripts/build-guest.sh")
start=$(date +%s)

soakargs="--seconds $secs"
[ -z "$seed" ] || soakargs+=" --seed $seed"
progs=()
[ "$faults" = 0 ] || progs+=(userptr-faults)
progs+=(userptr-soak)
payload="" fileargs=()
for p in "${progs[@]}"; do
	args=""
	[ "$p" = userptr-soak ] && args=" $soakargs"
	payload+="echo '### BEGIN $p'; /opt/bin/$p$args; echo \"### END $p \$?\"; "
	fileargs+=(--file "$bin/$p")
done

# Boot, the sweeps (about 1.5 minutes of guest time), the soak, kmemleak
# scans; a loaded machine makes the debug guest several times slower.
timeout=${SOAK_TIMEOUT:-$((1800 + 2 * secs))}
stage "soak: ${progs[*]} (soak ${secs}s${seed:+, seed $seed}) on the debug kernel"
rc=0
"$TOP/scripts/boot.sh" --kernel debug --name soak --timeout "$timeout" \
	"${fileargs[@]}" --run "$payload" || rc=$?
res=$RESULTS/soak

stage "soak results (TAP, JSON and kernel log in ${res#"$TOP"/}/)"
trc=0
python3 "$TOP/scripts/tap-summary.py" --verdict "$res/verdict" "$res/output.log" "$res" || trc=$?

# Each program's one-line JSON summary, checked to parse and to say zero.
for p in "${progs[@]}"; do
	out=$res/${p#userptr-}.json
	tr -d '\r' <"$res/output.log" 2>/dev/null |
		sed -n "/^### BEGIN $p\$/,/^### END $p /s/^RESULT-JSON: //p" |
		tail -n 1 >"$out" || true
	if ! python3 - "$out" "$p" <<'EOF'
import json, sys
path, prog = sys.argv[1], sys.argv[2]
try:
    j = json.load(open(path))
except (OSError, ValueError) as e:
    print("    FAIL %s: no valid RESULT-JSON line (%s)" % (prog, e))
    sys.exit(1)
bad = j.get("failures", 1) or j.get("leaks", 0)
if prog == "userptr-faults":
    pts = j["points"]
    print("    %s: fault points creation %d, close %d, revocation %d; %d steps, %d checks, %d failures, %d leaks, %.0f s"
          % (prog, pts["creation"], pts["close"], pts["revocation"], j["steps"], j["checks"],
             j["failures"], j["leaks"], j["seconds"]))
else:
    print("    %s: seed %d, %d operations, %d invariant checks (%d of the device's view, %s), %d failures, %.0f s"
          % (prog, j["seed"], j["operations"], j["checks"], j["device_checks"], j["device_view"],
             j["failures"], j["seconds"]))
sys.exit(1 if bad else 0)
EOF
	then
		trc=1
	fi
done
info "wall time $(($(date +%s) - start)) s"
[ $rc -ne 125 ] || exit 125
[ $trc -eq 0 ] || { echo "soak: FAILED"; exit 1; }
echo "soak: all cases passed, no leaks, guest kernel log clean"
