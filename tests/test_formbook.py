"""Forms as data (spec §12): the form workbook exported, read back, written by other programs, wrong."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.spec.expr import parse
from perfxl.spec.fields import sections
from perfxl.spec.form import builtin_form
from perfxl.spec.formbook import FormNotFound, export_form, load_form, read_form, write_form
from perfxl.spec.formbook_params import parse_params, value_of
from perfxl.spec.rubric import load_rubric

BUILTIN = builtin_form("gd-dept-2020")
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("form") / "gd.xlsx"
    write_form(BUILTIN, path)
    return path


def grids(path: Path) -> dict[str, list[list[object]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def save(sheets: dict[str, list[list[object]]], path: Path) -> Path:
    """A workbook as another program writes it: openpyxl, no formats, no validation."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # typed as text ('=…): openpyxl would write a formula
    wb.save(path)
    return path


def row_of(rows: list[list[object]], first: str) -> int:
    return next(i for i, r in enumerate(rows) if r and r[0] == first)


def errors(problems) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


# -- export -------------------------------------------------------------------------------

def test_export_is_a_well_made_workbook(exported):
    wb = openpyxl.load_workbook(exported)
    assert wb.sheetnames == ["说明", "设置", "字段", "指标", "校验"]
    lists = {}
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape", ws.title
        # one page wide (1 is the default xlsxwriter leaves out), as many tall as needed
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1), ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        if ws.title != "说明":
            assert ws.freeze_panes == "B2", ws.title
        for dv in ws.data_validations.dataValidation:
            if dv.type == "list":
                lists[(ws.title, str(dv.sqref).split(":")[0])] = dv.formula1
    assert lists[("字段", "D2")] == '"文本,编码,选项,年度,日期,整数,金额,百分比,长文本"'
    assert lists[("字段", "E2")] == '"是,否"'
    assert lists[("指标", "H2")] == '"人工,分档,线性,比例,天数内,逾期扣分"'
    assert lists[("指标", "J2")] == '"不适用,零分,报错"'
    assert lists[("校验", "D2")] == '"错误,警告,提示"'
    text = "\n".join(str(r[0]) for r in grids(exported)["说明"] if r[0])
    for word in ("≤5%:5", "目标=95%；方向=低于；每点扣=0.75", "天数=20", "每天扣=1", "DAYS_LATE", "空白按零", "{left}"):
        assert word in text


def test_export_writes_the_settings_and_rows_of_the_builtin(exported):
    g = grids(exported)
    settings = {r[0]: r[1] for r in g["设置"][1:]}
    assert settings["编号"] == "gd-dept-2020" and settings["年度"] == 2020
    assert settings["报送截止"] == "次年6月20日" and settings["等级"] == "优秀≥90；良好≥80；中≥60；差"
    assert settings["通知文号"] == BUILTIN.rubric.notice.number
    ind = {r[0]: r for r in g["指标"][1:]}
    assert ind["A2"][6:10] == ["ABS(income_fiscal-budget_initial)/budget_initial", "分档", "≤5%:5；≤10%:4；≤20%:3；≤30%:2；其他:0", "报错"]
    assert ind["B1"][6:10] == ["expense_total/(carryover_begin+income_total)", "线性", "目标=95%；方向=低于；每点扣=0.75", "报错"]
    assert ind["C1"][6:10] == ["DAYS(budget_approved_date, budget_published_date)", "天数内", "天数=20", "零分"]
    assert ind["A1"][6] is None and ind["A1"][7] == "人工" and ind["A1"][9] is None
    fields = {r[1]: r for r in g["字段"][1:]}
    assert fields["staff_quota_admin"][2:5] == ["其中：行政编制", "整数", "否"]
    checks = {r[2]: r for r in g["校验"][1:]}
    balance = checks["carryover_begin+income_total = expense_total+carryover_end"]
    assert balance[0] == "balance-mismatch" and balance[3] == "错误" and balance[5] == "carryover_end"
    assert sum(1 for r in g["校验"][1:] if r[0] == "sum-mismatch") == 4


def test_export_is_deterministic(tmp_path):
    write_form(BUILTIN, tmp_path / "a.xlsx")
    export_form(BUILTIN.rubric, BUILTIN.fields, tmp_path / "b.xlsx", BUILTIN.checks)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


# -- round trip ---------------------------------------------------------------------------

def test_round_trip_keeps_the_hash_fields_and_checks(exported):
    form, problems = read_form(exported)
    assert problems == []
    assert form.rubric.hash == load_rubric("gd-dept-2020").hash
    assert form.sections == sections()
    assert form.checks == BUILTIN.checks
    assert form == dataclasses.replace(BUILTIN, rubric=dataclasses.replace(BUILTIN.rubric, source=form.rubric.source))


def test_builtin_shapes_map_back_to_value_kinds_and_others_become_expr():
    assert value_of(parse("ABS(a-b)/b")) == {"kind": "deviation", "actual": "a", "base": "b"}
    assert value_of(parse("(a+b)/(c+d)")) == {"kind": "ratio", "numerator": ["a", "b"], "denominator": ["c", "d"]}
    assert value_of(parse("(a-b)/b")) == {"kind": "change", "current": "a", "previous": "b"}
    assert value_of(parse("DAYS(a, b)")) == {"kind": "days_between", "start": "a", "end": "b"}
    assert value_of(parse("DAYS_LATE(a)")) == {"kind": "days_late", "date": "a"}
    assert value_of(parse("(a)")) == {"kind": "field", "field": "a"}
    for text in ("a-b/b", "ABS(a-b)/c", "(a-b)/c", "a*b", "a/b*100%", "MIN(a,b)/c"):
        assert value_of(parse(text))["kind"] == "expr", text
    assert value_of(parse("a / b * 100%"))["expr"] == "a/b*100%"


def test_parameters_parse_as_written_by_people():
    rule, problems = parse_params("bands", "≤５％：５；≤10%: 4 ;其它：0分", Decimal(5))
    assert problems == [] and rule == {"kind": "bands", "bands": [[Decimal("0.05"), 5], [Decimal("0.10"), 4]], "otherwise": 0}
    rule, problems = parse_params("linear", "目标＝100%；方向=高于；每点扣=0.5", Decimal(5))
    assert problems == [] and rule == {"kind": "linear", "target": Decimal("1.00"), "side": "above", "per_point": Decimal("0.5")}
    _, problems = parse_params("linear", "目标=95%；每点扣=0.75", Decimal(15))
    assert problems == [("error", "线性缺少参数“方向”，完整写法如 目标=95%；方向=低于；每点扣=0.75")]


# -- a workbook written by another program -------------------------------------------------

def test_a_form_workbook_written_by_another_program_reads_the_same(exported, tmp_path):
    g = grids(exported)
    del g["说明"]
    settings = [["2021年度表单设置"], [], ["项目", "值", "备注"]]
    for item, value in g["设置"][1:]:
        value = {"年度": "2020年", "报送截止": dt.datetime(2021, 6, 20), "等级": "优秀>=90;良好>=80;中>=60;差"}.get(item, value)
        settings.append([item, value, None])
    fields = [list(reversed(r)) for r in g["字段"]]  # columns in the other order
    fields[0] = [f"*{h}" if h == "字段键" else h for h in fields[0]]
    for r in fields[1:]:
        r[4] = "√" if r[4] == "是" else None  # 必填 column, now fifth from the right
    head = g["指标"][0]
    indicators = [["部门整体支出绩效评价指标"], [f"{h}（分）" if h == "分值" else h for h in head]]
    previous = None
    for r in g["指标"][1:]:
        r = list(r)
        if r[1] == previous:
            r[1] = None  # a blank 一级指标 continues the one above
        else:
            previous = r[1]
        r[4] = f"{r[4]}分" if r[0] == "B1" else r[4]
        r[8] = r[8].replace(":", "：").replace("%", "％").replace("=", "＝") if r[8] else r[8]
        r[6] = f"={r[6]}" if r[0] == "D1" else r[6]  # typed as an Excel formula would be
        indicators.append(r)
    indicators.append([None, None, None, "合计", 100])
    checks = g["校验"]
    checks[1][3] = "  错误 "
    order = {"指标": indicators, "字段": fields, "设置": settings, "校验": checks}
    form, problems = read_form(save(order, tmp_path / "other.xlsx"))
    assert errors(problems) == []
    assert {str(p) for p in problems} == {"设置!C3：列“备注”不是表单的列，已忽略", "指标!A19：合计行不是指标，已忽略"}
    assert form.rubric.hash == BUILTIN.rubric.hash
    assert form.sections == BUILTIN.sections and form.checks == BUILTIN.checks
    assert form.rubric.deadline_rule == BUILTIN.rubric.deadline_rule


def test_a_renamed_sheet_is_found_by_its_header_row(exported, tmp_path):
    g = grids(exported)
    g["评分指标表"] = g.pop("指标")
    form, problems = read_form(save(g, tmp_path / "renamed.xlsx"))
    assert errors(problems) == [] and form.rubric.hash == BUILTIN.rubric.hash


# -- every mistake at once ----------------------------------------------------------------

def test_ten_mistakes_are_all_reported_in_one_run_by_cell(exported, tmp_path):
    g = grids(exported)
    ind, fld, st = g["指标"], g["字段"], g["设置"]
    ind[row_of(ind, "A3")][7] = "线形"                                       # 1 unknown rule
    ind[row_of(ind, "A3")][4] = 6                                            # 2 weights sum to 101
    ind[row_of(ind, "A1")][8] = "目标与职能、年度工作相符:2；指标细化量化、可衡量:2；与预算相匹配:2"  # 3 manual points
    ind[row_of(ind, "B1")][6] = "expense_totl/(carryover_begin+income_total)"  # 4 unknown field
    ind[row_of(ind, "B3")][8] = "目标=95%；每点扣=0.25"                        # 5 incomplete parameters
    fld[next(i for i, r in enumerate(fld) if r[1] == "contact")][1] = "Contact Person"  # 6 bad key
    fld[next(i for i, r in enumerate(fld) if r[1] == "phone")][1] = "tax2020"          # 7 a cell address
    fld[next(i for i, r in enumerate(fld) if r[1] == "retirees")][3] = "货币"          # 8 unknown type
    fld[next(i for i, r in enumerate(fld) if r[1] == "unit_name")][1] = "unitname"     # 9 required field gone
    st[row_of(st, "等级")][1] = "优秀≥80；良好≥90；中≥60；差"                         # 10 grades not descending
    form, problems = read_form(save(g, tmp_path / "wrong.xlsx"))
    assert form is None
    found = errors(problems)
    expected = [
        ("指标!H4：", "评分方式“线形”不认识，可用：人工、分档、线性、比例、天数内、逾期扣分，是否应为“线性”？"),
        ("指标!E1：", "各指标分值之和为 101，应为 100"),
        ("指标!I2：", "评分要点的分值之和为 6，与分值 5 不等"),
        ("指标!G6：", "表单中没有字段键“expense_totl”，是否应为“expense_total”？"),
        ("指标!I8：", "线性缺少参数“方向”"),
        ("字段!B8：", "字段键“Contact Person”应以小写英文字母开头，只含小写字母、数字和下划线，如“contact_person”"),
        ("字段!B9：", "字段键“tax2020”在 Excel 中是单元格地址 TAX2020"),
        ("字段!D15：", "类型“货币”不认识，可用：文本、编码、选项、年度、日期、整数、金额、百分比、长文本"),
        ("字段!B45：", "缺少必备字段“unit_name”"),
        ("设置!B9：", "等级的分数线应从高到低排列"),
    ]
    for where, what in expected:
        assert any(line.startswith(where) and what in line for line in found), (where, what, found)
    assert len(found) == len(expected), found


def test_hostile_expressions_are_problems_never_executed(exported, tmp_path):
    marker = tmp_path / "pwned"
    g = grids(exported)
    ind, chk = g["指标"], g["校验"]
    hostile = {
        "A2": f"__import__('os').system('touch {marker}')",
        "A3": "staff_actual.__class__/staff_quota",
        "A4": "+".join(["sangong_budget"] * 60),  # 899 characters
        "B1": "(" * 30 + "expense_total" + ")" * 30,
        "B2": "sangong_actual**99999999",
    }
    for code, text in hostile.items():
        ind[row_of(ind, code)][6] = text
    chk[1][2] = "eval('1')=1"
    form, problems = read_form(save(g, tmp_path / "hostile.xlsx"))
    assert form is None and not marker.exists()
    found = errors(problems)
    for code, what in (("A2", "不认识的函数“__import__”"), ("A3", "“.”只能用作数字的小数点"), ("A4", "公式太长"),
                       ("B1", "嵌套超过"), ("B2", "不支持乘方")):
        cell = f"指标!G{row_of(ind, code) + 1}："
        assert any(line.startswith(cell) and what in line for line in found), (code, found)
    assert any(line.startswith("校验!C2：") and "不认识的函数“eval”" in line for line in found)


def test_an_expression_and_a_proportional_rule_read_without_a_warning(exported, tmp_path):
    """The scorer runs both (spec §12), so the form reader no longer warns about them."""
    g = grids(exported)
    ind = g["指标"]
    ind[row_of(ind, "D1")][6] = "MIN(key_tasks_done, key_tasks_planned)/key_tasks_planned"
    ind[row_of(ind, "B5")][7:9] = ["比例", "目标=95%"]
    form, problems = read_form(save(g, tmp_path / "expr.xlsx"))
    assert errors(problems) == []
    assert not [p for p in problems if p.severity == "warning" and p.sheet == "指标"]
    d1 = form.rubric.indicator("D1")
    assert d1.value == {"kind": "expr", "expr": "MIN(key_tasks_done,key_tasks_planned)/key_tasks_planned",
                        "fields": ["key_tasks_done", "key_tasks_planned"]}
    assert form.rubric.indicator("B5").rule == {"kind": "proportional", "target": Decimal("0.95")}
    assert form.rubric.hash != BUILTIN.rubric.hash
    write_form(form, tmp_path / "again.xlsx")  # what was read exports and reads back the same
    again, _ = read_form(tmp_path / "again.xlsx")
    assert again.rubric.hash == form.rubric.hash and again.rubric.indicators == form.rubric.indicators


def test_not_a_workbook_and_missing_sheets(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really")
    form, problems = read_form(bad)
    assert form is None and "无法作为 Excel 工作簿打开" in str(problems[0])
    form, problems = read_form(save({"Sheet1": [["x"]]}, tmp_path / "empty.xlsx"))
    assert form is None and [str(p) for p in problems] == [
        "empty.xlsx 不是表单工作簿（找不到“设置”和“字段”页）：表单工作簿有“设置”“字段”“指标”“校验”等页；"
        "可用 perfxl form export gd-dept-2020 -o 表单.xlsx 导出一份作为起点"]
    with pytest.raises(FormNotFound):
        load_form(tmp_path / "missing.xlsx")


# -- perfxl form ----------------------------------------------------------------------------

def test_cli_form_export_and_check(tmp_path, exported):
    out = tmp_path / "表单.xlsx"
    result = runner.invoke(app, ["form", "export", "gd-dept-2020", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == exported.read_bytes()
    for ref in (str(out), "gd-dept-2020", "perfxl/spec/rubrics/gd-dept-2020.toml"):
        result = runner.invoke(app, ["form", "check", ref])
        assert result.exit_code == 0, result.output
        assert result.output.count("\n") == 1 and "表单 gd-dept-2020" in result.output and "指标 16 个" in result.output


def test_cli_form_check_lists_every_problem_and_exits_1(tmp_path, exported):
    g = grids(exported)
    g["指标"][row_of(g["指标"], "A3")][7] = "线形"
    g["字段"][2][3] = "货币"
    result = runner.invoke(app, ["form", "check", str(save(g, tmp_path / "wrong.xlsx"))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "错误 指标!H4：评分方式“线形”不认识，可用：人工、分档、线性、比例、天数内、逾期扣分，是否应为“线性”？" in lines
    assert any(line.startswith("错误 字段!D3：类型“货币”不认识") for line in lines)
    assert lines[-1].startswith("共 2 个错误")


def test_cli_form_check_missing_file_exits_2(tmp_path):
    result = runner.invoke(app, ["form", "check", str(tmp_path / "没有.xlsx")])
    assert result.exit_code == 2 and "找不到表单" in result.output
    result = runner.invoke(app, ["form", "export", "gd-dept-2020", "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "不是 .xlsx" in result.output
    (tmp_path / "目录.xlsx").mkdir()
    result = runner.invoke(app, ["form", "export", "gd-dept-2020", "-o", str(tmp_path / "目录.xlsx")])
    assert result.exit_code == 2 and "无法写入" in result.output and "此处是文件夹，不是文件" in result.output
    result = runner.invoke(app, ["form", "export", "no-such-form", "-o", str(tmp_path / "y.xlsx")])
    assert result.exit_code == 2 and "找不到表单 no-such-form" in result.output


_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80),
    st.sampled_from(["线形", "≤", "其他:", "目标=", "=a", "#NAME?", "（", "；；", "ABS(", "DAYS(a)", "100%", "次年13月40日"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(["设置", "字段", "指标", "校验"]), st.integers(0, 45), st.integers(0, 10), _ODD),
                        min_size=1, max_size=6))
def test_any_cell_any_value_is_a_problem_never_a_traceback(exported, tmp_path, changes):
    g = grids(exported)
    for sheet, row, col, value in changes:
        rows = g[sheet]
        while len(rows) <= row:
            rows.append([])
        rows[row] = list(rows[row]) + [None] * max(0, col + 1 - len(rows[row]))
        rows[row][col] = value
    form, problems = read_form(save(g, tmp_path / "fuzz.xlsx"))
    assert (form is None) == any(p.severity == "error" for p in problems)
    assert all(str(p) and "\n" not in str(p) for p in problems)
    if form is not None:
        assert form.rubric.total_weight == 100


def test_a_template_is_told_apart_from_a_form_workbook(tmp_path):
    from perfxl.write.template import build_template

    build_template(tmp_path / "模板.xlsx", load_rubric(), 2020)
    form, problems = read_form(tmp_path / "模板.xlsx")
    assert form is None and len(problems) == 1 and "像是填报模板或报回文件" in str(problems[0])


def test_a_missing_column_is_one_problem_not_one_a_row(exported, tmp_path):
    g = grids(exported)
    g["指标"] = [r[:7] + r[8:] for r in g["指标"]]  # 评分方式 deleted
    g["设置"][row_of(g["设置"], "报送截止")][1] = 44367  # an Excel serial for 2021-06-20
    form, problems = read_form(save(g, tmp_path / "nocol.xlsx"))
    assert form is None and errors(problems) == ["指标!J1：缺少“评分方式”列，请在第 1 行表头中加上"]


def test_a_toml_form_with_checks(tmp_path):
    text = Path("perfxl/spec/rubrics/gd-dept-2020.toml").read_text("utf-8")
    good = tmp_path / "good.toml"
    balance = 'condition = "carryover_begin+income_total = expense_total+carryover_end"'
    good.write_text(f'{text}\n[[check]]\ncode = "balance-mismatch"\n{balance}\n', "utf-8")
    form, problems = load_form(good)
    assert problems == [] and form.checks[0].code == "balance-mismatch" and form.rubric.hash == BUILTIN.rubric.hash
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[[check]]\ncode = "Balance"\ncondition = "carryover_begn = 1"\nseverity = "fatal"\n', "utf-8")
    form, problems = load_form(bad)
    assert form is None and len(errors(problems)) == 3
    assert all(line.startswith("bad.toml!第 1 条校验") for line in errors(problems))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_a_form_workbook_saved_as_ods_or_xls_reads_the_same(exported, tmp_path, fmt):
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", fmt,
                    "--outdir", str(tmp_path), str(exported)], check=True, capture_output=True, timeout=180)
    form, problems = read_form(tmp_path / f"gd.{fmt}")
    assert problems == [] and form.rubric.hash == BUILTIN.rubric.hash and form.sections == BUILTIN.sections


def test_names_the_template_needs_and_formulas_behind_an_unknown_rule(exported, tmp_path):
    g = grids(exported)
    ind, fld = g["指标"], g["字段"]
    fld[next(i for i, r in enumerate(fld) if r[1] == "contact")][1] = "score_total"
    ind[row_of(ind, "B2")][0] = "b1"  # score_b1 and score_B1 are one name to Excel
    ind[row_of(ind, "B3")][6:8] = ["procurement_actual/procurement_budgt", "线型"]
    form, problems = read_form(save(g, tmp_path / "names.xlsx"))
    found = errors(problems)
    assert any(line.startswith("字段!B8：字段键“score_total”与评分表的名称冲突") for line in found), found
    assert any(line.startswith("指标!A7：指标编码“b1”与 指标!A6 重复（不分大小写）") for line in found), found
    assert any(line.startswith("指标!H8：评分方式“线型”不认识") for line in found), found
    assert any(line.startswith("指标!G8：") and "procurement_budgt" in line for line in found), found
    assert form is None and len(found) == 4


@pytest.mark.parametrize("text", ["年末结转和结余（万元）", "*其中：行政编制（人）", " 单位 名称： ", "“三公”经费（万元）",
                                  "预算使用效益（履职成效）", "Ｎ／Ａ", "其中：", "（万元）", "服务对象满意度（%）"])
def test_the_form_reader_compares_labels_as_the_workbook_reader_does(text):
    from perfxl.read.values import label_key as reader_key
    from perfxl.spec.formbook_grid import label_key

    assert label_key(text) == reader_key(text)


def test_stated_level1_totals_are_checked_and_kept(exported, tmp_path):
    g = grids(exported)
    g["设置"].append(["一级分值", "预算编制=20；预算执行=40；预算监督=15；预算使用效益=25"])
    form, problems = read_form(save(g, tmp_path / "level1.xlsx"))
    assert problems == [] and form.rubric.hash == BUILTIN.rubric.hash
    assert form.level1_totals == (("预算编制", 20), ("预算执行", 40), ("预算监督", 15), ("预算使用效益", 25))
    write_form(form, tmp_path / "again.xlsx")
    assert read_form(tmp_path / "again.xlsx")[0] == dataclasses.replace(
        form, rubric=dataclasses.replace(form.rubric, source=str(tmp_path / "again.xlsx")))
    g["设置"][-1] = ["一级分值", "预算编制=25；预算执行=40；预算管理=15；预算使用效益=20"]
    form, problems = read_form(save(g, tmp_path / "level1-wrong.xlsx"))
    at = f"设置!B{len(g['设置'])}："
    assert form is None and errors(problems) == [
        at + "一级指标“预算编制”各指标分值之和为 20，一级分值写的是 25，请核对",
        at + "一级分值中的“预算管理”不是指标页中的一级指标，可用：预算编制、预算执行、预算监督、预算使用效益",
        at + "一级指标“预算使用效益”各指标分值之和为 25，一级分值写的是 20，请核对",
        at + "一级分值没有写“预算监督”，请补上，如 预算监督=15",
    ]


def test_a_bureau_writes_its_own_form_from_scratch(tmp_path):
    """Another bureau's form typed by hand: other fields, weights, rules and checks (达州-like weights)."""
    sheets = {
        "设置": [["项目", "值"], ["编号", "dz-dept-2021"], ["名称", "部门整体支出绩效评价指标（达州）"], ["年度", 2021],
               ["报送截止", "次年5月31日"], ["等级", "优≥90；良≥75；中≥60；差"],
               ["一级分值", "部门决策=25；综合管理=30；部门绩效=45"]],
        "字段": [["分组", "字段键", "名称", "类型", "必填", "单位"],
               ["基本信息", "unit_name", "单位名称", "文本", "是"], [None, "unit_code", "单位编码", "编码", "是"],
               [None, "eval_year", "评价年度", "年度", "是"], [None, "filing_date", "填报日期", "日期", "是"],
               ["预算", "budget_total", "全年预算数", "金额", "是", "万元"], [None, "spent", "全年执行数", "金额", "是", "万元"],
               [None, "spent_q3", "其中：前三季度执行数", "金额", "否", "万元"],
               ["绩效", "targets_met", "绩效目标完成率", "百分比", "是", "%"]],
        "指标": [["指标编码", "一级指标", "二级指标", "三级指标", "分值", "评分标准", "指标值", "评分方式", "参数", "空白时"],
               ["J1", "部门决策", "目标", "目标设定", 25, "按要点评分", None, "人工", "合理:10；明确:15"],
               ["G1", "综合管理", "执行", "预算执行率", 20, "按比例得分", "spent/budget_total", "比例", "目标=100%"],
               ["G2", None, None, "前三季度执行进度", 10, "≥75%得满分", "spent_q3/budget_total", "分档", "≥75%:10；≥60%:6；其他:0", "零分"],
               ["X1", "部门绩效", "产出", "绩效目标完成率", 45, "≥95%满分，每低1点扣1分", "targets_met", "线性",
                "目标=95%；方向=低于；每点扣=1"]],
        "校验": [["校验编码", "名称", "条件", "严重程度", "说明"],
               ["spending-over-plan", "执行数不超过预算", "spent <= budget_total", "警告", "超预算支出请说明原因"],
               ["sum-mismatch", "前三季度不超过全年", "spent_q3 <= spent", "错误", None]],
    }
    form, problems = read_form(save(sheets, tmp_path / "达州.xlsx"))
    assert errors(problems) == []
    assert [p for p in problems if p.severity == "warning"] == []  # 比例 and ≥ bands are scored
    r = form.rubric
    assert (r.id, r.year, r.deadline(2021), [g.label for g in r.grades]) == ("dz-dept-2021", 2021, dt.date(2022, 5, 31),
                                                                             ["优", "良", "中", "差"])
    assert [(i.code, i.level1, i.level2, i.weight) for i in r.indicators] == [
        ("J1", "部门决策", "目标", 25), ("G1", "综合管理", "执行", 20), ("G2", "综合管理", "执行", 10), ("X1", "部门绩效", "产出", 45)]
    assert r.indicator("G1").rule == {"kind": "proportional", "target": Decimal("1.00")}
    assert r.indicator("G2").rule == {"kind": "bands", "bands": [[Decimal("0.75"), 10], [Decimal("0.60"), 6]], "otherwise": 0,
                                      "compare": ">="}
    assert r.indicator("G2").blank == "zero" and r.indicator("X1").value == {"kind": "field", "field": "targets_met"}
    assert form.fields["spent_q3"].prefix == "其中：" and form.fields["spent_q3"].section == "预算"
    assert [(c.code, c.severity) for c in form.checks] == [("spending-over-plan", "warning"), ("sum-mismatch", "error")]
    write_form(form, tmp_path / "again.xlsx")
    again, _ = read_form(tmp_path / "again.xlsx")
    assert again.rubric.hash == r.hash and again.sections == form.sections and again.checks == form.checks


def test_weights_keep_their_digits_through_the_workbook(tmp_path):
    rubric = BUILTIN.rubric
    inds = list(rubric.indicators)
    inds[0] = dataclasses.replace(inds[0], weight=Decimal("5.0"), rule={"kind": "manual", "items": [["要点", Decimal("5.0")]]})
    inds[2] = dataclasses.replace(inds[2], weight=Decimal("5.00"))  # A3
    inds[5] = dataclasses.replace(inds[5], weight=Decimal("2.50"))  # B2 and B3 still add up to 10
    inds[6] = dataclasses.replace(inds[6], weight=Decimal("7.5"))
    form = dataclasses.replace(BUILTIN, rubric=dataclasses.replace(rubric, indicators=tuple(inds)))
    write_form(form, tmp_path / "digits.xlsx")
    back, problems = read_form(tmp_path / "digits.xlsx")
    assert errors(problems) == [] and back.rubric.hash == form.rubric.hash
    assert [back.rubric.indicator(c).weight.as_tuple() for c in ("A1", "A3", "B2", "B3")] == [
        Decimal(t).as_tuple() for t in ("5.0", "5.00", "2.50", "7.5")]


def test_a_fixed_field_repeated_is_one_problem_on_the_repeated_row(tmp_path):
    """unit_name typed again further down with 必填 否: the repeat is named, on its own row; the
    first row stays the field (no second problem pointing below the table)."""
    write_form(BUILTIN, tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "f.xlsx")
    ws = wb["字段"]
    last = ws.max_row + 1
    ws.cell(last, 2, "unit_name")
    ws.cell(last, 3, "单位名称（重复）")
    ws.cell(last, 4, "文本")
    ws.cell(last, 5, "否")
    wb.save(tmp_path / "f.xlsx")
    _, problems = read_form(tmp_path / "f.xlsx")
    about = [str(p) for p in problems if "unit_name" in str(p)]
    assert about == [f"字段!B{last}：字段键“unit_name”与 字段!B{next(r for r in range(1, last) if ws.cell(r, 2).value == 'unit_name')} "
                     "重复，字段键不能重复"]
