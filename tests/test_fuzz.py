"""A bounded fuzz of the reader: random bytes and mutated returns only ever become findings.

Deterministic (fixed seeds) and small enough for every test run (~300 files, a few seconds).
Each file goes through the real worker pool, so a reader abort would show as `file-unsafe`
rather than kill the test; the test fails on any `internal-error`, which since the reader no
longer calls every exception a damaged file means a bug in perfxl's reading code. Besides byte
and XML-syntax damage, the mutants carry odd values, cell types, date styles, defined names and
ODS span counts, as odd writers produce them, in the template, a LibreOffice .ods and an .xls.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import RUBRIC

from perfxl.findings import CATALOGUE
from perfxl.model import Options
from perfxl.read.intake import discover
from perfxl.run.pipeline import process_file
from perfxl.run.worker import WorkerPool

MUTATIONS_PER_PART = 10
RANDOM_FILES = 20
SEMANTIC_FILES = 40  # per source workbook
FIXTURES = Path(__file__).parent / "fixtures"


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


VALUES = [b"NaN", b"inf", b"-inf", b"1e309", b"1e300", b"99999999999999", b"-0", b"", b"  7 ", b"1,5",
          b"12abc", b"-44351", b"2958466", b"4.9e-324", b"\xd9\xa1"]
TYPES = [b'"d"', b'"b"', b'"e"', b'"str"', b'"n"', b'"s"', b'"x"', b'""']
NAMES = [b"$B$0", b"$B$1048577", b"$XFE$1", b"#REF!", b"$B$1:$B$3", b"$B$99999999999999999999", b"$ZZZ$1"]
COUNTS = [b'"x"', b'"-1"', b'"0"', b'"99999999999999999999"', b'""', b'"1.5"', b'"1e3"', b'"\xef\xbc\x92"']


def _replace_some(data: bytes, pattern: bytes, choices: list[bytes], rng: random.Random) -> bytes:
    """Replace group 1 of a few random matches of `pattern` by one of `choices`."""
    matches = list(re.finditer(pattern, data))
    for m in sorted(rng.sample(matches, min(len(matches), rng.randint(1, 4))), key=lambda m: -m.start()):
        data = data[: m.start(1)] + rng.choice(choices) + data[m.end(1):]
    return data


def _mutate_meaning(name: str, data: bytes, rng: random.Random) -> bytes:
    """Well-formed XML with odd content: values, types, styles, names, span and repeat counts."""
    if name == "content.xml":  # OpenDocument
        # spans mostly: calamine rejects odd repeat counts itself, perfxl's merged-cell scan reads both
        kind = rb"spanned" if rng.random() < 0.8 else rb"repeated"
        data = _replace_some(data, rb'table:number-(?:columns|rows)-' + kind + rb'=("[^"]*")', COUNTS, rng)
        return _replace_some(data, rb'office:value="([^"]*)"', VALUES, rng)
    if name == "xl/workbook.xml":
        data = data.replace(b"<workbookPr/>", rng.choice([b'<workbookPr date1904="1"/>', b'<workbookPr date1904="x"/>']))
        return _replace_some(data, rb"!(\$[A-Z]+\$\d+)<", NAMES, rng)
    if name == "docProps/core.xml":
        return _replace_some(data, rb"<dcterms:modified[^>]*>([^<]*)<", [b"x", b"2021-13-01T00:00:00Z", b""], rng)
    data = _replace_some(data, rb"<v>([^<]*)</v>", VALUES, rng)
    data = _replace_some(data, rb" t=(\"[^\"]*\")", TYPES, rng)
    return _replace_some(data, rb' s="(\d+)"', [b"24", b"9999"], rng)  # 24: a date style in the template


def _meaning_mutants(good: bytes, rng: random.Random) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    targets = [n for n in parts if n in ("content.xml", "xl/workbook.xml", "docProps/core.xml")
               or n.startswith("xl/worksheets/")]
    out = []
    for _ in range(SEMANTIC_FILES):
        changed = dict(parts)
        for name in rng.sample(targets, min(len(targets), rng.randint(1, 3))):
            changed[name] = _mutate_meaning(name, changed[name], rng)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for n, d in changed.items():
                z.writestr(n, d)
        out.append(buf.getvalue())
    return out


def _flipped(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    """OLE2 (.xls, .et) with bytes changed after the header: calamine's BIFF parser, not the sniffer."""
    out = []
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 30)):
            buf[rng.randrange(512, len(buf))] = rng.randrange(256)
        out.append(bytes(buf))
    return out


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, template_path) -> tuple[Path, list]:
    from conftest import good_values

    from perfxl.write.fill import fill_workbook

    folder = tmp_path_factory.mktemp("fuzz")
    good_path = tmp_path_factory.mktemp("good") / "good.xlsx"
    fill_workbook(template_path, good_values(), good_path)
    rng = random.Random(20210620)
    files = _mutated_returns(good_path.read_bytes(), rng)
    for source in (good_path, FIXTURES / "lo-T103.xlsx", FIXTURES / "lo-T102.ods"):
        files += _meaning_mutants(source.read_bytes(), rng)
    files += _flipped((FIXTURES / "lo-T101.xls").read_bytes(), rng, SEMANTIC_FILES)
    for _ in range(RANDOM_FILES):
        prefix = rng.choice([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<html>"])
        files.append(prefix + rng.randbytes(rng.randint(0, 4096)))
    for i, data in enumerate(files):
        (folder / f"f{i:04d}.xlsx").write_bytes(data)
    # the pool itself, not run_batch: every mutant carries the same unit code, and duplicate
    # resolution would hide how each one was read
    candidates = [c for c in discover(folder) if not c.ignore]
    with WorkerPool(2, Options.for_rubric(RUBRIC), process_file) as pool:
        results = [r for _, r in pool.run(candidates)]
    return folder, SimpleNamespace(files=results)


def test_every_fuzzed_file_becomes_a_result_with_known_findings(fuzzed):
    folder, batch = fuzzed
    assert len(batch.files) == len(list(folder.iterdir())) > 100
    for r in batch.files:
        assert r.status in ("reviewed", "error", "unreadable")
        for f in r.findings:
            assert f.code in CATALOGUE
            assert f.code != "internal-error", (r.file, f.message)  # perfxl's own code never failed
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
