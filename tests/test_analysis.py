"""perfxl.analysis: results.json as DataFrames (issue 11), from a real run of the samples and
from small results.json files written here for the cases the samples lack."""

from __future__ import annotations

import ast
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from perfxl import analysis
from perfxl.analysis import AnalysisError, deduction_rates, load, load_years
from perfxl.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "returns-2020"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The bundled samples run through the command line, as a clerk would."""
    out = tmp_path_factory.mktemp("analysis") / "output"
    result = CliRunner().invoke(app, ["run", str(EXAMPLES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def doc(out) -> dict:
    return json.loads((out / "results.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def run(out) -> analysis.Run:
    return load(out)


def write(folder: Path, files: list[dict], **top) -> Path:
    """A hand-written results.json in `folder`; only the keys a case needs."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"rubric": "gd-dept-2020", "year": 2020, "deadline": "2021-06-20", "files": files,
           "not_submitted": [], "findings": []} | top
    (folder / "results.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return folder


def ind(code: str, score, applicable=True, reason=None) -> dict:
    return {"code": code, "value": None, "self_score": score, "reviewed_score": score,
            "applicable": applicable, "reason": reason, "manual": False, "adjusted": False}


# --- the samples ------------------------------------------------------------------------------

def test_row_counts_are_those_of_results_json(run, doc):
    assert len(run.files) == len(doc["files"]) == 26  # 18 department files and 8 project files
    assert (run.files["form"] == "proj-2020").sum() == 8
    assert len(run.projects) == sum(len(f.get("projects", [])) for f in doc["files"]) > 0
    assert len(run.project_indicators) == sum(len(p["indicators"]) for f in doc["files"] for p in f.get("projects", []))
    assert len(run.indicators) == sum(len(f["indicators"]) for f in doc["files"])
    file_level = sum(len(f["findings"]) for f in doc["files"])
    assert len(run.findings) == file_level + len(doc["findings"])
    assert run.findings["level"].value_counts().to_dict().get("file") == file_level
    assert list(run.files["file"]) == [f["file"] for f in doc["files"]]  # 汇总 order kept


def test_dtypes(run):
    files, inds, finds = run.files, run.indicators, run.findings
    for frame, cols in ((files, ["unit_code", "unit_name", "department", "file", "sha256", "phone"]),
                        (inds, ["unit_code", "file", "code", "level1", "name", "reason"]),
                        (finds, ["unit_code", "file", "code", "name", "sheet", "cell", "message", "reply"])):
        for col in cols:
            assert frame[col].dtype == pd.StringDtype(), col  # "string": missing is pd.NA
    for col in ("self_total", "reviewed_total", "income_total", "carryover_end", "satisfaction"):
        assert files[col].dtype == "float64", col
    for col in ("value", "self_score", "reviewed_score", "weight"):
        assert inds[col].dtype == "float64", col
    for col in ("filing_date", "budget_approved_date", "budget_published_date", "deadline"):
        assert pd.api.types.is_datetime64_dtype(files[col]), col
    assert files["staff_quota"].dtype == "Int64" and files["errors"].dtype == "Int64"
    assert inds["applicable"].dtype == "boolean" and files["rescaled"].dtype == "boolean"


def test_categoricals_are_ordered_as_the_form(run):
    status, severity, grade = run.files["status"], run.findings["severity"], run.files["reviewed_grade"]
    assert status.cat.ordered and list(status.cat.categories) == ["reviewed", "error", "unreadable", "duplicate", "ignored"]
    assert severity.cat.ordered and list(severity.cat.categories) == ["error", "warning", "info"]
    assert grade.cat.ordered and list(grade.cat.categories) == ["优秀", "良好", "中", "差"]
    assert list(run.files.sort_values("status", kind="stable")["status"].drop_duplicates()) == [
        "reviewed", "error", "unreadable", "duplicate", "ignored"]
    assert run.findings.sort_values("severity")["severity"].iloc[0] == "error"
    assert list(run.indicators["status"].cat.categories) == list(status.cat.categories)


def test_values_read_as_written(run, doc):
    depts = run.files[run.files["form"] == "gd-dept-2020"]
    row = depts.set_index("unit_code").loc["440800002"]
    assert row["income_total"] == 1268.4 and row["satisfaction"] == pytest.approx(0.952)  # a rate as a fraction
    assert row["filing_date"] == pd.Timestamp("2021-06-11") and row["status"] == "error"
    assert row["deadline"] == pd.Timestamp("2021-06-20") and row["year"] == 2020
    unread = run.files[run.files["unit_code"].isna()]
    assert set(unread["status"]) == {"unreadable", "ignored"}
    assert unread["self_total"].isna().all() and unread["reviewed_grade"].isna().all()
    first = doc["files"][0]
    got = run.indicators[run.indicators["file"] == first["file"]]
    assert list(got["code"]) == [i["code"] for i in first["indicators"]]


def test_projects_read_as_results_json_says(run, doc):
    """spec §13: one row a project, one row a project's indicator, numbers as numbers."""
    entries = [(f, p) for f in doc["files"] for p in f.get("projects", [])]
    assert list(zip(run.projects["file"], run.projects["sheet"], strict=True)) == [(f["file"], p["sheet"]) for f, p in entries]
    for (f, p), (_, row) in zip(entries, run.projects.iterrows(), strict=True):
        assert row["project_name"] == p["project_name"] and row["unit_code"] == f["unit_code"]
        for key in ("budget_annual", "spent", "execution_rate", "reviewed_total"):
            assert (pd.isna(row[key]) and p[key] is None) or row[key] == pytest.approx(p[key]), key
    assert run.projects["execution_rate"].dtype == "float64" and run.projects["capped_by_execution"].dtype == "boolean"
    first = run.project_indicators.iloc[0]
    f, p = entries[0]
    assert (first["project_name"], first["name"], first["row"]) == (p["project_name"], p["indicators"][0]["name"],
                                                                    p["indicators"][0]["row"])


def test_not_applicable_and_not_computable_are_nan(run, doc):
    cases = [(f["file"], i) for f in doc["files"] for i in f["indicators"] if i["applicable"] is not True]
    assert {i["applicable"] for _, i in cases} == {False, None}  # the samples have both
    by_key = run.indicators.set_index(["file", "code"])
    for file, i in cases:
        row = by_key.loc[(file, i["code"])]
        assert math.isnan(row["reviewed_score"])
        assert row["reason"] == i["reason"]
        if i["applicable"] is False:
            assert row["applicable"] is False or row["applicable"] == False  # noqa: E712 (pandas' boolean)
        else:
            assert pd.isna(row["applicable"])


def test_rubric_names_and_weights_are_joined(run):
    b1 = run.indicators[run.indicators["code"] == "B1"].iloc[0]
    assert (b1["level1"], b1["level2"], b1["name"], b1["weight"]) == ("预算执行", "预算执行", "预算执行率", 15.0)
    assert run.indicators.groupby("file")["weight"].sum().eq(100).all()


def test_findings_carry_the_catalogue_name(run):
    row = run.findings[run.findings["code"] == "balance-mismatch"].iloc[0]
    assert row["name"] == "收支不平衡" and row["severity"] == "error" and row["level"] == "file"
    assert row["unit_code"] == "440800002" and row["sheet"] == "基础数据表" and row["cell"] == "B29"
    assert row["cells"].split(",")[0] == "B29"
    assert run.findings["name"].notna().all()


def test_deduction_rates_agree_with_results_json(run, doc):
    """Counted by hand from results.json: reviewed and error files, applicable, scored."""
    weights = {"B1": 15, "C2": 5, "D3": 5}
    rates = deduction_rates(run).set_index("code")
    for code, weight in weights.items():
        lost = [weight - i["reviewed_score"] for f in doc["files"] if f["status"] in ("reviewed", "error")
                for i in f["indicators"] if i["code"] == code and i["applicable"] is True and i["reviewed_score"] is not None]
        assert rates.loc[code, "units"] == len(lost)
        assert rates.loc[code, "units_lost"] == sum(1 for x in lost if x > 0)
        assert rates.loc[code, "mean_lost"] == pytest.approx(sum(lost) / len(lost))
    assert list(rates.index) == [i["code"] for i in doc["files"][0]["indicators"]]  # rubric order


# --- hand-written results ---------------------------------------------------------------------

def test_leading_zero_unit_code_reply_batch_findings_and_not_submitted(tmp_path):
    entry = {"file": "0440800001_甲.xlsx", "status": "error", "unit_code": "0440800001", "unit_name": "甲单位",
             "fields": {"unit_code": "0440800001", "phone": "07592233445", "income_total": 10, "filing_date": "2021-06-04"},
             "indicators": [ind("A1", 5)], "self_total": 100, "reviewed_total": None,
             "self_grade": "优秀", "reviewed_grade": None,
             "findings": [{"code": "balance-mismatch", "severity": "error", "sheet": "基础数据表", "cell": "B29",
                           "cells": ["B29"], "message": "收支不平衡", "reply": "已更正年末结转"}]}
    batch = [{"code": "duplicate-submission", "severity": "warning", "file": "0440800001_甲.xlsx",
              "unit_code": "0440800001", "sheet": None, "cell": None, "cells": [], "message": "重复报送"}]
    missing = [{"unit_code": "0440800099", "unit_name": "乙单位"}]
    run = load(write(tmp_path / "o", [entry], findings=batch, not_submitted=missing))
    assert run.files.loc[0, "unit_code"] == "0440800001" and run.files.loc[0, "phone"] == "07592233445"
    assert run.indicators.loc[0, "unit_code"] == "0440800001"
    assert list(run.findings["level"]) == ["file", "batch"]
    assert list(run.findings["unit_code"]) == ["0440800001", "0440800001"]
    assert run.findings.loc[0, "reply"] == "已更正年末结转" and pd.isna(run.findings.loc[1, "reply"])
    assert run.findings.loc[1, "name"] == "同一单位重复报送"
    assert run.not_submitted.loc[0, "unit_code"] == "0440800099"
    assert run.not_submitted["unit_code"].dtype == pd.StringDtype()
    assert math.isnan(run.files.loc[0, "reviewed_total"]) and pd.isna(run.files.loc[0, "reviewed_grade"])


def test_unknown_values_are_kept_not_lost(tmp_path):
    entry = {"file": "x.xlsx", "status": "quarantined", "unit_code": "X1", "self_grade": "合格",
             "fields": {"own_code": "007", "own_amount": 1.5}}
    run = load(write(tmp_path / "o", [entry], rubric="my-form"))
    assert run.files.loc[0, "status"] == "quarantined" and list(run.files["status"].cat.categories)[-1] == "quarantined"
    assert run.files.loc[0, "self_grade"] == "合格"
    assert run.files.loc[0, "own_code"] == "007" and run.files["own_amount"].dtype == "float64"


def test_deduction_rates_known_case(tmp_path):
    files = [
        {"file": "a.xlsx", "status": "reviewed", "unit_code": "A", "indicators": [ind("B1", 15), ind("D3", 4.5)]},
        {"file": "b.xlsx", "status": "error", "unit_code": "B", "indicators": [ind("B1", 12), ind("D3", 5)]},
        {"file": "c.xlsx", "status": "reviewed", "unit_code": "C", "indicators": [ind("B1", 15), ind("D3", None, False, "blank")]},
        {"file": "d.xlsx", "status": "error", "unit_code": "D", "indicators": [ind("B1", None, None, "input-error")]},
        {"file": "b0.xlsx", "status": "duplicate", "unit_code": "B", "indicators": [ind("B1", 0), ind("D3", 0)]},
    ]
    rates = deduction_rates(load(write(tmp_path / "o", files))).set_index("code")
    assert rates.loc["B1", ["units", "units_lost"]].tolist() == [3, 1]
    assert rates.loc["B1", "share_lost"] == pytest.approx(1 / 3) and rates.loc["B1", "mean_lost"] == pytest.approx(1.0)
    assert rates.loc["D3", ["units", "units_lost"]].tolist() == [2, 1]
    assert rates.loc["D3", "mean_lost"] == pytest.approx(0.25) and rates.loc["D3", "weight"] == 5.0
    assert rates.loc["B1", "name"] == "预算执行率"


def test_deduction_rates_without_weights_says_what_to_do(tmp_path):
    run = load(write(tmp_path / "o", [{"file": "a.xlsx", "status": "reviewed", "indicators": [ind("X1", 3)]}], rubric="my-form"))
    assert run.indicators["weight"].isna().all() and run.indicators["name"].isna().all()
    with pytest.raises(AnalysisError, match="rubric="):
        deduction_rates(run)


def test_rubric_given_must_be_the_runs(tmp_path):
    folder = write(tmp_path / "o", [], rubric="my-form")
    with pytest.raises(AnalysisError, match=r"my-form.*gd-dept-2020"):
        load(folder, rubric="gd-dept-2020")
    with pytest.raises(AnalysisError, match="找不到指标体系"):
        load(folder, rubric=str(tmp_path / "missing.toml"))


# --- several rounds ---------------------------------------------------------------------------

def test_load_years_stacks_rounds(out, tmp_path, doc):
    later = tmp_path / "output-2021"
    shutil.copytree(out, later)
    data = json.loads((later / "results.json").read_text("utf-8"))
    data["year"] = 2021
    data["files"][0]["indicators"][0]["reviewed_score"] = 3  # A1 of the first unit loses 2 points in 2021
    (later / "results.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    both = load_years({2021: later, 2020: out})
    assert len(both.files) == 2 * len(doc["files"]) and list(both.files["year"].unique()) == [2020, 2021]
    assert len(both.indicators) == 2 * len(load(out).indicators)
    assert both.files["status"].dtype.name == "category" and both.findings["severity"].cat.ordered
    assert both.files["unit_code"].dtype == pd.StringDtype()
    rates = deduction_rates(both)
    assert list(rates["year"].unique()) == [2020, 2021] and len(rates) == 2 * 16
    a1 = rates[rates["code"] == "A1"].set_index("year")
    assert a1.loc[2021, "units_lost"] == a1.loc[2020, "units_lost"] + 1
    assert a1.loc[2021, "mean_lost"] == pytest.approx(a1.loc[2020, "mean_lost"] + 2 / a1.loc[2021, "units"])


def test_load_years_refuses_a_mislabelled_round(out):
    with pytest.raises(AnalysisError, match=r"2020 年度的结果，却被指定为 2019") as e:
        load_years({2019: out})
    assert str(out) in str(e.value)


# --- errors: Chinese, naming the path, never a traceback of ours ---------------------------------

def test_unfinished_run_is_named(tmp_path):
    folder = tmp_path / "out"
    (folder / ".perfxl").mkdir(parents=True)
    with pytest.raises(AnalysisError, match=r"没有 results\.json：这次运行没有完成") as e:
        load(folder)
    assert str(folder) in str(e.value)


def test_other_folder_and_missing_path(tmp_path):
    with pytest.raises(AnalysisError, match="不是 perfxl run 的输出文件夹"):
        load(tmp_path)
    with pytest.raises(AnalysisError, match="找不到"):
        load(tmp_path / "nowhere")


@pytest.mark.parametrize(("text", "says"), [
    ('{"rubric": "gd-dept-2020", "year": 2020, "files": [', "不是有效的 JSON"),
    ("[1, 2]", "内容不是一个对象"),
    ('{"year": 2020}', "缺少文件列表 files"),
    ('{"files": []}', "缺少评价年度 year"),
    ('{"year": 2020, "files": [{"file": "a.xlsx"}]}', "files 第 1 项缺少 file 或 status"),
    ('{"year": 2020, "files": [{"file": "a.xlsx", "status": "reviewed", "indicators": 3}]}', "indicators 不是对象列表"),
])
def test_other_shapes_are_refused_by_name(tmp_path, text, says):
    (tmp_path / "results.json").write_text(text, "utf-8")
    with pytest.raises(AnalysisError, match=says) as e:
        load(tmp_path)
    assert str(tmp_path / "results.json") in str(e.value)


def test_not_utf8_is_refused(tmp_path):
    (tmp_path / "results.json").write_bytes('{"year": "二〇二〇"}'.encode("gb18030"))
    with pytest.raises(AnalysisError, match="不是 UTF-8"):
        load(tmp_path / "results.json")


# --- pandas stays out of the command line -------------------------------------------------------

def test_only_analysis_imports_pandas():
    """No module but perfxl/analysis.py imports pandas, and none imports perfxl.analysis."""
    offenders = []
    for path in sorted((ROOT / "perfxl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "pandas" for n in names) and path.name != "analysis.py":
                offenders.append(path.name)
            if any(n == "perfxl.analysis" for n in names):
                offenders.append(path.name)
    assert offenders == []


def test_perfxl_help_does_not_import_pandas():
    code = ("import sys\nsys.argv = ['perfxl', '--help']\nfrom perfxl.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "perfxl" in done.stdout and done.stdout.strip().splitlines()[-1] == "False"


def test_readme_example_prints_what_the_readme_says(out, monkeypatch, capsys):
    """The README's example, run on the samples, prints its transcript (alignment aside)."""
    section = (ROOT / "README.md").read_text("utf-8").split("## 用 pandas 分析结果", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = section.split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(out.parent)  # the example reads the folder "output"
    exec(compile(code, "README.md", "exec"), {})
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [line.split() for line in printed.splitlines()]
