"""Every input accounted for (spec §11 "Names"): odd names, links and unreadable folders are
listed, never fatal and never silent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC

import perfxl.run.worker
from perfxl.model import Options
from perfxl.read.intake import LINK_AGAIN, LINK_BROKEN, LINK_LOOP, LINK_OUTSIDE, Candidate, discover, source_path
from perfxl.run.pipeline import run_candidates
from perfxl.run.state import State
from perfxl.write.results import to_json

OPTIONS = Options.for_rubric(RUBRIC)
posix_names = pytest.mark.skipif(sys.platform == "win32", reason="Windows file names are always Unicode")

#: GBK bytes, as a Windows zip unpacked on Linux leaves them: 张.xlsx, 李.xlsx, 单位/
ZHANG, LI, FOLDER = b"\xd5\xc5.xlsx", b"\xc0\xee.xlsx", b"\xb5\xa5\xce\xbb"


def _shown(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _link(target: Path | str, link: Path) -> None:
    try:
        os.symlink(target, link, target_is_directory=Path(target).is_dir())
    except OSError as exc:  # Windows without the privilege to make links
        pytest.skip(f"cannot create a symbolic link here: {exc}")


def _by_rel(cands: list[Candidate]) -> dict[str, Candidate]:
    return {c.rel: c for c in cands}


# -- names that are not UTF-8 ----------------------------------------------------------------


@posix_names
def test_names_that_are_not_utf8_are_read_listed_and_cached(tmp_path, make_return, monkeypatch):
    inbox = os.fsencode(tmp_path / "inbox")
    os.makedirs(inbox + b"/" + FOLDER)
    shutil.copyfile(make_return("a.xlsx"), inbox + b"/" + ZHANG)
    shutil.copyfile(make_return("b.xlsx", unit_code="T002", carryover_end=Decimal("42.53")),
                    inbox + b"/" + FOLDER + b"/" + LI)
    shutil.copyfile(make_return("c.xlsx", unit_code="T003"), inbox + b"/plain.xlsx")
    folder = Path(os.fsdecode(inbox))

    cands = discover(folder)
    zhang, li = _shown(ZHANG), f"{_shown(FOLDER)}/{_shown(LI)}"
    assert sorted(c.rel for c in cands) == sorted([zhang, li, "plain.xlsx"])
    for c in cands:
        c.rel.encode("utf-8")  # printable and writable anywhere
        assert c.path.read_bytes()[:2] == b"PK"  # the real path still opens the file
        assert source_path(folder, c.key) == c.path
    keys = _by_rel(cands)
    assert keys[zhang].key == "\0" + ZHANG.hex()  # keyed by the name's bytes
    assert keys["plain.xlsx"].key == "plain.xlsx"

    out = tmp_path / "out"
    out.mkdir()
    state = State(out)
    batch = run_candidates(cands, OPTIONS, jobs=1, state=state)
    got = {r.file: r for r in batch.files}
    assert set(got) == {zhang, li, "plain.xlsx"}
    assert (got[zhang].status, got[zhang].unit_code) == ("reviewed", "T001")
    assert got[li].status == "error" and "balance-mismatch" in {f.code for f in got[li].findings}
    entries = json.loads(to_json(batch).encode("utf-8"))["files"]
    assert {e["file"] for e in entries} == set(got)
    state.save()

    # a second run takes every file from the cache: no worker is started
    def no_pool(*a, **k):
        raise AssertionError("a file was read again")

    monkeypatch.setattr(perfxl.run.worker, "WorkerPool", no_pool)
    again = run_candidates(discover(folder), OPTIONS, jobs=1, state=State(out))
    assert [(r.file, r.status) for r in again.files] == [(r.file, r.status) for r in batch.files]


@posix_names
def test_names_shown_alike_are_told_apart(tmp_path, make_return):
    inbox = os.fsencode(tmp_path / "inbox")
    os.makedirs(inbox)
    other = b"\xd6\xc6.xlsx"  # another GBK name: the same replacement characters once shown
    assert _shown(other) == _shown(ZHANG)
    shutil.copyfile(make_return("a.xlsx"), inbox + b"/" + ZHANG)
    shutil.copyfile(make_return("b.xlsx", unit_code="T002"), inbox + b"/" + other)
    folder = Path(os.fsdecode(inbox))
    cands = discover(folder)
    assert [c.rel for c in cands] == [_shown(ZHANG)] * 2
    assert len({c.key for c in cands}) == 2
    assert {os.fsencode(source_path(folder, c.key).name) for c in cands} == {ZHANG, other}
    batch = run_candidates(cands, OPTIONS, jobs=1)
    assert sorted(r.unit_code for r in batch.files) == ["T001", "T002"]


@posix_names
def test_a_name_that_is_not_utf8_gets_its_full_feedback_copy(tmp_path, make_return):
    """The whole run: the file is read, reported, and its feedback copy carries its own sheets
    (the copy is made from the file itself, found again by its bytes)."""
    import openpyxl
    from typer.testing import CliRunner

    from perfxl.cli import app

    inbox = os.fsencode(tmp_path / "inbox")
    os.makedirs(inbox)
    shutil.copyfile(make_return("b.xlsx", unit_code="T002", carryover_end=Decimal("42.53")), inbox + b"/" + LI)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", os.fsdecode(inbox), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (copy,) = (out / "feedback").glob("*.xlsx")
    sheets = openpyxl.load_workbook(copy).sheetnames
    assert sheets[0] == "审核意见" and "基础数据表" in sheets and "评分表" in sheets


def test_given_paths_are_shown_as_valid_utf8_too():
    # `perfxl check PATH…` builds candidates itself: the same rules apply
    raw = os.fsdecode(b"/tmp/" + ZHANG) if sys.platform != "win32" else "C:\\t\\\udcd5.xlsx"
    cand = Candidate(Path(raw), raw)
    cand.rel.encode("utf-8")
    assert "\ufffd" in cand.rel and cand.key != cand.rel


# -- links -----------------------------------------------------------------------------------


def test_links_are_followed_only_inside_the_folder(tmp_path, make_return):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "sub").mkdir(parents=True)
    outside.mkdir()
    make_return("inbox/sub/T001.xlsx")
    make_return("outside/secret.xlsx", unit_code="T009")
    _link(outside / "secret.xlsx", inbox / "外部文件.xlsx")
    _link(outside, inbox / "外部文件夹")
    _link(inbox / "sub" / "T001.xlsx", inbox / "内部文件.xlsx")
    _link(inbox / "sub", inbox / "内部文件夹")
    _link(inbox / "已删除.xlsx", inbox / "断开.xlsx")
    _link("../../outside", inbox / "sub" / "上两级")  # relative, and outside once resolved

    cands = _by_rel(discover(inbox))
    assert set(cands) == {"sub/T001.xlsx", "外部文件.xlsx", "外部文件夹", "内部文件.xlsx",
                          "内部文件夹/T001.xlsx", "断开.xlsx", "sub/上两级", "内部文件夹/上两级"}
    assert cands["外部文件.xlsx"].ignore == cands["外部文件夹"].ignore == LINK_OUTSIDE
    assert cands["sub/上两级"].ignore == cands["内部文件夹/上两级"].ignore == LINK_OUTSIDE
    assert cands["断开.xlsx"].ignore == LINK_BROKEN
    for rel in ("sub/T001.xlsx", "内部文件.xlsx", "内部文件夹/T001.xlsx"):
        assert cands[rel].ignore is None, rel  # inside the folder: followed

    batch = run_candidates(list(cands.values()), OPTIONS, jobs=1)
    got = {r.file: r for r in batch.files}
    assert "T009" not in {r.unit_code for r in batch.files}  # nothing outside was read
    outside_link = got["外部文件夹"]
    assert outside_link.status == "ignored"
    assert [f.message for f in outside_link.findings] == [f"{LINK_OUTSIDE}，已忽略"]
    assert "链接指向输入文件夹以外" in outside_link.findings[0].message
    # the three inside copies of one unit: one kept, the others superseded, none silent
    assert sorted(got[rel].status for rel in ("sub/T001.xlsx", "内部文件.xlsx", "内部文件夹/T001.xlsx")) == [
        "duplicate", "duplicate", "reviewed"]


def _alarm(seconds: int):
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("no SIGALRM to bound a hang on this platform")

    def fire(*_):
        raise TimeoutError("discover() did not return: a link loop was followed")

    signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)


def test_a_link_loop_does_not_hang(tmp_path, make_return):
    inbox = tmp_path / "inbox"
    (inbox / "a" / "b").mkdir(parents=True)
    make_return("inbox/a/b/T001.xlsx")
    _link(inbox, inbox / "a" / "b" / "回到顶层")
    _link(inbox / "a", inbox / "a" / "b" / "回到上级")
    _link(inbox / "a" / "b", inbox / "别名1")
    _link(inbox / "a" / "b", inbox / "别名2")
    _link(inbox / "自指", inbox / "自指")  # a link to itself cannot be resolved
    _alarm(20)
    try:
        cands = _by_rel(discover(inbox))
    finally:
        signal.alarm(0)
    assert cands["a/b/回到顶层"].ignore == cands["a/b/回到上级"].ignore == LINK_LOOP
    assert cands["别名1/T001.xlsx"].ignore is None  # followed once
    assert cands["别名2"].ignore == LINK_AGAIN  # not twice
    assert cands["自指"].ignore == LINK_BROKEN
    assert cands["a/b/T001.xlsx"].ignore is None
    assert "别名1/回到顶层" in cands and cands["别名1/回到顶层"].ignore == LINK_LOOP


# -- folders that cannot be opened -----------------------------------------------------------


def test_an_unreadable_subfolder_is_listed_with_a_finding(tmp_path, make_return, monkeypatch):
    inbox = tmp_path / "inbox"
    make_return("inbox/ok/T001.xlsx")
    make_return("inbox/锁定/T002.xlsx", unit_code="T002")
    locked = inbox / "锁定"
    if hasattr(os, "geteuid") and os.geteuid() != 0 and sys.platform != "win32":
        locked.chmod(0)  # a real permission failure
    else:
        # root (and Windows) can open any folder: make os.scandir fail for that one, the way
        # it fails without permission, so the same path through discover() is taken
        real_scandir = os.scandir

        def scandir(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        cands = _by_rel(discover(inbox))
        batch = run_candidates(list(cands.values()), OPTIONS, jobs=1)
    finally:
        locked.chmod(0o755)
    assert set(cands) == {"ok/T001.xlsx", "锁定"}
    got = {r.file: r for r in batch.files}
    assert got["ok/T001.xlsx"].status == "reviewed"
    entry = got["锁定"]
    assert entry.status == "ignored"
    (finding,) = entry.findings
    assert finding.file == "锁定"
    assert "文件夹“锁定”无法打开（没有访问权限）" in finding.message
    assert "请检查该文件夹的访问权限" in finding.message


def test_the_input_folder_itself_missing_is_an_error_not_an_empty_batch(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "nowhere")
