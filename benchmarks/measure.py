"""Time one whole process tree: wall seconds, CPU seconds of every process in it, peak memory.

    m = measure([sys.executable, "-m", "perfxl", "check", folder])
    m.wall, m.cpu, m.cpu_main, m.rss_largest, m.rss_tree, m.orphans

CPU. `os.wait4` gives the child's ru_utime + ru_stime, which on Linux include the children the
child *waited for* (reaped), and their own reaped children, recursively; a descendant nobody
reaped is not in it. perfxl's workers are children of multiprocessing's forkserver, not of
perfxl: the forkserver reaps them (so their CPU is in the forkserver's figure), but perfxl never
waits for the forkserver, which exits only after perfxl did (when its lifeline pipe closes). It
is then an orphan, so its CPU and that of every worker would be lost. The harness therefore makes
itself a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): orphans of the measured tree are
re-parented to it, it reaps them after the main child, and `cpu` is the sum of the main child's
rusage and every orphan's (`cpu_main` is the main child's alone, `orphans` how many there were).
Without prctl (not Linux) `cpu` is `cpu_main` and may miss the workers: the output says so.

Memory. ru_maxrss of wait4 is the largest peak of any single process in the reaped tree, not
the tree's sum (a worker's peak and the parent's peak at different moments). `rss_tree` is
sampled: every `interval` s the RSS of every process in the tree is summed, from
/proc/<pid>/task/*/children and /proc/<pid>/statm (a few small reads; psutil, which scans every
process of the machine to find children, when /proc has no children files). Summed RSS counts
pages shared between processes (the forkserver's imports in each forked worker) once per
process, so it over-states what the tree takes from the machine; a peak shorter than the
interval can be missed.

Wall: from the start to the main child's exit (what the user waits for); orphans still ending
after it are reaped, not timed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
_SUBREAPER: bool | None = None


def subreaper() -> bool:
    """Make this process a child subreaper (once); whether it is one."""
    global _SUBREAPER
    if _SUBREAPER is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _SUBREAPER = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            _SUBREAPER = False
    return _SUBREAPER


@dataclass(frozen=True)
class Measure:
    wall: float  # seconds to the main child's exit
    cpu: float  # user + system seconds of the main child and every orphan reaped after it
    cpu_main: float  # user + system of the main child (incl. the children it reaped)
    rss_largest: float  # MiB: ru_maxrss, the largest single process
    rss_tree: float  # MiB: the largest sampled sum over the tree
    orphans: int  # processes of the tree reaped by the harness after the main child
    status: int  # the main child's exit code


def _children_proc(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return out


def _rss_proc(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss_proc(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_proc(pid)
        todo.extend(_children_proc(pid))
    return total


def _tree_rss_psutil(root: int) -> int:
    import psutil

    try:
        proc = psutil.Process(root)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _has_children_files() -> bool:
    return Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def tree_rss_method() -> str:
    if _has_children_files():
        return "/proc/<pid>/task/*/children + statm"
    try:
        import psutil  # noqa: F401
    except ImportError:
        return "none (no /proc children files, no psutil): tree RSS is the main process's"
    return "psutil"


class _Sampler(threading.Thread):
    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.peak = root, interval, 0
        self.stop = threading.Event()
        if _has_children_files():
            self.tree = _tree_rss_proc
        else:
            try:
                import psutil  # noqa: F401

                self.tree = _tree_rss_psutil
            except ImportError:
                self.tree = _rss_proc

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.tree(self.root))
            self.stop.wait(self.interval)


def _cpu(usage: os.struct_rusage) -> float:  # type: ignore[name-defined]
    return usage.ru_utime + usage.ru_stime


def reap_leftovers(timeout: float = 10.0) -> tuple[int, float, int]:
    """Reap every child this process has left (orphans re-parented to it, with prctl), waiting
    up to `timeout` s for them to end: (how many, their CPU s, their largest ru_maxrss KiB)."""
    count, cpu, maxrss = 0, 0.0, 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count, cpu, maxrss
        if pid == 0:
            if time.monotonic() > deadline:
                return count, cpu, maxrss
            time.sleep(0.01)
            continue
        count, cpu, maxrss = count + 1, cpu + _cpu(usage), max(maxrss, usage.ru_maxrss)


def measure(cmd: list[str], *, interval: float = 0.05, cwd: Path | None = None, ok: tuple[int, ...] = (0, 1)) -> Measure:
    """Run `cmd` (output discarded) and measure its whole process tree; an exit code outside
    `ok` is an error (RuntimeError naming the command)."""
    subreaper()
    reap_leftovers(timeout=5.0)  # nothing of an earlier command may be counted in this one
    # stderr to a file, not a pipe: the forkserver inherits it and outlives the main child
    with tempfile.TemporaryFile() as errfile:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errfile)
        sampler = _Sampler(proc.pid, interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        errfile.seek(0)
        err = errfile.read()
    sampler.stop.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    orphans, orphan_cpu, orphan_rss = reap_leftovers()
    if proc.returncode not in ok:
        tail = err.decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    largest = max(usage.ru_maxrss, orphan_rss) * 1024 / MIB
    return Measure(
        wall=wall,
        cpu=_cpu(usage) + orphan_cpu,
        cpu_main=_cpu(usage),
        rss_largest=largest,
        rss_tree=max(sampler.peak / MIB, largest),
        orphans=orphans,
        status=proc.returncode,
    )
