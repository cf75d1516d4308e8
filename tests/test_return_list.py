"""The return list is complete and right (issue 11): every file its unit must send again is named
in Chinese and gets feedback, unreadable files too; with a roster, 需重报 is never 未报送; the
adjustments, --year and --deadline stop a run that was set up wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.cli.closing import returned_lines
from perfxl.findings import Finding
from perfxl.model import BatchResult, FileResult, Options
from perfxl.read.roster import Roster, RosterUnit
from perfxl.review.ledger import attributed_unit, must_send_again, resubmit_units
from perfxl.run.pipeline import process_file
from perfxl.run.worker import internal_error
from perfxl.write.feedback import write_feedback

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "returns-2020"
GOOD = "440800001_中共湛江市委组织部本级.xlsx"
BALANCE = "440800002_湛江市统计局本级.xlsx"
OLD_TEMPLATE = "440800013_湛江市审计局本级.xlsx"
NOT_TEMPLATE = "440800014_湛江市民政局本级.xlsx"
WEB_PAGE = "440800015_湛江市人力资源和社会保障局本级.xls"
runner = CliRunner()


def inbox(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def run(*args: str):
    return runner.invoke(app, ["run", *args, "--jobs", "1"])


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples") / "out"
    result = run(str(EXAMPLES), "--out", str(out))
    assert result.exit_code == 0, result.output
    return result.output, out


# -- who is returned -----------------------------------------------------------------------------


def test_every_file_that_is_not_usable_is_on_the_return_list_in_chinese(samples):
    output, _ = samples
    _, _, rest = output.partition("需退回更正的单位 9 个（文件 12 个）：\n")  # 3 units return project files too
    assert rest, output
    listed = rest.split("输出文件夹")[0]
    assert "440800013 湛江市审计局本级（需重报：模板版本或指标体系不符 template-mismatch）" in listed
    assert f"（无编码）{NOT_TEMPLATE}（需重报：不是本次下发的模板 not-a-template）" in listed
    assert f"（无编码）{WEB_PAGE}（需重报：文件无法读取 file-unreadable）" in listed
    assert "440800002 湛江市统计局本级（收支不平衡 balance-mismatch）" in listed
    # reviewed, duplicate and ignored files are not returned
    assert "440800001" not in listed and "交通运输局" not in listed and "~$" not in listed


def test_unreadable_files_get_feedback_and_a_known_unit_a_fresh_prefilled_template(samples):
    _, out = samples
    feedback = out / "feedback"
    old = openpyxl.load_workbook(feedback / OLD_TEMPLATE)
    assert old.sheetnames == ["审核意见", "填报说明", "基础数据表", "评分表", "_meta"]
    review = [c for row in old["审核意见"].iter_rows(values_only=True) for c in row if c]
    assert any("退回重报" in str(c) for c in review) and "template-mismatch" in review
    assert {"unit_code", "eval_year", "income_total"} <= set(old.defined_names)  # the template, names and all
    meta = {r[0]: r[1] for r in old["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "440800013" and str(meta["year"]) == "2020"
    # an unknown unit gets the 审核意见 alone: no template can be pre-filled for nobody
    for name in (NOT_TEMPLATE, WEB_PAGE):
        (path,) = feedback.glob(f"*{Path(name).stem}.xlsx")
        assert openpyxl.load_workbook(path).sheetnames == ["审核意见"]


def test_the_returned_template_reads_as_a_normal_submission_of_its_unit(samples, tmp_path):
    _, out = samples
    back = tmp_path / "back.xlsx"
    shutil.copy(out / "feedback" / OLD_TEMPLATE, back)
    result = process_file(back, "back.xlsx", Options.for_rubric(RUBRIC))
    assert result.status == "error"  # read and scored: only the unit's figures are missing
    assert result.unit_code == "440800013" and result.unit_name == "湛江市审计局本级"
    assert {f.code for f in result.findings} >= {"missing-value"}
    assert not {f.code for f in result.findings} & {"template-mismatch", "not-a-template", "file-unreadable"}


def test_perfxls_own_failure_is_not_returned_to_the_unit(tmp_path):
    broken = internal_error("x.xlsx", RuntimeError("boom"))
    good = FileResult("g.xlsx", status="reviewed", unit_code="T1")
    assert broken.status == "unreadable" and not must_send_again(broken)
    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020), files=[broken, good])
    assert returned_lines(batch) == []
    assert write_feedback(batch, tmp_path, tmp_path / "out") == []


# -- the roster: 需重报, never 未报送 --------------------------------------------------------------


ROSTER = ("单位编码,单位名称,主管部门\n"
          "440800001,中共湛江市委组织部本级,中共湛江市委\n"
          "440800013,湛江市审计局本级,湛江市人民政府\n"
          "440800014,湛江市民政局本级,湛江市人民政府\n"
          "440800015,湛江市人力资源和社会保障局本级,湛江市人民政府\n"
          "440800099,湛江市未报送局本级,湛江市人民政府\n")


@pytest.fixture(scope="module")
def with_roster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roster")
    folder = inbox(tmp, GOOD, OLD_TEMPLATE, NOT_TEMPLATE, WEB_PAGE)
    roster = tmp / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp / "out"
    result = run(str(folder), "--out", str(out), "--roster", str(roster))
    assert result.exit_code == 0, result.output
    return result.output, out


def test_units_whose_files_are_all_unreadable_are_resubmit_never_not_submitted(with_roster):
    output, out = with_roster
    data = json.loads((out / "results.json").read_text("utf-8"))
    assert [u["unit_code"] for u in data["not_submitted"]] == ["440800099"]
    assert [f["unit_code"] for f in data["findings"] if f["code"] == "not-submitted"] == ["440800099"]
    summary = openpyxl.load_workbook(out / "summary.xlsx")
    missing = [row[0] for row in summary["未报送"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert missing == ["440800099"]
    assert "需重报单位（名单内）" in output
    _, _, tail = output.partition("名单中需重报的单位 3 个")
    assert all(code in tail.split("输出文件夹")[0] for code in ("440800013", "440800014", "440800015"))


def test_the_terminal_names_the_units_not_submitted(with_roster):
    output, _ = with_roster
    _, _, tail = output.partition("名单中未报送的单位 1 个：\n")
    assert tail.splitlines()[0] == "  440800099 湛江市未报送局本级（主管部门：湛江市人民政府）"


def test_a_file_without_a_readable_code_is_attributed_by_its_name(with_roster):
    output, out = with_roster
    data = json.loads((out / "results.json").read_text("utf-8"))
    entry = next(f for f in data["files"] if f["file"] == NOT_TEMPLATE)
    assert entry["unit_code"] == "440800014" and entry["unit_name"] == "湛江市民政局本级"
    assert "按文件名归属于名单中的单位 440800014「湛江市民政局本级」" in entry["findings"][0]["message"]
    assert "440800014 湛江市民政局本级（需重报：不是本次下发的模板 not-a-template）" in output
    # now known, the unit gets this round's template pre-filled from the roster
    book = openpyxl.load_workbook(out / "feedback" / "440800014_湛江市民政局本级.xlsx")
    assert book.sheetnames[0] == "审核意见" and "基础数据表" in book.sheetnames
    meta = {r[0]: r[1] for r in book["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "440800014"


UNITS = Roster(Path("名单.csv"), [RosterUnit("440800001", "湛江市民政局"), RosterUnit("440800002", "湛江市民政局本级"),
                                RosterUnit("440800003", "湛江市审计局本级")])


@pytest.mark.parametrize(("name", "code"), [
    ("sub/440800003.xlsx", "440800003"),
    ("湛江市审计局本级自评表.xls", "440800003"),
    ("湛江市民政局本级.xlsx", "440800002"),  # 湛江市民政局 is only part of the longer name
    ("湛江市 民政局.xlsx", "440800001"),  # spaces folded
    ("4408000012_x.xlsx", None),  # 440800001 is not a code standing on its own here
    ("440800001_湛江市审计局本级.xlsx", None),  # a code of one unit and the name of another
    ("440800001_440800003.xlsx", None),
    ("自评表.xlsx", None),
])
def test_attribution_needs_exactly_one_unit_in_the_name(name, code):
    unit = attributed_unit(name, UNITS)
    assert (unit.code if unit else None) == code


def test_resubmit_needs_every_file_of_the_unit_unusable():
    unreadable = FileResult("a.xls", status="unreadable", unit_code="440800003",
                            findings=[Finding("not-a-template", "x")])
    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020), files=[unreadable])
    assert [u["unit_code"] for u in resubmit_units(batch, UNITS)] == ["440800003"]
    batch.files.append(FileResult("b.xlsx", status="error", unit_code="440800003"))
    assert resubmit_units(batch, UNITS) == []  # it also sent a file that was reviewed


# -- runs set up wrong stop before anything is written -------------------------------------------


def test_an_adjustment_for_a_unit_nowhere_stops_the_run_naming_the_row(tmp_path):
    folder = inbox(tmp_path, GOOD)
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    adjust = tmp_path / "调整.csv"
    adjust.write_text("单位编码,指标编码,核定得分,理由\n440800001,B4,4,核查\n44080001,B4,3,核查\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run(str(folder), "--out", str(out), "--roster", str(roster), "--adjust", str(adjust))
    assert result.exit_code == 2, result.output
    assert "第 3 行 A 列「单位编码」：单位编码 44080001 不在本批次和名单中，请核对" in result.output
    assert "提示：" in result.output and "Traceback" not in result.output
    assert not (out / "results.json").exists() and not (out / "feedback").exists()
    # without a roster, the batch alone decides
    result = run(str(folder), "--out", str(out), "--adjust", str(adjust))
    assert result.exit_code == 2 and "单位编码 44080001 不在本批次中" in result.output


def test_an_adjustment_for_a_roster_unit_that_sent_nothing_is_a_warning_in_the_closing_table(tmp_path):
    folder = inbox(tmp_path, GOOD)
    roster = tmp_path / "名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    adjust = tmp_path / "调整.csv"
    adjust.write_text("单位编码,指标编码,核定得分,理由\n440800099,B4,3,核查\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run(str(folder), "--out", str(out), "--roster", str(roster), "--adjust", str(adjust))
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if line.startswith("警告：单位 440800099"))
    assert "没有报送文件" in warning and "第 2 行" in warning and "未使用" in warning
    data = json.loads((out / "results.json").read_text("utf-8"))
    assert ("adjustment-unused", "440800099") in [(f["code"], f["unit_code"]) for f in data["findings"]]


def test_every_file_of_another_year_stops_the_run_with_the_year_to_use(tmp_path):
    folder = inbox(tmp_path, GOOD, BALANCE)
    out = tmp_path / "out"
    assert run(str(folder), "--out", str(out)).exit_code == 0
    before = {p: p.read_bytes() for p in (out / "feedback").iterdir()}
    result = run(str(folder), "--out", str(out), "--year", "2021")
    assert result.exit_code == 2, result.output
    assert "评价年度都是 2020" in result.output and "提示：如本次复核的是 2020 年度，请加上 --year 2020" in result.output
    assert "year-mismatch" not in result.output
    # no output was written; as after any failed run, results.json is gone and the clerk is told
    assert {p: p.read_bytes() for p in (out / "feedback").iterdir()} == before
    assert not (out / "results.json").exists() and "不完整" in result.output
    assert run(str(folder), "--out", str(out)).exit_code == 0 and (out / "results.json").exists()


def test_one_file_of_another_year_is_that_units_mistake(tmp_path):
    folder = inbox(tmp_path, GOOD)
    out = tmp_path / "out"
    result = run(str(folder), "--out", str(out), "--year", "2021")
    assert result.exit_code == 0, result.output
    assert "year-mismatch" in result.output


@pytest.mark.parametrize("deadline", ["2021-06-20", "2021/6/20", "2021.6.20", "2021年6月20日", "２０２１年６月２０日",
                                      "20210620"])
def test_deadline_takes_every_date_form_a_workbook_takes(tmp_path, deadline):
    folder = inbox(tmp_path, GOOD)
    out = tmp_path / "out"
    result = run(str(folder), "--out", str(out), "--deadline", deadline)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results.json").read_text("utf-8"))["deadline"] == "2021-06-20"


@pytest.mark.parametrize("deadline", ["2021-13-01", "6月20日", "明天"])
def test_a_bad_deadline_is_a_usage_error(tmp_path, deadline):
    result = runner.invoke(app, ["check", str(EXAMPLES / GOOD), "--deadline", deadline])
    assert result.exit_code == 2
    assert "截止日期" in result.output and "2021年6月20日" in result.output


def test_the_readme_transcript_is_a_real_run(tmp_path, monkeypatch):
    readme = (EXAMPLES.parent.parent / "README.md").read_text("utf-8")
    command = "$ perfxl run examples/returns-2020 --out output\n"
    start = readme.index(command) + len(command)
    shown = readme[start:readme.index("```", start)]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(EXAMPLES.parent)
    result = runner.invoke(app, ["run", "examples/returns-2020", "--out", "output"])
    assert result.exit_code == 0
    assert result.output == shown
