"""The output folder's memory: cached results and the comparison with a unit's last version."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC

import perfxl.worker as worker
from perfxl.pipeline import Options, run_batch
from perfxl.state import State, dump_result, load_result


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
    (out / ".perfxl" / "state.json").write_text("{not json", encoding="utf-8")
    batch = _run(folder, out)
    assert len(processed) == 4
    assert {r.status for r in batch.files} == {"reviewed", "error"}
