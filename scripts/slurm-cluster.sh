#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on localhost (munged + slurmctld + slurmd, no systemd, no
# cgroups, no accounting), for tests/slurm/run.sh and for trying examples/slurm-array.sbatch.
#
#   scripts/slurm-cluster.sh up DIR     start it; everything it writes is under DIR
#   scripts/slurm-cluster.sh down DIR   cancel every job, stop what `up DIR` started
#
# After `up`, point the Slurm commands at it with `export SLURM_CONF=DIR/slurm.conf`.
#
# up: needs root (SlurmUser=root) and the Debian packages slurmctld, slurmd, slurm-client and munge
# (scripts/install-deps.sh installs them). Reuses a munged that already works (`munge -n | unmunge`),
# else starts one as user munge. Writes DIR/slurm.conf with CPUs=$(nproc) (more than the hardware
# drains the node), NodeName=localhost (slurmd -N localhost, whatever the hostname), starts
# slurmctld and slurmd, and waits up to 30 s for the node to be `idle` (printing the log tails if it
# is not). Exit 77 with one line saying why when Slurm cannot start here: not root, a package
# missing, a port in use.
#
# down: scancels every job, sends SIGTERM to the daemons named in DIR/run's pid files (munged only
# when `up` started it), waits up to 10 s, then SIGKILLs. Every process `up` started carries
# DROVER_SLURM_CLUSTER=DIR in its environment; down ends whatever of those is left (slurmstepd
# included) and fails if one remains. DIR itself stays (its logs); the caller removes it.
#
# Environment: SLURMCTLD_PORT (6817), SLURMD_PORT (6818), SLURM_CPUS ($(nproc)),
# SLURM_AUTH=munge|none (munge; none is Slurm's test-only no-authentication plugin).
set -euo pipefail

SKIP=77
me=slurm-cluster

usage() {
  echo "usage: $0 up|down DIR" >&2
  exit 2
}

skip() {
  echo "$me: cannot start Slurm here: $*" >&2
  exit "$SKIP"
}

[ $# -eq 2 ] || usage
action=$1
case "$action" in up|down) ;; *) usage ;; esac
[ -n "$2" ] || usage
if [ "$action" = up ] && [ "$(id -u)" != 0 ]; then skip "not root (the daemons run as SlurmUser=root)"; fi
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf="$dir/slurm.conf"
run="$dir/run"
log="$dir/log"
marker="DROVER_SLURM_CLUSTER=$dir"
ctld_port=${SLURMCTLD_PORT:-6817}
slurmd_port=${SLURMD_PORT:-6818}
cpus=${SLURM_CPUS:-$(nproc)}
auth=${SLURM_AUTH:-munge}

# pid_of NAME: the pid in run/NAME.pid when that process is alive and still runs program NAME.
pid_of() {
  local file="$run/$1.pid" pid
  [ -s "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  echo "$pid"
}

# The pids of processes whose environment has this cluster's marker (daemons, slurmstepd, ...).
cluster_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != "$$" ] || continue
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$marker"; then echo "${p#/proc/}"; fi
  done
}

port_busy() {
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

munge_works() {
  command -v munge >/dev/null && command -v unmunge >/dev/null &&
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

log_tails() {
  local f
  for f in "$log/slurmctld.log" "$log/slurmd.log" "$log/munged.err"; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 20 "$f" | sed 's/^/  | /' >&2
  done
}

# wait_gone SECONDS PID...: true once none of the pids is alive.
wait_gone() {
  local deadline=$(( $(date +%s) + $1 )) p alive
  shift
  while :; do
    alive=0
    for p in "$@"; do
      if kill -0 "$p" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
        alive=1
      fi
    done
    [ "$alive" = 1 ] || return 0
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

down() {
  local pids=() p n left
  if [ -f "$conf" ] && pid_of slurmctld >/dev/null; then
    # Jobs first: slurmstepd and the job processes outlive the daemons otherwise.
    local jobs
    jobs=$(SLURM_CONF=$conf timeout 10 squeue -h -o %F 2>/dev/null | sort -u || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086  # one word per job id
      SLURM_CONF=$conf timeout 10 scancel $jobs 2>/dev/null || true
      for _ in $(seq 50); do
        [ -z "$(SLURM_CONF=$conf timeout 5 squeue -h -o %i 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  for n in slurmd slurmctld; do
    if p=$(pid_of "$n"); then pids+=("$p"); fi
  done
  if [ -f "$run/munged.ours" ] && p=$(pid_of munged); then pids+=("$p"); fi
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    if ! wait_gone 10 "${pids[@]}"; then
      echo "$me: a daemon did not stop on SIGTERM within 10 s: SIGKILL" >&2
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 5 "${pids[@]}" || true
    fi
  fi
  # Anything else the cluster started (slurmstepd, a daemon's second pid while it daemonized).
  mapfile -t left < <(cluster_pids)
  if [ ${#left[@]} -gt 0 ]; then
    kill -TERM "${left[@]}" 2>/dev/null || true
    wait_gone 5 "${left[@]}" || kill -KILL "${left[@]}" 2>/dev/null || true
    wait_gone 5 "${left[@]}" || true
    mapfile -t left < <(cluster_pids)
    if [ ${#left[@]} -gt 0 ]; then
      echo "$me: still running after SIGKILL: ${left[*]}" >&2
      return 1
    fi
  fi
  rm -f "$run/munged.ours"
}

write_conf() {
  local auth_type=auth/munge cred_type=cred/munge
  if [ "$auth" = none ]; then auth_type=auth/none cred_type=cred/none; fi
  mkdir -p "$dir/state" "$dir/spool" "$run" "$log"
  cat >"$conf" <<EOF
# Single-node Slurm for tests (written by scripts/slurm-cluster.sh): no systemd, no cgroups, no
# accounting.
ClusterName=drover
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=$auth_type
CredType=$cred_type
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$log/slurmctld.log
SlurmdLogFile=$log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
# Finished jobs (and array tasks' exit codes) stay visible for 5 minutes; lower it and they go.
MinJobAge=300
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# The EXIT trap of a failed `up`: the log tails, and nothing left running.
up_failed() {
  if [ "$1" != 0 ] && [ "$1" != "$SKIP" ]; then
    log_tails
    down || true
  fi
}

up() {
  local prog
  for prog in slurmctld slurmd sinfo sbatch squeue scancel scontrol; do
    command -v "$prog" >/dev/null || skip "$prog is not installed (Debian: slurmctld slurmd slurm-client)"
  done
  case "$auth" in
    munge) for prog in munged munge unmunge runuser; do
             command -v "$prog" >/dev/null || skip "$prog is not installed (Debian: munge)"
           done ;;
    none) ;;
    *) echo "$me: SLURM_AUTH takes munge or none, not '$auth'" >&2; exit 2 ;;
  esac
  case "$cpus" in ''|*[!0-9]*|0) echo "$me: SLURM_CPUS takes a positive integer" >&2; exit 2 ;; esac
  local port
  for port in "$ctld_port" "$slurmd_port"; do
    case "$port" in ''|*[!0-9]*) echo "$me: a port must be a number, not '$port'" >&2; exit 2 ;; esac
    if port_busy "$port"; then
      skip "port $port is in use (another Slurm? set SLURMCTLD_PORT/SLURMD_PORT)"
    fi
  done
  if pid_of slurmctld >/dev/null || pid_of slurmd >/dev/null; then
    echo "$me: a cluster in $dir is running already (stop it with: $0 down $dir)" >&2
    exit 1
  fi

  write_conf
  # From here on, a failure stops whatever was started.
  trap 'up_failed $?' EXIT

  if [ "$auth" = munge ] && ! munge_works; then
    [ -r /etc/munge/munge.key ] || skip "/etc/munge/munge.key is missing (reinstall munge)"
    # Without systemd nothing creates munged's socket directory; the key belongs to user munge.
    install -d -o munge -g munge -m 0755 /run/munge
    # Its own pid and log files stay where munged checks their directories' ownership.
    env "$marker" runuser -u munge -- munged 2>"$log/munged.err" ||
      { echo "$me: munged did not start:" >&2; sed 's/^/  | /' "$log/munged.err" >&2; exit 1; }
    cp /run/munge/munged.pid "$run/munged.pid"
    : >"$run/munged.ours"
    for _ in $(seq 50); do munge_works && break; sleep 0.1; done
    munge_works || { echo "$me: munged started but munge -n | unmunge fails" >&2; exit 1; }
  fi

  env "$marker" slurmctld -i -f "$conf" || { echo "$me: slurmctld did not start" >&2; exit 1; }
  env "$marker" slurmd -N localhost -f "$conf" || { echo "$me: slurmd did not start" >&2; exit 1; }

  local deadline=$(( $(date +%s) + 30 )) state=""
  while :; do
    state=$(SLURM_CONF=$conf timeout 5 sinfo -h -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$me: the node is not idle after 30 s (state: '${state:-no answer}')" >&2
      exit 1
    fi
    sleep 0.2
  done
  trap - EXIT
  echo "$me: up in $dir (SLURM_CONF=$conf, ports $ctld_port/$slurmd_port, $cpus CPUs)" >&2
}

"$action"
