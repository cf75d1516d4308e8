"""What a roster does to a batch (spec §9, `apply_roster`):
- `not-submitted` (batch level, and an entry of `batch.not_submitted`) for every roster unit
  that no file names — a file that names the unit but could not be scored (wrong template,
  superseded duplicate) counts as submitted, since that file is listed with its own status;
- `unknown-unit` on every scored file whose unit code is not in the roster;
- per bureau figure, on the file's cell: `magnitude-suspect` (an error) when the unit's amount
  is 10,000× the bureau's (±1%: 元 typed for 万元), else `ledger-mismatch` when they differ by more than
  0.01 — also when the unit left the cell blank while the bureau has a figure. A cell that
  already carries an error (type-error, missing-value, …) is not compared again.
"""

from __future__ import annotations

from decimal import Decimal

from perfxl.findings import SEVERITY_ORDER, Finding
from perfxl.model import BASIC_SHEET, BatchResult, FileResult
from perfxl.read import values
from perfxl.read.roster import Roster, RosterUnit
from perfxl.review.checks import YUAN_ADVICE, money
from perfxl.spec.fields import Field, fields

TOLERANCE = Decimal("0.01")
MAGNITUDE = Decimal(10_000)
MAGNITUDE_LOW, MAGNITUDE_HIGH = MAGNITUDE * Decimal("0.99"), MAGNITUDE * Decimal("1.01")


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
