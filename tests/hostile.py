"""Build a folder of hostile and real-world returns in a temporary folder (never committed).

`build_corpus(folder, good)` writes the files and returns {relative path: (status, code)},
where code is the finding every such file must carry (None: any, e.g. a good file).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def _rezip(src: bytes, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
           add: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = (replace or {}).get(info.filename, zin.read(info.filename))
            zout.writestr(info.filename, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return out.getvalue()


def _sheet_zip(sheet_xml: bytes, level: int = 6) -> bytes:
    """A minimal valid .xlsx around one sheet XML."""
    ct = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
          b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
          b'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
          b'spreadsheetml.worksheet+xml"/></Types>')
    rels = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
          b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
          b'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
    wbrels = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
              b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
              b'2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wbrels)
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def zip_bomb() -> bytes:
    """~60 MiB of one repeated row compressed to well under 1 MiB (ratio far above 100:1)."""
    row = b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"x" * 60_000 + b"</t></is></c></row>"
    return _sheet_zip(SHEET_HEAD + row * 1000 + SHEET_TAIL, level=9)


def million_rows() -> bytes:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 1_048_577))
    return _sheet_zip(SHEET_HEAD + rows + SHEET_TAIL, level=1)


def far_corner(good: bytes) -> bytes:
    """The good return with one value at XFD1048576 in 基础数据表 (python-calamine aborts on it)."""
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        part = "xl/worksheets/sheet2.xml"
        xml = z.read(part)
    xml = xml.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    return _rezip(good, {part: xml})


def entity_attack(good: bytes, kind: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        xml = z.read("xl/worksheets/sheet2.xml")
    if kind == "laughs":
        dtd = b'<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10) for i in range(1, 10)
        ) + b"]>"
    else:
        dtd = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    if xml.startswith(b"<?xml"):
        head, rest = xml.split(b"?>", 1)
        xml = head + b"?>" + dtd + rest
    else:
        xml = dtd + xml
    return _rezip(good, {"xl/worksheets/sheet2.xml": xml})


def corrupt_deflate(good: bytes) -> bytes:
    """Flip bytes inside the compressed data of the basic data sheet."""
    data = bytearray(good)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        info = z.getinfo("xl/worksheets/sheet2.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 20, start + 60):
        data[i] ^= 0xFF
    return bytes(data)


def encrypted(good: bytes) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(good)).encrypt("secret", out)
    return out.getvalue()


def build_corpus(folder: Path, good_path: Path) -> dict[str, tuple[str, str | None]]:
    """Write the corpus; return the expected (status, code) of every file."""
    good = good_path.read_bytes()
    expect: dict[str, tuple[str, str | None]] = {}

    def put(rel: str, data: bytes, status: str, code: str | None) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[rel] = (status, code)

    put("市直单位/T001_good.xlsx", good, "reviewed", None)
    # the same unit again, re-zipped: a duplicate that loses on path order (spec §6)
    put("UPPER CASE 单位（2020）.XLSX", _rezip(good), "duplicate", "duplicate-submission")
    put("truncated.xlsx", good[: len(good) // 2], "unreadable", "file-unreadable")
    put("empty.xlsx", b"", "unreadable", "file-unreadable")
    put("exported.xlsx", b"<html><body><table><tr><td>1</td></tr></table></body></html>",
        "unreadable", "file-unreadable")
    put("gbk.xlsx", "单位名称,本年收入合计\n测试,100\n".encode("gb18030"), "unreadable", "file-unreadable")
    put("password.xlsx", encrypted(good), "unreadable", "file-encrypted")
    put("bomb.xlsx", zip_bomb(), "unreadable", "file-unsafe")
    put("million.xlsx", million_rows(), "unreadable", "file-unsafe")
    put("far-corner.xlsx", far_corner(good), "unreadable", "file-unsafe")
    put("laughs.xlsx", entity_attack(good, "laughs"), "unreadable", "file-unsafe")
    put("xxe.xlsx", entity_attack(good, "xxe"), "unreadable", "file-unsafe")
    put("corrupt.xlsx", corrupt_deflate(good), "unreadable", "file-unreadable")
    put("not-ooxml.xlsx", _rezip(_sheet_zip(b""), drop=("xl/workbook.xml", "[Content_Types].xml")),
        "unreadable", "file-unreadable")
    put("no-sheet-part.xlsx", _rezip(good, drop=("xl/worksheets/sheet2.xml",)), "unreadable", "file-unreadable")
    put("unrelated.xlsx", _sheet_zip(SHEET_HEAD + b'<row r="1"><c r="A1"><v>1</v></c></row>' + SHEET_TAIL),
        "unreadable", "not-a-template")
    put("~$T001_good.xlsx", b"\x0bowner-file" + b"\x00" * 150, "ignored", "ignored-file")
    put("._T001_good.xlsx", b"\x00\x05\x16\x07" + b"\x00" * 60, "ignored", "ignored-file")
    put("Thumbs.db", b"\x00" * 64, "ignored", "ignored-file")
    put("desktop.ini", b"[.ShellClassInfo]\r\n", "ignored", "ignored-file")
    put("download.xlsx.crdownload", good[:100], "ignored", "ignored-file")
    put("说明.docx", b"PK\x03\x04docx", "ignored", "not-a-spreadsheet")
    put("附件.zip", b"PK\x05\x06" + b"\x00" * 18, "ignored", "not-a-spreadsheet")
    # files written by LibreOffice from our template (tests/fixtures/make_fixtures.py)
    for src in sorted(FIXTURES.glob("lo-*")):
        put(f"libreoffice/{src.name}", src.read_bytes(), "reviewed", None)
    put("wps/T104.et", (FIXTURES / "wps-T104.et").read_bytes(), "reviewed", None)
    return expect
