"""Problems a review found, each pinned by the input that showed it."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC, codes
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import Limits, Options
from perfxl.read.intake import discover
from perfxl.run.pipeline import run_batch
from perfxl.run.state import State

runner = CliRunner()


def test_input_inside_the_output_folder_is_refused(tmp_path, make_return):
    make_return("out/feedback/a.xlsx")
    before = (tmp_path / "out" / "feedback" / "a.xlsx").read_bytes()
    result = runner.invoke(app, ["run", str(tmp_path / "out" / "feedback"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "位于输出文件夹" in result.output
    assert (tmp_path / "out" / "feedback" / "a.xlsx").read_bytes() == before


def test_an_output_path_that_is_a_file_is_a_usage_error(tmp_path, make_return):
    make_return("in/a.xlsx")
    (tmp_path / "out.txt").write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(tmp_path / "out.txt")])
    assert result.exit_code == 2 and "不是文件夹" in result.output


def test_huge_numbers_are_findings_not_crashes(make_return, evaluate):
    res = evaluate(make_return(income_total=1e30, score_A1=1e30))
    assert res.status == "error"
    assert "value-out-of-range" in codes(res) and "score-out-of-range" in codes(res)
    assert res.reviewed_total is None


def test_unit_names_are_never_terminal_markup(tmp_path, make_return):
    make_return("in/a.xlsx", unit_name="测试[/]局[red]", carryover_end=Decimal("42.53"))
    result = runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "测试[/]局[red]" in result.output


def test_results_json_is_removed_when_the_run_starts(tmp_path, make_return, monkeypatch):
    import perfxl.run.job

    make_return("in/a.xlsx")
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(out)]).exit_code == 0
    assert (out / "results.json").exists()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(perfxl.run.job, "run_candidates", interrupted)
    with pytest.raises(KeyboardInterrupt):
        perfxl.run.job.run_job(discover(tmp_path / "in"), Options.for_rubric(RUBRIC), tmp_path / "in", out)
    assert not (out / "results.json").exists()  # a run that did not finish leaves no results.json


def test_editing_an_output_template_renders_the_reports_again(tmp_path, monkeypatch):
    import shutil

    import perfxl.resources
    import perfxl.write.report
    from perfxl.run.state import code_fingerprint

    copy = tmp_path / "templates"
    shutil.copytree(perfxl.resources.templates_dir(), copy)
    monkeypatch.setattr(perfxl.resources, "templates_dir", lambda: copy)
    monkeypatch.setattr(perfxl.write.report, "templates_dir", lambda: copy)
    code_fingerprint.cache_clear()
    before = code_fingerprint()
    (copy / "report.md.j2").write_text((copy / "report.md.j2").read_text("utf-8") + "\n", encoding="utf-8")
    code_fingerprint.cache_clear()
    try:
        assert code_fingerprint() != before
    finally:
        code_fingerprint.cache_clear()


@pytest.mark.slow
def test_a_fifo_in_the_folder_costs_its_time_limit_not_the_batch(tmp_path, make_return):
    make_return("in/a.xlsx")
    os.mkfifo(tmp_path / "in" / "pipe.xlsx")
    options = replace(Options.for_rubric(RUBRIC), limits=Limits(seconds=2))
    batch = run_batch(tmp_path / "in", options, jobs=1, state=State(tmp_path / "out"))
    got = {r.file: r for r in batch.files}
    assert got["a.xlsx"].status == "reviewed"
    assert [f.code for f in got["pipe.xlsx"].findings] == ["file-unsafe"]


def test_files_in_hidden_folders_are_listed_not_read(tmp_path, make_return):
    make_return("in/.git/objects/x.xlsx")
    make_return("in/a.xlsx")
    batch = run_batch(tmp_path / "in", Options.for_rubric(RUBRIC), jobs=1)
    got = {r.file: r for r in batch.files}
    assert got[".git/objects/x.xlsx"].status == "ignored"
    assert "隐藏文件夹" in got[".git/objects/x.xlsx"].findings[0].message


def test_one_missing_value_per_blank_cell(make_return, evaluate):
    # sangong_budget feeds A4 and B2; both other inputs are filled
    res = evaluate(make_return(sangong_budget=None))
    missing = [f for f in res.findings if f.code == "missing-value"]
    assert len(missing) == 1


def test_a_renamed_score_column_is_one_finding(make_return, evaluate):
    path = make_return()
    wb = openpyxl.load_workbook(path)
    ws = wb["评分表"]
    for cell in ws[3]:
        if cell.value == "自评得分":
            cell.value = "得分情况"
    wb.save(path)
    res = evaluate(path)
    about_column = [f for f in res.findings if "自评得分”列" in f.message]
    assert len(about_column) == 1
    assert not any("None" in f.message for f in res.findings)


def test_rubric_errors_reach_the_cli_as_exit_2(tmp_path, make_return):
    text = (Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml").read_text("utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("weight = 15", 'weight = "十五"', 1), encoding="utf-8")
    make_return("in/a.xlsx")
    result = runner.invoke(app, ["run", str(tmp_path / "in"), "--rubric", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "不是数字" in result.output


def test_duplicates_compare_modified_times_as_times():
    from perfxl.model import FileResult
    from perfxl.run.duplicates import resolve_duplicates

    def result(name: str, modified: str) -> FileResult:
        return FileResult(file=name, unit_code="U1", fields={"filing_date": None}, modified=modified)

    # 09:30+08:00 is 01:30Z, earlier than 02:00Z although it sorts later as text
    early, late = result("z.xlsx", "2021-06-10T09:30:00+08:00"), result("a.xlsx", "2021-06-10T02:00:00Z")
    resolve_duplicates([early, late])
    assert late.status != "duplicate" and early.status == "duplicate"
