"""What the output folder remembers between runs (`.perfxl/state.jsonl`).

- A cache of per-file results keyed by the file's content hash, its path, the options and the
  perfxl code, so a re-run reprocesses only files that changed (a changed rubric, option or
  version invalidates every entry).
- Per unit, the last version seen (content hash, finding codes, input values) and the
  comparison with the version before it (`since_last`), so a resubmitted file shows which
  findings were resolved, are still open or are new, and which inputs changed.

Stored as JSON (never pickle: the output folder is not trusted code).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from perfxl import __version__
from perfxl.findings import Finding, Reply, Severity
from perfxl.model import FileResult, IndicatorResult, ProjectIndicatorResult, ProjectResult
from perfxl.read.replies import attach_replies
from perfxl.run.project_history import compare_project_file, since_between
from perfxl.spec.rubric import content_hash
from perfxl.write.writer import Writer

STATE_FILE = Path(".perfxl") / "state.jsonl"
HEADER = "perfxl-state 2"
#: c: a cached result; u: a unit's last version; f: a results.json entry
KINDS = ("c", "u", "f")


def _enc(value: object) -> object:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_enc(v) for v in value]
    if isinstance(value, dict):
        return {k: _enc(v) for k, v in value.items()}
    return value


def _dec(value: object) -> object:
    if isinstance(value, dict):
        if "$d" in value:
            return Decimal(value["$d"])
        if "$date" in value:
            return dt.date.fromisoformat(value["$date"])
        return {k: _dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dec(v) for v in value]
    return value


def _tag(value: object) -> object:
    """json.dumps default: reused (already decoded) entries carry Decimals and dates."""
    if isinstance(value, Decimal | dt.date):
        return _enc(value)
    raise TypeError(f"cannot store {type(value).__name__} in the state")


def _decode_tags(obj: dict) -> object:
    """json.loads hook: the tagged Decimals and dates of `_enc`, decoded while parsing."""
    if len(obj) == 1:
        if "$d" in obj:
            return Decimal(obj["$d"])
        if "$date" in obj:
            return dt.date.fromisoformat(obj["$date"])
    return obj


@cache
def _names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names in order (the indicator results have slots, no __dict__)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def dump_result(r: FileResult) -> dict:
    """A FileResult as JSON-safe data (lossless). Built field by field: dataclasses.asdict is
    several times slower, and the parent does this for every file it reads."""
    data = {name: _enc(value) for name, value in r.__dict__.items()}
    data["indicators"] = [{k: _enc(getattr(i, k)) for k in _names(type(i))} for i in r.indicators]
    data["findings"] = [{"code": f.code, "message": f.message, "sheet": f.sheet, "cells": list(f.cells),
                         "file": f.file, "unit_code": f.unit_code, "details": f.details,
                         **({"reply": f.reply} if f.reply is not None else {}),
                         **({"entry": [f.entry[0].value, f.entry[1]]} if f.entry is not None else {})}
                        for f in r.findings]
    data["replies"] = [{"code": x.code, "sheet": x.sheet, "cell": x.cell, "text": x.text} for x in r.replies]
    data["projects"] = [_dump_project(p) for p in r.projects]
    return data


def _dump_project(p: ProjectResult) -> dict:
    data = {name: _enc(value) for name, value in p.__dict__.items()}
    data["indicators"] = [{k: _enc(getattr(i, k)) for k in _names(type(i))} for i in p.indicators]
    data["cells"] = {k: list(v) for k, v in p.cells.items()}
    return data


def _load_project(d: dict) -> ProjectResult:
    d = dict(d)
    d["indicators"] = [ProjectIndicatorResult(**i) for i in d["indicators"]]
    d["cells"] = {k: tuple(v) for k, v in d["cells"].items()}
    return ProjectResult(**d)


def _entry(raw: object) -> tuple[Severity, str] | None:
    """A form code's stored (severity, name), as dump_result wrote it."""
    return (Severity(raw[0]), str(raw[1])) if isinstance(raw, list) and len(raw) == 2 else None  # type: ignore[index]


def load_result(data: dict, decoded: bool = False) -> FileResult:
    """The inverse of dump_result; `decoded`: json.loads already turned the tags into values."""
    d = dict(data) if decoded else _dec(data)
    d["indicators"] = [IndicatorResult(**i) for i in d["indicators"]]  # type: ignore[index]
    d["findings"] = [Finding(f["code"], f["message"], f["sheet"], tuple(f["cells"]), f["file"], f["unit_code"],
                             f["details"], f.get("reply"), _entry(f.get("entry")))
                     for f in d["findings"]]  # type: ignore[index]
    d["replies"] = [Reply(**x) for x in d.get("replies", [])]  # type: ignore[union-attr]
    d["cells"] = {k: tuple(v) for k, v in d["cells"].items()}  # type: ignore[index]
    d["projects"] = [_load_project(p) for p in d.get("projects", [])]  # type: ignore[union-attr]
    return FileResult(**d)  # type: ignore[arg-type]


@cache
def code_fingerprint() -> str:
    """perfxl's version and a hash of its code, data files and output templates (a bureau that
    edits templates/report.md.j2 gets its reports rendered again)."""
    from perfxl.resources import templates_dir

    h = hashlib.sha256(__version__.encode())
    for root in (Path(str(resources.files("perfxl"))), Path(templates_dir())):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".toml", ".j2", ".docx", ".xlsx"):
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def options_fingerprint(options) -> str:
    """Everything in Options that can change a file's result."""
    adjustments = {u: {c: [str(a.score), a.reason] for c, a in sorted(adj.items())}
                   for u, adj in sorted(options.adjustments.items())}
    # the form's fields and wording too: a label renamed or a field added in a form workbook must be read again
    forms = {"others": [[f.id, f.hash, _content(f)] for f in options.others]} if options.others else {}
    text = json.dumps({"rubric": options.rubric.hash, "form": _content(options.rubric), "year": options.year, **forms,
                       "deadline": options.deadline.isoformat(),
                       "limits": dataclasses.asdict(options.limits), "adjustments": adjustments,
                       "code": code_fingerprint()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _content(form) -> str:
    """A form's whole content (a department rubric's fields and wording; the project form's own hash)."""
    return form.hash if getattr(form, "kind", "部门整体") == "项目支出" else content_hash(form)


def cache_key(sha256: str, rel: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{sha256}\0{rel}\0{fingerprint}".encode()).hexdigest()


def _identity(fh: BinaryIO) -> tuple[int, int, int]:
    st = os.fstat(fh.fileno())
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class State:
    """Load, consult and save `.perfxl/state.jsonl` in an output folder.

    One JSON value a line, `<kind>\t<key>\t<json>` (KINDS). Lines are kept as text and decoded
    only when used, so an unchanged entry costs neither decoding nor encoding on a re-run."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_FILE
        self.out_dir = out_dir
        self.fingerprint = ""  # the options' fingerprint, set by the run that uses this state
        #: the last run's entries: kind -> key -> where its JSON text is in the state file
        self._raw: dict[str, dict[str, tuple[int, int]]] = {kind: {} for kind in KINDS}
        self._lines: dict[tuple[str, str], int] = {}  # where each entry was, to name a bad one
        #: what the operator should know about the state (a damaged line, a reset history)
        self.notes: list[str] = []
        self._old: BinaryIO | None = None  # the state file, open while its entries may be read
        self._seen: tuple[int, int, int] | None = None  # its size, time and inode when indexed
        self._load()
        #: what this run keeps: kind -> key -> (in the spool?, offset, length)
        self._new: dict[str, dict[str, tuple[bool, int, int]]] = {kind: {} for kind in KINDS}
        self._spool: BinaryIO | None = None  # the texts of new entries, until save copies them
        self._keys: dict[int, str] = {}
        self._index: dict[str, list[str]] | None = None  # keys_with_prefix

    def _load(self) -> None:
        """Index the file line by line (kind, key and where the text is; the texts stay on disk
        until used, so that a state of 10,000 units costs no memory to hold): a damaged line
        costs that line (a note names it); a file that is not a state at all is kept aside as
        state.broken-N.jsonl, never overwritten."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            from perfxl.write.errors import describe

            self._set_aside(f"无法读取（{describe(exc)}）")
            return
        try:
            head = fh.readline()
            if head.rstrip(b"\r\n").decode("utf-8-sig", "replace") != HEADER:  # Notepad adds a BOM
                fh.close()
                self._set_aside("不是 perfxl 能识别的格式")
                return
            offset = len(head)
            for number, line in enumerate(fh, start=2):
                start, offset = offset, offset + len(line)
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue  # a trailing newline, a blank line: nothing lost
                try:
                    kind, key, text = line.split(b"\t", 2)
                    kind_s, key_s = kind.decode("utf-8"), key.decode("utf-8")
                    if kind_s == "o":
                        continue  # outputs written by perfxl 0.1: the manifest (perfxl.write.folder) knows them now
                    if kind_s not in self._raw or not text or text[-1:] not in (b"}", b'"'):  # a line cut short
                        raise ValueError(kind_s)
                except ValueError:  # UnicodeDecodeError is one
                    self._bad_line(number)
                    continue
                self._raw[kind_s][key_s] = (start + len(kind) + len(key) + 2, len(text))
                self._lines[kind_s, key_s] = number
        except OSError as exc:
            fh.close()
            from perfxl.write.errors import OutputFolderError, describe

            raise OutputFolderError(str(self.path), f"记录文件无法读取（{describe(exc)}）") from exc
        self._old = fh
        self._seen = _identity(fh)

    def _old_changed(self) -> bool:
        """Whether the state file was changed in place since it was indexed (its entries are read
        at the offsets found then): another program, never perfxl, which holds the folder's lock."""
        return self._old is not None and _identity(self._old) != self._seen

    def close(self) -> None:
        """Let go of the state file and the spool (save does; a run that failed calls this)."""
        for fh in (self._old, self._spool):
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()
        self._old = self._spool = None

    def _text(self, kind: str, key: str) -> bytes | None:
        """The last run's JSON text of an entry, as stored."""
        where = self._raw[kind].get(key)
        if where is None or self._old is None:
            return None
        self._old.seek(where[0])
        return self._old.read(where[1])

    def _bad_line(self, number: int) -> None:
        self.notes.append(f"输出文件夹的记录文件 {STATE_FILE.as_posix()} 第 {number} 行已损坏，已跳过；"
                          "相关单位本次按首次报送处理")

    def _set_aside(self, why: str) -> None:
        n = 1
        while (broken := self.path.with_name(f"state.broken-{n}.jsonl")).exists():
            n += 1
        try:
            os.replace(self.path, broken)
        except OSError as exc:
            from perfxl.write.errors import OutputFolderError, describe

            raise OutputFolderError(str(self.path), f"记录文件{why}，且无法另存（{describe(exc)}）") from exc
        self.notes.append(f"输出文件夹的记录文件 {STATE_FILE.as_posix()} {why}，已另存为 {broken.name}；"
                          "各单位的历次报送记录已重置，本次全部按首次报送处理")

    def _get(self, kind: str, key: str) -> object:
        text = self._text(kind, key)
        if text is None:
            return None
        try:
            return json.loads(text, object_hook=_decode_tags)
        except ValueError:  # a line cut short or garbled: that entry is lost, and said so
            self._raw[kind].pop(key, None)
            self._bad_line(self._lines.get((kind, key), 0))
            return None

    def _keep(self, kind: str, key: str, value: object = None, *, raw: bool = False) -> None:
        """Keep an entry for the next run: the old line when `raw`, else `value` encoded. The new
        texts go to a spool file at once: the parent holds none of them (flat memory)."""
        if raw:
            self._new[kind][key] = (False, *self._raw[kind][key])
            return
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_tag).encode("utf-8")
        if self._spool is None:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115  # removed on close, on every system
        spool = self._spool
        spool.seek(0, os.SEEK_END)
        self._new[kind][key] = (True, spool.tell(), len(data))
        spool.write(data)

    def _kept_text(self, kind: str, key: str) -> bytes:
        """The text an entry kept for the next run has (read back from the spool or the old file)."""
        spooled, offset, length = self._new[kind][key]
        fh = self._spool if spooled else self._old
        assert fh is not None
        fh.seek(offset)
        return fh.read(length)

    # -- derived outputs: skip re-rendering what would come out the same ---------------------

    def output_key(self, result: FileResult, batch, kind: str, extra: str = "") -> str:
        """What a unit's output depends on: the file as evaluated (its cache key: content, path,
        options, perfxl's code), what the batch changed on it (status, findings, since_last), and
        the kind of output."""
        base = self._keys.get(id(result))
        if base is None:
            if result.sha256 and self.fingerprint:
                evaluated = cache_key(result.sha256, result.key or result.file, self.fingerprint)
            else:  # never cached (unreadable before hashing): the whole result
                evaluated = json.dumps(dump_result(result), ensure_ascii=False, sort_keys=True)
            delta = repr((result.status, [(f.code, f.message, f.cells) for f in result.findings],
                          result.since_last, batch.year, batch.deadline))
            base = self._keys[id(result)] = hashlib.sha256(f"{evaluated}|{delta}".encode()).hexdigest()
        return hashlib.sha256(f"{base}|{kind}|{extra}".encode()).hexdigest()

    def fragment(self, key: str, render: Callable[[], str]) -> str:
        """A piece of text (a results.json entry) rendered last time for `key`, or rendered now."""
        text = self._get("f", key)
        if isinstance(text, str):
            self._keep("f", key, raw=True)
            return text
        text = render()
        self._keep("f", key, text)
        return text

    # -- cached results ------------------------------------------------------------------------

    def lookup(self, key: str) -> FileResult | None:
        entry = self._get("c", key)
        if not isinstance(entry, dict):
            return None
        try:
            result = load_result(entry, decoded=True)
        except (KeyError, TypeError, ValueError):
            return None
        self._keep("c", key, raw=True)
        return result

    def store(self, key: str, result: FileResult) -> None:
        self._keep("c", key, dump_result(result))

    # -- resubmissions ---------------------------------------------------------------------------

    def compare(self, results: list[FileResult], first: str | None = None) -> None:
        """Set `since_last` on each scored result whose file changed since the last run.

        First the units' replies are matched again to the findings as they now stand (the roster
        and the adjustments added some); a reply whose finding is gone is listed in since_last
        as `replies_resolved` ({code, sheet, cell, reply}), the key present only when there is one.
        `first` is the batch's first form: its files keep the unit's history of earlier versions."""
        unanswered: dict[int, list[Reply]] = {}
        for r in results:
            if r.replies:
                r.findings, unanswered[id(r)] = attach_replies(r.findings, r.replies)
        for r in results:
            if not r.scored or not r.unit_code:
                continue
            if r.projects:  # spec §13: per project, by 项目名称, whichever file it comes in
                compare_project_file(self, r, f"{r.unit_code}|{r.form}|", unanswered.get(id(r)), _dump_project, _enc)
                continue
            # a unit's file of the first department form keeps the key of earlier versions; a file
            # of any other department form has its own history beside it (spec §12)
            key = r.unit_code if r.form in (first, None) else f"{r.unit_code}|{r.form}"
            r.since_last = self._since(key, {"sha256": r.sha256, "file": r.file,
                                             "codes": sorted({f.code for f in r.findings}), "fields": _enc(r.fields)},
                                       r.fields, unanswered.get(id(r)))
        for code in list(self._raw["u"]):  # units absent from this run keep their history
            if code not in self._new["u"] and self._get("u", code) is not None:
                self._keep("u", code, raw=True)

    def _since(self, key: str, current: dict, fields: dict, unanswered: list[Reply] | None) -> dict | None:
        """since_last of one file or project against its entry `key` of the last run; keeps the entry."""
        previous = self._get("u", key)
        if not isinstance(previous, dict):
            self._keep("u", key, {**current, "since_last": None})
            return None
        if previous.get("sha256") == current["sha256"]:
            self._keep("u", key, raw=True)
            return previous.get("since_last")
        since = since_between(set(previous.get("codes", [])), previous, current, fields, unanswered)
        self._keep("u", key, {**current, "since_last": since})
        return since

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """The last run's entries of kind u whose key starts with `prefix` (indexed once per run)."""
        if self._index is None:
            self._index = {}
            for key in self._raw["u"]:
                head = key.rsplit("|", 1)[0] + "|" if "|" in key else ""
                self._index.setdefault(head, []).append(key)
        return [k for k in self._index.get(prefix, []) if k.startswith(prefix)]

    def save(self, writer=None) -> None:
        """Write the state (through the output folder's `writer` when given), entry by entry from
        the old file and the spool; both are let go of afterwards."""
        writer = writer or Writer(self.out_dir, managed=False)  # a plain folder (library callers, tests)
        if self._old_changed():  # what was kept of it would be read at wrong places: only this run's entries stay
            for kind in KINDS:
                self._new[kind] = {k: v for k, v in self._new[kind].items() if v[0]}
            self.notes.append(f"输出文件夹的记录文件 {STATE_FILE.as_posix()} 在本次运行期间被其他程序改动过，"
                              "其中上次的缓存和历次报送记录未能保留（只保留了本次新得到的）；下次运行相关单位按首次报送处理")
        try:
            with writer.path(STATE_FILE.as_posix(), journal=False) as tmp, tmp.open("wb") as out:
                out.write(HEADER.encode("utf-8"))
                for kind in KINDS:
                    prefix = kind.encode("utf-8") + b"\t"
                    for key in sorted(self._new[kind]):
                        out.write(b"\n" + prefix + key.encode("utf-8") + b"\t" + self._kept_text(kind, key))
                self.close()  # before the new file takes the old one's place (Windows cannot replace an open file)
        finally:
            self.close()
