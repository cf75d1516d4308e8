"""Parsed expressions as live Excel formulas over the defined names (spec §12, the template).

The unit sees in the 指标值 column what perfxl will compute: blank while an input is blank
(Excel would count a blank cell as 0) and blank, not #DIV/0!, on a division by zero. Only
functions of Excel 2007 are written (no `_xlfn.` prefixes), so Excel, WPS and LibreOffice agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from perfxl.spec.expr import Binary, Call, Condition, Expr, ExprError, Field, render, walk


def _body(expr: Expr, name_of: Callable[[str], str], deadline: dt.date | None) -> tuple[str, int]:
    def call(n: Call) -> tuple[str, int]:
        names = [name_of(a.key) for a in n.args if isinstance(a, Field)]  # the parser allows only fields here
        if n.name == "DAYS":
            # end − start: Excel's own DAYS(end, start) is Excel 2013 and takes its arguments reversed
            return f"{names[1]}-{names[0]}", 1
        if deadline is None:
            raise ExprError("DAYS_LATE 需要报送截止日期，表单的“设置”中没有给出", n.pos)
        return f"MAX(0,{names[0]}-DATE({deadline.year},{deadline.month},{deadline.day}))", 4

    return render(expr, lambda f: name_of(f.key), call, True)


def blank_test(keys: Iterable[str], name_of: Callable[[str], str]) -> str:
    """An Excel test that is TRUE while any of `keys` is not a number (blank, text): COUNT(a,b)<2."""
    keys = list(keys)
    return f"COUNT({','.join(name_of(k) for k in keys)})<{len(keys)}"


def to_excel(expr: Expr, name_of: Callable[[str], str], deadline: dt.date | None = None) -> str:
    """The live formula of a 指标值, e.g. =IF(COUNT(a,b)<2,"",IFERROR(ABS(a-b)/b,""))."""
    body = _body(expr, name_of, deadline)[0]
    if any(isinstance(n, Binary) and n.op == "/" for n in walk(expr)):
        body = f'IFERROR({body},"")'
    keys = expr.fields()
    return f'=IF({blank_test(keys, name_of)},"",{body})' if keys else f"={body}"


def condition_to_excel(cond: Condition, name_of: Callable[[str], str], tolerance: Decimal = Decimal(0),
                       deadline: dt.date | None = None) -> str:
    """An Excel test, TRUE when the 校验 condition holds with the same tolerance as evaluate_condition.

    No leading `=` and no blank guard: the template wraps it, e.g. IF(blank_test(…),"",IF(test,"✓","✗ …")).
    """
    if tolerance == 0:
        return f"{_body(cond.left, name_of, deadline)[0]}{cond.op}{_body(cond.right, name_of, deadline)[0]}"
    # Excel subtracts in binary floating point: 100.01-100 is 0.0100000000000051, which would fail
    # a check perfxl passes; rounding the difference to 9 places first keeps the two in step
    diff = f"ROUND({_body(Binary('-', cond.left, cond.right), name_of, deadline)[0]},9)"
    tol = format(tolerance, "f")
    if cond.op == "=":
        return f"ABS({diff})<={tol}"
    return f"{diff}{cond.op}{tol}" if cond.op in ("<=", "<") else f"{diff}{cond.op}-{tol}"


_CELL = re.compile(r"([a-z]{1,3})([0-9]+)\Z")
_R1C1 = re.compile(r"(r[0-9]*)?(c[0-9]*)?\Z")


def name_problem(key: str) -> str | None:
    """Why a 字段键 cannot be an Excel defined name (it reads as a cell such as tax2020 or r1c1), or None."""
    cell = _CELL.match(key)
    if cell:
        column = 0
        for letter in cell[1]:
            column = column * 26 + ord(letter) - 96
        if column <= 16384 and 1 <= int(cell[2]) <= 1048576:  # XFD1048576, the last cell of a sheet
            return f"字段键“{key}”在 Excel 中是单元格地址 {key.upper()}，不能作为名称，请改名（如 {key}_value）"
    if _R1C1.match(key):
        return f"字段键“{key}”在 Excel 中表示行或列（R1C1 写法），不能作为名称，请改名（如 {key}_value）"
    return None
