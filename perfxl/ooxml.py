"""What calamine does not tell us about an OOXML package: defined names, the date system,
which cells hold formulas, and when the file was last saved. Parsed with defusedxml."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from xml.parsers import expat

from defusedxml import ElementTree

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_DCTERMS = "http://purl.org/dc/terms/"

_REF = re.compile(r"^(?:'(?P<q>(?:[^']|'')+)'|(?P<u>[^'!]+))!\$?(?P<col>[A-Z]{1,3})\$?(?P<row>\d+)$")


@dataclass
class Package:
    """The parts of an .xlsx/.xlsm package that perfxl reads besides values."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (sheet, A1)
    date1904: bool = False
    sheet_parts: dict[str, str] = field(default_factory=dict)  # sheet name -> part path
    modified: str | None = None

    def formula_cells(self, zf: zipfile.ZipFile, sheet: str) -> dict[str, bool]:
        """Cells of a sheet that hold a formula -> whether a cached value is present."""
        part = self.sheet_parts.get(sheet)
        if part is None or part not in zf.namelist():
            return {}
        return scan_formulas(zf.read(part))


def _refuse(*_args: object) -> None:
    raise ValueError("XML entity or DTD declarations are not allowed")


def scan_formulas(xml: bytes) -> dict[str, bool]:
    """Formula cells of a worksheet part -> whether a cached value follows.

    A streaming expat pass with element callbacks only (4× faster than building elements);
    like defusedxml, any DTD or entity declaration is refused before it can expand."""
    out: dict[str, bool] = {}
    current: list[str | None] = [None]

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            current[0] = attrs.get("r")
        elif local == "f" and current[0]:
            out[current[0]] = False
        elif local in ("v", "is") and current[0] in out:
            out[current[0]] = True  # type: ignore[index]

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.Parse(xml, True)
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
    """Defined names (workbook-scoped, single cells only), date system, sheet parts."""
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
    for sheet in sheets_el if sheets_el is not None else ():
        rid = sheet.get(f"{{{NS_REL}}}id", "")
        if rid in rels:
            pkg.sheet_parts[sheet.get("name", "")] = rels[rid]
    names_el = root.find(f"{{{NS_MAIN}}}definedNames")
    known = set(pkg.sheet_parts)
    for dn in names_el if names_el is not None else ():
        if dn.get("localSheetId") is not None or not dn.text:
            continue  # sheet-scoped names are not ours (spec §3)
        ref = _parse_ref(dn.text, known)
        if ref is not None:
            pkg.names[dn.get("name", "")] = ref
    if "docProps/core.xml" in zf.namelist():
        core = ElementTree.fromstring(zf.read("docProps/core.xml"))
        mod = core.find(f"{{{NS_DCTERMS}}}modified")
        if mod is not None and mod.text:
            pkg.modified = mod.text.strip()
    return pkg


def col_letters(col: int) -> str:
    """0-based column index -> letters."""
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def a1(row: int, col: int) -> str:
    """0-based (row, col) -> A1."""
    return f"{col_letters(col)}{row + 1}"


def parse_a1(ref: str) -> tuple[int, int]:
    """A1 -> 0-based (row, col)."""
    m = re.match(r"^([A-Z]{1,3})(\d+)$", ref)
    if not m:
        raise ValueError(ref)
    col = 0
    for ch in m[1]:
        col = col * 26 + ord(ch) - 64
    return int(m[2]) - 1, col - 1
