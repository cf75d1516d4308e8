"""A project workbook (spec §13) -> `Submission` with one `ProjectSheet` per project sheet.

Project sheets are the visible sheets holding `project_name` (its sheet-scoped defined name, else
the label 项目名称), in workbook order; an untouched copy of the template sheet (every input blank)
is a spare, not a project. On each sheet the fields are read as the department reader reads them
(defined names first, the sheet's own; else labels, and for the funds grid and the 预算执行率 row the
row and column texts of the form's `place`). The indicator table starts below `ind_header` (or the
row holding its header texts), its columns are found by header text, its rows are the rows with a
三级指标 up to 自评总分; a blank 一级/二级 continues the one above. Row cells keep what was written
(scores and values are judged by review.project, which knows the form).
"""

from __future__ import annotations

from functools import lru_cache

from perfxl.model import META_SHEET, FieldValue, ProjectRow, ProjectSheet, Submission
from perfxl.ooxml.refs import a1
from perfxl.read import values
from perfxl.read.replies import read_replies
from perfxl.read.values import label_key
from perfxl.read.workbook import (
    GRADE_LABELS,
    TOTAL_LABELS,
    Grid,
    Reader,
    _Book,
    header_columns,
    header_key,
    text_keys,
)
from perfxl.spec.fields import Field
from perfxl.spec.project import SCORE_TYPE, Place, ProjectForm

#: columns whose absence from the header row is a finding (the scorer cannot do without them)
NEEDED_COLUMNS = ("name", "target", "actual", "weight", "self_score")
TEXT_COLUMNS = ("level1", "level2", "name", "direction", "unit", "reason")
#: how far above a funds row its column headers may be
HEADER_REACH = 4


@lru_cache(maxsize=16)
def _column_keys(columns: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, set[str]]:
    """A form's indicator-table columns: key -> header keys (the same for every sheet; only read)."""
    return {key: {header_key(t) for t in texts} for key, texts in columns}


class ProjectReader(Reader):
    """Reads every project sheet of one opened workbook; names are looked up per sheet."""

    def __init__(self, book: _Book, form: ProjectForm, file: str) -> None:
        super().__init__(book, form, file)  # type: ignore[arg-type]
        self.form = form
        pkg = book.package
        self.local = pkg.local_names if pkg else {}
        self.global_names = dict(self.names)

    def use_sheet(self, sheet: str) -> None:
        """Names for reading `sheet`: its own sheet-scoped ones, then workbook-scoped ones into it."""
        own = {k: v for k, v in self.global_names.items() if v[0] == sheet}
        own.update(self.local.get(sheet, {}))
        self.names = own

    # -- which sheets ----------------------------------------------------------------------

    def project_sheets(self) -> list[str]:
        f = self.form.fields["project_name"]
        labels = {label_key(t) for t in (f.label, *f.aliases)}
        found = []
        for name in self.book.order:
            if name == META_SHEET or name not in self.book.grids:
                continue
            if "project_name" in self.local.get(name, {}) or labels & self.book.grids[name].labels().keys():
                if name in self.book.hidden:  # §13: visible sheets only; §11: nothing silent
                    self.finding("sheet-hidden", f"工作表「{name}」是隐藏的项目表，未作为项目审核；如需审核，"
                                 "请在 Excel/WPS 中取消隐藏后重新报送", name)
                    continue
                found.append(name)
        return found

    # -- fields ----------------------------------------------------------------------------

    def _label_cell(self, f: Field, grid: Grid | None, labels: dict,
                    record: bool = True) -> tuple[tuple[int, int] | None, bool]:
        place = self.form.place(f.key)
        if place is None or grid is None:
            return super()._label_cell(f, grid, labels, record)
        return self.placed(place, grid, labels), False

    @staticmethod
    def placed(place: Place, grid: Grid, labels: dict) -> tuple[int, int] | None:
        """The cell a field's `place` names: in the row labelled `row`, under the column headed
        `column` (within a few rows above) or right of `label`."""
        starts = sorted(rc for t in place.row for rc in labels.get(label_key(t), ()))
        if not starts:
            return None
        r, c0 = starts[0]
        if place.column:
            wanted = text_keys(place.column)
            for above in range(r - 1, max(r - 1 - HEADER_REACH, -1), -1):
                cols = [c for c, v in grid.row(above) if c > c0 and label_key(v) in wanted]  # left to right
                if cols:
                    return r, cols[0]
            return None
        wanted = text_keys(place.label)
        cols = [c for c, v in grid.row(r) if c > c0 and label_key(v) in wanted]
        return grid.right_of((r, cols[0])) if cols else None

    def read_sheet_fields(self, grid: Grid) -> dict[str, FieldValue]:
        labels = grid.labels()
        out = {}
        for f in self.form.fields.values():
            fv = self.read_field(f, grid, labels)
            if f.type == SCORE_TYPE and not fv.error:  # a 分值 or 自评得分: left as typed for the checks
                fv.value = fv.raw
            out[f.key] = fv
        out["score_total"] = self.read_labelled(grid, "score_total", TOTAL_LABELS, "自评总分")
        out["grade_self"] = self.read_labelled(grid, "grade_self", GRADE_LABELS, "自评等级")
        return out

    # -- the indicator table ---------------------------------------------------------------

    def header(self, grid: Grid) -> tuple[int, dict[str, int]] | None:
        """(row, column by key) of the indicator table's header row."""
        wanted = _column_keys(self.form.columns)
        named = self.named_cell("ind_header")
        rows = [named[1][0]] if named and named[0] == grid.name else []
        if not rows:  # the row holding a 三级指标 header beside a 分值 or 自评得分 one
            scores = wanted["weight"] | wanted["self_score"]
            for (r, _), v in grid.ordered():
                if header_key(v) in wanted["name"] and any(header_key(w) in scores for _, w in grid.row(r)):
                    rows = [r]
                    break
        if not rows:
            return None
        r = rows[0]
        return r, header_columns(grid, r, wanted)

    def end_row(self, grid: Grid, after: int, fields: dict[str, FieldValue]) -> int:
        """The row of 自评总分 (the table ends above it), else past the sheet's last row."""
        total = fields.get("score_total")
        if total is not None and total.cell and total.sheet == grid.name:
            row = int("".join(ch for ch in total.cell if ch.isdigit())) - 1
            if row > after:
                return row
        return max((r for r, _ in grid.cells), default=after) + 1

    def read_rows(self, grid: Grid, fields: dict[str, FieldValue]) -> list[ProjectRow]:
        header = self.header(grid)
        sheet = grid.name
        if header is None:
            heads = "、".join(self.form.headers(k)[0] for k in ("level1", "level2", "name", "weight", "self_score"))
            self.finding("missing-value", f"{sheet} 中未找到绩效指标表的表头（{heads}…），请按模板恢复该表", sheet)
            return []
        top, cols = header
        for key in NEEDED_COLUMNS:
            if key not in cols:
                self.finding("missing-value", f"{sheet} 第 {top + 1} 行的绩效指标表表头中未找到“{self.form.headers(key)[0]}”列，"
                             "请按模板恢复该列的标题", sheet, a1(top, 0))
        rows: list[ProjectRow] = []
        above: dict[str, object] = {"level1": None, "level2": None}
        for r in range(top + 1, self.end_row(grid, top, fields)):
            own = {k: grid.get((r, c)) for k, c in cols.items() if k in above}
            if own.get("level1") is not None and not values.is_blank(own["level1"]):
                above = {"level1": None, "level2": None}  # a new 一级 starts its own 二级
            for k in above:
                if own.get(k) is not None and not values.is_blank(own[k]):
                    above[k] = own[k]
            name_at = cols.get("name")
            if name_at is None or values.is_blank(grid.get((r, name_at))):
                continue
            rows.append(self.read_row(grid, r, cols, above))
        return rows

    def read_row(self, grid: Grid, r: int, cols: dict[str, int], above: dict[str, object]) -> ProjectRow:
        row = ProjectRow(r + 1)
        sheet, formulas = grid.name, self.formulas(grid.name)
        for key, _ in self.form.columns:
            c = cols.get(key)
            if c is None:
                row.cells[key] = FieldValue(key, sheet=sheet)
                continue
            ref = a1(r, c)
            if ref in formulas:  # cell_value says what is wrong with a formula
                raw, ok = self.cell_value(sheet, ref, (r, c), f"第 {r + 1} 行{self.form.headers(key)[0]}")
            else:  # cell_value's own answer for a cell without a formula
                raw, ok = grid.cells.get((r, c)), True
            fv = FieldValue(key, raw=raw, sheet=sheet, cell=ref, error=not ok)
            if ok:
                fv.value = self.cell_meaning(key, raw, above)
            row.cells[key] = fv
        return row

    def cell_meaning(self, key: str, raw: object, above: dict[str, object]) -> object:
        """What a row cell says: text stripped (a number as its digits), 一级/二级 continued from
        above, 指标性质 as its symbol when understood; 分值 and 自评得分 as typed."""
        if key in above:
            raw = above[key]
        if key in ("weight", "self_score"):
            return raw
        text = values.parse_text(raw).value
        if key == "direction" and text is not None:
            return self.form.direction_of(text) or text
        return text

    # -- whole file ------------------------------------------------------------------------

    def blank_sheet(self, sheet: ProjectSheet) -> bool:
        """Every input of the sheet blank: a spare copy of the template sheet, not a project."""
        prefilled = ("unit_name", "unit_code", "department", "eval_year")  # a pre-filled copy carries these
        if any(not fv.blank for k, fv in sheet.fields.items() if k not in prefilled and k != "exec_weight"):
            return False
        return not sheet.rows

    def read(self) -> Submission:
        self.read_meta()
        spare: tuple[ProjectSheet, list] | None = None
        for name in self.project_sheets():
            self.use_sheet(name)
            grid = self.book.grids[name]
            before = len(self.sub.findings)
            fields = self.read_sheet_fields(grid)
            sheet = ProjectSheet(name, fields, self.read_rows(grid, fields))
            if self.blank_sheet(sheet):
                if spare is None:
                    spare = (sheet, self.sub.findings[before:])
                del self.sub.findings[before:]
                continue
            self.sub.projects.append(sheet)
        if not self.sub.projects and spare is not None:  # the issued template sent back unfilled: say
            self.sub.projects.append(spare[0])  # what is missing on it rather than "not our template"
            self.sub.findings += spare[1]
        self.names = self.global_names
        if self.sub.projects:
            first = self.sub.projects[0]
            self.sub.fields = {k: fv for k, fv in first.fields.items() if k in self.form.fields}
            self.sub.basic_sheet = first.sheet
        self.sub.replies = read_replies(self.book.grids)
        return self.sub


def read_projects(book: _Book, form: ProjectForm, file: str) -> Submission:
    """Read every project sheet of an opened workbook (perfxl.read.workbook.open_book)."""
    return ProjectReader(book, form, file).read()
