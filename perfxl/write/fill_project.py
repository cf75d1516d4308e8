"""Fill a project workbook (spec §13) as a unit would: copy 项目1 once per further project, as
Excel's and WPS's 移动或复制 do (with its sheet-scoped names, validations, protection and print
setup), then write each project's fields through its sheet's names and its indicator rows below
`ind_header`. Used by the sample generator and the tests; openpyxl's own copy_worksheet copies
neither names nor validations, and its insert_rows moves neither names nor merged cells, so the
Excel behaviour is done here.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
from openpyxl.utils import quote_sheetname
from openpyxl.workbook.defined_name import DefinedName

from perfxl.model import META_SHEET
from perfxl.spec.project import ProjectForm

SOURCE_SHEET = "项目1"


def _cell_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def copy_project_sheet(wb, source: str, title: str):
    """Copy sheet `source` to a new sheet `title`, placed before `_meta`, as Excel copies a sheet:
    its sheet-scoped names now scoped to (and pointing into) the copy."""
    src = wb[source]
    ws = wb.copy_worksheet(src)
    ws.title = title
    for dv in src.data_validations.dataValidation:
        ws.add_data_validation(copy.deepcopy(dv))
    ws.protection = copy.copy(src.protection)
    ws.print_title_rows = src.print_title_rows
    if src.print_area:
        ws.print_area = src.print_area.split("!")[-1]
    for name, dn in src.defined_names.items():
        ref = dn.attr_text.split("!")[-1]
        ws.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(title)}!{ref}")
    if META_SHEET in wb.sheetnames:
        wb.move_sheet(ws, offset=wb.sheetnames.index(META_SHEET) - wb.sheetnames.index(title))
    return ws


def _shift_ref(ref: str, at: int, amount: int) -> str:
    """`$A$30` moved down by `amount` when its row is at or below row `at` (1-based)."""
    m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", ref)
    if m is None:
        return ref
    row = int(m[2])
    return f"${m[1]}${row + amount if row >= at else row}"


def insert_rows(ws, at: int, amount: int = 1) -> None:
    """Insert rows before row `at` (1-based) as Excel does: the sheet's names, merged cells and
    validations below move with their cells (formulas are left as they are: perfxl reads none)."""
    ws.insert_rows(at, amount)
    for rng in ws.merged_cells.ranges:
        if rng.min_row >= at:
            rng.shift(row_shift=amount)
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            if rng.min_row >= at:
                rng.shift(row_shift=amount)
            elif rng.max_row >= at:
                rng.expand(down=amount)
    for dn in ws.defined_names.values():
        sheet, _, ref = dn.attr_text.rpartition("!")
        if ":" not in ref:
            dn.attr_text = f"{sheet}!{_shift_ref(ref, at, amount)}"


def named_cell(ws, name: str):
    """The cell a sheet-scoped name of `ws` points at."""
    (_, ref), = ws.defined_names[name].destinations
    return ws[ref.replace("$", "")]


def write_project(ws, form: ProjectForm, project: dict[str, object]) -> None:
    """Write one project into its sheet: each field key through the sheet's name, and
    `project["rows"]` (dicts by column key, model.PROJECT_COLUMNS) from the row below ind_header,
    each column found by its header text."""
    header = named_cell(ws, "ind_header")
    wanted = {key: texts[0] for key, texts in form.columns}
    cols = {}
    for cell in ws[header.row]:
        for key, text in wanted.items():
            if cell.value == text:
                cols[key] = cell.column
    for key, value in project.items():
        if key == "rows":
            continue
        if key not in ws.defined_names:
            raise KeyError(f"no defined name {key!r} on sheet {ws.title}")
        named_cell(ws, key).value = _cell_value(value)
    for i, row in enumerate(project.get("rows", ())):  # type: ignore[arg-type]
        for key, value in row.items():
            ws.cell(header.row + 1 + i, cols[key]).value = _cell_value(value)


def fill_projects(template: Path, form: ProjectForm, projects: list[dict[str, object]], out: Path,
                  titles: list[str] | None = None) -> None:
    """Copy `template` to `out` with one sheet per project (项目1, then copies 项目2 … or `titles`)."""
    wb = openpyxl.load_workbook(template)
    titles = titles or [f"项目{n}" for n in range(1, len(projects) + 1)]
    if titles[0] != SOURCE_SHEET:
        wb[SOURCE_SHEET].title = titles[0]
        for dn in wb[titles[0]].defined_names.values():
            dn.attr_text = f"{quote_sheetname(titles[0])}!{dn.attr_text.split('!')[-1]}"
    for title in titles[1: len(projects)]:
        copy_project_sheet(wb, titles[0], title)  # every copy made before any is filled, as from a blank sheet
    for title, project in zip(titles, projects, strict=False):
        write_project(wb[title], form, project)
    wb.save(out)
