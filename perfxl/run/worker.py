"""Reading unit files in worker processes of perfxl.pool (outputs render through perfxl.parallel).

A reader's abort, hang or memory blow-up costs one file and nothing else (spec §7): each worker
takes one file at a time, so a death is attributed exactly; on POSIX a reading worker caps its
own address space (RLIMIT_AS); the parent kills a worker past the time limit and, without
RLIMIT_AS (Windows), polls its memory when psutil is available.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from perfxl.findings import Finding
from perfxl.model import FileResult
from perfxl.parallel import default_jobs
from perfxl.pool import RLIMIT, Lost, Pool, RemoteTraceback, WorkerError, warm_up
from perfxl.read.badfile import describe
from perfxl.read.intake import Candidate

__all__ = ["RemoteTraceback", "WorkerError", "WorkerPool", "default_jobs", "warm_up"]


# -- reading unit files --------------------------------------------------------------------

_READING: tuple | None = None  # (options, read) in a reading worker
SKIPPED = "该文件已跳过，请用 Excel/WPS 打开检查后另存为 .xlsx 再报送"


def _reading(options, read: Callable) -> None:
    global _READING
    _READING = (options, read)


def internal_error(rel: str, exc: BaseException) -> FileResult:
    """perfxl failed on this file (spec §5): one `internal-error`, status unreadable, no feedback
    to the unit. No sha256, so the state never caches it: a fixed perfxl reads the file again."""
    message = (f"perfxl 处理此文件时发生内部错误（{describe(exc)}），这不是文件本身的问题；"
               "文件无须退回单位，请把此文件和这条信息反馈给 perfxl 维护人员")
    return _failed(rel, "internal-error", message)


def _read(task: tuple[str, str]) -> FileResult:
    """In a reading worker: one file -> FileResult; perfxl's own failure becomes internal-error."""
    path, rel = task
    options, read = _READING  # type: ignore[misc]
    try:
        return read(Path(path), rel, options)
    except MemoryError:
        return _failed(rel, "file-unsafe", f"读取时内存超过 {options.limits.memory_bytes // 2**20} MiB 的安全上限；{SKIPPED}")
    except Exception as exc:  # a bug of ours: reported on this file, the batch goes on
        return internal_error(rel, exc)


def _failed(rel: str, code: str, message: str) -> FileResult:
    return FileResult(file=rel, status="unreadable", findings=[Finding(code, message, file=rel)])


class WorkerPool:
    """A fixed number of limited worker processes reading unit files one at a time with
    `read(path, rel, options) -> FileResult` (pipeline.process_file; a module-level function)."""

    def __init__(self, jobs: int, options, read: Callable, poll_memory: bool | None = None) -> None:
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
            return internal_error(rel, problem)  # type: ignore[arg-type]
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
