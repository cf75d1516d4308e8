"""Evaluate parsed expressions and 校验 conditions in Decimal (spec §4.2, §4.3, §12).

Blank inputs, 0/0 and n/0 are outcomes, not exceptions: the scorer and the checks turn them
into 不适用, 无法计算 or findings. An ExprError here means the form was not checked first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from perfxl.spec.expr import MONEY_TOLERANCE, Binary, Call, Condition, Expr, ExprError, Field, Group, Neg, Number, walk

Value = Decimal | int | dt.date
STATUSES = ("ok", "blank", "zero-over-zero", "zero-denominator")


@dataclass(frozen=True)
class Result:
    """What an expression came to: `status` one of STATUSES, and what explains it."""

    status: str
    value: Value | None = None  # int when only integer fields and days went in; literals are Decimal
    blank: tuple[str, ...] = ()  # the blank inputs, in order of appearance
    all_blank: bool = False  # every input blank: 不适用 where 空白时 says so (spec §4.3)
    numerator: Decimal | int | None = None  # of the division by zero, for the message
    denominator: Decimal | int | None = None
    negative_days: tuple[tuple[str, str, int], ...] = ()  # (start, end, days) of each DAYS < 0: date-order

    @property
    def counts_as_blank(self) -> bool:
        """Blank inputs and 0/0 both count as blank (spec §12, division by zero)."""
        return self.status in ("blank", "zero-over-zero")


@dataclass(frozen=True)
class Verdict:
    """A 校验 condition's outcome; `holds` is None when it did not run (a side was not a value)."""

    holds: bool | None
    status: str  # "ok", or the status of the side that stopped it
    left: Value | None
    right: Value | None
    diff: Decimal | int | None  # left − right; days between them for dates
    blank: tuple[str, ...] = ()
    sides: tuple[Result, Result] | None = None


class _ZeroDivision(Exception):
    def __init__(self, numerator: Decimal | int) -> None:
        self.numerator = numerator


def _input(key: str, raw: object, pos: int) -> Value:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, float):
        return Decimal(repr(raw))  # spec §4.2: a spreadsheet float enters as Decimal(repr(f))
    if isinstance(raw, Decimal | int | dt.date) and not isinstance(raw, bool):
        return raw
    raise ExprError(f"字段“{key}”的值“{raw}”不是数字或日期", pos)


class _Evaluator:
    def __init__(self, values: Mapping[str, object], deadline: dt.date | None) -> None:
        self.values, self.deadline = values, deadline
        self.negative: list[tuple[str, str, int]] = []

    def number(self, node: Expr) -> Decimal | int:
        got = self.run(node)
        if isinstance(got, dt.date):
            raise ExprError(f"日期“{node}”不能直接加减乘除；请用 DAYS 或 DAYS_LATE", node.pos)
        return got

    def date(self, node: Expr) -> dt.date:
        got = self.run(node)
        if not isinstance(got, dt.date):
            raise ExprError(f"“{node}”不是日期", node.pos)
        return got

    def run(self, node: Expr) -> Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Field):
            return _input(node.key, self.values[node.key], node.pos)
        if isinstance(node, Group):
            return self.run(node.inner)
        if isinstance(node, Neg):
            return -self.number(node.operand)
        if isinstance(node, Binary):
            a, b = self.number(node.left), self.number(node.right)
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            if b == 0:
                raise _ZeroDivision(a)
            return Decimal(a) / Decimal(b)  # the current context, as the scorer's own divisions
        assert isinstance(node, Call)
        if node.name == "DAYS":
            start, end = node.args
            days = (self.date(end) - self.date(start)).days
            if days < 0:
                self.negative.append((str(start), str(end), days))
            return days
        if node.name == "DAYS_LATE":
            if self.deadline is None:
                raise ExprError("DAYS_LATE 需要报送截止日期，表单的“设置”中没有给出", node.pos)
            return max(0, (self.date(node.args[0]) - self.deadline).days)
        args = [self.number(a) for a in node.args]
        if node.name == "ABS":
            return abs(args[0])
        if node.name == "SUM":
            return sum(args[1:], args[0])
        return min(args) if node.name == "MIN" else max(args)


def evaluate(expr: Expr, values: Mapping[str, object], deadline: dt.date | None = None) -> Result:
    """Evaluate in Decimal; `values` maps every field key named to its value, None when blank."""
    keys = expr.fields()
    for key in keys:
        if key not in values:
            pos = next(n.pos for n in walk(expr) if isinstance(n, Field) and n.key == key)
            raise ExprError(f"没有字段“{key}”的值", pos)
    blank = tuple(k for k in keys if values[k] is None)
    if blank:
        return Result("blank", blank=blank, all_blank=len(blank) == len(keys))
    ev = _Evaluator(values, deadline)
    try:
        value = ev.run(expr)
    except _ZeroDivision as z:
        status = "zero-over-zero" if z.numerator == 0 else "zero-denominator"
        return Result(status, numerator=z.numerator, denominator=0, negative_days=tuple(ev.negative))
    return Result("ok", value, negative_days=tuple(ev.negative))


def tolerance_for(cond: Condition, types: Mapping[str, str]) -> Decimal:
    """The tolerance spec §12 gives a condition: 0.01 when it names a money field, else exact."""
    return MONEY_TOLERANCE if any(types.get(k) in ("money", "金额") for k in cond.fields()) else Decimal(0)


def evaluate_condition(cond: Condition, values: Mapping[str, object], deadline: dt.date | None = None,
                       tolerance: Decimal = Decimal(0)) -> Verdict:
    """Evaluate a 校验 condition; numbers within `tolerance` count as equal, dates compare exactly.

    The tolerance always favours the unit: `=` holds when |l − r| ≤ tol, `<=` when l ≤ r + tol,
    `<` when l < r + tol, `>=` when l ≥ r − tol, `>` when l > r − tol.
    """
    sides = (evaluate(cond.left, values, deadline), evaluate(cond.right, values, deadline))
    blank = tuple(dict.fromkeys(sides[0].blank + sides[1].blank))
    stopped = next((s for s in sides if s.status != "ok"), None)
    if stopped is not None:
        return Verdict(None, "blank" if blank else stopped.status, sides[0].value, sides[1].value, None, blank, sides)
    left, right = sides[0].value, sides[1].value
    if isinstance(left, dt.date) != isinstance(right, dt.date):
        raise ExprError("日期只能与日期比较；要比较天数请用 DAYS(开始日期, 结束日期)", cond.pos)
    if isinstance(left, dt.date):
        diff: Decimal | int = (left - right).days  # type: ignore[operator]
        tol: Decimal | int = 0
    else:
        diff, tol = left - right, tolerance  # type: ignore[operator]
    holds = {"=": abs(diff) <= tol, "<=": diff <= tol, "<": diff < tol, ">=": diff >= -tol, ">": diff > -tol}[cond.op]
    return Verdict(holds, "ok", left, right, diff, (), sides)
