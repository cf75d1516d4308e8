"""The two ways a feedback workbook is written (spec §8): the unit's OOXML package patched, or a
new workbook holding 审核意见 and a values-only copy of the sheets perfxl read.

Highlights and comments go on any sheet a finding names: 基础数据表 and 评分表 of a department
file, the project sheets of a project file (spec §13) whatever the unit called them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping

from perfxl.model import BASIC_SHEET, SCORE_SHEET, FileResult, Form
from perfxl.ooxml.comments import AUTHOR, Mark, line_count
from perfxl.ooxml.patch import CENTER_COLS, LINK_COL, REPLY_COL, SEVERITY_COL, WIDTHS, Patcher, Review
from perfxl.ooxml.refs import display_width, parse_a1
from perfxl.spec.fields import Field
from perfxl.write.printing import set_print

COLOURS = {"error": ("#FFC7CE", "#9C0006"), "warning": ("#FFEB9C", "#9C5700")}


def patched_copy(data: bytes, review: Review, marks: dict[str, dict[str, Mark]]) -> bytes:
    """The unit's OOXML package with the highlights, comments and 审核意见 added."""
    patcher = Patcher(data)
    names = set(patcher.sheet_names())
    for row in review.rows:
        if row.link and row.link[0] not in names:
            row.link = None
    return patcher.patch(review, marks)


def rebuilt_copy(review: Review, marks: dict[str, dict[str, Mark]], result: FileResult,
                 data: bytes | None, rubric: Form | None = None) -> bytes:
    """A new workbook: 审核意见 and, when `data` is given, a values-only copy of the sheets read
    (基础数据表 and 评分表 as the reader located them, or a project file's project sheets, and any
    sheet a finding names). `rubric` is the form the file was read by."""
    import xlsxwriter

    from perfxl.read.workbook import Reader, open_book

    grids = []
    if data is not None:
        book = open_book(data, result.format or "xlsx")
        wanted = {sheet for sheet, _ in result.cells.values()} | {f.sheet for f in result.findings if f.sheet}
        if result.projects:  # a project file (spec §13): every project sheet, whatever its name
            wanted |= {p.sheet for p in result.projects}
        else:
            wanted |= {BASIC_SHEET, SCORE_SHEET}
            if rubric is not None:
                sub = Reader(book, rubric, result.file).read()
                wanted |= {sub.basic_sheet, sub.score_sheet}
        grids = [book.grids[name] for name in book.order if name in wanted]
    names = {g.name for g in grids}
    for row in review.rows:
        if row.link and row.link[0] not in names:
            row.link = None
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    wb.set_properties({"title": review.title, "author": AUTHOR, "created": dt.datetime(2000, 1, 1)})
    review_name = review.sheet_name if review.sheet_name not in names else f"{review.sheet_name}2"
    _xlsxwriter_review(wb, wb.add_worksheet(review_name), review)
    types = _field_types(result, rubric.fields) if rubric is not None else {}  # no rubric: no sheets copied
    for grid in grids:
        _xlsxwriter_copy(wb, wb.add_worksheet(grid.name[:31]), grid, marks.get(grid.name, {}), types)
    wb.close()
    return buf.getvalue()


def _field_types(result: FileResult, known: Mapping[str, Field]) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> type of each field read, over the form's fields (rubric.fields); a
    project file's fields of every project sheet too."""
    cells = [*result.cells.items(), *(item for p in result.projects for item in p.cells.items())]
    return {(sheet, ref): known[key].type for key, (sheet, ref) in cells if key in known}


def _xlsxwriter_review(wb, ws, review: Review) -> None:
    add = wb.add_format
    base = {"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"}
    box = {**base, "border": 1, "border_color": "#BFBFBF"}
    fmt = {
        "title": add({**base, "bold": True, "font_size": 14, "valign": "vcenter", "text_wrap": False}),
        "lead": add({**base, "bold": True, "font_color": "#9C0006" if review.returned else "#9C5700"}),
        "note": add(base),
        "head": add({**box, "bold": True, "bg_color": "#D9E1F2", "align": "center", "valign": "vcenter"}),
        "body": add(box), "center": add({**box, "align": "center"}),
        "link": add({**box, "font_color": "#0563C1", "underline": 1}),
        "reply": add({**box, "bg_color": "#FFF2CC", "locked": False}),
        "info": add({**box, "align": "center"}),
    }
    for sev, (fill, font) in COLOURS.items():
        fmt[sev] = add({**box, "align": "center", "bold": True, "bg_color": fill, "font_color": font})
    ncol = len(review.header)
    for i, w in enumerate(WIDTHS[:ncol]):
        ws.set_column(i, i, w)
    total = sum(WIDTHS[:ncol])
    row = 0
    for text, style, height in [(review.title, "title", 24), (review.lead, "lead", None),
                                *((n, "note", None) for n in review.notes)]:
        ws.merge_range(row, 0, row, ncol - 1, "", fmt[style])
        ws.write_string(row, 0, text, fmt[style])
        ws.set_row(row, height or 15 * line_count(text, total))
        row += 1
    for i, h in enumerate(review.header):
        ws.write_string(row, i, h, fmt["head"])
    ws.set_row(row, 20)
    ws.freeze_panes(row + 1, 0)
    head = row
    for item in review.rows:
        row += 1
        for i, value in enumerate(item.values):
            style = {SEVERITY_COL: item.severity, REPLY_COL: "reply"}.get(i, "center" if i in CENTER_COLS else "body")
            if isinstance(value, int):
                ws.write_number(row, i, value, fmt[style])
            elif i == LINK_COL and item.link:
                sheet, ref = item.link
                ws.write_url(row, i, f"internal:'{sheet.replace(chr(39), chr(39) * 2)}'!{ref}", fmt["link"],
                             string=str(value))
            elif value == "":
                ws.write_blank(row, i, None, fmt[style])
            else:
                ws.write_string(row, i, str(value), fmt[style])
        ws.set_row(row, 15 * max(line_count(str(v), WIDTHS[i]) for i, v in enumerate(item.values)) + 3)
    ws.protect("", {"format_columns": True, "format_rows": True})
    set_print(ws, (row, ncol - 1), landscape=True, titles=(head, head))
    ws.set_tab_color("#C00000")
    ws.activate()


def _xlsxwriter_copy(wb, ws, grid, marks: dict[str, Mark], types: dict[tuple[str, str], str]) -> None:
    from perfxl.ooxml.refs import a1
    from perfxl.write.template import NUMBER_FORMATS

    formats: dict[tuple, object] = {}

    def style(num: str | None, severity: str | None):
        key = (num, severity)
        if key not in formats:
            spec = {"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "vcenter", "border": 1,
                    "border_color": "#BFBFBF"}
            if num:
                spec["num_format"] = num
            if severity:
                spec["bg_color"] = COLOURS[severity][0]
            formats[key] = wb.add_format(spec)
        return formats[key]

    marked = {parse_a1(ref): m for ref, m in marks.items()}
    widths: dict[int, int] = {}
    covered: set[tuple[int, int]] = set()
    for (r0, c0), (r1, c1) in grid.merged.items():
        if (r1, c1) == (r0, c0):
            continue
        mark = marked.get((r0, c0))
        ws.merge_range(r0, c0, r1, c1, "", style(None, mark.severity if mark else None))
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)} - {(r0, c0)}
    for r, c in sorted(set(grid.cells) | set(marked)):
        if (r, c) in covered:
            continue
        value = grid.cells.get((r, c))
        mark = marked.get((r, c))
        kind = types.get((grid.name, a1(r, c)))
        fmt = style(NUMBER_FORMATS.get(kind) if kind not in ("code", "text", None) else None,
                    mark.severity if mark else None)
        if value is None or value == "":
            ws.write_blank(r, c, None, fmt)
        elif isinstance(value, bool):
            ws.write_boolean(r, c, value, fmt)
        elif isinstance(value, int | float):
            ws.write_number(r, c, value, fmt)
        elif isinstance(value, dt.datetime | dt.date | dt.time):
            ws.write_datetime(r, c, value, style(NUMBER_FORMATS["date"] if not isinstance(value, dt.time) else
                                                 "hh:mm:ss", mark.severity if mark else None))
        else:
            ws.write_string(r, c, str(value), fmt)
        if grid.merged.get((r, c), (r, c)) == (r, c):
            widths[c] = max(widths.get(c, 8), min(50, display_width(str(value or "")) + 2))
    for c, w in widths.items():
        ws.set_column(c, c, w)
    used = set(grid.cells) | set(marked) | set(grid.merged.values())
    if used:  # as wide as a 评分表 with its long 评分标准 text: landscape
        set_print(ws, (max(r for r, _ in used), max(c for _, c in used)), landscape=sum(widths.values()) > 120)
    for (r, c), mark in sorted(marked.items()):
        ws.write_comment(r, c, mark.comment, {"author": AUTHOR, "font_name": "宋体", "font_size": 9,
                                              "x_scale": 2.6, "y_scale": min(6, 1 + line_count(mark.comment, 36) / 4)})
