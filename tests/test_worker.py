"""Worker isolation: an abort, a hang or a memory blow-up costs one file, never the batch."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import RUBRIC

import perfxl.pipeline as pipeline
from perfxl.intake import Limits
from perfxl.pipeline import Options, run_batch

# The patched reader reaches the workers because they are forked (POSIX); on Windows they are
# spawned and these two tests do not apply.


@pytest.fixture
def folder(tmp_path: Path, make_return) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name, code in (("a-good.xlsx", "G1"), ("crash.xlsx", "C1"), ("hang.xlsx", "H1"), ("z-good.xlsx", "G2")):
        make_return(f"in/{name}", unit_code=code)
    return src


def test_abort_and_hang_cost_only_their_file(folder, monkeypatch):
    real = pipeline.process_file

    def flaky(path, rel, options):
        if rel == "crash.xlsx":
            os.abort()  # what python-calamine does on a far-corner cell
        if rel == "hang.xlsx":
            time.sleep(60)
        return real(path, rel, options)

    monkeypatch.setattr(pipeline, "process_file", flaky)
    options = replace(Options.for_rubric(RUBRIC), limits=Limits(seconds=3))
    started = time.monotonic()
    batch = run_batch(folder, options, jobs=2)
    assert time.monotonic() - started < 30  # the hang was cut at its limit, not waited out
    got = {r.file: r for r in batch.files}
    assert got["a-good.xlsx"].status == got["z-good.xlsx"].status == "reviewed"
    assert got["crash.xlsx"].status == "unreadable"
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "异常终止" in got["crash.xlsx"].findings[0].message
    assert [f.code for f in got["hang.xlsx"].findings] == ["file-unsafe"]
    assert "3 秒" in got["hang.xlsx"].findings[0].message


def test_memory_limit_fails_the_file_not_the_batch(folder, monkeypatch):
    real = pipeline.process_file

    def hungry(path, rel, options):
        if rel == "crash.xlsx":
            blob = bytearray(3 * 2**30)  # beyond the 2 GiB cap
            return blob  # pragma: no cover - never reached
        return real(path, rel, options)

    monkeypatch.setattr(pipeline, "process_file", hungry)
    batch = run_batch(folder, Options.for_rubric(RUBRIC), jobs=1)
    got = {r.file: r for r in batch.files}
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "内存" in got["crash.xlsx"].findings[0].message
    assert got["hang.xlsx"].status == "reviewed"  # not patched here: an ordinary file


def test_polled_memory_limit_without_rlimit(folder, monkeypatch):
    """Windows has no RLIMIT_AS: the pool watches the workers' memory and stops a runaway file."""
    from perfxl.intake import discover
    from perfxl.worker import WorkerPool

    real = pipeline.process_file

    def growing(path, rel, options):
        if rel == "crash.xlsx":
            hoard = []
            for _ in range(200):  # 50 MiB at a time, up to 10 GiB: the parent must stop it first
                hoard.append(bytearray(50 * 2**20))
                time.sleep(0.05)
        return real(path, rel, options)

    monkeypatch.setattr(pipeline, "process_file", growing)
    options = replace(Options.for_rubric(RUBRIC), limits=Limits(memory_bytes=400 * 2**20))
    with WorkerPool(1, options, poll_memory=True) as pool:
        got = {r.file: r for _, r in pool.run([c for c in discover(folder) if not c.ignore])}
    assert [f.code for f in got["crash.xlsx"].findings] == ["file-unsafe"]
    assert "400 MiB" in got["crash.xlsx"].findings[0].message
    assert got["a-good.xlsx"].status == "reviewed"
