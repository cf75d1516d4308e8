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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from perfxl.ooxml.refs import col_letters
from perfxl.read import values
from perfxl.read.table import Table, TableError, header_row, read_table
from perfxl.read.values import label_key
from perfxl.spec.fields import Field, fields

FIGURE_TYPES = ("money", "int")
IGNORED_HEADERS = frozenset({"序号", "备注"})
IDENTITY = ("unit_code", "unit_name", "department")


class RosterError(TableError):
    """A roster that cannot be used; the message names the file, the row and the column."""


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


def column_keys(spec: Mapping[str, Field]) -> dict[str, str]:
    """Normalised header -> field key: labels, aliases and keys of every field of the form."""
    out: dict[str, str] = {}
    for f in spec.values():
        for text in (f.label, *f.aliases):
            out.setdefault(label_key(text), f.key)
    for key in spec:
        out.setdefault(key.lower(), key)
    return out


def _column_key(header: object, known: dict[str, str]) -> str | None:
    key = label_key(header) if isinstance(header, str) else label_key(values.show(header))
    return known.get(key) or known.get(key.lower())


def _columns(table: Table, header_no: int, header: list[object], rows: list[tuple[int, list[object]]],
             spec: Mapping[str, Field]) -> dict[int, str]:
    """Column index -> field key, refusing what is not understood."""
    known = column_keys(spec)
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
            raise RosterError(f"{table.where(header_no, col, shown)}：与 {col_letters(seen[key])} 列重复，"
                              f"都是“{spec[key].label}”")
        seen[key] = col
        cols[col] = key
    return cols


def _figure(f: Field, raw: object, where: str) -> Decimal | int | None:
    parsed = values.parse_money(raw) if f.type == "money" else values.parse_int(raw, f.unit)
    if parsed.problem:
        raise RosterError(f"{where}：{parsed.problem[1]}")
    return parsed.value  # type: ignore[return-value]


def load_roster(path: Path | str, spec: Mapping[str, Field] | None = None) -> Roster:
    """Read and validate a roster against the form's fields (`rubric.fields`; the built-in list when
    None); `RosterError` names the file, row and column of a problem."""
    path = Path(path)
    table = read_table(path, "名单", RosterError)
    spec = spec if spec is not None else fields()
    wanted = {label_key(t) for k in ("unit_code", "unit_name") for t in (spec[k].label, *spec[k].aliases)}
    found = header_row(table, wanted | {"unit_code", "unit_name"})
    if found is None:
        raise RosterError(f"名单文件 {path} 是空的；名单须包含“单位编码”“单位名称”两列")
    header_no, header = found
    body = [(n, r) for n, r in table.rows if n > header_no and any(v is not None for v in r)]
    cols = _columns(table, header_no, header, body, spec)
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
