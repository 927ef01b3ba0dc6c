"""Where a study's wall time goes: per-stage (rule) job times and each job's fixed cost.

Reads a finished run's Snakemake log (``.snakemake/log/*.snakemake.log``, by default the
newest that ran jobs: not a report's) for its jobs, and each job's own log for its fixed cost.
Jobs of kdseg since 2026-12-07 log it to the hundredth of a second: ``start-up`` (from the
process's start, as the operating system keeps it, to its first log line: interpreter,
imports), ``warm-up`` (a predict job's untimed first case: first-call allocations and lazy
imports such as MONAI's) and ``job done`` (the process's whole life). Older logs fall back to
Snakemake's 1 s timestamps: start-up = first log line - job start. Fixed share = (start-up +
warm-up) / job seconds. Then measures, side by side on this machine, what importing each job
script's modules costs in a fresh interpreter, for comparison.

    python benchmarks/demo_stages.py [--workdir .] [--log PATH] [--no-imports]
        [--import-repeats 3]
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from kdseg.runtime.steps import logged_times

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
LINE_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d) ")


def parse_jobs(log: Path, workdir: Path) -> pd.DataFrame:
    """One row per job: rule, seconds, start-up and warm-up seconds (start-up None: no own log
    line), and whether the job timed itself (``precise``) or Snakemake's 1 s clock did."""
    jobs: dict[str, dict] = {}
    stamp, current = None, None
    for line in log.read_text().splitlines():
        m = STAMP.match(line.strip())
        if m:
            stamp = dt.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            continue
        rule = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if rule:
            current = {"rule": rule.group(1), "start": stamp}
            continue
        if current is not None and line.strip().startswith("log: "):
            current["log"] = line.strip()[5:].split(",")[0].strip()
        jobid = re.match(r"^\s*jobid: (\d+)$", line)
        if jobid and current is not None:
            jobs[jobid.group(1)] = current
            current = None
        done = re.match(r"^Finished jobid: (\d+)", line.strip())
        if done and done.group(1) in jobs:
            jobs[done.group(1)]["end"] = stamp
    rows = []
    for job in jobs.values():
        if "end" not in job or job["rule"] == "all":
            continue
        own_log = workdir / job["log"] if "log" in job else None
        measured = logged_times(own_log.read_text()) if own_log and own_log.exists() else {}
        if "startup" in measured and "seconds" in measured:  # timed by the job itself
            rows.append({"rule": job["rule"], "warmup": 0.0, **measured, "precise": True})
            continue
        seconds = (job["end"] - job["start"]).total_seconds()
        startup = first_line_delay(own_log, job["start"]) if own_log else None
        rows.append({"rule": job["rule"], "seconds": seconds, "startup": startup,
                     "warmup": 0.0, "precise": False})  # fmt: skip
    return pd.DataFrame(rows)


def first_line_delay(log: Path, start: dt.datetime) -> float | None:
    """Seconds from the job's start to the first timestamped line of its own log."""
    if not log.exists():
        return None
    for line in log.read_text().splitlines():
        m = LINE_TIME.match(line)
        if m:
            first = start.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3]))
            return max(0.0, (first - start).total_seconds())
    return None


def script_of(rule: str) -> Path | None:
    """The job script a rule runs (from the rule files)."""
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        script = r"script:\s*\n\s*\"\.\./workflow/scripts/(\w+\.py)\""
        m = re.search(rf"^(?:rule|checkpoint) {rule}:.*?{script}", text, re.S | re.M)
        if m and "\nrule " not in text[m.start() + 1 : m.end()]:
            return REPO / "workflow" / "scripts" / m.group(1)
    return None


def import_seconds(script: Path, repeats: int = 3) -> float:
    """Median wall seconds of a fresh interpreter importing the script's kdseg modules."""
    tree = ast.parse(script.read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               and n.module and n.module.startswith("kdseg")]  # fmt: skip
    code = f"import sys; sys.path.insert(0, {str(REPO / 'src')!r})\n" + "".join(
        f"import {m}\n" for m in modules
    )
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=".")
    parser.add_argument(
        "--log", default=None, help="a Snakemake log (default: the newest that ran jobs)"
    )
    parser.add_argument("--no-imports", action="store_true", help="skip the import timing")
    parser.add_argument("--import-repeats", type=int, default=3, help="interpreters per script")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    logs = (
        [Path(args.log)]
        if args.log
        else sorted((workdir / ".snakemake" / "log").glob("*.log"), reverse=True)
    )  # newest first: a report's or a dry run's log has no job
    log, jobs = next(((log, jobs) for log in logs if len(jobs := parse_jobs(log, workdir))),
                     (None, None))  # fmt: skip
    if log is None:
        where = args.log or workdir / ".snakemake" / "log"
        sys.exit(f"{where}: no Snakemake log with finished jobs")
    stages = jobs.groupby("rule").agg(
        jobs=("seconds", "size"),
        precise=("precise", "sum"),
        seconds=("seconds", "sum"),
        startup=("startup", "sum"),
        warmup=("warmup", "sum"),
    )
    stages["fixed_share"] = (stages["startup"] + stages["warmup"]) / stages["seconds"].where(
        stages["seconds"] > 0
    )
    if not args.no_imports:
        stages["import_s_per_job"] = [
            import_seconds(s, args.import_repeats) if (s := script_of(rule)) else float("nan")
            for rule in stages.index
        ]
    stages = stages.sort_values("seconds", ascending=False)
    print(f"{log}: {len(jobs)} jobs")
    print(stages.round(2).to_string())
    total, startup = jobs["seconds"].sum(), jobs["startup"].fillna(0).sum()
    fixed = startup + jobs["warmup"].sum()
    print(
        f"\njob seconds {total:.0f} (summed over jobs; {int(jobs['precise'].sum())} of "
        f"{len(jobs)} timed to 0.01 s by their own logs, the others to 1 s); start-up "
        f"{startup:.0f} s = {startup / total:.1%}; with warm-up {fixed / total:.1%}"
    )


if __name__ == "__main__":
    main()
