"""The per-unit self-evaluation report (spec §8): `templates/report.md.j2` rendered with Jinja2;
a project file's 项目支出绩效自评报告 (spec §13) is perfxl.write.report_project.

Unit text reaches the Markdown only escaped (perfxl.write.report_markdown): the template passes it
through `md` / `paras`, and the environment's `finalize` hook escapes any other string it prints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from perfxl.model import BatchResult, FileResult, IndicatorResult, Options
from perfxl.read.values import fold, round_half_up
from perfxl.resources import templates_dir
from perfxl.review.scoring import show_value
from perfxl.spec.fields import Field
from perfxl.spec.rubric import Indicator
from perfxl.write.folder import OutputFolder, Writer
from perfxl.write.kind import batch_context, deadline_of, form_of, is_project
from perfxl.write.naming import output_stems
from perfxl.write.report_markdown import Md, cn_date, environment, md, money, notice_text, paras, percent, render_markdown, seal
from perfxl.write.report_project import render_project_report
from perfxl.write.text import since_last_text

__all__ = ["Md", "environment", "md", "money", "paras", "percent", "render_report", "report_context", "templates_dir",
           "write_reports"]

TEMPLATE = "report.md.j2"


#: what a report needs besides the file: the batch's rubric, year and deadline
Context = BatchResult | Options


@dataclass(frozen=True)
class Row:
    """One indicator as the report shows it (unit text still raw)."""

    code: str
    level1: str
    level2: str
    name: str
    weight: Decimal
    criteria: str
    state: str  # computed, manual, adjusted, not-applicable, cannot, zero-denominator, blank
    value: Md  # 指标值 as printed
    self_score: Decimal | None
    reviewed_score: Decimal | None
    note: str | None  # the unit's 自评说明
    #: the analysis sentence's words for a day-count row, as a unit writes them ("自评材料于…报送")
    phrase: Md | None = None


def _state(res: IndicatorResult) -> str:
    if res.applicable is False:
        return "not-applicable"
    if res.applicable is None:
        return "cannot"
    if res.manual:
        return "adjusted" if res.adjusted else "manual"
    return res.reason or "computed"


def _value_text(ind: Indicator, res: IndicatorResult) -> Md:
    if res.value is None:
        return Md("—")
    if ind.is_rate:
        return Md(show_value(ind, res.value))
    if ind.value and ind.value["kind"] == "days_late":
        return Md(f"逾期{res.value}天" if res.value else "按时报送")
    return Md(f"{res.value}天")


def _event(key: str, spec: dict[str, Field]) -> str:
    """A date field's label as the event it records: 部门预算批复日期 -> 部门预算批复."""
    label = spec[key].label
    return label[:-2] if label.endswith("日期") else label


def _phrase(ind: Indicator, res: IndicatorResult, f: dict[str, object], spec: dict[str, Field]) -> Md | None:
    """How a unit says a day count: "自评材料于2021年6月4日报送，在规定时间内",
    "部门预算批复后第20天公开" — never "…及时性为20天"."""
    v = ind.value
    if v is None or v["kind"] not in ("days_late", "days_between") or res.applicable is not True:
        return None
    if v["kind"] == "days_late":
        date = f.get(v["date"])
        if res.value is None or not isinstance(date, dt.date):
            return None
        # filing_date is every form's 填报日期 (spec §12): the day the materials were sent
        said = f"自评材料于{cn_date(date)}报送" if v["date"] == "filing_date" else f"{md(spec[v['date']].label)}为{cn_date(date)}"
        return Md(said + (f"，逾期{res.value}天" if res.value else "，在规定时间内"))
    first, then = _event(v["start"], spec), _event(v["end"], spec)
    common = next((n for n, (a, b) in enumerate(zip(first, then, strict=False)) if a != b), 0)
    if 0 < common < min(len(first), len(then)):  # 部门预算批复 … 部门预算公开: say the subject once
        then = then[common:]
    if res.value is None:
        if res.reason == "blank" and f.get(v["end"]) is None:
            return Md(f"{md(spec[v['end']].label)}未填写，视为未{md(then)}")
        return None
    when = "当天" if res.value == 0 else f"后第{res.value}天"
    over = ind.rule.get("days")
    late = f"，超过规定的{over}天" if ind.rule["kind"] == "days_within" and res.value > over else ""
    return Md(f"{md(first)}{when}{md(then)}{late}")


def _group_title(level1: str) -> str:
    return level1 if level1.endswith(("情况", "效益")) else f"{level1}情况"


def report_context(result: FileResult, ctx: Context) -> dict[str, object]:
    """The values report.md.j2 is rendered with (unit text still raw: the template escapes)."""
    form = form_of(ctx, result)
    deadline = deadline_of(ctx, form)
    by_code = {r.code: r for r in result.indicators}
    rows = []
    for ind in form.indicators:
        res = by_code.get(ind.code) or IndicatorResult(ind.code, applicable=None, manual=ind.manual)
        rows.append(Row(ind.code, ind.level1, ind.level2, ind.name, ind.weight, ind.criteria,
                        _state(res), _value_text(ind, res), res.self_score, res.reviewed_score,
                        res.note, phrase=_phrase(ind, res, result.fields, form.fields)))
    names = [g for g, _ in form.level1_groups]
    effects_group = "预算使用效益" if "预算使用效益" in names else names[-1]
    groups = [{"title": _group_title(name), "effects": name == effects_group,
               "rows": [r for r in rows if r.level1 == name]} for name in names]
    # the form's fields; one the template names that this form lacks reads as blank
    f = _Fields({key: result.fields.get(key) for key in form.fields})
    filing = f["filing_date"]
    late = (filing - deadline).days if isinstance(filing, dt.date) else None
    figures = {"总编制": f["staff_quota"], "在职人数": f["staff_actual"], "离退休人数": f["retirees"]}
    stated = [f"{k}{v}" for k, v in figures.items() if v is not None]
    functions = fold(str(f["text_functions"] or ""))
    findings = [{"severity": x.severity.label, "title": x.title, "code": x.code, "message": x.message,
                 "where": "!".join(p for p in (x.sheet, x.cell) if p) or None, "reply": x.reply}
                for x in result.findings]
    return {
        "unit_name": result.unit_name or "（单位名称未填写）", "unit_code": result.unit_code,
        "file": result.file, "year": ctx.year, "deadline": deadline, "late_days": late,
        "notice": notice_text(form), "seal": seal(result),
        # a blank date is a line to write on by hand, as on a printed form
        "signed_on": cn_date(filing) if isinstance(filing, dt.date) else Md("　　年　　月　　日"),
        # the unit's own text already gives the staffing figures: do not repeat them
        "staffing_stated": bool(stated) and all(p in functions for p in stated),
        "f": f, "rows": rows, "groups": groups, "findings": findings,
        # the 单位答复 column only when the unit answered (a returned feedback copy)
        "replied": any(x["reply"] is not None for x in findings),
        "not_applicable": [r for r in rows if r.state == "not-applicable"],
        "cannot": [r for r in rows if r.state == "cannot"],
        "differs": [r for r in rows if r.state != "not-applicable" and r.self_score is not None
                    and r.reviewed_score is not None and round_half_up(r.self_score) != r.reviewed_score],
        "execution_rate": _execution_rate(f), "total_weight": form.total_weight,
        "self_total": result.self_total, "self_grade": result.self_grade,
        "reviewed_total": result.reviewed_total, "reviewed_grade": result.reviewed_grade,
        "rescaled": result.rescaled, "errors": result.errors, "warnings": result.warnings,
        "since_last": since_last_text(result.since_last, form.fields),
        # a form's own long texts (e.g. hn-dept-2020's 厉行节约保障措施), filled ones, under 四、其他自评情况
        "own_texts": [(fd.label, f[key]) for key, fd in form.fields.items()
                      if fd.type == "longtext" and key not in OUTLINE_TEXTS and f[key] not in (None, "")],
    }


#: the long texts report.md.j2 places in its outline (the built-in's); any other a form has goes to 四
OUTLINE_TEXTS = frozenset({"text_functions", "text_key_work", "text_targets", "text_process", "text_effects",
                           "text_problems", "text_measures", "text_other"})


class _Fields(dict):
    """Field values by key; a key the form does not have is blank (None), as an unfilled one."""

    def __missing__(self, key: str) -> None:
        return None


def _execution_rate(f: dict[str, object]) -> Decimal | None:
    """预算执行率 = 本年支出合计 / (年初结转和结余 + 本年收入合计), as in 汇总."""
    spent, begin, income = f["expense_total"], f["carryover_begin"], f["income_total"]
    if not all(isinstance(v, Decimal) for v in (spent, begin, income)):
        return None
    base = begin + income  # type: ignore[operator]
    return spent / base if base else None  # type: ignore[operator]


def render_report(result: FileResult, ctx: Context) -> str:
    """The Markdown report of one scored file; `ctx` is the BatchResult (or Options). A project
    file's is its 项目支出绩效自评报告 (spec §13)."""
    if is_project(result, ctx):
        return render_project_report(result, ctx)
    return render_markdown(TEMPLATE, report_context(result, ctx))


def _write_report(task: tuple[FileResult, BatchResult, Writer, str]) -> None:
    result, ctx, writer, rel = task
    writer.write_text(rel, render_report(result, ctx))


def plan_reports(batch: BatchResult, folder: OutputFolder, memo=None) -> tuple[list[Path], list[tuple[FileResult, str]]]:
    """Every report's path, in the order of `batch.files`, and the (result, rel) of those to render
    (with a `memo`, an unchanged report whose file is as it was written is kept)."""
    written: list[Path] = []
    todo: list[tuple[FileResult, str]] = []
    for result, unique in output_stems(batch):
        rel = folder.child("reports", f"{unique}.md")
        written.append(folder.path(rel))
        key = memo.output_key(result, batch, "md") if memo else ""
        if not folder.fresh(rel, key):
            todo.append((result, folder.target(rel, key)))
    return written, todo


def write_reports(batch: BatchResult, out: Path | OutputFolder, memo=None,
                  jobs: int | None = None) -> list[Path]:
    """Write reports/<code>_<name>.md for every reviewed or error file; returns the paths.

    With a `memo` (the output folder's state), a report whose inputs did not change since the
    last run, and whose file is as it was written, is not rendered again. Many reports are
    rendered in up to `jobs` processes."""
    from perfxl.parallel import parallel_map

    folder = OutputFolder.of(out)
    context = batch_context(batch)  # what a report needs of the batch
    writer = folder.writer()
    written, todo = plan_reports(batch, folder, memo)
    parallel_map(_write_report, [(result, context, writer, rel) for result, rel in todo], jobs)
    folder.collect()
    return written
