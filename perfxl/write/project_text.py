"""How a project's figures read in every output (spec §13): a 年度指标值 or 实际完成值 as the unit
wrote it, with its 计量单位 when it wrote a bare number; a number on a percent row as the percentage
perfxl scored (a 97 % cell holds 0.97); money as the reader left it, parsed when it is text.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from perfxl.model import ProjectIndicatorResult, ProjectResult
from perfxl.read import values
from perfxl.review.project_values import is_percent_unit, parse_money_cell, parse_quantity, percent_text

#: a written value that is only a number (after a comparison sign): its 计量单位 is added to it
_BARE = re.compile(r"^[≥≤<>=＞＜＝≧≦约]*\s*[-−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)$")
#: a written value that is a plain number
_NUMBER = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def percent_row(ind: ProjectIndicatorResult) -> bool:
    """Whether the row's values are percentages (written with %, or its 计量单位 is %), as scored."""
    return parse_quantity(ind.target).percent or parse_quantity(ind.actual).percent or is_percent_unit(ind.unit)


def cell_value(ind: ProjectIndicatorResult, which: str) -> tuple[object, str | None]:
    """A row's `target` or `actual` for a spreadsheet cell, and its number format: text as written;
    a number on a percent row as the fraction scored ("rate"); another number as written."""
    raw, scaled = getattr(ind, which), getattr(ind, f"{which}_value")
    if raw is None:
        return None, None
    if isinstance(raw, str) and _NUMBER.match(raw.strip()):  # a number kept as text: a number
        raw = Decimal(raw.strip().replace(",", ""))
    if isinstance(raw, Decimal | int | float) and not isinstance(raw, bool):
        if scaled is not None and percent_row(ind):
            return scaled, "rate"
        return raw, None
    if isinstance(raw, dt.date):
        return values.show(raw), None
    return " ".join(str(raw).split()), None


def value_text(ind: ProjectIndicatorResult, which: str) -> str | None:
    """A row's `target` or `actual` as a report prints it: `≥95%`, `3个`, `按期完成`, `97.00%`."""
    value, fmt = cell_value(ind, which)
    if value is None:
        return None
    if fmt == "rate":
        return percent_text(value)  # type: ignore[arg-type]
    unit = " ".join(str(ind.unit).split()) if ind.unit else ""
    if isinstance(value, str):
        return value + unit if unit and _BARE.match(value) else value
    return (values.format_number(value) if isinstance(value, Decimal) else values.show(value)) + unit


def money(value: object) -> Decimal | None:
    """An amount in 万元 as read (Decimal), or parsed from the text the reader left; None if none."""
    if isinstance(value, bool) or value is None:
        return None
    parsed = parse_money_cell(value)
    return parsed.value if parsed.problem is None and isinstance(parsed.value, Decimal) else None


def rate(spent: Decimal | None, budget: Decimal | None) -> Decimal | None:
    """执行率 = 全年执行数 / 全年预算数; None when either is unknown or the budget is 0."""
    if spent is None or budget is None or budget == 0:
        return None
    return spent / budget


def fiscal(project: ProjectResult) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """其中：财政拨款 — (年初预算数, 全年预算数, 全年执行数)."""
    f = project.fields
    return money(f.get("budget_initial_fiscal")), money(f.get("budget_annual_fiscal")), money(f.get("spent_fiscal"))
