#!/usr/bin/env bash
# A real one-node SLURM on 127.0.0.1 for the tests (needs root; Debian's slurm-wlm and munge).
# No systemd: daemons are started directly; liveness is read from /proc/PID/status (PID 1 does
# not reap them, so `kill -0` would also see zombies). Two fake GPUs are declared for scheduling
# (character devices, AutoDetect=off). No accounting: the workflow queries job states with
# `--slurm-status-command squeue`, hence MinJobAge well above 3x the status interval.
# Usage: tests/slurm/setup.sh   (teardown: tests/slurm/teardown.sh)
set -euo pipefail

[[ $(id -u) == 0 ]] || { echo "tests/slurm/setup.sh: needs root" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; }
fi

NODE=$(hostname -s)
# 16 CPUs declared whatever the machine has (SlurmdParameters=config_overrides): the profile asks
# 8 CPUs per GPU for training, and the two fake GPUs' jobs should run side by side
CPUS=$(( $(nproc) > 16 ? $(nproc) : 16 ))
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
ETC=/etc/slurm
mkdir -p "$ETC" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /etc/munge

for i in 0 1; do
    [[ -e /dev/kdseg-fakegpu$i ]] || mknod /dev/kdseg-fakegpu$i c 1 3
done

cat > "$ETC/slurm.conf" <<CONF
ClusterName=kdseg
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
DefMemPerCPU=500
KillWait=5
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat > "$ETC/gres.conf" <<CONF
AutoDetect=off
Name=gpu File=/dev/kdseg-fakegpu0
Name=gpu File=/dev/kdseg-fakegpu1
CONF

alive() {  # alive PIDFILE: the process exists and is not a zombie
    [[ -s $1 ]] || return 1
    local pid; pid=$(cat "$1")
    [[ -r /proc/$pid/status ]] && ! grep -q '^State:.*Z' "/proc/$pid/status"
}

[[ -s /etc/munge/munge.key ]] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
chown -R munge:munge /etc/munge /var/lib/munge /run/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
alive /run/munge/munged.pid || su -s /bin/sh munge -c "munged --pid-file=/run/munge/munged.pid" \
    || munged --force --pid-file=/run/munge/munged.pid
alive /run/slurmctld.pid || slurmctld
alive /run/slurmd.pid || slurmd -N "$NODE"

for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
        sinfo
        exit 0
    fi
    sleep 0.5
done
echo "tests/slurm/setup.sh: SLURM did not come up; see /var/log/slurm/" >&2
sinfo >&2 || true
exit 1
