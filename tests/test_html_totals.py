"""index.html compares self and reviewed totals on one basis: before 不适用 rescaling, over the
indicators that apply. A unit whose reviewed total differs from its own only because 不适用
indicators were rescaled has no gap."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import RUBRIC, good_values

from perfxl.model import Options
from perfxl.run.pipeline import run_batch
from perfxl.write.fill import fill_workbook
from perfxl.write.html import largest_gaps, render_index, same_basis, scatter

NO_SANGONG = {"sangong_budget_prev": None, "sangong_budget": None, "sangong_actual": None}  # A4, B2 不适用
UNITS = {
    # 不适用 rows left blank, 自评总分 the sum of the rest: reviewed 90 before rescaling, 100 after
    "N001": {**NO_SANGONG, "score_A4": None, "score_B2": None, "score_total": 90},
    # 不适用 rows scored anyway (allowed: score-not-applicable), 自评总分 100 as written
    "N002": {**NO_SANGONG},
    # a real gap: D1 0 of 10, nothing 不适用
    "G001": {"key_tasks_done": 4},
    # a real gap on a rescaled unit: D3 0 of 5; reviewed 85 before rescaling, 94.44 after
    "R001": {**NO_SANGONG, "score_A4": None, "score_B2": None, "score_total": 90, "satisfaction": 0.7},
}


@pytest.fixture(scope="module")
def batch(template_path: Path, tmp_path_factory: pytest.TempPathFactory):
    returns = tmp_path_factory.mktemp("totals")
    for code, changes in UNITS.items():
        values = {**good_values(), "unit_code": code, "unit_name": f"单位{code}", **changes}
        fill_workbook(template_path, values, returns / f"{code}.xlsx")
    return run_batch(returns, Options.for_rubric(RUBRIC), jobs=1)


def by_code(batch, code: str):
    return next(r for r in batch.files if r.unit_code == code)


def test_the_units_are_what_the_test_says(batch):
    """Guard the premise: N001 and N002 differ from their reviewed totals only by rescaling."""
    totals = {r.unit_code: (r.self_total, r.reviewed_total, r.rescaled) for r in batch.files}
    assert totals == {
        "N001": (Decimal(90), Decimal(100), True),
        "N002": (Decimal(100), Decimal(100), True),
        "G001": (Decimal(100), Decimal(90), False),
        "R001": (Decimal(90), Decimal("94.44"), True),
    }
    assert "score-not-applicable" in [f.code for f in by_code(batch, "N002").findings]
    assert {r.unit_code for r in batch.files if r.status == "reviewed"} >= {"N001", "N002"}


def test_same_basis_is_before_rescaling_over_the_indicators_that_apply(batch):
    assert same_basis(by_code(batch, "N001")) == (Decimal(90), Decimal(90))
    assert same_basis(by_code(batch, "N002")) == (Decimal(90), Decimal(90))  # the 10 on 不适用 rows count on neither side
    assert same_basis(by_code(batch, "G001")) == (Decimal(100), Decimal(90))
    assert same_basis(by_code(batch, "R001")) == (Decimal(90), Decimal(85))


def test_a_gap_made_only_by_rescaling_is_no_gap(batch):
    gaps = [(g["result"].unit_code, g["gap"], g["self"], g["reviewed"]) for g in largest_gaps(batch)]
    assert gaps == [("G001", "-10.00", Decimal(100), Decimal(90)), ("R001", "-5.00", Decimal(90), Decimal(85))]


def test_scatter_counts_on_the_same_basis(batch):
    chart = scatter(batch)
    assert (chart["count"], chart["lower"], chart["higher"], chart["rescaled"]) == (4, 2, 0, 3)
    points = {p["title"].split(" ")[0]: p for p in chart["points"]}
    along = [((p["cx"] - chart["lo"]) / (chart["hi"] - chart["lo"]), (chart["ylo"] - p["cy"]) / (chart["ylo"] - chart["yhi"]))
             for p in (points["N001"], points["N002"], points["G001"])]
    assert along[0] == along[1] and along[0][0] == pytest.approx(along[0][1], abs=0.01)  # on the diagonal
    assert along[2][0] > along[2][1] + 0.05  # G001 below it
    assert points["R001"]["title"].endswith("自评 90.00，核定 94.44（折算前：自评 90.00，核定 85.00）")


def test_index_shows_the_compared_numbers_and_says_so(batch, tmp_path):
    html = render_index(batch, {}, tmp_path)
    table = html[html.index("差距最大的单位"):html.index("</table>", html.index("差距最大的单位"))]
    assert "N001" not in table and "N002" not in table
    assert ('<td class="num">90.00</td><td class="num">85.00<br><span class="note">折算后 94.44</span></td>'
            '<td class="num">-5.00</td>') in table
    assert "核定为折算为百分制之前的核定得分合计，两者同口径比较" in html
    assert "其中 3 个单位有不适用指标，核定总分已折算为百分制，这里按折算前的得分比较。" in html
