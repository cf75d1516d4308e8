"""A table the bureau supplies (roster, adjustments): the rows of a .csv or spreadsheet file as raw values."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from perfxl.ooxml.refs import col_letters
from perfxl.read.values import label_key

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
HEADER_SCAN_ROWS = 10


class TableError(ValueError):
    """A bureau-supplied table (roster, adjustments) that cannot be used: one Chinese line."""


@dataclass
class Table:
    """The rows of a table as typed: 1-based row numbers, 0-based column indexes."""

    path: Path
    rows: list[tuple[int, list[object]]]

    def where(self, row: int, col: int | None = None, header: str | None = None) -> str:
        text = f"{self.path}：第 {row} 行"
        if col is not None:
            text += f" {col_letters(col)} 列"
        if header:
            text += f"「{header}」"
        return text


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _decode(data: bytes, path: Path, error: type[TableError]) -> str:
    """UTF-8 with or without BOM, else GB18030 (what Excel/WPS save on a Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error(f"{path}：无法识别文件编码，请另存为 UTF-8 或 GB18030 编码的 CSV")


def read_table(path: Path, what: str = "名单", error: type[TableError] = TableError) -> Table:
    """The rows of a .csv or spreadsheet file (its first sheet) as raw values."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".csv" and suffix not in SPREADSHEET_SUFFIXES:
        raise error(f"{what}文件 {path} 应为 .xlsx 或 .csv 文件")
    if not path.is_file():
        raise error(f"找不到{what}文件 {path}")
    rows: list[tuple[int, list[object]]] = []
    if suffix == ".csv":
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise error(f"无法打开{what}文件 {path}（{exc.strerror or exc}）") from exc
        text = _decode(data, path, error)
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            for record in reader:
                rows.append((reader.line_num, [None if _blank(v) else v for v in record]))
        except csv.Error as exc:
            raise error(f"{path}：第 {reader.line_num} 行不是有效的 CSV（{exc}）") from exc
        return Table(path, rows)
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        if not names:
            raise error(f"{what}文件 {path} 中没有工作表")
        sheet = book.get_sheet_by_name(names[0])
        r0, c0 = sheet.start or (0, 0)
        for i, raw in enumerate(sheet.to_python()):
            rows.append((r0 + i + 1, [None] * c0 + [None if _blank(v) else v for v in raw]))
    except TableError:
        raise
    except Exception as exc:  # calamine raises many types for damaged files
        raise error(f"无法读取{what}文件 {path}（{type(exc).__name__}），请用 Excel/WPS 打开后另存为 .xlsx") from exc
    return Table(path, rows)


def header_row(table: Table, wanted: Iterable[str]) -> tuple[int, list[object]] | None:
    """The header: the first of the first few non-empty rows naming one of `wanted`."""
    wanted = set(wanted)
    filled = [(n, row) for n, row in table.rows if any(v is not None for v in row)]
    for n, row in filled[:HEADER_SCAN_ROWS]:
        if any(label_key(v) in wanted for v in row if isinstance(v, str)):
            return n, row
    return filled[0] if filled else None

