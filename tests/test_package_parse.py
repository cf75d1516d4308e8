"""read_package's two XML paths (perfxl.read.package._parse): the C ElementTree for a part that
cannot hold a DTD, defusedxml for any other; the same answers, and no entity ever expanded."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as Defused

from perfxl.read.package import _parse, _plain, read_package

EXAMPLE = Path(__file__).parent.parent / "examples" / "returns-2020" / "440800001_中共湛江市委组织部本级.xlsx"


def _tree(el) -> tuple:
    return el.tag, dict(el.attrib), el.text, el.tail, [_tree(c) for c in el]


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "docProps/core.xml"])
def test_plain_parts_parse_as_defusedxml_parses_them(part):
    with zipfile.ZipFile(EXAMPLE) as zf:
        xml = zf.read(part)
    assert _plain(xml)
    assert _tree(_parse(xml)) == _tree(Defused.fromstring(xml))


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0" encoding="UTF-16"?><a/>',  # not looked into
    "<?xml version='1.0' encoding='UTF-16'?><a/>".encode("utf-16"),
    b'<?xml version="1.0" encoding="cp500"?><a/>',
    b'<a><!-- a comment --></a>',
    b'<!DOCTYPE a><a/>',
    b'<?xml version="1.0"',
])
def test_anything_unusual_is_not_plain(xml):
    assert not _plain(xml)


def _package(workbook: bytes) -> zipfile.ZipFile:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", workbook)
    return zipfile.ZipFile(buf)


def test_entity_declarations_are_still_refused():
    # after a long comment the prolog check of intake would not see the DOCTYPE: defusedxml does
    laughs = (b'<?xml version="1.0"?><!--' + b"x" * 4096 + b'--><!DOCTYPE w [<!ENTITY a "aaaaaaaa">]>'
              b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&a;</workbook>')
    with pytest.raises(DefusedXmlException):
        read_package(_package(laughs))


def test_bad_xml_fails_as_before():
    with pytest.raises(Defused.ParseError):
        read_package(_package(b"<workbook><sheets></workbook>"))


@pytest.mark.parametrize(("cells", "expected"), [
    (b'<c r="A1"><v>1</v></c><c r="B1" t="str"><f>A1*2</f><v>2</v></c><c r="C1"><f>B1</f></c>',
     {"B1": True, "C1": False}),
    # an unclosed tag before the formula cell: the scan from the left, as ever, finds the cell
    (b'<c s="1" <c r="B2"><f>1</f><v>2</v></c>', {"B2": True}),
    (b'<x:c r="D4"><x:f>1</x:f><x:v>1</x:v></x:c>', {"D4": True}),
])
def test_formula_cells(cells, expected):
    from perfxl.read.package import scan_formulas

    assert scan_formulas(b"<sheetData><row>" + cells + b"</row></sheetData>") == expected
