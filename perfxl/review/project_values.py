"""Values of a project sheet's indicator table as people write them (spec §13): `100%`, `≥95%`,
`3个`, `≤ 5万元`, `按期完成`; and a score cell read whatever the reader left in it.

`parse_quantity` reads the one number of a 年度指标值 or 实际完成值 (after an optional comparison
word, before an optional percent sign and unit); text with no number, two numbers or a number
inside words (`完成率95%`) or a deadline (`12月底前`) has none. `on_scale` brings both sides of a row to one scale: a percent
as a fraction on both sides.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from perfxl.read import values
from perfxl.read.values import MAX_NUMBER, Parsed

#: what a unit writes before the number (longest first, so 大于等于 is not read as 大于)
_PREFIXES = tuple(sorted(
    ("≥", "≤", ">=", "<=", "=>", "=<", "==", "=", ">", "<", "≧", "≦", "≈", "~", "约", "大于等于", "小于等于", "不低于",
     "不少于", "不小于", "不高于", "不超过", "不大于", "大于", "小于", "高于", "低于", "超过", "达到", "等于", "至少", "至多",
     "最多", "最少", "控制在"), key=len, reverse=True))
#: the first of _PREFIXES a text starts with (alternatives are tried in order, as a loop over them would)
_PREFIX = re.compile("|".join(map(re.escape, _PREFIXES)))
_QUANTITY = re.compile(r"^(?P<neg>[-−])?(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?P<pct>[%‰])?(?P<unit>\D*)$")
#: a unit after the number: short, and not a deadline (`12月底前`, `6月前`); 以上/以下/以内/左右 may follow
_UNIT = re.compile(r"^[^\d前后底]{0,4}?(?:以上|以下|以内|左右)?$")
#: a 计量单位 that says the numbers are percentages
PERCENT_UNITS = frozenset({"%", "百分比", "百分率"})


@dataclass(frozen=True)
class Quantity:
    """The number of a written value, as written (95 for `95%`), and whether it was a percent
    (`per` 100) or a per-mille (`per` 1000); `number` None when the value has none."""

    number: Decimal | None = None
    per: int = 1
    blank: bool = False
    too_big: bool = False

    @property
    def percent(self) -> bool:
        return self.per != 1


def parse_quantity(raw: object) -> Quantity:
    """The number in a 年度指标值 / 实际完成值 cell (see the module docstring)."""
    if values.is_blank(raw):
        return Quantity(blank=True)
    if isinstance(raw, bool | dt.date):
        return Quantity()
    if isinstance(raw, Decimal | int | float):
        try:
            number = raw if isinstance(raw, Decimal) else Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        except InvalidOperation:
            return Quantity()
        if not number.is_finite():
            return Quantity()
        return Quantity(number, too_big=abs(number) > MAX_NUMBER)
    text = values.fold(str(raw))
    prefix = _PREFIX.match(text)
    if prefix:
        text = text[prefix.end():]
    m = _QUANTITY.match(text)
    if m is None or not _UNIT.match(m["unit"]):
        return Quantity()
    number = Decimal(m["num"].replace(",", ""))
    if m["neg"]:
        number = -number
    per = {"%": 100, "‰": 1000}.get(m["pct"] or "", 1)
    return Quantity(number, per, too_big=abs(number) > MAX_NUMBER)


def is_percent_unit(unit: object) -> bool:
    """A 计量单位 of `%` (or 百分比) says both values are percentages."""
    return isinstance(unit, str) and values.fold(unit) in PERCENT_UNITS


def _readings(q: Quantity, percent_row: bool) -> tuple[Decimal, ...]:
    """What a value may mean on the row's scale, the usual reading first."""
    assert q.number is not None
    if q.per != 1:
        return (q.number / q.per,)
    if not percent_row:
        return (q.number,)
    usual, other = (q.number / 100, q.number) if abs(q.number) > 1 else (q.number, q.number / 100)
    return (usual, other)


def on_scale(target: Quantity, actual: Quantity, percent_row: bool) -> tuple[Decimal, Decimal]:
    """Both values of a row on one scale. Off a percent row the numbers are as written. On a percent
    row (either side written with % or the unit `%`) both are fractions: `95%` is 0.95; a plain
    number may be a percentage typed without its sign (95) or a percent-formatted cell (0.97, or
    1.2 for 120 %), so of its two readings (x, x/100) the pair whose ratio is nearest 1 is taken —
    the scores compare ratios, and 0.97 against 95 % means 97 %, 1.2 against 1.5 % means 1.2 %.
    Equally near (both plain: the ratio is the same), the usual reading: above 1 a percentage."""
    pairs = [(t, a) for t in _readings(target, percent_row) for a in _readings(actual, percent_row)]
    if any(v <= 0 for pair in pairs[:1] for v in pair):  # no ratio to compare: the usual reading
        return pairs[0]
    return min(pairs, key=lambda p: abs((p[1] / p[0]).ln()) if p[0] > 0 and p[1] > 0 else Decimal("Infinity"))


def parse_score_cell(raw: object) -> Parsed:
    """A 分值 or 自评得分 as the reader left it: a Decimal kept, else read as typed (`8`, `8分`)."""
    if isinstance(raw, Decimal):
        return Parsed(raw) if raw.is_finite() else Parsed(problem=("type-error", f"“{raw}”不是分数"))
    return values.parse_score(raw)


def parse_money_cell(raw: object) -> Parsed:
    """An amount in 万元 as the reader left it: a Decimal kept (the reader has judged it), else parsed."""
    if isinstance(raw, Decimal):
        return Parsed(raw)
    return values.parse_money(raw)


def shown(raw: object) -> str:
    """A written value quoted back to the clerk."""
    if isinstance(raw, Decimal):
        return values.format_number(raw)
    return values.show(raw)


def percent_text(fraction: Decimal) -> str:
    """A fraction as the template shows a rate: 96.50%."""
    return f"{values.round_half_up(fraction * 100):.2f}%"
