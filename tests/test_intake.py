"""The extent guard: every reference beyond the limits is caught, however it is written."""

from __future__ import annotations

import io
import zipfile

import pytest
from hostile import SHEET_HEAD, SHEET_TAIL, _sheet_zip

from perfxl.model import Limits
from perfxl.read.intake import Unreadable, sniff


def _sheet(cells: bytes) -> bytes:
    return _sheet_zip(SHEET_HEAD + cells + SHEET_TAIL)


@pytest.mark.parametrize("cells", [
    b'<row r="10001"><c r="A10001"><v>1</v></c></row>',          # one row too many
    b'<row r="1"><c r="GS1"><v>1</v></c></row>',                 # column 201
    b'<row r="1"><c r="AAA1"><v>1</v></c></row>',                # three letters
    b'<row r="1"><c\nr="XFD1048576"><v>1</v></c></row>',         # a newline, not a space
    b'<row r="1"><c t="n" r="XFD1"><v>1</v></c></row>',          # r after another attribute
    b'<row r="1048576"/>',                                       # an empty far row
])
def test_references_beyond_the_limits_are_refused(cells):
    with pytest.raises(Unreadable) as err:
        sniff(_sheet(cells))
    assert err.value.code == "file-unsafe"
    assert "10000 行 × 200 列" in err.value.message


@pytest.mark.parametrize("cells", [
    b'<row r="10000"><c r="GR10000"><v>1</v></c></row>',         # exactly at both limits
    b'<row r="9999"><c r="Z9999"><v>1</v></c></row>',
])
def test_references_at_the_limits_pass(cells):
    assert sniff(_sheet(cells)) == "xlsx"


def test_limits_are_options():
    cells = b'<row r="20000"><c r="A20000"><v>1</v></c></row>'
    assert sniff(_sheet(cells), Limits(rows=50_000)) == "xlsx"
    with pytest.raises(Unreadable):
        sniff(_sheet(cells), Limits(rows=19_999))


def test_inflated_worksheets_are_kept_for_the_reader():
    keep: dict[str, bytes] = {}
    data = _sheet(b'<row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row>')
    sniff(data, keep=keep)
    # the worksheets, and the parts read_package parses (whole), so the reader opens no zip again
    assert sorted(keep) == ["xl/_rels/workbook.xml.rels", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]
    assert b"<f>1+1</f>" in keep["xl/worksheets/sheet1.xml"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert keep["xl/workbook.xml"] == zf.read("xl/workbook.xml")
