"""Finding cases as data: one folder per finding code under tests/cases/, each with a case.toml.

    description = "…"
    expect = { code = "…", sheet = "…", cell_name = "<defined name of the primary cell>",
               also = ["<names of other cells involved>"] }
    absent = ["codes that must not appear"]
    blank = ["names whose cell is left empty"]
    [changes]            # name -> value, applied to good_values()
    filing_date = 2021-06-23      # TOML dates are dates
    carryover_end = "42.53"       # a string that is a plain decimal is a Decimal (a number cell)
    income_total = "3000元"        # any other string is typed as text

Adding a folder adds a test (a case may also sit one level deeper, tests/cases/<code>/<variant>/).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import codes
from test_checks import SPEC_SEVERITY, _names

from perfxl.findings import CATALOGUE

CASES = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES.rglob("case.toml"))
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def load_case(path: Path) -> dict:
    with path.open("rb") as fh:
        case = tomllib.load(fh)
    assert set(case) <= {"description", "expect", "absent", "blank", "changes"}, path
    assert {"code", "sheet", "cell_name"} <= set(case["expect"]), path
    return case


def changes_of(case: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in case.get("changes", {}).items():
        if isinstance(value, str) and DECIMAL.match(value):
            value = Decimal(value)
        elif isinstance(value, dt.datetime):
            value = value.date()
        out[name] = value
    for name in case.get("blank", []):
        out[name] = None
    return out


def test_cases_cover_at_least_twelve_codes():
    covered = {load_case(p)["expect"]["code"] for p in CASE_FILES}
    assert len(covered) >= 12, covered
    assert covered <= set(CATALOGUE)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.parent.relative_to(CASES).as_posix())
def test_case(path: Path, make_return, evaluate, template_path):
    case = load_case(path)
    expect = case["expect"]
    code = expect["code"]
    # the folder is named after the code it must produce
    assert path.parent.relative_to(CASES).parts[0] == code
    names = _names(str(template_path))
    result = evaluate(make_return(**changes_of(case)))
    got = [f for f in result.findings if f.code == code]
    assert got, f"{code} not produced; got {codes(result)}"
    sheet, cell = names[expect["cell_name"]]
    assert sheet == expect["sheet"]
    here = [f for f in got if f.sheet == sheet and f.cell == cell]
    assert here, f"{code} expected at {sheet}!{cell}, got {[(f.sheet, f.cells) for f in got]}"
    finding = here[0]
    assert finding.severity.value == SPEC_SEVERITY[code]
    assert finding.message
    for other in expect.get("also", []):
        assert names[other][1] in finding.cells, (other, finding.cells)
    for absent in case.get("absent", []):
        assert absent in CATALOGUE, absent
        assert absent not in codes(result), f"{absent} should not appear; got {codes(result)}"
    # the status follows the severities (spec §8)
    errors = any(f.severity.value == "error" for f in result.findings)
    assert result.status == ("error" if errors else "reviewed")
