"""`parallel_map`: outputs rendered in many processes of perfxl.pool, results in task order.

Below perfxl's stages (it imports no perfxl module but the pool), so that every writer can use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from perfxl.pool import Lost, Pool

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
