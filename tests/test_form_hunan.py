"""The second built-in form hn-dept-2020 (issue 12): a 湖南 county's 部门整体 form with its own fields,
indicators and 校验 rows, all in one TOML file, through the whole product with no code of its own.

Every expected score below is worked out by hand from the published rules the form's comment cites
(domain.md §1.2), never by calling the scorer.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import Options
from perfxl.spec.fields import fields as global_fields
from perfxl.spec.form import builtin_form
from perfxl.spec.formbook import load_form
from perfxl.spec.rubric import RubricError, builtin_ids, load_rubric, parse_rubric
from perfxl.write.fill import fill_workbook

runner = CliRunner()
FORM = builtin_form("hn-dept-2020")
HUNDRED = Decimal(100)
D = Decimal


def r2(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def linear(weight: int, per_point: str, rate: Decimal, target: Decimal, side: str) -> Decimal:
    """“每高/低1个百分点扣 k 分，扣完为止” (spec §4.2), written out again for the test."""
    gap = (rate - target) if side == "above" else (target - rate)
    return r2(min(D(weight), max(D(0), D(weight) - D(per_point) * max(gap, D(0)) * HUNDRED)))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hn") / "hn-dept-2020_模板.xlsx"
    result = runner.invoke(app, ["template", "--form", "hn-dept-2020", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def names(path: Path) -> dict[str, tuple[str, str]]:
    """Defined name -> (sheet, A1 cell) of a workbook."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for name, dn in wb.defined_names.items():
        (sheet, ref), = dn.destinations
        out[name] = (sheet, ref.replace("$", ""))
    return out


# -- the form --------------------------------------------------------------------------------

def test_the_form_is_built_in_and_has_fields_of_its_own():
    assert "hn-dept-2020" in builtin_ids() and "gd-dept-2020" in builtin_ids()
    assert not any(i.endswith(".checks") for i in builtin_ids())
    own = set(FORM.fields)
    assert {"budget_added", "sangong_car", "sangong_abroad", "sangong_reception", "reception_budget",
            "public_actual", "tasks_on_time", "tasks_quality", "text_austerity"} <= own - set(global_fields())
    assert not {"key_tasks_planned", "staff_quota_admin", "retirees"} & own  # the global list's, not this form's
    assert {"budget_initial", "carryover_begin", "income_total"} <= own & set(global_fields())  # shared keys
    assert FORM.rubric.fields == FORM.fields and load_rubric("hn-dept-2020").fields == FORM.fields
    for key, kind in {"unit_code": "code", "unit_name": "text", "eval_year": "year", "filing_date": "date"}.items():
        assert FORM.fields[key].type == kind and FORM.fields[key].required
    # the published shape: 投入 20 (新邵), 过程 61 (雨花), the rest 产出及效果; weights of 1.2 as published
    assert FORM.level1_totals == (("投入", D(20)), ("过程", D(61)), ("产出及效果", D(19)))
    weights = {i.name: i.weight for i in FORM.rubric.indicators}
    assert (weights["在职人员控制率"], weights["“三公经费”变动率"], weights["公务接待费变动率"],
            weights["预算完成率"], weights["预算控制率"], weights["绩效目标合理性"], weights["绩效指标明确性"]) == (5, 8, 2, 5, 5, 2, 3)
    codes = [c.code for c in FORM.checks]
    assert {"sangong-sum-mismatch", "reception-over-sangong", "budget-adjustment-high", "task-count-mismatch"} <= set(codes)
    assert FORM.rubric.checks == FORM.checks  # its rows are run, not the built-in's code


def test_gd_dept_2020_is_unchanged():
    gd = builtin_form("gd-dept-2020")
    assert gd.fields == global_fields() and gd.level1_totals == ()
    assert [c.code for c in gd.checks] == ["balance-mismatch", "sum-mismatch", "sum-mismatch", "sum-mismatch",
                                          "sum-mismatch", "date-order"]
    assert gd.rubric.hash == load_rubric("gd-dept-2020").hash


def test_the_template_carries_the_forms_own_fields(template):
    got = names(template)
    assert set(FORM.fields) | {"score_total", "grade_self"} | {f"{p}_{i.code}" for i in FORM.rubric.indicators
                                                                for p in ("score", "note")} == set(got)
    assert "key_tasks_planned" not in got and "staff_quota_admin" not in got  # the global list's, not this form's
    wb = openpyxl.load_workbook(template)
    sheet, cell = got["sangong_car"]
    row = int(cell[1:])
    assert wb[sheet][f"A{row}"].value == "其中：公务用车购置及运行维护费（万元）"
    assert wb[sheet][f"A{row - 1}"].value == "本年“三公”经费决算数（万元）"  # in its section, in form order
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["rubric_id"] == "hn-dept-2020" and meta["rubric_hash"] == FORM.rubric.hash
    scores = wb["评分表"]
    b1 = next(r for r in range(1, 40) if scores[f"A{r}"].value == "B1")
    assert "(carryover_begin+budget_initial+budget_added-carryover_end)/(carryover_begin+budget_initial+budget_added)" \
        in scores[f"G{b1}"].value


# -- scoring, worked out by hand -------------------------------------------------------------

FIGURES: dict[str, object] = {
    "unit_name": "新邵县测试局", "unit_code": "430522901", "department": "新邵县测试局", "unit_type": "行政单位",
    "eval_year": 2020, "filing_date": dt.date(2021, 6, 10),
    "staff_quota": 40, "staff_actual": 41,
    "carryover_begin": D("50.00"), "budget_initial": D("1000.00"), "budget_added": D("150.00"),
    "income_total": D("1150.00"), "income_fiscal": D("1150.00"), "expense_total": D("1100.00"),
    "expense_basic": D("600.00"), "expense_project": D("500.00"), "carryover_end": D("100.00"),
    "sangong_budget_prev": D("10.00"), "sangong_budget": D("10.30"), "sangong_actual": D("10.80"),
    "sangong_car": D("7.00"), "sangong_abroad": D("0.80"), "sangong_reception": D("3.00"),
    "reception_budget_prev": D("4.00"), "reception_budget": D("4.10"),
    "public_budget": D("80.00"), "public_actual": D("82.00"),
    "procurement_budget": D("300.00"), "procurement_actual": D("255.00"),
    "fixed_assets_total": D("500.00"), "fixed_assets_in_use": D("480.00"),
    "budget_approved_date": dt.date(2020, 1, 10), "budget_published_date": dt.date(2020, 2, 4),
    "tasks_planned": 8, "tasks_done": 7, "tasks_on_time": 6, "tasks_quality": 7, "satisfaction": 0.88,
    "text_functions": "负责测试。", "text_key_work": "测试工作。", "text_targets": "完成测试。", "text_effects": "测试完成。",
    "text_problems": "无",
}
MANUAL = {"A1": D("1.5"), "A2": D(3), "B6": D(5), "B7": D(9), "B8": D(4), "B10": D(3), "B11": D(3), "B12": D(5),
          "C4": D(4)}


def by_hand() -> dict[str, Decimal]:
    """Each computed indicator from the published rules and the figures above."""
    f = {k: D(str(v)) if isinstance(v, int | float | Decimal) else v for k, v in FIGURES.items()}
    got = {
        # 在职人员控制率 ≤100% full, −0.5 a point above (雨花): 41/40 = 102.5%
        "A3": linear(5, "0.5", f["staff_actual"] / f["staff_quota"], D(1), "above"),
        # “三公经费”变动率 ≤0 full, −0.8 a point above (雨花): +3%
        "A4": linear(8, "0.8", (f["sangong_budget"] - f["sangong_budget_prev"]) / f["sangong_budget_prev"], D(0), "above"),
        # 公务接待费变动率 ≤0 → 2, −0.2 a point above: +2.5%
        "A5": linear(2, "0.2", (f["reception_budget"] - f["reception_budget_prev"]) / f["reception_budget_prev"], D(0),
                     "above"),
        "B3": linear(4, "0.4", f["public_actual"] / f["public_budget"], D(1), "above"),
        "B4": linear(4, "0.4", f["sangong_actual"] / f["sangong_budget"], D(1), "above"),
        "B5": r2(D(4) * min(f["procurement_actual"] / f["procurement_budget"], D(1))),  # 比例, capped
        "B9": D(4) if (f["budget_published_date"] - f["budget_approved_date"]).days <= 20 else D(0),  # 25 days
        "B13": linear(5, "0.5", f["fixed_assets_in_use"] / f["fixed_assets_total"], D(1), "below"),
        "C1": r2(D(5) * min(f["tasks_done"] / f["tasks_planned"], D(1))),
        "C2": r2(D(3) * min(f["tasks_on_time"] / f["tasks_planned"], D(1))),
        "C3": r2(D(3) * min(f["tasks_quality"] / f["tasks_planned"], D(1))),
        "C5": linear(3, "0.3", f["satisfaction"], D("0.90"), "below"),
    }
    # 预算完成率 (湖南's formula), 100% → 5, −2 for every 5% below, a part-step counting as one
    avail = f["carryover_begin"] + f["budget_initial"] + f["budget_added"]
    done = (avail - f["carryover_end"]) / avail
    steps = ((D(1) - done) / D("0.05")).to_integral_value(rounding=ROUND_CEILING)
    got["B1"] = max(D(0), D(5) - D(2) * steps)
    # 预算控制率 = 追加 / 年初: 0 → 5; ≤10% → 4; ≤20% → 3; ≤30% → 2; else 0
    adj = f["budget_added"] / f["budget_initial"]
    got["B2"] = next((D(p) for bound, p in ((0, 5), ("0.10", 4), ("0.20", 3), ("0.30", 2)) if adj <= D(bound)), D(0))
    return got


def test_a_return_filled_by_another_program_scores_as_the_published_rules_say(template, tmp_path):
    computed = by_hand()
    assert computed == {"A3": D("3.75"), "A4": D("5.60"), "A5": D("1.50"), "B1": D(1), "B2": D(3), "B3": D("3.00"),
                        "B4": D("2.06"), "B5": D("3.40"), "B9": D(0), "B13": D("3.00"), "C1": D("4.38"),
                        "C2": D("2.25"), "C3": D("2.63"), "C5": D("2.40")}
    scores = {**MANUAL, **computed}
    assert set(scores) == {i.code for i in FORM.rubric.indicators}
    total = sum(scores.values(), D(0))
    inbox = tmp_path / "报回"
    inbox.mkdir()
    values = {**FIGURES, **{f"score_{c}": float(s) for c, s in scores.items()},
              **{f"note_{c}": "按评分标准自评，佐证材料齐全。" for c in scores},
              "score_total": float(total), "grade_self": FORM.rubric.grade(total)}
    fill_workbook(template, values, inbox / "430522901.xlsx")
    # C5 left blank: 不适用, its 3 points leave the total (Σ / 97 × 100)
    fill_workbook(template, {**values, "unit_code": "430522902", "satisfaction": None, "score_C5": "不适用",
                             "score_total": float(total - scores["C5"])}, inbox / "430522902.xlsx")

    checked = runner.invoke(app, ["check", str(inbox / "430522901.xlsx"), "--form", "hn-dept-2020"])
    assert checked.exit_code == 0, checked.output
    assert f"核定 {total:.2f} 分 {FORM.rubric.grade(total)}" in checked.output

    out = tmp_path / "结果"
    ran = runner.invoke(app, ["run", str(inbox), "--form", "hn-dept-2020", "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    doc = json.loads((out / "results.json").read_text("utf-8"))
    assert doc["rubric"] == "hn-dept-2020"
    one, two = sorted(doc["files"], key=lambda f: f["file"])
    assert one["status"] == "reviewed" and [f["code"] for f in one["findings"]] == []
    assert {i["code"]: D(str(i["reviewed_score"])) for i in one["indicators"]} == scores
    assert D(str(one["reviewed_total"])) == total == D("75.47") and one["reviewed_grade"] == "中"
    assert one["fields"]["sangong_car"] == 7 and one["fields"]["tasks_on_time"] == 6  # its own fields, kept
    rescaled = r2((total - scores["C5"]) / (HUNDRED - 3) * HUNDRED)
    assert D(str(two["reviewed_total"])) == rescaled == D("75.33")
    assert [f["code"] for f in two["findings"]] == ["not-applicable"]
    report = next((out / "reports").glob("430522901_*.md")).read_text("utf-8")
    assert "预算完成率为91.67%，得1.00分" in report and "公务接待费变动率" in report


# -- the form's own 校验 rows ----------------------------------------------------------------

def test_its_checks_fire_on_the_right_cells(template, tmp_path):
    from perfxl.run.pipeline import candidates_for, run_candidates

    bad = {**FIGURES,
           "sangong_car": D("6.00"),        # 6.00 + 0.80 + 3.00 = 9.80 ≠ 10.80
           "reception_budget": D("11.00"),  # above the whole “三公” budget 10.30
           "tasks_on_time": 8, "tasks_quality": 8,  # more than the 7 done
           "budget_added": D("400.00"), "income_total": D("1400.00"), "income_fiscal": D("1400.00"),
           "carryover_end": D("350.00")}    # 追加 400 > 30% of 1000; the balance still holds (1450 = 1450)
    path = tmp_path / "430522903.xlsx"
    fill_workbook(template, bad, path)
    (result,) = run_candidates(candidates_for([path]), Options.for_rubric(FORM.rubric), jobs=1).files
    cell = {k: c for k, (_, c) in names(template).items()}
    rows = {c.code for c in FORM.checks}  # balance-mismatch, sum-mismatch and date-order hold here
    got = {(f.code, f.cells) for f in result.findings if f.code in rows}
    assert got == {
        ("sangong-sum-mismatch", (cell["sangong_actual"], cell["sangong_car"], cell["sangong_abroad"],
                                  cell["sangong_reception"])),
        ("reception-over-sangong", (cell["reception_budget"], cell["sangong_budget"])),
        ("task-count-mismatch", (cell["tasks_on_time"], cell["tasks_done"])),
        ("task-count-mismatch", (cell["tasks_quality"], cell["tasks_done"])),
        ("budget-adjustment-high", (cell["budget_added"], cell["budget_initial"])),
    }
    by_code = {f.code: f for f in result.findings}
    assert by_code["budget-adjustment-high"].severity.value == "warning"
    assert by_code["sangong-sum-mismatch"].severity.value == "error"
    assert by_code["sangong-sum-mismatch"].title == "“三公”经费分项与合计"
    assert "= 9.80，与「本年“三公”经费决算数」10.80 不符，相差 1.00" in by_code["sangong-sum-mismatch"].message
    assert all(f.sheet == "基础数据表" for f in result.findings if f.code in rows)
    assert result.status == "error"


# -- export, check, import -------------------------------------------------------------------

def test_export_check_import_keeps_the_hash(tmp_path, template):
    book = tmp_path / "湖南表单.xlsx"
    exported = runner.invoke(app, ["form", "export", "hn-dept-2020", "-o", str(book)])
    assert exported.exit_code == 0, exported.output
    checked = runner.invoke(app, ["form", "check", str(book)])
    assert checked.exit_code == 0, checked.output
    assert "hn-dept-2020" in checked.output and "字段 50 个" in checked.output and "校验 10 条" in checked.output
    form, problems = load_form(book)
    assert problems == [] and form is not None
    assert form.rubric.hash == FORM.rubric.hash
    assert (form.sections, form.checks, form.level1_totals) == (FORM.sections, FORM.checks, FORM.level1_totals)
    settings = {r[0]: r[1] for r in openpyxl.load_workbook(book)["设置"].iter_rows(values_only=True)}
    assert settings["一级分值"] == "投入=20；过程=61；产出及效果=19"
    again = tmp_path / "由表单工作簿生成的模板.xlsx"
    made = runner.invoke(app, ["template", "--form", str(book), "-o", str(again)])
    assert made.exit_code == 0, made.output
    assert again.read_bytes() == template.read_bytes()  # the same form, the same template


# -- a TOML form's own fields, as a bureau writes them -------------------------------------------

MINIMAL = """\
id = "x-dept-2020"
name = "某县表"
year = 2020
deadline = { year_offset = 1, month = 6, day = 20 }
grades = [{ min = 60, label = "合格" }, { min = 0, label = "不合格" }]

[[section]]
title = "基本信息"

[[section.field]]
key = "unit_name"
label = "单位名称"
type = "text"
required = true

[[section.field]]
key = "unit_code"
label = "单位编码"
type = "code"
required = true

[[section.field]]
key = "eval_year"
label = "评价年度"
type = "year"
required = true

[[section.field]]
key = "filing_date"
label = "填报日期"
type = "date"
required = true

[[section.field]]
key = "spent"
label = "执行数"
type = "money"

[[section.field]]
key = "planned"
label = "预算数"
type = "money"

[[indicator]]
code = "G1"
level1 = "执行"
level2 = "执行"
name = "执行率"
weight = 100
criteria = "按比例"
value = { kind = "expr", expr = "spent / planned" }
rule = { kind = "proportional", target = 1 }
"""


def test_a_toml_form_uses_its_own_fields_instead_of_the_global_list(tmp_path):
    rubric = parse_rubric(MINIMAL, "x.toml")
    assert list(rubric.fields) == ["unit_name", "unit_code", "eval_year", "filing_date", "spent", "planned"]
    path = tmp_path / "x.toml"
    path.write_text(MINIMAL, "utf-8")
    assert load_rubric(str(path)).fields == rubric.fields


@pytest.mark.parametrize(("change", "line", "words"), [
    (('key = "spent"\nlabel = "执行数"\ntype = "money"', 'key = "spent"\nlabel = "执行数"\ntype = "money2"'), 35,
     "类型 'money2' 不认识"),
    (('key = "planned"', 'key = "spent"'), 40, "字段键“spent”重复"),
    (('label = "预算数"', 'label = "“执行数”"'), 40, "与字段 spent 的名称或别名相同"),
    (('key = "spent"', 'key = "Spent"'), 35, "应以小写英文字母开头"),
    (('key = "planned"', 'key = "tax2020"'), 40, "单元格地址 TAX2020"),
    (('key = "filing_date"\nlabel = "填报日期"\ntype = "date"\nrequired = true',
      'key = "filing_date"\nlabel = "填报日期"\ntype = "date"'), 29, "缺少必备字段“filing_date”"),
])
def test_a_bad_own_field_is_named_with_its_line(change, line, words):
    old, new = change
    assert old in MINIMAL
    with pytest.raises(RubricError) as caught:
        parse_rubric(MINIMAL.replace(old, new, 1), "x.toml")
    assert f"x.toml 第 {line} 行：" in str(caught.value) and words in str(caught.value)


# -- analysis reads its fields by the form ---------------------------------------------------

def test_analysis_types_the_forms_own_fields(tmp_path):
    samples = Path(__file__).resolve().parent.parent / "examples" / "returns-hunan-2020"
    out = tmp_path / "out"
    ran = runner.invoke(app, ["run", str(samples), "--form", "hn-dept-2020", "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    from perfxl import analysis

    run = analysis.load(out)
    assert str(run.files["tasks_on_time"].dtype) == "Int64" and run.files["sangong_car"].dtype.kind == "f"
    assert run.files["budget_approved_date"].dtype.kind == "M"
    assert set(run.indicators["code"]) == {i.code for i in FORM.rubric.indicators}
    assert run.indicators.loc[run.indicators["code"] == "A4", "weight"].iloc[0] == 8


def test_the_report_shows_the_forms_own_long_texts_under_other(tmp_path):
    """A long text the built-in outline has no place for (厉行节约保障措施) is in 四、其他自评情况, by its label."""
    from perfxl.model import BatchResult
    from perfxl.run.pipeline import process_file
    from perfxl.write.report import render_report

    own = [f for k, f in FORM.fields.items() if f.type == "longtext" and k not in global_fields()]
    assert own, "hn-dept-2020 has a long text of its own"
    sample = sorted((Path(__file__).resolve().parent.parent / "examples" / "returns-hunan-2020").glob("*.xlsx"))[0]
    opts = Options.for_rubric(FORM.rubric)
    result = process_file(sample, sample.name, opts)
    text = render_report(result, BatchResult(FORM.rubric, opts.year, opts.deadline))
    other = text.split("## 四、其他自评情况", 1)[1].split("单位（公章）", 1)[0]
    for f in own:
        value = result.fields.get(f.key)
        assert value and f"**{f.label}**：" in other and str(value).splitlines()[0] in other
    assert "无。" not in other  # something was said
