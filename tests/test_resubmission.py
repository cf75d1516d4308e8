"""The loop with the units through the command line: a unit corrects its file, the bureau runs
again into the same output folder, and every output says what changed."""

from __future__ import annotations

import json
from decimal import Decimal

import openpyxl
from typer.testing import CliRunner

from perfxl.cli import app

runner = CliRunner()


def test_corrected_balance_shows_as_resolved_everywhere(tmp_path, make_return):
    make_return("in/T001.xlsx", carryover_end=Decimal("42.53"))
    make_return("in/T002.xlsx", unit_code="T002", unit_name="另一单位")
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(out)]).exit_code == 0
    first = json.loads((out / "results.json").read_text("utf-8"))
    assert [f["since_last"] for f in first["files"]] == [None, None]

    make_return("in/T001.xlsx")  # the unit corrects 年末结转和结余 and sends the file again
    assert runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(out)]).exit_code == 0
    data = json.loads((out / "results.json").read_text("utf-8"))
    t001, t002 = data["files"]
    assert t001["status"] == "reviewed"
    assert t001["since_last"]["resolved"] == ["balance-mismatch"]
    assert t001["since_last"]["still_open"] == [] and t001["since_last"]["new"] == []
    assert t001["since_last"]["changed_fields"] == {"carryover_end": [42.53, 32.53]}
    assert t002["since_last"] is None

    report = (out / "reports" / "T001_测试市测试局.md").read_text("utf-8")
    assert "已解决：收支不平衡（balance-mismatch）" in report
    assert "年末结转和结余 42.53 → 32.53" in report
    ws = openpyxl.load_workbook(out / "summary.xlsx")["汇总"]
    header = [c.value for c in ws[1]]
    col = header.index("与上次报送相比")
    assert "已解决：收支不平衡（balance-mismatch）" in ws.cell(row=2, column=col + 1).value
    assert ws.cell(row=3, column=col + 1).value is None

    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert runner.invoke(app, ["run", str(tmp_path / "in"), "--out", str(out)]).exit_code == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # unchanged folder: no change
