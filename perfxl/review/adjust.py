"""The bureau's own judgement (`perfxl run --adjust A`, spec §4.3 and §9).

An adjustment file is a CSV (UTF-8 with or without BOM, else GB18030; an .xlsx is read too)
with the columns 单位编码, 指标编码, 核定得分, 理由 — one row per manual score the bureau
replaces after reading the evidence. Columns headed 序号, 单位名称, 指标名称, 自评得分 or 备注 are
for the reader and ignored; fully blank rows are skipped. Any other problem stops the run
(`AdjustmentError`, one Chinese line naming the file and row), before any file is read:

- a missing column or an unknown one; a row with more or fewer fields than the header (a
  comma in an unquoted 理由 shifts the columns), or a value in a column without a header;
- a blank unit code; an indicator code the rubric does not have; an indicator that is computed
  (adjustments only replace the reviewed score of manual indicators — a computed score follows
  from the figures, which the unit corrects);
- a score that is not a number or lies outside [0, weight]; an empty 理由 (无, 暂无 … are empty);
- the same (unit, indicator) twice.

Whether a unit exists is known once the files are read (`check_units`): a unit code that is
neither in the batch nor in the roster is a typing mistake in the file and stops the run too,
naming the row. An adjustment for a unit that exists but has no scored file (on the roster and
sent nothing, unreadable, or superseded) cannot be applied and is reported by
`unused_adjustments` as a batch-level warning (`adjustment-unused`), so that it is never
dropped silently.

The scorer applies the adjustments (`Options.adjustments`) and emits `bureau-adjusted` for each.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from perfxl.findings import Finding
from perfxl.model import Adjustment, BatchResult
from perfxl.read import values
from perfxl.read.roster import Roster
from perfxl.read.table import TableError, read_table
from perfxl.read.values import format_number, label_key
from perfxl.spec.rubric import Rubric

COLUMNS = {
    "unit": ("单位编码", "预算单位编码", "单位代码"),
    "indicator": ("指标编码", "指标代码"),
    "score": ("核定得分", "核定分", "调整后得分"),
    "reason": ("理由", "调整理由", "核定理由", "核定说明"),
}
COLUMN_LABELS = {"unit": "单位编码", "indicator": "指标编码", "score": "核定得分", "reason": "理由"}
IGNORED_HEADERS = frozenset({"序号", "单位名称", "指标名称", "自评得分", "备注"})
HEADER_SCAN_ROWS = 10


class AdjustmentError(TableError):
    """An adjustment file that cannot be used; the message names the file and the row."""


def _header(table) -> tuple[int, list[object]]:
    wanted = {label_key(a) for aliases in COLUMNS.values() for a in aliases}
    filled = [(n, r) for n, r in table.rows if any(v is not None for v in r)]
    for n, row in filled[:HEADER_SCAN_ROWS]:
        if any(isinstance(v, str) and label_key(v) in wanted for v in row):
            return n, row
    if not filled:
        raise AdjustmentError(f"调整文件 {table.path} 是空的；应包含“单位编码”“指标编码”“核定得分”“理由”四列")
    return filled[0]


def _columns(table, header_no: int, header: list[object]) -> dict[str, int]:
    lookup = {label_key(a): role for role, aliases in COLUMNS.items() for a in aliases}
    cols: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    for col, text in enumerate(header):
        if text is None:
            continue
        shown = values.show(text).strip()
        key = label_key(shown)
        if key in IGNORED_HEADERS:
            continue
        role = lookup.get(key)
        if role is None:
            unknown.append((col, shown))
        elif role in cols:
            raise AdjustmentError(f"{table.where(header_no, col, shown)}：与另一列重复，都是“{COLUMN_LABELS[role]}”")
        else:
            cols[role] = col
    for role, label in COLUMN_LABELS.items():
        if role not in cols:
            raise AdjustmentError(f"{table.path}：第 {header_no} 行（表头）缺少“{label}”列；"
                                  "调整文件应包含“单位编码”“指标编码”“核定得分”“理由”四列")
    if unknown:
        col, shown = unknown[0]
        raise AdjustmentError(f"{table.where(header_no, col, shown)}：无法识别的列；调整文件只能包含"
                              "单位编码、指标编码、核定得分、理由（以及供阅读的序号、单位名称、指标名称、自评得分、备注）")
    return cols


def _check_width(table, n: int, row: list[object], header: list[object]) -> None:
    """A row with more or fewer fields than the header stops the run: read as it is, its values
    would land in the wrong columns (an unquoted comma in a 理由 turns it into the next column)."""
    width = max((i + 1 for i, h in enumerate(header) if h is not None), default=0)
    names = "、".join(values.show(h).strip() for h in header[:width] if h is not None)
    used = max((i + 1 for i, v in enumerate(row) if v is not None), default=0)
    if used > width:
        raise AdjustmentError(f"{table.where(n)}有 {used} 列，应为 {width} 列：{names}；理由中有逗号时，"
                              "请用英文双引号把理由括起来，或在 Excel 中编辑后另存为 CSV")
    if table.path.suffix.lower() == ".csv" and len(row) < width:
        raise AdjustmentError(f"{table.where(n)}只有 {len(row)} 列，应为 {width} 列：{names}；"
                              "请补齐缺少的内容（空白的项也要保留逗号）")
    for col, text in enumerate(header[:width]):
        if text is None and col < len(row) and row[col] is not None:
            raise AdjustmentError(f"{table.where(n, col)}：该列有内容，但表头没有列名；请填写列名或删除该列内容")


def load_adjustments(path: Path | str, rubric: Rubric, rows: dict[str, str] | None = None
                     ) -> dict[str, dict[str, Adjustment]]:
    """Read and validate an adjustment file: unit code -> indicator code -> Adjustment.
    `rows`, when given, receives each unit's first row ("调整文件 … 第 n 行 A 列「单位编码」")."""
    table = read_table(Path(path), "调整", AdjustmentError)
    header_no, header = _header(table)
    cols = _columns(table, header_no, header)
    codes = {i.code.upper(): i for i in rubric.indicators}
    manual = "、".join(i.code for i in rubric.indicators if i.manual)
    out: dict[str, dict[str, Adjustment]] = {}
    rows_of: dict[tuple[str, str], int] = {}
    for n, row in table.rows:
        if n <= header_no or all(v is None for v in row):
            continue
        _check_width(table, n, row, header)

        def cell(role: str, row=row) -> object:
            col = cols[role]
            return row[col] if col < len(row) else None

        def where(role: str, n=n) -> str:
            return table.where(n, cols[role], COLUMN_LABELS[role])

        unit = values.parse_code(cell("unit")).value
        if not unit:
            raise AdjustmentError(f"{where('unit')}：单位编码为空")
        if rows is not None:
            rows.setdefault(unit, where("unit"))
        raw_code = cell("indicator")
        code = values.fold(values.show(raw_code)).upper() if raw_code is not None else ""
        if not code:
            raise AdjustmentError(f"{where('indicator')}：指标编码为空")
        ind = codes.get(code)
        if ind is None:
            raise AdjustmentError(f"{where('indicator')}：指标编码 {code} 不在指标体系 {rubric.id} 中")
        if not ind.manual:
            raise AdjustmentError(f"{where('indicator')}：指标 {ind.code}「{ind.name}」按规则计算，不能调整；"
                                  f"只能调整人工评分的指标（{manual}）")
        raw_score = cell("score")
        parsed = values.parse_score(raw_score)
        if parsed.value is None:
            what = "为空" if raw_score is None else f"“{values.show(raw_score)}”不是数字"
            raise AdjustmentError(f"{where('score')}：核定得分{what}，应为 0～{format_number(ind.weight)} 之间的分数")
        score: Decimal = parsed.value  # type: ignore[assignment]
        if not Decimal(0) <= score <= ind.weight:
            raise AdjustmentError(f"{where('score')}：核定得分 {format_number(score)} 超出指标 {ind.code} 的"
                                  f" 0～{format_number(ind.weight)} 分范围")
        reason = values.parse_text(cell("reason")).value
        if values.is_empty_text(reason):
            raise AdjustmentError(f"{where('reason')}：理由为空；每项核定调整都须写明理由，它会写入报告和反馈")
        key = (unit, ind.code)
        if key in rows_of:
            raise AdjustmentError(f"{table.where(n)}：单位 {unit} 的指标 {ind.code} 已在第 {rows_of[key]} 行调整过")
        rows_of[key] = n  # type: ignore[assignment]
        out.setdefault(unit, {})[ind.code] = Adjustment(score, str(reason))  # type: ignore[arg-type]
    return out


def check_units(batch: BatchResult, adjustments: dict[str, dict[str, Adjustment]], rows: dict[str, str],
                roster: Roster | None) -> None:
    """Stop (AdjustmentError naming the row) at an adjusted unit code that is neither in the
    batch nor in the roster: a code mistyped in the adjustment file, not a unit."""
    present = {r.unit_code for r in batch.files if r.unit_code and r.status != "ignored"}
    for unit in adjustments:
        if unit in present or (roster is not None and unit in roster):
            continue
        where = rows.get(unit, "调整文件")
        if roster is None:
            raise AdjustmentError(f"{where}：单位编码 {unit} 不在本批次中（未提供单位名单），请核对")
        raise AdjustmentError(f"{where}：单位编码 {unit} 不在本批次和名单中，请核对")


def unused_adjustments(batch: BatchResult, adjustments: dict[str, dict[str, Adjustment]],
                       rows: dict[str, str] | None = None) -> list[Finding]:
    """Add (and return) a batch-level warning per adjusted unit with no scored file."""
    scored = {r.unit_code for r in batch.files if r.scored and r.unit_code}
    warned = {f.unit_code for f in batch.findings if f.code == "adjustment-unused"}
    added: list[Finding] = []
    for unit, adjs in sorted(adjustments.items()):
        if unit in scored or unit in warned:
            continue
        others = [r for r in batch.files if r.unit_code == unit and r.status != "ignored"]
        inds = "、".join(sorted(adjs))
        why = "的文件" + "、".join(f"{r.file}（{r.status_label}）" for r in others) + "未能评分" if others else "没有报送文件"
        where = f"（{rows[unit]}）" if rows and unit in rows else ""
        added.append(Finding("adjustment-unused", f"单位 {unit} {why}，调整文件中对其指标 {inds} 的核定调整{where}未使用",
                             unit_code=unit))
    batch.findings.extend(added)
    return added
