"""The bundled samples give exactly the results examples/make_samples*.py promise, and the READMEs say so."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.findings import CATALOGUE
from perfxl.read.values import format_number

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLES = EXAMPLES / "returns-2020"
README = EXAMPLES.parent / "README.md"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _samples():
    return _load("make_samples")


@pytest.fixture(scope="module")
def projects():
    return _load("make_samples_projects")


@pytest.fixture(scope="module")
def batch(projects):
    """The sample folder run once as the README's first command runs it (both forms of the round)."""
    return projects.run()


def test_committed_samples_give_the_expected_results(batch):
    assert _samples().check(batch=batch) == []


def test_samples_regenerate_identically(tmp_path, projects):
    """Both scripts together rebuild the whole folder byte for byte; each leaves the other's files alone."""
    mod = _samples()
    mod.build(tmp_path / "r")
    projects.build(tmp_path / "r")
    mod.build(tmp_path / "r")  # a second department build keeps the project files
    assert mod.check(tmp_path / "r") == [] and projects.check(tmp_path / "r") == []
    committed = {p.relative_to(SAMPLES): p.read_bytes() for p in SAMPLES.rglob("*") if p.is_file()}
    rebuilt = {p.relative_to(tmp_path / "r"): p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert rebuilt == committed


# -- the project returns (form proj-2020, examples/make_samples_projects.py) ------------------------

def _number(d) -> str | None:
    return None if d is None else format_number(d)


def test_every_project_scores_as_the_script_says(projects, batch):
    """Per project: its sheet, name, totals, grades, the execution-rate cap and the codes on its sheet,
    as worked out by hand in the script; per file: its status and every code."""
    assert projects.check(batch=batch) == []
    got = {r.file: r for r in batch.files if projects.MARK in r.file}
    assert sorted(got) == sorted(f.file for f in projects.FILES)
    for pf in projects.FILES:
        r = got[pf.file]
        assert (r.form, r.status, sorted(f.code for f in r.findings)) == ("proj-2020", pf.status, pf.codes), pf.file
        have = [(p.sheet, p.project_name, _number(p.self_total), p.self_grade, _number(p.reviewed_total), p.reviewed_grade,
                 p.capped_by_execution, sorted(f.code for f in r.findings if f.sheet == p.sheet)) for p in r.projects]
        want = [(p.sheet, p.values["project_name"], *p.expect[:4], p.expect.capped, sorted(p.expect.codes))
                for p in pf.projects]
        assert have == want, pf.file


def test_the_project_samples_show_every_finding_of_section_13(projects):
    """Each new code of §13, the section 5 codes on a project sheet, the cap and a 定性 row appear in the
    samples; the first unit's file is clean."""
    codes = {c for pf in projects.FILES for c in pf.codes}
    assert {"weight-total", "weight-split", "deviation-unexplained", "target-too-low", "indicator-kinds",
            "spending-over-budget", "weight-changed", "score-differs", "total-mismatch", "grade-mismatch"} <= codes
    assert any(p.expect.capped for pf in projects.FILES for p in pf.projects)
    assert any(r["direction"] == "定性" for pf in projects.FILES for p in pf.projects for r in p.values["rows"])
    first = projects.FILES[0]
    assert first.file.startswith("440800001_中共湛江市委组织部本级") and first.codes == [] and first.status == "reviewed"
    names = [p.values["project_name"] for p in first.projects]
    assert "人才工作专项" in names and "基层党建专项" in names
    # the sample report's unit spent 2970.12 and carried 32.53 over: its projects fit both
    spent = sum(p.values["spent"] for p in first.projects)
    unspent = sum(p.values["budget_annual"] - p.values["spent"] for p in first.projects)
    assert spent < 2970 and str(unspent) == "32.53"


def test_one_unit_sends_its_projects_in_two_files_and_one_file_had_rows_inserted(projects, batch):
    by_code = Counter(f.unit["unit_code"] for f in projects.FILES)
    (twice,) = [code for code, n in by_code.items() if n == 2]
    files = [r for r in batch.files if r.unit_code == twice and r.form == "proj-2020"]
    assert len(files) == 2 and all(r.status == "reviewed" for r in files)  # different 项目名称: both kept
    # each file's outputs are told apart by what its own name adds (…_项目支出（体育）), not by _2
    from perfxl.write.naming import output_stems

    stems = {r.file: stem for r, stem in output_stems(batch) if r in files}
    assert sorted(stems.values()) == sorted(f"{Path(r.file).stem}" for r in files)
    water = next(r for r in batch.files if r.file == "440800007_湛江市水务局本级_项目支出.xlsx")
    rows = {p.sheet: [i.row for i in p.indicators] for p in water.projects}
    assert rows["水库除险加固"] == list(range(15, 23))  # 6 typed + 2 inserted at row 18
    assert rows["农村供水"] == [15, 16, 17, 18, 19, 45, 46]  # 2 inserted above the 合计 row
    assert water.projects[2].cells["score_total"] == ("农村供水", "I48")  # the name moved down with its cell


def test_project_samples_check_mode_verifies_results_and_identical_regeneration(projects):
    assert projects.main(["--check"]) == 0
    assert projects.regenerated_identically() == []


def test_the_examples_readme_lists_the_projects_as_the_script_expects(projects):
    readme = (EXAMPLES / "README.md").read_text("utf-8")
    assert f"{projects.BEGIN}\n{projects.section()}\n{projects.END}" in readme
    for pf in projects.FILES:
        assert f"**`{pf.file}`**" in readme
        for p in pf.projects:
            assert f"| {p.sheet} | {p.values['project_name']} |" in readme


# -- README claims about the sample folder ---------------------------------------------------------

def _folder_counts(projects) -> tuple[int, int, int, int]:
    """(units, files, department files, project files) of the sample folder, from its file names."""
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    units = {m[1] for p in files if (m := re.search(r"(\d{9})_", p.name))}
    project_files = [p for p in files if projects.MARK in p.name]
    return len(units), len(files), len(files) - len(project_files), len(project_files)


def test_the_readmes_count_the_sample_folder(projects):
    units, files, dept, proj = _folder_counts(projects)
    assert (units, files, dept, proj) == (15, 26, len(_samples().EXPECTED), len(projects.FILES))
    line = f"（湛江市 2020 年度，{units} 个单位报回的 {files} 个文件：{dept} 个部门整体支出自评表、{proj} 个项目支出自评表）"
    assert line in README.read_text("utf-8")
    intro = (EXAMPLES / "README.md").read_text("utf-8").replace("\n", "")
    assert f"{units} 个单位报回的 {files} 个文件——{dept} 个部门整体支出绩效自评文件" in intro
    n_units = len({f.unit["unit_code"] for f in projects.FILES})
    n_projects = sum(len(f.projects) for f in projects.FILES)
    assert f"{n_units} 个单位的 {proj} 个项目支出绩效自评文件（表单 `proj-2020`，共 {n_projects} 个项目" in intro


TRANSCRIPT = "$ perfxl run examples/returns-2020 --out output\n"
STATUS_LABELS = {"reviewed": "已审核", "error": "有错误", "unreadable": "无法读取", "duplicate": "重复已忽略", "ignored": "已忽略"}


def _shown_transcript() -> str:
    readme = README.read_text("utf-8")
    start = readme.index(TRANSCRIPT) + len(TRANSCRIPT)
    return readme[start:readme.index("```", start)]


def test_the_readme_transcript_is_a_real_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    result = CliRunner().invoke(app, ["run", "examples/returns-2020", "--out", "output"])
    assert result.exit_code == 0, result.output
    assert result.output == _shown_transcript()


def test_the_readme_transcript_counts_what_the_scripts_expect(projects):
    """Every number of the README's closing table, derived from the two scripts' expectations (not from a run)."""
    dept, totals = _samples().EXPECTED, _samples().TOTALS
    files = [(status, codes) for status, codes in dept.values()] + [(f.status, f.codes) for f in projects.FILES]

    def label(status, codes):
        return "模板不符" if {"template-mismatch", "not-a-template"} & set(codes) else STATUS_LABELS[status]

    statuses = Counter(label(s, c) for s, c in files)
    unit_grades = Counter(t[3] or "未定级" for file, t in totals.items() if dept[file][0] in ("reviewed", "error"))
    scored_projects = [p for f in projects.FILES if f.status in ("reviewed", "error") for p in f.projects]
    project_grades = Counter(p.expect.reviewed_grade or "未定级" for p in scored_projects)
    severities = Counter(CATALOGUE[code][0].value for _, codes in files for code in codes)
    expected = [("文件", len(files))]
    expected += [(f"  {s}", statuses[s]) for s in ("已审核", "有错误", "无法读取", "模板不符", "重复已忽略", "已忽略") if statuses[s]]
    expected += [("已评分单位", sum(unit_grades.values()))]
    expected += [(f"  {g}", unit_grades[g]) for g in ("优秀", "良好", "中", "差", "未定级") if unit_grades[g]]
    expected += [("已评分项目", len(scored_projects))]
    expected += [(f"  {g}", project_grades[g]) for g in ("优秀", "良好", "中", "差", "未定级") if project_grades[g]]
    expected += [("错误", severities["error"]), ("警告", severities["warning"])]
    rows = [(m[1].rstrip(), int(m[2])) for m in re.finditer(r"^│ (.+?) │\s+(\d+) │$", _shown_transcript(), re.M)]
    assert rows == expected
    returned = {code for code, (status, _) in zip((f.split("_")[0].split("/")[-1] for f in dept), dept.values(),
                                                    strict=True) if status in ("error", "unreadable")}
    returned |= {f.unit["unit_code"] for f in projects.FILES if f.status == "error"}
    shown = _shown_transcript()
    files = sum(1 for status, _ in dept.values() if status in ("error", "unreadable"))
    files += sum(1 for f in projects.FILES if f.status == "error")
    assert f"需退回更正的单位 {len(returned)} 个（文件 {files} 个）：" in shown
    reports = sum(1 for f, (s, _) in dept.items() if s in ("reviewed", "error")) + len(projects.FILES)
    assert f"单位报告：output/reports（{reports} 份）" in shown


# -- the second built-in form's samples (examples/returns-hunan-2020, form hn-dept-2020) -----------

def _hunan():
    spec = importlib.util.spec_from_file_location("make_samples_hunan", EXAMPLES / "make_samples_hunan.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_hunan_samples_give_the_expected_results_and_the_readme_says_so():
    mod = _hunan()
    batch = mod.run()
    assert mod.check(batch=batch) == []
    readme = (EXAMPLES / "README.md").read_text("utf-8")
    assert f"{mod.BEGIN}\n{mod.table(batch)}\n{mod.END}" in readme  # the table is this run's
    assert "perfxl run examples/returns-hunan-2020 --form hn-dept-2020 --out output-hunan" in readme
    assert "perfxl run examples/returns-hunan-2020 --form hn-dept-2020 --out output-hunan" in \
        (EXAMPLES.parent / "README.md").read_text("utf-8")


def test_hunan_samples_regenerate_identically(tmp_path):
    mod = _hunan()
    mod.build(tmp_path / "r")
    committed = {p.name: p.read_bytes() for p in (EXAMPLES / "returns-hunan-2020").iterdir()}
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == committed


def test_hunan_run_counts_and_a_check_of_its_own_form(tmp_path):
    """The README's command: 5 files, 2 reviewed and 3 to correct; the 教育局's “三公” parts do not add up,
    a 校验 row only hn-dept-2020 has, on the cell of 本年“三公”经费决算数."""
    import json
    from collections import Counter

    import openpyxl
    from typer.testing import CliRunner

    from perfxl.cli import app

    out = tmp_path / "output-hunan"
    ran = CliRunner().invoke(app, ["run", str(EXAMPLES / "returns-hunan-2020"), "--form", "hn-dept-2020",
                                   "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    assert "需退回更正的单位 3 个" in ran.output and "sangong-sum-mismatch" in ran.output
    doc = json.loads((out / "results.json").read_text("utf-8"))
    assert doc["rubric"] == "hn-dept-2020" and len(doc["files"]) == 5
    assert Counter(f["status"] for f in doc["files"]) == {"reviewed": 2, "error": 3}
    assert [f["reviewed_grade"] for f in doc["files"]] == ["优秀", "优秀", "良好", "优秀", "优秀"]
    education = next(f for f in doc["files"] if f["unit_code"] == "430522002")
    (found,) = [f for f in education["findings"] if f["code"] == "sangong-sum-mismatch"]
    wb = openpyxl.load_workbook(EXAMPLES / "returns-hunan-2020" / education["file"])
    (sheet, ref), = wb.defined_names["sangong_actual"].destinations
    assert (found["severity"], found["sheet"], found["cell"]) == ("error", sheet, ref.replace("$", ""))
    assert "11.70" in found["message"] and "12.90" in found["message"] and "相差 1.20" in found["message"]
    assert len(list((out / "reports").glob("*.md"))) == 5 and len(list((out / "feedback").glob("*.xlsx"))) == 3
