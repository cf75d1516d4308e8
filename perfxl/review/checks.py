"""Cross-checks of one scored submission (spec §5). Each check yields Findings."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from perfxl import FORMAT_VERSION
from perfxl.findings import CATALOGUE, Finding, Severity
from perfxl.model import FieldValue, Submission
from perfxl.read import values
from perfxl.read.values import format_money as money
from perfxl.read.values import format_number, round_half_up
from perfxl.review.scoring import Scored
from perfxl.spec.expr import Binary, Condition, parse_condition
from perfxl.spec.expr import Field as ExprField
from perfxl.spec.expr_eval import evaluate_condition, tolerance_for
from perfxl.spec.rubric import Rubric

TOLERANCE = Decimal("0.01")
MAGNITUDE_LIMIT = Decimal(1_000_000)
#: what a unit whose figures look like 元 must do; until then its money stays out of the 合计
YUAN_ADVICE = ("请将基础数据表中的所有金额换算为万元（元数 ÷ 10000）后重新报送；如金额确实无误，"
               "请向财政部门说明。在更正或确认之前，本单位的金额不计入汇总表的合计")


@dataclass(frozen=True)
class Context:
    sub: Submission
    scored: Scored
    rubric: Rubric
    year: int
    deadline: dt.date


def _fv(ctx: Context, key: str) -> FieldValue:
    return ctx.sub.fields.get(key) or FieldValue(key)


def _finding(code: str, message: str, *fvs: FieldValue, **details) -> Finding:
    cells = tuple(fv.cell for fv in fvs if fv.cell)
    sheet = next((fv.sheet for fv in fvs if fv.sheet), None)
    return Finding(code, message, sheet, cells, details=details)


def _usable(*fvs: FieldValue) -> bool:
    return all(fv.value is not None and not fv.error for fv in fvs)


def _label(ctx: Context, key: str) -> str:
    return ctx.rubric.fields[key].label


def template_findings(sub: Submission, rubric: Rubric, forms: Sequence = ()) -> list[Finding]:
    """`_meta` against the form that read the file (`rubric`; `forms` all of the batch's):
    template-mismatch (file not scored) or meta-missing."""
    meta = sub.meta
    if meta is None:
        return [Finding("meta-missing", "工作簿中没有模板标识页（_meta），可能是复制到新工作簿中填报的；"
                        f"已按本批次指标体系 {rubric.id} 读取和评分，请核对各项是否读取正确")]
    problems: list[tuple[str, str]] = []  # (_meta key, what differs)
    if meta.get("rubric_id") != rubric.id:
        ids = "、".join(f.id for f in forms) if len(forms) > 1 else rubric.id
        problems.append(("rubric_id", f"指标体系为 {meta.get('rubric_id') or '空'}，本批次为 {ids}"))
    elif meta.get("rubric_hash") != rubric.hash:
        problems.append(("rubric_hash", "指标体系的分值或评分规则与本批次不同"))
    major = str(meta.get("format_version", "")).split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        problems.append(("format_version", f"模板格式版本为 {meta.get('format_version') or '空'}，"
                                           f"本批次为 {FORMAT_VERSION}"))
    if problems:
        cells = tuple(sub.meta_cells[k] for k, _ in problems if k in sub.meta_cells)
        return [Finding("template-mismatch", "该文件不是用本批次下发的模板填报的：" + "；".join(p for _, p in problems)
                        + "。请使用本次下发的模板重新填报", "_meta", cells)]
    return []


def check_required(ctx: Context) -> Iterator[Finding]:
    for f in ctx.rubric.fields.values():
        fv = _fv(ctx, f.key)
        if not f.required or not fv.blank:
            continue
        if fv.cell is None:
            yield Finding("missing-value", f"{ctx.sub.basic_sheet or '基础数据表'}中未找到“{f.label}”所在行，"
                          "请按模板补上该行并填写", ctx.sub.basic_sheet)
        else:
            yield _finding("missing-value", f"{fv.sheet} {fv.cell}「{f.label}」为必填项，未填写", fv)
    for fv, what in ((ctx.sub.self_total, "自评总分"), (ctx.sub.self_grade, "自评等级")):
        if fv.error:
            continue
        if fv.cell is None:
            yield Finding("missing-value", f"{ctx.sub.score_sheet or '评分表'}中未找到“{what}”所在行",
                          ctx.sub.score_sheet)
        elif values.is_blank(fv.value):
            yield _finding("missing-value", f"{fv.sheet} {fv.cell}「{what}」未填写", fv)
    total, grade = ctx.sub.self_total, ctx.sub.self_grade
    if not total.error and not values.is_blank(total.value) and ctx.scored.self_total is None:
        yield _finding("type-error", f"{total.sheet} {total.cell}「自评总分」“{values.show(total.value)}”不是数字", total)
    if not grade.error and not values.is_blank(grade.value) and ctx.scored.self_grade is None:
        yield _finding("type-error", f"{grade.sheet} {grade.cell}「自评等级」“{values.show(grade.value)}”不是等级，"
                       f"应为：{'、'.join(ctx.rubric.grade_labels)}", grade)


def _builtin_rows() -> tuple:
    from perfxl.spec.form import builtin_form

    return builtin_form("gd-dept-2020").checks


_parsed = lru_cache(maxsize=256)(parse_condition)  # a row's condition, parsed once per process


@lru_cache(maxsize=256)
def _condition(text: str) -> tuple[Condition, tuple[str, ...]]:
    """A row's condition and the field keys it names, once per process."""
    cond = _parsed(text)
    return cond, cond.fields()
_KEY = re.compile(r"[a-z][a-z0-9_]*")  # field keys in a condition's text (functions are upper case)
_PLACE = re.compile(r"\{([^{}]*)\}")


def _text(value: object, kind: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind == "percent":  # a fraction, shown as the template shows it: 96.50%
        return f"{round_half_up(Decimal(value) * 100):.2f}%"  # type: ignore[arg-type]
    return money(value) if kind == "money" else format_number(Decimal(value))  # type: ignore[arg-type]


def check_form_rows(ctx: Context) -> Iterator[Finding]:
    """The form's 校验 rows (spec §12), the built-in's among them (balance-mismatch, sum-mismatch,
    date-order: their codes and messages kept by each row's 消息); a rubric file without rows
    takes the built-in's."""
    rows = ctx.rubric.checks
    if rows is None:  # a rubric file without 校验 rows keeps the built-in's
        rows = _builtin_rows()
    spec = ctx.rubric.fields
    types = {k: f.type for k, f in spec.items()}
    for row in rows:
        cond, keys = _condition(row.condition)
        fvs = {k: _fv(ctx, k) for k in keys}
        if any(k not in spec or fvs[k].error for k in keys):
            continue
        values = {k: fv.value for k, fv in fvs.items()}
        blank = [k for k in keys if values[k] is None]
        if blank:  # runs when every field is filled; with 空白按零 blanks count as 0, but a side all blank
            # (分项都未填写, or the total) or a blank date is not checked, as the built-in's sums are not
            empty_side = any(side.fields() and all(values[k] is None for k in side.fields())
                             for side in (cond.left, cond.right))
            if not row.blank_as_zero or empty_side or any(types[k] == "date" for k in blank):
                continue
            values = {k: Decimal(0) if v is None else v for k, v in values.items()}
        verdict = evaluate_condition(cond, values, ctx.deadline, tolerance_for(cond, types))
        if verdict.holds is not False:
            continue
        primary = row.primary or (cond.left.fields() or keys)[0]
        cells = [fvs[primary], *(fvs[k] for k in keys if k != primary)]
        if any(f.code == row.code and set(f.cells) == {c.cell for c in cells if c.cell} for f in ctx.scored.findings):
            continue  # the scorer said it already (date-order of a DAYS indicator)
        kind = "money" if any(types[k] == "money" for k in keys) else \
            "percent" if all(types[k] == "percent" for k in keys) else ""
        dates = isinstance(verdict.left, dt.date)
        shown = {"left": _text(verdict.left, kind), "right": _text(verdict.right, kind),
                 "diff": f"{abs(verdict.diff)} 天" if dates else _text(abs(verdict.diff), kind),  # type: ignore[arg-type]
                 **{k: _text(v, types[k]) for k, v in values.items()}}
        if row.message:
            message = _PLACE.sub(lambda m, shown=shown: shown.get(m[1], m[0]), row.message)
        else:
            said = [_KEY.sub(lambda m: spec[m[0]].label if m[0] in spec else m[0], str(side))
                    for side in (cond.left, cond.right)]
            message = (f"{row.name or row.code}：{said[0]}为 {shown['left']}，{said[1]}为 {shown['right']}，"
                       f"不满足“{said[0]} {_OPS[cond.op]} {said[1]}”，相差 {shown['diff']}")
            message += f"。{row.advice}" if row.advice else ""
        entry = None if row.code in CATALOGUE else (Severity(row.severity), row.name or row.code)
        sheet = next((c.sheet for c in cells if c.sheet), None)
        yield Finding(row.code, message, sheet, tuple(c.cell for c in cells if c.cell), entry=entry,
                      details=_details(cond, primary, values, verdict, kind))


_OPS = {"=": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}


def _terms(expr) -> list[str] | None:
    """The field keys of a side that is a plain sum (a + b + c), else None."""
    if isinstance(expr, ExprField):
        return [expr.key]
    if isinstance(expr, Binary) and expr.op == "+":
        left, right = _terms(expr.left), _terms(expr.right)
        return None if left is None or right is None else left + right
    return None


def _details(cond, primary: str, values: dict, verdict, kind: str) -> dict:
    """应为/实为 of the feedback's 审核意见: for an equality whose primary cell is a term of a plain
    sum, the value that cell should hold for the sides to agree (the balance's 年末结转和结余, a
    sum's 合计) and the value it holds; for another equality the two sides; none for an inequality
    (no single right value)."""
    if cond.op != "=" or isinstance(verdict.left, dt.date):
        return {}
    for side, own, other in ((cond.left, verdict.left, verdict.right), (cond.right, verdict.right, verdict.left)):
        terms = _terms(side)
        if terms and primary in terms and values.get(primary) is not None:
            value = Decimal(values[primary])
            return {"expected": _text(value + (Decimal(other) - Decimal(own)), kind), "found": _text(value, kind)}
    return {"expected": _text(verdict.right, kind), "found": _text(verdict.left, kind)}


def check_year_and_dates(ctx: Context) -> Iterator[Finding]:
    year = _fv(ctx, "eval_year")
    if _usable(year) and year.value != ctx.year:
        yield _finding("year-mismatch", f"{year.sheet} {year.cell}「评价年度」为 {year.value}，"
                       f"本批次评价年度为 {ctx.year}，请核对是否使用了其他年度的数据", year)
    filing = _fv(ctx, "filing_date")
    if _usable(filing) and filing.value > ctx.deadline:  # type: ignore[operator]
        days = (filing.value - ctx.deadline).days  # type: ignore[operator]
        yield _finding("late-submission", f"{filing.sheet} {filing.cell}「填报日期」{filing.value.isoformat()} "  # type: ignore[union-attr]
                       f"晚于报送截止日 {ctx.deadline.isoformat()}，逾期 {days} 天", filing)
    income = _fv(ctx, "income_total")
    if _usable(income) and income.value > MAGNITUDE_LIMIT:  # type: ignore[operator]
        yield _finding("magnitude-suspect", f"{income.sheet} {income.cell}「本年收入合计」{money(income.value)} 万元"  # type: ignore[arg-type]
                       f"超过 100 亿元，疑似以元为单位填报。{YUAN_ADVICE}", income)


def check_meta_code(ctx: Context) -> Iterator[Finding]:
    meta_code = (ctx.sub.meta or {}).get("unit_code")
    code = _fv(ctx, "unit_code")
    if meta_code and code.value is not None and code.value != values.fold(meta_code).upper():
        yield _finding("unit-code-changed", f"{code.sheet} {code.cell}「单位编码」被改为 {code.value}，"
                       f"下发模板中的编码为 {meta_code}；已按 {meta_code} 处理，请勿修改预填内容", code)


def check_rows(ctx: Context) -> Iterator[Finding]:
    for ind in ctx.rubric.indicators:
        row = ctx.sub.rows.get(ind.code)
        if row is None or row.row is None:
            yield Finding("indicator-missing", f"{ctx.sub.score_sheet or '评分表'}中未找到指标 {ind.code}"
                          f"「{ind.name}」所在行，请按模板恢复该行", ctx.sub.score_sheet)
            continue
        w = row.weight
        applicable = next((r.applicable for r in ctx.scored.indicators if r.code == ind.code), True)
        if w.error or w.cell is None or applicable is False:  # no finding concerns a 不适用 row (spec §4.4)
            continue
        parsed = values.parse_score(w.value)
        if parsed.value != ind.weight:
            shown = values.show(w.value) if w.value is not None else "空"
            yield _finding("weight-changed", f"{w.sheet} {w.cell} 指标 {ind.code}「{ind.name}」的分值为 {shown}，"
                           f"应为 {format_number(ind.weight)}，请勿修改分值", w,
                           expected=format_number(ind.weight), found=shown)


def check_self_scores(ctx: Context) -> Iterator[Finding]:
    sc = ctx.scored
    total_fv, grade_fv = ctx.sub.self_total, ctx.sub.self_grade
    numeric = [r.self_score for r in sc.indicators if r.self_score is not None]
    if sc.self_total is not None:
        s = round_half_up(sum(numeric, Decimal(0)))
        if round_half_up(sc.self_total) != s:
            yield _finding("total-mismatch", f"{total_fv.sheet} {total_fv.cell}「自评总分」为 {format_number(sc.self_total)}，"
                           f"但各指标自评得分合计为 {format_number(s)}", total_fv,
                           expected=format_number(s), found=format_number(sc.self_total))
        expected = ctx.rubric.grade(round_half_up(sc.self_total))
        if sc.self_grade is not None and sc.self_grade != expected:
            yield _finding("grade-mismatch", f"{grade_fv.sheet} {grade_fv.cell}「自评等级」为 {sc.self_grade}，"
                           f"但自评总分 {format_number(sc.self_total)} 对应的等级为 {expected}", grade_fv, total_fv,
                           expected=expected, found=sc.self_grade)


def check_indicators(ctx: Context) -> Iterator[Finding]:
    manual_full = []
    for res in ctx.scored.indicators:
        ind = ctx.rubric.indicator(res.code)
        row = ctx.sub.rows.get(res.code)
        if row is None or row.row is None or res.applicable is not True:
            continue
        fv, note = row.score, row.note
        if (not ind.manual and res.self_score is not None and res.reviewed_score is not None
                and round_half_up(res.self_score) != res.reviewed_score):
            yield _finding("score-differs", f"{fv.sheet} {fv.cell} 指标 {ind.code}「{ind.name}」自评 "
                           f"{format_number(res.self_score)} 分，按填报数据计算应得 "
                           f"{format_number(res.reviewed_score)} 分", fv,
                           expected=format_number(res.reviewed_score), found=format_number(res.self_score))
        if res.self_score is None or fv.error:
            continue
        explained = not values.is_empty_text(res.note)
        note_or_score = note if note.cell else fv
        if res.self_score < ind.weight and not explained:
            yield _finding("deduction-unexplained", f"指标 {ind.code}「{ind.name}」自评 {format_number(res.self_score)} 分"
                           f"（满分 {format_number(ind.weight)}），但未填写扣分原因", note_or_score, fv)
        if ind.manual and res.self_score == ind.weight:
            manual_full.append(fv)
            if not explained:
                yield _finding("full-marks-unexplained", f"指标 {ind.code}「{ind.name}」自评满分，但未填写佐证说明",
                               note_or_score, fv)
    manual = [i for i in ctx.rubric.indicators if i.manual]
    problems = _fv(ctx, "text_problems")
    if manual and len(manual_full) == len(manual) and not values.is_empty_text(problems.value):
        yield _finding("full-marks-despite-problems",
                       f"「存在问题」中写明了问题，但 {len(manual)} 项人工评分指标全部自评满分，请核实自评得分是否客观",
                       problems, *manual_full)


CHECKS: tuple[Callable[[Context], Iterator[Finding]], ...] = (
    check_required, check_meta_code, check_form_rows, check_year_and_dates,
    check_rows, check_self_scores, check_indicators,
)


def run_checks(ctx: Context) -> list[Finding]:
    return [f for check in CHECKS for f in check(ctx)]
