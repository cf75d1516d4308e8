"""The template workbook: sheets, defined names, protection, validation, _meta, and drift."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC

from perfxl.spec.fields import fields

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "templates" / "data_template.xlsx"


@pytest.fixture(scope="module")
def wb(template_path: Path):
    return openpyxl.load_workbook(template_path)


def _cells(book) -> dict[str, dict[str, object]]:
    return {
        ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}
        for ws in book.worksheets
    }


def _names(book) -> dict[str, str]:
    return {name: dn.attr_text for name, dn in book.defined_names.items()}


def test_committed_template_matches_a_fresh_build(wb):
    """templates/data_template.xlsx is `perfxl template`'s output: names and values agree."""
    committed = openpyxl.load_workbook(COMMITTED)
    assert _names(committed) == _names(wb)
    assert _cells(committed) == _cells(wb)


def test_sheets_in_order_with_hidden_meta(wb):
    assert wb.sheetnames == ["填报说明", "基础数据表", "评分表", "_meta"]
    assert wb["_meta"].sheet_state == "hidden"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["rubric_id"] == "gd-dept-2020"
    assert meta["rubric_hash"] == RUBRIC.hash
    assert meta["format_version"].split(".")[0] == "1"
    assert meta["year"] == "2020"
    assert meta["unit_code"] is None


def test_every_input_has_a_workbook_scoped_name(wb):
    expected = set(fields()) | {"score_total", "grade_self"}
    expected |= {f"{p}_{i.code}" for i in RUBRIC.indicators for p in ("score", "note")}
    assert set(wb.defined_names) == expected
    for key in fields():
        (sheet, _), = list(wb.defined_names[key].destinations)
        assert sheet == "基础数据表"
    for ws in wb.worksheets:
        assert len(ws.defined_names) == 0  # no sheet-scoped names


def _target(wb, name):
    (sheet, ref), = list(wb.defined_names[name].destinations)
    return wb[sheet][ref.replace("$", "")]


def test_inputs_unlocked_labels_locked_sheets_protected_without_password(wb):
    for name in wb.defined_names:
        assert _target(wb, name).protection.locked is False, name
    basic = wb["基础数据表"]
    assert basic["A5"].protection.locked is True
    for ws in (wb["填报说明"], basic, wb["评分表"]):
        assert ws.protection.sheet is True
        assert not ws.protection.password


def test_labels_sit_left_of_their_input(wb):
    basic = wb["基础数据表"]
    for key, f in fields().items():
        cell = _target(wb, key)
        assert basic.cell(row=cell.row, column=cell.column - 1).value == f.display_label


def test_number_formats(wb):
    assert _target(wb, "unit_code").number_format == "@"
    assert _target(wb, "phone").number_format == "@"
    assert _target(wb, "satisfaction").number_format == "0.00%"
    assert _target(wb, "income_total").number_format == "#,##0.00"


def test_validation_and_input_message_on_every_basic_input(wb):
    basic = wb["基础数据表"]
    covered = {}
    for dv in basic.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            covered[rng.coord] = dv
    for key, _f in fields().items():
        dv = covered.get(_target(wb, key).coordinate)
        assert dv is not None, key
        assert dv.prompt, key
    unit_type = covered[_target(wb, "unit_type").coordinate]
    assert unit_type.type == "list"
    assert "行政单位" in unit_type.formula1
    assert covered[_target(wb, "income_total").coordinate].type == "decimal"
    assert covered[_target(wb, "filing_date").coordinate].type == "date"


def test_score_sheet_rows_carry_rubric_weights_and_criteria(wb):
    ws = wb["评分表"]
    headers = [c.value for c in ws[3]]
    assert headers == ["指标编码", "一级指标", "二级指标", "三级指标", "分值", "评分标准", "指标值",
                       "自评得分", "自评说明（扣分原因/佐证材料）"]
    for ind in RUBRIC.indicators:
        cell = _target(wb, f"score_{ind.code}")
        assert ws.cell(row=cell.row, column=1).value == ind.code
        assert ws.cell(row=cell.row, column=5).value == float(ind.weight)
        assert ws.cell(row=cell.row, column=6).value == ind.criteria
    total = _target(wb, "score_total")
    assert ws.cell(row=total.row, column=total.column + 1).value.startswith("=")  # live sum beside it


def test_prefilled_cells_are_locked(tmp_path):
    from perfxl.write.template import build_template

    path = tmp_path / "pre.xlsx"
    build_template(path, RUBRIC, prefill={"unit_code": "440800001", "unit_name": "某单位"})
    book = openpyxl.load_workbook(path)
    assert _target(book, "unit_code").value == "440800001"
    assert _target(book, "unit_code").protection.locked is True
    assert _target(book, "contact").protection.locked is False
    meta = {r[0]: r[1] for r in book["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "440800001"


@pytest.mark.slow
def test_wheel_ships_templates_rubric_and_fields(tmp_path):
    """A plain `pip install .` has templates/ (as perfxl.templates) and the data files."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("perfxl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("perfxl/templates/data_template.xlsx", "perfxl/templates/report.md.j2",
                   "perfxl/spec/rubrics/gd-dept-2020.toml", "perfxl/spec/fields.toml"):
        assert member in names
