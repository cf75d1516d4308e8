"""Duplicates (spec §6, per form, §13): which of a unit's files is kept, and which project of which file.

Per unit and form the latest filing date wins, then docProps' modified time, then the path. A
unit's department file and project files never supersede each other; two project files that
hold the same 项目名称 are duplicates of that project only, by the same rule.
"""

from __future__ import annotations

import datetime as dt

from perfxl.findings import Finding
from perfxl.model import FileResult, project_key


def _modified(r: FileResult) -> dt.datetime:
    """docProps/core.xml's dcterms:modified as an aware time (strings with other offsets or
    fractions of a second would not compare); unknown or unparseable is the earliest."""
    try:
        when = dt.datetime.fromisoformat(r.modified or "")
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _duplicate_key(r: FileResult) -> tuple:
    filing = r.fields.get("filing_date")
    return (filing if isinstance(filing, dt.date) else dt.date.min, _modified(r), r.file)


def resolve_duplicates(results: list[FileResult]) -> None:
    """Spec §6: per unit code keep the latest filing date, then core.xml modified, then path."""
    groups: dict[tuple, list[FileResult]] = {}
    for r in results:
        if r.scored and r.unit_code and not r.projects:  # per form: a unit's files of two forms never supersede
            groups.setdefault((r.form, r.unit_code), []).append(r)
    resolve_project_duplicates([r for r in results if r.scored and r.unit_code and r.projects])
    for (_, code), group in groups.items():
        if len(group) < 2:
            continue
        group.sort(key=_duplicate_key, reverse=True)
        kept, others = group[0], group[1:]
        listed = "、".join(o.file for o in others)
        kept.findings.append(Finding(
            "duplicate-submission", f"单位 {code} 报送了 {len(group)} 个文件；采用本文件（{kept.file}），"
            f"其余文件已忽略：{listed}", file=kept.file, unit_code=code))
        for o in others:
            # superseded: no scores, report, feedback or 指标得分 row (spec §6)
            o.status, o.indicators, o.rescaled = "duplicate", [], False
            o.self_total = o.reviewed_total = o.self_grade = o.reviewed_grade = None
            o.findings = [Finding("duplicate-submission",
                                  f"单位 {code} 报送了 {len(group)} 个文件；本文件已被 {kept.file} 取代，不再审核",
                                  file=o.file, unit_code=code)]


def resolve_project_duplicates(results: list[FileResult]) -> None:
    """Spec §13: per unit and 项目名称 the kept file by the rule of §6; a superseded project leaves
    its file (with its sheet's findings), and a file left with no project is a duplicate."""
    holders: dict[tuple[str, str], list[FileResult]] = {}
    for r in results:
        for p in r.projects:
            name = project_key(p.project_name)
            if name and r.unit_code:
                holders.setdefault((r.unit_code, name), []).append(r)
    for (code, name), group in holders.items():
        group = list({id(r): r for r in group}.values())  # a file naming one project twice is its own problem
        if len(group) < 2:
            continue
        group.sort(key=_duplicate_key, reverse=True)
        kept, others = group[0], group[1:]
        listed = "、".join(o.file for o in others)
        kept.findings.append(Finding(
            "duplicate-submission", f"单位 {code} 的项目“{name}”在 {len(group)} 个文件中报送；采用本文件，"
            f"其余文件中的该项目已忽略：{listed}", file=kept.file, unit_code=code))
        for o in others:
            gone = {p.sheet for p in o.projects if project_key(p.project_name) == name}
            o.projects = [p for p in o.projects if p.sheet not in gone]
            o.findings = [f for f in o.findings if f.sheet not in gone]
            o.findings.append(Finding(
                "duplicate-submission", f"单位 {code} 的项目“{name}”（{'、'.join(sorted(gone))}）已被 {kept.file} "
                "中的同名项目取代，不再审核", file=o.file, unit_code=code))
            if not o.projects:
                o.status = "duplicate"
