"""Every finding of spec §5 that concerns one file: produced at the right sheet and cell, and
not produced for the good return.

Cells are never hard-coded: `cell_of(name)` finds the template cell of a defined name, and
workbooks are changed with openpyxl the way a unit (or Excel) would change them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from conftest import RUBRIC, codes, good_values

from perfxl.findings import CATALOGUE, Severity
from perfxl.spec.fields import fields

D = Decimal
BASIC, SCORE, META = "基础数据表", "评分表", "_meta"

#: spec §5, copied by hand: the severity of every code that concerns one file
SPEC_SEVERITY = {
    "internal-error": "error",
    "file-unreadable": "error", "file-encrypted": "error", "file-unsafe": "error",
    "not-a-template": "error", "template-mismatch": "error", "meta-missing": "warning",
    "missing-value": "error", "type-error": "error", "value-out-of-range": "error",
    "ambiguous-label": "error", "formula-not-calculated": "error", "formula-in-input": "info",
    "balance-mismatch": "error", "sum-mismatch": "error", "year-mismatch": "error",
    "date-order": "error", "weight-changed": "error", "indicator-missing": "error",
    "score-out-of-range": "error", "total-mismatch": "error", "grade-mismatch": "error",
    "unit-code-changed": "error", "score-differs": "warning", "deduction-unexplained": "warning",
    "full-marks-unexplained": "warning", "full-marks-despite-problems": "warning",
    "unbudgeted-spending": "warning", "late-submission": "warning", "magnitude-suspect": "error",
    "duplicate-submission": "warning", "unknown-unit": "warning", "not-submitted": "warning",
    "ledger-mismatch": "warning", "not-applicable": "info", "score-not-applicable": "info",
    "percent-assumed": "info", "date-from-serial": "info", "name-label-conflict": "info",
    "bureau-adjusted": "info", "not-a-spreadsheet": "info",
}


def test_catalogue_has_every_spec_code_with_its_severity():
    for code, severity in SPEC_SEVERITY.items():
        assert code in CATALOGUE, code
        assert CATALOGUE[code][0] is Severity(severity), code


# -- helpers ---------------------------------------------------------------------------------


@cache
def _names(template: str) -> dict[str, tuple[str, str]]:
    wb = openpyxl.load_workbook(template)
    out = {}
    for name, dn in wb.defined_names.items():
        ((sheet, ref),) = list(dn.destinations)
        out[name] = (sheet, ref.replace("$", ""))
    return out


@pytest.fixture
def cell_of(template_path: Path):
    """cell_of(name) -> (sheet, A1) of a defined name in the template."""
    return lambda name: _names(str(template_path))[name]


def label_cell(ref: str) -> str:
    """The label left of an input cell in column B: B23 -> A23."""
    assert ref.startswith("B")
    return "A" + ref[1:]


def edit(path: Path, change) -> Path:
    """Open with openpyxl, apply `change(wb)`, save in place."""
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def meta_row(ws, key: str) -> int:
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key)


def score_column(ws, header: str) -> int:
    """1-based column of a 评分表 header (found by text, as the reader does)."""
    for row in ws.iter_rows(min_row=1, max_row=10):
        for c in row:
            if c.value == header:
                return c.column
    raise AssertionError(header)


def found(result, code: str) -> list:
    return [f for f in result.findings if f.code == code]


def one(result, code: str):
    got = found(result, code)
    assert len(got) == 1, (code, codes(result))
    f = got[0]
    assert f.severity is Severity(SPEC_SEVERITY[code])
    assert f.message  # a sentence for the clerk
    return f


def at(f, sheet: str, cell: str | None, *others: str) -> None:
    """The finding sits on `sheet`!`cell` (primary) and involves `others` too."""
    assert f.sheet == sheet, (f.code, f.sheet)
    assert f.cell == cell, (f.code, f.cells)
    if f.cells:
        assert f.cells[0] == f.cell
    for o in others:
        assert o in f.cells, (f.code, o, f.cells)


# -- the good return -------------------------------------------------------------------------


def test_the_good_return_has_no_findings(make_return, evaluate):
    res = evaluate(make_return())
    assert codes(res) == []
    assert res.status == "reviewed"
    assert res.unit_code == "T001"


def test_findings_carry_file_and_unit_code(make_return, evaluate):
    res = evaluate(make_return("sub/单位.xlsx", eval_year=2019))
    f = one(res, "year-mismatch")
    assert f.file == "单位.xlsx"
    assert f.unit_code == "T001"


# -- 基础数据表 arithmetic ------------------------------------------------------------------


def test_balance_mismatch_on_carryover_end(make_return, evaluate, cell_of):
    # 2.89 + 2999.76 = 3002.65 vs 2970.12 + 42.53 = 3012.65: 10.00 apart
    res = evaluate(make_return(carryover_end=D("42.53")))
    f = one(res, "balance-mismatch")
    at(f, BASIC, cell_of("carryover_end")[1],
       *(cell_of(k)[1] for k in ("carryover_begin", "income_total", "expense_total")))
    assert "10.00" in f.message
    assert res.status == "error"
    assert res.reviewed_total == D("100.00")  # scoring goes on


def test_balance_within_a_cent_is_fine(make_return, evaluate):
    # 3002.65 vs 2970.12 + 32.54 = 3002.66: 0.01 apart, not > 0.01
    assert "balance-mismatch" not in codes(evaluate(make_return(carryover_end=D("32.54"))))


def test_sum_mismatch_staff_quota_parts(make_return, evaluate, cell_of):
    # 60 + (blank as 0) + 9 = 69 ≠ 70, exact for counts
    res = evaluate(make_return(staff_quota_admin=60))
    f = one(res, "sum-mismatch")
    at(f, BASIC, f.cell, cell_of("staff_quota")[1], cell_of("staff_quota_admin")[1],
       cell_of("staff_quota_service")[1])
    assert "69" in f.message and "70" in f.message


def test_sum_mismatch_not_run_when_no_part_is_filled(make_return, evaluate):
    res = evaluate(make_return(staff_quota_admin=None, staff_quota_inst=None, staff_quota_service=None,
                               expense_basic=None, expense_project=None))
    assert "sum-mismatch" not in codes(res)


def test_sum_mismatch_expense_parts(make_return, evaluate, cell_of):
    # 2100 + 870.00 = 2970.00 vs 2970.12: 0.12 > 0.01
    res = evaluate(make_return(expense_project=D("870.00")))
    f = one(res, "sum-mismatch")
    at(f, BASIC, f.cell, cell_of("expense_total")[1], cell_of("expense_basic")[1], cell_of("expense_project")[1])
    # 2100 + 870.13 = 2970.13: 0.01 apart, within tolerance
    assert "sum-mismatch" not in codes(evaluate(make_return(expense_project=D("870.13"))))


def test_sum_mismatch_fiscal_income_above_total(make_return, evaluate, cell_of):
    # 3000.00 > 2999.76 + 0.01
    res = evaluate(make_return(income_fiscal=D("3000.00")))
    f = one(res, "sum-mismatch")
    at(f, BASIC, f.cell, cell_of("income_fiscal")[1], cell_of("income_total")[1])
    # 2999.77 is not above 2999.76 + 0.01
    assert "sum-mismatch" not in codes(evaluate(make_return(income_fiscal=D("2999.77"))))


def test_sum_mismatch_assets_in_use_above_total(make_return, evaluate, cell_of):
    res = evaluate(make_return(fixed_assets_in_use=D("900")))
    f = one(res, "sum-mismatch")
    at(f, BASIC, f.cell, cell_of("fixed_assets_in_use")[1], cell_of("fixed_assets_total")[1])


def test_year_mismatch(make_return, evaluate, cell_of):
    res = evaluate(make_return(eval_year=2019))
    at(one(res, "year-mismatch"), *cell_of("eval_year"))
    assert "year-mismatch" not in codes(evaluate(make_return(eval_year="2020年度")))


def test_year_option_moves_the_batch_year(make_return, evaluate, cell_of):
    res = evaluate(make_return(), year=2021)
    at(one(res, "year-mismatch"), *cell_of("eval_year"))


def test_date_order(make_return, evaluate, cell_of):
    res = evaluate(make_return(budget_published_date=dt.date(2020, 2, 1)))
    f = one(res, "date-order")
    at(f, BASIC, f.cell, cell_of("budget_published_date")[1], cell_of("budget_approved_date")[1])


def test_late_submission(make_return, evaluate, cell_of):
    res = evaluate(make_return(filing_date=dt.date(2021, 6, 21)))
    f = one(res, "late-submission")
    at(f, *cell_of("filing_date"))
    assert "2021-06-21" in f.message and "2021-06-20" in f.message


def test_magnitude_suspect(make_return, evaluate, cell_of):
    # 2999.76 万元 typed in 元: 29,997,600 > 1,000,000 万元
    res = evaluate(make_return(income_total=D("29997600")))
    f = one(res, "magnitude-suspect")
    at(f, *cell_of("income_total"))
    # an error since v3: the file is returned, and the message says what to do about it
    assert f.severity is Severity.ERROR and res.status == "error"
    assert "29997600.00 万元" in f.message and "疑似以元为单位填报" in f.message
    assert "换算为万元（元数 ÷ 10000）后重新报送" in f.message and "不计入汇总表的合计" in f.message
    # exactly 1,000,000 is not above the limit
    res = evaluate(make_return(income_total=D("1000000")))
    assert "magnitude-suspect" not in codes(res)


# -- required values, types and ranges -------------------------------------------------------

REQUIRED = [k for k, f in fields().items() if f.required]


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_required_value(make_return, evaluate, cell_of, key):
    res = evaluate(make_return(**{key: None}))
    hits = [f for f in found(res, "missing-value") if f.cell == cell_of(key)[1]]
    assert len(hits) == 1, codes(res)
    assert hits[0].sheet == BASIC
    assert fields()[key].label in hits[0].message
    assert res.status == "error"


@pytest.mark.parametrize("name", ["score_total", "grade_self"])
def test_missing_self_total_or_grade(make_return, evaluate, cell_of, name):
    res = evaluate(make_return(**{name: None}))
    at(one(res, "missing-value"), *cell_of(name))


def _remove_row(wb, key: str, cell: str) -> None:
    """Delete a field's row the way a unit might: label gone, value gone, name gone."""
    ws = wb[BASIC]
    ws[label_cell(cell)] = None
    ws[cell] = None
    del wb.defined_names[key]


def test_missing_value_for_an_absent_required_row(make_return, evaluate, cell_of):
    path = make_return()
    edit(path, lambda wb: _remove_row(wb, "staff_actual", cell_of("staff_actual")[1]))
    res = evaluate(path)
    f = one(res, "missing-value")
    assert f.sheet == BASIC
    assert f.cell is None
    assert "未找到“年末在职人数”所在行" in f.message
    assert res.status == "error"


def test_an_absent_optional_row_is_blank(make_return, evaluate, cell_of):
    path = make_return()
    edit(path, lambda wb: _remove_row(wb, "retirees", cell_of("retirees")[1]))
    res = evaluate(path)
    assert codes(res) == []
    assert res.fields["retirees"] is None


@pytest.mark.parametrize(("key", "raw", "quoted"), [
    ("income_total", "3000元", "万元"),
    ("income_total", "三千万", "三千万"),
    ("staff_actual", 63.5, "63.5"),
    ("unit_type", "政府机关", "政府机关"),
    ("eval_year", "去年", "去年"),
    ("filing_date", "2021-02-30", "2021-02-30"),
])
def test_type_error(make_return, evaluate, cell_of, key, raw, quoted):
    res = evaluate(make_return(**{key: raw}))
    f = one(res, "type-error")
    at(f, *cell_of(key))
    assert quoted in f.message
    assert "missing-value" not in codes(res)  # one problem, one finding


def test_type_error_in_self_total(make_return, evaluate, cell_of):
    res = evaluate(make_return(score_total="满分"))
    at(one(res, "type-error"), *cell_of("score_total"))


@pytest.mark.parametrize(("key", "raw"), [
    ("expense_total", -3), ("carryover_begin", "(2.89)"), ("staff_actual", -1), ("satisfaction", 150),
])
def test_value_out_of_range(make_return, evaluate, cell_of, key, raw):
    res = evaluate(make_return(**{key: raw}))
    at(one(res, "value-out-of-range"), *cell_of(key))


def test_percent_assumed(make_return, evaluate, cell_of):
    res = evaluate(make_return(satisfaction=96.5))
    f = one(res, "percent-assumed")
    at(f, *cell_of("satisfaction"))
    assert "96.5" in f.message
    assert res.fields["satisfaction"] == D("0.965")  # 96.5 / 100
    assert res.status == "reviewed"


def test_date_from_serial(make_return, evaluate, cell_of):
    sheet, ref = cell_of("filing_date")

    def as_number(wb):
        wb[sheet][ref] = 44351  # a number, shown as a number: the unit typed the serial
        wb[sheet][ref].number_format = "General"

    path = edit(make_return(), as_number)
    res = evaluate(path)
    f = one(res, "date-from-serial")
    at(f, sheet, ref)
    assert "44351" in f.message
    assert res.fields["filing_date"] == dt.date(2021, 6, 4)  # 1900 system: 44351 = 2021-06-04
    assert res.status == "reviewed"


# -- formulas --------------------------------------------------------------------------------


def test_formula_without_cached_value(make_return, evaluate, cell_of):
    sheet, ref = cell_of("income_total")
    path = edit(make_return(), lambda wb: wb[sheet].__setitem__(ref, "=1000+1999.76"))  # openpyxl caches nothing
    res = evaluate(path)
    f = one(res, "formula-not-calculated")
    at(f, sheet, ref)
    assert "请用 Excel/WPS 打开并保存后再报送" in f.message
    assert "missing-value" not in codes(res)
    assert res.reviewed_total is None  # B1's input is unusable
    assert res.status == "error"


def test_formula_with_cached_value(tmp_path, evaluate):
    path = write_book(tmp_path / "formula.xlsx", good_values(),
                      formulas={"income_total": ("=1000+1999.76", 2999.76)})
    res = evaluate(path)
    f = one(res, "formula-in-input")
    at(f, BASIC, res.cells["income_total"][1])
    assert res.fields["income_total"] == D("2999.76")
    assert res.reviewed_total == D("100.00")
    assert "formula-not-calculated" not in codes(res)


# -- labels and names ------------------------------------------------------------------------


def test_name_label_conflict_the_name_wins(make_return, evaluate, cell_of):
    sheet, ref = cell_of("income_total")

    def move_name(wb):
        ws = wb[sheet]
        ws["F60"] = 2999.76  # where the name now points
        ws[ref] = 1234  # what stands beside the label
        wb.defined_names["income_total"].attr_text = f"'{sheet}'!$F$60"

    res = evaluate(edit(make_return(), move_name))
    f = one(res, "name-label-conflict")
    at(f, sheet, "F60", ref)
    assert res.fields["income_total"] == D("2999.76")
    assert "balance-mismatch" not in codes(res)


def test_no_conflict_when_both_agree(make_return, evaluate, cell_of):
    sheet, _ = cell_of("income_total")

    def move_name(wb):
        wb[sheet]["F60"] = 2999.76
        wb.defined_names["income_total"].attr_text = f"'{sheet}'!$F$60"

    assert codes(evaluate(edit(make_return(), move_name))) == []


def test_ambiguous_label(make_return, evaluate, cell_of):
    """A label found twice is ambiguous only where the label is how the cell is found: with the
    defined names in place the name decides (spec §3), without them the unit must fix it."""
    sheet, ref = cell_of("income_total")
    label_ref = label_cell(ref)

    def duplicate(wb, drop_names=False):
        ws = wb[sheet]
        row = ws.max_row + 2
        ws.cell(row, 1, ws[label_ref].value)
        ws.cell(row, 2, 2999.76)
        duplicate.ref = f"A{row}"
        if drop_names:
            for name in list(wb.defined_names):
                del wb.defined_names[name]

    named = evaluate(edit(make_return("named.xlsx"), duplicate))
    assert "ambiguous-label" not in codes(named)
    assert named.fields["income_total"] == Decimal("2999.76")
    res = evaluate(edit(make_return("unnamed.xlsx"), lambda wb: duplicate(wb, drop_names=True)))
    f = one(res, "ambiguous-label")
    at(f, sheet, f.cell, label_ref, duplicate.ref)
    assert res.status == "error"  # and not not-a-template: the field was found, twice


# -- 评分表 ----------------------------------------------------------------------------------


def test_weight_changed(make_return, evaluate, cell_of):
    sheet, score_ref = cell_of("score_A1")

    def edit_weight(wb):
        ws = wb[sheet]
        row = ws[score_ref].row
        cell = ws.cell(row, score_column(ws, "分值"))
        assert cell.value == 5
        cell.value = 6
        edit_weight.ref = cell.coordinate

    res = evaluate(edit(make_return(), edit_weight))
    f = one(res, "weight-changed")
    at(f, sheet, edit_weight.ref)
    assert "6" in f.message and "5" in f.message
    assert res.reviewed_total == D("100.00")  # the rubric's weights are used


def _clear_code(wb, sheet: str, score_ref: str) -> None:
    ws = wb[sheet]
    ws.cell(ws[score_ref].row, score_column(ws, "指标编码")).value = None


def test_a_row_whose_code_was_cleared_is_still_found_by_its_names(make_return, evaluate, cell_of):
    # defined names come first (spec §3): the row's score and note are still read
    sheet, score_ref = cell_of("score_A2")
    res = evaluate(edit(make_return(score_A2=4, note_A2="差异率略高"), lambda wb: _clear_code(wb, sheet, score_ref)))
    assert "indicator-missing" not in codes(res)
    (a2,) = [i for i in res.indicators if i.code == "A2"]
    assert a2.self_score == 4 and a2.note == "差异率略高"


def test_indicator_missing_when_its_row_is_gone(make_return, evaluate, cell_of):
    sheet, score_ref = cell_of("score_A2")

    def delete_row(wb):
        ws = wb[sheet]
        row = ws[score_ref].row
        for cell in ws[row]:
            if type(cell).__name__ != "MergedCell":
                cell.value = None
        del wb.defined_names["score_A2"]
        del wb.defined_names["note_A2"]

    res = evaluate(edit(make_return(), delete_row))
    f = one(res, "indicator-missing")
    assert f.sheet == SCORE
    assert "A2" in f.message


@pytest.mark.parametrize("raw", [6, -1, "满分"])
def test_score_out_of_range(make_return, evaluate, cell_of, raw):
    # A2 weighs 5
    res = evaluate(make_return(score_A2=raw))
    at(one(res, "score-out-of-range"), *cell_of("score_A2"))


def test_a_blank_self_score_is_missing_value(make_return, evaluate, cell_of):
    # blank is allowed only on 不适用 rows; elsewhere the unit left out a required score (issue 11)
    res = evaluate(make_return(score_A2=None))
    at(one(res, "missing-value"), *cell_of("score_A2"))
    assert "score-out-of-range" not in codes(res)


def test_total_mismatch(make_return, evaluate, cell_of):
    res = evaluate(make_return(score_total=99))
    f = one(res, "total-mismatch")
    at(f, *cell_of("score_total"))
    assert "99" in f.message and "100" in f.message


def test_grade_mismatch(make_return, evaluate, cell_of):
    res = evaluate(make_return(grade_self="良好"))
    at(one(res, "grade-mismatch"), *cell_of("grade_self"))
    # 优 is 优秀 written short: no finding
    assert "grade-mismatch" not in codes(evaluate(make_return(grade_self="优")))


def test_grade_of_the_written_total(make_return, evaluate):
    # written total 89.99 → 良好 (lower bound inclusive, 90 is 优秀); D2 self 9.99
    res = evaluate(make_return(score_D2=9.99, score_total=99.99, grade_self="优秀"))
    assert "grade-mismatch" not in codes(res)
    res = evaluate(make_return(score_D2=0, note_D2="未体现效益", score_total=90, grade_self="优秀"))
    assert "grade-mismatch" not in codes(res)
    res = evaluate(make_return(score_D2=0, note_D2="未体现效益", score_A1=4.99, note_A1="目标不够细化",
                               score_total=89.99, grade_self="优秀"))
    assert "grade-mismatch" in codes(res)


def test_score_differs(make_return, evaluate, cell_of):
    res = evaluate(make_return(score_A3=4, note_A3="编制偏紧", score_total=99))
    f = one(res, "score-differs")
    at(f, *cell_of("score_A3"))


def test_self_score_rounded_before_comparing(make_return, evaluate):
    # D3 reviewed: 4.725 → 4.73; a self score of 4.725 rounds half-up to 4.73 too
    res = evaluate(make_return(satisfaction=0.889, score_D3=4.725, note_D3="满意度88.9%", score_total=99.73))
    assert "score-differs" not in codes(res)
    assert "total-mismatch" not in codes(res)  # 95 + 4.725 = 99.725 → 99.73


def test_deduction_unexplained(make_return, evaluate, cell_of):
    for note in (None, "无", "  ", "无。"):
        res = evaluate(make_return(score_A1=4, note_A1=note, score_total=99))
        f = one(res, "deduction-unexplained")
        at(f, SCORE, f.cell, cell_of("note_A1")[1], cell_of("score_A1")[1])


def test_full_marks_unexplained(make_return, evaluate, cell_of):
    res = evaluate(make_return(note_B4=None))
    f = one(res, "full-marks-unexplained")
    at(f, SCORE, f.cell, cell_of("note_B4")[1])
    # a computed indicator at full marks needs no explanation
    assert "full-marks-unexplained" not in codes(evaluate(make_return(note_A2=None)))


def test_full_marks_despite_problems(make_return, evaluate, cell_of):
    res = evaluate(make_return(text_problems="资产管理不够规范，部分资产未及时入账。"))
    f = one(res, "full-marks-despite-problems")
    at(f, *cell_of("text_problems"))
    # one manual indicator below full marks: no finding
    res = evaluate(make_return(text_problems="资产管理不够规范。", score_B6=4, note_B6="资产入账不及时",
                               score_total=99))
    assert "full-marks-despite-problems" not in codes(res)
    # "无问题" is empty text
    assert "full-marks-despite-problems" not in codes(evaluate(make_return(text_problems="无问题。")))


def test_text_checks_skip_not_applicable_and_cannot_compute_rows(make_return, evaluate, cell_of):
    # D3 不适用 (no satisfaction) with a score but no note; B3 无法计算 (one input blank)
    res = evaluate(make_return(satisfaction=None, score_D3=3, note_D3=None,
                               procurement_actual=None, score_B3=2, note_B3=None, score_total=95))
    about = {c for f in res.findings if f.code in ("deduction-unexplained", "score-differs") for c in f.cells}
    for name in ("score_D3", "note_D3", "score_B3", "note_B3"):
        assert cell_of(name)[1] not in about
    at(one(res, "score-not-applicable"), *cell_of("score_D3"))


def test_not_applicable_and_score_not_applicable(make_return, evaluate, cell_of):
    res = evaluate(make_return(satisfaction=None))
    at(one(res, "not-applicable"), *cell_of("satisfaction"))
    at(one(res, "score-not-applicable"), *cell_of("score_D3"))
    assert res.status == "reviewed"
    # blank or 不适用 on the 不适用 row: no finding at all about it
    for raw in (None, "不适用", "/"):
        res = evaluate(make_return(satisfaction=None, score_D3=raw, score_total=95))
        assert codes(res) == ["not-applicable"], raw


def test_unbudgeted_spending(make_return, evaluate, cell_of):
    res = evaluate(make_return(procurement_budget=D("0"), procurement_actual=D("5")))
    f = one(res, "unbudgeted-spending")
    at(f, BASIC, f.cell, cell_of("procurement_actual")[1], cell_of("procurement_budget")[1])


# -- _meta -----------------------------------------------------------------------------------


def test_meta_missing(make_return, evaluate):
    path = edit(make_return(), lambda wb: wb.remove(wb[META]))
    res = evaluate(path)
    assert codes(res) == ["meta-missing"]
    one(res, "meta-missing")
    assert res.status == "reviewed"  # scored against the batch rubric
    assert res.reviewed_total == D("100.00")


@pytest.mark.parametrize(("key", "value"), [
    ("rubric_hash", "0" * 64), ("rubric_id", "gd-dept-2019"), ("format_version", "2.0"),
])
def test_template_mismatch(make_return, evaluate, key, value):
    rows = {}

    def change(wb):
        ws = wb[META]
        rows["row"] = meta_row(ws, key)
        ws.cell(rows["row"], 2, value)

    res = evaluate(edit(make_return(), change))
    assert res.status == "unreadable"
    f = one(res, "template-mismatch")
    at(f, META, f"B{rows['row']}")  # the _meta cell that differs


def test_a_newer_minor_format_version_is_accepted(make_return, evaluate):
    res = evaluate(edit(make_return(), lambda wb: wb[META].cell(meta_row(wb[META], "format_version"), 2, "1.9")))
    assert codes(res) == []


def test_unit_code_changed(make_return, evaluate, cell_of):
    res = evaluate(edit(make_return(), lambda wb: wb[META].cell(meta_row(wb[META], "unit_code"), 2, "T999")))
    f = one(res, "unit-code-changed")
    at(f, *cell_of("unit_code"))
    assert "T999" in f.message and "T001" in f.message
    assert res.unit_code == "T999"  # the _meta code is used


def test_unit_code_compared_after_folding(make_return, evaluate):
    res = evaluate(edit(make_return(unit_code=" t001 "),
                        lambda wb: wb[META].cell(meta_row(wb[META], "unit_code"), 2, "T001")))
    assert "unit-code-changed" not in codes(res)


def test_not_a_template(tmp_path, evaluate):
    path = tmp_path / "工资表.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "工资"
    ws.append(["姓名", "基本工资", "绩效"])
    ws.append(["张三", 5000, 1200])
    wb.create_sheet("Sheet2")["A1"] = "备注"
    wb.save(path)
    res = evaluate(path)
    assert res.status == "unreadable"
    assert codes(res) == ["not-a-template"]
    one(res, "not-a-template")


def test_not_a_template_when_fewer_than_half_of_the_required_fields(tmp_path, evaluate):
    vals = {k: v for k, v in good_values().items() if k in ("unit_name", "unit_code", "eval_year")}
    res = evaluate(write_book(tmp_path / "few.xlsx", vals))
    assert res.status == "unreadable"
    assert "not-a-template" in codes(res)


# -- a workbook written from scratch (pasted data, xlsxwriter) -------------------------------

SCORE_HEADERS = ("指标编码", "一级指标", "二级指标", "三级指标", "分值", "评分标准", "指标值", "自评得分",
                 "自评说明（扣分原因/佐证材料）")


def write_book(path: Path, vals: dict[str, object], *, formulas: dict[str, tuple[str, float]] | None = None,
               labels: dict[str, str] | None = None, order: list[str] | None = None,
               headers: tuple[str, ...] = SCORE_HEADERS, reverse_scores: bool = False,
               meta: dict[str, str] | None = None) -> Path:
    """A fresh workbook holding `vals` by label (no defined names): 基础数据表 with label/value
    rows in `order`, 评分表 with `headers` (by text, any order), optional `_meta`."""
    formulas = formulas or {}
    labels = labels or {}
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet(BASIC)
    ws.write_string(0, 0, "基础数据")
    ws.write_row(1, 0, ["项目", "填报内容"])
    row = 2
    for key in order or list(fields()):
        if key not in vals and key not in formulas:
            continue
        f = fields()[key]
        ws.write_string(row, 0, labels.get(key, f.display_label))
        value = vals.get(key)
        if key in formulas:
            ws.write_formula(row, 1, formulas[key][0], None, formulas[key][1])
        elif isinstance(value, dt.date):
            ws.write_datetime(row, 1, dt.datetime.combine(value, dt.time()), date_fmt)
        elif isinstance(value, Decimal | int | float):
            ws.write_number(row, 1, float(value))
        elif value is not None:
            ws.write_string(row, 1, str(value))
        row += 1
    sc = wb.add_worksheet(SCORE)
    sc.write_row(0, 0, list(headers))
    col = {h: i for i, h in enumerate(headers)}
    inds = list(RUBRIC.indicators)
    if reverse_scores:
        inds.reverse()
    for r, ind in enumerate(inds, 1):
        cells = {"code": ind.code, "level1": ind.level1, "level2": ind.level2, "name": ind.name,
                 "weight": float(ind.weight), "criteria": ind.criteria,
                 "score": vals.get(f"score_{ind.code}"), "note": vals.get(f"note_{ind.code}")}
        for h, c in col.items():
            role = HEADER_ROLES.get(h)
            v = cells.get(role) if role else None
            if isinstance(v, float | int):
                sc.write_number(r, c, v)
            elif v is not None:
                sc.write_string(r, c, str(v))
    end = len(inds) + 1
    sc.write_string(end, 0, "自评总分")
    sc.write_string(end + 1, 0, "自评等级")
    if vals.get("score_total") is not None:
        sc.write_number(end, 1, float(vals["score_total"]))
    if vals.get("grade_self") is not None:
        sc.write_string(end + 1, 1, str(vals["grade_self"]))
    if meta is not None:
        ms = wb.add_worksheet(META)
        for r, (k, v) in enumerate(meta.items()):
            ms.write_string(r, 0, k)
            ms.write_string(r, 1, v)
        ms.hide()
    wb.close()
    return path


HEADER_ROLES = {
    "指标编码": "code", "编码": "code", "一级指标": "level1", "二级指标": "level2", "三级指标": "name",
    "指标名称": "name", "分值": "weight", "权重": "weight", "评分标准": "criteria", "指标值": None,
    "自评得分": "score", "自评分": "score", "得分": "score", "自评说明（扣分原因/佐证材料）": "note",
    "自评说明": "note", "扣分原因": "note", "说明": "note",
}


def test_written_from_scratch_with_meta_is_clean(tmp_path, evaluate):
    from perfxl import FORMAT_VERSION

    meta = {"format_version": FORMAT_VERSION, "rubric_id": RUBRIC.id, "rubric_hash": RUBRIC.hash, "year": "2020"}
    res = evaluate(write_book(tmp_path / "fresh.xlsx", good_values(), meta=meta))
    assert codes(res) == []
    assert res.reviewed_total == D("100.00")
