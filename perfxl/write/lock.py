"""The output folder's lock (`.perfxl/lock`): one run at a time, a dead run's lock taken over.

An OS lock, held while the run lives and freed by the OS when it dies (so a lock left by a
killed run is simply taken over); the file says who holds it. POSIX record locks (fcntl.lockf)
belong to the process alone, so forked or forkserver children never hold them; Windows locks a
byte with msvcrt.locking.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
from pathlib import Path
from typing import ClassVar

from perfxl.write.errors import OutputFolderError, describe, environment


class FolderLock:
    """An OS lock on `.perfxl/lock`: held while the run lives, freed by the OS when it dies, so a
    lock left by a killed run is simply taken over. The file says who holds it."""

    #: the byte locked on Windows lies past the text, so others can still read who holds it
    REGION = 1 << 20

    def __init__(self, fh) -> None:
        self.fh = fh
        self.ident = ""

    #: folders locked by this process: a POSIX record lock does not conflict with its own
    #: process, and a second descriptor closed would drop it, so the process keeps count itself
    _held: ClassVar[set[str]] = set()

    @classmethod
    def acquire(cls, path: Path) -> FolderLock:
        with environment(path):
            ident = os.path.realpath(path)
            if ident in cls._held:
                raise OutputFolderError(str(path.parent.parent), f"这个输出文件夹正被本进程的另一次运行使用（进程 {os.getpid()}）",
                                        "请等它运行结束后再运行，或用 --out 另选输出文件夹")
            # never through a link: opening one would truncate whatever file it points at
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o644)
            fh = os.fdopen(fd, "r+b")
        try:
            locked = cls._try_lock(fh)
        except OSError as exc:
            fh.close()
            raise OutputFolderError(str(path), describe(exc)) from exc
        if not locked:
            fh.seek(0)
            holder = fh.read(200).decode("utf-8", "replace").strip() or "另一个进程"
            fh.close()
            raise OutputFolderError(str(path.parent.parent), f"另一个 perfxl 正在使用这个输出文件夹（{holder}）",
                                    "请等它运行结束后再运行，或用 --out 另选输出文件夹")
        with environment(path):
            fh.seek(0)
            fh.truncate()
            started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
            fh.write(f"进程 {os.getpid()}，开始于 {started}".encode())
            fh.flush()
        cls._held.add(ident)
        lock = cls(fh)
        lock.ident = ident
        return lock

    @classmethod
    def _try_lock(cls, fh) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            fh.seek(cls.REGION)
            try:
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            except OSError:
                return False
            return True
        # a POSIX record lock belongs to this process alone: forked workers do not inherit it, so
        # a killed run's folder is free as soon as the run itself is gone
        try:
            fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.seek(0)
            self.fh.truncate()  # nobody holds it now; and an unchanged re-run leaves the folder byte-identical
            try:
                import fcntl
            except ImportError:
                import msvcrt

                self.fh.seek(self.REGION)
                msvcrt.locking(self.fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.lockf(self.fh.fileno(), fcntl.LOCK_UN)
        self.fh.close()
        self._held.discard(self.ident)
