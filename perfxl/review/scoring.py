"""Rubric + Submission -> indicator values, reviewed scores, totals and grade (spec §4).

All arithmetic is Decimal; each indicator score is rounded half-up to 0.01 once; the total is
the sum of rounded scores, rescaled to 100 when some indicators are 不适用.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from perfxl.findings import Finding
from perfxl.model import Adjustment, FieldValue, IndicatorResult, Submission
from perfxl.read import values
from perfxl.read.values import format_money, format_number, round_half_up
from perfxl.spec.expr import parse
from perfxl.spec.expr_eval import evaluate
from perfxl.spec.rubric import Indicator, Rubric

HUNDRED = Decimal(100)
ZERO = Decimal(0)
_parsed = lru_cache(maxsize=256)(parse)  # an indicator's expression, parsed once per process


@dataclass
class Scored:
    indicators: list[IndicatorResult]
    reviewed_total: Decimal | None
    reviewed_grade: str | None
    rescaled: bool
    self_total: Decimal | None
    self_grade: str | None
    findings: list[Finding] = field(default_factory=list)


def _where(fv: FieldValue, label: str) -> str:
    return f"{fv.sheet} {fv.cell}「{label}」" if fv.cell else f"「{label}」"


def _num(v: object) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v)  # type: ignore[arg-type]


def show_value(ind: Indicator, value: Decimal | int | None) -> str:
    """A computed value as printed: rates as percentages with two decimals, days as days."""
    if value is None:
        return "—"
    if not ind.is_rate:
        return f"{value} 天"
    return f"{round_half_up(_num(value) * HUNDRED):.2f}%"


class _Scorer:
    def __init__(self, sub: Submission, rubric: Rubric, deadline: dt.date,
                 adjustments: dict[str, Adjustment]) -> None:
        self.sub, self.rubric, self.deadline = sub, rubric, deadline
        self.adjustments = adjustments
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, fv: FieldValue | None = None, *more: FieldValue,
            **details) -> None:
        cells = tuple(x.cell for x in (fv, *more) if x is not None and x.cell)
        sheet = next((x.sheet for x in (fv, *more) if x is not None and x.sheet), None)
        self.findings.append(Finding(code, message, sheet, cells, details=details))

    def field(self, key: str) -> FieldValue:
        return self.sub.fields.get(key) or FieldValue(key)

    # -- computed indicators -------------------------------------------------------------

    def input_state(self, ind: Indicator) -> str | None:
        """None when every input is usable; else "error", "blank" (all) or "partial"."""
        spec = self.rubric.fields
        inputs = [self.field(k) for k in ind.inputs]
        if any(fv.error or (fv.blank and spec[fv.key].required) for fv in inputs):
            return "error"
        blank = [fv for fv in inputs if fv.blank]
        if not blank:
            return None
        return "blank" if len(blank) == len(inputs) else "partial"

    def compute(self, ind: Indicator) -> IndicatorResult:
        res = IndicatorResult(ind.code)
        state = self.input_state(ind)
        labels = {k: self.rubric.fields[k].label for k in ind.inputs}
        if state == "error":
            return self._cannot(res)
        if state is not None:
            blank = [self.field(k) for k in ind.inputs if self.field(k).blank]
            if ind.blank == "not-applicable" and state == "blank":
                names = "、".join(f"「{labels[fv.key]}」" for fv in blank)
                self.add("not-applicable",
                         f"指标 {ind.code}「{ind.name}」的数据 {names} 均未填写，按不适用处理，"
                         "已剔除该指标并折算为百分制", *blank)
                res.applicable, res.reason = False, "blank"
                return res
            # 零分: the built-in's C1 scores 0 when only its published date is blank (spec §4.1, 未公开);
            # a form's expression does so only when all are blank, else missing-value (spec §12)
            if ind.blank == "zero" and (state == "blank" or ind.value["kind"] != "expr"):  # type: ignore[index]
                res.reason = "blank"
                res.reviewed_score = ZERO
                return res
            filled = [labels[k] for k in ind.inputs if not self.field(k).blank]
            for fv in blank:
                if filled:
                    self.add("missing-value",
                             f"{_where(fv, labels[fv.key])} 未填写，而同一指标 {ind.code}「{ind.name}」的"
                             f"{'、'.join(filled)}已填写，请补填", fv)
                else:  # 空白时 报错 and nothing filled (a form's optional fields)
                    self.add("missing-value", f"{_where(fv, labels[fv.key])} 未填写，指标 {ind.code}「{ind.name}」"
                             "无法计算，请补填", fv)
            return self._cannot(res)
        return self._evaluate(ind, res, labels)

    def _cannot(self, res: IndicatorResult) -> IndicatorResult:
        res.applicable, res.reason = None, "input-error"
        return res

    def _evaluate(self, ind: Indicator, res: IndicatorResult, labels: dict[str, str]) -> IndicatorResult:
        v, kind = ind.value, ind.value["kind"]  # type: ignore[index]
        if kind == "expr":
            return self._expression(ind, res, labels)
        get = lambda k: self.field(k).value  # noqa: E731
        if kind == "days_between":
            start, end = get(v["start"]), get(v["end"])
            days = (end - start).days
            if days < 0:
                s, e = self.field(v["start"]), self.field(v["end"])
                self.add("date-order",
                         f"{_where(e, labels[v['end']])}为 {end.isoformat()}，早于{_where(s, labels[v['start']])}"
                         f" {start.isoformat()}，预算不能在批复前公开，请核对日期", e, s)
                return self._cannot(res)
            res.value = days
            res.reviewed_score = ind.weight if days <= ind.rule["days"] else ZERO
            return res
        if kind == "days_late":
            late = max(0, (get(v["date"]) - self.deadline).days)
            res.value = late
            res.reviewed_score = max(ZERO, ind.weight - _num(ind.rule["per_day"]) * late)
            return res
        if kind == "field":
            rate = _num(get(v["field"]))
        else:
            if kind == "ratio":
                num = sum((_num(get(k)) for k in v["numerator"]), ZERO)
                den = sum((_num(get(k)) for k in v["denominator"]), ZERO)
                num_keys, den_keys = v["numerator"], v["denominator"]
            elif kind == "deviation":
                num = abs(_num(get(v["actual"])) - _num(get(v["base"])))
                den = _num(get(v["base"]))
                num_keys, den_keys = [v["actual"]], [v["base"]]
            else:  # change
                num = _num(get(v["current"])) - _num(get(v["previous"]))
                den = _num(get(v["previous"]))
                num_keys, den_keys = [v["current"]], [v["previous"]]
            if den == 0:
                return self._zero_denominator(ind, res, num, num_keys, den_keys, labels)
            rate = num / den
        res.value = rate
        res.reviewed_score = self._apply(ind, rate)
        return res

    def _expression(self, ind: Indicator, res: IndicatorResult, labels: dict[str, str]) -> IndicatorResult:
        """A §12 expression (every input filled): DAYS < 0 is date-order, 0/0 counts as blank, n/0 scores 0."""
        got = evaluate(_parsed(ind.value["expr"]), {k: self.field(k).value for k in ind.inputs},  # type: ignore[index]
                       self.deadline)
        if got.negative_days:
            for start, end, _ in got.negative_days:
                s, e = self.field(start), self.field(end)
                self.add("date-order",
                         f"{_where(e, labels[end])}为 {e.value.isoformat()}，早于{_where(s, labels[start])}"  # type: ignore[attr-defined]
                         f" {s.value.isoformat()}，指标 {ind.code}「{ind.name}」无法计算，请核对日期", e, s)  # type: ignore[attr-defined]
            return self._cannot(res)
        if got.status in ("zero-over-zero", "zero-denominator"):
            return self._zero_denominator(ind, res, _num(got.numerator), list(ind.inputs), [], labels)
        res.value = got.value  # type: ignore[assignment]
        res.reviewed_score = self._apply(ind, _num(got.value))
        return res

    def _zero_denominator(self, ind: Indicator, res: IndicatorResult, num: Decimal,
                          num_keys: list[str], den_keys: list[str], labels: dict[str, str]) -> IndicatorResult:
        cells = [self.field(k) for k in (*num_keys, *den_keys)]
        if num == 0 and ind.blank == "zero":  # 0/0 counts as blank (spec §12): 零分, no finding
            res.reason, res.reviewed_score = "blank", ZERO
            return res
        if num == 0 and ind.blank == "not-applicable":
            self.add("not-applicable",
                     f"指标 {ind.code}「{ind.name}」的数据均为 0，按不适用处理，已剔除该指标并折算为百分制",
                     *cells)
            res.applicable, res.reason = False, "zero-denominator"
            return res
        figures = "，".join(f"「{labels[k]}」{format_money(_num(self.field(k).value))} 万元"
                           if self.rubric.fields[k].type == "money" else
                           f"「{labels[k]}」{self.field(k).value}" for k in (*num_keys, *den_keys))
        # the built-in's ratios call n/0 under 不适用 unbudgeted-spending; a form names its code with 除零
        code = ind.rule.get("zero_division") or (
            "unbudgeted-spending" if ind.blank == "not-applicable" and ind.value["kind"] != "expr" else "zero-denominator")  # type: ignore[index]
        tail = "无预算而有支出" if code == "unbudgeted-spending" else "分母为 0"
        self.add(code, f"指标 {ind.code}「{ind.name}」：{figures}，{tail}，本项得 0 分",
                 *cells)
        res.reason = "zero-denominator"
        res.reviewed_score = ZERO
        return res

    def _apply(self, ind: Indicator, rate: Decimal) -> Decimal:
        rule, weight = ind.rule, ind.weight
        if rule["kind"] == "bands":  # first match wins; ≤ bands, or ≥ bands (`compare`)
            above = rule.get("compare") == ">="
            for bound, points in rule["bands"]:
                if (rate >= _num(bound)) if above else (rate <= _num(bound)):
                    return _num(points)
            return _num(rule.get("otherwise", 0))
        if rule["kind"] == "proportional":  # 分值 × min(value / 目标, 1), never below 0
            return max(ZERO, weight * min(rate / _num(rule["target"]), Decimal(1)))
        if rule["kind"] == "days_within":  # an expression's day count (spec §12: inclusive)
            return weight if rate <= _num(rule["days"]) else ZERO
        if rule["kind"] == "days_late":
            return max(ZERO, weight - _num(rule["per_day"]) * rate)
        # linear: points on the wrong side of the target, continuous (spec §4.2)
        target = _num(rule["target"])
        gap = target - rate if rule["side"] == "below" else rate - target
        points = max(ZERO, gap) * HUNDRED
        return min(weight, max(ZERO, weight - _num(rule["per_point"]) * points))

    # -- self scores and manual indicators -------------------------------------------------

    def self_score(self, ind: Indicator, res: IndicatorResult) -> None:
        row = self.sub.rows.get(ind.code)
        if row is None or row.row is None:
            return
        fv = row.score
        res.note = values.parse_longtext(row.note.value).value if not row.note.error else None
        if fv.error or fv.cell is None:  # no 自评得分 column: said once by the reader
            fv.error = True
            return
        parsed = values.parse_score(fv.value)
        where = f"{fv.sheet} {fv.cell}「{ind.code} {ind.name}」"
        if res.applicable is False:
            if parsed.value is not None:
                res.self_score = parsed.value  # type: ignore[assignment]
                self.add("score-not-applicable",
                         f"{where}为不适用指标，但填写了得分 {values.show(fv.value)}；该分数不计入核定总分", fv)
            return
        if parsed.problem or parsed.value is None:
            # a blank is a value not given (missing-value), not a value out of range (issue 11)
            code, what = ("missing-value", "未填写") if not parsed.problem else ("score-out-of-range", parsed.problem[1])
            self.add(code, f"{where}的自评得分{what}，应填写 0～{format_number(ind.weight)} 之间的分数", fv)
            fv.error = True
            return
        score: Decimal = parsed.value  # type: ignore[assignment]
        res.self_score = score
        if not ZERO <= score <= ind.weight:
            self.add("score-out-of-range",
                     f"{where}的自评得分 {format_number(score)} 超出 0～{format_number(ind.weight)} 的范围", fv,
                     expected=f"0～{format_number(ind.weight)}", found=format_number(score))
            fv.error = True

    def manual(self, ind: Indicator, res: IndicatorResult) -> None:
        res.manual = True
        adj = self.adjustments.get(ind.code)
        if adj is not None:
            res.reviewed_score, res.adjusted = round_half_up(adj.score), True
            before = format_number(res.self_score) if res.self_score is not None else "无效"
            row = self.sub.rows.get(ind.code)
            self.add("bureau-adjusted",
                     f"指标 {ind.code}「{ind.name}」由财政部门核定为 {format_number(adj.score)} 分"
                     f"（单位自评 {before} 分）：{adj.reason}", row.score if row else None)
            return
        row = self.sub.rows.get(ind.code)
        if res.self_score is None or row is None or row.score.error:
            self._cannot(res)
            return
        res.reviewed_score = res.self_score

    # -- totals ----------------------------------------------------------------------------

    def run(self) -> Scored:
        results: list[IndicatorResult] = []
        for ind in self.rubric.indicators:
            res = IndicatorResult(ind.code) if ind.manual else self.compute(ind)
            self.self_score(ind, res)
            if ind.manual:
                self.manual(ind, res)
            if res.reviewed_score is not None:
                res.reviewed_score = round_half_up(res.reviewed_score)
            results.append(res)
        total, rescaled = self.total(results)
        self_total = values.parse_score(self.sub.self_total.value).value if not self.sub.self_total.error else None
        self_grade = values.parse_grade(self.sub.self_grade.value, self.rubric.grade_labels).value \
            if not self.sub.self_grade.error else None
        return Scored(results, total, self.rubric.grade(total) if total is not None else None,
                      rescaled, self_total, self_grade, self.findings)  # type: ignore[arg-type]

    def total(self, results: list[IndicatorResult]) -> tuple[Decimal | None, bool]:
        if any(r.applicable is None for r in results):
            return None, False
        applicable = [r for r in results if r.applicable]
        total = sum((r.reviewed_score for r in applicable), ZERO)  # type: ignore[misc]
        if len(applicable) == len(results):
            return round_half_up(total), False
        weights = sum((self.rubric.indicator(r.code).weight for r in applicable), ZERO)
        if weights == 0:
            return None, True
        return round_half_up(total / weights * HUNDRED), True


def score(sub: Submission, rubric: Rubric, deadline: dt.date,
          adjustments: dict[str, Adjustment] | None = None) -> Scored:
    """Score one submission against a rubric."""
    return _Scorer(sub, rubric, deadline, adjustments or {}).run()
