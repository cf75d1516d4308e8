"""The units' replies (spec §8): the 单位答复 a unit typed into a returned feedback copy.

A feedback copy is the unit's own workbook with a `审核意见` sheet added first; the unit corrects
its cells, answers in the 单位答复 column and sends that same workbook back. The sheet is found
by its name and its columns by their header text, never by position, so a unit that inserted
rows or moved columns is still read. A row answers the finding with the same code, sheet and
primary cell. Values come from the grids the reader already has (calamine read them from the
package, whatever the format), so no part is parsed twice.
"""

from __future__ import annotations

import re
from dataclasses import replace

from perfxl.findings import CATALOGUE, Finding, Reply
from perfxl.read.values import label_key, show

REVIEW_SHEET = "审核意见"
#: header text -> what the column holds; 规则 holds the code, 单元格 "C24（相关：C19、C17）"
COLUMNS = {"规则": "code", "工作表": "sheet", "单元格": "cell", "单位答复": "reply"}
_PRIMARY = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
MAX_REPLY = 32_767  # what one Excel cell holds


def _header(cells: dict[tuple[int, int], object]) -> tuple[int, dict[str, int]] | None:
    """(row, column of each role) of the first row that has a 规则 and a 单位答复 header."""
    wanted = {label_key(text): role for text, role in COLUMNS.items()}
    rows: dict[int, dict[str, int]] = {}
    for (r, c), value in sorted(cells.items()):
        role = wanted.get(label_key(value))
        if role is not None:
            rows.setdefault(r, {}).setdefault(role, c)
    for r, cols in sorted(rows.items()):
        if "code" in cols and "reply" in cols:
            return r, cols
    return None


def _text(value: object) -> str | None:
    """A cell as text, stripped; None when blank."""
    if value is None:
        return None
    text = show(value).strip()
    return text[:MAX_REPLY] or None


def _cell(value: object) -> str | None:
    """The primary cell of a 单元格 entry (the first reference), upper case and without `$`."""
    m = _PRIMARY.match(_text(value) or "")
    return f"{m[1].upper()}{int(m[2])}" if m else None


def read_replies(grids: dict) -> list[Reply]:
    """Every non-blank 单位答复 of the workbook's 审核意见 sheet (none when it has no such sheet).
    `grids`: sheet name -> Grid (perfxl.read.workbook)."""
    grid = grids.get(REVIEW_SHEET)
    if grid is None:
        return []
    found = _header(grid.cells)
    if found is None:
        return []
    head, cols = found
    replies: list[Reply] = []
    for r in sorted({r for r, _ in grid.cells if r > head}):
        text = _text(grid.cells.get((r, cols["reply"])))
        code = (_text(grid.cells.get((r, cols["code"]))) or "").lower()
        if text is None or code not in CATALOGUE:
            continue  # a blank answer, a note below the table, a row the unit typed itself
        sheet = _text(grid.cells.get((r, cols["sheet"]))) if "sheet" in cols else None
        cell = _cell(grid.cells.get((r, cols["cell"]))) if "cell" in cols else None
        replies.append(Reply(code, sheet, cell, text))
    return replies


def _answers(reply: Reply, f: Finding) -> bool:
    # a missing 工作表 column matches any sheet; a finding without a cell is answered by a row
    # without one
    return (reply.code == f.code and reply.cell == (f.cell.upper() if f.cell else None)
            and (reply.sheet is None or reply.sheet == (f.sheet or None)))


def attach_replies(findings: list[Finding], replies: list[Reply]) -> tuple[list[Finding], list[Reply]]:
    """The findings, each carrying the reply that answers it (or none), and the replies that
    answer none of them (their finding is gone: resolved). Findings that already carry a reply
    are matched afresh, so this runs again once the batch has added findings of its own."""
    out = []
    for f in findings:
        text = next((rep.text for rep in replies if _answers(rep, f)), None)
        out.append(f if f.reply == text else replace(f, reply=text))
    return out, [rep for rep in replies if not any(_answers(rep, f) for f in findings)]
