"""Processes that end with their parent: `Pool` (workers running the function they are given,
one task at a time, within time and memory limits), and a background job in a thread (InThread).

Processes come from the forkserver on POSIX and are spawned on Windows, never forked from the
parent: the parent runs the progress bar's thread (a fork then may copy a held lock: Python 3.12
warns, it can deadlock) and holds the pipe ends of every other worker (a forked child would
inherit them, so no worker would ever see its parent's end close). The forkserver imports the
reader once (PRELOAD), so a reading worker starts in milliseconds once the server runs.

Every child ends with its parent, also after kill -9: a thread in it watches a lifeline pipe
whose only writer is the parent, and the parent's pid, and calls os._exit within 0.5 s.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

POLL_SECONDS = 0.5
ORPHANED = 70  # the exit status of a child whose parent is gone (nobody is left to read it)
#: imported once by the forkserver, so that its children start with them: "__main__" too, or
#: every child would run the parent's main script again to unpickle what it was sent. Only what
#: reading needs: the server's preload delays the first worker, and `perfxl check` needs no
#: writer (a rendering worker imports its writer itself, in parallel with the others)
PRELOAD = ["__main__", "perfxl.pool", "perfxl.run.worker", "perfxl.run.pipeline"]

try:
    import resource
except ImportError:  # Windows: the parent polls the workers' memory instead
    resource = None  # type: ignore[assignment]
#: whether a worker can cap its own address space (RLIMIT_AS, POSIX)
RLIMIT = resource is not None


def _preload() -> list[str]:
    """PRELOAD, without "__main__" when the main program is no file (`python -`, `python -c`):
    the server cannot import it, and nothing of it can be sent to a child anyway."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and os.path.isfile(main):
        return PRELOAD
    return [name for name in PRELOAD if name != "__main__"]


def _context():
    """forkserver where it exists (POSIX), else spawn (Windows): see the module docstring."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_preload())  # no effect once the server runs, which is fine
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


# -- a background job, in a thread -------------------------------------------------------------------------


class Cancelled(Exception):
    """Raised inside a background thread's job when its run has failed (InThread.cancel)."""


class InThread:
    """`fn(*args, cancelled=<callable>)` in a thread of this process, for an output written while
    the workers render the others: the batch is not pickled to another process (at 10,000 units a
    second copy of every result, and on a re-run the critical path), and the thread mostly runs
    while this process waits for its workers. `fn` checks `cancelled()` between its parts and
    raises Cancelled (so that nothing is written after a run failed); its error is raised again
    by `finish`, here."""

    def __init__(self, fn: Callable, *args: object) -> None:
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True, name="perfxl-background")
        self._thread.start()

    def _run(self, fn: Callable, args: tuple) -> None:
        try:
            fn(*args, cancelled=self._stop.is_set)
        except BaseException as exc:  # handed to finish(), in the thread that waits for it
            self._error = exc

    def finish(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        """The run failed: the job stops at its next check and writes nothing."""
        self._stop.set()
        self._thread.join()


def check_cancelled(cancelled: Callable[[], bool] | None) -> None:
    """In a background job: stop here when the run it belongs to has failed."""
    if cancelled is not None and cancelled():
        raise Cancelled
