"""A hostile review of the speed-ups to the output folder and the state (stamps, a lazily read
state, the summary in a thread): an edit that keeps size and times, a file put in place by a
rename, a copy with its times, a hard link, a swap, and damaged state lines."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from perfxl.run.state import HEADER, STATE_FILE, State
from perfxl.write.errors import OutputFolderError
from perfxl.write.folder import KEEP, OutputFolder

TEXTS = {"reports/a.md": "甲单位的报告", "reports/b.md": "乙单位的报告", "reports/c.html": "<p>丙单位</p>",
         "feedback/d.xlsx": "丁单位的反馈件", "summary.xlsx": "汇总表的内容"}


def _written(root: Path) -> OutputFolder:
    folder = OutputFolder.open(root)
    for rel, text in TEXTS.items():
        folder.writer().write_text(folder.target(rel, "k-" + rel), text)
    folder.finish()
    return folder


def _same_size_edit(path: Path, text: str) -> None:
    """Write `text` (as long as what is there) into the file itself, then put its times back."""
    before = path.stat()
    data = text.encode("utf-8")
    assert len(data) == before.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows: every output is hashed there")
def test_edits_that_keep_size_and_times_are_never_taken_for_perfxls(tmp_path):
    root = tmp_path / "out"
    _written(root).release()
    p = {rel: root / rel for rel in TEXTS}
    edited = {}
    _same_size_edit(p["reports/a.md"], "丙单位的报告")  # in place, times restored
    edited["reports/a.md"] = "丙单位的报告"
    other = tmp_path / "other.html"  # another file of the same size put there by a rename, with the old times
    other.write_text("<p>戊单位</p>", encoding="utf-8")
    st = p["reports/c.html"].stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, p["reports/c.html"])
    edited["reports/c.html"] = "<p>戊单位</p>"
    source = tmp_path / "copy.xlsx"  # shutil.copy2 over it (into the same file, times copied)
    source.write_text("己单位的反馈件", encoding="utf-8")
    st = p["feedback/d.xlsx"].stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    shutil.copy2(source, p["feedback/d.xlsx"])
    edited["feedback/d.xlsx"] = "己单位的反馈件"
    link = tmp_path / "mine.xlsx"  # a hard link elsewhere, edited there
    os.link(p["summary.xlsx"], link)
    _same_size_edit(link, "汇总表的改动")
    edited["summary.xlsx"] = "汇总表的改动"
    folder = OutputFolder.open(root)
    try:
        for rel in edited:
            assert not folder.ours(rel), rel
        assert folder.ours("reports/b.md")  # untouched
        for rel in edited:
            folder.writer().write_text(folder.target(rel, "k2-" + rel), TEXTS[rel])
        folder.finish()
    finally:
        folder.release()
    for rel, text in edited.items():
        assert (root / KEEP / rel).read_text("utf-8") == text, rel  # the person's version, kept
        assert p[rel].read_text("utf-8") == TEXTS[rel]


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows: every output is hashed there")
def test_two_outputs_of_one_size_swapped_by_renames_are_both_set_aside(tmp_path):
    root = tmp_path / "out"
    _written(root).release()
    a, b, t = root / "reports/a.md", root / "reports/b.md", root / "reports/t"
    os.replace(a, t)
    os.replace(b, a)
    os.replace(t, b)
    folder = OutputFolder.open(root)
    try:
        assert not folder.ours("reports/a.md") and not folder.ours("reports/b.md")
        folder.prune()  # a run that no longer makes either
        folder.finish()
    finally:
        folder.release()
    assert not a.exists() and not b.exists()
    assert (root / KEEP / "reports/a.md").read_text("utf-8") == TEXTS["reports/b.md"]
    assert (root / KEEP / "reports/b.md").read_text("utf-8") == TEXTS["reports/a.md"]


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows: every output is hashed there")
@pytest.mark.parametrize("when", ["after the write", "while it is vouched for"])
def test_an_edit_made_just_as_perfxl_finishes_writing_is_not_vouched_for(tmp_path, monkeypatch, when):
    """Review of 08defff: the stamp was taken after os.replace, so an edit made between the rename
    and the stat was recorded as perfxl's. Now the fold hashes the file between two stats."""
    import time

    import perfxl.write.folder as folder_module

    root = tmp_path / "out"
    folder = OutputFolder.open(root)
    path = root / "reports" / "a.md"
    try:
        folder.writer().write_text(folder.target("reports/a.md", "k"), TEXTS["reports/a.md"])
        time.sleep(0.1)  # past the settling time: only the edit can keep it from a stamp
        if when == "after the write":
            _same_size_edit(path, "丙单位的报告")
        else:
            real = folder_module.file_sha256

            def edited_first(p: Path) -> str:  # the person's save lands between the fold's stat and its hash
                if p.name == "a.md" and p.read_text("utf-8") != "丙单位的报告":
                    _same_size_edit(p, "丙单位的报告")
                return real(p)

            monkeypatch.setattr(folder_module, "file_sha256", edited_first)
        folder.finish()
        assert folder.entries["reports/a.md"].stamp is None
    finally:
        folder.release()
    monkeypatch.undo()
    folder = OutputFolder.open(root)
    try:
        folder.prune()  # the next run no longer makes it
        folder.finish()
    finally:
        folder.release()
    assert (root / KEEP / "reports/a.md").read_text("utf-8") == "丙单位的报告"


def test_a_file_written_a_moment_ago_gets_no_stamp_and_one_settled_does(tmp_path):
    import time

    root = tmp_path / "out"
    folder = OutputFolder.open(root)
    try:
        folder.writer().write_text(folder.target("reports/a.md", "k"), TEXTS["reports/a.md"])
        folder.collect()  # at once: within a coarse clock's tick an edit could keep the times
        assert folder.entries["reports/a.md"].stamp is None
        folder.writer().write_text(folder.target("reports/b.md", "k"), TEXTS["reports/b.md"])
        time.sleep(0.1)
        folder.collect()
        assert (folder.entries["reports/b.md"].stamp is not None) == (os.name != "nt")
    finally:
        folder.release()


def test_a_state_file_changed_in_place_during_the_run_keeps_only_this_runs_entries(tmp_path):
    state = _state(tmp_path, "\n".join([HEADER, 'u\tA1\t{"sha256":"x","since_last":null}']).encode())
    assert state._get("u", "A1") is not None
    state._keep("u", "A1", raw=True)
    state._keep("u", "B2", {"sha256": "y"})
    with open(tmp_path / STATE_FILE, "r+b") as fh:  # another program rewrites it in place
        fh.seek(0)
        fh.write(b"#" * 40)
    state.save()
    text = (tmp_path / STATE_FILE).read_text("utf-8")
    assert '"y"' in text and "A1" not in text
    assert any("被其他程序改动过" in note for note in state.notes)


def _state(tmp_path: Path, data: bytes) -> State:
    (tmp_path / ".perfxl").mkdir(exist_ok=True)
    (tmp_path / STATE_FILE).write_bytes(data)
    return State(tmp_path)


LINE_A = b'u\tA\t{"sha256":"x","since_last":null}'
LINE_C = b'u\tC\t{"sha256":"z","since_last":null}'


@pytest.mark.parametrize(("data", "kept", "bad"), [
    (HEADER.encode() + b"\n" + LINE_A + b"\nu\tB\t{\"sha256\":\"y\"\n" + LINE_C + b"\n", ["A", "C"], 3),  # cut line
    (HEADER.encode() + b"\nno tabs at all}\n" + LINE_C, ["C"], 2),
    (HEADER.encode() + b"\nu\tA\xff\t{}\n" + LINE_C, ["C"], 2),  # a key that is not UTF-8
    (HEADER.encode() + b'\nu\tA\t{"sha256":"\xff"}\n' + LINE_C, ["C"], 2),  # a text that is not UTF-8
    (b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n" + LINE_A + b"\r\n" + LINE_C + b"\r\n", ["A", "C"], None),  # Notepad
])
def test_a_damaged_state_line_costs_that_line_and_the_rest_is_kept_exactly(tmp_path, data, kept, bad):
    state = _state(tmp_path, data)
    for key in sorted(state._raw["u"]):
        if state._get("u", key) is not None:
            state._keep("u", key, raw=True)
    state.save()
    assert state._old is None and state._spool is None  # let go of before the new file took its place
    lines = {b"A": LINE_A, b"C": LINE_C}
    assert (tmp_path / STATE_FILE).read_bytes() == b"\n".join([HEADER.encode(), *(lines[k.encode()] for k in kept)])
    assert [n for n in state.notes if f"第 {bad} 行" in n] if bad else state.notes == []


def test_an_empty_state_file_is_set_aside_not_overwritten(tmp_path):
    state = _state(tmp_path, b"")
    assert state._old is None  # closed before it was moved (Windows cannot move an open file)
    assert (tmp_path / ".perfxl/state.broken-1.jsonl").read_bytes() == b""
    state.save()
    assert (tmp_path / STATE_FILE).read_bytes() == HEADER.encode()


def test_a_failed_save_lets_go_of_the_state_and_leaves_the_old_one(tmp_path, monkeypatch):
    data = HEADER.encode() + b"\n" + LINE_A
    state = _state(tmp_path, data)
    assert state._get("u", "A") is not None
    state._keep("u", "A", raw=True)
    state._keep("u", "C", {"sha256": "z", "since_last": None})  # spooled

    def broken(self, kind, key):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(State, "_kept_text", broken)
    with pytest.raises(OutputFolderError):  # the clerk's message, from the writer
        state.save()
    assert state._old is None and state._spool is None
    assert (tmp_path / STATE_FILE).read_bytes() == data
    assert list((tmp_path / ".perfxl").iterdir()) == [tmp_path / STATE_FILE]  # no temporary file left
