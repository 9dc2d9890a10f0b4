#!/usr/bin/env bash
# Starts a one-node Slurm on this machine (munged as user munge with a fresh
# key, slurmctld and slurmd as root, everything under a temporary folder),
# runs configs/sweeps/small_grid.json as a 2-task job array through
# scripts/slurm_sweep.sh, and checks that the merged summary equals an
# unsharded local run's. Stops the daemons. Exit 77 (skipped) unless root
# with slurm-wlm and munge installed.
#   tests/slurm/run_slurm_test.sh ATTNSIM_BINARY
set -euo pipefail
bin=$(realpath "${1:?usage: run_slurm_test.sh ATTNSIM_BINARY}")
src=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (slurmd runs jobs as their user)"
for t in slurmctld slurmd sbatch squeue scontrol sinfo munged python3; do
  command -v "$t" >/dev/null || skip "$t is not installed (apt-get install slurm-wlm munge)"
done
id munge >/dev/null 2>&1 || skip "no user munge"

tmp=$(mktemp -d /tmp/attnsim_slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$tmp/munge/munged.pid" ] && kill "$(cat "$tmp/munge/munged.pid")" 2>/dev/null
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  for f in "$tmp"/*.log "$tmp"/munge/*.log "$tmp"/out/logs/slurm-*.out; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; } >&2
  done
  exit 1
}

# munge, as user munge, with a generated key and its own socket.
mkdir -p "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$tmp/munge"
chmod 755 "$tmp/munge"
chmod 400 "$tmp/munge/munge.key"
socket="$tmp/munge/munge.socket"
runuser -u munge -- munged --socket="$socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/munged.seed" ||
  fail "munged did not start"

# slurm.conf: one node, this host; ports chosen at random to avoid other Slurms.
host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
node=$(slurmd -C | head -n 1 | sed 's/ *$//')
mkdir -p "$tmp/state" "$tmp/spool"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=attnsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.stdout.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >"$tmp/slurmd.stdout.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the node did not come up (state '$state')"

# The sweep as a job array, then the same sweep on one machine.
spec="$src/configs/sweeps/small_grid.json"
ATTNSIM="$bin" SWEEP_WAIT=1 timeout 120 "$src/scripts/slurm_sweep.sh" "$spec" "$tmp/out" 2 ||
  fail "the Slurm sweep failed"
ls "$tmp/out"/summary.shard-0-of-2.json "$tmp/out"/summary.shard-1-of-2.json >/dev/null || fail "shard summaries missing"
"$bin" sweep -q "$spec" --out "$tmp/local" || fail "the local sweep failed"
python3 - "$tmp/out/summary.json" "$tmp/local/summary.json" <<'PY' || fail "summaries differ"
import json, sys
def core(path):
    s = json.load(open(path))
    s.pop("host")
    for p in s["points"]:
        p.pop("host")
    return s
a, b = core(sys.argv[1]), core(sys.argv[2])
assert a["counts"]["ok"] == 4, a["counts"]
assert a == b, "merged summary differs from the local run's"
PY
echo "ok: a 2-task Slurm job array ran the sweep and its merged summary equals the local run's"
