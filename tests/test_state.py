"""The output folder's memory: cached results and the comparison with a unit's last version."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC

import perfxl.run.worker as worker
from perfxl.model import Options
from perfxl.run.pipeline import run_batch
from perfxl.run.state import State, dump_result, load_result


@pytest.fixture
def processed(monkeypatch) -> list[str]:
    """The files the worker pool was asked to read, across runs."""
    seen: list[str] = []
    real = worker.WorkerPool.run

    def run(self, candidates, progress=None):
        seen.extend(c.rel for c in candidates)
        return real(self, candidates, progress)

    monkeypatch.setattr(worker.WorkerPool, "run", run)
    return seen


def _run(folder: Path, out: Path, **kw):
    state = State(out)
    batch = run_batch(folder, Options.for_rubric(RUBRIC, **kw), state=state, jobs=1)
    state.compare(batch.files)
    state.save()
    return batch


@pytest.fixture
def folder(tmp_path, make_return) -> Path:
    make_return("in/a.xlsx", unit_code="A1")
    make_return("in/b.xlsx", unit_code="B1", carryover_end=Decimal("42.53"))
    return tmp_path / "in"


def test_results_round_trip_losslessly(folder):
    batch = run_batch(folder, Options.for_rubric(RUBRIC), jobs=1)
    for r in batch.files:
        assert load_result(dump_result(r)) == r


def test_rerun_reads_nothing_and_gives_the_same_results(folder, tmp_path, processed):
    first = _run(folder, tmp_path / "out")
    assert sorted(processed) == ["a.xlsx", "b.xlsx"]
    second = _run(folder, tmp_path / "out")
    assert sorted(processed) == ["a.xlsx", "b.xlsx"]  # nothing more was read
    assert [dump_result(r) for r in second.files] == [dump_result(r) for r in first.files]


def test_only_the_changed_file_is_read_again(folder, tmp_path, processed, make_return):
    _run(folder, tmp_path / "out")
    make_return("in/b.xlsx", unit_code="B1")  # the unit corrects its balance
    _run(folder, tmp_path / "out")
    assert processed == ["a.xlsx", "b.xlsx", "b.xlsx"]


def test_a_changed_option_invalidates_the_cache(folder, tmp_path, processed):
    _run(folder, tmp_path / "out")
    _run(folder, tmp_path / "out", year=2021)
    assert sorted(processed) == ["a.xlsx", "a.xlsx", "b.xlsx", "b.xlsx"]


def test_resubmission_shows_resolved_findings_and_changed_inputs(folder, tmp_path, make_return):
    first = {r.unit_code: r for r in _run(folder, tmp_path / "out").files}
    assert first["B1"].since_last is None
    make_return("in/b.xlsx", unit_code="B1")
    second = {r.unit_code: r for r in _run(folder, tmp_path / "out").files}
    since = second["B1"].since_last
    assert since["resolved"] == ["balance-mismatch"]
    assert since["new"] == []
    assert since["changed_fields"] == {"carryover_end": [42.53, 32.53]}
    assert second["A1"].since_last is None  # unchanged file: nothing to compare
    third = {r.unit_code: r for r in _run(folder, tmp_path / "out").files}
    assert third["B1"].since_last == since  # an unchanged re-run changes nothing


def test_a_damaged_state_file_is_ignored(folder, tmp_path, processed):
    out = tmp_path / "out"
    _run(folder, out)
    (out / ".perfxl" / "state.jsonl").write_text("perfxl-state 2\nc\tbroken\t{not json", encoding="utf-8")
    batch = _run(folder, out)
    assert len(processed) == 4
    assert {r.status for r in batch.files} == {"reviewed", "error"}


def test_unchanged_outputs_are_not_rendered_again_and_tampered_ones_are(tmp_path, make_return):
    from typer.testing import CliRunner

    from perfxl.cli import app

    make_return("in/a.xlsx", unit_code="A1")
    make_return("in/b.xlsx", unit_code="B1", carryover_end=Decimal("42.53"))
    out = tmp_path / "out"
    run = lambda: CliRunner().invoke(app, ["run", str(tmp_path / "in"), "--out", str(out)])  # noqa: E731
    assert run().exit_code == 0
    derived = sorted([*out.glob("reports/*.md"), *out.glob("reports/*.html"), *out.glob("feedback/*.xlsx")])
    assert len(derived) == 5  # two reports, two pages, one feedback copy
    stamps = {p: p.stat().st_mtime_ns for p in derived}
    report_a = out / "reports" / "A1_测试市测试局.md"
    good = report_a.read_bytes()
    assert run().exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in derived} == stamps  # nothing rendered again
    report_a.write_text("tampered", encoding="utf-8")
    assert run().exit_code == 0
    assert report_a.read_bytes() == good  # a changed output is written afresh
    make_return("in/b.xlsx", unit_code="B1")  # B1 corrects its file: only its outputs change
    assert run().exit_code == 0
    changed = {p for p in derived if p.exists() and p.stat().st_mtime_ns != stamps[p]}
    assert changed == {out / "reports" / "B1_测试市测试局.md", out / "reports" / "B1_测试市测试局.html",
                       report_a}
    assert not (out / "feedback" / "B1_测试市测试局.xlsx").exists()  # no findings left: no feedback
