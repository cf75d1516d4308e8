"""The grid of cells: references, column letters, A1, the width a text takes in it, and the
XML namespaces of SpreadsheetML. The one place for each."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def col_letters(col: int) -> str:
    """0-based column index -> letters."""
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(letters: str) -> int:
    """Letters -> 0-based column index."""
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return col - 1


@lru_cache(maxsize=1 << 16, typed=True)  # the same cells of the same template in every file
def a1(row: int, col: int) -> str:
    """0-based (row, col) -> A1."""
    return f"{col_letters(col)}{row + 1}"


_A1 = re.compile(r"^([A-Z]{1,3})(\d+)$")


@lru_cache(maxsize=1 << 16)
def parse_a1(ref: str) -> tuple[int, int]:
    """A1 -> 0-based (row, col)."""
    m = _A1.match(ref)
    if not m:
        raise ValueError(ref)
    return int(m[2]) - 1, col_index(m[1])


def display_width(text: str) -> int:
    """Columns `text` takes in a grid of monospaced cells: wide and full-width characters (CJK) two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
