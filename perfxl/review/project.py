"""A project file (spec §13): every project sheet scored and checked, plus what concerns the file
as a whole — lateness, the year, the `_meta` unit code, and unit_code / unit_name the same on every
sheet. Scoring is perfxl.review.project_score, the per-sheet checks perfxl.review.project_checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from perfxl.findings import Finding
from perfxl.model import FieldValue, ProjectResult, ProjectSheet, Submission, project_key
from perfxl.read import values
from perfxl.review.checks import Context, check_meta_code, check_year_and_dates
from perfxl.review.project_checks import check_project
from perfxl.review.project_score import at, finding, score_project

__all__ = ["check_project", "review_projects", "score_project"]


def _sheet_context(sub: Submission, sheet: ProjectSheet, form, year: int, deadline: dt.date) -> Context:
    """The department checks' context over one project sheet's fields, so that year-mismatch,
    late-submission and unit-code-changed are said as for a department file."""
    return Context(Submission(sub.file, sub.format, meta=sub.meta, fields=sheet.fields), None, form, year, deadline)  # type: ignore[arg-type]


def _latest_filing(sheets: list[ProjectSheet]) -> ProjectSheet | None:
    """The sheet with the latest readable 填报日期 (the file was sent no earlier), the first of equals."""
    dated = [(s.value("filing_date"), i, s) for i, s in enumerate(sheets)
             if isinstance(s.value("filing_date"), dt.date) and not s.fields["filing_date"].error]
    return max(dated, key=lambda t: (t[0], -t[1]))[2] if dated else None


def _unit_same(sheets: list[ProjectSheet], form) -> Iterator[Finding]:
    """unit_code and unit_name the same on every sheet as on the first that has them (spec §13):
    `unit-inconsistent` on each sheet that differs."""
    for key in ("unit_code", "unit_name"):
        label = form.fields[key].label if key in form.fields else key
        filled = [(s, s.fields[key]) for s in sheets
                  if key in s.fields and not s.fields[key].error and not values.is_blank(s.fields[key].value)]
        if not filled:
            continue
        first_sheet, first = filled[0]
        norm = _normal(first)
        for _, fv in filled[1:]:
            if _normal(fv) != norm:
                yield finding("unit-inconsistent", f"{at(fv, label)}为“{values.show(fv.value)}”，与项目表「{first_sheet.sheet}」"
                              f"{first.cell}的“{values.show(first.value)}”不同；同一文件的各项目表{label}应相同，"
                              "请改为本单位的" + label, fv, expected=values.show(first.value), found=values.show(fv.value))


def _normal(fv: FieldValue) -> str:
    return values.fold(str(fv.value)).upper()


def review_projects(sub: Submission, form, deadline: dt.date, year: int | None = None
                    ) -> tuple[list[ProjectResult], list[Finding]]:
    """Score and check every project sheet of a project file, in sheet order, and check the file
    as a whole; `year` is the batch year (the form's when not given)."""
    batch_year = form.year if year is None else year
    results: list[ProjectResult] = []
    findings: list[Finding] = []
    for sheet in sub.projects:
        result, found = score_project(sheet, form)
        results.append(result)
        findings += found
        findings += check_project(sheet, result, form)
        ctx = _sheet_context(sub, sheet, form, batch_year, deadline)
        findings += [f for f in check_year_and_dates(ctx) if f.code == "year-mismatch"]
        findings += check_meta_code(ctx)
    latest = _latest_filing(sub.projects)
    if latest is not None:
        ctx = _sheet_context(sub, latest, form, batch_year, deadline)
        findings += [f for f in check_year_and_dates(ctx) if f.code == "late-submission"]
    findings += _unit_same(sub.projects, form)
    findings += _repeated(sub.projects)
    return results, findings


def _repeated(sheets: list[ProjectSheet]) -> Iterator[Finding]:
    """project-repeated: a 项目名称 on a second sheet of the same file (both are still scored)."""
    first: dict[str, ProjectSheet] = {}
    for sheet in sheets:
        fv = sheet.fields.get("project_name")
        name = project_key(fv.value) if fv is not None else ""
        if not name:
            continue
        if name not in first:
            first[name] = sheet
            continue
        where = f"{fv.sheet or sheet.sheet} {fv.cell}" if fv.cell else sheet.sheet
        yield Finding("project-repeated", f"{where}「项目名称」“{name}”与工作表「{first[name].sheet}」相同："
                      "同一项目只应填写一张项目表，两张表都已审核并计入汇总；请删除重复的工作表或更正项目名称",
                      fv.sheet or sheet.sheet, (fv.cell,) if fv.cell else ())
