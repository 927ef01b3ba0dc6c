#!/usr/bin/env bash
# Stop the test SLURM of tests/slurm/setup.sh (jobs cancelled, daemons stopped, state and
# config removed).
set -uo pipefail
scancel --full --quiet -u root 2>/dev/null
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
done
sleep 1
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
# Without a controller, SLURM's client tools wait ~10 s for it; the SLURM executor plugin calls
# `scontrol show config` whenever Snakemake starts. Without a config they fail at once.
rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
exit 0
