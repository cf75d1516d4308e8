"""Results held compactly in the parent (perfxl.run.compact, issue 14): what files of one form
share is held once, and nothing of any result changes."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

from perfxl.cli import _options
from perfxl.read.intake import discover
from perfxl.run.compact import Compactor
from perfxl.run.pipeline import process_file, run_candidates
from perfxl.run.state import State, dump_result

SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "returns-2020"
OPTIONS = _options(None, None, None)


def _received() -> list:
    """Every sample as the parent receives it from a worker: unpickled, nothing shared."""
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix == ".xlsx")
    return [pickle.loads(pickle.dumps(process_file(p, p.name, OPTIONS))) for p in files]


def test_compacting_changes_no_value_of_any_result():
    received = _received()
    before = [dump_result(r) for r in received]
    compact = Compactor()
    after = [dump_result(compact(r)) for r in copy.deepcopy(received)]
    assert after == before
    assert any(r.projects for r in received) and any(r.indicators for r in received)  # both forms seen


def test_files_of_one_template_share_their_cells_and_texts():
    compact = Compactor()
    results = [compact(r) for r in _received()]
    departments = [r for r in results if r.scored and not r.projects]
    assert len(departments) >= 3
    first, second = departments[0], departments[1]
    assert first.cells == second.cells and first.cells is second.cells  # one dict for one layout
    key = next(iter(first.fields))
    assert key is next(iter(second.fields))  # field keys held once
    scores = [i.reviewed_score for r in departments for i in r.indicators if i.reviewed_score is not None]
    by_text: dict[str, list[int]] = {}
    for s in scores:
        by_text.setdefault(str(s), []).append(id(s))
    assert any(len(ids) > 1 for ids in by_text.values())  # some score recurs across the files …
    assert all(len(set(ids)) == 1 for ids in by_text.values())  # … and each is held once


def test_a_result_whose_cells_differ_keeps_its_own():
    compact = Compactor()
    a, b = (compact(r) for r in _received()[:2])
    changed = copy.deepcopy(b)
    changed.cells = {**changed.cells, "unit_name": ("基础数据表", "Z99")}
    kept = compact(changed)
    assert kept.cells["unit_name"] == ("基础数据表", "Z99") and kept.cells is not a.cells


def test_a_batch_read_twice_from_the_cache_gives_the_same_results(tmp_path):
    state = State(tmp_path)
    fresh = run_candidates(discover(SAMPLES), OPTIONS, jobs=1, state=state)
    state.save()
    again = run_candidates(discover(SAMPLES), OPTIONS, jobs=1, state=State(tmp_path))
    assert [dump_result(r) for r in again.files] == [dump_result(r) for r in fresh.files]
    scored = [r for r in again.files if r.scored and not r.projects]
    assert len({id(r.cells) for r in scored}) < len(scored)  # cached results are compacted too
