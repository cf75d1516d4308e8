"""Worker processes: an abort, a hang or a memory blow-up costs one file, never the batch; one
pool runs any function; every child dies with its parent, also after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from conftest import RUBRIC

from perfxl.model import Limits, Options
from perfxl.parallel import WorkerLost, parallel_map
from perfxl.read.intake import discover
from perfxl.run import pipeline, worker
from perfxl.run.worker import WorkerError, WorkerPool

# Workers are started by the forkserver (spawned on Windows), so a monkeypatch in this process
# never reaches them: the readers below are module-level functions the pool is given.


def _flaky(path: Path, rel: str, options):
    if rel == "crash.xlsx":
        os.abort()  # what python-calamine does on a far-corner cell
    if rel == "hang.xlsx":
        time.sleep(60)
    if rel == "bug.xlsx":
        raise KeyError("x")  # a bug of perfxl's, not of the file
    return pipeline.process_file(path, rel, options)


def _hungry(path: Path, rel: str, options):
    if rel == "crash.xlsx":
        blob = bytearray(3 * 2**30)  # beyond the 2 GiB cap
        return blob  # pragma: no cover - never reached
    return pipeline.process_file(path, rel, options)


def _growing(path: Path, rel: str, options):
    if rel == "crash.xlsx":
        hoard = []
        for _ in range(200):  # 50 MiB at a time, up to 10 GiB: the parent must stop it first
            hoard.append(bytearray(50 * 2**20))
            time.sleep(0.05)
    return pipeline.process_file(path, rel, options)


@pytest.fixture
def folder(tmp_path: Path, make_return) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name, code in (("a-good.xlsx", "G1"), ("bug.xlsx", "B1"), ("crash.xlsx", "C1"), ("hang.xlsx", "H1"),
                       ("z-good.xlsx", "G2")):
        make_return(f"in/{name}", unit_code=code)
    return src


def _read(folder: Path, options, read, jobs: int = 2, **kw) -> dict:
    with WorkerPool(jobs, options, read=read, **kw) as pool:
        return {r.file: r for _, r in pool.run([c for c in discover(folder) if not c.ignore])}


@pytest.mark.slow
def test_abort_hang_and_bug_cost_only_their_file(folder):
    options = replace(Options.for_rubric(RUBRIC), limits=Limits(seconds=3))
    started = time.monotonic()
    got = _read(folder, options, _flaky)
    assert time.monotonic() - started < 30  # the hang was cut at its limit, not waited out
    assert got["a-good.xlsx"].status == got["z-good.xlsx"].status == "reviewed"
    assert got["crash.xlsx"].status == "unreadable"
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "异常终止" in got["crash.xlsx"].findings[0].message
    assert [f.code for f in got["hang.xlsx"].findings] == ["file-unsafe"]
    assert "3 秒" in got["hang.xlsx"].findings[0].message
    bug = got["bug.xlsx"]
    assert bug.status == "unreadable" and [f.code for f in bug.findings] == ["internal-error"]
    assert "KeyError: 'x'" in bug.findings[0].message and "不是文件本身的问题" in bug.findings[0].message


def test_memory_limit_fails_the_file_not_the_batch(folder):
    got = _read(folder, Options.for_rubric(RUBRIC), _hungry, jobs=1, poll_memory=False)
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "内存" in got["crash.xlsx"].findings[0].message
    assert got["hang.xlsx"].status == "reviewed"  # an ordinary file for this reader


@pytest.mark.slow
def test_polled_memory_limit_without_rlimit(folder):
    """Windows has no RLIMIT_AS: the pool watches the workers' memory and stops a runaway file."""
    options = replace(Options.for_rubric(RUBRIC), limits=Limits(memory_bytes=400 * 2**20))
    got = _read(folder, options, _growing, jobs=1, poll_memory=True)
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "400 MiB" in got["crash.xlsx"].findings[0].message
    assert got["a-good.xlsx"].status == "reviewed"


def test_options_and_rubric_travel_to_workers():
    """Workers are not forked: Options (rubric, limits, adjustments) reach them pickled."""
    import datetime as dt
    import pickle
    from decimal import Decimal

    from perfxl.model import Adjustment

    options = Options.for_rubric(RUBRIC, year=2021, deadline=dt.date(2022, 6, 30), limits=Limits(seconds=5),
                                 adjustments={"T001": {"A1": Adjustment(Decimal("4.5"), "核查")}})
    back = pickle.loads(pickle.dumps(options))
    assert back == options and back.rubric == RUBRIC and back.adjustments["T001"]["A1"].score == Decimal("4.5")


# -- parallel_map -------------------------------------------------------------


class PathError(Exception):
    """Like another stage's OutputFolderError(path, cause): picklable, two args."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(path, cause)
        self.path, self.cause = path, cause


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}/{b}")  # args no longer match __init__: it cannot be rebuilt


_OFFSET = 0


def _set_offset(n: int) -> None:
    global _OFFSET
    _OFFSET = n


def _add(t: int) -> tuple[int, int]:
    return t + _OFFSET, os.getpid()


def _fail_on_7(t: int) -> int:
    if t == 7:
        raise PathError("reports/甲.md", "磁盘已满")
    return t


def _unpicklable_on_3(t: int) -> int:
    if t == 3:
        raise Unpicklable(1, 2)
    return t


def _die_on_5(t: int) -> int:
    if t == 5:
        os._exit(9)
    return t


def test_parallel_map_keeps_order_and_runs_the_initializer_in_workers():
    out = parallel_map(_add, range(40), jobs=2, per_process=10, initializer=_set_offset, initargs=(100,))
    assert [v for v, _ in out] == list(range(100, 140))
    assert os.getpid() not in {pid for _, pid in out}  # really in other processes
    _set_offset(0)
    few = parallel_map(_add, [1, 2], jobs=2, per_process=10, initializer=_set_offset, initargs=(5,))
    assert [v for v, _ in few] == [6, 7] and {pid for _, pid in few} == {os.getpid()}  # here, initialised
    _set_offset(0)


def test_parallel_map_raises_the_workers_exception_with_its_type_and_args():
    with pytest.raises(PathError) as info:
        parallel_map(_fail_on_7, range(40), jobs=2, per_process=5)
    assert info.value.args == ("reports/甲.md", "磁盘已满") and info.value.path == "reports/甲.md"
    assert isinstance(info.value.__cause__, worker.RemoteTraceback)
    assert "_fail_on_7" in str(info.value.__cause__)  # the worker's traceback, for the maintainer
    with pytest.raises(WorkerError, match="Unpicklable: 1/2"):
        parallel_map(_unpicklable_on_3, range(40), jobs=2, per_process=5)
    with pytest.raises(WorkerLost, match="退出码 9"):
        parallel_map(_die_on_5, range(40), jobs=2, per_process=5)


def _write_or_fail(path: str) -> None:
    if not Path(path).parent.is_dir():
        raise FileNotFoundError(path)
    Path(path).write_text("ok", encoding="utf-8")


QUIET = textwrap.dedent("""
    import sys
    from perfxl.parallel import parallel_map
    from perfxl.pool import InThread


    def fail(n, cancelled=None):
        raise OSError(28, "No space left on device", f"out/{n}")


    if __name__ == "__main__":
        job = InThread(fail, 1)
        try:
            parallel_map(fail, range(8), jobs=2, per_process=2)
        except OSError as exc:
            print("map raised here", exc.errno)
        try:
            job.finish()
        except OSError as exc:
            print("finish raised here", exc.errno)
""")


def test_no_child_prints_a_traceback(tmp_path):
    """A child's stderr is the terminal's (the forkserver's): a failing job must say nothing there."""
    script = tmp_path / "quiet.py"
    script.write_text(QUIET, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == ["map raised here 28", "finish raised here 28"]
    assert done.stderr == ""


# -- parent death ------------------------------------------------------------------------------

PARENT = textwrap.dedent("""
    import os, sys, threading, time
    from pathlib import Path

    from perfxl.model import Limits, Options
    from perfxl.parallel import parallel_map
    from perfxl.read.intake import Candidate
    from perfxl.run.pipeline import process_file
    from perfxl.run.worker import WorkerPool
    from perfxl.spec.rubric import load_rubric


    def nap(seconds):
        time.sleep(seconds)
        return seconds


    def read_fifos(folder):
        options = Options.for_rubric(load_rubric("gd-dept-2020"), limits=Limits(seconds=600))
        fifos = [Candidate(p, p.name) for p in sorted(Path(folder).glob("*.xlsx"))]
        with WorkerPool(2, options, process_file) as pool:
            list(pool.run(fifos))


    if __name__ == "__main__":
        folder = sys.argv[1]
        threading.Thread(target=read_fifos, args=(folder,), daemon=True).start()
        threading.Thread(target=parallel_map, args=(nap, [600] * 4), kwargs={"jobs": 2, "per_process": 1},
                         daemon=True).start()
        print("started", flush=True)
        time.sleep(600)
""")


def _living(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX; the lifeline is the same on Windows")
def test_every_child_dies_with_its_parent_after_kill_9(tmp_path):
    for name in ("a.xlsx", "b.xlsx"):
        os.mkfifo(tmp_path / name)  # opening one blocks for ever: the readers hang like a stuck library
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "started"
        me = psutil.Process(parent.pid)
        deadline = time.monotonic() + 30
        # 2 readers + 2 renderers, the forkserver and the resource tracker
        while len(children := me.children(recursive=True)) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [c.pid for c in children]
        assert len(pids) >= 6, [c.cmdline() for c in children]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while _living(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _living(pids) == []


# -- InThread: the summary written by a thread of the parent ---------------------------------


def _write_unless(path: str, *, cancelled) -> None:
    from perfxl.pool import check_cancelled

    check_cancelled(cancelled)
    _write_or_fail(path)


def test_in_thread_raises_its_error_at_finish_and_writes_when_it_can(tmp_path):
    from perfxl.pool import InThread

    failing = InThread(_write_unless, str(tmp_path / "no" / "such" / "file.txt"))
    with pytest.raises(FileNotFoundError):
        failing.finish()
    ok = tmp_path / "ok.txt"
    InThread(_write_unless, str(ok)).finish()
    assert ok.read_text(encoding="utf-8") == "ok"


def test_a_cancelled_summary_writes_nothing(tmp_path):
    import datetime as dt

    from conftest import RUBRIC

    from perfxl.model import BatchResult, FileResult
    from perfxl.pool import Cancelled
    from perfxl.write.summary import write_summary

    batch = BatchResult(RUBRIC, 2020, dt.date(2021, 6, 20), [FileResult("a.xlsx", unit_code="A1", unit_name="甲")])
    with pytest.raises(Cancelled):
        write_summary(batch, tmp_path, cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []  # neither summary.xlsx nor a temporary file
    assert write_summary(batch, tmp_path, cancelled=lambda: False).is_file()
