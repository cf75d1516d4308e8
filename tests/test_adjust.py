"""The bureau's adjustments of manual scores (`perfxl run --adjust A`, spec §4.3 and §9)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import Adjustment, BatchResult, FileResult, Options
from perfxl.read.roster import load_roster
from perfxl.review.adjust import AdjustmentError, check_units, load_adjustments, unused_adjustments
from perfxl.run.pipeline import process_file

HEADER = "单位编码,指标编码,核定得分,理由\n"


def adjust_csv(tmp_path: Path, rows: str, header: str = HEADER, encoding: str = "utf-8",
               name: str = "调整.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((header + rows).encode(encoding))
    return path


def scored(path: Path, adjustments=None):
    return process_file(path, path.name, Options.for_rubric(RUBRIC, adjustments=adjustments or {}))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_load_adjustments(tmp_path, encoding):
    rows = " t001 ,b4,3,审计发现超范围支出 2 万元\nT001,D2,8.5分,效益佐证不足\nT002,A1,0,目标未细化\n"
    path = adjust_csv(tmp_path, rows, encoding=encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    assert load_adjustments(path, RUBRIC) == {
        "T001": {"B4": Adjustment(Decimal("3"), "审计发现超范围支出 2 万元"),
                 "D2": Adjustment(Decimal("8.5"), "效益佐证不足")},
        "T002": {"A1": Adjustment(Decimal("0"), "目标未细化")},
    }


def test_reader_columns_are_ignored(tmp_path):
    path = adjust_csv(tmp_path, "1,T001,测试局,B4,资金使用合规性,3,超范围支出\n",
                      header="序号,单位编码,单位名称,指标编码,指标名称,核定得分,理由\n")
    assert load_adjustments(path, RUBRIC) == {"T001": {"B4": Adjustment(Decimal("3"), "超范围支出")}}


def test_adjustment_changes_exactly_the_named_scores(tmp_path, make_return):
    ret = make_return(unit_code="T001")
    before = scored(ret)
    adjustments = load_adjustments(adjust_csv(tmp_path, "T001,B4,3,审计发现超范围支出\nT002,D2,1,别的单位\n"), RUBRIC)
    after = scored(ret, adjustments)
    changed = {a.code: (a.reviewed_score, b.reviewed_score) for a, b in zip(after.indicators, before.indicators,
                                                                            strict=True)
               if a.reviewed_score != b.reviewed_score}
    assert changed == {"B4": (Decimal("3.00"), Decimal("5.00"))}
    assert [i.code for i in after.indicators if i.adjusted] == ["B4"]
    assert before.reviewed_total == Decimal("100.00")
    assert after.reviewed_total == Decimal("98.00")
    assert after.self_total == before.self_total
    adjusted = [f for f in after.findings if f.code == "bureau-adjusted"]
    assert len(adjusted) == 1
    assert "B4" in adjusted[0].message and "审计发现超范围支出" in adjusted[0].message
    assert adjusted[0].unit_code == "T001" and adjusted[0].sheet == "评分表"
    assert not any(f.code == "bureau-adjusted" for f in before.findings)


def test_run_with_adjust_end_to_end(tmp_path, make_return):
    make_return("in/T001.xlsx", unit_code="T001")
    make_return("in/T002.xlsx", unit_code="T002", unit_name="测试二局")
    adj = adjust_csv(tmp_path, "T001,D2,7.5,履职效益佐证不足\n", encoding="gb18030")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in"), "-o", str(out), "--adjust", str(adj),
                                      "--jobs", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text("utf-8"))
    files = {f["unit_code"]: f for f in data["files"]}
    d2 = next(i for i in files["T001"]["indicators"] if i["code"] == "D2")
    assert d2["reviewed_score"] == 7.5 and d2["self_score"] == 10
    assert files["T001"]["reviewed_total"] == 97.5
    assert [f["code"] for f in files["T001"]["findings"]].count("bureau-adjusted") == 1
    assert files["T002"]["reviewed_total"] == 100
    assert not any(f["code"] == "bureau-adjusted" for f in files["T002"]["findings"])
    assert data["findings"] == []
    assert data["not_submitted"] == []  # without a roster 未报送 stays empty
    # a unit that is in neither the batch nor a roster is a mistyped code: the run stops (issue 11)
    adj = adjust_csv(tmp_path, "T001,D2,7.5,履职效益佐证不足\nT404,A1,1,没有报送的单位\n")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in"), "-o", str(out), "--adjust", str(adj), "--jobs", "1"])
    assert result.exit_code == 2 and "第 3 行 A 列「单位编码」：单位编码 T404 不在本批次中" in result.output


@pytest.mark.parametrize(("rows", "expected"), [
    ("T001,Z9,3,理由\n", "第 2 行 B 列「指标编码」：指标编码 Z9 不在指标体系 gd-dept-2020 中"),
    ("T001,A2,3,理由\n", "第 2 行 B 列「指标编码」：指标 A2「财政拨款收入预决算差异率」按规则计算，不能调整"),
    ("T001,B4,很好,理由\n", "第 2 行 C 列「核定得分」：核定得分“很好”不是数字"),
    ("T001,B4,,理由\n", "第 2 行 C 列「核定得分」：核定得分为空"),
    ("T001,B4,6,理由\n", "第 2 行 C 列「核定得分」：核定得分 6 超出指标 B4 的 0～5 分范围"),
    ("T001,B4,-1,理由\n", "核定得分 -1 超出"),
    ("T001,B4,3,\n", "第 2 行 D 列「理由」：理由为空"),
    ("T001,B4,3,无\n", "第 2 行 D 列「理由」：理由为空"),
    ("T001,B4,3,。。\n", "第 2 行 D 列「理由」：理由为空"),
    (",B4,3,理由\n", "第 2 行 A 列「单位编码」：单位编码为空"),
    ("T001,B4,3,理由一\nT002,B4,3,理由\nt001,b4,2,理由二\n", "第 4 行：单位 T001 的指标 B4 已在第 2 行调整过"),
])
def test_bad_rows_raise_naming_the_row(tmp_path, rows, expected):
    path = adjust_csv(tmp_path, rows)
    with pytest.raises(AdjustmentError) as info:
        load_adjustments(path, RUBRIC)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("header", "expected"), [
    ("单位编码,指标编码,核定得分\n", "缺少“理由”列"),
    ("单位编码,指标编码,核定得分,理由,签字\n", "E 列「签字」：无法识别的列"),
])
def test_bad_columns(tmp_path, header, expected):
    with pytest.raises(AdjustmentError, match=expected):
        load_adjustments(adjust_csv(tmp_path, "T001,B4,3,理由,x\n", header), RUBRIC)


def test_a_unit_in_neither_the_batch_nor_the_roster_is_an_error_once_the_batch_is_read(tmp_path):
    roster = load_roster(_roster(tmp_path))
    path = adjust_csv(tmp_path, "T001,B4,3,理由\nT404,B4,3,理由\n")
    rows: dict[str, str] = {}
    adjustments = load_adjustments(path, RUBRIC, rows)
    assert set(adjustments) == {"T001", "T404"}
    assert rows["T404"].endswith("第 3 行 A 列「单位编码」")
    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020))
    with pytest.raises(AdjustmentError, match="第 3 行 A 列「单位编码」：单位编码 T404 不在本批次和名单中，请核对"):
        check_units(batch, adjustments, rows, roster)
    batch.files.append(FileResult("x.xlsx", status="unreadable", unit_code="T404"))  # it sent something
    check_units(batch, adjustments, rows, roster)


def _roster(tmp_path: Path) -> Path:
    path = tmp_path / "名单.csv"
    path.write_text("单位编码,单位名称\nT001,测试市测试局\n", encoding="utf-8")
    return path


def test_unused_adjustments_warn_once():
    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020))
    added = unused_adjustments(batch, {"T404": {"B4": Adjustment(Decimal(1), "x"), "A1": Adjustment(Decimal(1), "y")}})
    assert [(f.code, f.unit_code) for f in added] == [("adjustment-unused", "T404")]
    assert "A1、B4" in added[0].message
    assert batch.findings == added
    assert unused_adjustments(batch, {"T404": {"B4": Adjustment(Decimal(1), "x")}}) == []


@pytest.mark.parametrize(("rows", "reason"), [
    ("T001,A3,3,理由\n", "按规则计算，不能调整"),
    ("T001,B4,9,理由\n", "超出指标 B4"),
    ("T001,B4,3,理由\nT001,B4,2,理由\n", "已在第 2 行调整过"),
])
def test_bad_adjustments_stop_run_with_exit_2(tmp_path, make_return, monkeypatch, rows, reason):
    import perfxl.read.intake
    import perfxl.run.job  # imported before the patch, so that it cannot keep `boom`
    import perfxl.run.pipeline

    def boom(*a, **k):
        raise AssertionError("a file was read")

    monkeypatch.setattr(perfxl.read.intake, "discover", boom)
    monkeypatch.setattr(perfxl.run.pipeline, "run_candidates", boom)
    ret = make_return("in/T001.xlsx")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(ret.parent), "-o", str(out), "--roster", str(_roster(tmp_path)),
                                      "--adjust", str(adjust_csv(tmp_path, rows))])
    assert result.exit_code == 2, result.output
    assert reason in result.stderr
    assert result.stderr.startswith("错误：") and "提示：" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(("rows", "expected"), [
    # an unquoted comma: read by position, this was score 4 and reason "5"
    ("T001,B4,3,理由\nT001,A1,4,5,核查\n", "第 3 行有 5 列，应为 4 列：单位编码、指标编码、核定得分、理由；"),
    ("T001,B4,3\n", "第 2 行只有 3 列，应为 4 列：单位编码、指标编码、核定得分、理由；请补齐缺少的内容"),
    ("T001,B4,3,理由,,,\nT001,D2,8,理由,,多出来的\n", "第 3 行有 6 列，应为 4 列"),
])
def test_rows_with_the_wrong_number_of_fields_stop(tmp_path, rows, expected):
    path = adjust_csv(tmp_path, rows)
    with pytest.raises(AdjustmentError) as info:
        load_adjustments(path, RUBRIC)
    message = str(info.value)
    assert message.startswith(f"{path}：")
    assert expected in message


def test_trailing_empty_fields_and_quoted_commas_are_fine(tmp_path):
    # Excel pads every row of a CSV to the widest one; a quoted 理由 may hold commas
    path = adjust_csv(tmp_path, 'T001,B4,3,"核查,已确认",,\nT001,D2,8,佐证不足,,\n',
                      header="单位编码,指标编码,核定得分,理由,,\n")
    assert load_adjustments(path, RUBRIC) == {
        "T001": {"B4": Adjustment(Decimal("3"), "核查,已确认"), "D2": Adjustment(Decimal("8"), "佐证不足")}}


def test_a_value_under_no_header_stops(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["单位编码", None, "指标编码", "核定得分", "理由"])
    ws.append(["T001", "多余", "B4", 3, "理由"])
    path = tmp_path / "调整.xlsx"
    wb.save(path)
    with pytest.raises(AdjustmentError, match="第 2 行 B 列：该列有内容，但表头没有列名"):
        load_adjustments(path, RUBRIC)


def test_wrong_number_of_fields_stops_the_run_with_exit_2(tmp_path, make_return):
    ret = make_return("in/T001.xlsx")
    result = CliRunner().invoke(app, ["run", str(ret.parent), "-o", str(tmp_path / "out"),
                                      "--adjust", str(adjust_csv(tmp_path, "T001,A1,4,5,核查\n"))])
    assert result.exit_code == 2, result.output
    assert "第 2 行有 5 列，应为 4 列" in result.stderr
    assert not (tmp_path / "out").exists()
