#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages, for the Slurm test (tests/slurm/run.sh) and
# for trying `superalign slurm` by hand. Root, no systemd: munged, slurmctld and slurmd are started directly, with
# every file (munge key and socket, slurm.conf, state, spool, logs, pid files) in one state directory.
#
#   bash tests/slurm/cluster.sh install   # apt-get install slurm-wlm munge, when missing
#   bash tests/slurm/cluster.sh start     # install when missing, start the daemons, wait until the node is idle
#   export SLURM_CONF="$(bash tests/slurm/cluster.sh conf)"   # then sbatch, squeue, sinfo, ... talk to it
#   bash tests/slurm/cluster.sh stop      # cancel its jobs, stop the daemons by their pid files
#   bash tests/slurm/cluster.sh status
#
# SUPERALIGN_SLURM_DIR (default /tmp/superalign-slurm) is the state directory; SUPERALIGN_SLURM_PORT (default
# 6817) the slurmctld port (slurmd uses the next one).
set -euo pipefail

dir="${SUPERALIGN_SLURM_DIR:-/tmp/superalign-slurm}"
port="${SUPERALIGN_SLURM_PORT:-6817}"
conf="$dir/slurm.conf"
node="$(hostname -s)"

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

alive() { # alive PIDFILE: the process in the pid file is running
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "installing slurm-wlm and munge needs root (apt-get)."
  command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get to install them."
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

stop_pidfile() { # stop_pidfile NAME PIDFILE: TERM, wait up to 15 s, then KILL
  local name="$1" file="$2" pid i
  alive "$file" || { rm -f "$file"; return 0; }
  pid="$(cat "$file")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) did not stop on TERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}

stop() {
  if alive "$dir/slurmctld.pid" && command -v scancel >/dev/null; then
    SLURM_CONF="$conf" scancel --quiet --full --user="$(id -un)" 2>/dev/null || true
  fi
  stop_pidfile slurmd "$dir/slurmd.pid"
  stop_pidfile slurmctld "$dir/slurmctld.pid"
  stop_pidfile munged "$dir/munge/munged.pid"
  log "stopped (state and logs in $dir)"
}

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  # 90% of the memory, in MB: slurmd drains a node that has less than its RealMemory.
  mem="$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
  cat > "$conf" <<CONF
# Written by tests/slurm/cluster.sh: one node (this machine), one partition, everything as root.
ClusterName=superalign
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
MinJobAge=300
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  [ "$(id -u)" -eq 0 ] || die "start needs root (the daemons run as root, munged as user munge)."
  install
  if alive "$dir/slurmctld.pid" || alive "$dir/slurmd.pid" || alive "$dir/munge/munged.pid"; then
    die "a cluster from $dir is running already (bash $0 stop)."
  fi
  rm -rf "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  chmod 755 "$dir"
  # munged (user munge) and its clients must reach the socket: every directory above it must be searchable by all.
  local up="$dir"
  while [ "$up" != / ]; do
    up="$(dirname "$up")"
    [ "$(( 0$(stat -c %a "$up") & 1 ))" -eq 1 ] || die "$up is not searchable by other users (mode $(stat -c %a "$up")); munged could not reach its socket under it: chmod o+x it or choose another SUPERALIGN_SLURM_DIR."
  done

  # munge: its own key, socket and pid file in the state directory, run as user munge (munged refuses root).
  # The socket's directory must be owned by munge and searchable by every client.
  chown munge: "$dir/munge"
  chmod 755 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge: "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

  write_conf
  export SLURM_CONF="$conf"
  slurmctld -c
  slurmd

  # Wait until the node takes jobs.
  local state="" i
  for i in $(seq 120); do
    state="$(sinfo -h -n "$node" -o %t 2>/dev/null || true)"
    case "$state" in
      idle|mix|alloc) break ;;
      down*|drain*|unk*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  if [ "$state" != idle ] && [ "$state" != mix ] && [ "$state" != alloc ]; then
    log "the node is '$state' after 60 s; logs:"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/munge/munged.log" >&2 || true
    stop
    exit 1
  fi
  log "up: node $node ($(nproc) CPUs) is $state; export SLURM_CONF=$conf"
}

status() {
  local what
  for what in munge/munged slurmctld slurmd; do
    if alive "$dir/$what.pid"; then echo "$(basename "$what"): running ($(cat "$dir/$what.pid"))"; else echo "$(basename "$what"): not running"; fi
  done
  if alive "$dir/slurmctld.pid"; then SLURM_CONF="$conf" sinfo; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  conf) echo "$conf" ;;
  *) echo "usage: $0 install|start|stop|status|conf" >&2; exit 2 ;;
esac
