"""A project file's report (spec §13): the 项目支出绩效自评报告 from `templates/project_report.md.j2`.

One section per project in the order of its sheets, as the national table reads: the funds
(年初预算数, 全年预算数, 全年执行数, 执行率, and 其中：财政拨款), 年度总体目标 and 实际完成情况, the
indicator table (self vs reviewed), each row below full marks with its 偏差原因, the 预算执行率 score
and the execution-rate cap, problems and measures, totals and grades, and the findings of that
sheet. An overview of all projects comes first, the findings of no project sheet last.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from perfxl.findings import Finding, Severity
from perfxl.model import BatchResult, FileResult, Options, ProjectIndicatorResult, ProjectResult
from perfxl.read.values import format_number, round_half_up
from perfxl.write.kind import deadline_of, form_of
from perfxl.write.project_text import fiscal, money, rate, value_text
from perfxl.write.report_markdown import Md, cn_date, notice_text, render_markdown, seal
from perfxl.write.text import since_last_text

TEMPLATE = "project_report.md.j2"
#: below this execution rate a missing 执行偏差原因 is asked for (spec §13 deviation-unexplained)
EXPLAIN_BELOW = Decimal("0.9")
CN_NUMBERS = "一二三四五六七八九十"


def cn_index(n: int) -> str:
    """1 -> 一, 12 -> 十二, 21 -> 二十一 (a section's number, as 一、 and （一） use it)."""
    if n <= 10:
        return CN_NUMBERS[n - 1]
    tens, ones = divmod(n, 10)
    return (CN_NUMBERS[tens - 1] if tens > 1 else "") + "十" + (CN_NUMBERS[ones - 1] if ones else "")


def _finding(x: Finding) -> dict[str, object]:
    return {"severity": x.severity.label, "title": x.title, "code": x.code, "message": x.message,
            "where": "!".join(p for p in (x.sheet, x.cell) if p) or None, "reply": x.reply}


def _row(ind: ProjectIndicatorResult) -> dict[str, object]:
    below = (ind.reviewed_score is not None and ind.weight is not None and ind.reviewed_score < ind.weight)
    return {"level1": ind.level1, "level2": ind.level2, "name": ind.name or "（未填指标名称）",
            "direction": ind.direction, "target": value_text(ind, "target"), "actual": value_text(ind, "actual"),
            "weight": ind.weight, "self_score": ind.self_score, "reviewed_score": ind.reviewed_score,
            "cannot": ind.applicable is None, "below": below, "reason": ind.reason,
            "differs": ind.self_score is not None and ind.reviewed_score is not None
            and round_half_up(ind.self_score) != ind.reviewed_score}


def _cap(form, p: ProjectResult) -> dict[str, object] | None:
    """The cap that bit: the rate bound, the cap, and the total before it."""
    if not p.capped_by_execution or p.execution_rate is None:
        return None
    cap, bound = min((c, b) for b, c in form.caps if p.execution_rate < b)
    scores = [p.execution_score, *(i.reviewed_score for i in p.indicators)]
    before = round_half_up(sum((s for s in scores if s is not None), Decimal(0)))
    return {"bound": Md(f"{format_number(bound * 100)}%"), "cap": cap, "before": before}


def _counts(rows: list[dict[str, object]], names: tuple[str, ...]) -> Md | None:
    """产出指标3个、效益指标2个、满意度指标1个 (in the form's order, then the rest)."""
    kinds = Counter(r["level1"] or "未填一级指标" for r in rows)
    order = [n for n in names if kinds[n]] + sorted(k for k in kinds if k not in names)  # type: ignore[type-var]
    return Md("、".join(f"{k}{kinds[k]}个" for k in order)) if order else None


def project_context(p: ProjectResult, result: FileResult, form) -> dict[str, object]:
    """One project's values for the template (unit text still raw)."""
    f = p.fields
    init_fiscal, annual_fiscal, spent_fiscal = fiscal(p)
    funds = [("资金总额", money(f.get("budget_initial")), p.budget_annual, p.spent, p.execution_rate),
             ("其中：财政拨款", init_fiscal, annual_fiscal, spent_fiscal, rate(spent_fiscal, annual_fiscal))]
    rows = [_row(i) for i in p.indicators]
    findings = [x for x in result.findings if x.sheet == p.sheet]
    weights = [i.weight for i in p.indicators if i.weight is not None]
    return {
        "name": p.project_name or f"（未填项目名称：工作表「{p.sheet}」）", "sheet": p.sheet,
        "implementer": f.get("implementer"), "lead": f.get("project_lead"),
        "funds": [{"label": label, "initial": a, "annual": b, "spent": c, "rate": d} for label, a, b, c, d in funds],
        "target_text": f.get("target_text"), "outcome_text": f.get("outcome_text"),
        "problems_text": f.get("problems_text"), "measures_text": f.get("measures_text"),
        "exec": {"label": form.exec_label, "weight": form.exec_weight, "rate": p.execution_rate,
                 "self_score": p.execution_self_score, "score": p.execution_score, "reason": f.get("exec_reason"),
                 "ask_reason": p.execution_rate is not None and p.execution_rate < EXPLAIN_BELOW},
        "rows": rows, "counts": _counts(rows, form.level1),
        "deviations": [r for r in rows if r["below"] or r["cannot"]],
        "differs": [r for r in rows if r["differs"]],
        "exec_differs": p.execution_self_score is not None and p.execution_score is not None
        and round_half_up(p.execution_self_score) != p.execution_score,
        "total_weight": form.exec_weight + sum(weights, Decimal(0)),
        "self_total": p.self_total, "self_grade": p.self_grade,
        "reviewed_total": p.reviewed_total, "reviewed_grade": p.reviewed_grade, "cap": _cap(form, p),
        "findings": [_finding(x) for x in findings],
        "since_last": since_last_text(p.since_last, form.fields),
        "errors": sum(1 for x in findings if x.severity is Severity.ERROR),
        "warnings": sum(1 for x in findings if x.severity is Severity.WARNING),
    }


def _latest_filing(result: FileResult) -> dt.date | None:
    dates = [v for p in result.projects if isinstance(v := p.fields.get("filing_date"), dt.date)]
    first = result.fields.get("filing_date")
    return max(dates) if dates else first if isinstance(first, dt.date) else None


def _file_since(result: FileResult, form) -> str | None:
    """The file's resubmission line: its findings resolved, still open and new; the data changed
    are each project's (ProjectResult.since_last, matched by 项目名称), said in its own section — the
    file's own field changes would compare whichever projects came first in the two files."""
    since = result.since_last
    if not since:
        return None
    findings = {k: v for k, v in since.items() if k != "changed_fields"}
    changed = any(p.since_last and p.since_last.get("changed_fields") for p in result.projects)
    data = "各项目改动的数据见该项目" if changed else "项目数据均无变化"
    if not any(findings.get(k) for k in ("resolved", "still_open", "new", "replies_resolved")):
        return f"问题无变化，{data}"
    return f"{since_last_text(findings, form.fields)}；{data}"


def project_report_context(result: FileResult, ctx: BatchResult | Options) -> dict[str, object]:
    """The values project_report.md.j2 is rendered with (unit text still raw: the template escapes)."""
    form = form_of(ctx, result)
    deadline = deadline_of(ctx, form)
    projects = [project_context(p, result, form) for p in result.projects]
    for n, p in enumerate(projects, start=1):
        p["number"] = cn_index(n)
    filing = _latest_filing(result)
    sheets = {p.sheet for p in result.projects}
    reviewed = Counter(p.reviewed_grade for p in result.projects if p.reviewed_grade)
    budget = [p.budget_annual for p in result.projects]
    spent = [p.spent for p in result.projects]
    complete = all(v is not None for v in (*budget, *spent))
    total_budget = sum((v for v in budget if v is not None), Decimal(0)) if complete else None
    total_spent = sum((v for v in spent if v is not None), Decimal(0)) if complete else None
    others = [_finding(x) for x in result.findings if x.sheet not in sheets]
    return {
        "unit_name": result.unit_name or "（单位名称未填写）", "unit_code": result.unit_code,
        "department": result.department, "file": result.file, "year": ctx.year, "deadline": deadline,
        "filing": filing, "late_days": (filing - deadline).days if filing else None,
        "notice": notice_text(form), "seal": seal(result),
        "signed_on": cn_date(filing) if filing else Md("　　年　　月　　日"),
        "projects": projects, "total_budget": total_budget, "total_spent": total_spent,
        "total_rate": rate(total_spent, total_budget),
        "grades": [(g, reviewed[g]) for g in form.grade_labels if reviewed[g]],
        "ungraded": sum(1 for p in result.projects if p.reviewed_grade is None),
        "capped": sum(1 for p in result.projects if p.capped_by_execution),
        "errors": result.errors, "warnings": result.warnings,
        "others": others, "replied": any(x.reply is not None for x in result.findings),
        "since_last": _file_since(result, form),
    }


def render_project_report(result: FileResult, ctx: BatchResult | Options) -> str:
    """The Markdown 项目支出绩效自评报告 of one scored project file."""
    return render_markdown(TEMPLATE, project_report_context(result, ctx))
