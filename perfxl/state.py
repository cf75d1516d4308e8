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

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from perfxl import __version__
from perfxl.atomic import write_text
from perfxl.findings import CATALOGUE, Finding
from perfxl.model import FileResult, IndicatorResult
from perfxl.results import json_value

STATE_FILE = Path(".perfxl") / "state.jsonl"
HEADER = "perfxl-state 2"


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


def dump_result(r: FileResult) -> dict:
    """A FileResult as JSON-safe data (lossless). Built field by field: dataclasses.asdict is
    several times slower, and the parent does this for every file it reads."""
    data = {name: _enc(value) for name, value in r.__dict__.items()}
    data["indicators"] = [{k: _enc(v) for k, v in i.__dict__.items()} for i in r.indicators]
    data["findings"] = [{"code": f.code, "message": f.message, "sheet": f.sheet, "cells": list(f.cells),
                         "file": f.file, "unit_code": f.unit_code, "details": f.details} for f in r.findings]
    return data


def load_result(data: dict, decoded: bool = False) -> FileResult:
    """The inverse of dump_result; `decoded`: json.loads already turned the tags into values."""
    d = dict(data) if decoded else _dec(data)
    d["indicators"] = [IndicatorResult(**i) for i in d["indicators"]]  # type: ignore[index]
    d["findings"] = [Finding(f["code"], f["message"], f["sheet"], tuple(f["cells"]), f["file"], f["unit_code"],
                             f["details"]) for f in d["findings"]]  # type: ignore[index]
    d["cells"] = {k: tuple(v) for k, v in d["cells"].items()}  # type: ignore[index]
    return FileResult(**d)  # type: ignore[arg-type]


@cache
def code_fingerprint() -> str:
    """perfxl's version and a hash of its code, data files and output templates (a bureau that
    edits templates/report.md.j2 gets its reports rendered again)."""
    from perfxl.report import templates_dir

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
    text = json.dumps({"rubric": options.rubric.hash, "year": options.year, "deadline": options.deadline.isoformat(),
                       "limits": dataclasses.asdict(options.limits), "adjustments": adjustments,
                       "code": code_fingerprint()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(sha256: str, rel: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{sha256}\0{rel}\0{fingerprint}".encode()).hexdigest()


def since_last_text(since: dict | None) -> str | None:
    """One Chinese line on a resubmission: findings resolved, still open, new; inputs changed."""
    if not since:
        return None
    from perfxl.fields import fields

    parts = []
    for key, label in (("resolved", "已解决"), ("still_open", "仍存在"), ("new", "新出现")):
        codes = since.get(key) or []
        if codes:
            parts.append(f"{label}：" + "、".join(f"{CATALOGUE[c][1]}（{c}）" if c in CATALOGUE else c for c in codes))
    changed = since.get("changed_fields") or {}
    if changed:
        spec = fields()
        items = [f"{spec[k].label if k in spec else k} {_show(old)} → {_show(new)}" for k, (old, new) in changed.items()]
        parts.append("改动的数据：" + "；".join(items))
    return "；".join(parts) if parts else "重新报送，问题与数据均无变化"


def _show(value: object) -> str:
    if value is None:
        return "（空）"
    text = str(value)
    return text if len(text) <= 20 else text[:20] + "…"


class State:
    """Load, consult and save `.perfxl/state.jsonl` in an output folder.

    One JSON value a line, `<kind>\t<key>\t<json>`: kinds c (cached result), u (a unit's last
    version), o (a derived output), f (a results.json entry). Lines are kept as text and decoded
    only when used, so an unchanged entry costs neither decoding nor encoding on a re-run."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_FILE
        self.out_dir = out_dir
        self.fingerprint = ""  # the options' fingerprint, set by the run that uses this state
        self._raw: dict[str, dict[str, str]] = {"c": {}, "u": {}, "o": {}, "f": {}}
        try:
            lines = self.path.read_text("utf-8").split("\n")
            if lines and lines[0] == HEADER:
                for line in lines[1:]:
                    kind, key, text = line.split("\t", 2)
                    self._raw[kind][key] = text
        except (OSError, ValueError, KeyError):
            self._raw = {"c": {}, "u": {}, "o": {}, "f": {}}  # no state, or a damaged one: start afresh
        self._new: dict[str, dict[str, str]] = {"c": {}, "u": {}, "o": {}, "f": {}}  # what this run keeps
        self._keys: dict[int, str] = {}

    def _get(self, kind: str, key: str) -> object:
        text = self._raw[kind].get(key)
        if text is None:
            return None
        try:
            return json.loads(text, object_hook=_decode_tags)
        except ValueError:
            return None

    def _keep(self, kind: str, key: str, value: object = None, *, raw: bool = False) -> None:
        """Keep an entry for the next run: the old line when `raw`, else `value` encoded."""
        self._new[kind][key] = self._raw[kind][key] if raw else json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), default=_tag)

    # -- derived outputs: skip re-rendering what would come out the same ---------------------

    def output_key(self, result: FileResult, batch, kind: str, extra: str = "") -> str:
        """What a unit's output depends on: the file as evaluated (its cache key: content, path,
        options, perfxl's code), what the batch changed on it (status, findings, since_last), and
        the kind of output."""
        base = self._keys.get(id(result))
        if base is None:
            if result.sha256 and self.fingerprint:
                evaluated = cache_key(result.sha256, result.file, self.fingerprint)
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

    def unchanged(self, dest: Path, key: str) -> bool:
        """True when `dest` was made from `key` last time and has not been touched since
        (same size and modification time, as make and git judge it)."""
        rel = self._rel(dest)
        entry = self._get("o", rel)
        if not isinstance(entry, list) or entry[0] != key:
            return False
        try:
            st = dest.stat()
        except OSError:
            return False
        if [st.st_size, st.st_mtime_ns] != entry[1:]:
            return False
        self._keep("o", rel, raw=True)
        return True

    def record(self, dest: Path, key: str) -> None:
        st = dest.stat()
        self._keep("o", self._rel(dest), [key, st.st_size, st.st_mtime_ns])

    def _rel(self, dest: Path) -> str:
        try:
            return dest.relative_to(self.out_dir).as_posix()  # outputs are built from out_dir
        except ValueError:
            return Path(os.path.relpath(dest, self.out_dir)).as_posix()

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

    def compare(self, results: list[FileResult]) -> None:
        """Set `since_last` on each scored result whose file changed since the last run."""
        for r in results:
            if not r.scored or not r.unit_code:
                continue
            previous = self._get("u", r.unit_code)
            current = {"sha256": r.sha256, "file": r.file, "codes": sorted({f.code for f in r.findings}),
                       "fields": _enc(r.fields)}
            if not isinstance(previous, dict):
                self._keep("u", r.unit_code, {**current, "since_last": None})
                continue
            if previous.get("sha256") == r.sha256:
                r.since_last = previous.get("since_last")
                self._keep("u", r.unit_code, raw=True)
                continue
            old, new = set(previous.get("codes", [])), set(current["codes"])
            old_fields = previous.get("fields", {})
            changed = {k: [json_value(old_fields.get(k)), json_value(v)]
                       for k, v in r.fields.items() if old_fields.get(k) != v}
            since = {"resolved": sorted(old - new), "still_open": sorted(old & new), "new": sorted(new - old),
                     "changed_fields": changed, "previous_file": previous.get("file")}
            r.since_last = since
            self._keep("u", r.unit_code, {**current, "since_last": since})
        for code in self._raw["u"]:  # units absent from this run keep their history
            if code not in self._new["u"]:
                self._keep("u", code, raw=True)

    def save(self) -> None:
        lines = [HEADER]
        for kind in ("c", "u", "o", "f"):
            lines.extend(f"{kind}\t{key}\t{text}" for key, text in sorted(self._new[kind].items()))
        write_text(self.path, "\n".join(lines))
