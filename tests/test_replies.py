"""The loop closes (issue 11, spec §8): a unit corrects its feedback copy, writes its 单位答复 and
sends that same workbook back; the next run carries each reply on the finding it answers, in
every output, and lists a reply whose finding is gone with the resolved ones. Replies are the
unit's text: inert everywhere."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from conftest import RUBRIC, require_programs
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.findings import CATALOGUE, Finding, Reply
from perfxl.model import FileResult, Options
from perfxl.read.replies import attach_replies, read_replies
from perfxl.read.workbook import open_book
from perfxl.run.pipeline import process_file
from perfxl.run.state import State, dump_result, load_result

runner = CliRunner()
OPTIONS = Options.for_rubric(RUBRIC)
HOSTILE = '=HYPERLINK("http://evil.example","点我") <script>alert(1)</script>\n# 标题 \x1b[2J'
FIXED = "已更正年末结转和结余"
FEEDBACK = "feedback/T001_测试市测试局.xlsx"


def run(inbox: Path, out: Path) -> dict:
    result = runner.invoke(app, ["run", str(inbox), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text("utf-8"))


def header(ws) -> tuple[int, dict[str, int]]:
    """(row, column by header text) of the 审核意见 table, 1-based."""
    for row in ws.iter_rows():
        texts = [c.value for c in row]
        if "单位答复" in texts:
            return row[0].row, {t: i + 1 for i, t in enumerate(texts) if t}
    raise AssertionError("no 单位答复 header")


def reply(path: Path, answers: dict[str, str], dest: Path, **cells: object) -> None:
    """As a unit does in Excel: type `answers` (code -> text) into 单位答复, correct `cells`
    ("sheet!A1" -> value) and save the workbook as `dest`. Text is typed as text: Excel would
    make `=…` a formula, whose cached value is all perfxl ever reads."""
    wb = openpyxl.load_workbook(path)
    ws = wb["审核意见"]
    top, cols = header(ws)
    for r in range(top + 1, ws.max_row + 1):
        code = ws.cell(r, cols["规则"]).value
        if code in answers:
            cell = ws.cell(r, cols["单位答复"])
            # openpyxl refuses an ESC; in the file Excel writes it as _x001B_
            cell.value = answers[code].replace("\x1b", "_x001B_")
            cell.data_type = "s"
    for where, value in cells.items():
        sheet, ref = where.split("!")
        wb[sheet][ref] = value
    wb.save(dest)


def review_values(path: Path) -> list[dict[str, object]]:
    """The 审核意见 rows of a workbook by header, as calamine (and so perfxl) reads them."""
    rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("审核意见").to_python()
    start = next(i for i, r in enumerate(rows) if "单位答复" in r)
    return [dict(zip(rows[start], r, strict=True)) for r in rows[start + 1:] if r[0] != ""]


@pytest.fixture
def round_one(tmp_path, make_return):
    """T001 with a balance error and an unexplained deduction, T002 clean; the first run."""
    make_return("in/T001.xlsx", carryover_end=Decimal("42.53"), score_B6=4, note_B6=None, score_total=99)
    make_return("in/T002.xlsx", unit_code="T002", unit_name="另一单位")
    out = tmp_path / "out"
    first = run(tmp_path / "in", out)
    return tmp_path / "in", out, first


def test_a_reply_comes_back_in_every_output(round_one, tmp_path):
    inbox, out, first = round_one
    t001 = first["files"][0]
    assert [f["code"] for f in t001["findings"]] == ["balance-mismatch", "deduction-unexplained"]
    balance = t001["findings"][0]
    assert all("reply" not in f for e in first["files"] for f in e["findings"])  # no reply: no key

    # the unit corrects the red cell, answers both findings and sends the feedback copy back
    reply(out / FEEDBACK, {"balance-mismatch": FIXED, "deduction-unexplained": HOSTILE}, inbox / "T001.xlsx",
          **{f"{balance['sheet']}!{balance['cell']}": 32.53})
    second = run(inbox, out)

    # results.json: the finding still open carries the reply, as its last key
    t001 = second["files"][0]
    (f,) = t001["findings"]
    assert f["code"] == "deduction-unexplained" and f["reply"] == HOSTILE
    assert list(f) == ["code", "severity", "sheet", "cell", "cells", "message", "reply"]
    since = t001["since_last"]
    assert since["resolved"] == ["balance-mismatch"] and since["still_open"] == ["deduction-unexplained"]
    assert since["replies_resolved"] == [{"code": "balance-mismatch", "sheet": balance["sheet"],
                                          "cell": balance["cell"], "reply": FIXED}]
    assert second["files"][1] == first["files"][1]  # a file without replies: its entry as before
    assert "replies_resolved" not in (first["files"][0]["since_last"] or {})

    # 问题清单: 问题 before 规则, 单位答复 last, the reply as text
    ws = openpyxl.load_workbook(out / "summary.xlsx")["问题清单"]
    head = [c.value for c in ws[1]]
    assert head[head.index("规则") - 1] == "问题" and head[-1] == "单位答复"
    (row,) = [r for r in ws.iter_rows(min_row=2) if r[head.index("规则")].value == "deduction-unexplained"]
    assert row[head.index("问题")].value == "扣分未说明原因"
    answer = row[head.index("单位答复")]
    assert answer.data_type == "s" and answer.hyperlink is None
    assert answer.value == HOSTILE.replace("\x1b", "")  # a control character has no place in a cell
    summary = openpyxl.load_workbook(out / "summary.xlsx")["汇总"]
    col = [c.value for c in summary[1]].index("与上次报送相比")
    line = summary.cell(2, col + 1).value
    assert f"已答复且不再出现的问题：收支不平衡（balance-mismatch，{balance['sheet']}!{balance['cell']}，单位答复“{FIXED}”）" \
        in line

    # the report's appendix: 问题 and 单位答复 columns, the reply escaped
    md = (out / "reports" / "T001_测试市测试局.md").read_text("utf-8")
    appendix = md[md.index("## 附件二"):]
    assert "| 严重程度 | 问题 | 规则 | 位置 | 说明 | 单位答复 |" in appendix
    assert "| 警告 | 扣分未说明原因 | deduction-unexplained |" in appendix
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in appendix and "<script>" not in md
    assert "\\# 标题" in appendix and "\x1b" not in md
    assert not re.search(r"^#+ 标题", md, re.MULTILINE)
    assert FIXED in md[:md.index("## 一")]  # the resolved reply in the resubmission note
    html = (out / "reports" / "T001_测试市测试局.html").read_text("utf-8")
    assert "<script>alert" not in html and 'href="http://evil' not in html
    assert "T002" not in md and "单位答复" not in (out / "reports" / "T002_另一单位.md").read_text("utf-8")

    # the next feedback copy: the reply pre-filled in 单位答复, still text, beside 问题 and 规则
    rows = review_values(out / FEEDBACK)
    (again,) = [r for r in rows if r["规则"] == "deduction-unexplained"]
    assert again["问题"] == "扣分未说明原因" and again["单位答复"] == HOSTILE
    wb = openpyxl.load_workbook(out / FEEDBACK)
    assert wb.sheetnames[:2] == ["审核意见", "上次审核意见"]
    top, cols = header(wb["审核意见"])
    cell = next(wb["审核意见"].cell(r, cols["单位答复"]) for r in range(top + 1, wb["审核意见"].max_row + 1)
                if wb["审核意见"].cell(r, cols["规则"]).value == "deduction-unexplained")
    assert cell.data_type == "s" and cell.hyperlink is None and cell.protection.locked is False

    # the terminal: `perfxl check` of the returned file prints no escape sequence
    checked = runner.invoke(app, ["check", str(inbox / "T001.xlsx")])
    assert "扣分未说明原因" in checked.output and "\x1b" not in checked.output
    assert '单位答复：=HYPERLINK("http://evil.example","点我") <script>alert(1)</script> # 标题' in checked.output
    assert "[2J" not in checked.output  # the whole sequence is removed, not only its ESC

    # an unchanged folder re-run: the cache keeps the replies, every output the same
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert run(inbox, out) == second
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_third_round_reads_this_rounds_sheet_not_last_rounds(round_one):
    inbox, out, _ = round_one
    reply(out / FEEDBACK, {"deduction-unexplained": "第一次答复"}, inbox / "T001.xlsx")
    run(inbox, out)
    reply(out / FEEDBACK, {"deduction-unexplained": "第二次答复"}, inbox / "T001.xlsx")
    third = run(inbox, out)
    f = next(f for f in third["files"][0]["findings"] if f["code"] == "deduction-unexplained")
    assert f["reply"] == "第二次答复"
    # this round's sheet first; last round's and the one before kept under names of their own
    assert openpyxl.load_workbook(out / FEEDBACK).sheetnames[:3] == ["审核意见", "上次审核意见2", "上次审核意见"]


def test_an_unanswered_feedback_copy_changes_no_finding(round_one, tmp_path):
    inbox, out, first = round_one
    shutil.copy(out / FEEDBACK, inbox / "T001.xlsx")  # sent back as it came, nothing typed
    second = run(inbox, out)
    assert all("reply" not in f for e in second["files"] for f in e["findings"])
    assert second["files"][0]["findings"] == first["files"][0]["findings"]
    assert "replies_resolved" not in second["files"][0]["since_last"]


# -- reading: by sheet name and header text --------------------------------------------------


def review_book(tmp_path: Path, rows: list[list[object]], name: str = "审核意见") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = name
    for row in rows:
        ws.append(row)
    wb.create_sheet("上次审核意见").append(["规则", "单元格", "单位答复"])
    wb["上次审核意见"].append(["sum-mismatch", "B5", "上一轮的答复"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def replies_of(path: Path) -> list[Reply]:
    return read_replies(open_book(path.read_bytes(), "xlsx").grids)


def test_columns_are_found_by_their_header_wherever_the_unit_moved_them(tmp_path):
    path = review_book(tmp_path, [
        ["审核意见——某单位"], ["单位插入的一行说明"], [],
        ["单位答复", "单元格", "说明", "规则 ", "序号", "工作表"],  # reordered; a stray space
        ["已核实", "$B$29（相关：B25、B23）", "…", "Balance-Mismatch", 1, "基础数据表"],
        [],  # a row the unit inserted
        [None, "I13", "…", "deduction-unexplained", 2, "评分表"],  # not answered
        ["   ", "I14", "…", "deduction-unexplained", 3, "评分表"],  # blank is no answer
        ["附注", None, None, "不是代码", None, None],  # a row that is not a finding
        [20210604, None, "…", "late-submission", 4, None],  # a number typed as the answer
    ])
    assert replies_of(path) == [Reply("balance-mismatch", "基础数据表", "B29", "已核实"),
                                Reply("late-submission", None, None, "20210604")]


def test_no_review_sheet_or_no_reply_column_means_no_replies(tmp_path):
    assert replies_of(review_book(tmp_path, [["规则", "单位答复"], ["sum-mismatch", "x"]], name="其他")) == []
    assert replies_of(review_book(tmp_path, [["规则", "单元格"], ["sum-mismatch", "B5"]])) == []


def test_a_reply_answers_the_finding_with_its_code_sheet_and_cell():
    f = Finding("sum-mismatch", "…", "基础数据表", ("B5", "B6"))
    other_sheet = Finding("sum-mismatch", "…", "评分表", ("B5",))
    no_cell = Finding("late-submission", "…", "基础数据表")
    replies = [Reply("sum-mismatch", "基础数据表", "B5", "甲"), Reply("late-submission", None, None, "乙"),
               Reply("balance-mismatch", "基础数据表", "B29", "丙")]
    out, unanswered = attach_replies([f, other_sheet, no_cell], replies)
    assert [x.reply for x in out] == ["甲", None, "乙"]
    assert unanswered == [replies[2]]
    assert out[0] == f  # the unit's answer does not make it another problem
    again, _ = attach_replies(out, replies[1:])  # matched afresh: a withdrawn answer is gone
    assert [x.reply for x in again] == [None, None, "乙"]


def test_the_cache_keeps_replies(tmp_path):
    result = FileResult("a.xlsx", findings=[Finding("sum-mismatch", "…", "基础数据表", ("B5",), reply="甲")],
                        replies=[Reply("sum-mismatch", "基础数据表", "B5", "甲")])
    back = load_result(json.loads(json.dumps(dump_result(result))))
    assert back.findings[0].reply == "甲" and back.replies == result.replies
    plain = dump_result(FileResult("b.xlsx", findings=[Finding("sum-mismatch", "…")]))
    assert "reply" not in plain["findings"][0]


def test_a_reply_to_a_finding_the_batch_adds_is_matched_too(tmp_path):
    """ledger-mismatch comes from the roster, after the file was read: compare matches again."""
    state = State(tmp_path)
    result = FileResult("a.xlsx", unit_code="T001", sha256="1",
                        replies=[Reply("ledger-mismatch", "基础数据表", "B20", "以我单位账面为准")])
    state.compare([result])
    state.save()
    state = State(tmp_path)
    result = FileResult("a.xlsx", unit_code="T001", sha256="2", replies=result.replies,
                        findings=[Finding("ledger-mismatch", "…", "基础数据表", ("B20",))])
    state.compare([result])
    assert result.findings[0].reply == "以我单位账面为准"
    assert "replies_resolved" not in result.since_last


@pytest.mark.slow
def test_a_copy_saved_as_ods_is_read_too(round_one, tmp_path):
    """A unit that saves the feedback copy in WPS or LibreOffice's own format: calamine reads it."""
    require_programs("soffice", install="libreoffice-calc-nogui")
    _, out, _ = round_one
    typed = tmp_path / "typed" / "T001.xlsx"
    typed.parent.mkdir()
    reply(out / FEEDBACK, {"deduction-unexplained": "已补充扣分原因"}, typed)
    subprocess.run([shutil.which("soffice"), "--headless", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
                    "--convert-to", "ods", "--outdir", str(typed.parent), str(typed)], check=True,
                   capture_output=True, timeout=180)
    ods = typed.with_suffix(".ods")
    result = process_file(ods, ods.name, OPTIONS)
    assert result.format == "ods"
    f = next(f for f in result.findings if f.code == "deduction-unexplained")
    assert f.reply == "已补充扣分原因"


# -- the catalogue as the README shows it ----------------------------------------------------


def test_readme_lists_exactly_the_catalogues_codes_with_their_severities():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme[readme.index("## 问题代码"):]
    section = section[:section.index("\n## ", 1)]
    rows = re.findall(r"^\| `([a-z-]+)` \| (\S+) \| (.+?) \|$", section, re.MULTILINE)
    listed = {code: (severity, meaning) for code, severity, meaning in rows}
    assert len(rows) == len(listed)  # no code twice
    assert sorted(listed) == sorted(CATALOGUE)
    for code, (severity, title) in CATALOGUE.items():
        assert listed[code][0] == severity.label, code
        assert listed[code][1].startswith(title), code  # the short Chinese name, maybe explained
