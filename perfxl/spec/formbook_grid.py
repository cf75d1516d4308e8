"""The sheets of a form workbook as tables (spec §12): sheets found by name or content, header rows
found among title rows, columns matched by header text like labels (§3), cell values as text.

Whatever Excel, WPS or another program wrote: rows inserted above the header, columns in any
order, full-width punctuation, numbers where text was meant. Reads with python-calamine.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import python_calamine

from perfxl.spec.form import Problem

MAX_ROWS = 5000  # a form has tens of rows; a huge sheet is a mistake, not a form
MAX_BYTES = 20 * 2**20
HEADER_SEARCH = 20
_QUOTES = "\"'“”‘’「」『』"

#: sheet role -> names it goes by (the first is the name perfxl writes)
SHEET_NAMES = {
    "设置": ("设置", "基本设置", "表单设置", "设置表"),
    "字段": ("字段", "字段表", "基础数据字段", "字段清单"),
    "指标": ("指标", "指标表", "指标体系", "评分指标"),
    "校验": ("校验", "校验表", "校验规则", "交叉校验", "交叉核对"),
}
#: sheet role -> column -> (header aliases, required)
COLUMNS: dict[str, dict[str, tuple[tuple[str, ...], bool]]] = {
    "设置": {"项目": (("项目", "设置项", "项"), True), "值": (("值", "内容", "设置值", "取值"), True)},
    "字段": {
        "分组": (("分组", "组", "分类", "栏目"), False), "字段键": (("字段键", "键", "字段名", "key", "定义名称"), True),
        "名称": (("名称", "字段名称", "项目名称", "标签"), True), "类型": (("类型", "数据类型", "字段类型"), True),
        "必填": (("必填", "是否必填"), False), "单位": (("单位", "计量单位"), False),
        "别名": (("别名", "其他名称", "同义词"), False), "选项": (("选项", "可选值", "下拉选项"), False),
        "提示": (("提示", "填报提示", "填写提示"), False),
    },
    "指标": {
        "指标编码": (("指标编码", "编码", "指标代码"), True), "一级指标": (("一级指标", "一级"), True),
        "二级指标": (("二级指标", "二级"), True), "三级指标": (("三级指标", "三级", "指标名称"), True),
        "分值": (("分值", "权重", "分数"), True), "评分标准": (("评分标准", "评分细则", "评分说明"), False),
        "指标值": (("指标值", "计算公式", "公式", "指标值公式"), False), "评分方式": (("评分方式", "评分方法", "计分方式"), True),
        "参数": (("参数", "评分参数", "规则参数"), False), "空白时": (("空白时", "空白处理", "缺失时"), False),
    },
    "校验": {
        "校验编码": (("校验编码", "编码", "问题代码", "代码"), True), "名称": (("名称", "校验名称"), False),
        "条件": (("条件", "校验条件", "公式"), True), "严重程度": (("严重程度", "严重性", "级别"), False),
        "说明": (("说明", "建议", "处理建议"), False), "主单元格": (("主单元格", "主字段", "标注字段"), False),
        "消息": (("消息", "提示消息", "问题消息"), False),
    },
}


#: the units a label may carry in parentheses (as perfxl.read.values.LABEL_UNITS)
LABEL_UNITS = ("万元", "人", "%", "项", "个", "天", "日", "元/人")


def label_key(text: object) -> str:
    """A label as the reader compares it (spec §3): NFKC, no whitespace or quotes, no leading `*` or
    `其中：`, no trailing `：` or unit. Mirrors perfxl.read.values.label_key, which is a layer above spec."""
    if not isinstance(text, str):
        return ""
    key = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace() and ch not in _QUOTES)
    key = key.lstrip("*").removeprefix("其中:").rstrip(":")
    for unit in LABEL_UNITS:
        if key.endswith(f"({unit})") and len(key) > len(unit) + 2:
            key = key[: -len(unit) - 2]
            break
    return key.rstrip(":")


def header_key(text: object) -> str:
    """A header or sheet name as compared here: like a label, also without any parenthesised note."""
    key = label_key(text)
    if key.endswith(")") and "(" in key[1:]:
        key = key[: key.rindex("(")]
    return key.rstrip(":").lower()


def text_of(value: object) -> str:
    """A cell as the text its author meant: 5.0 -> "5", True -> "是", a date -> 2021-06-20."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value)
    return str(value).strip()


def number_of(value: object) -> Decimal | None:
    """A cell as an exact Decimal (5.0 -> 5, "5分" -> 5, "２.５" -> 2.5), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
    text = "".join(ch for ch in unicodedata.normalize("NFKC", str(value)) if not ch.isspace()).removesuffix("分")
    try:
        number = Decimal(text)
    except ArithmeticError:
        return None
    return number if number.is_finite() and len(text) <= 20 else None


def _cell(row: int, col: int) -> str:
    """A1 address of a 0-based row and column; xlsxwriter imported when a problem is placed (it is
    50 ms of every start-up otherwise: `perfxl check` loads the forms but writes no workbook)."""
    from xlsxwriter.utility import xl_col_to_name

    return f"{xl_col_to_name(col)}{row + 1}"


@dataclass
class Table:
    """One sheet's table: `rows` of {column: raw value} with their 0-based row numbers."""

    sheet: str
    columns: dict[str, int]
    header_row: int
    rows: list[tuple[int, dict[str, object]]]

    def cell(self, row: int, column: str) -> str:
        """A1 address of `column` in sheet row `row` (0-based); past the last column when absent."""
        return _cell(row, self.columns.get(column, max(self.columns.values(), default=-1) + 1))

    def where(self, row: int):
        """A function column -> (sheet, cell) for problems of one row."""
        return lambda column: (self.sheet, self.cell(row, column))


def open_sheets(path: Path) -> tuple[dict[str, list[list[object]]], list[Problem]]:
    """Every sheet of the workbook as a grid from A1 (calamine starts at the first used cell)."""
    if path.stat().st_size > MAX_BYTES:
        return {}, [Problem(f"{path.name} 有 {path.stat().st_size // 2**20} MB，表单工作簿不会这么大（上限 {MAX_BYTES // 2**20} MB）："
                            "请确认选对了文件")]
    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types and also plain ones for a bad zip
        return {}, [Problem(f"{path.name} 无法作为 Excel 工作簿打开（{type(exc).__name__}），请用 Excel 或 WPS 另存为 .xlsx 后再检查")]
    grids: dict[str, list[list[object]]] = {}
    problems: list[Problem] = []
    for name in wb.sheet_names:
        try:
            sheet = wb.get_sheet_by_name(name)
            data = sheet.to_python(nrows=MAX_ROWS + 1)
        except Exception as exc:  # one unreadable sheet (a chart sheet) does not stop the others
            problems.append(Problem(f"这一页无法读取（{type(exc).__name__}），已跳过", name, "", "warning"))
            continue
        r0, c0 = sheet.start or (0, 0)
        if len(data) > MAX_ROWS:
            problems.append(Problem(f"超过 {MAX_ROWS} 行，只读取前 {MAX_ROWS} 行", name, "", "warning"))
            data = data[:MAX_ROWS]
        grids[name] = [[None] * c0 + [None if v == "" else v for v in row] for row in [[]] * r0 + list(data)]
    return grids, problems


def find_sheets(grids: dict[str, list[list[object]]]) -> tuple[dict[str, str], list[Problem]]:
    """Role -> sheet name, by name first, else by a header row that fits; the rest noted as ignored."""
    found: dict[str, str] = {}
    keys = {name: header_key(name) for name in grids}
    for role, names in SHEET_NAMES.items():
        wanted = {header_key(n) for n in names}
        match = next((name for name, key in keys.items() if key in wanted and name not in found.values()), None)
        if match is None:  # renamed: the first other sheet whose header row fits this role
            match = next((name for name in grids if name not in found.values() and keys[name] not in _ALL_NAMES
                          and _header_row(grids[name], role)[0] is not None), None)
        if match is not None:
            found[role] = match
    problems = [Problem("这一页不是表单的一部分，已忽略", name, "", "info")
                for name in grids if name not in found.values() and keys[name] != header_key("说明")]
    return found, problems


_ALL_NAMES = {header_key(n) for names in SHEET_NAMES.values() for n in names}


def _match(text: object, role: str) -> str | None:
    key = header_key(text)
    if not key:
        return None
    return next((col for col, (aliases, _) in COLUMNS[role].items() if key in {header_key(a) for a in aliases}), None)


def _header_row(grid: list[list[object]], role: str) -> tuple[int | None, dict[str, int]]:
    """The row (within the first rows) matching most headers, with its key column; None if none fits."""
    key_column = next(iter(COLUMNS[role]))
    best: tuple[int | None, dict[str, int]] = (None, {})
    for r, row in enumerate(grid[:HEADER_SEARCH]):
        cols: dict[str, int] = {}
        for c, value in enumerate(row):
            col = _match(value, role)
            if col is not None and col not in cols:
                cols[col] = c
        if key_column in cols and len(cols) >= 2 and len(cols) > len(best[1]):
            best = (r, cols)
    return best


def read_table(grid: list[list[object]], sheet: str, role: str) -> tuple[Table | None, list[Problem]]:
    """The table of one sheet: header row, columns, non-blank rows; problems for missing and extra
    columns (None when a required column is missing)."""
    header, cols = _header_row(grid, role)
    spec = COLUMNS[role]
    if header is None:
        names = "”“".join(c for c, (_, req) in spec.items() if req)
        return None, [Problem(f"找不到表头行：前 {HEADER_SEARCH} 行中应有一行写着“{names}”等列名", sheet, "A1")]
    table = Table(sheet, cols, header, [])
    problems = [Problem(f"缺少“{col}”列，请在第 {header + 1} 行表头中加上", sheet, table.cell(header, col))
                for col, (_, required) in spec.items() if required and col not in cols]
    for c, value in enumerate(grid[header]):
        if value is not None and c not in cols.values() and text_of(value):
            problems.append(Problem(f"列“{text_of(value)}”不是表单的列，已忽略", sheet, _cell(header, c), "info"))
    if any(p.severity == "error" for p in problems):
        return None, problems  # its rows would repeat the missing column's problem on every line
    for r in range(header + 1, len(grid)):
        row = grid[r]
        values = {col: (row[c] if c < len(row) else None) for col, c in cols.items()}
        if any(text_of(v) for v in values.values()):
            table.rows.append((r, values))
    return table, problems


def blank_continues(rows: Iterator[tuple[int, dict[str, object]]], *columns: str) -> Iterator[tuple[int, dict[str, object]]]:
    """Rows where a blank cell of `columns` takes the value of the row above (merged or left blank)."""
    last: dict[str, object] = {}
    for r, values in rows:
        for col in columns:
            if text_of(values.get(col)):
                last[col] = values[col]
            elif col in last:
                values = {**values, col: last[col]}
        yield r, values
