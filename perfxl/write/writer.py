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
_JOURNAL_LOCK = threading.Lock()  # threads of one process (the Word conversions) share its journal


def _same_content(new: Path, old: Path) -> bool:
    try:
        if new.stat().st_size != old.stat().st_size:
            return False
        return new.read_bytes() == old.read_bytes()
    except OSError:
        return False


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
    def path(self, rel: str, journal: bool = True) -> Iterator[Path]:
        """A temporary path; renamed to `rel` (a POSIX path below root) only if the block succeeds.
        `journal=False` for perfxl's own files in .perfxl/, which the manifest does not list."""
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
                line = self._journal(rel, tmp) if journal else None
                if _same_content(tmp, dest):  # the file stays as it is, with its time (nothing changed)
                    tmp.unlink()
                else:
                    os.replace(tmp, dest)
                if line is not None:
                    self._append([*line, 1])  # done: the path holds it now
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _journal(self, rel: str, tmp: Path) -> list:
        """Write-ahead: the new content's size and hash are on record before it takes the path
        (a second line with a 1 says it did)."""
        line = [rel, tmp.stat().st_size, file_sha256(tmp)]
        self._append(line)
        return line

    def _append(self, line: list) -> None:
        folder = self.root / META / "journal"
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(line, ensure_ascii=False) + "\n"
        with _JOURNAL_LOCK, open(folder / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(text)

    def write_text(self, rel: str, text: str, journal: bool = True) -> None:
        with self.path(rel, journal) as tmp:
            tmp.write_text(text, encoding="utf-8", newline="\n")

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.path(rel) as tmp:
            tmp.write_bytes(data)
