"""A bounded fuzz of the reader: random bytes and mutated returns only ever become findings.

Deterministic (fixed seeds) and small enough for every test run. Each file goes through the
real worker pool, so a reader abort would show as `file-unsafe` rather than kill the test; the
test also fails on any internal error of perfxl's own code (an exception it did not expect).
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import RUBRIC

from perfxl.findings import CATALOGUE
from perfxl.intake import discover
from perfxl.pipeline import Options
from perfxl.worker import WorkerPool

MUTATIONS_PER_PART = 10
RANDOM_FILES = 20


def _mutate_xml(data: bytes, rng: random.Random) -> bytes:
    """Change attribute values, numbers and tags the way corrupted or odd writers do."""
    choice = rng.randrange(6)
    buf = bytearray(data)
    if choice == 0 and buf:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    if choice == 1:  # a huge or negative cell reference
        return data.replace(b'r="B', rng.choice([b'r="XFD', b'r="B99999', b'r="-', b'r="']), rng.randint(1, 5))
    if choice == 2:  # truncate the part
        return data[: rng.randrange(max(1, len(data)))]
    if choice == 3:  # numbers become text, text types become numbers
        return data.replace(b't="s"', b't="n"', 3).replace(b"<v>", b"<v>x", 2)
    if choice == 4:  # duplicate a chunk
        i = rng.randrange(max(1, len(data)))
        return data[:i] + data[i: i + 200] + data[i:]
    return data.replace(b"<", b"<<", 1)


def _mutated_returns(good: bytes, rng: random.Random) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    targets = [n for n in parts if n.endswith((".xml", ".rels"))]
    out = []
    for name in targets:
        for _ in range(MUTATIONS_PER_PART):
            changed = dict(parts, **{name: _mutate_xml(parts[name], rng)})
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for n, d in changed.items():
                    z.writestr(n, d)
            out.append(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, template_path) -> tuple[Path, list]:
    from conftest import good_values

    from perfxl.fill import fill_workbook

    folder = tmp_path_factory.mktemp("fuzz")
    good_path = tmp_path_factory.mktemp("good") / "good.xlsx"
    fill_workbook(template_path, good_values(), good_path)
    rng = random.Random(20210620)
    files = _mutated_returns(good_path.read_bytes(), rng)
    for _ in range(RANDOM_FILES):
        prefix = rng.choice([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<html>"])
        files.append(prefix + rng.randbytes(rng.randint(0, 4096)))
    for i, data in enumerate(files):
        (folder / f"f{i:04d}.xlsx").write_bytes(data)
    # the pool itself, not run_batch: every mutant carries the same unit code, and duplicate
    # resolution would hide how each one was read
    candidates = [c for c in discover(folder) if not c.ignore]
    with WorkerPool(2, Options.for_rubric(RUBRIC)) as pool:
        results = [r for _, r in pool.run(candidates)]
    return folder, SimpleNamespace(files=results)


def test_every_fuzzed_file_becomes_a_result_with_known_findings(fuzzed):
    folder, batch = fuzzed
    assert len(batch.files) == len(list(folder.iterdir())) > 100
    for r in batch.files:
        assert r.status in ("reviewed", "error", "unreadable")
        for f in r.findings:
            assert f.code in CATALOGUE
            assert "内部错误" not in f.message, (r.file, f.message)  # perfxl's own code never failed
            assert "Traceback" not in f.message


def test_unreadable_fuzz_always_says_why(fuzzed):
    _, batch = fuzzed
    unreadable = [r for r in batch.files if r.status == "unreadable"]
    assert unreadable
    for r in unreadable:
        assert next(f.code for f in r.findings) in ("file-unreadable", "file-unsafe", "file-encrypted",
                                                    "not-a-template", "template-mismatch")


def test_the_fuzz_reaches_the_reader_not_only_the_sniffer(fuzzed):
    _, batch = fuzzed
    statuses = {r.status for r in batch.files}
    assert {"unreadable", "reviewed"} <= statuses or {"unreadable", "error"} <= statuses
    assert sum(r.scored for r in batch.files) >= 40  # many mutations still read as returns
