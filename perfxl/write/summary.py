"""summary.xlsx: the bureau's overview of a batch (spec §8), written with xlsxwriter.

Unit-provided text is only ever written with `write_string` in a workbook whose options turn
off formula and URL detection, so a unit name like `=HYPERLINK(…)` stays inert text (the cells:
perfxl.write.summary_sheet). A batch with project files (spec §13) also gets 项目汇总 and 项目指标
(perfxl.write.summary_projects); one without them gets the same bytes as before there were any.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from perfxl.findings import CATALOGUE, Finding
from perfxl.model import STATUS_LABELS, STATUS_ORDER, BatchResult, FileResult
from perfxl.pool import check_cancelled
from perfxl.write.folder import Writer
from perfxl.write.kind import form_of, is_project_form
from perfxl.write.printing import set_print
from perfxl.write.summary_projects import PROJECT_SHEETS, project_grade_counts, write_project_sheets
from perfxl.write.summary_sheet import (
    DASH,
    MAX_TEXT,
    OPTIONS,
    TOTAL_LABEL,
    UNGRADED,
    Sheet,
    clean_text,
    formats,
    in_total,
    wrap_columns,
    wrapped_texts,
)
from perfxl.write.text import since_last_text

__all__ = ["DASH", "MAX_TEXT", "TOTAL_LABEL", "UNGRADED", "clean_text", "in_total", "write_summary"]

SHEETS = ("汇总", "指标得分", "问题清单", "未报送", "统计")
#: printed landscape, the wide tables; the others portrait (issue 11)
LANDSCAPE = ("汇总", "指标得分", "问题清单")
#: 汇总's free-text columns wrap at these widths (characters): at their full length the sheet
#: fitted to one A4 page wide printed at a third of its size
SUMMARY_WRAP = {1: 20, 2: 18, 3: 24, 17: 28, 18: 24}
SUMMARY_HEADERS = (
    "单位编码", "单位名称", "主管部门", "文件", "状态", "本年收入合计", "年初结转和结余",
    "本年支出合计", "年末结转和结余", "预算执行率", "自评总分", "核定总分", "自评等级", "核定等级",
    "错误数", "警告数",
)
EXTRA_HEADERS = ("是否退回", "主要问题", "与上次报送相比")
MONEY_KEYS = ("income_total", "carryover_begin", "expense_total", "carryover_end")
LEFT_OUT_LABEL = "未计入合计的文件"
#: 问题 is the code's Chinese name, 规则 the code (for machines); 单位答复 the unit's reply read
#: from its returned feedback copy (spec §8 v3)
FINDING_HEADERS = (
    "单位编码", "单位名称", "文件", "严重程度", "问题", "规则", "工作表", "单元格", "说明", "涉及单元格",
    "单位答复",
)
MESSAGE_COL, REPLY_COL = FINDING_HEADERS.index("说明"), FINDING_HEADERS.index("单位答复")
MISSING_HEADERS = ("单位编码", "单位名称", "主管部门")
NOT_APPLICABLE = "不适用"


def budget_rate(fields: dict[str, object]) -> Decimal | None:
    """B1's 预算执行率: expense_total / (carryover_begin + income_total), None if not computable."""
    exp, begin, income = (fields.get(k) for k in ("expense_total", "carryover_begin",
                                                  "income_total"))
    if not all(isinstance(v, Decimal | int) for v in (exp, begin, income)):
        return None
    base = Decimal(begin) + Decimal(income)  # type: ignore[arg-type]
    return Decimal(exp) / base if base else None  # type: ignore[arg-type]


def _score(value: Decimal | None) -> object:
    return DASH if value is None else value


def _summary_row(r: FileResult, batch: BatchResult) -> list[object]:
    has_fields = r.status in ("reviewed", "error", "duplicate")
    money = [r.fields.get(k) if has_fields else None for k in MONEY_KEYS]
    money = [v if isinstance(v, Decimal | int) else None for v in money]
    rate = budget_rate(r.fields) if has_fields else None
    # a superseded file was not reviewed (spec §6): its scores would be unexplained here
    scores = ([r.self_total if r.self_total is not None else DASH, _score(r.reviewed_total),
               r.self_grade or DASH, r.reviewed_grade or DASH] if r.scored else [None] * 4)
    problems = []
    for f in r.findings:
        if f.severity.value == "error" and f.title not in problems:
            problems.append(f.title)
    returned = ("是" if r.status == "error" else "否") if r.scored else None
    return [r.unit_code, r.unit_name, r.department, r.file, r.status_label, *money, rate, *scores,
            r.errors, r.warnings, returned, "；".join(problems) or None,
            since_last_text(r.since_last, form_of(batch, r).fields)]


def _write_summary_sheet(sh: Sheet, batch: BatchResult) -> None:
    headers = (*SUMMARY_HEADERS, *EXTRA_HEADERS)
    sh.header(0, headers)
    formats = {5: "money", 6: "money", 7: "money", 8: "money", 9: "rate", 10: "score", 11: "score",
               **dict.fromkeys(SUMMARY_WRAP, "wrap")}
    sums = [Decimal(0)] * len(MONEY_KEYS)
    texts: list[dict[int, str]] = []
    for n, r in enumerate(batch.files, start=1):
        row = _summary_row(r, batch)
        for col, value in enumerate(row):
            sh.put(n, col, value, formats.get(col))
        texts.append(wrapped_texts(row, SUMMARY_WRAP))
        if in_total(r):
            sums = [s + (v or 0) for s, v in zip(sums, row[5:9], strict=True)]
    last = len(batch.files) + 1
    sh.ws.merge_range(last, 0, last, 4, TOTAL_LABEL, sh.fmt["total_label"])
    for col, value in enumerate(sums, start=5):
        sh.put(last, col, value, "total_money")
    income, begin, expense, _ = sums
    base = begin + income
    sh.put(last, 9, expense / base if base else None, "total_rate")
    sh.finish(len(batch.files) + 1, len(headers), freeze_cols=2)
    wrap_columns(sh, texts, SUMMARY_WRAP)


def _other_department_forms(batch: BatchResult) -> list:
    """The batch's department forms other than the first that scored files were read by: each
    gets a 指标得分 sheet of its own (its indicators are not the first form's)."""
    used = {r.form for r in batch.files if r.scored and not r.projects}
    return [f for f in batch.others if f.id in used and not is_project_form(f)]


def _scores_sheet_name(form) -> str:
    return f"指标得分（{form.id}）"[:31]  # Excel's limit on a sheet name


def _write_scores_sheet(sh: Sheet, batch: BatchResult, form=None) -> None:
    form = batch.rubric if form is None else form
    codes = [i.code for i in form.indicators]
    headers = ["单位编码", "单位名称"] + [f"{c} {k}" for c in codes for k in ("自评", "核定")]
    headers += ["自评总分", "核定总分"]
    sh.header(0, headers)
    # projects: 项目指标; a file of another department form: that form's own sheet
    rows = [r for r in batch.files if r.scored and not r.projects and batch.form_of(r) is form]
    for n, r in enumerate(rows, start=1):
        sh.put(n, 0, r.unit_code)
        sh.put(n, 1, r.unit_name)
        by_code = {i.code: i for i in r.indicators}
        for k, code in enumerate(codes):
            ind = by_code.get(code)
            na = ind is not None and ind.applicable is False
            self_score = ind.self_score if ind else None
            reviewed = ind.reviewed_score if ind else None
            cells = [self_score if self_score is not None else (NOT_APPLICABLE if na else DASH),
                     NOT_APPLICABLE if na else _score(reviewed)]
            for j, value in enumerate(cells):
                sh.put(n, 2 + 2 * k + j, value, "score")
        for j, total in enumerate((r.self_total, r.reviewed_total)):
            value = _score(total)
            sh.put(n, 2 + 2 * len(codes) + j, value, "score")
    sh.finish(len(rows) + 1, len(headers), freeze_cols=2)


def _finding_row(f: Finding, code: str | None, name: str | None) -> list[object]:
    return [code, name, f.file, f.severity.label, f.title, f.code, f.sheet, f.cell, f.message,
            "、".join(f.cells) or None, f.reply]


def _write_findings_sheet(sh: Sheet, batch: BatchResult) -> None:
    sh.header(0, FINDING_HEADERS)
    rows = [_finding_row(f, r.unit_code, r.unit_name) for r in batch.files for f in r.findings]
    names = {u.get("unit_code"): u.get("unit_name") for u in batch.not_submitted}
    rows += [_finding_row(f, f.unit_code, names.get(f.unit_code)) for f in batch.findings]
    for n, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            sh.put(n, col, value, "wrap" if col in (MESSAGE_COL, REPLY_COL) else None)
    sh.finish(len(rows) + 1, len(FINDING_HEADERS), freeze_cols=2)
    # 说明 and 单位答复 wrap rather than running across the sheet
    sh.ws.set_column(MESSAGE_COL, MESSAGE_COL, 80)
    sh.ws.set_column(REPLY_COL, REPLY_COL, 40)


def _write_missing_sheet(sh: Sheet, batch: BatchResult) -> None:
    sh.header(0, MISSING_HEADERS)
    for n, unit in enumerate(batch.not_submitted, start=1):
        for col, key in enumerate(("unit_code", "unit_name", "department")):
            sh.put(n, col, unit.get(key))
    sh.finish(len(batch.not_submitted) + 1, len(MISSING_HEADERS))


def grade_counts(batch: BatchResult) -> list[tuple[str, int]]:
    """Scored files per reviewed grade, in the rubric's order, then 未定级; a project file's
    grades are its projects' (project_grade_counts)."""
    scored = [r for r in batch.files if r.scored and not r.projects]
    labels = [*batch.rubric.grade_labels, UNGRADED]
    return [(g, sum(1 for r in scored if (r.reviewed_grade or UNGRADED) == g)) for g in labels]


def _write_stats_sheet(sh: Sheet, wb: xlsxwriter.Workbook, batch: BatchResult) -> None:
    projects = dict(project_grade_counts(batch)) if batch.project_files else None
    sh.header(0, ("核定等级", "单位数", "项目数") if projects is not None else ("核定等级", "单位数"))
    grades = grade_counts(batch)
    for n, (label, count) in enumerate(grades, start=1):
        sh.put(n, 0, label)
        sh.put(n, 1, count)
        if projects is not None:
            sh.put(n, 2, projects.get(label, 0))
    row = len(grades) + 2
    sh.header(row, ("状态", "文件数", "计入汇总合计"))
    labels = [r.status_label for r in batch.files]
    for n, label in enumerate(STATUS_ORDER, start=row + 1):
        sh.put(n, 0, label)
        sh.put(n, 1, labels.count(label))
        sh.put(n, 2, "是" if label == STATUS_LABELS["reviewed"] else "否")
    row += len(STATUS_ORDER) + 1
    left_out = [r.status_label for r in batch.files if not in_total(r)]
    sh.put(row, 0, LEFT_OUT_LABEL, "total_label")
    sh.put(row, 1, len(left_out), "total_label")
    sh.put(row, 2, "、".join(f"{label} {left_out.count(label)}" for label in STATUS_ORDER if label in left_out) or None)
    row += 2
    sh.header(row, ("规则", "严重程度", "问题", "次数", "涉及文件数"))
    findings = batch.all_findings
    own = {f.code: (f.severity, f.title) for f in findings if f.code not in CATALOGUE}  # a form's 校验 codes, last
    for code, (severity, title) in [*CATALOGUE.items(), *own.items()]:
        hits = [f for f in findings if f.code == code]
        if hits:
            row += 1
            files = {f.file for f in hits if f.file}
            for col, value in enumerate((code, severity.label, title, len(hits), len(files))):
                sh.put(row, col, value)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"name": "单位数", "categories": ["统计", 1, 0, len(grades), 0],
                      "values": ["统计", 1, 1, len(grades), 1], "data_labels": {"value": True}})
    if projects is not None:
        chart.add_series({"name": "项目数", "categories": ["统计", 1, 0, len(grades), 0],
                          "values": ["统计", 1, 2, len(grades), 2], "data_labels": {"value": True}})
    chart.set_title({"name": "核定等级分布"})
    chart.set_legend({"position": "bottom"} if projects is not None else {"none": True})
    chart.set_y_axis({"min": 0, "major_gridlines": {"visible": True}})
    _chart_page(sh, chart, row, 5)
    sh.finish(row + 1, 5, table=False)


def _chart_page(sh: Sheet, chart, below: int, cols: int) -> None:
    """Put `chart` on a printed page of its own: a page break after the tables (last row
    `below`), then the chart as wide as their `cols` columns, so it prints whole, never split."""
    # xlsxwriter's pixels for a width in characters (7 px a digit, 5 px padding)
    width = sum(int(sh.col_width(c) * 7 + 0.5) + 5 for c in range(cols)) - 8
    height = round(width * 0.62)
    sh.ws.set_h_pagebreaks([below + 2])
    # a blank row under the break: a chart anchored on it would leave its top edge on the page before
    sh.ws.insert_chart(below + 3, 0, chart, {"x_offset": 4})
    chart.set_size({"width": width, "height": height})
    sh.last = (below + 3 + -(-height // 20), max(sh.last[1], cols - 1))  # 20 px a default row


def write_summary(batch: BatchResult, out: Path | Writer, cancelled: Callable[[], bool] | None = None) -> Path:
    """Write summary.xlsx into `out` (a folder, or the output folder's Writer) atomically and
    return its path. `cancelled`: checked between the sheets when written in the background
    (perfxl.pool.InThread); once true, nothing is written."""
    writer = out if isinstance(out, Writer) else Writer(Path(out), managed=False)
    dest = writer.root / "summary.xlsx"
    with writer.path("summary.xlsx") as tmp:
        wb = xlsxwriter.Workbook(str(tmp), OPTIONS)
        # pinned so that the same batch gives the same bytes (spec §6)
        wb.set_properties({"title": f"{batch.year}年度部门整体支出绩效自评汇总", "author": "perfxl",
                           "created": dt.datetime(batch.year + 1, 1, 1)})
        fmt = formats(wb)
        others = _other_department_forms(batch)
        extra = tuple(_scores_sheet_name(f) for f in others)
        names = (*SHEETS[:2], *extra, *(PROJECT_SHEETS if batch.project_files else ()), *SHEETS[2:])
        sheets = {name: Sheet(wb, name, fmt) for name in names}
        _write_summary_sheet(sheets["汇总"], batch)
        check_cancelled(cancelled)
        _write_scores_sheet(sheets["指标得分"], batch)
        for form in others:
            _write_scores_sheet(sheets[_scores_sheet_name(form)], batch, form)
        check_cancelled(cancelled)
        if batch.project_files:
            write_project_sheets(*(sheets[name] for name in PROJECT_SHEETS), batch)
        _write_findings_sheet(sheets["问题清单"], batch)
        _write_missing_sheet(sheets["未报送"], batch)
        _write_stats_sheet(sheets["统计"], wb, batch)
        for name, sh in sheets.items():
            set_print(sh.ws, sh.last, landscape=name in (*LANDSCAPE, *PROJECT_SHEETS, *extra), titles=None if name == "统计" else (0, 0))
        check_cancelled(cancelled)
        wb.close()
    return dest
