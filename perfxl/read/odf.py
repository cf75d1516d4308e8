"""Merged cells of an OpenDocument spreadsheet (python-calamine reports none for .ods)."""

from __future__ import annotations

import zipfile

from defusedxml import ElementTree

NS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
T = f"{{{NS_TABLE}}}"


def _count(elem, attr: str) -> int:
    """A span or repeat count; 1 when absent or not a positive integer ("x", "1.5", "-1", ""),
    as calamine and LibreOffice read them: a malformed count must not stop the file."""
    text = elem.get(f"{T}{attr}", "1").strip()
    return max(1, int(text)) if text.isascii() and text.isdigit() and len(text) < 10 else 1


def merged_ranges(zf: zipfile.ZipFile) -> dict[str, list[tuple[tuple[int, int], tuple[int, int]]]]:
    """Sheet name -> merged ranges as 0-based ((row, col), (last_row, last_col))."""
    out: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    sheet, row, col = None, 0, 0
    with zf.open("content.xml") as fh:
        for event, elem in ElementTree.iterparse(fh, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == f"{T}table":
                    sheet, row = elem.get(f"{T}name", ""), 0
                    out.setdefault(sheet, [])
                elif tag == f"{T}table-row":
                    col = 0
                elif tag in (f"{T}table-cell", f"{T}covered-table-cell") and sheet is not None:
                    cols, rows = _count(elem, "number-columns-spanned"), _count(elem, "number-rows-spanned")
                    if tag == f"{T}table-cell" and (cols > 1 or rows > 1):
                        out[sheet].append(((row, col), (row + rows - 1, col + cols - 1)))
            else:
                if tag in (f"{T}table-cell", f"{T}covered-table-cell"):
                    col += _count(elem, "number-columns-repeated")
                    elem.clear()
                elif tag == f"{T}table-row":
                    row += _count(elem, "number-rows-repeated")
                    elem.clear()
                elif tag == f"{T}table":
                    sheet = None
    return out
