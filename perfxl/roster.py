"""The bureau's roster of budget units (spec §9): who should report, and what the bureau knows.

A roster is an .xlsx (also .xlsm, .xls, .ods) or .csv file (UTF-8 with or without BOM, else
GB18030) with the columns 单位编码 and 单位名称, optionally 主管部门, and optionally bureau
figures: money or count fields of 基础数据表 named by label (with the reader's normalisation, so
“财政拨款收入年初预算数（万元）” and the alias 年初预算数 work too) or by field key
(`budget_initial`). A title row above the header is allowed (the header is the first of the
first ten non-empty rows that names 单位编码 or 单位名称); columns headed 序号 or 备注 are
ignored; fully blank rows and blank, empty columns are skipped. Anything else that is not
understood stops the run (`RosterError`, one Chinese line naming the file, row and column):
unknown or repeated columns, a missing required column, a blank or repeated unit code, a blank
unit name, a figure that is not a number of its type.

What a roster does to a batch (`apply_roster`):
- `not-submitted` (batch level, and an entry of `batch.not_submitted`) for every roster unit
  that no file names — a file that names the unit but could not be scored (wrong template,
  superseded duplicate) counts as submitted, since that file is listed with its own status;
- `unknown-unit` on every scored file whose unit code is not in the roster;
- per bureau figure, on the file's cell: `magnitude-suspect` (an error) when the unit's amount
  is 10,000× the bureau's (±1%: 元 typed for 万元), else `ledger-mismatch` when they differ by more than
  0.01 — also when the unit left the cell blank while the bureau has a figure. A cell that
  already carries an error (type-error, missing-value, …) is not compared again.

`write_prefilled` writes one pre-filled, locked template per roster unit (spec §2).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from xlsxwriter.utility import xl_col_to_name

from perfxl import values
from perfxl.checks import YUAN_ADVICE, money
from perfxl.fields import Field, fields
from perfxl.findings import SEVERITY_ORDER, Finding
from perfxl.model import BASIC_SHEET, BatchResult, FileResult
from perfxl.rubric import Rubric
from perfxl.workbook import label_key

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
FIGURE_TYPES = ("money", "int")
IGNORED_HEADERS = frozenset({"序号", "备注"})
HEADER_SCAN_ROWS = 10
TOLERANCE = Decimal("0.01")
MAGNITUDE = Decimal(10_000)
MAGNITUDE_LOW, MAGNITUDE_HIGH = MAGNITUDE * Decimal("0.99"), MAGNITUDE * Decimal("1.01")
IDENTITY = ("unit_code", "unit_name", "department")


class TableError(ValueError):
    """A bureau-supplied table (roster, adjustments) that cannot be used: one Chinese line."""


class RosterError(TableError):
    """A roster that cannot be used; the message names the file, the row and the column."""


# -- reading a table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The rows of a table as typed: 1-based row numbers, 0-based column indexes."""

    path: Path
    rows: list[tuple[int, list[object]]]

    def where(self, row: int, col: int | None = None, header: str | None = None) -> str:
        text = f"{self.path}：第 {row} 行"
        if col is not None:
            text += f" {xl_col_to_name(col)} 列"
        if header:
            text += f"「{header}」"
        return text


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _decode(data: bytes, path: Path, error: type[TableError]) -> str:
    """UTF-8 with or without BOM, else GB18030 (what Excel/WPS save on a Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error(f"{path}：无法识别文件编码，请另存为 UTF-8 或 GB18030 编码的 CSV")


def read_table(path: Path, what: str = "名单", error: type[TableError] = TableError) -> Table:
    """The rows of a .csv or spreadsheet file (its first sheet) as raw values."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".csv" and suffix not in SPREADSHEET_SUFFIXES:
        raise error(f"{what}文件 {path} 应为 .xlsx 或 .csv 文件")
    if not path.is_file():
        raise error(f"找不到{what}文件 {path}")
    rows: list[tuple[int, list[object]]] = []
    if suffix == ".csv":
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise error(f"无法打开{what}文件 {path}（{exc.strerror or exc}）") from exc
        text = _decode(data, path, error)
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            for record in reader:
                rows.append((reader.line_num, [None if _blank(v) else v for v in record]))
        except csv.Error as exc:
            raise error(f"{path}：第 {reader.line_num} 行不是有效的 CSV（{exc}）") from exc
        return Table(path, rows)
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        if not names:
            raise error(f"{what}文件 {path} 中没有工作表")
        sheet = book.get_sheet_by_name(names[0])
        r0, c0 = sheet.start or (0, 0)
        for i, raw in enumerate(sheet.to_python()):
            rows.append((r0 + i + 1, [None] * c0 + [None if _blank(v) else v for v in raw]))
    except TableError:
        raise
    except Exception as exc:  # calamine raises many types for damaged files
        raise error(f"无法读取{what}文件 {path}（{type(exc).__name__}），请用 Excel/WPS 打开后另存为 .xlsx") from exc
    return Table(path, rows)


def _header_row(table: Table, wanted: Iterable[str]) -> tuple[int, list[object]] | None:
    """The header: the first of the first few non-empty rows naming one of `wanted`."""
    wanted = set(wanted)
    filled = [(n, row) for n, row in table.rows if any(v is not None for v in row)]
    for n, row in filled[:HEADER_SCAN_ROWS]:
        if any(label_key(v) in wanted for v in row if isinstance(v, str)):
            return n, row
    return filled[0] if filled else None


# -- the roster ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterUnit:
    code: str
    name: str
    department: str | None = None
    #: field key -> the bureau's figure (Decimal for money, int for counts)
    figures: dict[str, Decimal | int] = field(default_factory=dict)


@dataclass
class Roster:
    path: Path
    #: the units in file order
    units: list[RosterUnit]
    #: the figure columns, in file order
    figure_keys: tuple[str, ...] = ()
    _by_code: dict[str, RosterUnit] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_code = {u.code: u for u in self.units}

    def get(self, code: str | None) -> RosterUnit | None:
        return self._by_code.get(code or "")

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self.units)


def column_keys() -> dict[str, str]:
    """Normalised header -> field key: labels, aliases and keys of every field."""
    out: dict[str, str] = {}
    for f in fields().values():
        for text in (f.label, *f.aliases):
            out.setdefault(label_key(text), f.key)
    for key in fields():
        out.setdefault(key.lower(), key)
    return out


def _column_key(header: object, known: dict[str, str]) -> str | None:
    key = label_key(header) if isinstance(header, str) else label_key(values.show(header))
    return known.get(key) or known.get(key.lower())


def _columns(table: Table, header_no: int, header: list[object], rows: list[tuple[int, list[object]]]
             ) -> dict[int, str]:
    """Column index -> field key, refusing what is not understood."""
    known = column_keys()
    spec = fields()
    mapped: list[tuple[int, str, str | None]] = []
    for col, text in enumerate(header):
        if text is None:
            if any(col < len(r) and r[col] is not None for _, r in rows):
                raise RosterError(f"{table.where(header_no, col)}：该列有数据但没有列名，请填写列名或删除该列")
            continue
        shown = values.show(text).strip()
        if label_key(shown) not in IGNORED_HEADERS:
            mapped.append((col, shown, _column_key(text, known)))
    present = {key for _, _, key in mapped}
    for key in ("unit_code", "unit_name"):
        if key not in present:
            raise RosterError(f"{table.path}：第 {header_no} 行（表头）缺少“{spec[key].label}”列；"
                              "名单须包含“单位编码”“单位名称”两列")
    cols: dict[int, str] = {}
    seen: dict[str, int] = {}
    for col, shown, key in mapped:
        if key is None:
            raise RosterError(f"{table.where(header_no, col, shown)}：无法识别的列；名单只能包含单位编码、单位名称、"
                              "主管部门和基础数据表中的金额、人数等数值项（按项目名称或字段名命名）")
        if key not in IDENTITY and spec[key].type not in FIGURE_TYPES:
            raise RosterError(f"{table.where(header_no, col, shown)}：“{spec[key].label}”不是金额或人数等数值项，"
                              "不能作为财政部门掌握的数据列入名单")
        if key in seen:
            raise RosterError(f"{table.where(header_no, col, shown)}：与 {xl_col_to_name(seen[key])} 列重复，"
                              f"都是“{spec[key].label}”")
        seen[key] = col
        cols[col] = key
    return cols


def _figure(f: Field, raw: object, where: str) -> Decimal | int | None:
    parsed = values.parse_money(raw) if f.type == "money" else values.parse_int(raw, f.unit)
    if parsed.problem:
        raise RosterError(f"{where}：{parsed.problem[1]}")
    return parsed.value  # type: ignore[return-value]


def load_roster(path: Path | str) -> Roster:
    """Read and validate a roster; `RosterError` names the file, row and column of a problem."""
    path = Path(path)
    table = read_table(path, "名单", RosterError)
    spec = fields()
    wanted = {label_key(t) for k in ("unit_code", "unit_name") for t in (spec[k].label, *spec[k].aliases)}
    found = _header_row(table, wanted | {"unit_code", "unit_name"})
    if found is None:
        raise RosterError(f"名单文件 {path} 是空的；名单须包含“单位编码”“单位名称”两列")
    header_no, header = found
    body = [(n, r) for n, r in table.rows if n > header_no and any(v is not None for v in r)]
    cols = _columns(table, header_no, header, body)
    units: list[RosterUnit] = []
    rows_of: dict[str, int] = {}
    for n, row in body:
        got: dict[str, object] = {}
        figures: dict[str, Decimal | int] = {}
        for col, key in cols.items():
            raw = row[col] if col < len(row) else None
            where = table.where(n, col, values.show(header[col]).strip())
            if key == "unit_code":
                code = values.parse_code(raw).value
                if not code:
                    raise RosterError(f"{where}：单位编码为空，请填写或删除该行")
                if code in rows_of:
                    raise RosterError(f"{where}：单位编码 {code} 与第 {rows_of[code]} 行重复")
                rows_of[code] = n  # type: ignore[index]
                got[key] = code
            elif key in ("unit_name", "department"):
                got[key] = values.parse_text(raw).value
                if key == "unit_name" and not got[key]:
                    raise RosterError(f"{where}：单位名称为空，请填写")
            else:
                value = _figure(spec[key], raw, where)
                if value is not None:
                    figures[key] = value
        units.append(RosterUnit(got["unit_code"], got["unit_name"], got.get("department"),  # type: ignore[arg-type]
                                figures))
    if not units:
        raise RosterError(f"名单文件 {path} 中没有单位（表头在第 {header_no} 行，其下没有数据）")
    figure_keys = tuple(k for _, k in sorted(cols.items()) if k not in IDENTITY)
    return Roster(path, units, figure_keys)


# -- applying it to a batch ----------------------------------------------------------------


def _unit_text(f: Field) -> str:
    return {"money": "万元"}.get(f.type, f.unit)


def _show(f: Field, v: Decimal | int) -> str:
    text = money(v) if f.type == "money" else str(v)  # type: ignore[arg-type]
    unit = _unit_text(f)
    return f"{text} {unit}" if unit else text


def _where(result: FileResult, key: str, label: str) -> tuple[str, tuple[str, ...], str]:
    """(sheet, cells, text) of a field's cell in a result."""
    sheet, cell = result.cells.get(key, (BASIC_SHEET, None))
    if cell:
        return sheet, (cell,), f"{sheet} {cell}「{label}」"
    return sheet, (), f"「{label}」"


def _has_problem(result: FileResult, sheet: str, cells: tuple[str, ...]) -> bool:
    """Whether an error-level finding already sits on the cell (then it is not compared again)."""
    return bool(cells) and any(
        f.sheet == sheet and f.cell == cells[0] and f.severity.value == "error" for f in result.findings)


def ledger_findings(result: FileResult, unit: RosterUnit) -> list[Finding]:
    """The roster's figures against one file's values."""
    out: list[Finding] = []
    spec = fields()
    for key, bureau in unit.figures.items():
        f = spec[key]
        sheet, cells, where = _where(result, key, f.label)
        if _has_problem(result, sheet, cells):
            continue
        theirs = result.fields.get(key)
        details = {"expected": _show(f, bureau), "found": None if theirs is None else _show(f, theirs)}  # type: ignore[arg-type]
        if theirs is None:
            out.append(Finding("ledger-mismatch", f"{where}本单位未填写，财政部门掌握的数据为 {_show(f, bureau)}，"
                               "请核对后补填", sheet, cells, details=details))
            continue
        mine = Decimal(theirs)  # type: ignore[arg-type]
        ref = Decimal(bureau)
        if f.type == "money" and ref > 0 and MAGNITUDE_LOW <= mine / ref <= MAGNITUDE_HIGH:
            # an error (spec §5): the unit confirms or corrects, and its money stays out of the 合计
            out.append(Finding("magnitude-suspect", f"{where}本单位填报 {_show(f, theirs)}，约为财政部门掌握的数据 "  # type: ignore[arg-type]
                               f"{_show(f, bureau)}的 1 万倍，疑似以元为单位填报。{YUAN_ADVICE}",
                               sheet, cells, details=details))
            continue
        diff = abs(mine - ref)
        if diff > TOLERANCE:
            shown_diff = money(diff) if f.type == "money" else str(diff)
            unit_text = _unit_text(f)
            out.append(Finding("ledger-mismatch", f"{where}本单位填报 {_show(f, theirs)}，财政部门掌握的数据为 "  # type: ignore[arg-type]
                               f"{_show(f, bureau)}，相差 {shown_diff}{' ' + unit_text if unit_text else ''}，请核对",
                               sheet, cells, details=details))
    return out


def _add(result: FileResult, findings: list[Finding]) -> None:
    if not findings:
        return
    result.findings = sorted([*result.findings, *(f.located(result.file, result.unit_code) for f in findings)],
                             key=lambda f: SEVERITY_ORDER[f.severity])
    if result.scored:
        result.status = "error" if result.errors else "reviewed"


def _unknown(result: FileResult, roster: Roster) -> Finding:
    sheet, cells, where = _where(result, "unit_code", "单位编码")
    name = f"（{result.unit_name}）" if result.unit_name else ""
    message = f"{where}{result.unit_code}{name}不在财政部门的单位名单中，请核对单位编码是否填写正确"
    if result.unit_name:
        same = values.fold(result.unit_name)
        twins = [u.code for u in roster.units if values.fold(u.name) == same]
        if twins:
            message += f"；名单中“{result.unit_name}”的单位编码为 {'、'.join(twins)}"
    return Finding("unknown-unit", message, sheet, cells, details={"found": result.unit_code})


def apply_roster(batch: BatchResult, roster: Roster) -> None:
    """Add the roster's findings to a batch: not-submitted, unknown-unit, ledger figures."""
    named = {r.unit_code for r in batch.files if r.unit_code and r.status != "ignored"}
    unplaced = sum(1 for r in batch.files if r.status == "unreadable" and not r.unit_code)
    for unit in roster.units:
        if unit.code in named:
            continue
        entry = {"unit_code": unit.code, "unit_name": unit.name, "department": unit.department}
        if entry not in batch.not_submitted:
            batch.not_submitted.append(entry)
        dept = f"（主管部门：{unit.department}）" if unit.department else ""
        message = f"名单中的单位 {unit.code}「{unit.name}」{dept}没有报送自评材料"
        if unplaced:
            message += f"；另有 {unplaced} 个文件无法读取或未能识别单位编码，请核对其中是否有该单位的报送"
        finding = Finding("not-submitted", message, unit_code=unit.code)
        if finding not in batch.findings:
            batch.findings.append(finding)
    for result in batch.files:
        if not result.scored or not result.unit_code:
            continue
        unit = roster.get(result.unit_code)
        if unit is None:
            _add(result, [_unknown(result, roster)])
        else:
            _add(result, ledger_findings(result, unit))


# -- pre-filled templates ----------------------------------------------------------------


def prefill_values(unit: RosterUnit, year: int) -> dict[str, object]:
    """What a unit's pre-filled template carries (and locks)."""
    out: dict[str, object] = {"unit_name": unit.name, "unit_code": unit.code}
    if unit.department:
        out["department"] = unit.department
    out["eval_year"] = year
    out.update(unit.figures)
    return out


def write_prefilled(roster: Roster, rubric: Rubric, year: int | None, out_dir: Path) -> list[Path]:
    """One pre-filled, locked template per roster unit: `<code>_<name>.xlsx`, in roster order.

    The folder is an output folder (spec §11): it must be new, empty or perfxl's; a copy someone
    changed since perfxl wrote it is set aside in 保留/, never overwritten."""
    from perfxl.outfolder import OutputFolder
    from perfxl.report import safe_name
    from perfxl.template import write_template

    year = year if year is not None else rubric.year
    folder = OutputFolder.open(Path(out_dir))
    try:
        writer = folder.writer()
        written: list[Path] = []
        used: set[str] = set()
        for unit in roster.units:
            stem = safe_name(unit.code, unit.name)
            unique, n = stem, 1
            while unique.casefold() in used:  # codes that are equal once cleaned for a file name
                n += 1
                unique = f"{stem}_{n}"
            used.add(unique.casefold())
            dest = folder.path(f"{unique}.xlsx")
            if dest.resolve().parent != folder.root.resolve():
                raise ValueError(f"template name {unique!r} escapes {folder.root}")
            with writer.path(folder.target(f"{unique}.xlsx")) as tmp:
                write_template(tmp, rubric, year, prefill_values(unit, year))
            written.append(dest)
        folder.finish()
    except BaseException:
        folder.abort()
        raise
    finally:
        folder.release()
    return written
