"""The cells of summary.xlsx (spec §8): a worksheet that writes typed, inert cells and remembers
readable widths, the workbook's formats, and wrapped text columns — shared by the department
sheets (perfxl.write.summary) and the project sheets (perfxl.write.summary_projects).

Unit-provided text is only ever written with `write_string` in a workbook whose options (OPTIONS)
turn off formula and URL detection, so a unit name like `=HYPERLINK(…)` stays inert text.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

import xlsxwriter

from perfxl.model import FileResult
from perfxl.ooxml.comments import line_count
from perfxl.ooxml.refs import display_width

DASH = "—"
UNGRADED = "未定级"
#: the 合计 rows sum `reviewed` files only (spec §8 v3): a returned unit's figures may be wrong
#: (typed in 元, unbalanced), and one such unit would misstate the bureau's total
TOTAL_LABEL = "合计（已审核单位）"

MAX_TEXT = 32_000  # Excel holds 32,767 characters in a cell; keep room for the note
TRUNCATED = "……（内容过长，已截断）"
NUMERIC_FORMATS = ("money", "rate", "score")
#: control characters (Cc) except \t and \n, and surrogates (Cs)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
WIDTH_CAP = 62  # set_column caps widths at 60 (+2 padding)
WIDTH_ROWS = 300
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def clean_text(text: object) -> str:
    """Text safe for a cell: control characters (but \\n and \\t) removed, bounded length."""
    s = _CONTROL.sub("", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    if len(s) > MAX_TEXT:
        s = s[: MAX_TEXT - len(TRUNCATED)] + TRUNCATED
    return s


def _width(value: object) -> int:
    """Display width: CJK and full-width characters count double (capped: columns are)."""
    if isinstance(value, float):
        return len(f"{value:,.2f}")
    return _text_width(str(value))


@lru_cache(maxsize=65536)
def _text_width(text: str) -> int:
    line = max(text.split("\n"), key=len) if text else ""
    if len(line) >= WIDTH_CAP:
        return WIDTH_CAP
    return display_width(line)


class Sheet:
    """A worksheet that writes typed cells and remembers column widths."""

    def __init__(self, wb: xlsxwriter.Workbook, name: str, fmt: dict[str, object]) -> None:
        self.ws, self.fmt, self.widths = wb.add_worksheet(name), fmt, {}
        self.last = (0, 0)  # the bottom-right cell written: the print area

    def put(self, row: int, col: int, value: object, fmt: str | None = None) -> None:
        if isinstance(value, str) and fmt in NUMERIC_FORMATS:
            fmt = "center"  # "—" or 不适用 in a number column
        style = self.fmt.get(fmt) if fmt else None
        if row > self.last[0] or col > self.last[1]:
            self.last = (max(row, self.last[0]), max(col, self.last[1]))
        if value is None:
            self.ws.write_blank(row, col, None, style)
            return
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            self.ws.write_number(row, col, float(value), style)
            shown: object = float(value)
        else:
            shown = clean_text(value)
            self.ws.write_string(row, col, shown, style)  # type: ignore[arg-type]
        if row <= WIDTH_ROWS:  # widths from the header and the first rows: enough to read, and cheap
            self.widths[col] = max(self.widths.get(col, 0), _width(shown))

    def header(self, row: int, headers: tuple[str, ...] | list[str], col: int = 0) -> None:
        for i, text in enumerate(headers):
            self.put(row, col + i, text, "header")

    def finish(self, rows: int, cols: int, freeze_cols: int = 0, table: bool = True) -> None:
        """Frozen header, a filter over the table, readable widths."""
        if table:
            self.ws.freeze_panes(1, freeze_cols)
            self.ws.autofilter(0, 0, max(rows - 1, 0), cols - 1)
        for col in self.widths:
            self.ws.set_column(col, col, self.col_width(col))

    def col_width(self, col: int) -> float:
        """The width (characters) `finish` gives a column; Excel's default for one never written."""
        return min(max(self.widths[col] + 2, 8), 60) if col in self.widths else 8.43


def formats(wb: xlsxwriter.Workbook) -> dict[str, object]:
    base = {"font_name": "宋体", "font_size": 10}
    header = {**base, "bold": True, "bg_color": "#D9E1F2", "border": 1, "align": "center",
              "valign": "vcenter", "text_wrap": True}
    total = {**base, "bold": True, "top": 1}
    specs = {
        "header": header, "money": {**base, "num_format": "#,##0.00"},
        "rate": {**base, "num_format": "0.00%"}, "score": {**base, "num_format": "0.00"},
        "center": {**base, "align": "center"}, "wrap": {**base, "text_wrap": True},
        "total_label": total, "total_money": {**total, "num_format": "#,##0.00"},
        "total_rate": {**total, "num_format": "0.00%"},
    }
    return {name: wb.add_format(spec) for name, spec in specs.items()}


def in_total(r: FileResult) -> bool:
    """Whether a file's money counts in a 合计 row (汇总, 项目汇总): reviewed files only."""
    return r.status == "reviewed"


def wrap_columns(sh: Sheet, texts: list[dict[int, str]], caps: dict[int, int], first: int = 1) -> None:
    """Cap the widths of the free-text columns `caps` (column -> characters) so that their text
    wraps, and give each data row (`texts[i]` is row `first + i`: column -> its text) the height
    of its lines: LibreOffice does not grow a row for its wrapped text."""
    widths = {col: min(sh.col_width(col), cap) for col, cap in caps.items()}
    for col, width in widths.items():
        sh.ws.set_column(col, col, width)
    for n, wrapped in enumerate(texts, start=first):
        lines = max((line_count(text, int(widths[col])) for col, text in wrapped.items()), default=1)
        if lines > 1:
            sh.ws.set_row(n, 13.5 * lines)


def wrapped_texts(row: list[object], caps: dict[int, int]) -> dict[int, str]:
    """The texts of a row's wrapped columns, as they are written."""
    return {col: clean_text(row[col]) for col in caps if isinstance(row[col], str)}
