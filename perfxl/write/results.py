"""results.json: the batch for machines (spec §8), byte-identical for the same inputs.

Keys follow the schema order of spec §8; then the keys of v3 (§12 `form`, and §13 `projects` for a
project file only); keys perfxl adds come after the spec's. Decimals become JSON numbers (integers
when integral), dates ISO strings, and nothing carries a timestamp, a duration or an absolute path.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from perfxl.findings import Finding
from perfxl.model import BatchResult, FileResult, Form, IndicatorResult, ProjectIndicatorResult, ProjectResult
from perfxl.read.values import round_half_up
from perfxl.spec.fields import fields as field_list
from perfxl.spec.rubric import Rubric
from perfxl.write.folder import OutputFolder
from perfxl.write.kind import is_project_form

RATE_PLACES = "0.000001"  # rates as fractions with 6 decimals (spec §8)


def json_value(value: object) -> object:
    """A value as JSON: Decimal -> int or float, date -> ISO string, containers recursively."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value():
            return int(value)
        # via str so that 2999.76 prints as 2999.76, not as the nearest binary fraction
        return float(str(value))
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, int | str):
        return value
    return str(value)


def json_fields(result: FileResult, order: Mapping[str, object] | None = None) -> dict[str, object]:
    """A FileResult's fields as JSON-safe values, in the order of the form's fields `order`
    (rubric.fields; the built-in list when None), unknown keys after."""
    keys = order if order is not None else field_list()
    known = [k for k in keys if k in result.fields]
    extra = [k for k in result.fields if k not in keys]
    return {k: json_value(result.fields[k]) for k in (*known, *extra)}


def indicator_value(rubric: Rubric, ind: IndicatorResult) -> object:
    """The computed value: a rate as a fraction (6 decimals), days as an int, null if manual."""
    if ind.manual or ind.value is None:
        return None
    spec = next((i for i in rubric.indicators if i.code == ind.code), None)
    if spec is not None and not spec.is_rate:
        return int(ind.value)
    return json_value(round_half_up(Decimal(ind.value), RATE_PLACES))


def _indicator(rubric: Rubric, ind: IndicatorResult) -> dict[str, object]:
    return {
        "code": ind.code,
        "value": indicator_value(rubric, ind),
        "self_score": json_value(ind.self_score),
        "reviewed_score": json_value(ind.reviewed_score),
        "applicable": ind.applicable,
        "reason": ind.reason,
        "manual": ind.manual,
        "adjusted": ind.adjusted,
    }


def _finding(f: Finding, batch_level: bool = False) -> dict[str, object]:
    out: dict[str, object] = {"code": f.code, "severity": f.severity.value}
    if batch_level:
        out |= {"file": f.file, "unit_code": f.unit_code}
    out |= {"sheet": f.sheet, "cell": f.cell, "cells": list(f.cells), "message": f.message}
    if f.reply is not None:  # spec §8 v3: only a finding the unit answered has the key
        out["reply"] = f.reply
    return out


def rate_value(rate: Decimal | None) -> object:
    """A rate as a fraction with 6 decimals (spec §8), null when unknown."""
    return None if rate is None else json_value(round_half_up(Decimal(rate), RATE_PLACES))


def _project_indicator(ind: ProjectIndicatorResult) -> dict[str, object]:
    return {
        "row": ind.row,
        "level1": ind.level1,
        "level2": ind.level2,
        "name": ind.name,
        "direction": ind.direction,
        "target": json_value(ind.target),
        "actual": json_value(ind.actual),
        "unit": ind.unit,
        "weight": json_value(ind.weight),
        "self_score": json_value(ind.self_score),
        "reviewed_score": json_value(ind.reviewed_score),
        "applicable": ind.applicable,
    }


def project_entry(p: ProjectResult) -> dict[str, object]:
    """One project of a project file, with exactly the keys of spec §13 (预算执行率 is not among
    its indicators: it is `execution_*`)."""
    return {
        "sheet": p.sheet,
        "project_name": p.project_name,
        "budget_annual": json_value(p.budget_annual),
        "spent": json_value(p.spent),
        "execution_rate": rate_value(p.execution_rate),
        "execution_self_score": json_value(p.execution_self_score),
        "execution_score": json_value(p.execution_score),
        "indicators": [_project_indicator(i) for i in p.indicators],
        "self_total": json_value(p.self_total),
        "reviewed_total": json_value(p.reviewed_total),
        "self_grade": p.self_grade,
        "reviewed_grade": p.reviewed_grade,
        "capped_by_execution": p.capped_by_execution,
    }


def file_entry(form: Form, r: FileResult) -> dict[str, object]:
    """One entry of `files` for a file read by `form`: the keys of spec §8 in order, `form`
    (§12), `projects` for a project file (§13), then perfxl's additions."""
    entry: dict[str, object] = {
        "file": r.file,
        "status": r.status,
        "unit_code": r.unit_code,
        "unit_name": r.unit_name,
        "fields": json_fields(r, form.fields),
        "indicators": [_indicator(form, i) for i in r.indicators],  # type: ignore[arg-type]
        "self_total": json_value(r.self_total),
        "reviewed_total": json_value(r.reviewed_total),
        "self_grade": r.self_grade,
        "reviewed_grade": r.reviewed_grade,
        "findings": [_finding(f) for f in r.findings],
        "form": r.form or form.id,
    }
    if r.projects or is_project_form(form):
        entry["projects"] = [project_entry(p) for p in r.projects]
    return entry | {
        # additions (spec §8 allows keys after its own)
        "department": r.department,
        "status_label": r.status_label,
        "rescaled": r.rescaled,
        "errors": r.errors,
        "warnings": r.warnings,
        "format": r.format,
        "sha256": r.sha256,
        "since_last": r.since_last,
    }


def _not_submitted(unit: dict[str, object]) -> dict[str, object]:
    head = {"unit_code": unit.get("unit_code"), "unit_name": unit.get("unit_name")}
    rest = {k: v for k, v in unit.items() if k not in head}
    return json_value(head | rest)  # type: ignore[return-value]


def to_dict(batch: BatchResult) -> dict[str, object]:
    """The results.json document as a dict, keys in schema order."""
    return {
        "rubric": batch.rubric.id,
        "year": batch.year,
        "deadline": batch.deadline.isoformat(),
        "files": [file_entry(batch.form_of(r), r) for r in batch.files],
        "not_submitted": [_not_submitted(u) for u in batch.not_submitted],
        "findings": [_finding(f, batch_level=True) for f in batch.findings],
    }


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def to_json(batch: BatchResult, memo=None) -> str:
    """results.json text: UTF-8 characters as-is, indent 2, explicit nulls, trailing newline.

    The text is exactly `json.dumps(to_dict(batch), indent=2)`, assembled entry by entry so that
    with a `memo` (the output folder's state) an unchanged file's entry is not encoded again:
    Python's indenting encoder is pure Python and the slowest part of a re-run."""
    return "".join(json_parts(batch, memo))


def json_parts(batch: BatchResult, memo=None) -> Iterator[str]:
    """to_json's text in pieces (a file's entry each), so that a run of 10,000 files can write it
    without ever holding all of it."""
    if not batch.files:
        yield _dumps(to_dict(batch)) + "\n"
        return
    head = _dumps({"rubric": batch.rubric.id, "year": batch.year, "deadline": batch.deadline.isoformat()})[:-2]
    yield f"{head},\n  \"files\": [\n    "
    for n, r in enumerate(batch.files):
        def render(r: FileResult = r) -> str:
            return _dumps(file_entry(batch.form_of(r), r))

        text = memo.fragment(memo.output_key(r, batch, "json"), render) if memo and r.sha256 else render()
        yield (",\n    " if n else "") + text.replace("\n", "\n    ")
    tail = _dumps({"not_submitted": [_not_submitted(u) for u in batch.not_submitted],
                   "findings": [_finding(f, batch_level=True) for f in batch.findings]})[2:]
    yield "\n  ],\n" + tail + "\n"


def spool_json(batch: BatchResult, memo=None) -> BinaryIO:
    """results.json's bytes on a temporary file (removed when closed), read back by write_results:
    the text is made before the state is saved (which remembers its entries), written last."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  # the caller closes it (write_results)
    try:
        for part in json_parts(batch, memo):
            spool.write(part.encode("utf-8"))
    except BaseException:
        spool.close()
        raise
    return spool


def write_results(batch: BatchResult, out: Path | OutputFolder, memo=None, spool: BinaryIO | None = None) -> Path:
    """Write results.json atomically and return its path. `spool`: spool_json's (closed here),
    when the caller made the text earlier."""
    folder = OutputFolder.of(out)
    rel = folder.target("results.json")
    if spool is None:
        folder.writer().write_text(rel, to_json(batch, memo))
    else:
        try:
            with folder.writer().path(rel) as tmp, tmp.open("wb") as fh:
                spool.seek(0)
                shutil.copyfileobj(spool, fh)
        finally:
            spool.close()
    folder.collect()
    return folder.path("results.json")
