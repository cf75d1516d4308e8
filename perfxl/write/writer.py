"""Writing one file into an output folder atomically, in any process (perfxl.write.folder decides
what may be written where): a temporary file in .perfxl/tmp, a write-ahead journal line, a rename."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from perfxl.write.errors import environment

META = ".perfxl"  # perfxl's own folder inside an output folder

_UMASK = os.umask(0o022)
os.umask(_UMASK)
#: threads of one process (the Word conversions, the summary writer) share its journal; folding
#: the journals (OutputFolder.collect) holds it too, so that no line is appended between the fold's
#: read of a journal and its removal (the line would be lost, and its file then counted as someone's)
JOURNAL_LOCK = threading.Lock()
_JOURNAL: list = [None, -1]  # this process's journal path and descriptor, kept open between lines (POSIX)


def _same_content(new: Path, old: Path, content: bytes | None = None) -> bool:
    """Whether `old` holds what `new` holds (`content`, when the caller knows it); compared a
    block at a time, so that a large file is never held twice."""
    try:
        size = len(content) if content is not None else new.stat().st_size
        if size != old.stat().st_size:
            return False
        if content is not None:
            return content == old.read_bytes()
        with new.open("rb") as a, old.open("rb") as b:
            while True:
                block = a.read(1 << 20)
                if block != b.read(1 << 20):
                    return False
                if not block:
                    return True
    except OSError:
        return False


def stamp(st: os.stat_result) -> list[int] | None:
    """What the system says of a file that no edit can keep (inode, change time, modification
    time, size), so that a file whose stamp is as perfxl recorded it need not be hashed again to be
    known unchanged (a re-run's check of 3,000 outputs). The change time is the kernel's: writing,
    truncating, touching, linking or renaming the file sets it, and no program can set it back
    (`cp -p`, which keeps the modification time, is a new change). The output folder records a
    stamp only after hashing the file (OutputFolder._vouch). None where that does not hold:
    on Windows (st_ctime is the creation time there) and on file systems with whole-second
    times (FAT on a USB stick: two edits in one tick would look alike) — those files are hashed."""
    if os.name == "nt" or st.st_ctime_ns % 1_000_000_000 == 0 or st.st_mtime_ns % 1_000_000_000 == 0:
        return None
    return [st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size]


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class Writer:
    """Writes files into the output folder atomically, in any process. Decisions about what may be
    replaced are the parent's (`OutputFolder.target`); a Writer only writes where it is sent."""

    root: Path
    managed: bool = True  # False: a plain folder (library use, tests) without manifest or journal

    @contextlib.contextmanager
    def path(self, rel: str, journal: bool = True, content: bytes | None = None) -> Iterator[Path]:
        """A temporary path; renamed to `rel` (a POSIX path below root) only if the block succeeds.
        `journal=False` for perfxl's own files in .perfxl/, which the manifest does not list.
        `content`: the bytes the block writes, when the caller has them (not read back to hash)."""
        dest = self.root.joinpath(*rel.split("/"))
        journal = journal and self.managed
        with environment(dest, exact=True):
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir = self.root / META / "tmp" if self.managed else dest.parent
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="w.", suffix=".tmp" + dest.suffix, dir=tmp_dir)
            os.close(fd)
            tmp = Path(name)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are ordinary files
        try:
            with environment(dest, exact=True):
                try:
                    yield tmp
                except Exception as exc:  # a writer's own wrapper (xlsxwriter's FileCreateError) around a full disk
                    cause = exc.args[0] if exc.args else None
                    if isinstance(cause, OSError) and not isinstance(exc, OSError):
                        raise cause from exc
                    raise
                line = self._journal(rel, tmp, content) if journal else None
                if _same_content(tmp, dest, content):  # the file stays as it is, with its time (nothing changed)
                    tmp.unlink()
                else:
                    os.replace(tmp, dest)
                if line is not None:  # done: the path holds it now (its stamp is taken when folded)
                    self._append([*line, 1])
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _journal(self, rel: str, tmp: Path, content: bytes | None = None) -> list:
        """Write-ahead: the new content's size and hash are on record before it takes the path
        (a second line with a 1 says it did)."""
        size, digest = (tmp.stat().st_size, file_sha256(tmp)) if content is None else (
            len(content), hashlib.sha256(content).hexdigest())
        line = [rel, size, digest]
        self._append(line)
        return line

    def _append(self, line: list) -> None:
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        path = self.root / META / "journal" / f"{os.getpid()}.jsonl"
        with JOURNAL_LOCK:
            if os.name == "nt":  # an open file cannot be removed there: the parent folds journals
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "ab") as fh:
                    fh.write(data)
            else:
                os.write(_journal_fd(path), data)  # O_APPEND, unbuffered: one write, one line

    def write_text(self, rel: str, text: str, journal: bool = True) -> None:
        with self.path(rel, journal, text.encode("utf-8")) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="\n")

    def write_bytes(self, rel: str, data: bytes, journal: bool = True) -> None:
        with self.path(rel, journal, data) as tmp:
            tmp.write_bytes(data)


def _journal_fd(path: Path) -> int:
    """The journal at `path` open for appending: the one kept open, unless it is another
    folder's or the parent has folded (removed) it since."""
    key = os.fspath(path)
    known, fd = _JOURNAL
    if known == key:
        try:
            if os.fstat(fd).st_nlink > 0:
                return fd
        except OSError:
            pass
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
        _JOURNAL[:] = [None, -1]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
    _JOURNAL[:] = [key, fd]
    return fd
