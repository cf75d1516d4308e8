"""One returned workbook -> `Submission` (spec §3): values with their sheet and cell.

Values come from python-calamine; for OOXML the defined names, date system and formula cells
come from the package XML. Cells are located by defined name first, then by label, so a unit
that inserted rows, or pasted the data into a fresh workbook, is still read correctly.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import python_calamine

from perfxl.findings import Finding
from perfxl.model import (
    BASIC_SHEET,
    META_SHEET,
    SCORE_SHEET,
    FieldValue,
    ScoreRow,
    Submission,
)
from perfxl.ooxml.refs import a1, parse_a1
from perfxl.read import values
from perfxl.read.odf import merged_ranges
from perfxl.read.package import Package, read_package
from perfxl.read.replies import read_replies
from perfxl.read.values import MAX_LABEL, _label_key, label_key
from perfxl.spec.fields import Field
from perfxl.spec.rubric import Rubric

#: trailing parenthesised units dropped from labels before matching (spec §3)

SCORE_COLUMNS = {
    "code": ("指标编码", "编码", "指标代码", "代码"),
    "level1": ("一级指标",),
    "level2": ("二级指标",),
    "name": ("三级指标", "指标名称"),
    "weight": ("分值", "权重", "标准分值", "标准分"),
    "criteria": ("评分标准", "评分说明"),
    "value": ("指标值", "实际值"),
    "score": ("自评得分", "自评分", "得分"),
    "note": ("自评说明", "扣分原因", "说明", "备注", "佐证材料"),
}
TOTAL_LABELS = ("自评总分", "总分", "自评总得分", "合计得分")
GRADE_LABELS = ("自评等级", "等级", "评价等级")


@lru_cache(maxsize=1)
def _score_columns() -> dict[str, set[str]]:
    """SCORE_COLUMNS as label keys (the same for every file; callers only read it)."""
    return {role: {label_key(a) for a in aliases} for role, aliases in SCORE_COLUMNS.items()}


def header_key(text: object) -> str:
    """A column header without any trailing parenthesised remark."""
    if not isinstance(text, str) or len(text) > MAX_LABEL:
        return ""  # as label_key
    return _header_key(text)


@lru_cache(maxsize=8192)
def _header_key(text: str) -> str:
    key = label_key(text)
    if key.endswith(")") and "(" in key:
        key = key[: key.rindex("(")]
    return key


@dataclass
class Grid:
    """The non-empty cells of one sheet by 0-based (row, col), with merged ranges."""

    name: str
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    merged: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    #: what `ordered` and `labels` computed (the cells do not change once read)
    _ordered: list[tuple[tuple[int, int], object]] | None = field(default=None, init=False, repr=False, compare=False)
    _labels: dict[str, list[tuple[int, int]]] | None = field(default=None, init=False, repr=False, compare=False)
    _rows: dict[int, list[tuple[int, object]]] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_calamine(cls, sheet: python_calamine.CalamineSheet, max_rows: int | None = None) -> Grid:
        grid = cls(sheet.name)
        r0, c0 = sheet.start or (0, 0)
        grid.cells = {(r0 + i, c0 + j): v for i, row in enumerate(sheet.to_python(nrows=max_rows))
                      for j, v in enumerate(row) if v is not None and v != ""}
        grid._ordered = list(grid.cells.items())  # inserted row by row, left to right: sorted already
        for (ra, ca), (rb, cb) in sheet.merged_cell_ranges or ():
            grid.merged[(ra, ca)] = (rb, cb)
        return grid

    def ordered(self) -> list[tuple[tuple[int, int], object]]:
        """The cells in (row, column) order, sorted once."""
        if self._ordered is None:
            self._ordered = sorted(self.cells.items())
        return self._ordered

    def row(self, r: int) -> list[tuple[int, object]]:
        """(column, value) of the non-empty cells of row `r`, left to right (indexed once)."""
        if self._rows is None:
            rows: dict[int, list[tuple[int, object]]] = {}
            for (rr, c), v in self.ordered():
                rows.setdefault(rr, []).append((c, v))
            self._rows = rows
        return self._rows.get(r, [])

    def get(self, rc: tuple[int, int]) -> object:
        return self.cells.get(rc)

    def right_of(self, rc: tuple[int, int]) -> tuple[int, int]:
        """The first cell to the right of a (possibly merged) cell."""
        end = self.merged.get(rc, rc)
        return rc[0], end[1] + 1

    def labels(self) -> dict[str, list[tuple[int, int]]]:
        """Label key -> the cells holding it, in order (computed once; callers only read it)."""
        if self._labels is None:
            out: dict[str, list[tuple[int, int]]] = {}
            for rc, v in self.ordered():
                key = _label_key(v) if isinstance(v, str) and len(v) <= MAX_LABEL else ""  # label_key, inlined
                if key:
                    out.setdefault(key, []).append(rc)
            self._labels = out
        return self._labels


def header_columns(grid: Grid, row: int, wanted: Mapping[str, set[str]]) -> dict[str, int]:
    """The column of each role whose header text (header_key) stands in `row`; the first one wins."""
    cols: dict[str, int] = {}
    for (r, c), v in grid.ordered():
        if r != row:
            continue
        key = header_key(v)
        for role, keys in wanted.items():
            if key in keys and role not in cols:
                cols[role] = c
                break
    return cols


@lru_cache(maxsize=1024)
def label_keys(label: str, aliases: tuple[str, ...]) -> tuple[str, ...]:
    """The label keys a field is found by (its label's, then its aliases'), each once."""
    return tuple(dict.fromkeys(label_key(t) for t in (label, *aliases)))


@lru_cache(maxsize=64)
def text_keys(texts: tuple[str, ...]) -> frozenset[str]:
    """The label keys of some texts (TOTAL_LABELS …)."""
    return frozenset(label_key(t) for t in texts)


def _field_keys(spec: Mapping[str, Field]) -> dict[str, str]:
    """Normalised label or alias -> field key, over the form's fields."""
    out: dict[str, str] = {}
    for f in spec.values():
        for text in (f.label, *f.aliases):
            out.setdefault(label_key(text), f.key)
    return out


@dataclass
class _Book:
    """An opened workbook: grids by sheet name, package facts for OOXML."""

    grids: dict[str, Grid]
    order: list[str]
    package: Package | None = None
    format: str = "xlsx"
    parts: dict[str, bytes] = field(default_factory=dict)  # parts inflated by intake
    hidden: frozenset[str] = frozenset()  # sheets hidden or very hidden (a project sheet must be visible)
    data: bytes = b""  # the file, for a part intake did not keep
    _zip: zipfile.ZipFile | None = None

    def zip(self) -> zipfile.ZipFile:
        """The OOXML package, opened on first use (intake keeps the parts usually needed)."""
        if self._zip is None:
            self._zip = zipfile.ZipFile(io.BytesIO(self.data))
        return self._zip


def open_book(data: bytes, fmt: str, max_rows: int | None = None, parts: dict[str, bytes] | None = None) -> _Book:
    """Read every sheet's values (and, for OOXML, the package facts)."""
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    grids = {}
    for name in wb.sheet_names:
        grids[name] = Grid.from_calamine(wb.get_sheet_by_name(name), max_rows)
    hidden = frozenset(m.name for m in wb.sheets_metadata if m.visible != python_calamine.SheetVisibleEnum.Visible)
    book = _Book(grids, list(wb.sheet_names), format=fmt, parts=parts or {}, hidden=hidden, data=data)
    if fmt in ("xlsx", "xlsm"):
        book.package = read_package(book.zip, book.parts)
    elif fmt == "ods":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name, ranges in merged_ranges(zf).items():
                if name in grids:
                    grids[name].merged.update({start: end for start, end in ranges})
    return book


class Reader:
    """Reads one opened workbook into a Submission, collecting findings as it goes."""

    def __init__(self, book: _Book, rubric: Rubric, file: str) -> None:
        self.book = book
        self.rubric = rubric
        self.sub = Submission(file=file, format=book.format)
        self.names = book.package.names if book.package else {}
        self._formulas: dict[str, dict[str, bool]] = {}

    # -- helpers -------------------------------------------------------------------------

    def finding(self, code: str, message: str, sheet: str | None, *cells: str, **details) -> None:
        self.sub.findings.append(Finding(code, message, sheet, tuple(c for c in cells if c), details=details))

    def formulas(self, sheet: str) -> dict[str, bool]:
        if sheet not in self._formulas:
            pkg = self.book.package
            self._formulas[sheet] = pkg.formula_cells(self.book.zip, sheet, self.book.parts) if pkg else {}
        return self._formulas[sheet]

    def cell_value(self, sheet: str, ref: str, rc: tuple[int, int], what: str) -> tuple[object, bool]:
        """The raw value of an input cell; False when it is a formula without a cached value."""
        raw = self.book.grids[sheet].get(rc)
        formula = self.formulas(sheet).get(ref)
        if formula is None:
            return raw, True
        if not formula or raw is None:
            self.finding("formula-not-calculated",
                         f"{sheet} {ref}「{what}」是公式但没有计算结果，请用 Excel/WPS 打开并保存后再报送",
                         sheet, ref)
            return None, False
        self.finding("formula-in-input",
                     f"{sheet} {ref}「{what}」是公式，按其计算结果 {values.show(raw)} 读取", sheet, ref)
        return raw, True

    def named_cell(self, name: str) -> tuple[str, tuple[int, int]] | None:
        target = self.names.get(name)
        if target is None or target[0] not in self.book.grids:
            return None
        return target[0], parse_a1(target[1])

    # -- sheets --------------------------------------------------------------------------

    def locate_sheets(self) -> None:
        grids = self.book.grids
        basic = BASIC_SHEET if BASIC_SHEET in grids else None
        if basic is None:
            keys = _field_keys(self.rubric.fields)
            counts = {n: sum(1 for k in g.labels() if k in keys) for n, g in grids.items()
                      if n != META_SHEET}
            best = max(counts, key=lambda n: counts[n], default=None)
            basic = best if best is not None and counts[best] > 0 else None
        score = SCORE_SHEET if SCORE_SHEET in grids else None
        if score is None:
            for name in self.book.order:
                if name != basic and self.header_row(grids[name]) is not None:
                    score = name
                    break
        self.sub.basic_sheet, self.sub.score_sheet = basic, score

    def read_meta(self) -> None:
        grid = self.book.grids.get(META_SHEET)
        if grid is None:
            return
        meta: dict[str, str] = {}
        for (r, c), v in grid.cells.items():
            if c == 0 and isinstance(v, str):
                val = grid.get((r, 1))
                meta[v.strip()] = values.parse_text(val).value or ""
                self.sub.meta_cells[v.strip()] = a1(r, 1)
        self.sub.meta = meta

    # -- 基础数据表 -------------------------------------------------------------------------

    def read_fields(self) -> None:
        sheet = self.sub.basic_sheet
        grid = self.book.grids[sheet] if sheet else None
        labels = grid.labels() if grid else {}
        for f in self.rubric.fields.values():
            self.sub.fields[f.key] = self.read_field(f, grid, labels)

    def _label_cell(self, f: Field, grid: Grid | None, labels: dict,
                    record: bool = True) -> tuple[tuple[int, int] | None, bool]:
        """(value cell, ambiguous) found through the field's label or aliases. A label found
        twice is `ambiguous-label` only when it is the way the field is located (`record`):
        when a defined name finds the cell, the label is only a cross-check."""
        if grid is None:
            return None, False
        hits: list[tuple[int, int]] = []
        for key in label_keys(f.label, f.aliases):
            for rc in labels.get(key, ()):
                if rc not in hits:
                    hits.append(rc)
        if len(hits) > 1:
            if not record:
                return None, True
            refs = "、".join(a1(*rc) for rc in hits)
            self.finding("ambiguous-label",
                         f"{grid.name} 中“{f.label}”出现 {len(hits)} 次（{refs}），无法确定填报位置，请删除多余的行",
                         grid.name, *(a1(*rc) for rc in hits))
            return None, True
        return (grid.right_of(hits[0]) if hits else None), False

    def read_field(self, f: Field, grid: Grid | None, labels: dict) -> FieldValue:
        named = self.named_cell(f.key)
        by_label, ambiguous = self._label_cell(f, grid, labels, record=named is None)
        if named is None and by_label is None:
            return FieldValue(f.key, error=ambiguous)
        sheet, rc = named if named else (grid.name, by_label)  # type: ignore[union-attr]
        ref = a1(*rc)
        if named and by_label and grid is not None and (grid.name, by_label) != named:
            other = grid.get(by_label)
            mine = self.book.grids[sheet].get(rc)
            if other is not None and values.show(other) != values.show(mine):
                self.finding("name-label-conflict",
                             f"「{f.label}」按名称定位在 {sheet} {ref}（{values.show(mine) if mine is not None else '空'}），"
                             f"按文字定位在 {grid.name} {a1(*by_label)}（{values.show(other)}），以名称定位的单元格为准",
                             sheet, ref, a1(*by_label))
        raw, ok = self.cell_value(sheet, ref, rc, f.label)
        fv = FieldValue(f.key, raw=raw, sheet=sheet, cell=ref, error=not ok)
        if not ok:
            return fv
        parsed = values.parse_field(f.type, raw, unit=f.unit, choices=f.choices,
                                    date1904=self.book.package.date1904 if self.book.package else False)
        if parsed.problem:
            code, text = parsed.problem
            self.finding(code, f"{sheet} {ref}「{f.label}」：{text}", sheet, ref, found=values.show(raw))
            fv.error = True
        else:
            fv.value = parsed.value
        if parsed.note:
            code, text = parsed.note
            self.finding(code, f"{sheet} {ref}「{f.label}」：{text}", sheet, ref)
        return fv

    # -- 评分表 ----------------------------------------------------------------------------

    @staticmethod
    def header_row(grid: Grid) -> tuple[int, dict[str, int]] | None:
        """(row, column by role) of the row holding a 指标编码 header."""
        wanted = _score_columns()
        for (r, _), v in grid.ordered():
            if header_key(v) in wanted["code"]:
                return r, header_columns(grid, r, wanted)
        return None

    def read_scores(self) -> None:
        sheet = self.sub.score_sheet
        grid = self.book.grids.get(sheet) if sheet else None
        header = self.header_row(grid) if grid else None
        codes = {i.code for i in self.rubric.indicators}
        by_code: dict[str, int] = {}
        cols: dict[str, int] = header[1] if header else {}
        if grid and header:
            for role, title in (("weight", "分值"), ("score", "自评得分")):
                if role not in cols:  # one finding for the column, not one per indicator
                    self.finding("missing-value", f"{grid.name} 第 {header[0] + 1} 行的表头中未找到“{title}”列，"
                                 "请按模板恢复该列的标题", grid.name, a1(header[0], 0))
            for (r, c), v in grid.ordered():
                if r > header[0] and c == cols.get("code"):
                    code = values.fold(str(v)).upper()
                    if code in codes and code not in by_code:
                        by_code[code] = r
        for ind in self.rubric.indicators:
            row = ScoreRow(ind.code)
            named = self.named_cell(f"score_{ind.code}")
            r = named[1][0] if named else by_code.get(ind.code)
            if grid is None or r is None:
                self.sub.rows[ind.code] = row
                continue
            row.row = r + 1
            if "weight" in cols:
                row.weight = self.read_cell(sheet, (r, cols["weight"]), "weight", f"{ind.code} 分值")
            score_at = named if named else ((sheet, (r, cols["score"])) if "score" in cols else None)
            if score_at:
                row.score = self.read_cell(score_at[0], score_at[1], "score", f"{ind.code} 自评得分")
            note_named = self.named_cell(f"note_{ind.code}")
            note_at = note_named if note_named else ((sheet, (r, cols["note"])) if "note" in cols else None)
            if note_at:
                row.note = self.read_cell(note_at[0], note_at[1], "note", f"{ind.code} 自评说明")
            self.sub.rows[ind.code] = row
        self.sub.self_total = self.read_labelled(grid, "score_total", TOTAL_LABELS, "自评总分")
        self.sub.self_grade = self.read_labelled(grid, "grade_self", GRADE_LABELS, "自评等级")

    def read_cell(self, sheet: str, rc: tuple[int, int], key: str, what: str) -> FieldValue:
        """A raw score-sheet cell; parsing is left to the checks, which know the rubric."""
        ref = a1(*rc)
        raw, ok = self.cell_value(sheet, ref, rc, what)
        return FieldValue(key, value=raw if ok else None, raw=raw, sheet=sheet, cell=ref, error=not ok)

    def read_labelled(self, grid: Grid | None, name: str, labels: tuple[str, ...], what: str) -> FieldValue:
        named = self.named_cell(name)
        if named:
            return self.read_cell(named[0], named[1], name, what)
        if grid is None:
            return FieldValue(name)
        keys = text_keys(labels)
        for rc, v in grid.ordered():
            if label_key(v) in keys:
                return self.read_cell(grid.name, grid.right_of(rc), name, what)
        return FieldValue(name)

    # -- whole file ----------------------------------------------------------------------

    def read(self) -> Submission:
        self.read_meta()
        self.locate_sheets()
        self.read_fields()
        self.read_scores()
        self.sub.replies = read_replies(self.book.grids)  # a returned feedback copy's 单位答复
        return self.sub


def enough_fields(sub: Submission, spec: Mapping[str, Field]) -> bool:
    """Spec §3: at least half of the required fields of the form (`rubric.fields`) were found."""
    required = [f.key for f in spec.values() if f.required]
    # a label found twice (ambiguous-label) was found: the unit must fix it, not re-template
    found = sum(1 for k in required if sub.fields.get(k) and (sub.fields[k].found or sub.fields[k].error))
    return found * 2 >= len(required)


def read_submission(data: bytes, fmt: str, rubric: Rubric, file: str, max_rows: int | None = None,
                    parts: dict[str, bytes] | None = None) -> tuple[Submission, str | None]:
    """Read one workbook; returns the Submission and the package's modified time."""
    book = open_book(data, fmt, max_rows, parts)
    sub = Reader(book, rubric, file).read()
    return sub, book.package.modified if book.package else None

