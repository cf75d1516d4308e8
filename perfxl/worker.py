"""What perfxl runs in worker processes (perfxl.pool): unit files (WorkerPool) and outputs
(parallel_map).

A reader's abort, hang or memory blow-up costs one file and nothing else (spec §7): each worker
takes one file at a time, so a death is attributed exactly; on POSIX a reading worker caps its
own address space (RLIMIT_AS); the parent kills a worker past the time limit and, without
RLIMIT_AS (Windows), polls its memory when psutil is available.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from perfxl.findings import Finding
from perfxl.intake import Candidate
from perfxl.model import FileResult
from perfxl.pool import RLIMIT, Lost, Pool, RemoteTraceback, WorkerError, cancel, finish, in_background, warm_up

__all__ = ["Lost", "RemoteTraceback", "WorkerError", "WorkerLost", "WorkerPool", "cancel", "default_jobs", "finish",
           "in_background", "parallel_map", "warm_up"]


# -- reading unit files --------------------------------------------------------------------

_READING: tuple | None = None  # (options, read) in a reading worker
SKIPPED = "该文件已跳过，请用 Excel/WPS 打开检查后另存为 .xlsx 再报送"


def _reading(options, read: Callable | None) -> None:
    global _READING
    from perfxl import pipeline

    _READING = (options, read or pipeline.process_file)


def _read(task: tuple[str, str]) -> FileResult:
    """In a reading worker: one file -> FileResult; perfxl's own failure becomes internal-error."""
    from perfxl import pipeline

    path, rel = task
    options, read = _READING  # type: ignore[misc]
    try:
        return read(Path(path), rel, options)
    except MemoryError:
        return _failed(rel, "file-unsafe", f"读取时内存超过 {options.limits.memory_bytes // 2**20} MiB 的安全上限；{SKIPPED}")
    except Exception as exc:  # a bug of ours: reported on this file, the batch goes on
        return pipeline.internal_error(rel, exc)


def _failed(rel: str, code: str, message: str) -> FileResult:
    return FileResult(file=rel, status="unreadable", findings=[Finding(code, message, file=rel)])


class WorkerPool:
    """A fixed number of limited worker processes reading unit files one at a time.
    `read(path, rel, options)` replaces pipeline.process_file (tests: a module-level function)."""

    def __init__(self, jobs: int, options, poll_memory: bool | None = None, read: Callable | None = None) -> None:
        self.limits = options.limits
        #: without RLIMIT_AS (Windows) the parent watches each worker's resident memory
        self.poll_memory = not RLIMIT if poll_memory is None else poll_memory
        self.pool = Pool(_read, jobs, initializer=_reading, initargs=(options, read), seconds=self.limits.seconds,
                         memory=self.limits.memory_bytes, poll_memory=self.poll_memory, quiet=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.close()

    def _failure(self, rel: str, problem: object) -> FileResult:
        mib = self.limits.memory_bytes // 2**20
        if not isinstance(problem, Lost):  # _read answers for everything but an unpicklable result
            from perfxl import pipeline

            return pipeline.internal_error(rel, problem)  # type: ignore[arg-type]
        if problem.why == "time":
            return _failed(rel, "file-unsafe", f"读取超过 {self.limits.seconds:g} 秒的时间上限；{SKIPPED}")
        if problem.why == "memory":
            return _failed(rel, "file-unsafe", f"读取时内存超过 {mib} MiB 的安全上限；{SKIPPED}")
        code = problem.exitcode
        if code is not None and code < 0:
            why = f"读取程序异常终止（信号 {-code}），多为文件中有超大区域或内存超过 {mib} MiB 的安全上限"
        else:
            why = f"读取程序异常退出（退出码 {code}）"
        return _failed(rel, "file-unsafe", f"{why}；{SKIPPED}")

    def run(self, candidates: list[Candidate],
            progress: Callable[[str], None] | None = None) -> Iterator[tuple[int, FileResult]]:
        """Yield (index, result) for each candidate, in completion order."""
        for index, value, problem in self.pool.run([(os.fspath(c.path), c.rel) for c in candidates]):
            rel = candidates[index].rel
            result = value if problem is None else self._failure(rel, problem)
            if progress:
                progress(rel)
            yield index, result  # type: ignore[misc]


# -- rendering outputs ---------------------------------------------------------------------------

_MAPPING: Callable | None = None  # fn in a parallel_map worker


class WorkerLost(RuntimeError):
    """A parallel_map worker ended without answering (killed, or a crash in native code)."""


def _mapping(fn: Callable, initializer: Callable | None, initargs: tuple) -> None:
    global _MAPPING
    _MAPPING = fn
    if initializer is not None:
        initializer(*initargs)


def _map_chunk(chunk: list) -> list:
    assert _MAPPING is not None
    return [_MAPPING(t) for t in chunk]


def parallel_map(fn: Callable, tasks: Iterable, jobs: int | None = None, per_process: int = 25,
                 initializer: Callable | None = None, initargs: tuple = ()) -> list:
    """`[fn(t) for t in tasks]` in task order, in up to `jobs` processes when there are at least
    `per_process` tasks per process (else here, after `initializer(*initargs)`). An exception
    of fn is raised here with its type and args. For rendering outputs, not for reading unit files."""
    tasks = list(tasks)
    workers = min(jobs or default_jobs(), len(tasks) // per_process)
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        return [fn(t) for t in tasks]
    size = max(1, len(tasks) // (workers * 4))  # chunks: a few per worker, so that they finish together
    chunks = [tasks[i: i + size] for i in range(0, len(tasks), size)]
    done: list[list | None] = [None] * len(chunks)
    with Pool(_map_chunk, workers, initializer=_mapping, initargs=(fn, initializer, initargs)) as pool:
        for index, value, problem in pool.run(chunks):
            if isinstance(problem, Lost):
                raise WorkerLost(f"输出进程异常退出（退出码 {problem.exitcode}）")
            if problem is not None:
                raise problem  # type: ignore[misc]
            done[index] = value  # type: ignore[assignment]
    return [v for chunk in done for v in chunk]  # type: ignore[union-attr]


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
