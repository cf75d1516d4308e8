"""What a roster does to a batch (spec §9, `apply_roster`):
- `not-submitted` (batch level, and an entry of `batch.not_submitted`) for every roster unit
  that no file names — a file that names the unit but could not be scored (wrong template,
  superseded duplicate) counts as submitted, since that file is listed with its own status;
- `unknown-unit` on every scored file whose unit code is not in the roster;
- per bureau figure, on the file's cell: `magnitude-suspect` (an error) when the unit's amount
  is 10,000× the bureau's (±1%: 元 typed for 万元), else `ledger-mismatch` when they differ by more than
  0.01 — also when the unit left the cell blank while the bureau has a figure. A cell that
  already carries an error (type-error, missing-value, …) is not compared again.

Before all that, an unreadable file whose unit code could not be read is attributed to the
roster unit its file name names (exactly one unit's code or full name in it), so that the unit
is 需重报 (it sent something, nothing usable) rather than 未报送. Which files go back to their
unit (`must_send_again`) is decided here too: the terminal, the feedback and the summary agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import PurePosixPath

from perfxl.findings import SEVERITY_ORDER, Finding
from perfxl.model import BASIC_SHEET, NOT_THE_UNITS, BatchResult, FileResult
from perfxl.read import values
from perfxl.read.roster import Roster, RosterUnit
from perfxl.review.checks import YUAN_ADVICE, money
from perfxl.spec.fields import Field

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


def ledger_findings(result: FileResult, unit: RosterUnit, spec: Mapping[str, Field]) -> list[Finding]:
    """The roster's figures against one file's values; `spec` the form's fields (rubric.fields)."""
    out: list[Finding] = []
    for key, bureau in unit.figures.items():
        f = spec.get(key)
        if f is None:  # a figure of a field this form does not have
            continue
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
    """Add the roster's findings to a batch: attribution of nameless unreadable files,
    not-submitted, unknown-unit, ledger figures. The caller re-sorts the files (codes changed)."""
    attribute(batch, roster)
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
            _add(result, ledger_findings(result, unit, batch.form_of(result).fields))


# -- who must send again -------------------------------------------------------------------


def must_send_again(result: FileResult) -> bool:
    """The unit must correct this file or send it again: status `error`, or `unreadable` for a
    reason of the file's own. `internal-error` is perfxl's failure: the file is probably fine,
    so it is listed apart and never returned to the unit."""
    if result.status == "error":
        return True
    return result.status == "unreadable" and not any(f.code in NOT_THE_UNITS for f in result.findings)


def return_reasons(result: FileResult) -> list[Finding]:
    """The findings that send a file back: its errors, one per code, in severity order."""
    seen: dict[str, Finding] = {}
    for f in result.findings:
        if f.severity.value == "error" and f.code != "internal-error":
            seen.setdefault(f.code, f)
    return list(seen.values())


def resubmit_units(batch: BatchResult, roster: Roster) -> list[dict[str, object]]:
    """Roster units that sent files of which none could be used (all unreadable for the file's
    own reason): 需重报 — submitted, so never 未报送. In roster order."""
    out: list[dict[str, object]] = []
    for unit in roster.units:
        files = [r for r in batch.files if r.unit_code == unit.code and r.status != "ignored"]
        if files and all(r.status == "unreadable" and must_send_again(r) for r in files):
            reasons = list(dict.fromkeys(f.title for r in files for f in return_reasons(r)))
            out.append({"unit_code": unit.code, "unit_name": unit.name, "department": unit.department,
                        "files": [r.file for r in files], "reasons": reasons})
    return out


# -- attribution by file name --------------------------------------------------------------


def _code_in(code: str, name: str) -> bool:
    """`code` stands in `name` on its own: 440800001 is not in 4408000012."""
    return re.search(rf"(?<![0-9A-Z]){re.escape(code)}(?![0-9A-Z])", name) is not None


def attributed_unit(file: str, roster: Roster) -> RosterUnit | None:
    """The roster unit a file's name names: exactly one unit whose code or full name is in it.
    A name inside another matched name (湛江市民政局 in 湛江市民政局本级) does not count apart."""
    name = values.fold(PurePosixPath(file).name).upper()
    by_code = {u.code for u in roster.units if _code_in(u.code, name)}
    named = [u for u in roster.units if values.fold(u.name) and values.fold(u.name).upper() in name]
    folded = {u.code: values.fold(u.name).upper() for u in named}

    def inside_another(u: RosterUnit) -> bool:
        return any(folded[u.code] in folded[v.code] and folded[u.code] != folded[v.code] for v in named)

    by_name = {u.code for u in named if not inside_another(u)}
    found = by_code | by_name
    return roster.get(found.pop()) if len(found) == 1 else None


def attribute(batch: BatchResult, roster: Roster) -> None:
    """Give each unreadable file without a unit code the roster unit its name names, and say so
    on its finding (the code was not read from the file)."""
    for result in batch.files:
        if result.status != "unreadable" or result.unit_code:
            continue
        unit = attributed_unit(result.file, roster)
        if unit is None:
            continue
        result.unit_code, result.unit_name, result.department = unit.code, unit.name, unit.department
        note = f"（未能从文件中读出单位编码，按文件名归属于名单中的单位 {unit.code}「{unit.name}」）"
        result.findings = [replace(f, unit_code=unit.code, message=f.message + (note if i == 0 else ""))
                           for i, f in enumerate(result.findings)]
