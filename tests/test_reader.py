"""The reader (spec §3): cells found by name, else by label, whatever the unit did to the sheet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC, codes, good_values
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.worksheet.cell_range import CellRange
from test_checks import BASIC, META, SCORE, edit, write_book

from perfxl.model import BASIC_SHEET, SCORE_SHEET
from perfxl.read.values import label_key
from perfxl.read.workbook import read_submission
from perfxl.spec.fields import fields

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures"


def expected_fields() -> dict[str, object]:
    """The normalised values of good_values(), as the reader should give them back."""
    out: dict[str, object] = {}
    for key, f in fields().items():
        v = good_values().get(key)
        if v is None or v == "无":  # "无" is a blank token (spec §3), also in long texts
            out[key] = None
        elif f.type in ("money", "percent"):
            out[key] = D(str(v))
        else:
            out[key] = v
    return out


def assert_reads_the_good_return(res) -> None:
    for key, value in expected_fields().items():
        assert res.fields[key] == value, key
    for i in res.indicators:
        assert i.self_score == RUBRIC.indicator(i.code).weight, i.code
        assert i.note and i.note.endswith("佐证材料齐全。"), i.code
    assert res.self_total == 100
    assert res.self_grade == "优秀"
    assert res.reviewed_total == D("100.00")


def _names(path: Path) -> dict[str, tuple[str, str]]:
    wb = openpyxl.load_workbook(path)
    out = {}
    for name, dn in wb.defined_names.items():
        ((sheet, ref),) = list(dn.destinations)
        out[name] = (sheet, ref.replace("$", ""))
    return out


def test_the_good_return_reads_back_every_value(make_return, evaluate):
    res = evaluate(make_return())
    assert_reads_the_good_return(res)
    assert codes(res) == []


def test_cells_are_where_the_names_point(make_return, evaluate, template_path):
    res = evaluate(make_return())
    names = _names(template_path)
    for key in fields():
        assert res.cells[key] == names[key], key


# -- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key"), [
    ("*本年收入合计（万元）", "本年收入合计"),
    ("其中：财政拨款收入（万元）", "财政拨款收入"),
    ("  编制总数 （人）：", "编制总数"),
    ("服务对象满意度（%）", "服务对象满意度"),
    ("年度计划重点工作数（项）", "年度计划重点工作数"),
    ("单位名称：", "单位名称"),
    ("上年“三公”经费预算数（万元）", label_key("上年“三公”经费预算数")),
])
def test_label_normalisation(text, key):
    assert label_key(text) == key


# -- a unit inserted rows --------------------------------------------------------------------


def insert_rows(wb, sheet: str, idx: int, n: int) -> None:
    """openpyxl's insert_rows, then what Excel does besides: merged ranges and defined names
    below the insertion move down by n."""
    ws = wb[sheet]
    merged = [CellRange(r.coord) for r in ws.merged_cells.ranges]
    for rng in merged:
        ws.unmerge_cells(rng.coord)
    ws.insert_rows(idx, n)
    for rng in merged:
        if rng.min_row >= idx:
            rng.shift(row_shift=n)
        ws.merge_cells(rng.coord)
    for dn in wb.defined_names.values():
        ((s, ref),) = list(dn.destinations)
        col, row = coordinate_from_string(ref.replace("$", ""))
        if s == sheet and row >= idx:
            dn.attr_text = f"'{s}'!${col}${row + n}"


def test_rows_inserted_in_the_basic_sheet(make_return, evaluate, template_path):
    names = _names(template_path)
    first_money = int(names["budget_initial"][1][1:])

    def change(wb):
        insert_rows(wb, BASIC, first_money, 3)
        wb[BASIC].cell(first_money, 1, "（以下为收支情况，本单位自行加的说明行）")

    res = evaluate(edit(make_return(), change))
    assert_reads_the_good_return(res)
    assert codes(res) == []
    # fields below the insertion are now 3 rows further down; those above did not move
    assert res.cells["budget_initial"] == (BASIC, f"B{first_money + 3}")
    assert res.cells["text_other"] == (BASIC, f"B{int(names['text_other'][1][1:]) + 3}")
    assert res.cells["unit_name"] == names["unit_name"]


def test_rows_inserted_without_names_moving_the_name_wins(make_return, evaluate, template_path):
    # a tool that inserts rows but leaves the names behind: each moved field then has a name
    # pointing at the wrong row, which the reader reports instead of guessing
    names = _names(template_path)
    row = int(names["carryover_end"][1][1:])

    def change(wb):
        ws = wb[BASIC]
        ws.insert_rows(row, 1)

    res = evaluate(edit(make_return(), change))
    conflicts = [f for f in res.findings if f.code == "name-label-conflict"]
    assert conflicts  # the label moved but the name did not
    assert all(f.severity.value == "info" for f in conflicts)


def test_defined_names_removed_entirely(make_return, evaluate, template_path):
    def drop(wb):
        for name in list(wb.defined_names):
            del wb.defined_names[name]

    path = edit(make_return(), drop)
    assert len(openpyxl.load_workbook(path).defined_names) == 0
    res = evaluate(path)
    assert_reads_the_good_return(res)
    assert codes(res) == []
    names = _names(template_path)
    for key in fields():
        assert res.cells[key] == names[key], key  # the same cells, found by label


def test_score_rows_by_code_when_names_are_gone(make_return, evaluate, template_path):
    # names gone and a deduction written: the reader finds A1's score by the code in column A
    def drop(wb):
        for name in list(wb.defined_names):
            del wb.defined_names[name]

    res = evaluate(edit(make_return(score_A1=3, note_A1="目标不够细化", score_total=98), drop))
    a1 = next(i for i in res.indicators if i.code == "A1")
    assert a1.self_score == 3
    assert a1.note == "目标不够细化"
    assert res.reviewed_total == D("98.00")
    assert codes(res) == []


# -- pasted into a fresh workbook ------------------------------------------------------------

ALIASES = {
    "unit_name": "预算单位名称",
    "unit_code": "单位代码",
    "eval_year": "评价年份",
    "staff_quota": "核定编制数（人）",
    "staff_actual": "实有人数",
    "carryover_begin": "上年结余（万元）",
    "expense_total": "支出合计",
    "carryover_end": "年末结余",
    "sangong_actual": "本年“三公”经费决算数",
    "procurement_actual": "政府采购实际支出数",
    "budget_approved_date": "预算批复日期",
    "satisfaction": "满意度（%）",
    "text_targets": "绩效目标",
}


def test_pasted_with_other_row_order_and_alias_labels(tmp_path, evaluate):
    order = list(reversed(fields()))
    headers = ("自评分", "指标名称", "说明", "编码", "权重")  # other words, other order
    path = write_book(tmp_path / "pasted.xlsx", good_values(), labels=ALIASES, order=order,
                      headers=headers, reverse_scores=True)
    res = evaluate(path)
    assert codes(res) == ["meta-missing"]
    assert res.status == "reviewed"
    assert_reads_the_good_return(res)


def test_pasted_labels_are_read_next_to_the_label(tmp_path, evaluate):
    path = write_book(tmp_path / "pasted.xlsx", good_values(), labels=ALIASES)
    res = evaluate(path)
    sheet, ref = res.cells["carryover_begin"]
    wb = openpyxl.load_workbook(path)
    label = wb[sheet][ref].offset(column=-1).value
    assert label == "上年结余（万元）"


def test_pasted_sheets_with_other_names_are_found_by_content(tmp_path, evaluate):
    path = write_book(tmp_path / "pasted.xlsx", good_values())
    wb = openpyxl.load_workbook(path)
    wb[BASIC].title = "Sheet1"
    wb[SCORE].title = "Sheet2"
    wb.save(path)
    res = evaluate(path)
    assert res.cells["income_total"][0] == "Sheet1"
    assert res.reviewed_total == D("100.00")
    assert codes(res) == ["meta-missing"]


def test_read_submission_directly(make_return):
    path = make_return()
    sub, modified = read_submission(path.read_bytes(), "xlsx", RUBRIC, path.name)
    assert sub.basic_sheet == BASIC_SHEET and sub.score_sheet == SCORE_SHEET
    assert sub.meta is not None and sub.meta["rubric_hash"] == RUBRIC.hash
    assert sub.value("filing_date") == dt.date(2021, 6, 4)
    assert sub.value("income_total") == D("2999.76")
    assert sub.unit_code == "T001"
    assert modified is None or isinstance(modified, str)


def test_meta_sheet_is_not_mistaken_for_data(make_return, evaluate):
    res = evaluate(edit(make_return(), lambda wb: setattr(wb[META], "sheet_state", "visible")))
    assert codes(res) == []


# -- files saved by other programs (read through labels) -------------------------------------


@pytest.mark.parametrize(("name", "code"), [
    ("lo-T101.xls", "T101"), ("lo-T102.ods", "T102"), ("lo-T103.xlsx", "T103"), ("wps-T104.et", "T104"),
])
def test_files_saved_by_libreoffice_and_wps(evaluate, name, code):
    # tests/fixtures/make_fixtures.py: good_values() with this unit code, saved by LibreOffice
    res = evaluate(FIXTURES / name)
    assert res.unit_code == code
    assert res.unit_name == f"测试单位{code}"
    assert res.fields["income_total"] == D("2999.76")
    assert res.fields["filing_date"] == dt.date(2021, 6, 4)
    assert res.fields["satisfaction"] == D("0.965")
    assert res.self_total == 100
    assert res.reviewed_total == D("100.00")
    assert codes(res) == []


# -- names the reader must ignore, and what a label finds ------------------------------------


@pytest.mark.parametrize("target", ["#REF!", "'基础数据表'!$B$23:$B$24", "'不存在的表'!$B$23"])
def test_unusable_names_are_ignored_and_the_label_is_used(make_return, evaluate, template_path, target):
    # a #REF! name, a name spanning several cells, a name pointing outside its sheet (spec §3)
    def change(wb):
        wb.defined_names["income_total"].attr_text = target

    res = evaluate(edit(make_return(), change))
    assert res.fields["income_total"] == D("2999.76")
    assert res.cells["income_total"] == _names(template_path)["income_total"]  # found by label
    assert codes(res) == []


def test_sheet_scoped_names_are_not_ours(make_return, evaluate, template_path):
    from openpyxl.workbook.defined_name import DefinedName

    sheet, ref = _names(template_path)["income_total"]

    def change(wb):
        del wb.defined_names["income_total"]
        wb[sheet]["F60"] = 1234
        wb[sheet].defined_names["income_total"] = DefinedName("income_total", attr_text=f"'{sheet}'!$F$60")

    res = evaluate(edit(make_return(), change))
    assert res.fields["income_total"] == D("2999.76")
    assert res.cells["income_total"] == (sheet, ref)
    assert codes(res) == []


def _drop_name(wb, name: str) -> None:
    del wb.defined_names[name]


def test_value_right_of_a_merged_label(make_return, evaluate, template_path):
    sheet, ref = _names(template_path)["income_total"]
    row = int(ref[1:])

    def change(wb):
        _drop_name(wb, "income_total")
        ws = wb[sheet]
        ws.cell(row, 3, 2999.76)  # the unit merged label and input, and typed in column C
        ws.cell(row, 2).value = None
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)

    res = evaluate(edit(make_return(), change))
    assert res.cells["income_total"] == (sheet, f"C{row}")
    assert res.fields["income_total"] == D("2999.76")
    assert codes(res) == []


def test_blank_right_of_the_label_means_blank(make_return, evaluate, template_path):
    # never read further right (column C holds the 填报说明 hint)
    sheet, ref = _names(template_path)["budget_initial"]

    def change(wb):
        _drop_name(wb, "budget_initial")
        wb[sheet][ref] = None
        assert wb[sheet].cell(int(ref[1:]), 3).value  # the hint is there

    res = evaluate(edit(make_return(), change))
    assert res.fields["budget_initial"] is None
    hits = [f for f in res.findings if f.code == "missing-value"]
    assert [(f.sheet, f.cell) for f in hits] == [(sheet, ref)]
    assert "type-error" not in codes(res)


def test_values_typed_as_text_in_the_template(make_return, evaluate):
    typed = {"income_total": "２，９９９．７６万元", "income_fiscal": "2,999.76", "filing_date": "2021年6月4日",
             "budget_published_date": "2020/3/9", "satisfaction": "96.5%", "eval_year": "2020年度",
             "staff_actual": "63", "phone": 13800138000.0, "unit_code": " t001 ", "score_A1": "5分"}
    res = evaluate(make_return(**typed))
    assert res.fields["income_total"] == D("2999.76")
    assert res.fields["income_fiscal"] == D("2999.76")
    assert res.fields["filing_date"] == dt.date(2021, 6, 4)
    assert res.fields["budget_published_date"] == dt.date(2020, 3, 9)
    assert res.fields["satisfaction"] == D("0.965")
    assert res.fields["eval_year"] == 2020
    assert res.fields["staff_actual"] == 63
    assert res.fields["phone"] == "13800138000"
    assert res.unit_code == "T001"
    assert codes(res) == []
    assert res.reviewed_total == D("100.00")


def test_serial_in_a_1904_workbook(make_return, evaluate, template_path):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    sheet, ref = _names(template_path)["filing_date"]

    def change(wb):
        wb.epoch = CALENDAR_MAC_1904  # date cells are re-encoded in the 1904 system on save
        wb[sheet][ref] = 44351
        wb[sheet][ref].number_format = "General"

    res = evaluate(edit(make_return(), change))
    # 44351 in the 1904 system = 45813 in the 1900 system = 2025-06-05 (see test_values)
    assert res.fields["filing_date"] == dt.date(2025, 6, 5)
    assert res.fields["budget_approved_date"] == dt.date(2020, 2, 18)  # date cells unaffected
    serial = [f for f in res.findings if f.code == "date-from-serial"]
    assert [(f.sheet, f.cell) for f in serial] == [(sheet, ref)]
