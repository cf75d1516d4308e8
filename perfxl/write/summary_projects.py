"""summary.xlsx's project sheets (spec §13), written only when the batch has project files:

- `项目汇总`: one row a project of every scored project file (reviewed or error), in 汇总's file
  order and then sheet order; errors and warnings are those of the project's own sheet. A 合计 row
  sums the money of the reviewed files' projects, its 执行率 that of the sums.
- `项目指标`: one row an indicator row of those projects, in sheet order.

Styled as the department sheets (perfxl.write.summary_sheet): the same header, number formats,
frozen header, filter, widths and print setup (set by perfxl.write.summary).
"""

from __future__ import annotations

from decimal import Decimal

from perfxl.findings import Severity
from perfxl.model import BatchResult, FileResult, ProjectResult
from perfxl.write.project_text import cell_value
from perfxl.write.summary_sheet import DASH, TOTAL_LABEL, UNGRADED, Sheet, in_total, wrap_columns, wrapped_texts
from perfxl.write.text import since_last_text

PROJECT_SHEETS = ("项目汇总", "项目指标")
PROJECT_HEADERS = (
    "单位编码", "单位名称", "项目名称", "全年预算数", "全年执行数", "执行率", "自评总分", "核定总分", "自评等级",
    "核定等级", "错误数", "警告数",
)
#: after the spec's columns: whether the execution-rate cap bit, where the project is, and what
#: changed since the unit's last file holding that 项目名称
PROJECT_EXTRA = ("执行率封顶", "工作表", "文件", "与上次报送相比")
INDICATOR_HEADERS = (
    "单位编码", "单位名称", "项目名称", "一级指标", "二级指标", "三级指标", "指标性质", "年度指标值", "实际完成值",
    "分值", "自评得分", "核定得分",
)
INDICATOR_EXTRA = ("计量单位", "偏差原因分析及改进措施", "工作表", "行号")
#: free-text columns wrap at these widths (characters), as 汇总's do
PROJECT_WRAP = {1: 20, 2: 24, 14: 24, 15: 28}
INDICATOR_WRAP = {1: 20, 2: 24, 5: 24, 7: 16, 8: 16, 13: 36}
CAPPED = {True: "是", False: "否", None: DASH}


def projects_of(batch: BatchResult) -> list[tuple[FileResult, ProjectResult]]:
    """Every project of the batch's scored project files, in file order, then sheet order."""
    return [(r, p) for r in batch.project_files for p in r.projects]


def project_grade_counts(batch: BatchResult) -> list[tuple[str, int]]:
    """Projects per reviewed grade, in the grade order of the files' forms, then 未定级."""
    labels: list[str] = []
    for r in batch.project_files:
        labels += [g for g in batch.form_of(r).grade_labels if g not in labels]
    grades = [p.reviewed_grade if p.reviewed_grade in labels else UNGRADED for _, p in projects_of(batch)]
    return [(g, grades.count(g)) for g in (*labels, UNGRADED)]


def _or_dash(value: object) -> object:
    return DASH if value is None else value


def _project_row(r: FileResult, p: ProjectResult, batch: BatchResult) -> list[object]:
    return [r.unit_code, r.unit_name, p.project_name, p.budget_annual, p.spent, p.execution_rate,
            _or_dash(p.self_total), _or_dash(p.reviewed_total), p.self_grade or DASH, p.reviewed_grade or DASH,
            p.count(r.findings, Severity.ERROR), p.count(r.findings, Severity.WARNING),
            CAPPED[p.capped_by_execution], p.sheet, r.file, since_last_text(p.since_last, batch.form_of(r).fields)]


def write_projects_sheet(sh: Sheet, batch: BatchResult) -> None:
    """项目汇总 with its 合计 row (reviewed files' projects only)."""
    headers = (*PROJECT_HEADERS, *PROJECT_EXTRA)
    sh.header(0, headers)
    formats = {3: "money", 4: "money", 5: "rate", 6: "score", 7: "score", **dict.fromkeys(PROJECT_WRAP, "wrap")}
    budget = spent = Decimal(0)
    rows = projects_of(batch)
    texts = []
    for n, (r, p) in enumerate(rows, start=1):
        row = _project_row(r, p, batch)
        for col, value in enumerate(row):
            sh.put(n, col, value, formats.get(col))
        texts.append(wrapped_texts(row, PROJECT_WRAP))
        if in_total(r):
            budget += p.budget_annual or 0
            spent += p.spent or 0
    last = len(rows) + 1
    sh.ws.merge_range(last, 0, last, 2, TOTAL_LABEL, sh.fmt["total_label"])
    sh.put(last, 3, budget, "total_money")
    sh.put(last, 4, spent, "total_money")
    sh.put(last, 5, spent / budget if budget else None, "total_rate")
    sh.finish(len(rows) + 1, len(headers), freeze_cols=3)
    wrap_columns(sh, texts, PROJECT_WRAP)


def _indicator_rows(batch: BatchResult) -> list[list[tuple[object, str | None]]]:
    out = []
    for r, p in projects_of(batch):
        for ind in p.indicators:
            out.append([(r.unit_code, None), (r.unit_name, "wrap"), (p.project_name, "wrap"), (ind.level1, None),
                        (ind.level2, None), (ind.name, "wrap"), (ind.direction, "center"),
                        cell_value(ind, "target"), cell_value(ind, "actual"), (_or_dash(ind.weight), "score"),
                        (_or_dash(ind.self_score), "score"), (_or_dash(ind.reviewed_score), "score"),
                        (ind.unit, None), (ind.reason, "wrap"), (p.sheet, None), (ind.row, None)])
    return out


def write_indicators_sheet(sh: Sheet, batch: BatchResult) -> None:
    """项目指标: one row an indicator row; 年度指标值 and 实际完成值 as written (a number on a percent
    row as the percentage scored)."""
    headers = (*INDICATOR_HEADERS, *INDICATOR_EXTRA)
    sh.header(0, headers)
    rows = _indicator_rows(batch)
    texts = []
    for n, row in enumerate(rows, start=1):
        for col, (value, fmt) in enumerate(row):
            sh.put(n, col, value, fmt or ("wrap" if col in INDICATOR_WRAP else None))
        texts.append(wrapped_texts([v for v, _ in row], INDICATOR_WRAP))
    sh.finish(len(rows) + 1, len(headers), freeze_cols=3)
    wrap_columns(sh, texts, INDICATOR_WRAP)


def write_project_sheets(projects: Sheet, indicators: Sheet, batch: BatchResult) -> None:
    write_projects_sheet(projects, batch)
    write_indicators_sheet(indicators, batch)
