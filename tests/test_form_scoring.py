"""The scorer runs a form's own indicators (spec §4.3, §12): expression values, 比例 and ≥ bands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from perfxl.model import FieldValue, Submission
from perfxl.review.scoring import score
from perfxl.spec.fields import Field, Section
from perfxl.spec.rubric import Grade, Indicator, Rubric

FIELDS = (Section("数据", (Field("a", "甲数", "money"), Field("b", "乙数", "money"), Field("c", "丙数", "money"),
                         Field("d1", "开始日期", "date"), Field("d2", "完成日期", "date"))),)


def expr(text: str, *keys: str) -> dict:
    return {"kind": "expr", "expr": text, "fields": list(keys)}


RUBRIC = Rubric(
    id="t-form", name="测试表单", year=2020, deadline_rule={"year_offset": 1, "month": 6, "day": 20},
    grades=(Grade(Decimal(90), "优秀"), Grade(Decimal(0), "差")), source="test", sections=FIELDS,
    indicators=(
        Indicator("E1", "一", "甲", "比例指标", Decimal(40), "", {"kind": "proportional", "target": Decimal("1.00")},
                  expr("(a+b)/c", "a", "b", "c"), "not-applicable"),
        Indicator("E2", "一", "甲", "分档指标", Decimal(30), "",
                  {"kind": "bands", "bands": [[Decimal("0.5"), 30], [Decimal("0.2"), 10]], "otherwise": 0, "compare": ">="},
                  expr("MIN(a,b)/c", "a", "b", "c"), "zero"),
        Indicator("E3", "二", "乙", "天数指标", Decimal(30), "", {"kind": "days_within", "days": 10},
                  expr("DAYS(d1,d2)", "d1", "d2"), "error"),
    ),
)
CELLS = {"a": "B3", "b": "B4", "c": "B5", "d1": "B6", "d2": "B7"}
GOOD = {"a": Decimal(1), "b": Decimal(2), "c": Decimal(4), "d1": dt.date(2020, 1, 1), "d2": dt.date(2020, 1, 11)}


def scored(**changes):
    vals = {**GOOD, **changes}
    sub = Submission("x.xlsx", fields={k: FieldValue(k, v, v, "基础数据表", CELLS[k]) for k, v in vals.items()})
    got = score(sub, RUBRIC, dt.date(2021, 6, 20))
    return {r.code: r for r in got.indicators}, got


def test_values_and_rules_as_written():
    by, got = scored()
    assert (by["E1"].value, by["E1"].reviewed_score) == (Decimal("0.75"), Decimal("30.00"))  # 40 × 0.75 / 1
    assert (by["E2"].value, by["E2"].reviewed_score) == (Decimal("0.25"), Decimal("10"))  # ≥20% band
    assert (by["E3"].value, by["E3"].reviewed_score) == (10, Decimal("30"))  # 天数内 is inclusive
    assert got.reviewed_total == Decimal("70.00") and got.findings == []
    by, _ = scored(a=Decimal(3), b=Decimal(3))
    assert by["E1"].reviewed_score == 40 and by["E2"].reviewed_score == 30  # 比例 capped at 分值
    by, _ = scored(d2=dt.date(2020, 1, 12))
    assert by["E3"].reviewed_score == 0


def test_all_blank_takes_the_blank_behaviour():
    by, got = scored(a=None, b=None, c=None)
    assert by["E1"].applicable is False and by["E1"].reason == "blank"  # 不适用
    assert (by["E2"].applicable, by["E2"].reviewed_score, by["E2"].reason) == (True, 0, "blank")  # 零分
    assert [f.code for f in got.findings] == ["not-applicable"]
    assert got.reviewed_total == Decimal("50.00") and got.rescaled  # (0 + 30) / 60 × 100


def test_zero_over_zero_counts_as_blank():
    by, got = scored(a=Decimal(0), b=Decimal(0), c=Decimal(0))
    assert by["E1"].applicable is False and by["E1"].reason == "zero-denominator"
    assert (by["E2"].reviewed_score, by["E2"].reason) == (0, "blank")
    assert [f.code for f in got.findings] == ["not-applicable"]


def test_a_positive_number_over_zero_scores_zero_with_a_warning():
    by, got = scored(c=Decimal(0))
    assert (by["E1"].reviewed_score, by["E1"].reason) == (0, "zero-denominator")
    assert (by["E2"].reviewed_score, by["E2"].reason) == (0, "zero-denominator")
    assert [f.code for f in got.findings] == ["zero-denominator", "zero-denominator"]
    assert "分母为 0" in got.findings[0].message and got.findings[0].cells == ("B3", "B4", "B5")


def test_one_blank_and_others_filled_cannot_be_computed():
    by, got = scored(a=None)
    assert by["E1"].applicable is None and by["E2"].applicable is None and got.reviewed_total is None
    assert {(f.code, f.cell) for f in got.findings} == {("missing-value", "B3")}
    assert "乙数、丙数已填写" in got.findings[0].message


def test_days_before_the_start_are_date_order_on_both_cells():
    by, got = scored(d2=dt.date(2019, 12, 31))
    assert by["E3"].applicable is None and got.reviewed_total is None
    (f,) = got.findings
    assert f.code == "date-order" and f.cells == ("B7", "B6") and "早于" in f.message


@pytest.mark.parametrize("blank, expected", [("d2", ("B7",)), (None, ("B6", "B7"))])
def test_blank_dates_under_error_are_missing_values(blank, expected):
    changes = {"d2": None} if blank else {"d1": None, "d2": None}
    by, got = scored(**changes)
    assert by["E3"].applicable is None
    assert tuple(f.cell for f in got.findings) == expected and {f.code for f in got.findings} == {"missing-value"}
    assert all("请补填" in f.message for f in got.findings)


# -- the same in a TOML form (spec §12: TOML and the form workbook say the same things) ------

TOML = (Path(__file__).resolve().parent.parent / "perfxl" / "spec" / "rubrics" / "gd-dept-2020.toml").read_text("utf-8")
B3 = ('value = { kind = "ratio", numerator = ["procurement_actual"], denominator = ["procurement_budget"] }\n'
      'rule = { kind = "linear", target = 0.95, side = "below", per_point = 0.25 }')
D3 = ('value = { kind = "field", field = "satisfaction" }\n'
      'rule = { kind = "linear", target = 0.90, side = "below", per_point = 0.25 }')


def test_a_toml_form_takes_expressions_proportional_and_ge_bands(tmp_path):
    from perfxl.spec.formbook import load_form

    text = TOML.replace(B3, 'value = { kind = "expr", expr = "(procurement_actual) / procurement_budget" }\n'
                            'rule = { kind = "proportional", target = 1, zero_division = "unbudgeted-spending" }')
    text = text.replace(D3, 'value = { kind = "field", field = "satisfaction" }\n'
                            'rule = { kind = "bands", compare = ">=", bands = [[0.95, 5], [0.85, 3]], otherwise = 0 }')
    (tmp_path / "f.toml").write_text(text.replace('id = "gd-dept-2020"', 'id = "toml-form"'), "utf-8")
    form, problems = load_form(tmp_path / "f.toml")
    assert problems == [] and form is not None
    b3 = form.rubric.indicator("B3")
    assert b3.value == {"kind": "expr", "expr": "(procurement_actual)/procurement_budget",
                        "fields": ["procurement_actual", "procurement_budget"]}
    assert b3.inputs == ("procurement_actual", "procurement_budget")
    from conftest import good_values

    from perfxl.model import Options
    from perfxl.run.pipeline import process_file
    from perfxl.write.fill import fill_workbook
    from perfxl.write.template import build_template

    build_template(tmp_path / "t.xlsx", form.rubric)

    def scored(**changes) -> object:
        fill_workbook(tmp_path / "t.xlsx", {**good_values(), **changes}, tmp_path / "r.xlsx")
        return process_file(tmp_path / "r.xlsx", "r.xlsx", Options.for_rubric(form.rubric))

    result = scored(procurement_budget=Decimal("120.00"), procurement_actual=Decimal("90.00"), satisfaction=0.9)
    by = {r.code: r for r in result.indicators}
    assert (by["B3"].value, by["B3"].reviewed_score) == (Decimal("0.75"), Decimal("3.75"))  # 5 × 90/120
    assert by["D3"].reviewed_score == 3  # 90% ≥ 85%
    spent = scored(procurement_budget=0, procurement_actual=Decimal("5.00"))
    assert "unbudgeted-spending" in [f.code for f in spent.findings]  # 除零 names the code
    assert {r.code: r for r in spent.indicators}["B3"].reviewed_score == 0


@pytest.mark.parametrize("rule, says", [
    ('rule = { kind = "proportional", target = 0 }', "target 应大于 0"),
    ('rule = { kind = "proportional", target = 1, zero_division = "oops" }', "zero_division"),
    ('rule = { kind = "bands", compare = "=", bands = [[0.95, 5]], otherwise = 0 }', "compare"),
])
def test_a_toml_form_with_a_bad_rule_names_its_line(tmp_path, rule, says):
    from perfxl.spec.formbook import load_form

    bad = tmp_path / "bad.toml"
    bad.write_text(TOML.replace(D3, 'value = { kind = "field", field = "satisfaction" }\n' + rule), "utf-8")
    form, problems = load_form(bad)
    assert form is None and len(problems) == 1 and says in str(problems[0]) and "第 186 行" in str(problems[0])


def test_a_toml_expression_is_parsed_never_executed(tmp_path):
    from perfxl.spec.formbook import load_form

    bad = tmp_path / "bad.toml"
    bad.write_text(TOML.replace(D3, 'value = { kind = "expr", expr = "__import__(\'os\').system(\'x\')" }\n'
                                    'rule = { kind = "linear", target = 0.90, side = "below", per_point = 0.25 }'), "utf-8")
    form, problems = load_form(bad)
    assert form is None and "算式" in str(problems[0]) and "第 186 行" in str(problems[0])


@pytest.mark.parametrize("kind, text, says", [
    ("proportional", "目标=100%；除零=oops", "除零“oops”不认识，可用：zero-denominator（比率分母为零）"),
    ("proportional", "目标=0", "比例的目标“0”应大于 0"),
])
def test_form_workbook_parameters_the_scorer_could_not_run_are_errors(kind, text, says):
    from perfxl.spec.formbook_params import parse_params

    _, problems = parse_params(kind, text, Decimal(5))
    assert [(s, m[:len(says)]) for s, m in problems] == [("error", says)]
    rule, problems = parse_params(kind, "目标=100%；除零=unbudgeted-spending", Decimal(5))
    assert problems == [] and rule["zero_division"] == "unbudgeted-spending"  # no longer a warning: it is used
