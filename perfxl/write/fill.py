"""Fill a perfxl workbook through its defined names, as another program would.

Used by the sample generator and the tests; bureaus can use it to script test returns.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl


def fill_workbook(template: Path, values: dict[str, object], out: Path) -> None:
    """Copy `template` to `out`, writing each value into the cell its defined name points at.

    Decimals are written as numbers, dates as dates; a name the workbook lacks is an error.
    """
    wb = openpyxl.load_workbook(template)
    for name, value in values.items():
        if name not in wb.defined_names:
            raise KeyError(f"no defined name {name!r} in {template}")
        for sheet, ref in wb.defined_names[name].destinations:
            cell = wb[sheet][ref.replace("$", "")]
            if isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time())
            cell.value = value
    wb.save(out)
