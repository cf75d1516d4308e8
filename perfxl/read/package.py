"""What calamine does not tell us about an OOXML package: defined names, the date system,
which cells hold formulas, and when the file was last saved.

The XML is parsed with defusedxml, or, when it cannot hold a DTD at all, with the faster C
ElementTree (see `_parse`)."""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from xml.etree import ElementTree as _CElementTree

from defusedxml import ElementTree

from perfxl.ooxml.refs import NS_MAIN, NS_REL

NS_DCTERMS = "http://purl.org/dc/terms/"

_REF = re.compile(r"^(?:'(?P<q>(?:[^']|'')+)'|(?P<u>[^'!]+))!\$?(?P<col>[A-Z]{1,3})\$?(?P<row>\d+)$")


@dataclass
class Package:
    """The parts of an .xlsx/.xlsm package that perfxl reads besides values."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (sheet, A1)
    #: sheet-scoped names (localSheetId) pointing into their own sheet: sheet -> name -> (sheet, A1);
    #: a copied project sheet carries its own (spec §13); the department form reads only `names`
    local_names: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    date1904: bool = False
    sheet_parts: dict[str, str] = field(default_factory=dict)  # sheet name -> part path
    modified: str | None = None

    def formula_cells(self, zf: ZipSource, sheet: str, parts: dict[str, bytes] | None = None) -> dict[str, bool]:
        """Cells of a sheet that hold a formula -> whether a cached value is present.
        `parts`: worksheet parts already decompressed by intake's checks; `zf` (or a function
        opening it) is only opened for a part not among them."""
        part = self.sheet_parts.get(sheet)
        if part is None:
            return {}
        if parts and part in parts:
            return scan_formulas(parts[part])
        zf = _opened(zf)
        if part not in zf.namelist():
            return {}
        return scan_formulas(zf.read(part))


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
#: _FORMULA without a prefix: the same matches in a part without ":f" (a prefixed <x:f> needs one),
#: found three times as fast (the literal "<f" is searched for instead of trying every tag)
_FORMULA_PLAIN = re.compile(rb"<f[\s>/]")
_CELL_OPEN = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]{1,3}[0-9]+)\"")
_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c>|<(?:\w+:)?c\s")
_CACHED = re.compile(rb"<(?:\w+:)?v>[^<]|<(?:\w+:)?is>")


def scan_formulas(xml: bytes) -> dict[str, bool]:
    """Formula cells of a worksheet part -> whether a cached value follows.

    Worksheet cells are flat, so each `<f>` belongs to the last `<c r=…>` opened before it;
    only the few formula cells are looked at, instead of every cell of the sheet (the parts
    were checked for DTDs, sizes and extents before, in intake)."""
    out: dict[str, bool] = {}
    for m in (_FORMULA if b":f" in xml else _FORMULA_PLAIN).finditer(xml):
        opened = _last_cell_open(xml, max(0, m.start() - 512), m.start())
        if opened is None:
            continue
        close = _CELL_CLOSE.search(xml, m.end())
        body = xml[m.end(): close.start() if close else len(xml)]
        out[opened.group(1).decode("ascii")] = _CACHED.search(body) is not None
    return out


def _last_cell_open(xml: bytes, lo: int, hi: int) -> re.Match[bytes] | None:
    """The last _CELL_OPEN match that scanning xml[lo:hi] from the left finds (pos/endpos: as
    that slice, without copying it). Found from the right: the match at the last `<` where one
    starts is that one unless an earlier match runs over it, which needs a `<` after the last
    `>` before it (inside a tag: never in well-formed XML); then the window is scanned as
    before. Measured: 2 µs instead of 12 µs a formula on the generated returns."""
    p = xml.rfind(b"<", lo, hi)
    while p >= 0:
        m = _CELL_OPEN.match(xml, p, hi)
        if m is not None:
            if xml.rfind(b"<", lo, p) <= xml.rfind(b">", lo, p):
                return m
            break
        p = xml.rfind(b"<", lo, p)
    else:
        return None
    opened = None
    for opened in _CELL_OPEN.finditer(xml, lo, hi):  # noqa: B007 - the last one is the cell
        pass
    return opened


def _parse_ref(text: str, sheets: set[str]) -> tuple[str, str] | None:
    """`'基础数据表'!$B$5` -> ("基础数据表", "B5"); None for ranges, #REF! or unknown sheets."""
    ref = _split_ref(text)
    return ref if ref is not None and ref[0] in sheets else None


@lru_cache(maxsize=4096)  # every file of a round has the template's names
def _split_ref(text: str) -> tuple[str, str] | None:
    m = _REF.match(text.strip().lstrip("="))
    if not m:
        return None
    sheet = m["q"].replace("''", "'") if m["q"] is not None else m["u"]
    return sheet, f"{m['col']}{m['row']}"


#: a package, or a function that opens it (only called when a part is not at hand)
ZipSource = zipfile.ZipFile | Callable[[], zipfile.ZipFile]


def _opened(zf: ZipSource) -> zipfile.ZipFile:
    return zf if isinstance(zf, zipfile.ZipFile) else zf()


#: the parts read_package parses, which intake keeps whole when it checks their prologs
PACKAGE_PARTS = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "docProps/core.xml")


_ENCODING = re.compile(rb"""encoding\s*=\s*["']utf-?8["']""", re.IGNORECASE)


def _plain(xml: bytes) -> bool:
    """UTF-8 (declared so, or not declared) and no `<!` anywhere: no DTD, so no entity but the
    five predefined ones and character references, nothing external; no comment or CDATA either.
    In UTF-8 a DOCTYPE cannot be written without those two bytes; any other encoding (UTF-16,
    an 8-bit code page named in the declaration) is not looked into and is never plain."""
    head = xml[3:] if xml.startswith(b"\xef\xbb\xbf") else xml
    if not head.startswith(b"<") or b"<!" in xml:
        return False
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        if end < 0:
            return False
        decl = head[:end]
        if b"encoding" in decl and not _ENCODING.search(decl):
            return False
    return True


def _parse(xml: bytes):
    """The part's root element. A plain part (`_plain`) is parsed by the C ElementTree: the same
    tree, in 0.2 ms for the template's workbook.xml against 0.6 ms for defusedxml, which parses
    through pure-Python callbacks. Anything else, and a plain part the C parser refuses, goes
    through defusedxml as before, which refuses entity declarations and external references and
    fails on bad XML with the same exception as always."""
    if _plain(xml):
        try:
            return _CElementTree.fromstring(xml)
        except _CElementTree.ParseError:
            pass
    return ElementTree.fromstring(xml)


def read_package(zf: ZipSource, parts: dict[str, bytes] | None = None) -> Package:
    """Defined names (single cells only: workbook-scoped, and sheet-scoped ones pointing into their
    own sheet), date system, sheet parts. `parts`: parts intake has inflated already (PACKAGE_PARTS);
    the package (`zf`, or a function opening it) is opened only for a part that is not there."""
    parts = parts or {}
    opened: list[zipfile.ZipFile] = []

    def read(name: str, optional: bool = True) -> bytes | None:
        if name in parts:
            return parts[name]
        if not opened:
            opened.append(_opened(zf))
        return None if optional and name not in opened[0].namelist() else opened[0].read(name)

    pkg = Package()
    root = _parse(read("xl/workbook.xml", optional=False))  # type: ignore[arg-type]
    pr = root.find(f"{{{NS_MAIN}}}workbookPr")
    if pr is not None and pr.get("date1904") in ("1", "true"):
        pkg.date1904 = True
    rels: dict[str, str] = {}
    rels_xml = read("xl/_rels/workbook.xml.rels")
    if rels_xml is not None:
        for rel in _parse(rels_xml):
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
            rels[rel.get("Id", "")] = path
    sheets_el = root.find(f"{{{NS_MAIN}}}sheets")
    order: list[str] = []  # localSheetId is an index into <sheets>
    for sheet in sheets_el if sheets_el is not None else ():
        order.append(sheet.get("name", ""))
        rid = sheet.get(f"{{{NS_REL}}}id", "")
        if rid in rels:
            pkg.sheet_parts[sheet.get("name", "")] = rels[rid]
    names_el = root.find(f"{{{NS_MAIN}}}definedNames")
    known = set(pkg.sheet_parts)
    for dn in names_el if names_el is not None else ():
        if not dn.text:
            continue
        ref = _parse_ref(dn.text, known)
        local = dn.get("localSheetId")
        if local is None:
            if ref is not None:
                pkg.names[dn.get("name", "")] = ref
        elif local.isdigit() and int(local) < len(order) and ref is not None and ref[0] == order[int(local)]:
            pkg.local_names.setdefault(ref[0], {})[dn.get("name", "")] = ref
    core_xml = read("docProps/core.xml")
    if core_xml is not None:
        core = _parse(core_xml)
        mod = core.find(f"{{{NS_DCTERMS}}}modified")
        if mod is not None and mod.text:
            pkg.modified = mod.text.strip()
    return pkg
