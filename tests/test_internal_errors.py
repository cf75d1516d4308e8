"""Bugs are ours (spec §5): only what a reader raises for bad bytes becomes a file finding; any other
failure while reading, scoring or checking a file is `internal-error`, never the unit's fault."""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import pytest
import python_calamine
from conftest import RUBRIC
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from perfxl.findings import CATALOGUE, Finding, Severity
from perfxl.model import BatchResult, FileResult, Options
from perfxl.ooxml.package import Unsupported
from perfxl.read.badfile import file_problem
from perfxl.read.intake import Unreadable
from perfxl.read.odf import merged_ranges
from perfxl.run import pipeline
from perfxl.run.pipeline import process_bytes, process_file
from perfxl.write import feedback
from perfxl.write.feedback import feedback_bytes, needs_feedback

FIXTURES = Path(__file__).parent / "fixtures"
OPTIONS = Options.for_rubric(RUBRIC)


def test_internal_error_is_in_the_catalogue_as_an_error():
    assert CATALOGUE["internal-error"] == (Severity.ERROR, "perfxl 内部错误")


# -- a bug anywhere in one file's processing -------------------------------------------------


def _raise(exc: BaseException):
    def boom(*args, **kwargs):
        raise exc

    return boom


@pytest.mark.parametrize("where", ["read_with_forms", "score", "run_checks", "template_findings"])
def test_a_bug_of_perfxl_is_an_internal_error_not_a_damaged_file(where, monkeypatch, make_return):
    monkeypatch.setattr(pipeline, where, _raise(KeyError("x")))
    result = process_file(make_return("u.xlsx"), "u.xlsx", OPTIONS)
    assert result.status == "unreadable"
    assert [f.code for f in result.findings] == ["internal-error"]
    message = result.findings[0].message
    assert "KeyError: 'x'" in message and "不是文件本身的问题" in message and "无须退回单位" in message
    assert "损坏" not in message  # the unit is not told to fix a file that is fine
    assert result.sha256 is None  # never cached: a fixed perfxl reads the file again
    assert not needs_feedback(result)


def test_a_bug_is_reported_with_a_short_message(monkeypatch, make_return):
    monkeypatch.setattr(pipeline, "read_with_forms", _raise(ValueError("x" * 5000)))
    message = process_file(make_return("u.xlsx"), "u.xlsx", OPTIONS).findings[0].message
    assert "ValueError: xxx" in message and len(message) < 500


def test_memory_error_and_interrupts_are_not_findings(monkeypatch, make_return):
    data = make_return("u.xlsx").read_bytes()
    for exc in (MemoryError(), KeyboardInterrupt()):  # the worker's limit, the operator's Ctrl-C
        monkeypatch.setattr(pipeline, "read_with_forms", _raise(exc))
        with pytest.raises(type(exc)):
            process_bytes(data, "u.xlsx", OPTIONS)


def test_a_rust_panic_in_calamine_is_a_file_it_cannot_read(monkeypatch, make_return):
    class PanicException(BaseException):  # pyo3's, raised by python-calamine on a structure it chokes on
        pass

    monkeypatch.setattr(pipeline, "read_with_forms", _raise(PanicException("index out of range")))
    result = process_file(make_return("u.xlsx"), "u.xlsx", OPTIONS)
    assert [f.code for f in result.findings] == ["file-unreadable"]
    assert "读取组件无法解析" in result.findings[0].message and "另存为" in result.findings[0].message


def test_batch_lists_internal_errors_of_files_and_of_the_batch():
    bug = Finding("internal-error", "…", file="a.xlsx")
    batch = BatchResult(RUBRIC, 2020, OPTIONS.deadline, files=[
        FileResult("a.xlsx", status="unreadable", findings=[bug]),
        FileResult("b.xlsx", findings=[Finding("late-submission", "…", file="b.xlsx")])])
    assert batch.internal_errors == [bug]
    batch.findings.append(Finding("internal-error", "反馈件", file="b.xlsx"))
    assert [f.file for f in batch.internal_errors] == ["a.xlsx", "b.xlsx"]


# -- what stays a file finding -------------------------------------------------------------------


def _rezip(data: bytes, change: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts.update(change)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, part in parts.items():
            z.writestr(name, part)
    return buf.getvalue()


def _central_entry(data: bytes, name: bytes) -> int:
    """Offset of the central directory entry of member `name`."""
    at = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46: at + 46 + name_len] == name:
            return at
        extra, comment = struct.unpack_from("<HH", data, at + 30)
        at += 46 + name_len + extra + comment


def _with_workbook_header(data: bytes, offset: int, value: int) -> bytes:
    """Set a 16-bit field of xl/workbook.xml's central directory entry (8: flags, 10: method)."""
    buf = bytearray(data)
    struct.pack_into("<H", buf, _central_entry(data, b"xl/workbook.xml") + offset, value)
    return bytes(buf)


def _bad_crc(data: bytes) -> bytes:
    """Stored members, the last byte of docProps/core.xml changed: a part calamine never reads,
    so it is zipfile that finds the CRC-32 wrong (BadZipFile)."""
    stored = _rezip(data, {}, zipfile.ZIP_STORED)
    end = stored.index(b"</cp:coreProperties>") + len(b"</cp:coreProperties>") - 1
    return stored[:end] + b"X" + stored[end + 1:]


@pytest.mark.parametrize(("damage", "code"), [
    (lambda d: d[: len(d) // 2], "file-unreadable"),  # cut short
    (_bad_crc, "file-unreadable"),  # zipfile.BadZipFile
    (lambda d: _with_workbook_header(d, 10, 99), "file-unreadable"),  # NotImplementedError in zipfile
    (lambda d: _with_workbook_header(d, 8, 1), "file-encrypted"),  # RuntimeError "password required"
    (lambda d: _rezip(d, {"xl/workbook.xml": b"<workbook><sheets>"}), "file-unreadable"),  # XML cut short
    (lambda d: _rezip(d, {"xl/workbook.xml": b"<!DOCTYPE x [<!ENTITY a 'b'>]><workbook/>"}), "file-unsafe"),
])
def test_damaged_files_stay_file_findings(damage, code, make_return):
    result = process_bytes(damage(make_return("u.xlsx").read_bytes()), "u.xlsx", OPTIONS)
    assert result.status == "unreadable"
    assert [f.code for f in result.findings] == [code], result.findings[0].message


@pytest.mark.parametrize(("exc", "code"), [
    (Unreadable("file-unsafe", "太大"), "file-unsafe"),
    (python_calamine.PasswordError("x"), "file-encrypted"),
    (python_calamine.CalamineError("x"), "file-unreadable"),
    (python_calamine.XmlError("x"), "file-unreadable"),
    (python_calamine.ZipError("x"), "file-unreadable"),
    (python_calamine.WorksheetNotFound("x"), "file-unreadable"),
    (OSError("failed to fill whole buffer"), "file-unreadable"),  # calamine's in-memory I/O error
    (zipfile.BadZipFile("Bad CRC-32"), "file-unreadable"),
    (zlib.error("invalid stored block lengths"), "file-unreadable"),
    (EOFError("Compressed file ended"), "file-unreadable"),
    (ParseError("no element found"), "file-unreadable"),
    (ExpatError("syntax error"), "file-unreadable"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "file-unreadable"),
    (DTDForbidden("x", "y", "z"), "file-unsafe"),
    (EntitiesForbidden("x", "y", "z", "w", "v", "u"), "file-unsafe"),
    (ExternalReferenceForbidden("x", "y", "z", "w"), "file-unsafe"),
    # ours: misuse of calamine, a missing file of perfxl's own, and every ordinary bug
    (python_calamine.WorkbookClosed("x"), None),
    (FileNotFoundError("fields.toml"), None),
    (KeyError("x"), None), (TypeError("x"), None), (AttributeError("x"), None), (IndexError("x"), None),
    (ValueError("x"), None), (RuntimeError("password"), None), (NotImplementedError("x"), None),
])
def test_which_exceptions_are_the_files_fault(exc, code):
    try:
        raise exc  # raised here, in perfxl's own frames: broad types only count from zipfile
    except BaseException as raised:
        problem = file_problem(raised)
    assert (problem[0] if problem else None) == code


# -- regressions found by the fuzz test ------------------------------------------------------------


def test_odd_ods_span_and_repeat_counts_do_not_stop_the_merged_cell_scan():
    """tests/test_fuzz.py: `table:number-columns-spanned="1e3"` raised ValueError in odf.py."""
    t = 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    content = (f'<doc {t}><table:table table:name="S"><table:table-row>'
               '<table:table-cell table:number-columns-spanned="1e3" table:number-rows-spanned="2"/>'
               '<table:table-cell table:number-columns-repeated="x"/>'
               '<table:table-cell table:number-columns-spanned="2"/></table:table-row>'
               '<table:table-row table:number-rows-repeated="-1"/>'
               '<table:table-row><table:table-cell table:number-columns-spanned="3"/></table:table-row>'
               '</table:table></doc>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("content.xml", content)
    with zipfile.ZipFile(buf) as z:
        # "1e3" and "x" count as 1, as calamine and LibreOffice read them; the rest is unchanged
        assert merged_ranges(z) == {"S": [((0, 0), (1, 0)), ((0, 2), (0, 3)), ((2, 0), (2, 2))]}


def test_an_ods_with_an_odd_span_is_read(tmp_path):
    data = (FIXTURES / "lo-T102.ods").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        content = z.read("content.xml")
    assert b'table:number-columns-spanned="4"' in content
    odd = _rezip(data, {"content.xml": content.replace(b'table:number-columns-spanned="4"',
                                                       b'table:number-columns-spanned="1.5"', 1)})
    result = process_bytes(odd, "odd.ods", OPTIONS)
    assert result.status in ("reviewed", "error") and "internal-error" not in [f.code for f in result.findings]


# -- the feedback writer keeps its cause -------------------------------------------------------------


@pytest.fixture
def unit(tmp_path):
    src = tmp_path / "lo-T103.xlsx"
    shutil.copy(FIXTURES / "lo-T103.xlsx", src)
    result = process_file(src, src.name, OPTIONS)
    sheet, ref = result.cells["carryover_end"]
    finding = Finding("balance-mismatch", "收支不平衡（测试）", sheet, (ref,), file=src.name, unit_code=result.unit_code)
    result = replace(result, status="error", findings=[finding])
    return result, BatchResult(RUBRIC, OPTIONS.year, OPTIONS.deadline, [result]), src.read_bytes()


def _review_notes(workbook: bytes) -> str:
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
    assert book.sheet_names[0] == "审核意见"
    return "\n".join(str(v) for row in book.get_sheet_by_name("审核意见").to_python() for v in row)


def test_feedback_patcher_bug_gives_a_values_copy_and_its_cause(unit, monkeypatch):
    result, batch, data = unit
    monkeypatch.setattr(feedback, "patched_copy", _raise(KeyError("boom")))
    workbook, cause = feedback_bytes(result, batch, data)
    assert cause == "KeyError: 'boom'"
    assert "数值副本" in _review_notes(workbook)


@pytest.mark.parametrize("declined", [Unsupported("宏表"), zipfile.BadZipFile("Bad CRC-32"), ParseError("x")])
def test_feedback_fallback_for_a_package_the_patcher_cannot_handle_has_no_cause(unit, monkeypatch, declined):
    result, batch, data = unit
    monkeypatch.setattr(feedback, "patched_copy", _raise(declined))
    workbook, cause = feedback_bytes(result, batch, data)
    assert cause is None
    assert "数值副本" in _review_notes(workbook)


def test_feedback_copier_bug_still_sends_the_findings_and_keeps_the_first_cause(unit, monkeypatch):
    result, batch, data = unit
    real = feedback.rebuilt_copy

    def copier(review, marks, result, data, rubric=None):
        if data is not None:
            raise TypeError("copier")
        return real(review, marks, result, data, rubric)

    monkeypatch.setattr(feedback, "patched_copy", _raise(KeyError("patcher")))
    monkeypatch.setattr(feedback, "rebuilt_copy", copier)
    workbook, cause = feedback_bytes(result, batch, data)
    assert cause == "KeyError: 'patcher'"
    assert "只列审核意见" in _review_notes(workbook)
    monkeypatch.setattr(feedback, "patched_copy", _raise(Unsupported("x")))
    assert feedback_bytes(result, batch, data)[1] == "TypeError: copier"


def test_feedback_normally_has_no_cause(unit):
    result, batch, data = unit
    workbook, cause = feedback_bytes(result, batch, data)
    assert cause is None and workbook.startswith(b"PK")
