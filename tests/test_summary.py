"""summary.xlsx, read back with openpyxl and compared by cell values (spec §8)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import RUBRIC, good_values

from perfxl.findings import Finding
from perfxl.model import FileResult, IndicatorResult, Options
from perfxl.run.pipeline import BatchResult, run_batch
from perfxl.spec.fields import fields
from perfxl.write.fill import fill_workbook
from perfxl.write.summary import MAX_TEXT, SUMMARY_HEADERS, TOTAL_LABEL, clean_text, write_summary

HYPERLINK = '=HYPERLINK("http://x","y")'
DDE = "+cmd|' /C calc'!A0"

# 汇总 order: by unit code, then path; files without a code last
EXPECTED_FILES = [
    "a/good.xlsx",  # T001, kept
    "dup/good-copy.xlsx",  # T001, superseded: earlier filing date
    "balance.xlsx",  # T002, balance-mismatch
    "inject.xlsx",  # T003, hostile names, 三公 blank -> A4, B2 不适用
    "over.xlsx",  # T004, manual A1 over its weight -> 无法计算
    "empty.xlsx",  # 0 bytes
    "readme.pdf",  # companion file
]


def _as_text_cells(path: Path, **texts: str) -> None:
    """Store text in named cells as string cells (as Excel does after a leading apostrophe)."""
    wb = openpyxl.load_workbook(path)
    for name, text in texts.items():
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        cell = wb[sheet][ref.replace("$", "")]
        cell.value, cell.data_type = text, "s"
    wb.save(path)


def build_batch(folder: Path, template: Path) -> BatchResult:
    """A folder of returns showing each status, and the batch perfxl makes of it."""

    def put(rel: str, **changes: object) -> Path:
        vals = good_values()
        vals.update(changes)
        out = folder / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        fill_workbook(template, vals, out)
        return out

    put("a/good.xlsx")
    put("dup/good-copy.xlsx", filing_date=dt.date(2021, 6, 1))
    put("balance.xlsx", unit_code="T002", unit_name="平衡局", carryover_end=Decimal("42.53"))
    inject = put("inject.xlsx", unit_code="T003", sangong_budget_prev=None, sangong_budget=None,
                 sangong_actual=None, score_A4=None, score_B2=None, score_total=90)
    _as_text_cells(inject, unit_name=HYPERLINK, department=DDE)
    put("over.xlsx", unit_code="T004", unit_name="超分局", score_A1=7, score_total=102)
    (folder / "empty.xlsx").write_bytes(b"")
    (folder / "readme.pdf").write_bytes(b"%PDF-1.4\n")
    return run_batch(folder, Options.for_rubric(RUBRIC))


@pytest.fixture(scope="module")
def batch(template_path: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    return build_batch(tmp_path_factory.mktemp("returns"), template_path)


@pytest.fixture(scope="module")
def summary(batch: BatchResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_summary(batch, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def wb(summary: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(summary)


def rows(ws) -> list[tuple]:
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_batch_is_what_the_tests_assume(batch):
    assert [r.file for r in batch.files] == EXPECTED_FILES
    assert [r.status for r in batch.files] == [
        "reviewed", "duplicate", "error", "reviewed", "error", "unreadable", "ignored"]
    inject = batch.files[3]
    assert (inject.unit_name, inject.department) == (HYPERLINK, DDE)


def test_sheets_in_order(wb):
    assert wb.sheetnames == ["汇总", "指标得分", "问题清单", "未报送", "统计"]


def test_summary_header_and_rows(wb, batch):
    ws = wb["汇总"]
    table = rows(ws)
    assert table[0][:16] == SUMMARY_HEADERS
    assert list(SUMMARY_HEADERS) == [
        "单位编码", "单位名称", "主管部门", "文件", "状态", "本年收入合计", "年初结转和结余",
        "本年支出合计", "年末结转和结余", "预算执行率", "自评总分", "核定总分", "自评等级",
        "核定等级", "错误数", "警告数"]
    body = table[1:-1]
    assert [r[3] for r in body] == EXPECTED_FILES
    assert [r[4] for r in body] == [
        "已审核", "重复已忽略", "有错误", "已审核", "有错误", "无法读取", "已忽略"]
    assert [r[0] for r in body] == ["T001", "T001", "T002", "T003", "T004", None, None]
    good, _, balance, _, over, empty, _ = body
    assert good[5:9] == (2999.76, 2.89, 2970.12, 32.53)
    assert good[9] == pytest.approx(2970.12 / (2.89 + 2999.76), abs=1e-12)
    assert good[10:16] == (100, 100, "优秀", "优秀", 0, 1)  # the duplicate-submission warning
    assert balance[1] == "平衡局" and balance[8] == 42.53
    assert balance[14] == sum(1 for f in batch.files[2].findings if f.severity.value == "error")
    assert balance[14] >= 1
    assert over[11] == "—" and over[13] == "—"  # no reviewed total: 无法计算
    assert over[10] == 102
    assert empty[5:14] == (None,) * 9 and empty[14] == 1
    assert table[0][16:] == ("是否退回", "主要问题", "与上次报送相比")
    assert (good[16], balance[16]) == ("否", "是")
    assert "收支不平衡" in balance[17]


def test_total_row_sums_reviewed_rows_only(wb):
    ws = wb["汇总"]
    total = rows(ws)[-1]
    assert total[0] == TOTAL_LABEL == "合计（已审核单位）"
    # T001 and T003 by hand; the files with errors (T002, T004), the superseded copy and the
    # unreadable file are out (spec §8 v3)
    income, begin, expense, end = 2 * 2999.76, 2 * 2.89, 2 * 2970.12, 2 * 32.53
    assert total[5:9] == pytest.approx((income, begin, expense, end), abs=1e-9)
    assert total[5] == pytest.approx(5999.52) and total[8] == pytest.approx(65.06)
    # Σ支出 / (Σ年初结转和结余 + Σ本年收入合计) of those rows, not a mean of the rows' rates
    assert total[9] == pytest.approx(5940.24 / (5.78 + 5999.52), abs=1e-12)
    last = ws.max_row
    assert ws.cell(last, 6).number_format == "#,##0.00"
    assert ws.cell(last, 10).number_format == "0.00%"


def test_summary_formats_frozen_header_and_filter(wb):
    ws = wb["汇总"]
    for row in (2, 3, 4):
        assert [ws.cell(row, c).number_format for c in range(6, 10)] == ["#,##0.00"] * 4
        assert ws.cell(row, 10).number_format == "0.00%"
    assert ws.cell(2, 11).number_format == "0.00" and ws.cell(2, 12).number_format == "0.00"
    assert ws.freeze_panes == "C2"
    # the filter covers header and file rows, not the 合计 row (sorting must not move it)
    assert ws.auto_filter.ref == f"A1:S{ws.max_row - 1}"
    assert ws.cell(1, 1).font.b
    assert ws.column_dimensions["B"].width >= 12
    for name in ("指标得分", "问题清单", "未报送"):
        assert wb[name].freeze_panes in ("A2", "C2")
        assert wb[name].auto_filter.ref and wb[name].auto_filter.ref.startswith("A1:")


def test_unit_text_stays_inert(wb, summary):
    ws = wb["汇总"]
    cell_name, cell_dept = ws.cell(5, 2), ws.cell(5, 3)
    assert (cell_name.value, cell_dept.value) == (HYPERLINK, DDE)
    assert cell_name.data_type == "s" and cell_dept.data_type == "s"
    with zipfile.ZipFile(summary) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 5
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert not re.search(r"<f[ >]", xml), name
            assert "<hyperlink" not in xml
        assert not any("externalLink" in n for n in z.namelist())
        strings = z.read("xl/sharedStrings.xml").decode()
        assert f"<t>{HYPERLINK}</t>" in strings and "<t>+cmd|' /C calc'!A0</t>" in strings


def test_scores_sheet(wb, batch):
    table = rows(wb["指标得分"])
    codes = [i.code for i in RUBRIC.indicators]
    expected = ["单位编码", "单位名称", *[f"{c} {k}" for c in codes for k in ("自评", "核定")],
                "自评总分", "核定总分"]
    assert list(table[0]) == expected
    assert [r[0] for r in table[1:]] == ["T001", "T002", "T003", "T004"]  # scored files only
    good = dict(zip(expected, table[1], strict=True))
    assert good["B1 自评"] == 15 and good["B1 核定"] == 15 and good["核定总分"] == 100
    inject = dict(zip(expected, table[3], strict=True))
    assert inject["A4 自评"] == inject["A4 核定"] == "不适用"
    assert inject["B2 核定"] == "不适用" and inject["自评总分"] == 90 and inject["核定总分"] == 100
    over = dict(zip(expected, table[4], strict=True))
    assert over["A1 自评"] == 7 and over["A1 核定"] == "—" and over["核定总分"] == "—"


def test_findings_sheet(wb, batch):
    table = rows(wb["问题清单"])
    assert table[0] == ("单位编码", "单位名称", "文件", "严重程度", "问题", "规则", "工作表", "单元格",
                        "说明", "涉及单元格", "单位答复")
    assert len(table) - 1 == sum(len(r.findings) for r in batch.files)
    (bal,) = [f for f in batch.files[2].findings if f.code == "balance-mismatch"]
    (row,) = [r for r in table if r[5] == "balance-mismatch"]
    assert row[:9] == ("T002", "平衡局", "balance.xlsx", "错误", "收支不平衡", "balance-mismatch", "基础数据表",
                       bal.cell, bal.message)
    assert row[9] == "、".join(bal.cells)
    assert row[10] is None  # no reply: the unit sent its own file, not a feedback copy
    assert {r[3] for r in table[1:]} <= {"错误", "警告", "提示"}
    assert ("empty.xlsx", "file-unreadable") in {(r[2], r[5]) for r in table}


def test_missing_sheet_has_a_header_when_empty(wb):
    assert rows(wb["未报送"]) == [("单位编码", "单位名称", "主管部门")]


def test_batch_findings_and_not_submitted(batch, tmp_path):
    gone = {"unit_code": "T009", "unit_name": "未报送局", "department": "某部门"}
    finding = Finding("not-submitted", "单位 T009（未报送局）未报送自评材料", unit_code="T009")
    extended = dataclasses.replace(batch, not_submitted=[gone], findings=[finding])
    book = openpyxl.load_workbook(write_summary(extended, tmp_path))
    assert rows(book["未报送"]) == [
        ("单位编码", "单位名称", "主管部门"), ("T009", "未报送局", "某部门")]
    last = rows(book["问题清单"])[-1]
    assert last[:6] == ("T009", "未报送局", None, "警告", "单位未报送", "not-submitted")


def test_statistics_sheet_and_chart(wb, batch, summary):
    table = rows(wb["统计"])
    grades = {r[0]: r[1] for r in table[1:6]}
    assert table[0][:2] == ("核定等级", "单位数")
    assert grades == {"优秀": 3, "良好": 0, "中": 0, "差": 0, "未定级": 1}
    start = [r[0] for r in table].index("状态")
    assert table[start][:3] == ("状态", "文件数", "计入汇总合计")
    statuses = {r[0]: r[1:3] for r in table[start + 1:start + 7]}
    assert statuses == {
        "已审核": (2, "是"), "有错误": (2, "否"), "无法读取": (1, "否"), "模板不符": (0, "否"),
        "重复已忽略": (1, "否"), "已忽略": (1, "否")}
    # the rows the 汇总 合计 leaves out, counted and broken down by status
    assert table[start + 7][:3] == ("未计入合计的文件", 5, "有错误 2、无法读取 1、重复已忽略 1、已忽略 1")
    start = [r[0] for r in table].index("规则")
    by_code = {r[0]: r[1:5] for r in table[start + 1:] if r[0]}
    assert by_code["duplicate-submission"] == ("警告", "同一单位重复报送", 2, 2)
    assert by_code["balance-mismatch"] == ("错误", "收支不平衡", 1, 1)
    assert set(by_code) == {f.code for f in batch.all_findings}
    assert len(wb["统计"]._charts) == 1
    with zipfile.ZipFile(summary) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
        assert "<c:barChart>" in chart and "统计!$B$2:$B$6" in chart
        assert "drawing" in z.read("xl/worksheets/_rels/sheet5.xml.rels").decode()


def test_deterministic_bytes(batch, tmp_path):
    first = write_summary(batch, tmp_path / "one").read_bytes()
    second = write_summary(batch, tmp_path / "two").read_bytes()
    write_summary(batch, tmp_path / "one")  # overwrite in place, atomically
    assert first == second == (tmp_path / "one" / "summary.xlsx").read_bytes()
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["summary.xlsx"]
    with zipfile.ZipFile(tmp_path / "one" / "summary.xlsx") as z:
        assert "2021-01-01T00:00:00Z" in z.read("docProps/core.xml").decode()


def test_clean_text():
    assert clean_text("a\x00b\x07c\r\nd\te\x1f") == "abc\nd\te"
    long = clean_text("长" * 40_000)
    assert len(long) == MAX_TEXT and long.endswith("（内容过长，已截断）")
    assert clean_text("=1+1") == "=1+1"  # inert because of the workbook options, not altered


def test_control_characters_and_long_text_in_cells(tmp_path):
    noisy = FileResult(
        file="x/\x01noisy.xlsx", status="error", unit_code="X1", unit_name="坏\x08名\x0b字",
        fields={"income_total": Decimal("10"), "carryover_begin": Decimal("0"),
                "expense_total": Decimal("5"), "carryover_end": Decimal("5")},
        indicators=[IndicatorResult("A1", self_score=Decimal("4.73"),
                                    reviewed_score=Decimal("4.73"), manual=True)],
        findings=[Finding("type-error", "长" * 40_000, sheet="基础数据表", cells=("B5",))])
    zero = FileResult(file="z.xlsx", unit_code="X2", fields={
        "income_total": Decimal("0"), "carryover_begin": Decimal("0"),
        "expense_total": Decimal("0")})
    book = openpyxl.load_workbook(write_summary(
        BatchResult(RUBRIC, 2020, dt.date(2021, 6, 20), [noisy, zero]), tmp_path))
    table = rows(book["汇总"])
    assert table[1][1] == "坏名字" and table[1][3] == "x/noisy.xlsx"
    assert table[1][9] == 0.5
    assert table[2][9] is None  # 0 / 0: not computable, left blank
    # only the reviewed row is in the 合计: 0 / 0 leaves its rate blank
    assert table[-1][5:10] == (0, 0, 0, 0, None)
    message = rows(book["问题清单"])[1][8]
    assert len(message) == MAX_TEXT and message.endswith("已截断）")
    assert rows(book["指标得分"])[1][2:4] == (4.73, 4.73)



def test_a_unit_that_typed_yuan_does_not_inflate_the_total(make_return, evaluate, tmp_path):
    """Issue 9, case 5: figures typed in 元 once went into the 合计 row as 万元."""
    money = [k for k, f in fields().items() if f.type == "money"]
    yuan = {k: v * 10_000 for k, v in good_values().items() if k in money and v is not None}
    good = evaluate(make_return("good.xlsx"))
    typed = evaluate(make_return("yuan.xlsx", unit_code="T009", unit_name="元局", **yuan))
    assert good.status == "reviewed"
    # balanced and every rate the same: only the magnitude gives it away, and it is an error now
    assert typed.status == "error" and [f.code for f in typed.findings] == ["magnitude-suspect"]
    book = openpyxl.load_workbook(write_summary(BatchResult(RUBRIC, 2020, dt.date(2021, 6, 20), [good, typed]),
                                                tmp_path / "out"))
    table = rows(book["汇总"])
    assert [r[4] for r in table[1:-1]] == ["已审核", "有错误"]
    assert table[2][5] == 29_997_600  # the row still shows what the unit typed
    total = table[-1]
    assert total[0] == "合计（已审核单位）"
    assert total[5:9] == pytest.approx((2999.76, 2.89, 2970.12, 32.53), abs=1e-9)
    assert total[9] == pytest.approx(2970.12 / (2.89 + 2999.76), abs=1e-12)
    (left_out,) = [r for r in rows(book["统计"]) if r[0] == "未计入合计的文件"]
    assert left_out[1:3] == (1, "有错误 1")


def test_the_samples_total_leaves_out_the_unit_in_yuan(tmp_path):
    """The issue's own numbers: the sample unit with 43,620,500 "万元" is returned, not summed."""
    samples = Path(__file__).resolve().parent.parent / "examples" / "returns-2020"
    batch = run_batch(samples, Options.for_rubric(RUBRIC), jobs=1)
    table = rows(openpyxl.load_workbook(write_summary(batch, tmp_path))["汇总"])
    (housing,) = [r for r in table if r[0] == "440800012"]
    assert housing[4:6] == ("有错误", 43_620_500)
    reviewed = [r for r in table[1:-1] if r[4] == "已审核"]
    assert len(reviewed) == 6
    total = table[-1]
    assert total[5] == pytest.approx(sum(r[5] for r in reviewed)) == pytest.approx(22_920.91)
    assert total[5:9] == pytest.approx([sum(r[c] for r in reviewed) for c in range(5, 9)])
    assert total[9] == pytest.approx(total[7] / (total[6] + total[5]), abs=1e-12)
