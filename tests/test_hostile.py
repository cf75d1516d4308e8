"""A batch of hostile and real-world files: it completes, accounts for every file, changes
nothing, and scores the good files exactly as it scores them alone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import RUBRIC
from hostile import FIXTURES, build_corpus

from perfxl.model import Options
from perfxl.run.pipeline import process_file, run_batch


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, template_path):
    from conftest import good_values

    from perfxl.write.fill import fill_workbook

    folder = tmp_path_factory.mktemp("hostile")
    good = tmp_path_factory.mktemp("good") / "T001.xlsx"
    fill_workbook(template_path, good_values(), good)
    expect = build_corpus(folder, good)
    before = _hashes(folder)
    batch = run_batch(folder, Options.for_rubric(RUBRIC), jobs=2)
    return folder, expect, before, batch


def test_corpus_is_large_enough(corpus):
    _, expect, _, _ = corpus
    assert len(expect) >= 25
    assert len(list(FIXTURES.glob("lo-*"))) == 3


def test_every_file_appears_once_with_expected_status_and_code(corpus):
    _, expect, _, batch = corpus
    got = {r.file: r for r in batch.files}
    assert sorted(got) == sorted(expect)
    assert len(batch.files) == len(expect)
    for rel, (status, code) in expect.items():
        r = got[rel]
        assert r.status == status, (rel, r.status, [f.message for f in r.findings])
        if code is not None:
            assert code in [f.code for f in r.findings], (rel, [f.code for f in r.findings])


def test_inputs_unchanged(corpus):
    folder, _, before, _ = corpus
    assert _hashes(folder) == before


def test_good_files_score_as_they_do_alone(corpus):
    folder, expect, _, batch = corpus
    got = {r.file: r for r in batch.files}
    for rel, (status, _) in expect.items():
        if status != "reviewed":
            continue
        alone = process_file(folder / rel, rel, Options.for_rubric(RUBRIC))
        in_batch = got[rel]
        assert in_batch.reviewed_total == alone.reviewed_total
        assert [(i.code, i.reviewed_score) for i in in_batch.indicators] == \
               [(i.code, i.reviewed_score) for i in alone.indicators]
        assert in_batch.reviewed_total is not None


def test_no_message_leaks_a_traceback_or_english_exception(corpus):
    _, _, _, batch = corpus
    for f in batch.all_findings:
        assert "Traceback" not in f.message
        assert f.message and any("\u4e00" <= ch <= "\u9fff" for ch in f.message)


def test_unsafe_messages_name_the_limit(corpus):
    _, _, _, batch = corpus
    got = {r.file: r.findings[0].message for r in batch.files if r.findings}
    assert "10000 行" in got["far-corner.xlsx"]
    assert "10000 行" in got["million.xlsx"]
    assert "压缩" in got["bomb.xlsx"]
    assert "DOCTYPE" in got["laughs.xlsx"]
    assert "密码" in got["password.xlsx"]


def test_formats_read_by_content(corpus):
    _, _, _, batch = corpus
    formats = {r.file: r.format for r in batch.files if r.scored}
    assert formats["libreoffice/lo-T101.xls"] == "xls"
    assert formats["libreoffice/lo-T102.ods"] == "ods"
    assert formats["libreoffice/lo-T103.xlsx"] == "xlsx"
    assert formats["wps/T104.et"] == "xls"
