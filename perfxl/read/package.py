"""What calamine does not tell us about an OOXML package: defined names, the date system,
which cells hold formulas, and when the file was last saved. Parsed with defusedxml."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field

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

    def formula_cells(self, zf: zipfile.ZipFile, sheet: str, parts: dict[str, bytes] | None = None) -> dict[str, bool]:
        """Cells of a sheet that hold a formula -> whether a cached value is present.
        `parts`: worksheet parts already decompressed by intake's checks."""
        part = self.sheet_parts.get(sheet)
        if part is None:
            return {}
        if parts and part in parts:
            return scan_formulas(parts[part])
        if part not in zf.namelist():
            return {}
        return scan_formulas(zf.read(part))


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_OPEN = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]{1,3}[0-9]+)\"")
_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c>|<(?:\w+:)?c\s")
_CACHED = re.compile(rb"<(?:\w+:)?v>[^<]|<(?:\w+:)?is>")


def scan_formulas(xml: bytes) -> dict[str, bool]:
    """Formula cells of a worksheet part -> whether a cached value follows.

    Worksheet cells are flat, so each `<f>` belongs to the last `<c r=…>` opened before it;
    only the few formula cells are looked at, instead of every cell of the sheet (the parts
    were checked for DTDs, sizes and extents before, in intake)."""
    out: dict[str, bool] = {}
    for m in _FORMULA.finditer(xml):
        window = xml[max(0, m.start() - 512): m.start()]
        opened = None
        for opened in _CELL_OPEN.finditer(window):  # noqa: B007 - the last one is the cell
            pass
        if opened is None:
            continue
        close = _CELL_CLOSE.search(xml, m.end())
        body = xml[m.end(): close.start() if close else len(xml)]
        out[opened.group(1).decode("ascii")] = _CACHED.search(body) is not None
    return out


def _parse_ref(text: str, sheets: set[str]) -> tuple[str, str] | None:
    """`'基础数据表'!$B$5` -> ("基础数据表", "B5"); None for ranges, #REF! or unknown sheets."""
    m = _REF.match(text.strip().lstrip("="))
    if not m:
        return None
    sheet = m["q"].replace("''", "'") if m["q"] is not None else m["u"]
    if sheet not in sheets:
        return None
    return sheet, f"{m['col']}{m['row']}"


def read_package(zf: zipfile.ZipFile) -> Package:
    """Defined names (single cells only: workbook-scoped, and sheet-scoped ones pointing into their
    own sheet), date system, sheet parts."""
    pkg = Package()
    root = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    pr = root.find(f"{{{NS_MAIN}}}workbookPr")
    if pr is not None and pr.get("date1904") in ("1", "true"):
        pkg.date1904 = True
    rels: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in zf.namelist():
        for rel in ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels")):
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
    if "docProps/core.xml" in zf.namelist():
        core = ElementTree.fromstring(zf.read("docProps/core.xml"))
        mod = core.find(f"{{{NS_DCTERMS}}}modified")
        if mod is not None and mod.text:
            pkg.modified = mod.text.strip()
    return pkg
