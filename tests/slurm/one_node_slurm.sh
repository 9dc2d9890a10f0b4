# Sourced by the Slurm tests: starts a one-node Slurm on this machine (munged
# as user munge with a fresh key, slurmctld and slurmd as root, everything
# under the temporary folder $tmp), stopped and removed at exit; exits 77
# (skipped) unless root with slurm-wlm and munge installed. Defines fail().
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

