"""Reading a project workbook (spec §13): every project sheet, copied as a unit copies it, read by
its sheet-scoped names, or by labels and header texts when the names are lost; rows inserted,
columns moved, values as people write them."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import require_programs

from perfxl.model import PROJECT_COLUMNS
from perfxl.read.project import read_projects
from perfxl.read.submission import read_with_forms
from perfxl.read.workbook import open_book
from perfxl.spec.project import builtin_project_form
from perfxl.spec.rubric import load_rubric
from perfxl.write.fill_project import fill_projects, insert_rows, named_cell
from perfxl.write.project_template import build_project_template

FORM = builtin_project_form("proj-2020")
UNIT = {"unit_name": "中共湛江市委组织部本级", "unit_code": "ZJ001", "department": "中共湛江市委组织部", "eval_year": 2020,
        "filing_date": dt.date(2021, 6, 4), "phone": "0759-1234567"}


def _row(l1, l2, name, direction, target, unit, actual, weight, score, reason=None) -> dict:
    return dict(zip(PROJECT_COLUMNS, (l1, l2, name, direction, target, unit, actual, weight, score, reason), strict=True))


PROJECTS = [
    {**UNIT, "project_name": "人才工作专项", "implementer": "市委人才办", "project_lead": "李四",
     "budget_initial": Decimal("120.00"), "budget_annual": Decimal("150.00"), "spent": Decimal("142.50"),
     "budget_initial_fiscal": Decimal("120.00"), "budget_annual_fiscal": Decimal("150.00"), "spent_fiscal": Decimal("142.50"),
     "exec_score": 9.5, "target_text": "引进培养高层次人才。", "outcome_text": "引进人才 52 名。",
     "problems_text": "部分资金拨付偏慢。", "measures_text": "加快拨付进度。", "score_total": 99.5, "grade_self": "优秀",
     "rows": [
         _row("产出指标", "数量指标", "引进高层次人才数", "≥", "≥50", "人", "52", 20, 20),
         _row(None, None, "人才培训班期数", "≥", "3个", None, "3个", 10, 10),
         _row(None, "质量指标", "培训合格率", "≥", "≥95%", None, "97%", 10, 10),
         _row(None, "时效指标", "资金拨付及时性", "定性", "按期完成", None, "按期完成", 5, 5),
         _row(None, "成本指标", "人均培训成本", "≤", "≤0.3", "万元", 0.28, 5, 5),
         _row("效益指标", "社会效益指标", "人才服务满意度提升", "定性", "明显提升", None, "明显提升", 30, 30),
         _row("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", "≥90%", None, "96%", 10, 10),
     ]},
    {**UNIT, "project_name": "基层党建专项", "budget_initial": Decimal("300"), "budget_annual": Decimal("280"),
     "spent": Decimal("210"), "exec_score": 7.5, "exec_reason": "部分项目年底才完工验收。", "target_text": "建设党群服务中心。",
     "outcome_text": "建成 18 个。", "score_total": 85.5, "grade_self": "良好",
     "rows": [
         _row("产出", "数量", "党群服务中心建设数", "正向", "20个", "个", "18个", 50, 45, "两个中心因选址调整顺延"),
         _row("效益指标", "可持续影响指标", "服务中心持续运行", "定性", "长期运行", None, "正常运行", 30, 28),
         _row("满意度指标", None, "群众满意度", "≥", "≥90%", None, 0.92, 10, 10),
     ]},
    {**UNIT, "project_name": "党员教育培训", "budget_annual": Decimal("50"), "spent": Decimal("50"), "exec_score": 10,
     "target_text": "培训党员。", "outcome_text": "已完成。", "score_total": 100, "grade_self": "优",
     "rows": [_row("产出指标", "数量指标", "培训人次", "≥", "1000人次", None, "1200人次", 50, 50),
              _row("效益指标", "社会效益指标", "党员素质提升", "定性", "提升", None, "提升", 30, 30),
              _row("满意度指标", "服务对象满意度指标", "参训满意度", "≥", "90%", None, "95%", 10, 10)]},
]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("projread")
    template = root / "template.xlsx"
    build_project_template(template, FORM)
    out = root / "three.xlsx"
    fill_projects(template, FORM, PROJECTS, out)
    return out


def _read(path: Path):
    return read_projects(open_book(path.read_bytes(), "xlsx"), FORM, path.name)


def _summary(sub) -> list:
    """What was read, without where: fields' values and each row's cell values."""
    return [(p.sheet, {k: fv.value for k, fv in p.fields.items()},
             [{k: fv.value for k, fv in r.cells.items()} for r in p.rows]) for p in sub.projects]


@pytest.fixture(scope="module")
def baseline(made):
    return _read(made)


def _edit(made: Path, tmp_path: Path, change) -> Path:
    wb = openpyxl.load_workbook(made)
    change(wb)
    out = tmp_path / "edited.xlsx"
    wb.save(out)
    return out


def test_three_copied_sheets_carry_their_own_names(made):
    xml = zipfile.ZipFile(made).read("xl/workbook.xml").decode("utf-8")
    scoped = re.findall(r'<definedName name="project_name" localSheetId="(\d+)">([^<]*)<', xml)
    assert scoped == [("1", "'项目1'!$C$3"), ("2", "'项目2'!$C$3"), ("3", "'项目3'!$C$3")]


def test_three_projects_in_sheet_order_with_their_values(baseline):
    sub = baseline
    assert [p.sheet for p in sub.projects] == ["项目1", "项目2", "项目3"]
    assert [p.value("project_name") for p in sub.projects] == ["人才工作专项", "基层党建专项", "党员教育培训"]
    assert sub.findings == []
    first, second, third = sub.projects
    assert first.value("budget_annual") == Decimal("150.0") and first.value("spent") == Decimal("142.5")
    assert first.value("spent_fiscal") == Decimal("142.5") and first.value("filing_date") == dt.date(2021, 6, 4)
    assert first.fields["spent"].cell == "F9" and first.fields["spent"].sheet == "项目1"
    assert (first.value("exec_weight"), first.value("exec_score")) == (10, 9.5)  # as typed, for the checks
    assert (first.value("score_total"), first.value("grade_self")) == (99.5, "优秀")
    assert second.value("exec_reason") == "部分项目年底才完工验收。" and second.value("budget_initial_fiscal") is None
    assert third.value("grade_self") == "优" and third.fields["project_name"].sheet == "项目3"
    # the file's fields are the first project's: identity, year and filing date work as for any form
    assert sub.unit_code == "ZJ001" and sub.value("unit_name") == "中共湛江市委组织部本级" and sub.basic_sheet == "项目1"
    assert sub.meta["rubric_id"] == "proj-2020" and sub.meta["rubric_hash"] == FORM.hash


def test_rows_as_written_and_levels_continued(baseline):
    first, second, third = baseline.projects
    rows = [{k: fv.value for k, fv in r.cells.items()} for r in first.rows]
    assert [r.row for r in first.rows] == list(range(15, 22))
    assert [(r["level1"], r["level2"]) for r in rows] == [
        ("产出指标", "数量指标"), ("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"),
        ("产出指标", "成本指标"), ("效益指标", "社会效益指标"), ("满意度指标", "服务对象满意度指标")]
    assert [r["target"] for r in rows] == ["≥50", "3个", "≥95%", "按期完成", "≤0.3", "明显提升", "≥90%"]
    assert [r["actual"] for r in rows][:5] == ["52", "3个", "97%", "按期完成", "0.28"]  # a number as its digits
    assert first.rows[4].cells["actual"].raw == 0.28 and first.rows[0].cells["level1"].cell == "A15"
    assert [r["direction"] for r in rows] == ["≥", "≥", "≥", "定性", "≤", "定性", "≥"]
    assert (rows[0]["weight"], rows[0]["self_score"], rows[0]["unit"]) == (20, 20, "人")
    row2 = [{k: fv.value for k, fv in r.cells.items()} for r in second.rows]
    assert row2[0]["direction"] == "≥" and row2[0]["level1"] == "产出" and row2[0]["reason"] == "两个中心因选址调整顺延"
    # a new 一级 does not inherit the 二级 of the group above
    assert (row2[2]["level1"], row2[2]["level2"]) == ("满意度指标", None)
    assert len(third.rows) == 3 and set(first.rows[0].cells) == set(PROJECT_COLUMNS)


def test_inserted_rows_change_nothing(made, baseline, tmp_path):
    def change(wb):
        insert_rows(wb["项目1"], 17, 2)  # inside the indicator table, blank
        insert_rows(wb["项目2"], 5, 1)  # in the header block
        insert_rows(wb["项目3"], 46, 3)  # between 合计 and 自评总分

    sub = _read(_edit(made, tmp_path, change))
    assert _summary(sub) == _summary(baseline)
    assert [r.row for r in sub.projects[0].rows] == [15, 16, 19, 20, 21, 22, 23]
    assert sub.projects[1].fields["spent"].cell == "F10" and sub.projects[0].fields["score_total"].cell == "I48"


def test_an_inserted_indicator_row_is_read_in_its_place(made, tmp_path):
    def change(wb):
        ws = wb["项目1"]
        insert_rows(ws, 16, 1)
        for col, value in zip("CDEGHI", ("新增指标", "=", "12", "12", 1, 1), strict=True):
            ws[f"{col}16"] = value

    first = _read(_edit(made, tmp_path, change)).projects[0]
    assert [r.cells["name"].value for r in first.rows][:3] == ["引进高层次人才数", "新增指标", "人才培训班期数"]
    assert first.rows[1].cells["level2"].value == "数量指标" and first.rows[1].cells["direction"].value == "="


def test_without_names_labels_and_headers_read_the_same(made, baseline, tmp_path):
    def change(wb):
        for ws in wb.worksheets:
            for name in list(ws.defined_names):
                del ws.defined_names[name]
        insert_rows(wb["项目2"], 17, 2)  # and a row inserted: nothing points at it now but the texts

    sub = _read(_edit(made, tmp_path, change))
    assert "project_name" not in zipfile.ZipFile(tmp_path / "edited.xlsx").read("xl/workbook.xml").decode("utf-8")
    assert _summary(sub) == _summary(baseline)
    assert sub.findings == []
    second = sub.projects[1]
    assert second.fields["exec_score"].cell == "G11" and second.fields["budget_initial"].cell == "D9"
    assert second.fields["score_total"].cell == "I48"


def test_a_moved_column_still_reads(made, baseline, tmp_path):
    def change(wb):  # 计量单位 (F) and 实际完成值 (G) swapped, headers and all
        for ws in (wb["项目1"], wb["项目2"], wb["项目3"]):
            for r in range(14, 45):
                ws[f"F{r}"].value, ws[f"G{r}"].value = ws[f"G{r}"].value, ws[f"F{r}"].value

    sub = _read(_edit(made, tmp_path, change))
    assert _summary(sub) == _summary(baseline)
    assert sub.projects[0].rows[0].cells["actual"].cell == "F15"


def test_merged_level_cells_continue(made, tmp_path):
    def change(wb):
        ws = wb["项目1"]
        ws["A15"] = "产出指标"
        ws.merge_cells("A15:A19")
        ws.merge_cells("B15:B16")

    first = _read(_edit(made, tmp_path, change)).projects[0]
    assert [r.cells["level1"].value for r in first.rows][:5] == ["产出指标"] * 5
    assert first.rows[1].cells["level2"].value == "数量指标"


def test_hidden_and_untouched_sheets_are_not_projects_and_a_formula_without_value_is_found(made, tmp_path):
    def change(wb):
        wb["项目3"].sheet_state = "hidden"
        from perfxl.write.fill_project import copy_project_sheet

        spare = copy_project_sheet(wb, "项目1", "备用")
        for row in spare.iter_rows(min_row=3):
            for cell in row:
                if not isinstance(cell.value, str) or not cell.value.startswith("="):
                    cell.value = None if cell.coordinate not in ("A3", "A4", "F4") else cell.value
        named_cell(spare, "exec_weight").value = 10
        named_cell(wb["项目2"], "spent").value = "=E9*0.75"  # saved by openpyxl: no cached value

    sub = _read(_edit(made, tmp_path, change))
    assert [p.sheet for p in sub.projects] == ["项目1", "项目2"]
    hidden, found = sub.findings  # the hidden one is named (spec §11: nothing silent), the untouched one is not
    assert (hidden.code, hidden.severity.value) == ("sheet-hidden", "info")
    assert (found.code, found.sheet, found.cells) == ("formula-not-calculated", "项目2", ("F9",))
    assert sub.projects[1].fields["spent"].error


def test_a_typed_value_that_is_not_its_type_is_a_finding_on_its_sheet(made, tmp_path):
    def change(wb):
        named_cell(wb["项目3"], "budget_annual").value = "50元"

    sub = _read(_edit(made, tmp_path, change))
    [found] = sub.findings
    assert (found.code, found.sheet, found.cells) == ("type-error", "项目3", ("E9",)) and "万元" in found.message


def test_the_batch_reads_a_project_file_by_its_meta(made):
    dept = load_rubric("gd-dept-2020")
    sub, _, form = read_with_forms(made.read_bytes(), "xlsx", [dept, FORM], "three.xlsx")
    assert form is FORM and len(sub.projects) == 3


@pytest.mark.slow  # drives LibreOffice
def test_names_survive_a_libreoffice_round_trip(made, baseline, tmp_path):
    require_programs("soffice", install="libreoffice-calc-nogui")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(made, src / "three.xlsx")
    subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "lo-out"), str(src / "three.xlsx")], check=True, capture_output=True, timeout=180)
    saved = tmp_path / "lo-out" / "three.xlsx"
    book = open_book(saved.read_bytes(), "xlsx")
    assert set(book.package.local_names) == {"项目1", "项目2", "项目3"}
    assert book.package.local_names["项目2"]["project_name"] == ("项目2", "C3")
    sub = read_projects(book, FORM, "three.xlsx")
    assert [(s, f["project_name"], f["spent"]) for s, f, _ in _summary(sub)] == \
        [(s, f["project_name"], f["spent"]) for s, f, _ in _summary(baseline)]
    assert [len(p.rows) for p in sub.projects] == [7, 3, 3]
