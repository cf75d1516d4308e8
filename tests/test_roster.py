"""The roster (spec §9, issue 4): reading it, what it does to a batch, pre-filled templates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from conftest import RUBRIC, codes, good_values
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import BatchResult, Options
from perfxl.read.roster import RosterError, load_roster
from perfxl.review.ledger import apply_roster
from perfxl.run.pipeline import process_file
from perfxl.write.fill import fill_workbook

ROSTER_CODES = ("not-submitted", "unknown-unit", "ledger-mismatch", "magnitude-suspect")
HEADER = "单位编码,单位名称,主管部门,财政拨款收入年初预算数（万元）,编制总数（人）\n"
ROWS = " t001 ,测试一局,测试市财政局,2999.76,70\nT002,测试二局,,\"1,200.50\",\nT003,测试三局,测试市财政局,,12\n"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def roster_csv(tmp_path: Path, rows: str = ROWS, header: str = HEADER, name: str = "名单.csv") -> Path:
    return write_csv(tmp_path / name, header + rows)


def batch_of(*results) -> BatchResult:
    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020))
    batch.files.extend(results)
    return batch


def evaluate(path: Path):
    return process_file(path, path.name, Options.for_rubric(RUBRIC))


# -- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_roster_in_each_encoding(tmp_path, encoding):
    path = write_csv(tmp_path / "r.csv", HEADER + ROWS, encoding)
    if encoding == "gb18030":  # the fallback is really exercised
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    if encoding == "utf-8-sig":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    roster = load_roster(path)
    assert [u.code for u in roster.units] == ["T001", "T002", "T003"]
    assert [u.name for u in roster.units] == ["测试一局", "测试二局", "测试三局"]
    assert [u.department for u in roster.units] == ["测试市财政局", None, "测试市财政局"]
    assert roster.units[0].figures == {"budget_initial": Decimal("2999.76"), "staff_quota": 70}
    assert roster.units[1].figures == {"budget_initial": Decimal("1200.50")}
    assert roster.units[2].figures == {"staff_quota": 12}
    assert roster.figure_keys == ("budget_initial", "staff_quota")
    assert "T002" in roster and "T004" not in roster


def test_xlsx_roster_with_title_row_keys_and_numeric_codes(tmp_path):
    path = tmp_path / "名单.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名单")
    ws.write_row(0, 0, ["2020年度预算单位名单"])
    ws.write_row(2, 1, ["序号", "单位代码", "单位名称", "budget_initial", "本年收入"])
    ws.write_row(3, 1, [1, 1001, "甲单位", 2999.76, "3,000.00万元"])
    ws.write_row(4, 1, [2, "b002", "乙单位", None, 12.5])
    wb.close()
    roster = load_roster(path)
    assert [(u.code, u.name) for u in roster.units] == [("1001", "甲单位"), ("B002", "乙单位")]
    assert roster.units[0].figures == {"budget_initial": Decimal("2999.76"), "income_total": Decimal("3000.00")}
    assert roster.units[1].figures == {"income_total": Decimal("12.5")}


@pytest.mark.parametrize(("header", "rows", "expected"), [
    ("单位编码,主管部门\n", "T001,局\n", "缺少“单位名称”列"),
    ("单位名称\n", "甲\n", "缺少“单位编码”列"),
    (HEADER, "T001,甲,,1,\nt001,乙,,2,\n", "第 3 行 A 列「单位编码」：单位编码 T001 与第 2 行重复"),
    ("单位编码,单位名称,人均经费\n", "T001,甲,3\n", "第 1 行 C 列「人均经费」：无法识别的列"),
    ("单位编码,单位名称,联系人\n", "T001,甲,张三\n", "第 1 行 C 列「联系人」：“联系人”不是金额或人数等数值项"),
    ("单位编码,单位名称,年初预算数,财政拨款收入年初预算数\n", "T001,甲,1,1\n",
     "D 列「财政拨款收入年初预算数」：与 C 列重复"),
    (HEADER, "T001,甲,,3000元,\n", "第 2 行 D 列「财政拨款收入年初预算数（万元）」：“3000元”金额单位应为万元"),
    (HEADER, "T001,甲,,,70.5\n", "第 2 行 E 列「编制总数（人）」：“70.5”不是整数"),
    (HEADER, "T001,甲,,-5,\n", "为负数"),
    (HEADER, ",甲,,1,\n", "第 2 行 A 列「单位编码」：单位编码为空"),
    (HEADER, "T001,,,1,\n", "第 2 行 B 列「单位名称」：单位名称为空"),
    (HEADER, "", "没有单位"),
])
def test_bad_roster_raises_with_file_row_and_column(tmp_path, header, rows, expected):
    path = roster_csv(tmp_path, rows, header)
    with pytest.raises(RosterError) as info:
        load_roster(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_bad_roster_stops_cli_with_exit_2_before_reading_files(tmp_path, make_return, monkeypatch):
    import perfxl.read.intake
    import perfxl.run.job  # imported before the patch, so that it cannot keep `boom`
    import perfxl.run.pipeline

    def boom(*a, **k):
        raise AssertionError("a file was read")

    monkeypatch.setattr(perfxl.read.intake, "discover", boom)
    monkeypatch.setattr(perfxl.run.pipeline, "run_candidates", boom)
    monkeypatch.setattr(perfxl.run.pipeline, "candidates_for", boom)
    ret = make_return("in/T001.xlsx")
    runner = CliRunner()
    cases = {
        "dup": (roster_csv(tmp_path, "T001,甲,,1,\nT001,乙,,2,\n", name="dup.csv"), "与第 2 行重复"),
        "missing": (roster_csv(tmp_path, "甲\n", "单位名称\n", name="missing.csv"), "缺少“单位编码”列"),
        "unknown": (roster_csv(tmp_path, "T001,甲,3\n", "单位编码,单位名称,人均经费\n", name="unknown.csv"),
                    "无法识别的列"),
    }
    out = tmp_path / "out"
    for path, reason in cases.values():
        for args in (["run", str(ret.parent), "-o", str(out), "--roster", str(path)],
                     ["check", str(ret), "--roster", str(path)],
                     ["template", "--roster", str(path), "-o", str(tmp_path / "tpl")]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, (args, result.output)
            assert reason in result.stderr
            assert result.stderr.startswith("错误：") and "提示：" in result.stderr
    assert not out.exists() and not (tmp_path / "tpl").exists()


# -- applying it -----------------------------------------------------------------------------


def test_missing_unit_and_stranger_give_exactly_those_findings(tmp_path, make_return):
    make_return("in/T001.xlsx", unit_code="T001", unit_name="测试一局")
    make_return("in/sub/T003.xlsx", unit_code="T003", unit_name="测试三局")
    stranger = make_return("in/X999.xlsx", unit_code="X999", unit_name="陌生单位")
    roster = roster_csv(tmp_path, "T001,测试一局,测试市财政局,2999.76,70\nT002,测试二局,测试市教育局,,\n"
                                  "T003,测试三局,,,\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(stranger.parent), "-o", str(out), "--roster", str(roster),
                                      "--jobs", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text("utf-8"))
    assert data["not_submitted"] == [{"unit_code": "T002", "unit_name": "测试二局", "department": "测试市教育局"}]
    assert [(f["code"], f["unit_code"]) for f in data["findings"]] == [("not-submitted", "T002")]
    assert "测试二局" in data["findings"][0]["message"]
    by_file = {f["file"]: f for f in data["files"]}
    assert set(by_file) == {"T001.xlsx", "sub/T003.xlsx", "X999.xlsx"}
    roster_findings = {name: [f["code"] for f in entry["findings"] if f["code"] in ROSTER_CODES]
                       for name, entry in by_file.items()}
    assert roster_findings == {"T001.xlsx": [], "sub/T003.xlsx": [], "X999.xlsx": ["unknown-unit"]}
    unknown = next(f for f in by_file["X999.xlsx"]["findings"] if f["code"] == "unknown-unit")
    assert unknown["sheet"] == "基础数据表"
    assert unknown["cell"] == evaluate(stranger).cells["unit_code"][1]
    assert "X999" in unknown["message"]
    assert by_file["X999.xlsx"]["status"] == "reviewed"  # a warning does not send the file back
    wb = openpyxl.load_workbook(out / "summary.xlsx", read_only=True)
    rows = [r for r in wb["未报送"].iter_rows(values_only=True)]
    assert [r[:3] for r in rows[1:]] == [("T002", "测试二局", "测试市教育局")]


def test_ledger_mismatch_quotes_both_figures(tmp_path, make_return):
    res = evaluate(make_return(budget_initial=Decimal("2999.76")))
    roster = load_roster(roster_csv(
        tmp_path, "T001,测试一局,,3000.00,70\n",
        "单位编码,单位名称,主管部门,年初预算数,编制总数\n"))
    apply_roster(batch := batch_of(res), roster)
    found = [f for f in res.findings if f.code in ROSTER_CODES]
    assert [f.code for f in found] == ["ledger-mismatch"]  # staff_quota 70 = 70: nothing
    f = found[0]
    assert "本单位填报 2999.76 万元，财政部门掌握的数据为 3000.00 万元，相差 0.24 万元" in f.message
    assert f.sheet == "基础数据表" and f.cell == res.cells["budget_initial"][1]
    assert f.file == res.file and f.unit_code == "T001"
    assert res.status == "reviewed"
    assert batch.not_submitted == [] and batch.findings == []


def test_ledger_tolerance_counts_and_blank_cells(tmp_path, make_return):
    res = evaluate(make_return(budget_initial=Decimal("2999.76"), retirees=None))
    roster = load_roster(roster_csv(tmp_path, "T001,测试一局,2999.77,72,20\n",
                                    "单位编码,单位名称,年初预算数,编制总数,离退休人数\n"))
    apply_roster(batch_of(res), roster)
    found = {f.cell: f.message for f in res.findings if f.code == "ledger-mismatch"}
    assert set(found) == {res.cells["staff_quota"][1], res.cells["retirees"][1]}  # 0.01 is within tolerance
    assert "本单位填报 70 人，财政部门掌握的数据为 72 人，相差 2 人" in found[res.cells["staff_quota"][1]]
    assert "本单位未填写，财政部门掌握的数据为 20 人" in found[res.cells["retirees"][1]]


def test_cells_with_errors_are_not_compared_again(tmp_path, make_return):
    res = evaluate(make_return(budget_initial="3000元"))
    cell = res.cells["budget_initial"][1]
    assert [f.code for f in res.findings if f.cell == cell] == ["type-error"]
    apply_roster(batch_of(res), load_roster(roster_csv(tmp_path, "T001,测试一局,,2999.76,\n")))
    assert [f.code for f in res.findings if f.cell == cell] == ["type-error"]


def test_magnitude_suspect_when_unit_typed_yuan(tmp_path, make_return):
    res = evaluate(make_return(budget_initial=29997600))
    roster = load_roster(roster_csv(tmp_path, "T001,测试一局,,2999.76,\n"))
    apply_roster(batch_of(res), roster)
    cell = res.cells["budget_initial"][1]
    on_cell = [f for f in res.findings if f.cell == cell and f.code in ROSTER_CODES]
    assert [f.code for f in on_cell] == ["magnitude-suspect"]
    assert "疑似以元为单位填报" in on_cell[0].message and "后重新报送" in on_cell[0].message
    assert res.status == "error"  # an error since v3: the unit confirms or corrects
    assert "29997600.00 万元" in on_cell[0].message and "2999.76 万元" in on_cell[0].message


def test_status_recomputed_and_findings_ordered(tmp_path, make_return):
    bad = evaluate(make_return("bad.xlsx", carryover_end=Decimal("42.53")))
    assert bad.status == "error"
    roster = load_roster(roster_csv(tmp_path, "T001,测试一局,,1.00,\n"))
    apply_roster(batch_of(bad), roster)
    assert bad.status == "error"
    severities = [f.severity.value for f in bad.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert "ledger-mismatch" in codes(bad)


# -- pre-filled templates ----------------------------------------------------------------------


def _cell(wb, name: str):
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "")]


def test_template_with_roster_writes_locked_prefilled_copies(tmp_path):
    roster = roster_csv(tmp_path, "T001,测试一局,测试市财政局,2999.76,70\nT002,测试/二局,,,\n")
    out = tmp_path / "模板"
    result = CliRunner().invoke(app, ["template", "--roster", str(roster), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "已生成 2 份预填模板" in result.output
    # no separator in a name; .perfxl/ records what perfxl wrote (spec §11)
    assert sorted(p.name for p in out.iterdir()) == [".perfxl", "T001_测试一局.xlsx", "T002_测试_二局.xlsx"]
    wb = openpyxl.load_workbook(out / "T001_测试一局.xlsx")
    expected = {"unit_code": "T001", "unit_name": "测试一局", "department": "测试市财政局", "eval_year": 2020,
                "budget_initial": 2999.76, "staff_quota": 70}
    for name, value in expected.items():
        cell = _cell(wb, name)
        assert cell.value == value, name
        assert cell.protection.locked, name
    for name in ("contact", "income_total", "filing_date"):
        cell = _cell(wb, name)
        assert cell.value is None and not cell.protection.locked, name
    assert wb["基础数据表"].protection.sheet
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "T001"
    wb2 = openpyxl.load_workbook(out / "T002_测试_二局.xlsx")
    assert _cell(wb2, "unit_name").value == "测试/二局"
    assert not _cell(wb2, "department").protection.locked  # the roster has no 主管部门 for it
    assert {r[0]: r[1] for r in wb2["_meta"].iter_rows(values_only=True)}["unit_code"] == "T002"


def test_template_roster_refuses_a_file_as_output(tmp_path):
    roster = roster_csv(tmp_path, "T001,测试一局,,,\n")
    target = tmp_path / "exists.txt"
    target.write_text("x")
    result = CliRunner().invoke(app, ["template", "--roster", str(roster), "-o", str(target)])
    assert result.exit_code == 2
    assert "已存在的文件" in result.stderr and "提示：" in result.stderr
    assert target.read_text() == "x"


def test_returned_prefilled_file_with_changed_code(tmp_path):
    roster_path = roster_csv(tmp_path, "T001,测试一局,,2999.76,70\nT002,测试二局,,2999.76,70\n")
    roster = load_roster(roster_path)
    from perfxl.write.prefill import write_prefilled

    paths = write_prefilled(roster, RUBRIC, 2020, tmp_path / "tpl")
    assert [p.name for p in paths] == ["T001_测试一局.xlsx", "T002_测试二局.xlsx"]
    vals = {k: v for k, v in good_values().items()
            if k not in ("unit_name", "department", "eval_year", "budget_initial", "staff_quota")}
    vals["unit_code"] = "T009"  # the unit overwrote its locked code
    returned = tmp_path / "in" / "T002.xlsx"
    returned.parent.mkdir()
    fill_workbook(paths[1], vals, returned)
    res = evaluate(returned)
    assert "unit-code-changed" in codes(res)
    assert res.unit_code == "T002"
    assert res.unit_name == "测试二局"
    changed = next(f for f in res.findings if f.code == "unit-code-changed")
    assert changed.cell == res.cells["unit_code"][1] and "T009" in changed.message
    batch = batch_of(res)
    apply_roster(batch, roster)
    assert [u["unit_code"] for u in batch.not_submitted] == ["T001"]
    assert not any(f.code in ("unknown-unit", "ledger-mismatch") for f in res.findings)


def test_prefilled_copies_never_overwrite_a_changed_copy(tmp_path):
    """A copy the clerk already changed (or a file of their own) is set aside, never lost."""
    roster = roster_csv(tmp_path, "T001,测试一局,测试市财政局,2999.76,70\n")
    out = tmp_path / "模板"
    run = lambda: CliRunner().invoke(app, ["template", "--roster", str(roster), "-o", str(out)])  # noqa: E731
    assert run().exit_code == 0
    copy = out / "T001_测试一局.xlsx"
    copy.write_bytes(b"edited by the clerk")
    assert run().exit_code == 0
    assert (out / "保留" / "T001_测试一局.xlsx").read_bytes() == b"edited by the clerk"
    assert copy.read_bytes()[:2] == b"PK"  # a fresh copy took its place


def test_prefilled_copies_refuse_a_folder_of_other_files(tmp_path):
    roster = roster_csv(tmp_path, "T001,测试一局,测试市财政局,2999.76,70\n")
    desk = tmp_path / "桌面"
    desk.mkdir()
    (desk / "工作计划.docx").write_bytes(b"mine")
    result = CliRunner().invoke(app, ["template", "--roster", str(roster), "-o", str(desk)])
    assert result.exit_code == 2
    assert "请指定一个空文件夹或以前的输出文件夹" in result.output
    assert sorted(p.name for p in desk.iterdir()) == ["工作计划.docx"]
