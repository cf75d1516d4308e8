"""The project form proj-2020 (spec §13) and its template: one sheet 项目1 whose names are all
sheet-scoped, live formulas, validation lists, print setup, protection and a hidden _meta."""

from __future__ import annotations

import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.spec.formbook import FormNotFound, load_form
from perfxl.spec.project import builtin_form_ids, builtin_project_form, parse_caps
from perfxl.write.project_template import PROJECT_SHEET, build_project_template

FORM = builtin_project_form("proj-2020")
TOML = Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "forms" / "proj-2020.toml"


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("proj") / "proj.xlsx"
    build_project_template(out, FORM)
    return out


@pytest.fixture(scope="module")
def wb(path: Path):
    return openpyxl.load_workbook(path)


def _cell(wb, name: str):
    (sheet, ref), = wb[PROJECT_SHEET].defined_names[name].destinations
    return wb[sheet][ref.replace("$", "")]


# -- the form --------------------------------------------------------------------------------

def test_the_form_offers_what_a_rubric_offers_and_its_own_numbers():
    form, problems = load_form("proj-2020")
    assert form is FORM and problems == []
    assert (FORM.id, FORM.kind, FORM.year, FORM.deadline(2020).isoformat()) == ("proj-2020", "项目支出", 2020, "2021-06-20")
    assert FORM.grade(Decimal("89.99")) == "良好" and FORM.grade(Decimal(90)) == "优秀" and FORM.grade(Decimal(0)) == "差"
    assert FORM.exec_weight == 10 and FORM.split == (("产出指标", 50), ("效益指标", 30), ("满意度指标", 10))
    assert FORM.caps == ((Decimal("0.8"), 89), (Decimal("0.7"), 79), (Decimal("0.6"), 69), (Decimal("0.5"), 59))
    assert (FORM.cap_for(Decimal("0.80")), FORM.cap_for(Decimal("0.7999")), FORM.cap_for(Decimal("0.45"))) == (None, 89, 59)
    assert FORM.directions == ("≥", "≤", "=", "定性") and FORM.max_rows == 30
    assert FORM.level2[:4] == ("数量指标", "质量指标", "时效指标", "成本指标") and len(FORM.level2) == 9
    assert list(FORM.fields)[:3] == ["project_name", "unit_name", "unit_code"]
    assert FORM.fields["spent"].type == "money" and FORM.fields["filing_date"].type == "date"
    assert FORM.fields["budget_initial_fiscal"].label == "财政拨款年初预算数"
    assert "proj-2020" in builtin_form_ids() and "gd-dept-2020" in builtin_form_ids()


def test_typed_directions_and_levels_are_understood():
    assert [FORM.direction_of(t) for t in ("≥", "＞＝", "正向", "反向指标", "<=", "等于", "定性指标", "大约")] == \
        ["≥", "≥", "≥", "≤", "≤", "=", "定性", None]
    assert FORM.level1_of("产出") == "产出指标" and FORM.level1_of("效 益 指 标") == "效益指标" and FORM.level1_of("其他") is None
    assert FORM.level2_of("数量") == ("产出指标", "数量指标")
    assert FORM.level2_of("服务对象满意度指标") == ("满意度指标", "服务对象满意度指标")


def test_the_hash_covers_what_scores_and_not_the_words():
    text = TOML.read_text("utf-8")
    from perfxl.spec.project import parse_project_form

    assert parse_project_form(text).hash == FORM.hash
    assert parse_project_form(text.replace("hint = \"全年实际支出\"", "hint = \"实际支出\"")).hash == FORM.hash
    assert parse_project_form(text.replace('caps = "80%:89；', 'caps = "85%:89；')).hash != FORM.hash
    moved = text.replace("weight = 50", "weight = 45").replace("weight = 30", "weight = 35")
    assert parse_project_form(moved).hash != FORM.hash
    with pytest.raises(Exception, match="应为 100"):
        parse_project_form(text.replace("weight = 50", "weight = 55"))
    with pytest.raises(ValueError, match="80%:89"):
        parse_caps("80:89")


def test_an_unknown_form_names_the_project_form_among_the_builtins():
    with pytest.raises(FormNotFound, match="proj-2020"):
        load_form("no-such-form")


# -- the workbook ----------------------------------------------------------------------------

def test_sheets_and_meta(wb):
    assert wb.sheetnames == ["填报说明", PROJECT_SHEET, "_meta"]
    assert wb["_meta"].sheet_state == "hidden" and wb[PROJECT_SHEET].sheet_state == "visible"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert (meta["rubric_id"], meta["rubric_hash"], meta["year"]) == ("proj-2020", FORM.hash, "2020")
    assert meta["format_version"].split(".")[0] == "1" and meta["unit_code"] is None


def test_every_name_is_scoped_to_the_project_sheet(wb, path):
    assert list(wb.defined_names) == []  # nothing workbook-scoped
    names = wb[PROJECT_SHEET].defined_names
    assert set(names) == set(FORM.fields) | {"ind_header", "score_total", "grade_self"}
    for name, dn in names.items():
        (sheet, ref), = dn.destinations
        assert sheet == PROJECT_SHEET and re.fullmatch(r"\$[A-Z]+\$\d+", ref), name
    # in the package too: every <definedName> carries the localSheetId of 项目1 (index 1)
    xml = zipfile.ZipFile(path).read("xl/workbook.xml").decode("utf-8")
    defined = re.findall(r'<definedName name="([^"]*)"([^>]*)>', xml)
    ours = [(n, attrs) for n, attrs in defined if not n.startswith("_xlnm.")]
    assert sorted(n for n, _ in ours) == sorted(names)
    assert all(attrs == ' localSheetId="1"' for _, attrs in ours)
    assert ("_xlnm.Print_Titles", ' localSheetId="1"') in defined


def test_the_sheet_reads_like_the_national_table(wb):
    ws = wb[PROJECT_SHEET]
    header = _cell(wb, "ind_header")
    texts = [ws.cell(header.row, header.column + i).value for i in range(10)]
    assert texts == ["一级指标", "二级指标", "三级指标", "指标性质", "年度指标值", "计量单位", "实际完成值", "分值", "自评得分",
                     "偏差原因分析及改进措施"]
    # labels beside their cells (the label fallback reads them so)
    for key in ("project_name", "unit_code", "implementer", "target_text", "problems_text", "filing_date"):
        cell = _cell(wb, key)
        left = [ws.cell(cell.row, c).value for c in range(1, cell.column)]
        assert FORM.fields[key].label in left, key
    weight = _cell(wb, "exec_weight")
    assert weight.value == 10 and weight.protection.locked
    assert ws.cell(weight.row, 1).value == "预算执行率" and ws.cell(weight.row, weight.column - 1).value == "分值"
    spent = _cell(wb, "spent")
    assert ws.cell(spent.row, 1).value == "年度资金总额" and ws.cell(spent.row - 1, spent.column).value == "全年执行数"
    assert ws.cell(_cell(wb, "spent_fiscal").row, 1).value == "其中：财政拨款"
    assert _cell(wb, "grade_self").row == _cell(wb, "score_total").row + 1


def test_live_formulas_for_the_rate_and_the_sums(wb):
    ws = wb[PROJECT_SHEET]
    spent, budget = _cell(wb, "spent"), _cell(wb, "budget_annual")
    rate = ws.cell(spent.row, spent.column + 1).value
    assert f"{spent.coordinate}/{budget.coordinate}" in rate and rate.startswith("=IF(")
    header, total = _cell(wb, "ind_header"), _cell(wb, "score_total")
    first, last = header.row + 1, header.row + FORM.max_rows
    sums = ws.cell(total.row - 1, 8).value
    assert sums == f"=SUM(H{first}:H{last})"
    check = ws.cell(total.row - 1, 10).value
    assert _cell(wb, "exec_weight").coordinate in check and "100" in check
    auto = ws.cell(total.row, total.column + 1).value
    assert f"SUM(I{first}:I{last})" in auto and _cell(wb, "exec_score").coordinate in auto
    assert "优秀" in ws.cell(total.row + 1, total.column + 1).value


def test_validation_lists_cover_the_thirty_rows(wb):
    ws = wb[PROJECT_SHEET]
    header = _cell(wb, "ind_header")
    first, last = header.row + 1, header.row + FORM.max_rows
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert lists[f"A{first}:A{last}"] == '"' + ",".join(FORM.level1) + '"'
    assert lists[f"B{first}:B{last}"] == '"' + ",".join(FORM.level2) + '"'
    assert lists[f"D{first}:D{last}"] == '"≥,≤,=,定性"'
    custom = [dv for dv in ws.data_validations.dataValidation if dv.type == "custom"]
    assert [str(dv.sqref) for dv in custom] == [f"I{first}:I{last}"] and f"N(H{first})" in custom[0].formula1
    # 年度指标值 and 实际完成值 are text cells: 95% typed stays “95%”
    assert ws.cell(first, 5).number_format == "@" and ws.cell(first, 7).number_format == "@"


def test_inputs_unlocked_labels_locked_rows_insertable(wb):
    ws = wb[PROJECT_SHEET]
    assert ws.protection.sheet and not ws.protection.password
    assert ws.protection.insertRows is False and ws.protection.deleteRows is False  # False: allowed
    header = _cell(wb, "ind_header")
    assert all(not ws.cell(r, c).protection.locked for r in (header.row + 1, header.row + 30) for c in range(1, 11))
    assert header.protection.locked and ws["A1"].protection.locked
    for key in ("project_name", "spent", "exec_score", "filing_date", "score_total"):
        assert not _cell(wb, key).protection.locked, key


def test_print_setup(wb):
    ws = wb[PROJECT_SHEET]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # fitToWidth: 1 by default
    assert ws.print_title_rows == "$1:$3"
    assert ws.print_area.endswith(f"$J${_cell(wb, 'filing_date').row}")


def test_the_guide_says_how_to_add_a_project_and_what_the_columns_mean(wb):
    text = "\n".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
    for words in ("移动或复制", "建立副本", "正向指标", "反向指标", "定性", "≥95%", "3个", "按期完成", "2021年6月20日",
                  "核定总分分别不超过 89、79、69、59 分"):
        assert words in text, words


# -- the command line ------------------------------------------------------------------------

def test_template_command_and_prefilled_copies(tmp_path):
    out = tmp_path / "项目模板.xlsx"
    result = CliRunner().invoke(app, ["template", "--form", "proj-2020", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(out).sheetnames == ["填报说明", PROJECT_SHEET, "_meta"]
    roster = tmp_path / "名单.csv"
    roster.write_text("单位编码,单位名称,主管部门\nU1,测试一局,测试市局\nU2,测试二局,\n", "utf-8")
    folder = tmp_path / "预填"
    result = CliRunner().invoke(app, ["template", "--form", "proj-2020", "--roster", str(roster), "-o", str(folder)])
    assert result.exit_code == 0, result.output
    copies = sorted(p.name for p in folder.glob("*.xlsx"))
    assert copies == ["U1_测试一局_项目支出.xlsx", "U2_测试二局_项目支出.xlsx"]
    # the department form's copies into the same folder stand beside them; neither set replaces the other
    assert CliRunner().invoke(app, ["template", "--roster", str(roster), "-o", str(folder)]).exit_code == 0
    assert CliRunner().invoke(app, ["template", "--form", "proj-2020", "--roster", str(roster), "-o", str(folder)]).exit_code == 0
    assert sorted(p.name for p in folder.glob("*.xlsx")) == sorted(
        [*copies, "U1_测试一局.xlsx", "U2_测试二局.xlsx"])
    assert openpyxl.load_workbook(folder / "U1_测试一局.xlsx").sheetnames[1] == "基础数据表"
    wb = openpyxl.load_workbook(folder / "U1_测试一局_项目支出.xlsx")
    got = {k: _cell(wb, k) for k in ("unit_code", "unit_name", "department", "eval_year", "project_name")}
    assert [got[k].value for k in got] == ["U1", "测试一局", "测试市局", 2020, None]
    assert [got[k].protection.locked for k in got] == [True, True, True, True, False]
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "U1" and meta["rubric_id"] == "proj-2020"
    assert _cell(openpyxl.load_workbook(folder / "U2_测试二局_项目支出.xlsx"), "department").value is None


def test_form_check_summarises_and_form_export_refuses_in_words(tmp_path):
    result = CliRunner().invoke(app, ["form", "check", "proj-2020"])
    assert result.exit_code == 0 and "项目支出" in result.output and "预算执行率 10 分" in result.output
    result = CliRunner().invoke(app, ["form", "export", "proj-2020", "-o", str(tmp_path / "f.xlsx")])
    assert result.exit_code == 2 and "perfxl template --form proj-2020" in result.output
    assert "内部错误" not in result.output and not (tmp_path / "f.xlsx").exists()
