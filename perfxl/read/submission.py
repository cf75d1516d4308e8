"""Which of a batch's forms reads a workbook (spec §12: each file by the form its `_meta` names).

A batch may hold several forms (`--form` repeated). The workbook is opened once; its `_meta`
names the form; a file naming none of the batch's forms is read by the first (and gets
`template-mismatch` from the checks). A file without `_meta` is read by the first department
form, unless it has no 基础数据表 but project sheets and the batch has the project form.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfxl.model import BASIC_SHEET, META_SHEET, Submission
from perfxl.read.workbook import Reader, open_book


def _is_project(form) -> bool:
    return getattr(form, "kind", "部门整体") == "项目支出"


def meta_form_id(book) -> str | None:
    """`rubric_id` of the workbook's `_meta` sheet, None without one."""
    grid = book.grids.get(META_SHEET)
    if grid is None:
        return None
    for (r, c), v in grid.cells.items():
        if c == 0 and isinstance(v, str) and v.strip() == "rubric_id":
            value = grid.get((r, 1))
            return value.strip() if isinstance(value, str) else None
    return None


def _looks_like_projects(book) -> bool:
    """No 基础数据表, and a sheet holding the label 项目名称 (a project sheet whose `_meta` was lost)."""
    if BASIC_SHEET in book.grids:
        return False
    return any(isinstance(v, str) and v.strip().rstrip("：:") == "项目名称"
               for grid in book.grids.values() for v in grid.cells.values())


def choose_form(book, forms: Sequence):
    """The batch's form that reads this workbook."""
    named = meta_form_id(book)
    for form in forms:
        if form.id == named:
            return form
    if named is None:
        project = next((f for f in forms if _is_project(f)), None)
        if project is not None and _looks_like_projects(book):
            return project
        return next((f for f in forms if not _is_project(f)), forms[0])
    return forms[0]


def read_with_forms(data: bytes, fmt: str, forms: Sequence, file: str, max_rows: int | None = None,
                    parts: dict[str, bytes] | None = None) -> tuple[Submission, str | None, object]:
    """Open one workbook, choose its form and read it: (Submission, package modified time, form)."""
    book = open_book(data, fmt, max_rows, parts)
    form = choose_form(book, forms)
    if _is_project(form):
        from perfxl.read.project import read_projects

        sub = read_projects(book, form, file)
    else:
        sub = Reader(book, form, file).read()
    return sub, book.package.modified if book.package else None, form
