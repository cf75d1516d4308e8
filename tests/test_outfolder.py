"""Spec §11 tried as a hostile clerk would: the output folder is the people's, perfxl owns only what it wrote.

Ownership (a person's files survive, edited outputs go to 保留/), which folders `--out` accepts,
one run at a time, a state file that forgives, and honest exits when the disk says no.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.write.errors import OutputFolderError
from perfxl.write.folder import KEEP, OutputFolder

STATE = ".perfxl/state.jsonl"
A, B, C = "A1_甲单位", "B1_乙单位", "C1_丙单位"


def cli(*args: object):
    """`perfxl …` in this process; stdout and stderr both in .output."""
    return CliRunner().invoke(app, [str(a) for a in args])


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root (hidden ones too) by POSIX relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def names(root: Path) -> set[str]:
    """Every name below root, folders included."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def outputs(root: Path) -> dict[str, bytes]:
    """perfxl's outputs: every file outside .perfxl/ and 保留/."""
    return {rel: data for rel, data in tree(root).items() if rel.split("/")[0] not in (".perfxl", KEEP)}


def outputs_of(files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: data for rel, data in files.items() if rel.split("/")[0] not in (".perfxl", KEEP)}


def kept(root: Path) -> dict[str, bytes]:
    """What was set aside, by its path below 保留/."""
    return {rel.split("/", 1)[1]: data for rel, data in tree(root).items() if rel.split("/")[0] == KEEP}


def set_reply(path: Path, text: str) -> None:
    """Type a reply into the first finding's 单位答复 cell of a feedback workbook, as a unit would."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    sheet = wb["审核意见"]
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == "单位答复":
                sheet.cell(row=cell.row + 1, column=cell.column, value=text)
                wb.save(path)
                return
    raise AssertionError(f"no 单位答复 column in {path}")


@pytest.fixture
def inbox(tmp_path: Path, make_return) -> Path:
    """Three units: A1 clean, B1 and C1 with a balance error (so each has a feedback workbook)."""
    make_return("in/a.xlsx", unit_code="A1", unit_name="甲单位")
    make_return("in/b.xlsx", unit_code="B1", unit_name="乙单位", carryover_end=Decimal("42.53"))
    make_return("in/c.xlsx", unit_code="C1", unit_name="丙单位", carryover_end=Decimal("52.53"))
    return tmp_path / "in"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def first_run(inbox: Path, out: Path, *extra: object):
    done = cli("run", inbox, "--out", out, *extra)
    assert done.exit_code == 0, done.output
    assert not (out / KEEP).exists()
    return done


# -- 1. ownership -----------------------------------------------------------------------------


def test_a_clerks_own_files_survive_every_run_untouched(inbox, out, make_return):
    first_run(inbox, out)
    mine = {
        "reports/我的笔记.md": "# 我的笔记\n乙单位电话已催。\n".encode(),
        "feedback/已发送记录.xlsx": (inbox / "a.xlsx").read_bytes(),  # a real workbook, not perfxl's
        "周报.docx": b"PK\x03\x04 not really a docx, still mine",
    }
    for rel, data in mine.items():
        (out / rel).write_bytes(data)
    make_return("in/b.xlsx", unit_code="B1", unit_name="乙单位")  # B1 corrects: its outputs change, its feedback goes
    for extra in ((), ("--docx",), ()):
        done = cli("run", inbox, "--out", out, *extra)
        assert done.exit_code == 0, done.output
        for rel, data in mine.items():
            assert (out / rel).read_bytes() == data, rel
        assert not (out / KEEP).exists(), names(out / KEEP)
        assert "保留" not in done.output
    assert not (out / "feedback" / f"{B}.xlsx").exists()  # perfxl's own, unchanged: removed


def test_a_file_perfxl_did_not_write_at_an_output_path_is_set_aside(inbox, out, tmp_path, make_return):
    first_run(inbox, out)
    theirs = "单位自己起草的报告，不是 perfxl 写的。\n".encode()
    (out / "reports" / "D1_丁单位.md").write_bytes(theirs)
    make_return("in/d.xlsx", unit_code="D1", unit_name="丁单位")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert kept(out) == {"reports/D1_丁单位.md": theirs}
    assert (out / "reports" / "D1_丁单位.md").read_bytes() != theirs  # perfxl's report took the path
    assert "reports/D1_丁单位.md → 保留/reports/D1_丁单位.md" in done.output


def test_an_edited_feedback_and_an_annotated_summary_are_set_aside_byte_for_byte(inbox, out):
    import openpyxl

    first_run(inbox, out)
    original_feedback = (out / "feedback" / f"{B}.xlsx").read_bytes()
    original_summary = (out / "summary.xlsx").read_bytes()
    set_reply(out / "feedback" / f"{B}.xlsx", "年末结转和结余已按决算更正为 32.53 万元。")
    wb = openpyxl.load_workbook(out / "summary.xlsx")
    wb["汇总"]["R2"] = "已电话催报"
    wb.save(out / "summary.xlsx")
    replied, annotated = (out / "feedback" / f"{B}.xlsx").read_bytes(), (out / "summary.xlsx").read_bytes()

    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert kept(out) == {f"feedback/{B}.xlsx": replied, "summary.xlsx": annotated}
    # perfxl wrote its own again: the same bytes as the first time (nothing in the batch changed)
    assert (out / "feedback" / f"{B}.xlsx").read_bytes() == original_feedback
    assert (out / "summary.xlsx").read_bytes() == original_summary
    assert f"feedback/{B}.xlsx → 保留/feedback/{B}.xlsx" in done.output
    assert "summary.xlsx → 保留/summary.xlsx" in done.output

    # the clerk edits the new copy too: the second edit gets the next free name, the first stays
    set_reply(out / "feedback" / f"{B}.xlsx", "第二次答复。")
    second = (out / "feedback" / f"{B}.xlsx").read_bytes()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert kept(out) == {f"feedback/{B}.xlsx": replied, "summary.xlsx": annotated, f"feedback/{B}_2.xlsx": second}
    assert f"feedback/{B}.xlsx → 保留/feedback/{B}_2.xlsx" in done.output

    # and a third, unchanged run moves nothing and changes nothing
    before = tree(out)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert "保留" not in done.output
    assert tree(out) == before


def test_word_reports_are_removed_without_docx_only_when_unchanged(inbox, out):
    first_run(inbox, out, "--docx")
    docx = sorted(p.name for p in (out / "reports").glob("*.docx"))
    assert docx == [f"{A}.docx", f"{B}.docx", f"{C}.docx"]
    stamped = out / "reports" / f"{B}.docx"
    stamped.write_bytes(stamped.read_bytes() + b"\0")  # a change that keeps it a file of its own
    stamped_bytes = stamped.read_bytes()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert list((out / "reports").glob("*.docx")) == []
    assert kept(out) == {f"reports/{B}.docx": stamped_bytes}
    assert f"reports/{B}.docx → 保留/reports/{B}.docx" in done.output


def test_outputs_of_a_unit_no_longer_in_the_batch_go_unless_edited(inbox, out):
    first_run(inbox, out)
    assert {f"reports/{C}.md", f"reports/{C}.html", f"feedback/{C}.xlsx"} <= set(outputs(out))
    set_reply(out / "feedback" / f"{C}.xlsx", "我单位已重新报送。")
    replied = (out / "feedback" / f"{C}.xlsx").read_bytes()
    (inbox / "c.xlsx").unlink()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert not [rel for rel in outputs(out) if C in rel]
    assert kept(out) == {f"feedback/{C}.xlsx": replied}
    assert f"feedback/{C}.xlsx → 保留/feedback/{C}.xlsx" in done.output
    manifest = (out / ".perfxl" / "manifest").read_text("utf-8")
    assert C not in manifest  # nothing of C1's is perfxl's any more


def test_an_edited_results_json_and_index_are_set_aside(inbox, out):
    first_run(inbox, out)
    results = out / "results.json"
    edited = results.read_bytes().replace(b'"reviewed"', b'"reviewed" ', 1)
    results.write_bytes(edited)
    page = out / "index.html"
    page_edit = page.read_bytes() + "<!-- 科长批注 -->".encode()
    page.write_bytes(page_edit)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert kept(out) == {"results.json": edited, "index.html": page_edit}
    json.loads(results.read_text("utf-8"))  # perfxl's own again


def test_an_edit_that_keeps_size_and_time_is_still_an_edit_and_a_restored_copy_is_perfxls(inbox, out):
    first_run(inbox, out)
    report = out / "reports" / f"A1_{'甲单位'}.md"
    original, stamp = report.read_bytes(), report.stat()
    edited = original.replace("甲单位".encode(), "乙单位".encode(), 1)  # same length in UTF-8
    assert edited != original and len(edited) == len(original)
    report.write_bytes(edited)
    os.utime(report, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # as `cp -p` or a sync tool would leave it
    page = out / "reports" / f"{B}.html"
    page_bytes = page.read_bytes()
    page.unlink()
    page.write_bytes(page_bytes)  # the clerk restores perfxl's page from a backup: other time, same bytes
    (out / "index.html").unlink()  # and deletes the overview
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert kept(out) == {f"reports/{A}.md": edited}
    assert report.read_bytes() == original and page.read_bytes() == page_bytes
    assert (out / "index.html").is_file()


def test_keep_being_a_file_stops_the_run_and_loses_nothing(inbox, out):
    import openpyxl

    first_run(inbox, out)
    (out / KEEP).write_bytes(b"a clerk's file called keep")
    wb = openpyxl.load_workbook(out / "summary.xlsx")
    wb["汇总"]["R2"] = "已电话催报"
    wb.save(out / "summary.xlsx")
    annotated = (out / "summary.xlsx").read_bytes()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert str(out / KEEP) in done.output
    assert "Traceback" not in done.output and "内部错误" not in done.output
    assert (out / KEEP).read_bytes() == b"a clerk's file called keep"
    assert (out / "summary.xlsx").read_bytes() == annotated


def test_a_failed_run_still_says_what_it_set_aside(inbox, out, monkeypatch):
    """The clerk must learn where a replied feedback went even when the run then fails."""
    first_run(inbox, out)
    set_reply(out / "feedback" / f"{B}.xlsx", "已更正。")
    with monkeypatch.context() as patch:
        assert _failing_replace(patch, out, errno.ENOSPC, "results.json") is not None
        done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert (out / KEEP / "feedback" / f"{B}.xlsx").is_file()
    assert f"feedback/{B}.xlsx → 保留/feedback/{B}.xlsx" in done.output, done.output


def test_a_folder_in_the_way_of_an_output_stops_the_run_and_is_left_alone(inbox, out):
    first_run(inbox, out)
    (out / "summary.xlsx").unlink()
    (out / "summary.xlsx").mkdir()
    (out / "summary.xlsx" / "我的.txt").write_text("x", encoding="utf-8")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert "summary.xlsx" in done.output and "Traceback" not in done.output
    assert (out / "summary.xlsx" / "我的.txt").read_text("utf-8") == "x"


# -- 2. which folders ---------------------------------------------------------------------------


def test_a_desktop_is_refused_and_nothing_in_it_changes(inbox, tmp_path):
    desk = tmp_path / "桌面"
    (desk / "2021年资料").mkdir(parents=True)
    (desk / "工作计划.docx").write_bytes(b"PK\x03\x04 plan")
    (desk / "2021年资料" / "汇总.xlsx").write_bytes(b"PK\x03\x04 data")
    (desk / "reports").mkdir()  # even a folder named like perfxl's own does not make it perfxl's
    (desk / "reports" / "周报.md").write_text("周报", encoding="utf-8")
    before, listing = tree(desk), names(desk)
    done = cli("run", inbox, "--out", desk)
    assert done.exit_code == 2, done.output
    assert "请指定一个空文件夹或以前的输出文件夹" in done.output
    errors = [line for line in done.output.splitlines() if line.startswith("错误：")]
    assert len(errors) == 1 and str(desk) in errors[0], done.output
    assert "Traceback" not in done.output
    assert tree(desk) == before and names(desk) == listing
    assert not (desk / ".perfxl").exists()


def test_the_current_folder_is_refused(inbox, tmp_path, monkeypatch):
    work = tmp_path / "工作"
    work.mkdir()
    (work / "周报.md").write_text("周报", encoding="utf-8")
    monkeypatch.chdir(work)
    done = cli("run", inbox, "--out", ".")
    assert done.exit_code == 2, done.output
    assert names(work) == {"周报.md"}


@pytest.mark.parametrize("kind", ["empty", "missing", "missing-nested", "only-litter"])
def test_an_empty_a_missing_or_a_litter_only_folder_is_accepted(inbox, tmp_path, kind):
    target = tmp_path / "o" / "deeper" if kind == "missing-nested" else tmp_path / "o"
    litter: dict[str, bytes] = {}
    if kind in ("empty", "only-litter"):
        target.mkdir()
    if kind == "only-litter":
        litter = {"Thumbs.db": b"\xfe\xed thumbs", ".DS_Store": b"\0\0\0\1Bud1", "desktop.ini": b"[.ShellClassInfo]"}
        for name, data in litter.items():
            (target / name).write_bytes(data)
    done = cli("run", inbox, "--out", target)
    assert done.exit_code == 0, done.output
    assert (target / "results.json").is_file() and (target / ".perfxl").is_dir()
    for name, data in litter.items():  # the system's files are not perfxl's either
        assert (target / name).read_bytes() == data


def test_out_an_existing_file_is_refused(inbox, tmp_path):
    target = tmp_path / "结果.xlsx"
    target.write_bytes(b"PK\x03\x04 mine")
    done = cli("run", inbox, "--out", target)
    assert done.exit_code == 2, done.output
    assert str(target) in done.output and "Traceback" not in done.output
    assert target.read_bytes() == b"PK\x03\x04 mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "结果.xlsx"]


def test_out_below_a_file_is_refused_with_the_path(inbox, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"mine")
    done = cli("run", inbox, "--out", blocker / "x")
    assert done.exit_code == 2, done.output
    assert str(blocker) in done.output
    assert "Traceback" not in done.output and "内部错误" not in done.output
    assert blocker.read_bytes() == b"mine"


def test_out_below_a_file_from_a_real_process_prints_no_traceback(inbox, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"mine")
    done = subprocess.run([sys.executable, "-m", "perfxl", "run", str(inbox), "--out", str(blocker / "x")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert str(blocker) in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# -- 3. one run at a time -----------------------------------------------------------------------

HOLD = ("import sys, time\n"
        "from perfxl.write.folder import OutputFolder\n"
        "folder = OutputFolder.open(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n")


def _holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_second_run_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(inbox, out):
    first_run(inbox, out)
    before = tree(out)
    holder = _holder(out)
    try:
        done = cli("run", inbox, "--out", out)
        assert done.exit_code == 2, done.output
        assert f"进程 {holder.pid}" in done.output
        assert "Traceback" not in done.output
        assert outputs(out) == outputs_of(before)  # the refused run removed and wrote nothing
        assert (out / "results.json").is_file()
    finally:
        holder.kill()
        holder.wait()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert not (out / KEEP).exists()


def test_a_second_open_in_the_same_process_is_refused(out):
    """Library callers (a GUI, a scheduler running two jobs in threads) get the same protection."""
    first = OutputFolder.open(out)
    try:
        with pytest.raises(OutputFolderError):
            second = OutputFolder.open(out)
            second.release()
    finally:
        first.release()


def test_releasing_a_refused_second_open_keeps_the_first_ones_lock(out):
    """A POSIX record lock is dropped when its process closes any descriptor of the file."""
    first = OutputFolder.open(out)
    try:
        with pytest.raises(OutputFolderError):
            OutputFolder.open(out)
        holder = subprocess.run([sys.executable, "-c", HOLD.replace("time.sleep(120)", ""), str(out)],
                                capture_output=True, text=True, timeout=60)
        assert holder.returncode != 0 and "ready" not in holder.stdout, "the first open's lock was lost"
    finally:
        first.release()


# -- 4. the state forgives ------------------------------------------------------------------------


def _since(out: Path) -> dict[str, object]:
    data = json.loads((out / "results.json").read_text("utf-8"))
    return {f["unit_code"]: f["since_last"] for f in data["files"]}


@pytest.fixture
def history(inbox, out, make_return):
    """Three runs' worth of history: B1 resubmitted once (its balance error resolved)."""
    first_run(inbox, out)
    make_return("in/b.xlsx", unit_code="B1", unit_name="乙单位")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    since = _since(out)
    assert since["A1"] is None and since["C1"] is None
    assert since["B1"]["resolved"] == ["balance-mismatch"]
    return since


def _lines(out: Path) -> list[bytes]:
    return (out / STATE).read_bytes().split(b"\n")


def _line_of(out: Path, kind: str, needle: str) -> int:
    """The 0-based index of the one state line of `kind` that contains `needle`."""
    (index,) = [i for i, line in enumerate(_lines(out)) if line.startswith(f"{kind}\t".encode()) and needle.encode() in line]
    return index


def _damage(out: Path, how: str) -> int | None:
    """Damage the state as an editor, a copy or a crash would; returns the 1-based line that is lost."""
    path = out / STATE
    data = path.read_bytes()
    lines = _lines(out)
    if how == "trailing-newline":
        path.write_bytes(data + b"\n")
    elif how == "crlf":
        path.write_bytes(data.replace(b"\n", b"\r\n"))
    elif how == "stray-byte":  # in A1's history, which A1 (never resubmitted) does not need
        index = _line_of(out, "u", "u\tA1\t")
        lines[index] = lines[index][:12] + b"\xff" + lines[index][12:]
        path.write_bytes(b"\n".join(lines))
        return index + 1
    elif how == "truncated-last-line":  # the order of the lines is perfxl's; A1's history is put last
        line = lines.pop(_line_of(out, "u", "u\tA1\t"))
        lines = [x for x in lines if x] + [line[: len(line) // 2]]
        path.write_bytes(b"\n".join(lines))
        return len(lines)
    return None


@pytest.mark.parametrize("how", ["trailing-newline", "crlf", "stray-byte", "truncated-last-line"])
def test_a_damaged_state_costs_only_the_damaged_line(history, inbox, out, make_return, how):
    lost = _damage(out, how)
    make_return("in/c.xlsx", unit_code="C1", unit_name="丙单位")  # C1 corrects its balance
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    since = _since(out)
    assert since["B1"] == history["B1"]  # untouched since its resubmission: its comparison is kept
    assert since["C1"] is not None and since["C1"]["resolved"] == ["balance-mismatch"]
    assert not list((out / ".perfxl").glob("state.broken-*"))
    if lost is None:
        assert "已损坏" not in done.output and "重置" not in done.output
    else:
        assert done.output.count("已损坏") == 1 and f"第 {lost} 行已损坏" in done.output, done.output
    assert "Traceback" not in done.output


def test_a_cut_line_is_reported_even_when_its_entry_is_no_longer_needed(history, inbox, out, make_return):
    """A truncated line is a damaged state whichever entry it held: the clerk is told, once."""
    lines = _lines(out)
    line = lines.pop(_line_of(out, "c", '"unit_code":"C1"'))  # C1's cached result, obsolete once C1 resubmits
    lines = [x for x in lines if x] + [line[: len(line) * 2 // 3]]
    (out / STATE).write_bytes(b"\n".join(lines))
    make_return("in/c.xlsx", unit_code="C1", unit_name="丙单位")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert _since(out)["C1"]["resolved"] == ["balance-mismatch"]  # its history is on another line
    assert f"第 {len(lines)} 行已损坏" in done.output, done.output


def test_a_state_saved_by_notepad_with_a_bom_keeps_its_history(history, inbox, out, make_return):
    """Notepad (Windows 10 and before) saves UTF-8 with a byte order mark and CRLF line ends."""
    path = out / STATE
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    make_return("in/c.xlsx", unit_code="C1", unit_name="丙单位")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    since = _since(out)
    assert since["B1"] == history["B1"], done.output
    assert since["C1"] is not None


def test_an_unreadable_state_is_kept_aside_never_overwritten(history, inbox, out):
    path = out / STATE
    garbage = b"\x00\x01PK garbage \xff\xfe" + path.read_bytes()[40:]
    path.write_bytes(garbage)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert (out / ".perfxl" / "state.broken-1.jsonl").read_bytes() == garbage
    assert "state.broken-1.jsonl" in done.output and "重置" in done.output
    assert _since(out)["B1"] is None  # history was reset, and the run said so
    assert path.read_bytes().startswith(b"perfxl-state")

    again = b"not a state at all\n"
    path.write_bytes(again)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert (out / ".perfxl" / "state.broken-1.jsonl").read_bytes() == garbage
    assert (out / ".perfxl" / "state.broken-2.jsonl").read_bytes() == again
    assert "state.broken-2.jsonl" in done.output and "重置" in done.output


def test_a_state_that_is_a_folder_stops_with_exit_2_not_a_traceback(history, inbox, out):
    (out / STATE).unlink()
    (out / STATE).mkdir()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code in (0, 2), done.output
    assert "Traceback" not in done.output and "内部错误" not in done.output


# -- 5. honest exits ------------------------------------------------------------------------------

CAUSES = {errno.EROFS: "只读", errno.ENOSPC: "磁盘空间不足"}


def _failing_replace(monkeypatch, out: Path, error: int, where: str) -> list[str]:
    """os.replace fails with `error` for destinations in `out` whose relative path starts with `where`."""
    real = os.replace
    failed: list[str] = []

    def replace(src, dst, *args, **kwargs):
        try:
            rel = Path(dst).relative_to(out).as_posix()
        except ValueError:
            rel = ""
        if rel.startswith(where):
            failed.append(rel)
            raise OSError(error, os.strerror(error), os.fspath(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return failed


@pytest.fixture
def clean(inbox, tmp_path) -> dict[str, bytes]:
    """The outputs of a clean run into a fresh folder."""
    fresh = tmp_path / "clean"
    first_run(inbox, fresh)
    return outputs(fresh)


@pytest.fixture
def previous(tmp_path, make_return) -> Path:
    """An earlier batch of the same units with other figures, so that a run over its outputs replaces them."""
    make_return("prev/a.xlsx", unit_code="A1", unit_name="甲单位", carryover_end=Decimal("62.53"))
    make_return("prev/b.xlsx", unit_code="B1", unit_name="乙单位")
    make_return("prev/c.xlsx", unit_code="C1", unit_name="丙单位", phone=None)
    return tmp_path / "prev"


#: what runs in the parent process, where CliRunner's monkeypatch reaches (summary.xlsx is written by a
#: background process from the forkserver: see the subprocess tests below)
FAILURES = [(errno.EROFS, "reports/", False), (errno.ENOSPC, "reports/", True), (errno.ENOSPC, "feedback/", True),
            (errno.EROFS, "feedback/", False), (errno.ENOSPC, "index.html", True), (errno.EROFS, "index.html", False),
            (errno.EROFS, "results.json", True), (errno.ENOSPC, "results.json", False)]


def _ids(cases) -> list[str]:
    return [f"{errno.errorcode[e]}-{w.strip('/')}-{'rerun' if r else 'fresh'}" for e, w, r in cases]


def _baseline(tmp_path: Path, batches: list[Path]) -> dict[str, bytes]:
    """The outputs of the same batches run one after the other into a fresh folder, without a failure."""
    baseline = tmp_path / "baseline"
    for batch in batches:
        first_run(batch, baseline)
    return outputs(baseline)


def _assert_failed_honestly(out: Path, text: str, cause: str, path: Path) -> None:
    assert "Traceback" not in text and "内部错误" not in text, text
    assert cause in text, text
    assert str(path) in text, text
    assert "不完整" in text, text
    assert not (out / "results.json").exists()
    assert not list((out / ".perfxl" / "tmp").glob("*")), "temporary files left behind"
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "temporary files left behind"


def _assert_restored(out: Path, done, expected: dict[str, bytes]) -> None:
    assert done.exit_code == 0, done.output
    assert not (out / KEEP).exists(), f"perfxl set its own files aside: {sorted(kept(out))}"
    assert outputs(out) == expected
    assert not list((out / ".perfxl").glob("journal/*"))
    assert not list((out / ".perfxl").glob("tmp/*"))


@pytest.mark.slow
@pytest.mark.parametrize("error, where, earlier", FAILURES, ids=_ids(FAILURES))
def test_an_unwritable_output_exits_2_incomplete_and_the_next_run_restores_it(
        inbox, previous, out, tmp_path, monkeypatch, error, where, earlier):
    expected = _baseline(tmp_path, [previous, inbox] if earlier else [inbox])
    if earlier:  # a folder with a previous batch's outputs, which the failed run had begun to replace
        first_run(previous, out)
    with monkeypatch.context() as patch:
        failed = _failing_replace(patch, out, error, where)
        done = cli("run", inbox, "--out", out)
    assert failed, f"nothing was written to {where}"
    assert done.exit_code == 2, done.output
    _assert_failed_honestly(out, done.output, CAUSES[error], out / failed[0])
    left = tree(out)
    time.sleep(1.5)  # a process of the failed run still writing (the background summary) would show now
    assert tree(out) == left, "the folder changed after the failed run had ended"
    _assert_failed_honestly(out, done.output, CAUSES[error], out / failed[0])
    _assert_restored(out, cli("run", inbox, "--out", out), expected)


@pytest.mark.parametrize("suffix, method", [(".md", "write_text"), (".xlsx", "write_bytes")], ids=["report", "feedback"])
def test_a_disk_that_fills_while_a_file_is_written_exits_2(inbox, out, tmp_path, monkeypatch, suffix, method):
    """ENOSPC comes from write(), not only from the rename: an error without a file name."""
    expected = _baseline(tmp_path, [inbox])
    real = getattr(Path, method)

    def full(self, *args, **kwargs):
        if self.parent == out / ".perfxl" / "tmp" and self.name.endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Path, method, full)
        done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    _assert_failed_honestly(out, done.output, "磁盘空间不足", out)
    _assert_restored(out, cli("run", inbox, "--out", out), expected)


def test_a_write_whose_rename_failed_leaves_the_old_file_perfxls(out, monkeypatch):
    """The journal says what a file was about to become; the manifest must say what it is."""
    folder = OutputFolder.open(out)
    folder.writer().write_text(folder.target("index.html"), "old\n")
    folder.finish()
    folder.release()

    folder = OutputFolder.open(out)
    with monkeypatch.context() as patch:
        _failing_replace(patch, out, errno.ENOSPC, "index.html")
        with pytest.raises(OutputFolderError):
            folder.writer().write_text(folder.target("index.html"), "new\n")
    folder.abort()
    folder.release()

    folder = OutputFolder.open(out)
    try:
        assert (out / "index.html").read_text("utf-8") == "old\n"
        assert folder.ours("index.html"), "perfxl's unchanged file would be set aside as someone's"
    finally:
        folder.release()


#: imported by every Python process of the run (the CLI, the forkserver and its children): os.replace
#: fails for the destinations below PERFXL_TEST_OUT that start with PERFXL_TEST_FAIL
INJECT = """
import errno, os
_where = os.environ.get("PERFXL_TEST_FAIL")
if _where:
    _root = os.environ["PERFXL_TEST_OUT"]
    _errno = int(os.environ["PERFXL_TEST_ERRNO"])
    _real = os.replace

    def _replace(src, dst, *args, **kwargs):
        rel = os.path.relpath(os.fspath(dst), _root).replace(os.sep, "/")
        if rel.startswith(_where):
            raise OSError(_errno, os.strerror(_errno), os.fspath(dst))
        return _real(src, dst, *args, **kwargs)

    os.replace = _replace
"""


def perfxl(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m perfxl …` as a process of its own."""
    return subprocess.run([sys.executable, "-m", "perfxl", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def injected(tmp_path: Path):
    """injected(out, where, errno) -> the environment that makes every process's os.replace fail there."""
    folder = tmp_path / "inject"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(INJECT, encoding="utf-8")

    def env(out: Path, where: str, error: int) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH", "")]))
        return {"PYTHONPATH": path, "PERFXL_TEST_FAIL": where, "PERFXL_TEST_OUT": str(out),
                "PERFXL_TEST_ERRNO": str(error)}

    return env


PROCESS_FAILURES = [(errno.ENOSPC, "summary.xlsx", False), (errno.EROFS, "summary.xlsx", True),
                    (errno.ENOSPC, "reports/", False), (errno.EROFS, "feedback/", True),
                    (errno.ENOSPC, "results.json", True)]


@pytest.mark.slow
@pytest.mark.parametrize("error, where, earlier", PROCESS_FAILURES, ids=_ids(PROCESS_FAILURES))
def test_no_process_of_a_failed_run_prints_a_traceback_or_leaves_a_file(
        inbox, previous, out, tmp_path, injected, error, where, earlier):
    """The background summary writer and the render workers are processes too: their stderr counts."""
    expected = _baseline(tmp_path, [previous, inbox] if earlier else [inbox])
    if earlier:
        first_run(previous, out)
    done = perfxl("run", inbox, "--out", out, env=injected(out, where, error))
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stdout + done.stderr
    _assert_failed_honestly(out, text, CAUSES[error], out / where.rstrip("/"))
    left = tree(out)
    time.sleep(1.5)
    assert tree(out) == left, "the folder changed after the failed run had ended"
    _assert_restored(out, cli("run", inbox, "--out", out), expected)


def test_reports_being_a_file_exits_2_naming_it(inbox, out, make_return):
    first_run(inbox, out)
    shutil.rmtree(out / "reports")
    (out / "reports").write_bytes(b"a clerk's file called reports")
    make_return("in/a.xlsx", unit_code="A1", unit_name="甲单位", phone="0759-7654321")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert str(out / "reports") in done.output
    assert "Traceback" not in done.output and "内部错误" not in done.output
    assert "不完整" in done.output
    assert (out / "reports").read_bytes() == b"a clerk's file called reports"


def _as_root(*command: str) -> subprocess.CompletedProcess:
    """Run a mount command as root: directly when we are, else through sudo without a password."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    return subprocess.run([*prefix, *command], capture_output=True, text=True)


@pytest.mark.slow
def test_a_really_full_disk_exits_2_and_a_roomier_one_recovers(inbox, tmp_path, clean):
    disk = tmp_path / "u盘"
    disk.mkdir()
    mounted = _as_root("mount", "-t", "tmpfs", "-o", "size=120k,mode=1777", "tmpfs", str(disk))  # half the outputs
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to mount a tmpfs (root or password-less sudo): {mounted.stderr}")
        pytest.skip(f"mount -t tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        target = disk / "out"
        done = perfxl("run", inbox, "--out", target)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "磁盘空间不足" in done.stderr, done.stderr
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        assert "不完整" in done.stderr
        assert not (target / "results.json").exists()
        assert not [p for p in target.rglob("*") if ".tmp" in p.name], "temporary files left on the full disk"
        assert _as_root("mount", "-o", "remount,size=20m", str(disk)).returncode == 0
        done = perfxl("run", inbox, "--out", target)
        assert done.returncode == 0, done.stdout + done.stderr
        assert outputs(target) == clean
        assert not (target / KEEP).exists(), sorted(kept(target))
    finally:
        for _ in range(10):
            if _as_root("umount", str(disk)).returncode == 0:
                break
            time.sleep(0.5)


# -- stamps: an output untouched since perfxl wrote it is known without hashing it -------------


def _written(tmp_path: Path, text: str = "甲单位的报告") -> tuple[OutputFolder, str]:
    folder = OutputFolder.open(tmp_path / "out")
    rel = folder.target("reports/a.md", "k1")
    folder.writer().write_text(rel, text)
    time.sleep(0.1)  # stamps are recorded once the clock is past the file's change time (OutputFolder._vouch)
    folder.collect()
    return folder, rel


@pytest.mark.skipif(os.name == "nt", reason="Windows gives no change time: every output is hashed there")
def test_an_untouched_output_is_ours_without_hashing_and_an_edited_one_is_hashed(tmp_path, monkeypatch):
    import perfxl.write.folder as folder_module

    folder, rel = _written(tmp_path)
    try:
        assert folder.entries[rel].stamp is not None
        hashed: list[Path] = []
        real = folder_module.file_sha256
        monkeypatch.setattr(folder_module, "file_sha256", lambda p: hashed.append(p) or real(p))
        assert folder.ours(rel) and hashed == []  # the stamp says it is as written
        path = folder.path(rel)
        before = path.stat()
        path.write_text("乙单位的报告", encoding="utf-8")  # same length, then the old modification time back
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert not folder.ours(rel) and hashed == [path]  # the change time moved: hashed, and not ours
    finally:
        folder.release()


def test_a_stamp_from_a_coarse_clock_or_an_edited_manifest_is_not_trusted(tmp_path):
    from types import SimpleNamespace

    from perfxl.write.folder import Entry, _stamp
    from perfxl.write.writer import stamp

    fake = SimpleNamespace(st_ino=7, st_size=10, st_ctime_ns=4_000_000_000, st_mtime_ns=4_000_000_000)
    assert stamp(fake) is None  # whole-second times (FAT): two edits in one tick look alike
    assert _stamp([1, 2, 3]) is None and _stamp([1, 2, "3", 4]) is None and _stamp([1, 2, 3, 4]) == (1, 2, 3, 4)
    folder, rel = _written(tmp_path)
    try:
        right = folder.entries[rel]
        folder.entries[rel] = Entry(right.size, "0" * 64, right.key, right.stamp)
        if right.stamp is not None:  # a stamp vouches for the file only as the manifest's own hash did
            assert folder.ours(rel)
        folder.entries[rel] = Entry(right.size, right.sha256, right.key, (1, 2, 3, right.size))
        assert folder.ours(rel)  # a stamp that does not match: hashed, and the hash is right
    finally:
        folder.release()
