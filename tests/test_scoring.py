"""Spec §4.2–4.3 arithmetic through real workbooks: every expected score is computed by hand
in the comment beside it (never copied from a run)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import RUBRIC, codes

from perfxl.model import Adjustment
from perfxl.read.workbook import read_submission
from perfxl.review.scoring import score

DEADLINE = dt.date(2021, 6, 20)
D = Decimal


def ind(result, code: str):
    return next(i for i in result.indicators if i.code == code)


def of(result, code: str) -> list:
    return [f for f in result.findings if f.code == code]


def ledger(income: str, expense: str, begin: str = "0") -> dict[str, object]:
    """A balanced 收支 block: budget = fiscal income = total income; basic expense = total."""
    end = D(begin) + D(income) - D(expense)
    return {"budget_initial": D(income), "income_total": D(income), "income_fiscal": D(income),
            "carryover_begin": D(begin), "expense_total": D(expense), "expense_basic": D(expense),
            "expense_project": None, "carryover_end": end}


def test_the_good_return_is_all_full_marks(make_return, evaluate):
    res = evaluate(make_return())
    for i in res.indicators:
        assert i.reviewed_score == RUBRIC.indicator(i.code).weight, i.code
        assert i.applicable is True
    assert res.reviewed_total == D("100.00")
    assert res.reviewed_grade == "优秀"
    assert res.rescaled is False


# -- linear rules, continuous, rounded half-up once -----------------------------------------


def test_satisfaction_half_up_edge(make_return, evaluate):
    # D3: 0.90 − 0.889 = 0.011 → 1.1 points below; 5 − 0.25 × 1.1 = 5 − 0.275 = 4.725 → 4.73 (half-up)
    res = evaluate(make_return(satisfaction=0.889))
    d3 = ind(res, "D3")
    assert d3.value == D("0.889")
    assert d3.reviewed_score == D("4.73")
    # total: 100 − 5 + 4.73 = 99.73
    assert res.reviewed_total == D("99.73")
    # the unit wrote 5: score-differs on D3's self score cell
    assert [f.code for f in of(res, "score-differs")] == ["score-differs"]


def test_budget_execution_rate_88_percent(make_return, evaluate):
    # B1 = 880 / (0 + 1000) = 0.88: 0.95 − 0.88 = 0.07 → 7 points; 15 − 0.75 × 7 = 15 − 5.25 = 9.75
    res = evaluate(make_return(**ledger("1000", "880"), score_B1=9.75, score_total=94.75))
    b1 = ind(res, "B1")
    assert b1.value == D("0.88")
    assert b1.reviewed_score == D("9.75")
    # 100 − 15 + 9.75 = 94.75 → 优秀
    assert res.reviewed_total == D("94.75")
    assert res.reviewed_grade == "优秀"
    assert "score-differs" not in codes(res)
    assert res.status == "reviewed"


def test_budget_execution_with_carryover_in_the_denominator(make_return, evaluate):
    # B1 = 2970.12 / (2.89 + 2999.76) = 2970.12 / 3002.65 ≈ 0.98917 ≥ 0.95 → 15
    res = evaluate(make_return())
    b1 = ind(res, "B1")
    assert b1.value == D("2970.12") / D("3002.65")
    assert b1.reviewed_score == 15


@pytest.mark.parametrize(
    ("fiscal", "points"),
    [
        ("1050", 5),  # |1050 − 1000| / 1000 = 0.05 ≤ 5% → 5 (bound inclusive)
        ("950", 5),  # |950 − 1000| / 1000 = 0.05 → 5: the deviation is absolute
        ("1050.1", 4),  # 50.1 / 1000 = 0.0501 > 5%, ≤ 10% → 4
        ("1100", 4),  # 0.10 → 4
        ("1200", 3),  # 0.20 → 3
        ("1300", 2),  # 0.30 → 2
        ("1310", 0),  # 0.31 > 30% → 0
    ],
)
def test_budget_deviation_bands(make_return, evaluate, fiscal, points):
    vals = ledger(fiscal, fiscal)
    vals["budget_initial"] = D("1000")
    res = evaluate(make_return(**vals))
    a2 = ind(res, "A2")
    assert a2.value == abs(D(fiscal) - 1000) / 1000
    assert a2.reviewed_score == points


def test_staff_above_quota(make_return, evaluate):
    # A3 = 77 / 70 = 1.10: 10 points above 100%; 5 − 0.5 × 10 = 0 (clamped at 0, never negative)
    res = evaluate(make_return(staff_actual=77))
    a3 = ind(res, "A3")
    assert a3.value == D("1.1")
    assert a3.reviewed_score == 0


def test_staff_slightly_above_quota_is_continuous(make_return, evaluate):
    # A3 = 72 / 70 = 1.0285714…: 2.857142… points; 5 − 0.5 × 2.857142… = 3.571428… → 3.57
    res = evaluate(make_return(staff_actual=72))
    assert ind(res, "A3").reviewed_score == D("3.57")


def test_staff_far_above_quota_clamps_at_zero(make_return, evaluate):
    # A3 = 140 / 70 = 2.0: 100 points; 5 − 50 < 0 → 0
    res = evaluate(make_return(staff_actual=140))
    assert ind(res, "A3").reviewed_score == 0


def test_sangong_change_rate(make_return, evaluate):
    # A4 = (31.5 − 30) / 30 = 0.05: 5 points above 0; 5 − 0.5 × 5 = 2.5
    res = evaluate(make_return(sangong_budget=D("31.5")))
    a4 = ind(res, "A4")
    assert a4.value == D("0.05")
    assert a4.reviewed_score == D("2.50")
    # B2 = 25.10 / 31.5 ≈ 0.797 ≤ 100% → 5
    assert ind(res, "B2").reviewed_score == 5


def test_sangong_falling_is_full_marks(make_return, evaluate):
    # A4 = (28.5 − 30) / 30 = −0.05 ≤ 0 → 5
    res = evaluate(make_return())
    assert ind(res, "A4").value == D("-0.05")
    assert ind(res, "A4").reviewed_score == 5


def test_sangong_spent_above_budget(make_return, evaluate):
    # B2 = 29.925 / 28.5 = 1.05: 5 points above 100%; 5 − 0.5 × 5 = 2.5
    res = evaluate(make_return(sangong_actual=D("29.925")))
    b2 = ind(res, "B2")
    assert b2.value == D("1.05")
    assert b2.reviewed_score == D("2.50")


def test_key_tasks_five_of_six(make_return, evaluate):
    # D1 = 5/6 = 0.8333…: 16.666… points below 100%; 10 − 0.5 × 16.666… = 10 − 8.333… = 1.666… → 1.67
    res = evaluate(make_return(key_tasks_done=5))
    assert ind(res, "D1").reviewed_score == D("1.67")
    # 100 − 10 + 1.67 = 91.67
    assert res.reviewed_total == D("91.67")


def test_thresholds_compare_the_exact_rate(make_return, evaluate):
    # B5 = 816.999 / 860 = 0.949998…, which displays as 95.00% but is below 95%:
    # 0.95 − 0.949998837… = 0.0000011627… → 0.00011627… points; 5 − 0.5 × 0.000116… = 4.99994… → 5.00
    # after rounding, but the rate itself must not be taken as 95%
    res = evaluate(make_return(fixed_assets_in_use=D("816.999")))
    b5 = ind(res, "B5")
    assert b5.value == D("816.999") / D("860")
    assert b5.value < D("0.95")
    assert b5.reviewed_score == D("5.00")
    # one step further below: 800 / 860 = 0.930232…; 1.976744… points; 5 − 0.988372… = 4.011627… → 4.01
    res = evaluate(make_return(fixed_assets_in_use=D("800")))
    assert ind(res, "B5").reviewed_score == D("4.01")


# -- days ------------------------------------------------------------------------------------


def test_published_exactly_20_days_after_approval(make_return, evaluate):
    # 2020-02-18 → 2020-03-09: 11 days to Feb 29 (a leap year) + 9 = 20 ≤ 20 → 5
    res = evaluate(make_return())
    c1 = ind(res, "C1")
    assert c1.value == 20
    assert c1.reviewed_score == 5


def test_published_21_days_after_approval(make_return, evaluate):
    res = evaluate(make_return(budget_published_date=dt.date(2020, 3, 10)))
    c1 = ind(res, "C1")
    assert c1.value == 21
    assert c1.reviewed_score == 0  # > 20 days → 0, no partial credit


def test_not_published_scores_zero_and_stays_applicable(make_return, evaluate):
    res = evaluate(make_return(budget_published_date=None, score_C1=0, note_C1="尚未公开", score_total=95))
    c1 = ind(res, "C1")
    assert c1.reviewed_score == 0
    assert c1.applicable is True
    assert c1.reason == "blank"
    assert res.reviewed_total == D("95.00")  # not rescaled: C1 keeps its weight
    assert res.rescaled is False
    assert "missing-value" not in codes(res)  # the published date is optional
    assert res.status == "reviewed"


def test_published_before_approved_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(budget_published_date=dt.date(2020, 2, 10)))
    c1 = ind(res, "C1")
    assert c1.applicable is None
    assert c1.reason == "input-error"
    assert c1.reviewed_score is None
    assert len(of(res, "date-order")) == 1
    assert res.reviewed_total is None
    assert res.reviewed_grade is None
    assert res.status == "error"


def test_three_days_late(make_return, evaluate):
    # 2021-06-23 is 3 days after 2021-06-20: 5 − 1 × 3 = 2
    res = evaluate(make_return(filing_date=dt.date(2021, 6, 23)))
    c3 = ind(res, "C3")
    assert c3.value == 3
    assert c3.reviewed_score == 2
    assert len(of(res, "late-submission")) == 1


def test_on_the_deadline_is_on_time(make_return, evaluate):
    res = evaluate(make_return(filing_date=dt.date(2021, 6, 20)))
    assert ind(res, "C3").value == 0
    assert ind(res, "C3").reviewed_score == 5
    assert "late-submission" not in codes(res)


def test_very_late_clamps_at_zero(make_return, evaluate):
    res = evaluate(make_return(filing_date=dt.date(2021, 7, 20)))  # 30 days: 5 − 30 < 0 → 0
    assert ind(res, "C3").reviewed_score == 0


def test_deadline_option_moves_c3(make_return, evaluate):
    # with the deadline on 2021-06-01, 2021-06-04 is 3 days late → 2
    res = evaluate(make_return(), deadline=dt.date(2021, 6, 1))
    assert ind(res, "C3").reviewed_score == 2


# -- 不适用 and rescaling -------------------------------------------------------------------

SANGONG_BLANK = {"sangong_budget_prev": None, "sangong_budget": None, "sangong_actual": None,
                 "score_A4": None, "score_B2": None}


def test_no_sangong_makes_a4_and_b2_not_applicable_and_rescales(make_return, evaluate):
    # D1 5/6 → 1.67 (above). Applicable weights: 100 − 5 (A4) − 5 (B2) = 90.
    # Σ = 90 − 10 + 1.67 = 81.67; 81.67 / 90 × 100 = 90.7444… → 90.74 → 优秀
    res = evaluate(make_return(**SANGONG_BLANK, key_tasks_done=5, score_D1=1.67, score_total=81.67,
                               grade_self="良好", note_D1="完成5项"))
    for code in ("A4", "B2"):
        i = ind(res, code)
        assert i.applicable is False
        assert i.reason == "blank"
        assert i.reviewed_score is None
    assert len(of(res, "not-applicable")) == 2
    assert res.rescaled is True
    assert res.reviewed_total == D("90.74")
    assert res.reviewed_grade == "优秀"
    # the unit's own total is never rescaled
    assert res.self_total == D("81.67")
    assert res.self_grade == "良好"
    assert "score-out-of-range" not in codes(res)  # blank scores are allowed on 不适用 rows
    assert res.status == "reviewed"


def test_rescaled_total_rounds_half_up(make_return, evaluate):
    # A4, B2 (no 三公), B3 (no procurement), B5 (no fixed assets) 不适用: applicable weight 80.
    # D2 self 2.02 → Σ = 80 − 10 + 2.02 = 72.02; 72.02 / 80 × 100 = 90.025 → 90.03 (half-up, not 90.02)
    blank = dict(SANGONG_BLANK, procurement_budget=None, procurement_actual=None, fixed_assets_total=None,
                 fixed_assets_in_use=None, score_B3=None, score_B5=None)
    res = evaluate(make_return(**blank, score_D2=2.02, score_total=72.02, grade_self="中"))
    assert [i.code for i in res.indicators if i.applicable is False] == ["A4", "B2", "B3", "B5"]
    assert res.reviewed_total == D("90.03")
    assert res.reviewed_grade == "优秀"
    assert res.self_total == D("72.02")
    assert res.status == "reviewed"


def test_zero_procurement_is_not_applicable(make_return, evaluate):
    # B3 = 0 / 0: 不适用; Σ = 95 of weight 95 → 100
    res = evaluate(make_return(procurement_budget=D("0"), procurement_actual=D("0"), score_B3=None,
                               score_total=95))
    b3 = ind(res, "B3")
    assert b3.applicable is False
    assert b3.reason == "zero-denominator"
    assert len(of(res, "not-applicable")) == 1
    assert res.reviewed_total == D("100.00")
    assert res.rescaled is True


def test_procurement_without_budget_scores_zero(make_return, evaluate):
    res = evaluate(make_return(procurement_budget=D("0"), procurement_actual=D("5"), score_B3=0,
                               note_B3="无采购预算", score_total=95))
    b3 = ind(res, "B3")
    assert b3.reviewed_score == 0
    assert b3.applicable is True
    assert b3.reason == "zero-denominator"
    (found,) = of(res, "unbudgeted-spending")
    assert found.severity.value == "warning"
    assert "5" in found.message and "0" in found.message  # quoting both figures
    assert res.reviewed_total == D("95.00")  # 100 − 5, not rescaled
    assert res.rescaled is False
    assert res.status == "reviewed"


def test_sangong_rising_from_nothing(make_return, evaluate):
    # A4: previous 0, current 10 → unbudgeted-spending, 0
    res = evaluate(make_return(sangong_budget_prev=D("0"), sangong_budget=D("10"), sangong_actual=D("9")))
    assert ind(res, "A4").reviewed_score == 0
    assert len(of(res, "unbudgeted-spending")) == 1


def test_one_of_a_pair_blank_cannot_be_computed(make_return, evaluate, template_path):
    res = evaluate(make_return(procurement_actual=None))
    b3 = ind(res, "B3")
    assert b3.applicable is None
    assert b3.reason == "input-error"
    assert b3.reviewed_score is None
    (found,) = of(res, "missing-value")
    assert found.cell == res.cells["procurement_actual"][1]
    assert res.reviewed_total is None
    assert res.reviewed_grade is None
    assert res.status == "error"


def test_required_input_blank_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(key_tasks_done=None))
    assert ind(res, "D1").applicable is None
    assert res.reviewed_total is None


def test_input_type_error_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(expense_total="2970.12元"))
    assert ind(res, "B1").applicable is None
    assert ind(res, "B1").reason == "input-error"
    assert "type-error" in codes(res)
    assert res.reviewed_total is None


def test_manual_self_score_above_weight_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(score_A1=6, score_total=101))
    a1 = ind(res, "A1")
    assert a1.reviewed_score is None
    assert a1.applicable is None
    assert "score-out-of-range" in codes(res)
    assert res.reviewed_total is None
    assert res.reviewed_grade is None


def test_manual_reviewed_score_is_the_self_score(make_return, evaluate):
    res = evaluate(make_return(score_D2=7.5, note_D2="社会效益有待提升", score_total=97.5))
    assert ind(res, "D2").reviewed_score == D("7.5")
    assert ind(res, "D2").manual is True
    assert res.reviewed_total == D("97.50")  # 100 − 10 + 7.5


def test_self_score_with_fen_suffix(make_return, evaluate):
    res = evaluate(make_return(score_A1="4.5分", note_A1="指标细化不足", score_total=99.5))
    assert ind(res, "A1").self_score == D("4.5")
    assert res.reviewed_total == D("99.50")


# -- the bureau's adjustments ----------------------------------------------------------------


def _submission(path):
    sub, _ = read_submission(path.read_bytes(), "xlsx", RUBRIC, path.name)
    return sub


def test_adjustment_changes_exactly_a1(make_return):
    path = make_return()
    plain = score(_submission(path), RUBRIC, DEADLINE)
    adjusted = score(_submission(path), RUBRIC, DEADLINE,
                     adjustments={"A1": Adjustment(D("3"), "佐证不足")})
    for before, after in zip(plain.indicators, adjusted.indicators, strict=True):
        if before.code == "A1":
            assert after.reviewed_score == D("3.00")
            assert after.adjusted is True
            assert after.self_score == before.self_score == 5  # the unit's claim is kept
        else:
            assert after.reviewed_score == before.reviewed_score, before.code
            assert after.adjusted is False
    assert plain.reviewed_total == D("100.00")
    assert adjusted.reviewed_total == D("98.00")  # 100 − 5 + 3
    (found,) = [f for f in adjusted.findings if f.code == "bureau-adjusted"]
    assert "佐证不足" in found.message
    assert not [f for f in plain.findings if f.code == "bureau-adjusted"]


def test_adjustment_rescues_an_invalid_manual_score(make_return):
    # a self score of 6 on a weight of 5 is 无法计算, but the bureau's own judgement replaces it
    path = make_return(score_A1=6)
    assert score(_submission(path), RUBRIC, DEADLINE).reviewed_total is None
    adjusted = score(_submission(path), RUBRIC, DEADLINE, adjustments={"A1": Adjustment(D("4"), "核定")})
    assert adjusted.reviewed_total == D("99.00")


def test_percent_out_of_range_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(satisfaction=150))
    d3 = ind(res, "D3")
    assert d3.applicable is None
    assert d3.reason == "input-error"
    assert res.reviewed_total is None


def test_percent_assumed_still_scores(make_return, evaluate):
    # 96.5 → 0.965 ≥ 0.90 → 5; the note is info only
    res = evaluate(make_return(satisfaction=96.5))
    assert ind(res, "D3").reviewed_score == 5
    assert res.reviewed_total == D("100.00")


def test_approval_date_blank_cannot_be_computed(make_return, evaluate):
    # the approval date is required: blank is missing-value, C1 无法计算 (not 0 as for 未公开)
    res = evaluate(make_return(budget_approved_date=None))
    assert ind(res, "C1").applicable is None
    assert res.reviewed_total is None


@pytest.mark.parametrize("changes", [
    {"carryover_end": D("42.53")},  # balance
    {"expense_project": D("870.00")},  # sums
    {"score_total": 99},  # totals
    {"grade_self": "良好"},  # grades
    {"eval_year": 2019},  # years
])
def test_other_errors_do_not_stop_scoring(make_return, evaluate, changes):
    res = evaluate(make_return(**changes))
    assert res.status == "error"
    assert res.reviewed_total == D("100.00")
    assert res.reviewed_grade == "优秀"


def test_not_applicable_names_the_blank_cells(make_return, evaluate):
    res = evaluate(make_return(**SANGONG_BLANK))
    cells = {c for f in res.findings if f.code == "not-applicable" for c in f.cells}
    assert cells == {res.cells[k][1] for k in ("sangong_budget_prev", "sangong_budget", "sangong_actual")}


def test_a_bad_self_score_on_a_computed_row_does_not_stop_scoring(make_return, evaluate):
    # only a manual indicator depends on its self score (spec §4.3); A2 is recomputed anyway
    res = evaluate(make_return(score_A2=6, score_total=101))
    assert "score-out-of-range" in codes(res)
    assert ind(res, "A2").reviewed_score == 5
    assert res.reviewed_total == D("100.00")


def test_a_blank_manual_self_score_cannot_be_computed(make_return, evaluate):
    res = evaluate(make_return(score_B4=None, score_total=95))
    assert "missing-value" in codes(res) and "score-out-of-range" not in codes(res)  # blank is not out of range
    assert ind(res, "B4").applicable is None
    assert ind(res, "B4").reviewed_score is None
    assert res.reviewed_total is None
