"""Shared test helpers: a blank template built once, and a factory of filled workbooks.

`good_values()` is a complete, correct return (every computed indicator at full marks, every
manual one at full marks and explained): tests change what they need and assert on the
findings it produces.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from perfxl.model import Options
from perfxl.run.pipeline import process_file
from perfxl.spec.rubric import load_rubric
from perfxl.write.fill import fill_workbook
from perfxl.write.template import build_template

RUBRIC = load_rubric("gd-dept-2020")


def good_values() -> dict[str, object]:
    """A correct return: all computed indicators at full marks, self score 100, 优秀."""
    vals: dict[str, object] = {
        "unit_name": "测试市测试局",
        "unit_code": "T001",
        "department": "测试市测试局",
        "unit_type": "行政单位",
        "eval_year": 2020,
        "filing_date": dt.date(2021, 6, 4),
        "contact": "张三",
        "phone": "0759-1234567",
        "staff_quota": 70,
        "staff_quota_admin": 61,
        "staff_quota_service": 9,
        "staff_actual": 63,
        "retirees": 19,
        "eval_team_size": 13,
        "budget_initial": Decimal("2999.76"),
        "income_total": Decimal("2999.76"),
        "income_fiscal": Decimal("2999.76"),
        "carryover_begin": Decimal("2.89"),
        "expense_total": Decimal("2970.12"),
        "expense_basic": Decimal("2100.00"),
        "expense_project": Decimal("870.12"),
        "carryover_end": Decimal("32.53"),
        "sangong_budget_prev": Decimal("30.00"),
        "sangong_budget": Decimal("28.50"),
        "sangong_actual": Decimal("25.10"),
        "procurement_budget": Decimal("120.00"),
        "procurement_actual": Decimal("118.60"),
        "fixed_assets_total": Decimal("860.00"),
        "fixed_assets_in_use": Decimal("860.00"),
        "budget_approved_date": dt.date(2020, 2, 18),
        "budget_published_date": dt.date(2020, 3, 9),
        "key_tasks_planned": 6,
        "key_tasks_done": 6,
        "satisfaction": 0.965,
        "text_functions": "负责本市测试工作。",
        "text_key_work": "完成年度测试任务。",
        "text_targets": "测试目标全部实现。",
        "text_process": "成立自评工作小组。",
        "text_effects": "测试成效明显。",
        "text_problems": "无",
        "text_measures": "继续加强管理。",
        "text_other": "无",
    }
    for ind in RUBRIC.indicators:
        vals[f"score_{ind.code}"] = float(ind.weight)
        vals[f"note_{ind.code}"] = f"{ind.name}达到要求，佐证材料齐全。"
    vals["score_total"] = 100
    vals["grade_self"] = "优秀"
    return vals


@pytest.fixture(scope="session")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "data_template.xlsx"
    build_template(path, RUBRIC)
    return path


@pytest.fixture
def make_return(template_path: Path, tmp_path: Path):
    """make_return(name="x.xlsx", **changes) -> path of a filled workbook.

    A change of None blanks the cell. Pass `base=None` to start from an empty template.
    """

    def make(name: str = "unit.xlsx", base: dict | object | None = ..., **changes: object) -> Path:
        vals = good_values() if base is ... else dict(base or {})
        vals.update(changes)
        out = tmp_path / name
        out.parent.mkdir(parents=True, exist_ok=True)
        fill_workbook(template_path, vals, out)
        return out

    return make


@pytest.fixture
def evaluate():
    """evaluate(path, **options) -> FileResult, with the default rubric."""

    def run(path: Path, **kw):
        return process_file(path, path.name, Options.for_rubric(RUBRIC, **kw))

    return run


def codes(result) -> list[str]:
    """The finding codes of a FileResult, in order."""
    return [f.code for f in result.findings]


def require_programs(*programs: str, install: str = "") -> None:
    """The outside programs a test drives (LibreOffice, Chromium, poppler): in CI (CI=true, where
    .ci/run installs them) their absence fails the test; elsewhere it skips, saying what to install."""
    import os
    import shutil

    missing = [p for p in programs if shutil.which(p) is None and not Path(p).is_file()]
    if not missing:
        return
    reason = f"not installed: {', '.join(missing)}" + (f" (apt-get install {install})" if install else "")
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; .ci/run installs it")
    pytest.skip(reason)
