"""Worker processes, one mechanism for all: reading unit files (WorkerPool), rendering outputs
(parallel_map) and one background job (in_background), all on `Pool`, which is given the
function it runs.

A reader's abort, hang or memory blow-up costs one file and nothing else (spec §7): each worker
takes one task at a time, so a death is attributed exactly; on POSIX a reading worker caps its
own address space (RLIMIT_AS); the parent kills a worker past the time limit and, without
RLIMIT_AS (Windows), polls its memory when psutil is available.

Processes come from the forkserver on POSIX and are spawned on Windows, never forked from the
parent: the parent runs the progress bar's thread (a fork then may copy a held lock: Python 3.12
warns, it can deadlock) and holds the pipe ends of every other worker (a forked child would
inherit them, so no worker would ever see its parent's end close). The forkserver imports the
heavy modules once (PRELOAD), so a worker starts in milliseconds. Every child ends with its
parent, also after kill -9: it watches a lifeline pipe whose only writer is the parent, and the
parent's pid.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from perfxl.findings import Finding
from perfxl.intake import Candidate
from perfxl.model import FileResult

POLL_SECONDS = 0.5
ORPHANED = 70  # the exit status of a child whose parent is gone (nobody is left to read it)
#: imported once by the forkserver, so that its children start with them: "__main__" too, or
#: every child would run the parent's main script again to unpickle what it was sent
PRELOAD = ["__main__", "perfxl.worker", "perfxl.pipeline", "perfxl.report", "perfxl.htmlpage",
           "perfxl.summary", "perfxl.feedback"]

try:
    import resource
except ImportError:  # Windows: the parent polls the workers' memory instead
    resource = None  # type: ignore[assignment]


def _context():
    """forkserver where it exists (POSIX), else spawn (Windows): see the module docstring."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # no effect once the server runs, which is fine
        return ctx
    return mp.get_context("spawn")


def warm_up() -> None:
    """Start the forkserver now, so that it imports PRELOAD while the parent still works."""
    if "forkserver" in mp.get_all_start_methods():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


# -- in the child ------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there; the lifeline suffices
        try:
            import psutil
        except ImportError:
            return True
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists (a reused pid of another user's would be caught by the lifeline)
        return True
    return True


def _watch(lifeline: Connection, parent: int) -> None:
    """Exit at once when the parent is gone: its end of the lifeline closed (nothing is ever
    sent on it, so readable means closed) or its pid ended. os._exit: the main thread may be
    stuck in a read that never returns (a FIFO, a hung library)."""
    while True:
        try:
            gone = lifeline.poll(POLL_SECONDS)
        except (OSError, EOFError):  # Windows: a broken pipe
            gone = True
        if gone or not _alive(parent):
            os._exit(ORPHANED)


def _child(lifeline: Connection, parent: int) -> None:
    """What every child does first: watch the parent, leave Ctrl-C to it (it ends the children)."""
    threading.Thread(target=_watch, args=(lifeline, parent), daemon=True, name="perfxl-parent").start()
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


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


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, attached to it as its __cause__."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class WorkerError(Exception):
    """An exception of a worker that could not travel to the parent as itself."""


def _portable(exc: BaseException) -> tuple[BaseException, str]:
    """`exc` as it can travel to the parent (itself when it pickles both ways), with its traceback."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WorkerError(f"{type(exc).__name__}: {exc}"), text
    return exc, text


def _serve(conn: Connection, lifeline: Connection, parent: int, fn: Callable, initializer: Callable | None,
           initargs: tuple, memory: int | None, quiet: bool) -> None:
    """Worker loop: receive (index, task), send back (index, fn(task), None) or (index, None,
    (exception, traceback)); None or a closed pipe ends it."""
    _child(lifeline, parent)
    if quiet:
        _quiet()
    if memory:
        _limit_memory(memory)
    broken: BaseException | None = None
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:  # every task then fails with it, in the parent
            broken = exc
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, task = message
        try:
            if broken is not None:
                raise broken
            reply = (index, fn(task), None)
        except BaseException as exc:  # SIGINT is ignored here, so this is fn's own failure
            reply = (index, None, _portable(exc))
        try:
            conn.send(reply)
        except (OSError, EOFError):
            return
        except Exception as exc:  # a result that does not pickle
            conn.send((index, None, _portable(exc)))


def _background(lifeline: Connection, parent: int, fn: Callable, args: tuple) -> None:
    _child(lifeline, parent)
    try:
        fn(*args)
    except BaseException:  # silent: finish() runs fn again in the parent, where the error is seen
        raise SystemExit(1) from None


# -- in the parent -----------------------------------------------------------------------


@dataclass(frozen=True)
class Lost:
    """A task whose process ended or was stopped without answering: `why` is "died", "time" or
    "memory"; `exitcode` is negative for a signal."""

    why: str
    exitcode: int | None = None


@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    task: tuple[int, object] | None = None
    started: float = 0.0


class Pool:
    """Up to `jobs` processes, each running `fn(task)` one task at a time (`fn`, `initializer`
    and the tasks must pickle: module-level functions). `seconds` and `memory` bound each task."""

    def __init__(self, fn: Callable, jobs: int, *, initializer: Callable | None = None, initargs: tuple = (),
                 seconds: float | None = None, memory: int | None = None, poll_memory: bool = False,
                 quiet: bool = False) -> None:
        self.fn, self.jobs = fn, max(1, jobs)
        self.initializer, self.initargs = initializer, initargs
        self.seconds, self.memory, self.poll_memory, self.quiet = seconds, memory, poll_memory, quiet
        self.ctx = _context()
        self.workers: list[_Worker] = []
        self._lifeline, self._alive = self.ctx.Pipe(duplex=False)  # the parent keeps the writing end

    def _start(self) -> _Worker:
        mine, theirs = self.ctx.Pipe()
        rlimit = self.memory if self.memory and not self.poll_memory else None
        proc = self.ctx.Process(target=_serve, daemon=True, args=(
            theirs, self._lifeline, os.getpid(), self.fn, self.initializer, self.initargs, rlimit, self.quiet))
        proc.start()
        theirs.close()
        return _Worker(proc, mine)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (a busy one at once), then cut the lifeline."""
        for w in self.workers:
            if w.task is None:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(None)
        for w in self.workers:
            self._end(w, at_once=w.task is not None)
        self.workers = []
        self._alive.close()
        self._lifeline.close()

    @staticmethod
    def _end(w: _Worker, at_once: bool) -> None:
        if not at_once:
            w.proc.join(timeout=2)
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=2)
        w.conn.close()

    def _lost(self, w: _Worker, why: str) -> Lost:
        if why == "died":
            w.proc.join(timeout=2)  # the pipe can close before the exit status is known
        self._end(w, at_once=True)
        self.workers.remove(w)
        return Lost(why, w.proc.exitcode)

    def _answer(self, w: _Worker, ready: set) -> tuple[object, object] | None:
        """(value, problem) when `w`'s task is over: problem is None, an exception or a Lost."""
        if w.conn in ready:
            try:
                _, value, problem = w.conn.recv()
            except (EOFError, OSError):
                return None, self._lost(w, "died")
            if problem is None:
                return value, None
            exc, text = problem
            exc.__cause__ = RemoteTraceback(text)
            return None, exc
        if w.proc.sentinel in ready:
            return None, self._lost(w, "died")
        if self.seconds is not None and time.monotonic() - w.started > self.seconds:
            return None, self._lost(w, "time")
        if self.poll_memory and self.memory and (_rss(w.proc.pid) or 0) > self.memory:
            return None, self._lost(w, "memory")
        return None

    def _dispatch(self, queue: deque) -> None:
        idle = sum(1 for w in self.workers if w.task is None)
        while len(queue) > idle and len(self.workers) < self.jobs:
            self.workers.append(self._start())
            idle += 1
        for w in list(self.workers):
            if w.task is None and queue:
                w.task, w.started = queue.popleft(), time.monotonic()
                try:
                    w.conn.send(w.task)
                except OSError:  # it died while idle: not this task's fault, give it to another
                    queue.appendleft(w.task)
                    self._end(w, at_once=True)
                    self.workers.remove(w)

    def run(self, tasks: Iterable) -> Iterator[tuple[int, object, object]]:
        """Yield (index, value, problem) for each task, in completion order; problem is None,
        the exception fn raised (its __cause__ the worker's traceback) or a Lost."""
        queue = deque(enumerate(tasks))
        while queue or any(w.task for w in self.workers):
            self._dispatch(queue)
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                continue
            timeout = POLL_SECONDS
            if self.seconds is not None:
                deadline = min(w.started for w in busy) + self.seconds
                timeout = max(0.0, min(deadline - time.monotonic(), POLL_SECONDS))
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout))
            for w in busy:
                index = w.task[0]  # type: ignore[index]
                answer = self._answer(w, ready)
                if answer is not None:
                    w.task = None
                    yield index, *answer


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
        self.poll_memory = resource is None if poll_memory is None else poll_memory
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


# -- rendering outputs, a background job -------------------------------------------------------

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


def in_background(fn: Callable, *args: object) -> mp.process.BaseProcess:
    """Start `fn(*args)` in another process, for an output that does not depend on the others;
    `finish` waits for it. The child prints nothing: on failure it exits non-zero."""
    ctx = _context()
    lifeline, alive = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_background, args=(lifeline, os.getpid(), fn, args), daemon=True)
    proc.start()
    lifeline.close()
    proc._perfxl_lifeline = alive  # type: ignore[attr-defined]  # closed by finish()
    return proc


def finish(proc: mp.process.BaseProcess, fn: Callable, *args: object) -> None:
    """Wait for a background `fn(*args)`; if it failed, run it here, where its error is seen."""
    proc.join()
    alive = getattr(proc, "_perfxl_lifeline", None)
    if alive is not None:
        alive.close()
    if proc.exitcode != 0:
        fn(*args)


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
