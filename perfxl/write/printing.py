"""Print setup of every sheet perfxl writes with xlsxwriter (issue 11): units print and stamp the
template, the bureau prints summary.xlsx, so each sheet prints on A4, one page wide, with its
header rows on every page and a page-number footer (numbers in perfxl.ooxml.page)."""

from __future__ import annotations

from perfxl.ooxml.page import FOOTER, MARGINS, PAPER_A4


def set_print(ws, last: tuple[int, int], *, landscape: bool, titles: tuple[int, int] | None = None) -> None:
    """Print A1 to `last` (row, column) of xlsxwriter worksheet `ws` on A4, one page wide and as
    many tall as needed, repeating rows `titles` (first, last) on every page; all 0-based."""
    ws.set_paper(PAPER_A4)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(MARGINS["left"], MARGINS["right"], MARGINS["top"], MARGINS["bottom"])
    ws.set_header("", {"margin": MARGINS["header"]})
    ws.set_footer(FOOTER, {"margin": MARGINS["footer"]})
    ws.print_area(0, 0, max(last[0], 0), max(last[1], 0))
    if titles is not None:
        ws.repeat_rows(*titles)
    ws.fit_to_pages(1, 0)
