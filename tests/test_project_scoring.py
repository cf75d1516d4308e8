"""The project form's scoring and checks (spec §13), on ProjectSheet values built in code.

Every expected number is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

import pytest

from perfxl.findings import CATALOGUE, Severity
from perfxl.model import FieldValue, ProjectRow, ProjectSheet, Submission
from perfxl.review.project import check_project, review_projects, score_project
from perfxl.review.project_score import cap_for, score_row
from perfxl.review.project_values import parse_quantity
from perfxl.spec.project import builtin_project_form

FORM = builtin_project_form("proj-2020")
DEADLINE = dt.date(2021, 6, 20)
SHEET = "项目1"

#: where the stand-in reader found each field (any fixed layout will do)
CELLS = {
    "project_name": "B2", "unit_name": "B3", "unit_code": "E3", "department": "B4", "implementer": "E4",
    "eval_year": "B5", "project_lead": "E5", "phone": "G5", "budget_initial": "B7", "budget_annual": "C7",
    "spent": "D7", "budget_initial_fiscal": "B8", "budget_annual_fiscal": "C8", "spent_fiscal": "D8",
    "exec_weight": "F7", "exec_score": "G7", "exec_reason": "H7", "target_text": "B9", "outcome_text": "B10",
    "score_total": "I40", "grade_self": "I41", "problems_text": "B43", "measures_text": "B44", "filing_date": "B45",
}
COLS = dict(level1="A", level2="B", name="C", direction="D", target="E", unit="F", actual="G", weight="H",
            self_score="I", reason="J")
FIRST_ROW = 13

FIELDS = {
    "project_name": "人才工作专项", "unit_name": "湛江市人才服务中心", "unit_code": "440800001",
    "department": "市委组织部", "implementer": "湛江市人才服务中心", "eval_year": 2020, "project_lead": "张三",
    "phone": "0759-1234567", "budget_initial": D("100.00"), "budget_annual": D("100.00"), "spent": D("100.00"),
    "budget_initial_fiscal": D("100.00"), "budget_annual_fiscal": D("100.00"), "spent_fiscal": D("100.00"),
    "exec_weight": 10, "exec_score": 10, "exec_reason": None, "target_text": "引进高层次人才 3 名",
    "outcome_text": "已引进 3 名", "score_total": 100, "grade_self": "优秀", "problems_text": "无",
    "measures_text": "无", "filing_date": dt.date(2021, 6, 4),
}

#: (一级, 二级, 三级, 指标性质, 年度指标值, 计量单位, 实际完成值, 分值, 自评得分, 偏差原因): full marks, 10 + 50 + 30 + 10
ROWS = [
    ("产出指标", "数量指标", "引进高层次人才", "≥", "3个", "个", "3个", 20, 20, None),
    ("产出指标", "质量指标", "培训合格率", "≥", "≥95%", "%", 0.97, 15, 15, None),
    ("产出指标", "时效指标", "完成时间", "定性", "按期完成", None, "按期完成", 10, 10, None),
    ("产出指标", "成本指标", "人均培训成本", "≤", "≤0.5万元", "万元", "0.48", 5, 5, None),
    ("效益指标", "社会效益指标", "人才留用率", "≥", "90%", "%", "92%", 30, 30, None),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", "≥90%", "%", "95%", 10, 10, None),
]
DROP = object()  # a field the reader did not find


def row(n: int, values: tuple, sheet: str = SHEET) -> ProjectRow:
    r = FIRST_ROW + n
    cells = {key: FieldValue(key, value, value, sheet, f"{COLS[key]}{r}") for key, value in zip(COLS, values, strict=True)}
    return ProjectRow(r, cells)


def changed(rows: list[tuple], i: int, **kw) -> list[tuple]:
    """The rows with row i's columns changed by key (target=…, weight=…)."""
    out = [list(r) for r in rows]
    for key, value in kw.items():
        out[i][list(COLS).index(key)] = value
    return [tuple(r) for r in out]


def make_sheet(rows: list[tuple] = ROWS, sheet: str = SHEET, **fields) -> ProjectSheet:
    values = {**FIELDS, **fields}
    fvs = {k: FieldValue(k, v, v, sheet, CELLS[k]) for k, v in values.items() if v is not DROP}
    return ProjectSheet(sheet, fvs, [row(i, r, sheet) for i, r in enumerate(rows)])


def run(sheet: ProjectSheet, form=FORM):
    result, found = score_project(sheet, form)
    return result, found + check_project(sheet, result, form)


def where(findings, code: str) -> list[tuple[str | None, str | None]]:
    return [(f.sheet, f.cell) for f in findings if f.code == code]


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


# -- a clean project -------------------------------------------------------------------------


def test_a_full_marks_project_scores_100_with_no_findings():
    result, found = run(make_sheet())
    assert found == []
    assert result.execution_rate == 1
    assert result.execution_score == 10
    assert [i.reviewed_score for i in result.indicators] == [20, 15, 10, 5, 30, 10]
    assert result.reviewed_total == D("100.00") and result.reviewed_grade == "优秀"
    assert result.self_total == 100 and result.self_grade == "优秀"
    assert result.capped_by_execution is False
    first = result.indicators[1]
    assert (first.row, first.level1, first.level2, first.name, first.direction) == (14, "产出指标", "质量指标", "培训合格率", "≥")
    assert (first.target_value, first.actual_value) == (D("0.95"), D("0.97"))  # ≥95% against a 97 % cell: a fraction on both sides


# -- rows: each rule and every zero-target case ------------------------------------------------

ROW_CASES = [
    # direction, target, unit, actual, weight, expected (by hand)
    ("≥", "100", None, "80", 10, D("8.00")),  # 10 × 80/100
    ("≥", "3个", "个", "2个", 10, D("6.67")),  # 10 × 2/3 = 6.666…
    ("≥", "≥95%", "%", 0.97, 10, D("10.00")),  # 0.97 / 0.95 > 1: full
    ("≥", "≥95%", "%", "90%", 10, D("9.47")),  # 10 × 0.90/0.95 = 9.4736…
    ("≥", "95%", None, 90, 10, D("9.47")),  # a plain 90 on a percent row is 90 %
    ("≥", 95, "%", 0.9, 10, D("9.47")),  # unit %: 95 is 95 %, 0.9 a percent-formatted cell
    ("≥", "100", None, "150", 10, D("10.00")),  # min(…, 1)
    ("≥", "10", None, "-2", 10, D("0.00")),  # a negative actual: 0, never below
    ("≥", "0", None, "0", 10, D("10.00")),  # target 0: full when 实际 ≥ 0
    ("≥", "0", None, "5", 10, D("10.00")),
    ("≥", "0", None, "-1", 10, D("0.00")),
    ("≤", "≤50万元", "万元", "40", 10, D("10.00")),  # 实际 ≤ 指标: full
    ("≤", "50", None, "50", 10, D("10.00")),
    ("≤", "50", None, "60", 10, D("8.33")),  # 10 × 50/60 = 8.333…
    ("≤", "0", None, "0", 10, D("10.00")),  # target 0: full when 实际 = 0
    ("≤", "0", None, "1", 10, D("0.00")),  # else 0
    ("=", "100%", "%", "100%", 10, D("10.00")),
    ("=", "100", None, "90", 10, D("9.00")),  # 10 × (1 − 10/100)
    ("=", "100", None, "110", 10, D("9.00")),  # 10 × (1 − 10/100)
    ("=", "100", None, "250", 10, D("0.00")),  # max(0, 1 − 150/100)
    ("=", "-10", None, "-12", 10, D("8.00")),  # 10 × (1 − 2/10): |指标|
    ("=", "0", None, "0", 10, D("10.00")),  # target 0: full when 实际 = 0
    ("=", "0", None, "0.5", 10, D("0.00")),  # missed: 0
    ("≥", "8", None, "1", 1, D("0.13")),  # 0.125 half-up (half-even would give 0.12)
    ("≥", "2000", None, "1333", 10, D("6.67")),  # 6.665 half-up
    ("≥", "１００％", None, "９９％", 10, D("9.90")),  # full-width: 10 × 0.99
    (">=", "1,000", None, "500", 10, D("5.00")),  # an alias of ≥ (the form's), thousands separator
]


@pytest.mark.parametrize(("direction", "target", "unit", "actual", "weight", "expected"), ROW_CASES)
def test_row_rules(direction, target, unit, actual, weight, expected):
    rows = changed(ROWS, 0, direction=direction, target=target, unit=unit, actual=actual, weight=weight, self_score=expected)
    result, found = score_project(make_sheet(rows), FORM)
    ind = result.indicators[0]
    assert ind.reviewed_score == expected
    assert ind.applicable is True
    assert found == []


@pytest.mark.parametrize(("score", "expected"), [(4.5, D("4.50")), ("3分", D("3.00")), (0, D("0.00")), (5, D("5.00")),
                                                  (D("4.555"), D("4.56"))])
def test_a_qualitative_row_is_the_units_score(score, expected):
    rows = changed(ROWS, 2, weight=5, self_score=score)
    result, found = score_project(make_sheet(rows), FORM)
    assert result.indicators[2].reviewed_score == expected
    assert not [f for f in found if f.code == "score-out-of-range"]


@pytest.mark.parametrize(("target", "unit", "actual", "values"), [
    ("≥90%", None, 1.2, (D("0.9"), D("1.2"))),  # a 120 % cell against 90 %
    ("≤1.5%", None, 1.2, (D("0.015"), D("0.012"))),  # 1.2 typed against 1.5 %: 1.2 %
    ("95", "%", 0.97, (D("0.95"), D("0.97"))),  # unit %: a typed 95 and a 97 % cell
    ("95", "%", "90", (D("0.95"), D("0.9"))),  # both typed: percentages
    ("95", None, "90", (D(95), D(90))),  # no percent anywhere: as written
])
def test_a_percent_as_a_fraction_on_both_sides(target, unit, actual, values):
    rows = changed(ROWS, 0, direction="≥", target=target, unit=unit, actual=actual)
    result, _ = score_project(make_sheet(rows), FORM)
    assert (result.indicators[0].target_value, result.indicators[0].actual_value) == values


def test_what_the_reader_may_leave_in_a_cell():
    rows = changed(ROWS, 0, direction="正向", weight=D("20"), self_score=D("20.00"))  # an alias of ≥, Decimals
    result, found = run(make_sheet(rows, exec_weight=D("10"), exec_score="10分", score_total=D("100.00")))
    assert found == [] and result.indicators[0].direction == "≥" and result.reviewed_total == 100


def test_score_row_directly_matches_the_formulas():
    assert score_row("≤", D(10), D(50), D(80)) == D(10) * 50 / 80
    assert score_row("=", D(6), D(4), D(5)) == D(6) * (1 - D(1) / 4)
    assert score_row("≥", D(6), D(4), D(3)) == D(6) * D(3) / 4


@pytest.mark.parametrize(("raw", "number", "per"), [
    ("100%", D(100), 100), ("≥95%", D(95), 100), ("3个", D(3), 1), ("≤ 5 万元", D(5), 1), ("0.97", D("0.97"), 1),
    (0.97, D("0.97"), 1), ("不低于90%", D(90), 100), ("大于等于 8 次", D(8), 1), ("5‰", D(5), 1000), ("-3.5%", D("-3.5"), 100),
    ("按期完成", None, 1), ("12月底前完成", None, 1), ("90%-100%", None, 1), (dt.date(2020, 12, 31), None, 1),
    ("95%以上", D(95), 100), ("6个月", D(6), 1), ("6月前", None, 1), ("完成率95%", None, 1), (D("2.5"), D("2.5"), 1),
])
def test_parse_quantity(raw, number, per):
    q = parse_quantity(raw)
    assert (q.number, q.per) == (number, per)


# -- the 预算执行率 score ----------------------------------------------------------------------------


@pytest.mark.parametrize(("budget", "spent", "rate", "score"), [
    ("200", "170.5", D("0.8525"), D("8.53")),  # 10 × 0.8525 = 8.525, half-up
    ("100", "100.01", D("1.0001"), D("10.00")),  # min(rate, 1)
    ("30", "7", D(7) / D(30), D("2.33")),  # 2.333…
])
def test_execution_score(budget, spent, rate, score):
    result, _ = score_project(make_sheet(budget_annual=D(budget), spent=D(spent)), FORM)
    assert result.execution_rate == rate
    assert result.execution_score == score


def test_a_changed_execution_weight_is_weight_changed_and_the_forms_10_is_used():
    rows = changed(ROWS, 0, weight=15, self_score=15)  # 15 + 85 = 100 with the unit's 15 … still 10 is used
    result, found = run(make_sheet(rows, exec_weight=15, spent=D(50), exec_score=D("7.5")))
    assert where(found, "weight-changed") == [(SHEET, "F7")]
    assert result.execution_score == D("5.00")  # 10 × 0.5, not 15 × 0.5
    assert where(found, "score-differs") == [(SHEET, "G7")]  # the unit's 7.5 against 5.00


def test_a_zero_budget_with_no_spending_scores_0_with_a_warning():
    result, found = run(make_sheet(budget_annual=D(0), spent=D(0), exec_score=0))
    assert result.execution_score == 0 and result.execution_rate is None
    assert where(found, "zero-denominator") == [(SHEET, "C7")]
    assert result.reviewed_total == D("90.00") and result.capped_by_execution is False  # no rate, no cap


# -- totals and the execution-rate cap -------------------------------------------------------------


@pytest.mark.parametrize(("spent", "total", "capped", "grade"), [
    ("80", D("98.00"), False, "优秀"),  # exactly 80 %: not below, 8 + 90
    ("79.99", D("89"), True, "良好"),  # 79.99 %: 8.00 + 90 = 98 → 89
    ("70", D("89"), True, "良好"),  # 7 + 90 = 97, < 80 % → 89
    ("69.99", D("79"), True, "中"),  # < 70 % → 79 (the lowest matching cap)
    ("50", D("69"), True, "中"),  # 5 + 90, < 60 % → 69; exactly 50 % is not below 50 %
    ("40", D("59"), True, "差"),  # < 50 % → 59
])
def test_the_cap_by_execution_rate(spent, total, capped, grade):
    result, _ = run(make_sheet(spent=D(spent)))
    assert result.reviewed_total == total
    assert result.capped_by_execution is capped
    assert result.reviewed_grade == grade
    assert result.self_total == 100  # self totals are never capped


def test_a_cap_that_does_not_bite_leaves_capped_false():
    rows = changed(ROWS, 5, actual="0%", self_score=0, reason="满意度调查未开展")
    result, _ = run(make_sheet(rows, spent=D(75)))  # 7.5 + 80 = 87.5 < 89
    assert result.reviewed_total == D("87.50")
    assert result.capped_by_execution is False


def test_cap_for_takes_the_lowest_matching_cap():
    assert cap_for(FORM, D("0.45")) == 59
    assert cap_for(FORM, D("0.8")) is None
    assert cap_for(FORM, None) is None
    three = dataclasses.replace(FORM, caps=((D("0.9"), D(95)), (D("0.6"), D(70))))
    assert cap_for(three, D("0.85")) == 95


def test_the_total_is_the_sum_of_rounded_scores():
    rows = changed(ROWS, 0, actual="2个", self_score=D("13.33"), reason="一名人才延期到岗")  # 20 × 2/3 = 13.333… → 13.33
    rows = changed(rows, 3, actual="0.6", self_score=D("4.17"), reason="物价上涨")  # 5 × 0.5/0.6 = 4.1666… → 4.17
    result, found = run(make_sheet(rows, spent=D("95.555"), exec_score=D("9.56"), score_total=D("87.06"), grade_self="良好"))
    # 9.5555 → 9.56; 9.56 + 13.33 + 15 + 10 + 4.17 + 30 + 10 = 92.06
    assert result.reviewed_total == D("92.06")
    assert [f.code for f in found] == ["total-mismatch"]  # the unit wrote 87.06


# -- values that cannot be scored ------------------------------------------------------------------


def test_a_quantitative_row_without_a_number_is_type_error_and_nulls_only_its_project():
    rows = changed(ROWS, 0, target="按期完成")
    result, found = run(make_sheet(rows))
    assert where(found, "type-error") == [(SHEET, "E13")]
    assert result.indicators[0].applicable is None and result.indicators[0].reviewed_score is None
    assert (result.reviewed_total, result.reviewed_grade, result.capped_by_execution) == (None, None, None)
    assert result.execution_score == 10 and result.indicators[1].reviewed_score == 15  # the rest still scored


def test_both_values_blank_is_one_missing_value_on_both_cells():
    rows = changed(ROWS, 0, target=None, actual="/")
    result, found = run(make_sheet(rows))
    assert [(f.code, f.cells) for f in found] == [("missing-value", ("E13", "G13"))]
    assert result.reviewed_total is None


def test_one_value_blank_is_missing_value_on_that_cell():
    result, found = run(make_sheet(changed(ROWS, 0, actual=None)))
    assert [(f.code, f.cells) for f in found] == [("missing-value", ("G13",))]
    assert result.reviewed_total is None


def test_a_blank_qualitative_row_is_said_but_still_scored():
    result, found = run(make_sheet(changed(ROWS, 2, target=None, actual=None)))
    assert [(f.code, f.cells) for f in found] == [("missing-value", ("E15", "G15"))]
    assert result.reviewed_total == 100


@pytest.mark.parametrize(("score", "code"), [(11, "score-out-of-range"), (-1, "score-out-of-range"), ("好", "score-out-of-range"),
                                             (None, "missing-value")])
def test_a_qualitative_score_out_of_range_nulls_the_projects_total(score, code):
    result, found = run(make_sheet(changed(ROWS, 2, self_score=score)))
    assert where(found, code) == [(SHEET, "I15")]
    assert result.indicators[2].applicable is None
    assert (result.reviewed_total, result.reviewed_grade, result.capped_by_execution) == (None, None, None)


def test_a_quantitative_self_score_out_of_range_is_said_and_the_row_still_scored():
    result, found = run(make_sheet(changed(ROWS, 0, self_score=25), score_total=105))
    assert where(found, "score-out-of-range") == [(SHEET, "I13")]
    assert result.indicators[0].reviewed_score == 20 and result.reviewed_total == 100
    assert where(found, "score-differs") == [(SHEET, "I13")]  # 25 against 20, as the department form says it
    assert "grade-mismatch" not in codes(found)  # 105 → 优秀


@pytest.mark.parametrize(("changes", "code", "cell"), [
    ({"direction": None}, "missing-value", "D13"),
    ({"direction": "大概"}, "type-error", "D13"),
    ({"weight": None}, "missing-value", "H13"),
    ({"weight": "二十"}, "type-error", "H13"),
    ({"weight": -20}, "value-out-of-range", "H13"),
    ({"target": "-3"}, "value-out-of-range", "E13"),
])
def test_a_row_that_cannot_be_scored(changes, code, cell):
    result, found = score_project(make_sheet(changed(ROWS, 0, **changes)), FORM)
    assert where(found, code) == [(SHEET, cell)]
    assert result.indicators[0].applicable is None and result.reviewed_total is None


def test_a_missing_column_is_the_readers_to_say():
    sheet = make_sheet()
    for r in sheet.rows:
        r.cells["target"] = FieldValue("target", sheet=SHEET)  # no 年度指标值 column: the reader said so
    result, found = run(sheet)
    assert found == []
    assert [i.applicable for i in result.indicators] == [None, None, True, None, None, None]  # 定性 needs no number
    assert result.reviewed_total is None


def test_a_blank_or_unknown_level1_is_said_and_does_not_stop_scoring():
    result, found = score_project(make_sheet(changed(ROWS, 0, level1="投入指标")), FORM)
    assert where(found, "type-error") == [(SHEET, "A13")]
    assert result.reviewed_total == 100
    result, found = score_project(make_sheet(changed(ROWS, 1, level1="产出")), FORM)
    assert found == [] and result.indicators[1].level1 == "产出指标"  # 产出 means 产出指标


def test_a_blank_row_self_score_is_missing_value_and_the_row_still_scored():
    result, found = run(make_sheet(changed(ROWS, 0, self_score=None), score_total=80, grade_self="良好"))
    assert [(f.code, f.cells) for f in found] == [("missing-value", ("I13",))]
    assert result.indicators[0].reviewed_score == 20 and result.reviewed_total == 100


def test_a_blank_execution_self_score_is_missing_value():
    result, found = run(make_sheet(exec_score=None, score_total=90))
    assert where(found, "missing-value") == [(SHEET, "G7")]
    assert result.reviewed_total == 100  # the computed score does not need it


# -- checks ----------------------------------------------------------------------------------------


def test_weight_total_fires_when_the_weights_do_not_make_100():
    rows = changed(ROWS, 0, weight=15, self_score=15)  # 10 + 45 + 30 + 10 = 95
    result, found = run(make_sheet(rows, score_total=95))
    wt = [f for f in found if f.code == "weight-total"]
    assert len(wt) == 1 and wt[0].severity is Severity.ERROR
    assert wt[0].cells == ("H13", "H14", "H15", "H16", "H17", "H18")
    assert "95" in wt[0].message and "100" in wt[0].message
    assert where(found, "weight-split") == [(SHEET, "H13")]  # 产出 45 against 50
    assert result.reviewed_total == D("95.00")  # Σ without rescaling


def test_weight_split_fires_per_level_and_not_weight_total():
    rows = changed(ROWS, 0, weight=15, self_score=15)
    rows = changed(rows, 4, weight=35, self_score=35)  # 产出 45, 效益 35, total still 100
    _, found = run(make_sheet(rows))
    assert codes(found) == ["weight-split", "weight-split"]
    split = [f for f in found if f.code == "weight-split"]
    assert [f.severity for f in split] == [Severity.WARNING] * 2
    assert ("45" in split[0].message and "50" in split[0].message) and ("35" in split[1].message and "30" in split[1].message)
    assert [f.cells for f in split] == [("H13", "H14", "H15", "H16"), ("H17",)]


def test_indicator_kinds_fires_without_a_satisfaction_row():
    rows = ROWS[:5]
    _, found = run(make_sheet(rows, score_total=90))
    kinds = [f for f in found if f.code == "indicator-kinds"]
    assert len(kinds) == 1 and "没有满意度指标：" in kinds[0].message
    assert kinds[0].severity is Severity.ERROR
    assert "weight-total" in codes(found)  # 10 + 80


def test_indicator_kinds_fires_on_a_sheet_without_indicators():
    _, found = run(make_sheet([], score_total=10))
    kinds = [f for f in found if f.code == "indicator-kinds"]
    assert len(kinds) == 1 and all(k in kinds[0].message for k in ("产出指标", "效益指标", "满意度指标"))
    assert "weight-total" not in codes(found)


@pytest.mark.parametrize(("reason", "fires"), [(None, True), ("无", True), ("  ", True), ("受疫情影响，一名人才延期到岗", False)])
def test_deviation_unexplained_on_a_row(reason, fires):
    rows = changed(ROWS, 0, actual="2个", self_score=D("13.33"), reason=reason)
    _, found = run(make_sheet(rows, score_total=D("93.33")))
    assert where(found, "deviation-unexplained") == ([(SHEET, "J13")] if fires else [])


def test_deviation_unexplained_not_at_full_marks_nor_on_a_row_that_cannot_be_scored():
    _, found = run(make_sheet(changed(ROWS, 0, actual="4个")))  # over target: full marks
    assert "deviation-unexplained" not in codes(found)
    _, found = run(make_sheet(changed(ROWS, 0, actual="很多")))
    assert "deviation-unexplained" not in codes(found)


def test_deviation_unexplained_on_a_low_qualitative_score():
    _, found = run(make_sheet(changed(ROWS, 2, self_score=8), score_total=98))
    assert where(found, "deviation-unexplained") == [(SHEET, "J15")]


@pytest.mark.parametrize(("spent", "reason", "fires"), [
    ("89.99", None, True), ("89.99", "无", True), ("89.99", "项目延期，资金结转下年", False), ("90", None, False),
])
def test_deviation_unexplained_on_a_low_execution_rate(spent, reason, fires):
    score = D(spent) / 10
    _, found = run(make_sheet(spent=D(spent), exec_score=score, exec_reason=reason, score_total=90 + score))
    assert where(found, "deviation-unexplained") == ([(SHEET, "H7")] if fires else [])


@pytest.mark.parametrize(("direction", "target", "actual", "score", "fires"), [
    ("≥", "100", "130", 20, True),  # exactly 130 %
    ("≥", "100", "129.99", 20, False),
    ("≥", "≥90%", 1.2, 20, True),  # a 120 % cell: 1.2 / 0.9 = 133 %
    ("≥", "0", "5", 20, False),  # no ratio to a target of 0
    ("≤", "100", "130", D("15.38"), False),  # only ≥ rows; 20 × 100/130 = 15.384…
])
def test_target_too_low(direction, target, actual, score, fires):
    rows = changed(ROWS, 0, direction=direction, target=target, unit=None, actual=actual, self_score=score)
    result, found = run(make_sheet(rows, score_total=80 + score))
    assert result.indicators[0].reviewed_score == score
    assert where(found, "target-too-low") == ([(SHEET, "G13")] if fires else [])
    if fires:
        f = next(f for f in found if f.code == "target-too-low")
        assert f.cells == ("G13", "E13") and f.severity is Severity.WARNING
    assert [c for c in codes(found) if c != "deviation-unexplained"] == (["target-too-low"] if fires else [])


@pytest.mark.parametrize(("spent", "fires"), [("100.01", False), ("100.02", True)])
def test_spending_over_budget(spent, fires):
    _, found = run(make_sheet(spent=D(spent)))
    assert where(found, "spending-over-budget") == ([(SHEET, "D7")] if fires else [])
    if fires:
        f = next(f for f in found if f.code == "spending-over-budget")
        assert f.cells == ("D7", "C7") and "100.02" in f.message and "100.00" in f.message


@pytest.mark.parametrize(("self_score", "fires"), [(20, True), (D("6.67"), False), (D("6.665"), False), (D("6.66"), True)])
def test_score_differs_on_a_row(self_score, fires):
    rows = changed(ROWS, 0, actual="1个", self_score=self_score, reason="人才延期到岗")  # 20 × 1/3 = 6.666… → 6.67
    _, found = run(make_sheet(rows, score_total=80 + self_score))
    assert where(found, "score-differs") == ([(SHEET, "I13")] if fires else [])
    assert "total-mismatch" not in codes(found)


def test_score_differs_on_the_execution_row():
    _, found = run(make_sheet(spent=D(95), exec_score=10))  # 10 × 0.95 = 9.50
    f = next(f for f in found if f.code == "score-differs")
    assert f.cells == ("G7",) and "9.5" in f.message and "10" in f.message


def test_total_and_grade_mismatch():
    _, found = run(make_sheet(score_total=99, grade_self="良好"))
    assert where(found, "total-mismatch") == [(SHEET, "I40")]
    g = [f for f in found if f.code == "grade-mismatch"]
    assert [f.cells for f in g] == [("I41", "I40")]  # 99 is 优秀
    _, found = run(make_sheet(score_total=D("100.004")))
    assert "total-mismatch" not in codes(found)  # compared at 0.01


def test_required_and_self_total_blanks():
    _, found = run(make_sheet(project_name=None, score_total=None, grade_self=DROP))
    assert where(found, "missing-value") == [(SHEET, "B2"), (SHEET, "I40"), (SHEET, None)]
    _, found = run(make_sheet(score_total="满分", grade_self="很好"))
    assert where(found, "type-error") == [(SHEET, "I40"), (SHEET, "I41")]


def test_every_new_code_is_in_the_catalogue_with_its_severity():
    expected = {"weight-total": "error", "weight-split": "warning", "deviation-unexplained": "warning",
                "target-too-low": "warning", "indicator-kinds": "error", "spending-over-budget": "error",
                "unit-inconsistent": "error"}
    assert {code: CATALOGUE[code][0].value for code in expected} == expected


# -- the file ----------------------------------------------------------------------------------------


def two_projects(**second) -> Submission:
    first = make_sheet(sheet="项目1")
    other = make_sheet(sheet="项目2", **{"project_name": "基层党建专项", **second})
    return Submission("a.xlsx", fields=first.fields, projects=[first, other])


def test_review_projects_scores_every_sheet_in_order():
    results, found = review_projects(two_projects(spent=D(50), exec_score=5, exec_reason="项目延期", score_total=95),
                                     FORM, DEADLINE)
    assert [r.sheet for r in results] == ["项目1", "项目2"]
    assert [r.project_name for r in results] == ["人才工作专项", "基层党建专项"]
    assert [r.reviewed_total for r in results] == [D("100.00"), D("69")]  # 5 + 90 = 95, < 60 % → 69
    assert found == []


def test_one_projects_null_total_leaves_the_others():
    results, _ = review_projects(two_projects(rows=changed(ROWS, 0, actual="未统计")), FORM, DEADLINE)
    assert [r.reviewed_total for r in results] == [D("100.00"), None]


@pytest.mark.parametrize(("key", "value"), [("unit_code", "440800002"), ("unit_name", "湛江市人才中心")])
def test_unit_code_and_name_the_same_on_every_sheet(key, value):
    _, found = review_projects(two_projects(**{key: value}), FORM, DEADLINE)
    assert where(found, "unit-inconsistent") == [("项目2", CELLS[key])]
    _, found = review_projects(two_projects(**{key: FIELDS[key] + " "}), FORM, DEADLINE)  # a trailing space is the same
    assert found == []


def test_year_mismatch_per_sheet_against_the_batch_year():
    _, found = review_projects(two_projects(eval_year=2019), FORM, DEADLINE)
    assert where(found, "year-mismatch") == [("项目2", "B5")]
    _, found = review_projects(two_projects(), FORM, DEADLINE, year=2021)
    assert where(found, "year-mismatch") == [("项目1", "B5"), ("项目2", "B5")]


@pytest.mark.parametrize(("date", "late"), [(dt.date(2021, 6, 20), False), (dt.date(2021, 6, 22), True)])
def test_late_submission_once_per_file_from_the_latest_date(date, late):
    _, found = review_projects(two_projects(filing_date=date), FORM, DEADLINE)
    assert where(found, "late-submission") == ([("项目2", "B45")] if late else [])
    if late:
        assert "2 天" in next(f for f in found if f.code == "late-submission").message


def test_a_changed_unit_code_against_meta():
    sub = two_projects()
    sub.meta = {"unit_code": "440800009"}
    _, found = review_projects(sub, FORM, DEADLINE)
    assert where(found, "unit-code-changed") == [("项目1", "E3"), ("项目2", "E3")]
