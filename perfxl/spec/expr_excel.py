"""Parsed expressions as live Excel formulas over the defined names (spec §12, the template).

The unit sees in the 指标值 column what perfxl will compute: blank while an input is blank
(Excel would count a blank cell as 0) and blank, not #DIV/0!, on a division by zero. Only
functions of Excel 2007 are written (no `_xlfn.` prefixes), so Excel, WPS and LibreOffice agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from perfxl.spec.expr import Binary, Call, Condition, Expr, ExprError, Field, Number, render, walk


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
    tol = Number(tolerance)
    if cond.op == "=":
        return f"ABS({_body(Binary('-', cond.left, cond.right), name_of, deadline)[0]})<={format(tolerance, 'f')}"
    # the tolerance favours the unit, as in evaluate_condition: l<=r+tol, l>r-tol …
    shifted = Binary("+" if cond.op in ("<=", "<") else "-", cond.right, tol)
    return f"{_body(cond.left, name_of, deadline)[0]}{cond.op}{_body(shifted, name_of, deadline)[0]}"
