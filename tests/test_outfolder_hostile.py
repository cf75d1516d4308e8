"""The output folder under attack (a hostile review's findings, spec §11): a manifest that names
paths outside the folder, links in the way, a folder of another command, failures at the very end."""

from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from test_outfolder import KEEP, A, B, cli, first_run, names

from perfxl.write.folder import MANIFEST_HEADER, OutputFolder, safe_rel

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")


@pytest.fixture
def inbox(tmp_path: Path, make_return) -> Path:
    make_return("in/a.xlsx", unit_code="A1", unit_name="甲单位")
    make_return("in/b.xlsx", unit_code="B1", unit_name="乙单位", carryover_end=Decimal("42.53"))
    return tmp_path / "in"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def _entry(rel: str, data: bytes) -> str:
    return json.dumps([rel, len(data), hashlib.sha256(data).hexdigest(), ""], ensure_ascii=False)


@pytest.mark.parametrize("rel", ["../victim.txt", "/etc/passwd", "reports/../../victim.txt", "", ".", "a//b",
                                 ".perfxl/manifest", "保留/x.md", "C:/x", "a\\..\\b", "x\0y"])
def test_paths_outside_the_folder_are_never_perfxls(rel):
    assert not safe_rel(rel)


def test_a_manifest_naming_files_outside_the_folder_touches_none_of_them(inbox, out, tmp_path):
    first_run(inbox, out)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"the clerk's file next to the output folder")
    other = tmp_path / "other.txt"
    other.write_bytes(b"another")
    manifest = out / ".perfxl" / "manifest"
    with manifest.open("a", encoding="utf-8") as fh:  # it matches victim's content exactly
        fh.write(_entry("../victim.txt", victim.read_bytes()) + "\n")
        fh.write(_entry(str(other), b"xx") + "\n")
        fh.write(_entry("", b"") + "\n")  # the folder itself
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert victim.read_bytes() == b"the clerk's file next to the output folder"
    assert other.read_bytes() == b"another"
    assert not (out / KEEP).exists() and "保留" not in done.output
    assert "../victim.txt" not in manifest.read_text("utf-8")  # the bad entries are gone for good


def test_a_run_folder_cannot_take_prefilled_templates_nor_the_other_way_round(inbox, out, tmp_path):
    first_run(inbox, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".perfxl" not in p.parts}
    roster = tmp_path / "名单.csv"
    roster.write_text("单位编码,单位名称\nA1,甲单位\n", encoding="utf-8")
    done = cli("template", "--roster", roster, "-o", out)
    assert done.exit_code == 2, done.output
    assert "复核结果" in done.output and "预填模板" in done.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".perfxl" not in p.parts} == before
    prefilled = tmp_path / "预填"
    assert cli("template", "--roster", roster, "-o", prefilled).exit_code == 0
    copies = sorted(p.name for p in prefilled.glob("*.xlsx"))
    done = cli("run", inbox, "--out", prefilled)
    assert done.exit_code == 2, done.output
    assert sorted(p.name for p in prefilled.glob("*.xlsx")) == copies


def test_a_failure_at_the_very_end_leaves_no_results_json(inbox, out):
    first_run(inbox, out)
    (inbox / "b.xlsx").unlink()  # B1's outputs are no longer made: they are to be removed …
    with (out / "reports" / f"{B}.md").open("a", encoding="utf-8") as fh:
        fh.write("科员的批注\n")  # … but its report was edited, so it must be set aside …
    (out / KEEP).write_text("a file where 保留/ should be", encoding="utf-8")  # … and cannot be
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert "不完整" in done.output and "Traceback" not in done.output
    assert not (out / "results.json").exists()
    assert "科员的批注" in (out / "reports" / f"{B}.md").read_text("utf-8")  # nothing lost either


def test_a_link_where_a_report_goes_is_set_aside_not_followed(inbox, out, tmp_path):
    first_run(inbox, out)
    notes = tmp_path / "elsewhere.md"
    notes.write_text("科员的笔记", encoding="utf-8")
    report = out / "reports" / f"{A}.md"
    report.unlink()
    report.symlink_to(notes)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert notes.read_text("utf-8") == "科员的笔记"
    assert (out / KEEP / "reports" / f"{A}.md").is_symlink()
    assert not report.is_symlink() and report.read_text("utf-8").startswith("#")


def test_a_linked_feedback_folder_is_set_aside_and_nothing_is_written_through_it(inbox, out, tmp_path):
    first_run(inbox, out)
    shared = tmp_path / "共享"
    shared.mkdir()
    (shared / f"{B}.xlsx").write_bytes(b"the clerk's copy in a shared folder")
    for p in (out / "feedback").iterdir():
        p.unlink()
    (out / "feedback").rmdir()
    (out / "feedback").symlink_to(shared, target_is_directory=True)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert names(shared) == {f"{B}.xlsx"} and (shared / f"{B}.xlsx").read_bytes() == b"the clerk's copy in a shared folder"
    assert (out / KEEP / "feedback").is_symlink()
    assert (out / "feedback").is_dir() and not (out / "feedback").is_symlink()
    assert (out / "feedback" / f"{B}.xlsx").read_bytes()[:2] == b"PK"


def test_links_in_perfxls_own_folder_are_refused(inbox, out, tmp_path):
    first_run(inbox, out)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    lock = out / ".perfxl" / "lock"
    lock.unlink()
    lock.symlink_to(victim)
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 2, done.output
    assert victim.read_bytes() == b"keep me"  # never truncated through the link
    lock.unlink()

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    (elsewhere / "tmp" / "mine.txt").write_bytes(b"mine")
    other = tmp_path / "out2"
    other.mkdir()
    (other / ".perfxl").symlink_to(elsewhere, target_is_directory=True)
    done = cli("run", inbox, "--out", other)
    assert done.exit_code == 2, done.output
    assert (elsewhere / "tmp" / "mine.txt").read_bytes() == b"mine"


def test_a_file_this_machine_cannot_open_is_not_sent_back(inbox, out, monkeypatch):
    real = Path.read_bytes

    def denied(self):
        if self.name == "b.xlsx":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    from perfxl.model import Options
    from perfxl.run.pipeline import process_file
    from perfxl.spec.rubric import load_rubric

    result = process_file(inbox / "b.xlsx", "b.xlsx", Options.for_rubric(load_rubric("gd-dept-2020")))
    (f,) = result.findings
    assert f.code == "file-inaccessible" and result.status == "unreadable"
    assert "没有访问权限" in f.message and "Permission" not in f.message
    from perfxl.review.ledger import must_send_again

    assert not must_send_again(result)


def test_outputs_no_longer_made_are_named_when_removed(inbox, out):
    first_run(inbox, out)
    (inbox / "b.xlsx").unlink()
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert "本次不再生成" in done.output and f"reports/{B}.md" in done.output
    assert not (out / "reports" / f"{B}.md").exists()
    # results.json is removed at the start and written again: not among what is no longer made
    listed = done.output.split("本次不再生成", 1)[1].split("输出文件夹", 1)[0]
    assert "results.json" not in listed and (out / "results.json").is_file()


def test_a_degraded_feedback_copy_is_reported_again_on_the_next_run(inbox, out, monkeypatch):
    import perfxl.write.feedback

    def broken(*args, **kwargs):
        raise KeyError("simulated patcher bug")

    monkeypatch.setattr(perfxl.write.feedback, "patched_copy", broken)
    for _ in range(2):  # the same inputs and code: the same report to the maintainers, both times
        done = cli("run", inbox, "--out", out)
        assert done.exit_code == 3, done.output
        assert "internal-error" in done.output
        findings = json.loads((out / "results.json").read_text("utf-8"))["findings"]
        assert [f["code"] for f in findings] == ["internal-error"]


def test_the_manifest_header_says_which_command_owns_the_folder(inbox, out):
    first_run(inbox, out)
    assert (out / ".perfxl" / "manifest").read_text("utf-8").splitlines()[0] == f"{MANIFEST_HEADER} run"
    folder = OutputFolder.open(out)
    try:
        assert folder.purpose == "run"
    finally:
        folder.release()


def test_the_closing_table_counts_perfxls_reports_not_the_clerks_notes(inbox, out):
    first_run(inbox, out)
    (out / "reports" / "我的笔记.md").write_text("笔记", encoding="utf-8")
    done = cli("run", inbox, "--out", out)
    assert done.exit_code == 0, done.output
    assert "（2 份）" in next(line for line in done.output.splitlines() if "单位报告" in line)


def test_a_template_that_cannot_be_written_exits_2_naming_the_real_path(tmp_path):
    import subprocess
    import sys

    where = tmp_path / "模板.xlsx"
    where.mkdir()  # a folder where the workbook should go
    done = subprocess.run([sys.executable, "-m", "perfxl", "template", "-o", str(where)],
                          capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 2, done.stderr
    assert str(where) in done.stderr and ".tmp" not in done.stderr
    assert "Traceback" not in done.stderr and "内部错误" not in done.stderr
