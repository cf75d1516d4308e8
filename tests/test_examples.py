"""The bundled samples give exactly the results examples/make_samples.py promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _samples():
    spec = importlib.util.spec_from_file_location("make_samples", EXAMPLES / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_samples_give_the_expected_results():
    assert _samples().check() == []


def test_samples_regenerate_identically(tmp_path):
    mod = _samples()
    mod.build(tmp_path / "r")
    assert mod.check(tmp_path / "r") == []
    committed = {p.relative_to(EXAMPLES / "returns-2020"): p.read_bytes()
                 for p in (EXAMPLES / "returns-2020").rglob("*") if p.is_file()}
    rebuilt = {p.relative_to(tmp_path / "r"): p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert rebuilt == committed


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
