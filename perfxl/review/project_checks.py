"""Cross-checks of one scored project sheet (spec §13 Checks and the §5 codes per project sheet).

Each check yields Findings. Row findings sit on the row's 自评得分 cell, `deviation-unexplained`
on its 偏差原因 cell and `target-too-low` on its 实际完成值 cell. All weights compared with the form
are the form's; a row's own 分值 is the unit's (the form has none per row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from perfxl.findings import Finding
from perfxl.model import FieldValue, ProjectIndicatorResult, ProjectResult, ProjectRow, ProjectSheet
from perfxl.read import values
from perfxl.read.values import format_money as money
from perfxl.read.values import format_number, round_half_up
from perfxl.review.checks import TOLERANCE
from perfxl.review.project_score import QUALITATIVE, at, column_label, field_label, finding
from perfxl.review.project_values import parse_score_cell, percent_text, shown

HUNDRED = Decimal(100)
#: 执行率 below this needs a written reason (spec §13)
EXPLAIN_BELOW = Decimal("0.9")
#: a ≥ row completed at this multiple of its target had its target set too low (spec §13)
TOO_LOW = Decimal("1.3")


@dataclass(frozen=True)
class ProjectContext:
    sheet: ProjectSheet
    result: ProjectResult
    form: object

    def fv(self, key: str) -> FieldValue:
        return self.sheet.fields.get(key) or FieldValue(key, sheet=self.sheet.sheet)

    def rows(self) -> Iterator[tuple[ProjectRow, ProjectIndicatorResult]]:
        """Each scored indicator with the row it was read from."""
        by_row = {r.row: r for r in self.sheet.rows}
        for ind in self.result.indicators:
            yield by_row[ind.row], ind

    @property
    def name(self) -> str:
        """The project as a message names it: 项目表「项目1」（人才工作专项）."""
        project = self.result.project_name
        return f"项目表「{self.sheet.sheet}」" + (f"（{project}）" if project else "")


def _cell(row: ProjectRow, key: str, sheet: str) -> FieldValue:
    return row.cells.get(key) or FieldValue(key, sheet=sheet)


def check_required(ctx: ProjectContext) -> Iterator[Finding]:
    """A required field, 自评总分 or 自评等级 blank or not found: missing-value; a typed 自评总分 or
    自评等级 that cannot be read: type-error (spec §4.4)."""
    keys = [k for k, f in ctx.form.fields.items() if f.required]
    for key in (*keys, "score_total", "grade_self"):
        fv, label = ctx.fv(key), field_label(ctx.form, key)
        if fv.error or not fv.blank:
            continue
        if fv.cell is None:
            yield Finding("missing-value", f"{ctx.name}中未找到“{label}”，请按模板恢复该项并填写", ctx.sheet.sheet)
        else:
            yield finding("missing-value", f"{at(fv, label)}为必填项，未填写", fv)
    total, grade = ctx.fv("score_total"), ctx.fv("grade_self")
    if not total.error and not values.is_blank(total.value) and ctx.result.self_total is None:
        yield finding("type-error", f"{at(total, '自评总分')}“{shown(total.value)}”不是数字", total)
    if not grade.error and not values.is_blank(grade.value) and ctx.result.self_grade is None:
        yield finding("type-error", f"{at(grade, '自评等级')}“{shown(grade.value)}”不是等级，"
                      f"应为：{'、'.join(ctx.form.grade_labels)}", grade)


def check_execution(ctx: ProjectContext) -> Iterator[Finding]:
    """weight-changed on 预算执行率's 分值, spending-over-budget, score-differs of its 自评得分 and a
    low 执行率 without a reason (deviation-unexplained)."""
    form, res = ctx.form, ctx.result
    w = ctx.fv("exec_weight")
    if w.cell and not w.error and parse_score_cell(w.value).value != form.exec_weight:
        found = shown(w.value) if w.value is not None else "空"
        yield finding("weight-changed", f"{at(w, form.exec_label + '分值')}为 {found}，应为 {format_number(form.exec_weight)}，"
                      f"请勿修改分值；已按 {format_number(form.exec_weight)} 分计算", w,
                      expected=format_number(form.exec_weight), found=found)
    budget, spent = ctx.fv("budget_annual"), ctx.fv("spent")
    if res.budget_annual is not None and res.spent is not None and res.spent > res.budget_annual + TOLERANCE:
        yield finding("spending-over-budget", f"{at(spent, '全年执行数')}{money(res.spent)} 万元大于「全年预算数」"
                      f"{money(res.budget_annual)} 万元，超出 {money(res.spent - res.budget_annual)} 万元；执行数不能超过"
                      "全年预算数，请核对资金数据（预算调整后请填写调整后的全年预算数）", spent, budget,
                      expected=f"≤ {money(res.budget_annual)}", found=money(res.spent))
    score = ctx.fv("exec_score")
    if (res.execution_self_score is not None and res.execution_score is not None
            and round_half_up(res.execution_self_score) != res.execution_score):
        rate = f"执行率 {percent_text(res.execution_rate)}，" if res.execution_rate is not None else ""
        yield finding("score-differs", f"{score.sheet} {score.cell}「{form.exec_label}」自评 {format_number(res.execution_self_score)} 分，"
                      f"按填报数据计算（{rate}{format_number(form.exec_weight)} 分 × 执行率，超过 100% 按 100% 计）"
                      f"应得 {format_number(res.execution_score)} 分", score,
                      expected=format_number(res.execution_score), found=format_number(res.execution_self_score))
    reason = ctx.fv("exec_reason")
    if res.execution_rate is not None and res.execution_rate < EXPLAIN_BELOW and not reason.error \
            and values.is_empty_text(reason.value):
        yield finding("deviation-unexplained", f"{ctx.name}的执行率为 {percent_text(res.execution_rate)}（全年执行数 "
                      f"{money(res.spent)} ÷ 全年预算数 {money(res.budget_annual)}），低于 90%，"  # type: ignore[arg-type]
                      f"但{at(reason, '执行偏差原因')}未填写，请说明执行偏差的原因", reason if reason.cell else spent, spent, budget)


def check_weights(ctx: ProjectContext) -> Iterator[Finding]:
    """weight-total (预算执行率 + Σ分值 = 100) and weight-split (each 一级's Σ分值 as the form's), run
    when every row's 分值 was read; indicator-kinds (产出, 效益 and 满意度 each present)."""
    form, sheet = ctx.form, ctx.sheet.sheet
    pairs = list(ctx.rows())
    present = {ind.level1 for _, ind in pairs}
    missing = [name for name, _ in form.split if name not in present]
    if missing:
        first = [_cell(pairs[0][0], "level1", sheet)] if pairs else []
        kinds = "、".join(name for name, _ in form.split)
        yield finding("indicator-kinds", f"{ctx.name}的绩效指标中没有{'、'.join(missing)}：每个项目须至少设置一项"
                      f"{kinds}，请补充", *first, sheet=sheet, expected=kinds, found="、".join(sorted(p for p in present if p)))
    if not pairs or any(ind.weight is None for _, ind in pairs):
        return
    weights = [_cell(row, "weight", sheet) for row, _ in pairs]
    rows_total = sum((ind.weight for _, ind in pairs), Decimal(0))  # type: ignore[misc]
    total = form.exec_weight + rows_total
    if total != HUNDRED:
        yield finding("weight-total", f"{ctx.name}：{form.exec_label} {format_number(form.exec_weight)} 分 + 各绩效指标分值合计 "
                      f"{format_number(rows_total)} 分 = {format_number(total)} 分，应为 100 分；请调整「分值」列（从 "
                      f"{weights[0].cell} 起）", *weights, expected="100", found=format_number(total))
    for name, expected in form.split:
        mine = [(row, ind) for row, ind in pairs if ind.level1 == name]
        if not mine:  # indicator-kinds said it
            continue
        got = sum((ind.weight for _, ind in mine), Decimal(0))  # type: ignore[misc]
        if got != expected:
            cells = [_cell(row, "weight", sheet) for row, _ in mine]
            listed = "、".join(c.cell or "" for c in cells)
            yield finding("weight-split", f"{ctx.name}的{name}分值合计为 {format_number(got)} 分（{listed}），"
                          f"表单规定为 {format_number(expected)} 分；请按 {_split_text(form)} 分配分值", *cells,
                          expected=format_number(expected), found=format_number(got))


def _split_text(form) -> str:
    parts = [f"{form.exec_label} {format_number(form.exec_weight)}"]
    parts += [f"{name.removesuffix('指标')} {format_number(w)}" for name, w in form.split]
    return "、".join(parts)


def check_rows(ctx: ProjectContext) -> Iterator[Finding]:
    """score-differs, deviation-unexplained and target-too-low of each indicator row."""
    sheet = ctx.sheet.sheet
    for row, ind in ctx.rows():
        score, reason, actual = (_cell(row, k, sheet) for k in ("self_score", "reason", "actual"))
        what = f"指标“{ind.name}”"
        if ind.applicable is not True:  # 无法计算: its own finding says why
            continue
        if (ind.direction != QUALITATIVE and ind.self_score is not None
                and round_half_up(ind.self_score) != ind.reviewed_score):
            yield finding("score-differs", f"{score.sheet} {score.cell} {what}自评 {format_number(ind.self_score)} 分，按"
                          f"{column_label(ctx.form, 'target')} {shown(ind.target)}、{column_label(ctx.form, 'actual')} "
                          f"{shown(ind.actual)}（{ind.direction}）计算应得 {format_number(ind.reviewed_score)} 分", score,  # type: ignore[arg-type]
                          expected=format_number(ind.reviewed_score), found=format_number(ind.self_score))  # type: ignore[arg-type]
        if ind.reviewed_score < ind.weight and not reason.error and values.is_empty_text(ind.reason):  # type: ignore[operator]
            yield finding("deviation-unexplained", f"{what}得 {format_number(ind.reviewed_score)} 分（分值 "  # type: ignore[arg-type]
                          f"{format_number(ind.weight)}），未得满分，但{at(reason, column_label(ctx.form, 'reason'))}"  # type: ignore[arg-type]
                          "未填写，请说明偏差原因和改进措施", reason if reason.cell else score, score)
        if (ind.direction == "≥" and ind.target_value is not None and ind.target_value > 0
                and ind.actual_value >= TOO_LOW * ind.target_value):  # type: ignore[operator]
            ratio = percent_text(ind.actual_value / ind.target_value)  # type: ignore[operator]
            target = _cell(row, "target", sheet)
            yield finding("target-too-low", f"{at(actual, column_label(ctx.form, 'actual'))}{shown(ind.actual)} 为"
                          f"「{column_label(ctx.form, 'target')}」{shown(ind.target)} 的 {ratio}，{what}的完成值达到指标值的 130% 及以上，"
                          "年度指标值可能设置偏低；请在偏差原因中说明，并在以后年度合理设置指标值", actual, target,
                          expected="< 130%", found=ratio)


def check_totals(ctx: ProjectContext) -> Iterator[Finding]:
    """total-mismatch (自评总分 vs Σ every numeric 自评得分, 预算执行率's included) and grade-mismatch
    (自评等级 vs the grade of the written total), as spec §4.4."""
    res = ctx.result
    total_fv, grade_fv = ctx.fv("score_total"), ctx.fv("grade_self")
    if res.self_total is None:
        return
    numeric = [s for s in (res.execution_self_score, *(i.self_score for i in res.indicators)) if s is not None]
    s = round_half_up(sum(numeric, Decimal(0)))
    if round_half_up(res.self_total) != s:
        yield finding("total-mismatch", f"{at(total_fv, '自评总分')}为 {format_number(res.self_total)}，但{ctx.form.exec_label}"
                      f"与各绩效指标的自评得分合计为 {format_number(s)}，请核对", total_fv,
                      expected=format_number(s), found=format_number(res.self_total))
    expected = ctx.form.grade(round_half_up(res.self_total))
    if res.self_grade is not None and res.self_grade != expected:
        yield finding("grade-mismatch", f"{at(grade_fv, '自评等级')}为 {res.self_grade}，但自评总分 "
                      f"{format_number(res.self_total)} 对应的等级为 {expected}", grade_fv, total_fv,
                      expected=expected, found=res.self_grade)


CHECKS: tuple[Callable[[ProjectContext], Iterator[Finding]], ...] = (
    check_required, check_execution, check_weights, check_rows, check_totals,
)


def check_project(sheet: ProjectSheet, result: ProjectResult, form) -> list[Finding]:
    """The cross-checks of one scored project sheet (spec §13), in a stable order."""
    ctx = ProjectContext(sheet, result, form)
    return [f for check in CHECKS for f in check(ctx)]
