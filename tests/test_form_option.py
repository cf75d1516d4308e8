"""`--form F.xlsx|F.toml|ID` (alias `--rubric`) on template, check and run (spec §12, issue 12)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.spec.form import builtin_form
from perfxl.spec.formbook import write_form

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("form") / "gd.xlsx"
    write_form(builtin_form("gd-dept-2020"), path)
    return path


def edited(src: Path, dest: Path, changes: dict[tuple[str, str], object]) -> Path:
    """The form workbook with cells changed in place, as a clerk edits it in Excel."""
    wb = openpyxl.load_workbook(src)
    for (sheet, ref), value in changes.items():
        wb[sheet][ref] = value
    wb.save(dest)
    return dest


def row(path: Path, sheet: str, first: str) -> int:
    ws = openpyxl.load_workbook(path)[sheet]
    return next(r[0].row for r in ws.iter_rows() if r[0].value == first)


@pytest.mark.parametrize("command", ["template", "check", "run"])
def test_a_form_with_errors_stops_before_any_file_is_read(exported, tmp_path, command):
    b1, a2 = row(exported, "指标", "B1"), row(exported, "指标", "A2")
    bad = edited(exported, tmp_path / "坏表单.xlsx", {("指标", f"H{b1}"): "线形", ("指标", f"G{a2}"): "income_fiscal/nothing"})
    args = {"template": ["template", "-o", str(tmp_path / "t.xlsx")],
            "check": ["check", str(tmp_path / "no-such-file.xlsx")],  # the form is looked at first
            "run": ["run", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "out")]}[command]
    result = runner.invoke(app, [*args, "--form", str(bad)])
    assert result.exit_code == 2, result.output
    assert f"错误 指标!H{b1}：评分方式“线形”不认识" in result.output
    assert f"错误 指标!G{a2}：" in result.output and "nothing" in result.output  # every problem, by cell
    assert "表单" in result.output and "个错误" in result.output and "提示：" in result.output
    assert "找不到" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.xlsx").exists() and not (tmp_path / "out").exists()


def test_warnings_are_printed_and_the_command_goes_on(exported, tmp_path):
    a1 = row(exported, "指标", "A1")
    form = edited(exported, tmp_path / "表单.xlsx", {("指标", f"I{a1}"): None})  # no scoring points: a warning
    out = tmp_path / "模板.xlsx"
    result = runner.invoke(app, ["template", "--form", str(form), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"警告 指标!I{a1}：人工评分没有写评分要点" in result.output
    assert out.is_file() and "已生成模板" in result.output


def test_rubric_is_the_same_option(exported, tmp_path):
    """--rubric takes a form workbook too, and --form a built-in id or a TOML file."""
    out = tmp_path / "a.xlsx"
    assert runner.invoke(app, ["template", "--rubric", str(exported), "-o", str(out)]).exit_code == 0
    toml = Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml"
    for ref in ("gd-dept-2020", str(toml)):
        assert runner.invoke(app, ["template", "--form", ref, "-o", str(tmp_path / "b.xlsx")]).exit_code == 0
    # the exported built-in is the built-in: same _meta, so its template is the built-in's
    meta = {r[0]: r[1] for r in openpyxl.load_workbook(out)["_meta"].iter_rows(values_only=True)}
    ref = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "b.xlsx")["_meta"].iter_rows(values_only=True)}
    assert meta == ref and meta["rubric_id"] == "gd-dept-2020"


def test_a_missing_form_is_one_reason_and_a_hint(tmp_path):
    result = runner.invoke(app, ["check", str(tmp_path), "--form", str(tmp_path / "无此表单.xlsx")])
    assert result.exit_code == 2
    assert "找不到指标体系（表单）" in result.output and "gd-dept-2020" in result.output and "提示：" in result.output


def test_a_project_form_is_refused_until_it_can_be_run(exported, tmp_path):
    kind = row(exported, "设置", "表式")
    form = edited(exported, tmp_path / "项目.xlsx", {("设置", f"B{kind}"): "项目支出"})
    result = runner.invoke(app, ["template", "--form", str(form), "-o", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 2 and "项目支出" in result.output and not (tmp_path / "t.xlsx").exists()
