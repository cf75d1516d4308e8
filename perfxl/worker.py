"""Read files in limited worker processes, so that a reader's abort, hang or memory blow-up
costs that one file and nothing else (spec §7).

Each worker takes one file at a time, so a death is attributed exactly. On POSIX a worker
caps its own address space (RLIMIT_AS); everywhere the parent kills a worker that exceeds the
time limit, and on platforms without RLIMIT_AS it polls the worker's memory when psutil is
available. Workers are forked where fork exists (cheap) and spawned elsewhere (Windows).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from perfxl.findings import Finding
from perfxl.intake import Candidate
from perfxl.model import FileResult

POLL_SECONDS = 0.5


try:
    import resource
except ImportError:  # Windows: the parent polls the workers' memory instead
    resource = None  # type: ignore[assignment]


def _limit_memory(limit: int) -> None:
    if resource is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard if hard != resource.RLIM_INFINITY else limit))


def _quiet() -> None:
    """A reader's dying words (Rust's "memory allocation … failed") are not for the clerk."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _serve(conn: Connection, options, limit: int, rlimit: bool) -> None:
    """Worker loop: receive (index, path, rel), send back (index, FileResult)."""
    from perfxl import pipeline

    _quiet()
    if rlimit:
        _limit_memory(limit)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, path, rel = task
        try:
            result = pipeline.process_file(Path(path), rel, options)
        except MemoryError:
            result = _failed(rel, "file-unsafe", f"读取时内存超过 {limit // 2**20} MiB 的安全上限")
        except Exception as exc:  # a bug of ours: report it on this file and carry on
            result = _failed(rel, "file-unreadable", f"读取时发生内部错误（{type(exc).__name__}: {exc}），"
                             "请将此文件反馈给 perfxl 维护人员")
        conn.send((index, result))


def _failed(rel: str, code: str, message: str) -> FileResult:
    return FileResult(file=rel, status="unreadable", findings=[Finding(code, message, file=rel)])


@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    task: tuple[int, Candidate] | None = None
    started: float = 0.0


def _context():
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


class WorkerPool:
    """A fixed number of limited worker processes reading files one at a time."""

    def __init__(self, jobs: int, options, poll_memory: bool | None = None) -> None:
        self.jobs = max(1, jobs)
        self.options = options
        self.limits = options.limits
        self.ctx = _context()
        self.workers: list[_Worker] = []
        #: without RLIMIT_AS (Windows) the parent watches each worker's resident memory
        self.poll_memory = resource is None if poll_memory is None else poll_memory

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_serve, daemon=True,
                                args=(child, self.options, self.limits.memory_bytes, not self.poll_memory))
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError, ValueError):
                w.conn.send(None)
        for w in self.workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
            w.conn.close()
        self.workers = []

    def _replace(self, w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=2)
        w.conn.close()
        self.workers[self.workers.index(w)] = self._start()

    def _death(self, w: _Worker, rel: str) -> FileResult:
        w.proc.join(timeout=2)  # the pipe can close before the exit status is known
        code = w.proc.exitcode
        if code is not None and code < 0:
            why = f"读取程序异常终止（信号 {-code}），多为文件中有超大区域或内存超过 {self.limits.memory_bytes // 2**20} MiB 的安全上限"
        else:
            why = f"读取程序异常退出（退出码 {code}）"
        return _failed(rel, "file-unsafe", f"{why}；该文件已跳过，请用 Excel/WPS 打开检查后另存为 .xlsx 再报送")

    def run(self, candidates: list[Candidate],
            progress: Callable[[str], None] | None = None) -> Iterator[tuple[int, FileResult]]:
        """Yield (index, result) for each candidate, in completion order."""
        queue = deque(enumerate(candidates))
        needed = min(self.jobs, len(candidates))
        while len(self.workers) < needed:
            self.workers.append(self._start())
        while queue or any(w.task for w in self.workers):
            for w in self.workers:
                if w.task is None and queue:
                    index, cand = queue.popleft()
                    w.task, w.started = (index, cand), time.monotonic()
                    w.conn.send((index, os.fspath(cand.path), cand.rel))
            busy = [w for w in self.workers if w.task]
            deadline = min(w.started for w in busy) + self.limits.seconds
            timeout = max(0.0, min(deadline - time.monotonic(), POLL_SECONDS))
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout))
            for w in busy:
                index, cand = w.task  # type: ignore[misc]
                result = None
                if w.conn in ready:
                    try:
                        _, result = w.conn.recv()
                    except (EOFError, OSError):
                        result = self._death(w, cand.rel)
                        self._replace(w)
                elif w.proc.sentinel in ready:
                    result = self._death(w, cand.rel)
                    self._replace(w)
                elif time.monotonic() - w.started > self.limits.seconds:
                    result = _failed(cand.rel, "file-unsafe", f"读取超过 {self.limits.seconds:g} 秒的时间上限，"
                                     "已跳过；请用 Excel/WPS 打开检查后另存为 .xlsx 再报送")
                    self._replace(w)
                elif self.poll_memory and (_rss(w.proc.pid) or 0) > self.limits.memory_bytes:
                    result = _failed(cand.rel, "file-unsafe", f"读取时内存超过 {self.limits.memory_bytes // 2**20} MiB "
                                     "的安全上限，已跳过；请用 Excel/WPS 打开检查后另存为 .xlsx 再报送")
                    self._replace(w)
                if result is not None:
                    w.task = None  # a replaced worker's slot already holds a fresh, idle one
                    if progress:
                        progress(cand.rel)
                    yield index, result


def _rss(pid: int | None) -> int | None:
    """A process's resident memory, where psutil is available (a dependency on Windows)."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None


def parallel_map(fn: Callable, tasks: list, jobs: int | None = None, per_process: int = 25) -> list:
    """`[fn(t) for t in tasks]`, in up to `jobs` processes when there is enough work to pay for
    starting them (fork where it exists). For rendering outputs, not for reading unit files."""
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs or default_jobs(), len(tasks) // per_process)
    if workers <= 1:
        return [fn(t) for t in tasks]
    with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        return list(pool.map(fn, tasks, chunksize=max(1, len(tasks) // (workers * 4))))


def in_background(fn: Callable, *args: object) -> mp.process.BaseProcess:
    """Start `fn(*args)` in another process (forked where possible: nothing to pickle), for an
    output that does not depend on the others; `finish` waits for it."""
    proc = _context().Process(target=fn, args=args, daemon=True)
    proc.start()
    return proc


def finish(proc: mp.process.BaseProcess, fn: Callable, *args: object) -> None:
    """Wait for a background `fn(*args)`; if it failed, run it here, where its error is seen."""
    proc.join()
    if proc.exitcode != 0:
        fn(*args)


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
