"""A form's 校验 rows are run (spec §12): conditions, tolerance, 空白按零, 消息 placeholders, a code of its own."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import good_values

from perfxl.model import Options
from perfxl.read.intake import discover
from perfxl.run.job import run_job
from perfxl.run.pipeline import process_file
from perfxl.spec.form import builtin_form
from perfxl.spec.formbook import read_form, write_form
from perfxl.write.fill import fill_workbook
from perfxl.write.template import build_template

ROW = ["spending-over-funds", "支出不超过可用资金", "expense_total <= carryover_begin+income_total", "警告",
       "超支的请在单位答复中说明原因", None, None]


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    path = folder / "表单.xlsx"
    write_form(builtin_form("gd-dept-2020"), path)
    wb = openpyxl.load_workbook(path)
    wb["校验"].append(ROW)
    wb.save(path)
    got, problems = read_form(path)
    assert got is not None and not [p for p in problems if p.severity == "error"]
    template = folder / "模板.xlsx"
    build_template(template, got.rubric)
    return got, template


def result_of(form, template: Path, tmp_path: Path, rubric=None, **changes):
    path = tmp_path / "r.xlsx"
    fill_workbook(template, {**good_values(), **changes}, path)
    return process_file(path, path.name, Options.for_rubric(rubric or form.rubric))


def test_a_row_of_the_forms_own_is_a_finding_with_its_code_name_and_severity(form, tmp_path):
    f, template = form
    assert len(f.rubric.checks) == 7 and f.rubric.checks != builtin_form("gd-dept-2020").checks
    ok = result_of(f, template, tmp_path)
    assert [x.code for x in ok.findings if x.code == "spending-over-funds"] == []
    over = result_of(f, template, tmp_path, expense_total=Decimal("3100.00"), expense_basic=Decimal("2229.88"),
                     carryover_end=Decimal("-97.35"))  # balanced, but spending more than there was
    (x,) = [x for x in over.findings if x.code == "spending-over-funds"]
    assert (x.severity.value, x.title) == ("warning", "支出不超过可用资金")
    assert x.cells[0] == over.cells["expense_total"][1]  # the first field of the left side is the primary cell
    assert x.message == ("支出不超过可用资金：本年支出合计为 3100.00，年初结转和结余+本年收入合计为 3002.65，"
                         "不满足“本年支出合计 ≤ 年初结转和结余+本年收入合计”，相差 97.35。超支的请在单位答复中说明原因")


def test_the_builtin_rows_give_the_builtin_messages_byte_for_byte(form, tmp_path):
    """Run as rows (the form has one row more) or in code (the built-in), balance reads the same."""
    f, template = form
    changes = {"carryover_end": Decimal("22.53")}  # 10.00 out of balance
    as_rows = result_of(f, template, tmp_path, **changes)
    in_code = result_of(f, template, tmp_path, dataclasses.replace(f.rubric, checks=None), **changes)

    def balance(r):
        return [(x.code, x.message, x.sheet, x.cells) for x in r.findings if x.code == "balance-mismatch"]

    assert balance(as_rows) == balance(in_code) and len(balance(as_rows)) == 1
    assert "相差 10.00，请核对收支数据" in balance(as_rows)[0][1]


def test_blank_fields_skip_a_row_unless_it_says_blank_as_zero(form, tmp_path):
    f, template = form
    # 支出分项与合计 counts blanks as 0: a blank 项目支出 leaves 2100 ≠ 2970.12
    r = result_of(f, template, tmp_path, expense_project=None)
    assert [x.code for x in r.findings if x.code == "sum-mismatch"] == ["sum-mismatch"]
    # every part blank: not checked
    r = result_of(f, template, tmp_path, expense_project=None, expense_basic=None)
    assert "sum-mismatch" not in [x.code for x in r.findings]


def test_a_forms_own_code_survives_the_cache_and_reaches_every_output(form, tmp_path):
    f, template = form
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    fill_workbook(template, {**good_values(), "expense_total": Decimal("3100.00"), "expense_basic": Decimal("2229.88"),
                             "carryover_end": Decimal("-97.35")}, inbox / "a.xlsx")
    for _ in range(2):  # the second run takes the file from the output folder's cache
        batch = run_job(discover(inbox), Options.for_rubric(f.rubric), inbox, out, jobs=1)
        (x,) = [x for x in batch.files[0].findings if x.code == "spending-over-funds"]
        assert (x.severity.value, x.title) == ("warning", "支出不超过可用资金")
        doc = json.loads((out / "results.json").read_text("utf-8"))
        found = [x for x in doc["files"][0]["findings"] if x["code"] == "spending-over-funds"]
        assert len(found) == 1 and found[0]["severity"] == "warning"
    assert "支出不超过可用资金" in (out / "index.html").read_text("utf-8")
    stats = openpyxl.load_workbook(out / "summary.xlsx")["统计"]
    assert ("spending-over-funds", "警告", "支出不超过可用资金", 1, 1) in [r[:5] for r in stats.iter_rows(values_only=True)]


def test_a_catalogue_code_keeps_its_severity_and_form_check_says_so():
    from perfxl.spec.form import check_problems

    raw = {"code": "sum-mismatch", "name": "分项", "condition": "expense_basic <= expense_total", "severity": "warning"}
    check, problems = check_problems(raw, {"expense_basic": "money", "expense_total": "money"}, lambda k: ("校验", "D9"))
    assert check is not None
    assert [(p.severity, p.cell) for p in problems] == [("warning", "D9")] and "按目录为“错误”" in problems[0].message


def test_percentages_are_shown_as_percentages(tmp_path):
    """A row over 百分比 fields quotes 96.50%, not 0.965; a form's own code with its 消息 placeholders."""
    import datetime as dt

    from perfxl.model import FieldValue, Submission
    from perfxl.review.checks import Context, check_form_rows
    from perfxl.review.scoring import score
    from perfxl.spec.checkrow import Check
    from perfxl.spec.fields import Field, Section
    from perfxl.spec.rubric import load_rubric

    base = load_rubric("gd-dept-2020")
    secs = (*base.sections, Section("满意度", (Field("satisfaction_prev", "上年满意度", "percent"),)))
    rubric = dataclasses.replace(base, sections=secs, checks=(
        Check("satisfaction-fell", "满意度下降", "satisfaction >= satisfaction_prev", "info",
              message="满意度 {satisfaction} 低于上年 {satisfaction_prev}（相差 {diff}）"),))
    sub = Submission("x.xlsx", fields={k: FieldValue(k, v, v, "基础数据表", c) for k, v, c in (
        ("satisfaction", Decimal("0.9"), "B40"), ("satisfaction_prev", Decimal("0.965"), "B41"))})
    ctx = Context(sub, score(sub, rubric, dt.date(2021, 6, 20)), rubric, 2020, dt.date(2021, 6, 20))
    (f,) = check_form_rows(ctx)
    assert (f.code, f.severity.value, f.cells) == ("satisfaction-fell", "info", ("B40", "B41"))
    assert f.message == "满意度 90.00% 低于上年 96.50%（相差 6.50%）"
