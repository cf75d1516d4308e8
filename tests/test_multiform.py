"""Several forms in one batch (spec §12): `--form` repeated, each file read by the form its `_meta` names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC, good_values
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import Options
from perfxl.read.intake import discover
from perfxl.run.pipeline import run_candidates
from perfxl.write.fill import fill_workbook
from perfxl.write.template import build_template

#: a second department form: another id and a later deadline (7月20日), the same fields and indicators
OTHER = dataclasses.replace(RUBRIC, id="other-dept-2020", name="另一部门整体支出表",
                            deadline_rule={"year_offset": 1, "month": 7, "day": 20})
GD_TOML = Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml"
LATE_FOR_GD = dt.date(2021, 6, 25)  # after 6月20日, before 7月20日


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    gd_t, other_t = root / "gd.xlsx", root / "other.xlsx"
    build_template(gd_t, RUBRIC)
    build_template(other_t, OTHER)
    box = root / "inbox"
    box.mkdir()
    fill_workbook(gd_t, {**good_values(), "unit_code": "U1", "filing_date": LATE_FOR_GD}, box / "gd-U1.xlsx")
    # the same unit in the other form: never a duplicate of its gd-dept-2020 file
    fill_workbook(other_t, {**good_values(), "unit_code": "U1", "filing_date": LATE_FOR_GD}, box / "other-U1.xlsx")
    fill_workbook(gd_t, {**good_values(), "unit_code": "U2"}, box / "unknown-U2.xlsx")
    wb = openpyxl.load_workbook(box / "unknown-U2.xlsx")
    meta = wb["_meta"]
    for row in meta.iter_rows():
        if row[0].value == "rubric_id":
            row[1].value = "no-such-form"
    wb.save(box / "unknown-U2.xlsx")
    fill_workbook(other_t, {**good_values(), "unit_code": "U3"}, box / "nometa-U3.xlsx")
    wb = openpyxl.load_workbook(box / "nometa-U3.xlsx")
    del wb["_meta"]
    wb.save(box / "nometa-U3.xlsx")
    return box


def _by_file(batch):
    return {r.file: r for r in batch.files}


def test_each_file_is_read_by_the_form_its_meta_names(inbox):
    opts = dataclasses.replace(Options.for_rubric(RUBRIC), others=(OTHER,))
    files = _by_file(run_candidates(discover(inbox), opts, jobs=1))
    gd, other = files["gd-U1.xlsx"], files["other-U1.xlsx"]
    assert (gd.form, other.form) == ("gd-dept-2020", "other-dept-2020")
    # each by its own deadline: late for gd-dept-2020 (6月20日), in time for the other (7月20日)
    assert "late-submission" in {f.code for f in gd.findings}
    assert "late-submission" not in {f.code for f in other.findings}
    assert gd.status == other.status == "reviewed"
    assert "duplicate-submission" not in {f.code for r in (gd, other) for f in r.findings}


def test_a_form_the_batch_lacks_is_a_template_mismatch_naming_the_batch_forms(inbox):
    opts = dataclasses.replace(Options.for_rubric(RUBRIC), others=(OTHER,))
    unknown = _by_file(run_candidates(discover(inbox), opts, jobs=1))["unknown-U2.xlsx"]
    assert unknown.status == "unreadable"
    [mismatch] = [f for f in unknown.findings if f.code == "template-mismatch"]
    assert "no-such-form" in mismatch.message and "gd-dept-2020、other-dept-2020" in mismatch.message
    assert mismatch.sheet == "_meta" and mismatch.cells


def test_a_file_without_meta_is_read_by_the_first_form(inbox):
    for first, others in ((RUBRIC, (OTHER,)), (OTHER, (RUBRIC,))):
        opts = dataclasses.replace(Options.for_rubric(first), others=others)
        nometa = _by_file(run_candidates(discover(inbox), opts, jobs=1))["nometa-U3.xlsx"]
        assert nometa.form == first.id
        assert "meta-missing" in {f.code for f in nometa.findings}


def test_the_same_unit_twice_in_one_form_is_still_a_duplicate(inbox, tmp_path):
    box = tmp_path / "dups"
    box.mkdir()
    for name in ("gd-U1.xlsx", "other-U1.xlsx"):
        (box / name).write_bytes((inbox / name).read_bytes())
    (box / "gd-U1-again.xlsx").write_bytes((inbox / "gd-U1.xlsx").read_bytes())
    opts = dataclasses.replace(Options.for_rubric(RUBRIC), others=(OTHER,))
    files = _by_file(run_candidates(discover(box), opts, jobs=1))
    statuses = {name: r.status for name, r in files.items()}
    assert sorted(statuses.values()) == ["duplicate", "reviewed", "reviewed"]
    assert statuses["other-U1.xlsx"] == "reviewed"


def test_cli_takes_form_repeated(inbox, tmp_path):
    toml = tmp_path / "other.toml"
    text = GD_TOML.read_text("utf-8")
    text = text.replace('id = "gd-dept-2020"', 'id = "other-dept-2020"').replace(
        "deadline = { year_offset = 1, month = 6, day = 20 }", "deadline = { year_offset = 1, month = 7, day = 20 }")
    toml.write_text(text, "utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(inbox), "--out", str(out), "--form", "gd-dept-2020", "--form", str(toml)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text("utf-8"))
    forms = {f["file"]: f.get("form") for f in data["files"]}
    assert forms["gd-U1.xlsx"] == "gd-dept-2020" and forms["other-U1.xlsx"] == "other-dept-2020"


def test_two_different_forms_with_one_id_are_refused(tmp_path):
    toml = tmp_path / "same-id.toml"
    text = GD_TOML.read_text("utf-8").replace("{ min = 90, label = \"优秀\" }", "{ min = 85, label = \"优秀\" }")
    toml.write_text(text, "utf-8")
    result = CliRunner().invoke(app, ["check", str(tmp_path), "--form", "gd-dept-2020", "--form", str(toml)])
    assert result.exit_code == 2
    assert "两个编号同为 gd-dept-2020" in result.output and "提示：" in result.output and "Traceback" not in result.output


def test_each_department_form_has_its_own_indicator_sheet(tmp_path):
    """A batch of gd-dept-2020 and hn-dept-2020 files: 指标得分 holds the first form's indicators,
    指标得分（hn-dept-2020） the other's, each file on its own form's sheet only."""
    from perfxl.spec.form import builtin_form

    hn = builtin_form("hn-dept-2020").rubric
    box = tmp_path / "in"
    box.mkdir()
    hunan = sorted((Path(__file__).resolve().parent.parent / "examples" / "returns-hunan-2020").glob("*.xlsx"))[0]
    (box / hunan.name).write_bytes(hunan.read_bytes())
    gd_t = tmp_path / "gd.xlsx"
    build_template(gd_t, RUBRIC)
    fill_workbook(gd_t, {**good_values(), "unit_code": "G1"}, box / "gd-G1.xlsx")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(box), "--out", str(out), "--form", "gd-dept-2020", "--form", "hn-dept-2020"])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out / "summary.xlsx", read_only=True)
    assert wb.sheetnames[:3] == ["汇总", "指标得分", "指标得分（hn-dept-2020）"]
    gd_rows = list(wb["指标得分"].iter_rows(values_only=True))
    hn_rows = list(wb["指标得分（hn-dept-2020）"].iter_rows(values_only=True))
    assert gd_rows[0][2] == f"{RUBRIC.indicators[0].code} 自评" and hn_rows[0][2] == f"{hn.indicators[0].code} 自评"
    assert len(gd_rows[0]) == 2 + 2 * len(RUBRIC.indicators) + 2 and len(hn_rows[0]) == 2 + 2 * len(hn.indicators) + 2
    assert [r[0] for r in gd_rows[1:]] == ["G1"]
    assert [r[0] for r in hn_rows[1:]] == [hunan.name.split("_")[0]]


def test_a_bureau_writes_its_own_project_form_in_toml(tmp_path):
    """A copy of proj-2020.toml with another id, year and cap (执行率 < 85 % caps at 85) is a form:
    form check, template and run take it, and its cap is the one that bites."""
    from decimal import Decimal

    from perfxl.spec.formbook import load_form
    from perfxl.write.fill_project import fill_projects

    src = (Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "forms" / "proj-2020.toml").read_text("utf-8")
    text = src.replace('id = "proj-2020"', 'id = "zj-proj-2021"').replace("year = 2020", "year = 2021")
    text = "\n".join('caps = "85%:85"' if line.startswith("caps = ") else line for line in text.splitlines())
    own = tmp_path / "本局项目表.toml"
    own.write_text(text, "utf-8")
    form, problems = load_form(own)
    assert problems == [] and form.id == "zj-proj-2021" and form.caps == ((Decimal("0.85"), Decimal("85")),)
    runner = CliRunner()
    assert runner.invoke(app, ["form", "check", str(own)]).exit_code == 0
    template = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["template", "--form", str(own), "-o", str(template)]).exit_code == 0
    rows = [{"level1": "产出指标", "level2": "数量指标", "name": "培训人次", "direction": "≥", "target": "100人次",
             "actual": "100人次", "weight": 50, "self_score": 50},
            {"level1": "效益指标", "level2": "社会效益指标", "name": "能力提升", "direction": "定性", "target": "提升",
             "actual": "提升", "weight": 30, "self_score": 30},
            {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "满意度", "direction": "≥", "target": "90%",
             "actual": "95%", "weight": 10, "self_score": 10}]
    # 执行率 82 / 100 = 82 %: 8.20 + 90 = 98.20, above 85 → capped at 85 by this form (proj-2020 would cap at 89 below 80 % only)
    project = {"project_name": "干部培训", "unit_name": "测试局", "unit_code": "T9", "eval_year": 2021, "budget_initial": 100,
               "budget_annual": 100, "spent": 82, "exec_score": 8.2, "exec_reason": "年底结转", "target_text": "培训",
               "outcome_text": "完成", "score_total": 98.2, "grade_self": "优秀", "filing_date": dt.date(2022, 6, 1), "rows": rows}
    box = tmp_path / "in"
    box.mkdir()
    fill_projects(template, form, [project], box / "T9_项目支出.xlsx")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(box), "--out", str(out), "--form", str(own)])
    assert result.exit_code == 0, result.output
    [entry] = json.loads((out / "results.json").read_text("utf-8"))["files"]
    [p] = entry["projects"]
    assert entry["form"] == "zj-proj-2021" and p["reviewed_total"] == 85 and p["capped_by_execution"] is True


def test_a_deadline_given_on_the_command_line_holds_for_every_form(inbox, tmp_path):
    """--deadline 2021-06-30: the other form's 7月20日 no longer applies, in the checks, the
    terminal's header and the reports alike."""
    toml = tmp_path / "other.toml"
    toml.write_text(GD_TOML.read_text("utf-8").replace('id = "gd-dept-2020"', 'id = "other-dept-2020"').replace(
        "deadline = { year_offset = 1, month = 6, day = 20 }", "deadline = { year_offset = 1, month = 7, day = 20 }"), "utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(inbox), "--out", str(out), "--form", "gd-dept-2020", "--form", str(toml),
                                      "--deadline", "2021-06-24"])
    assert result.exit_code == 0, result.output
    assert "other-dept-2020（部门整体，报送截止 2021-06-24）" in result.output
    data = json.loads((out / "results.json").read_text("utf-8"))
    late = {f["file"]: any(x["code"] == "late-submission" for x in f["findings"]) for f in data["files"]}
    assert late["other-U1.xlsx"] and late["gd-U1.xlsx"]  # 6月25日 is after 6月24日 for both
    report = (out / "reports" / "U1_测试市测试局_2.md")
    texts = [p.read_text("utf-8") for p in (out / "reports").glob("U1_*.md")]
    assert report.exists() and all("2021年6月24日" in t for t in texts)
