"""The output folder belongs to its users (spec §11): perfxl replaces or removes only what it wrote.

Every file perfxl writes goes through an `OutputFolder`:
- `.perfxl/manifest` lists each file perfxl wrote (relative path, size, SHA-256, and the key of
  what it was made from; no times, so that an unchanged re-run leaves it byte-identical). A path is perfxl's to replace or remove only
  while the manifest lists it and its content is unchanged since. Anything else in the way (a
  person's own file, an output someone edited) is moved to `保留/<its relative path>`.
- Writes are atomic: a temporary file in `.perfxl/tmp/`, then a rename. Before the rename the
  writing process appends the new file's size and hash to its own journal (`.perfxl/journal/`),
  so a run killed at any moment leaves every file it wrote recognisable as its own; the next
  run folds the journals into the manifest and removes the leftover temporary files.
- `.perfxl/lock` is held (an OS file lock, released by the OS when the process dies) while a
  run uses the folder, so two runs never mix their outputs.

Writing may happen in worker processes: they get a `Writer` (a picklable handle that only
writes temporary files, journals and renames); the decisions about what may be replaced are
taken in the parent, which alone holds the manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from perfxl.write.errors import OutputFolderError, environment
from perfxl.write.lock import FolderLock
from perfxl.write.writer import JOURNAL_LOCK, META, Writer, file_sha256, stamp

KEEP = "保留"
MANIFEST = "manifest"
MANIFEST_HEADER = "perfxl-manifest 1"
#: what a folder holds (one manifest serves one command: a run's outputs are no pre-filled copies)
PURPOSES = {"run": "复核结果（perfxl run 的输出）", "prefill": "预填模板（perfxl template --roster 的输出）"}
#: files an operating system drops into any folder it shows; they do not make a folder "used"
SYSTEM_LITTER = frozenset({".ds_store", "thumbs.db", "desktop.ini"})

_FORBIDDEN_PARTS = frozenset({"", ".", ".."})


def safe_rel(rel: object) -> bool:
    """A path perfxl may own: relative, POSIX, inside the folder, outside .perfxl/ and 保留/.
    The manifest and the journals are files in the folder, so they are never trusted further."""
    if not isinstance(rel, str) or "\\" in rel or ":" in rel or "\0" in rel:
        return False
    parts = rel.split("/")
    return not (set(parts) & _FORBIDDEN_PARTS) and parts[0] not in (META, KEEP)


def listed(root: Path) -> set[str]:
    """The paths the manifest of `root` says perfxl wrote (for counting outputs; no lock taken)."""
    try:
        lines = (Path(root) / META / MANIFEST).read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return set()
    rels = set()
    for line in lines[1:]:
        with contextlib.suppress(ValueError, TypeError, IndexError):
            rel = json.loads(line)[0]
            if safe_rel(rel):
                rels.add(rel)
    return rels


@dataclass
class Entry:
    """What the manifest knows of one file perfxl wrote."""

    size: int
    sha256: str
    key: str = ""
    #: writer.stamp of the file as perfxl wrote it (taken by _vouch when the writes are folded), when
    #: the system gives one: the file still has it only if nobody changed it, so it need not be
    #: hashed to be known as perfxl's
    stamp: tuple[int, ...] | None = None


#: how far the clock must be past a file's change time before its stamp is recorded (more than a
#: coarse kernel clock's tick, 10 ms at HZ=100; a file written later than this is simply hashed)
STAMP_SETTLE_NS = 50_000_000


def _stamp(raw: object) -> tuple[int, ...] | None:
    """A stamp as the manifest lists it (anything else, as from an edited manifest, is none)."""
    if isinstance(raw, list) and len(raw) == 4 and all(type(v) is int for v in raw):
        return tuple(raw)
    return None


@dataclass
class OutputFolder:
    """One run's hold on its output folder. Use `OutputFolder.open(path)` for `perfxl run`, and
    `OutputFolder.plain(path)` for library callers that write into a folder of their own."""

    root: Path
    managed: bool = True
    purpose: str = "run"
    entries: dict[str, Entry] = field(default_factory=dict)
    #: (original relative path, where it was moved) for each file set aside this run
    set_aside: list[tuple[str, str]] = field(default_factory=list)
    #: outputs of an earlier run, unchanged since, that this run no longer makes and removed
    removed: list[str] = field(default_factory=list)
    #: relative paths written or kept this run, with the key each was made from
    _current: dict[str, str] = field(default_factory=dict)
    #: the manifest as the run found it (results.json's entry too, which the run removes first)
    _listed: dict[str, Entry] = field(default_factory=dict)
    _manifest: str = ""  # the manifest's text as this run last wrote it
    _lock: object = None

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def plain(cls, root: Path) -> OutputFolder:
        """A folder without manifest or lock: every write simply replaces (tests, library use)."""
        return cls(Path(root), managed=False)

    @classmethod
    def open(cls, root: Path, purpose: str = "run") -> OutputFolder:
        """Check that `root` may be used (missing, empty, or a perfxl output folder of the same
        `purpose`), lock it, fold the journals of an interrupted run into the manifest and remove
        its temporary files."""
        root = Path(root)
        with environment(root):
            if (root / META).is_symlink():
                raise OutputFolderError(str(root / META), "这是一个链接，不是 perfxl 自己的记录文件夹",
                                        "请删除该链接，或用 --out 另选一个空文件夹")
            if root.exists() and not root.is_dir():
                raise OutputFolderError(str(root), "这是一个文件，不是文件夹", "请用 --out 指定一个文件夹，如 --out output")
            if root.is_dir() and not (root / META).is_dir():
                others = [p.name for p in root.iterdir() if p.name.lower() not in SYSTEM_LITTER]
                if others:
                    raise OutputFolderError(
                        str(root), f"输出文件夹中已有其他文件（如 {sorted(others)[0]}），不是 perfxl 的输出文件夹",
                        "请指定一个空文件夹或以前的输出文件夹（其中有 .perfxl 文件夹），如 --out output")
            if not (root / META).is_dir():
                (root / META).mkdir(parents=True)
                _hide(root / META)
        folder = cls(root, purpose=purpose)
        folder._lock = FolderLock.acquire(root / META / "lock")  # refuses a second holder, in this process too
        try:
            with environment(root / META):
                folder.entries = folder._read_manifest()
                folder._listed = dict(folder.entries)
                folder._recover()
        except BaseException:
            folder.release()
            raise
        return folder

    def _read_manifest(self) -> dict[str, Entry]:
        path = self.root / META / MANIFEST
        try:
            lines = path.read_text("utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return {}
        entries: dict[str, Entry] = {}
        head = lines[0].strip() if lines else ""
        if not head.startswith(MANIFEST_HEADER):
            return entries  # not ours to read: every output then counts as someone's and is set aside
        purpose = head[len(MANIFEST_HEADER):].strip()
        if purpose and purpose != self.purpose:
            held, wanted = PURPOSES.get(purpose, purpose), PURPOSES[self.purpose]
            raise OutputFolderError(str(self.root), f"这个文件夹存放的是{held}，不能再用来存放{wanted}", "请为它另选一个空文件夹")
        for line in lines[1:]:
            with contextlib.suppress(ValueError, TypeError):
                rel, size, sha, key, *more = json.loads(line)
                if safe_rel(rel):  # an entry naming ../ or an absolute path is not ours, whatever it says
                    entries[rel] = Entry(int(size), str(sha), str(key), _stamp(more[0]) if more else None)
        return entries

    def _recover(self) -> None:
        """After an interrupted run: files it wrote are known by their journaled hashes; its
        temporary files go. Then the manifest is written afresh and the journals removed."""
        self._fold_journals()
        shutil.rmtree(self.root / META / "tmp", ignore_errors=True)

    def _fold_journals(self) -> None:
        """Journaled writes into the manifest: a write that was done, or whose content is on disk
        (a run killed between its journal line and its rename may or may not have renamed)."""
        folder = self.root / META / "journal"
        journals = sorted(folder.glob("*.jsonl"))
        intended: dict[str, tuple[int, str]] = {}
        done: dict[str, tuple[int, str]] = {}
        for journal in journals:
            for line in journal.read_text("utf-8", errors="replace").splitlines():
                with contextlib.suppress(ValueError, TypeError):
                    item = json.loads(line)
                    rel, size, sha = item[0], int(item[1]), str(item[2])
                    if not safe_rel(rel):
                        continue
                    (done if len(item) > 3 else intended)[rel] = (size, sha)
                    if len(item) == 3:
                        done.pop(rel, None)  # a later write of the same path starts over
        for rel, (size, sha) in intended.items():
            if rel not in done:
                path = self.path(rel)
                if path.is_file() and path.stat().st_size == size and file_sha256(path) == sha:
                    done[rel] = (size, sha)
        for rel, (size, sha) in done.items():
            entry = Entry(size, sha, self._current.get(rel, ""), self._vouch(rel, size, sha))
            old = self.entries.get(rel) or self._listed.get(rel)
            if old is not None and (old.size, old.sha256, old.key) == (size, sha, entry.key):
                entry = old  # the same content again (results.json of an unchanged batch): the manifest stays as it
                # was; a stamp of the file it replaced, or none, only means the file is hashed when next looked at
            self.entries[rel] = entry
        self._write_manifest(self.entries)
        for journal in journals:
            journal.unlink()

    def _vouch(self, rel: str, size: int, sha: str) -> tuple[int, ...] | None:
        """The stamp of a file just written, taken only when it provably holds what was journaled:
        stat, hash, stat again, both stats alike and the hash right (an edit made since the write,
        or meanwhile, leaves no stamp, so the file is hashed when next looked at and set aside as
        someone's). And only once the system's clock has moved past the file's change time by more
        than a coarse clock's tick: on kernels with coarse file times an edit in the same tick as
        the stamp would keep it; any edit after this moment gets a later change time."""
        path = self.path(rel)
        try:
            before = path.stat()
            first = stamp(before)
            if first is None or before.st_size != size or time.time_ns() - before.st_ctime_ns < STAMP_SETTLE_NS:
                return None
            if file_sha256(path) != sha or stamp(path.stat()) != first:
                return None
        except OSError:
            return None
        return tuple(first)

    def _write_manifest(self, entries: dict[str, Entry]) -> None:
        lines = [f"{MANIFEST_HEADER} {self.purpose}"] + [
            json.dumps([rel, e.size, e.sha256, e.key, *([list(e.stamp)] if e.stamp else [])], ensure_ascii=False)
            for rel, e in sorted(entries.items())]
        text = "\n".join(lines) + "\n"
        if text == self._manifest:
            return  # as this run last wrote it (a run collects after every stage)
        self.writer().write_text(f"{META}/{MANIFEST}", text, journal=False)
        self._manifest = text

    # -- what a run may do -----------------------------------------------------------------------

    @classmethod
    def of(cls, out: Path | OutputFolder) -> OutputFolder:
        """`out` itself, or a plain folder for a path (library callers and tests)."""
        return out if isinstance(out, OutputFolder) else cls.plain(Path(out))

    def writer(self) -> Writer:
        return Writer(self.root, self.managed)

    def path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def child(self, folder: str, name: str) -> str:
        """`folder/name` for an output named from unit text: ValueError (our bug) when the name
        would leave its folder; the file there may be a person's link, which target() sets aside."""
        rel = f"{folder}/{name}" if folder else name
        if "/" in name or "\\" in name or not safe_rel(rel):
            raise ValueError(f"output name {name!r} escapes {folder or '.'}")
        return rel

    def rel(self, path: Path) -> str:
        """The POSIX path of `path` (inside the folder) relative to the folder."""
        return Path(path).relative_to(self.root).as_posix()

    def ours(self, rel: str) -> bool:
        """The manifest lists `rel` and the file there is as perfxl wrote it."""
        entry = self.entries.get(rel)
        if entry is None:
            return False
        try:
            st = self.path(rel).lstat()
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode):  # a link or a folder someone put there is theirs
            return False
        if st.st_size != entry.size:
            return False
        if entry.stamp is not None and tuple(stamp(st) or ()) == entry.stamp:
            return True  # untouched since perfxl wrote it (the change time no edit can keep)
        # else by content, never by the modification time: an edit that keeps size and time (a copy with -p) is still an edit
        try:
            return file_sha256(self.path(rel)) == entry.sha256
        except OSError:
            return False

    def fresh(self, rel: str, key: str) -> bool:
        """True when `rel` was made from `key` and is unchanged: it is kept as it is."""
        if not self.managed or not key:
            return False
        entry = self.entries.get(rel)
        if entry is None or entry.key != key or not self.ours(rel):
            return False
        self._current[rel] = key
        return True

    def target(self, rel: str, key: str = "") -> str:
        """Make `rel` free for perfxl to write: a file there that is not perfxl's unchanged output
        is moved to 保留/ first. Returns rel, for the Writer that then writes it."""
        self._current[rel] = key
        if self.managed:
            self._clear(rel)
        return rel

    def unkeyed(self, rel: str) -> None:
        """`rel`, written this run, is recorded without its key: never fresh, so made again next run."""
        if rel in self._current:
            self._current[rel] = ""

    def _clear(self, rel: str) -> None:
        if not safe_rel(rel):
            raise ValueError(f"output path {rel!r} is not inside the output folder")
        path = self.path(rel)
        with environment(path):
            parts = rel.split("/")
            for n in range(1, len(parts)):  # a linked folder would send perfxl's files elsewhere
                folder = "/".join(parts[:n])
                if self.path(folder).is_symlink():
                    self.set_aside.append((folder, self._move_aside(folder)))
            if not (path.exists() or path.is_symlink()):
                return
            if path.is_dir() and not path.is_symlink():  # not moved: a folder may hold anything
                raise OutputFolderError(str(path), "此处是文件夹，perfxl 要在这里写入一个文件",
                                        "请把该文件夹移走或改名后重新运行")
            if not self.ours(rel):
                self.set_aside.append((rel, self._move_aside(rel)))

    def _move_aside(self, rel: str) -> str:
        """Move a person's file to 保留/<rel>, with a numeric suffix when that name is taken."""
        stem, dot, suffix = rel.rpartition(".")
        if not dot or "/" in suffix:
            stem, suffix = rel, ""
        else:
            suffix = "." + suffix
        n = 1
        while True:
            kept = f"{KEEP}/{stem}{'' if n == 1 else f'_{n}'}{suffix}"
            dest = self.path(kept)
            if not (dest.exists() or dest.is_symlink()):
                break
            n += 1
        parts = kept.split("/")
        for n in range(1, len(parts)):  # 保留/ must stay inside the folder too
            if self.path("/".join(parts[:n])).is_symlink():
                raise OutputFolderError(str(self.path("/".join(parts[:n]))), "这是一个链接，perfxl 不会把文件移到链接指向的地方",
                                        "请删除该链接后重新运行")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(rel), dest)
        return kept

    def remove(self, rel: str) -> None:
        """Remove an output of an earlier run (perfxl's and unchanged), or set it aside."""
        path = self.path(rel)
        with environment(path):
            if self.ours(rel):
                path.unlink()
                self.removed.append(rel)
            elif (path.exists() or path.is_symlink()) and not path.is_dir():
                self.set_aside.append((rel, self._move_aside(rel)))
        self.entries.pop(rel, None)

    # -- ending ----------------------------------------------------------------------------------

    def collect(self) -> None:
        """Fold what the writers journaled into the manifest (in memory and on disk), so that a
        later failure cannot orphan what was written so far."""
        if not self.managed:
            return
        with environment(self.root / META / "journal"), JOURNAL_LOCK:
            self._fold_journals()

    def prune(self, keep: Callable[[str], bool] | None = None) -> None:
        """Outputs of earlier runs that this one does not write go (or are set aside when someone
        changed them), except those `keep` names. Before results.json, so that a failure here leaves none."""
        if not self.managed:
            return
        self.collect()
        for rel in sorted(set(self.entries) - set(self._current)):
            if keep is None or not keep(rel):
                self.remove(rel)

    def finish(self, keep: Callable[[str], bool] | None = None) -> None:
        """A successful run: the manifest lists exactly what is there; no temporary file stays.
        `keep`: earlier outputs this run leaves in place (the other form's pre-filled templates)."""
        if not self.managed:
            return
        self.prune(keep)
        with environment(self.root / META):
            self._write_manifest(self.entries)
            shutil.rmtree(self.root / META / "tmp", ignore_errors=True)

    def abort(self) -> None:
        """A failed run: keep what was written on record, leave no temporary file behind, and no
        results.json (its presence says a run finished)."""
        if not self.managed:
            return
        with contextlib.suppress(OSError, OutputFolderError, ValueError):
            self.collect()
        with contextlib.suppress(OSError, OutputFolderError, ValueError):
            if self.ours("results.json"):
                self.path("results.json").unlink()
                self.entries.pop("results.json", None)
                self._write_manifest(self.entries)
        shutil.rmtree(self.root / META / "tmp", ignore_errors=True)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()  # type: ignore[attr-defined]
            self._lock = None


def _hide(path: Path) -> None:
    """On Windows a leading dot hides nothing: mark perfxl's own folder hidden, as Explorer expects."""
    if os.name == "nt":
        import ctypes

        ctypes.windll.kernel32.SetFileAttributesW(str(path), 0x2)  # type: ignore[attr-defined]  # FILE_ATTRIBUTE_HIDDEN
