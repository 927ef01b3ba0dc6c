"""Atomic outputs shared between runs: locks, replacement, stale temporaries, permissions."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kdseg.runtime.atomic import atomic_dir, atomic_path, save_npy, write_json

FORK = mp.get_context("fork")
FILES = 12
HANG_S = 600  # bounds waits on a real hang (e.g. of a lock); no machine is that slow


def _wait_for(event, proc) -> None:
    """Wait for ``event`` as long as ``proc`` that sets it runs (no time limit)."""
    while not event.wait(0.1):
        assert proc.is_alive(), f"process ended with {proc.exitcode} before setting its event"


def _write_version(tmp: Path, version: int) -> None:
    """A folder of FILES files that all hold ``version``; the last one is written last."""
    for i in range(FILES):
        (tmp / f"part{i:02d}.txt").write_text(f"{version}\n" * 2000)


def _replace_repeatedly(target: str, rounds: int, first: int) -> None:
    for version in range(first, first + rounds):
        with atomic_dir(target) as tmp:
            _write_version(tmp, version)


def _read_locked_repeatedly(target: str, rounds: int, problems) -> None:
    from kdseg.runtime.locks import reading

    for _ in range(rounds):
        with reading(target):
            try:
                names = sorted(os.listdir(target))
                versions = {Path(target, n).read_text() for n in names}
            except OSError as err:
                problems.put(f"{type(err).__name__}: {err}")
                continue
        if len(names) != FILES or len(versions) != 1:
            problems.put(f"{len(names)} files, {len(versions)} versions")


def _run(*procs) -> list[int | None]:
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    return [p.exitcode for p in procs]


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture(params=["exchange", "rename-aside"])
def swap(request, monkeypatch):
    """Replacement by atomic exchange (Linux), or without it (as on NFS)."""
    if request.param == "rename-aside":
        monkeypatch.setattr("kdseg.runtime.atomic._exchange", lambda a, b: False)
    return request.param


def test_two_writers_replacing_one_folder_both_succeed(tmp_path, swap):
    """Two runs obtaining the same shared source: no 'Directory not empty', nothing lost."""
    target = tmp_path / "sources" / "segthor"
    writers = [
        FORK.Process(target=_replace_repeatedly, args=(str(target), 30, k * 100)) for k in (1, 2)
    ]
    assert _run(*writers) == [0, 0]
    versions = {p.read_text() for p in target.iterdir()}
    assert len(list(target.iterdir())) == FILES and len(versions) == 1
    assert _leftovers(target.parent) == []


def test_a_locked_reader_never_sees_a_missing_or_partial_file(tmp_path, swap):
    """One run replaces a folder again and again while another reads it under the shared lock."""
    target = tmp_path / "nnUNet_raw" / "Dataset001_X"
    _replace_repeatedly(str(target), 1, 0)
    problems = FORK.Queue()
    writer = FORK.Process(target=_replace_repeatedly, args=(str(target), 40, 1))
    reader = FORK.Process(target=_read_locked_repeatedly, args=(str(target), 200, problems))
    assert _run(writer, reader) == [0, 0]
    seen = []
    while not problems.empty():
        seen.append(problems.get())
    assert seen == []
    assert _leftovers(target.parent) == []


def _watch(target: str, stop, missing) -> None:
    while not stop.is_set():
        if not os.path.isdir(target):
            missing.value += 1


@pytest.mark.skipif(sys.platform != "linux", reason="atomic exchange is a Linux call")
def test_the_target_never_disappears_while_it_is_replaced(tmp_path):
    """Another run checking whether the output exists (as Snakemake does) always finds it."""
    target = tmp_path / "out"
    _replace_repeatedly(str(target), 1, 0)
    stop, missing = FORK.Event(), FORK.Value("i", 0)
    watcher = FORK.Process(target=_watch, args=(str(target), stop, missing))
    watcher.start()
    try:
        _replace_repeatedly(str(target), 40, 1)
    finally:
        stop.set()
        watcher.join(HANG_S)
    assert missing.value == 0


def _killed_while_writing(target: str, kind: str, ready) -> None:
    context = atomic_dir(target) if kind == "dir" else atomic_path(target, suffix=".part")
    with context as tmp:
        if kind == "dir":
            (tmp / "big.bin").write_bytes(b"\0" * 100_000)
        else:
            tmp.write_bytes(b"\0" * 100_000)
        ready.set()
        time.sleep(HANG_S)  # killed by the test


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_the_next_write_removes_temporaries_of_a_killed_run(tmp_path, kind):
    target = tmp_path / ("preprocessed" if kind == "dir" else "Task05_Prostate.tar")
    ready = FORK.Event()
    victim = FORK.Process(target=_killed_while_writing, args=(str(target), kind, ready))
    victim.start()
    _wait_for(ready, victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(HANG_S)
    stale = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert len(stale) == 1  # what a killed job leaves behind
    if kind == "dir":
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("a")
    else:
        with atomic_path(target, suffix=".part") as tmp:
            tmp.write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_only_temporaries_of_the_same_target_are_removed(tmp_path):
    """Old-style (mkstemp) and new-style temporaries of the target go; anything else stays."""
    stale = [".out.k3j_x9a2.tmp", ".out.0badcafe.tmp", ".out.0badcafe.tmp.old"]
    kept = [
        ".out.longer.0badcafe.tmp",  # a temporary of the target 'out.longer'
        ".outer.0badcafe.tmp",  # of 'outer'
        "out.0badcafe.tmp",  # not hidden: someone's data
        ".out.notes",
    ]
    for name in stale + kept:
        (tmp_path / name).mkdir()
    (tmp_path / stale[0] / "case.npy").write_bytes(b"x" * 1000)
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "out"])


def _slow_writer(target: str, started, release) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "who.txt").write_text("first")
        started.set()
        release.wait(HANG_S)


def _second_writer(target: str) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "who.txt").write_text("second")


def test_a_live_writers_temporary_is_kept(tmp_path):
    """A second run of the same job waits for the first instead of removing its temporary."""
    target = tmp_path / "out"
    started, release = FORK.Event(), FORK.Event()
    first = FORK.Process(target=_slow_writer, args=(str(target), started, release))
    first.start()
    second = FORK.Process(target=_second_writer, args=(str(target),))
    try:
        _wait_for(started, first)
        live = [p for p in tmp_path.iterdir() if ".tmp" in p.name]
        second.start()
        time.sleep(1.0)
        assert [p for p in tmp_path.iterdir() if ".tmp" in p.name] == live
        assert (live[0] / "who.txt").read_text() == "first"
        assert not target.exists()
    finally:
        release.set()  # also when an assertion failed: the writers end
    first.join(HANG_S)
    if second.pid is not None:
        second.join(HANG_S)
    assert (first.exitcode, second.exitcode) == (0, 0)
    assert (target / "who.txt").read_text() == "second"
    assert _leftovers(tmp_path) == []


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_follow_the_umask(tmp_path, umask):
    """A shared data folder is readable by colleagues as the umask allows (not owner-only)."""
    write_json(tmp_path / "report.json", {"a": 1})
    save_npy(tmp_path / "case.npy", np.zeros(3))
    with atomic_path(tmp_path / "model.pt") as tmp, open(tmp, "wb") as fh:
        fh.write(b"weights")
    for _ in range(2):  # a fresh folder, then one replacing it
        with atomic_dir(tmp_path / "raw") as tmp:
            (tmp / "imagesTr").mkdir()
            save_npy(tmp / "imagesTr" / "x.npy", np.zeros(2))
    for name in ("report.json", "case.npy", "model.pt", "raw/imagesTr/x.npy"):
        assert _mode(tmp_path / name) == 0o666 & ~umask, name
    for name in ("raw", "raw/imagesTr"):
        assert _mode(tmp_path / name) == 0o777 & ~umask, name


def test_no_lock_or_temporary_is_left_beside_or_inside_outputs(tmp_path):
    from kdseg.runtime.locks import reading

    with atomic_dir(tmp_path / "raw") as tmp:
        save_npy(tmp / "x.npy", np.zeros(2))
        write_json(tmp / "sub" / "y.json", {})
    write_json(tmp_path / "r.json", {})
    with reading(tmp_path / "raw"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "raw"]
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "raw").rglob("*")) == [
        "raw/sub",
        "raw/sub/y.json",
        "raw/x.npy",
    ]


def test_reading_and_writing_one_target_in_one_thread_is_an_error_not_a_hang(tmp_path):
    from kdseg.errors import KdsegError
    from kdseg.runtime.locks import reading

    (tmp_path / "raw").mkdir()
    with (
        reading(tmp_path / "raw"),
        pytest.raises(KdsegError, match="already"),
        atomic_dir(tmp_path / "raw"),
    ):
        pass


def test_a_read_where_no_lock_can_be_taken_goes_ahead_unlocked(tmp_path, caplog):
    from kdseg.runtime.locks import reading

    with caplog.at_level("INFO", logger="kdseg"), reading(tmp_path / "missing" / "raw") as held:
        assert held is False
    assert "without a lock" in caplog.text
    with reading(tmp_path / "raw") as held:
        assert held is True
