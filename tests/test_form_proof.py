"""Issue 12, "Done when": a bureau writes its own form workbook in Excel, and form check, template,
check and run work on it; a return made from that template and filled by another program scores
exactly as spec §12 says (every score below is worked out by hand from the §12 rules).

The bureau starts from `perfxl form export` and edits the workbook as a clerk would: a new field
inserted in its section, a label renamed, weights moved, a new indicator whose value is
`(a+b)/c` scored 比例, an expression `MIN(a,b)/b` scored 线性 and ≥ bands on another.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import good_values
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.write.fill import fill_workbook

runner = CliRunner()
HUNDRED = Decimal(100)


def r2(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _row(ws, value: str, col: int = 0) -> int:
    return next(r[col].row for r in ws.iter_rows() if r[col].value == value)


def bureau_form(folder: Path) -> Path:
    """The exported built-in, edited in place with openpyxl as a clerk edits it in Excel."""
    form = folder / "某市2020年部门整体表单.xlsx"
    result = runner.invoke(app, ["form", "export", "gd-dept-2020", "-o", str(form)])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(form)
    settings = wb["设置"]
    settings[f"B{_row(settings, '编号')}"] = "mz-dept-2020"
    settings[f"B{_row(settings, '名称')}"] = "某市部门整体支出绩效自评表（2020）"
    fields = wb["字段"]
    at = _row(fields, "income_fiscal", 1) + 1  # a new row in 三、收支情况, under 财政拨款收入
    fields.insert_rows(at)
    for col, value in zip("ABCDEFGHI", ["三、收支情况", "grants_upper", "其中：上级补助收入", "金额", "否", "万元",
                                         "上级补助；上级拨款", None, "上级部门拨入的补助收入"], strict=True):
        fields[f"{col}{at}"] = value
    fields[f"C{_row(fields, 'staff_actual', 1)}"] = "年末实有在职人数"  # a label renamed
    ind = wb["指标"]
    a1, b1 = _row(ind, "A1"), _row(ind, "B1")
    ind[f"E{a1}"], ind[f"I{a1}"] = 3, "目标与职能相符:1；指标细化量化:1；与预算相匹配:1"  # 5 -> 3
    ind[f"E{b1}"] = 10  # 15 -> 10
    at = _row(ind, "B6") + 1
    ind.insert_rows(at)
    for col, value in zip("ABCDEFGHIJ", ["B7", "预算执行", "资金保障", "资金到位率", 7,
                                          "资金到位率=（财政拨款收入+上级补助收入）/本年收入合计，按比例得分",
                                          "(income_fiscal+grants_upper)/income_total", "比例", "目标=100%", "报错"],
                          strict=True):
        ind[f"{col}{at}"] = value
    d1, d3 = _row(ind, "D1"), _row(ind, "D3")
    ind[f"G{d1}"] = "MIN(key_tasks_done,key_tasks_planned)/key_tasks_planned"  # an expression of its own
    ind[f"H{d3}"], ind[f"I{d3}"] = "分档", "≥95%:5；≥85%:3；其他:0"
    ind[f"F{d3}"] = "满意度≥95%得5分，≥85%得3分，其余不得分"
    wb.save(form)
    return form


#: self scores equal to the reviewed ones worked out below (so no score-differs): A1 now 3, B1 10
SELF = {"A1": 3, "A2": 5, "A3": 5, "A4": 5, "B1": 10, "B2": 5, "B3": 5, "B4": 5, "B5": 5, "B6": 5, "B7": 6.30,
        "C1": 5, "C2": 5, "C3": 5, "D1": 1.67, "D2": 10, "D3": 3}


def unit_values(code: str, **changes: object) -> dict[str, object]:
    vals = {k: v for k, v in good_values().items() if not k.startswith(("score_", "note_"))}
    vals.update(unit_code=code, unit_name=f"某市第{code[-1]}局", department=f"某市第{code[-1]}局",
                budget_initial=Decimal("2500.00"), income_fiscal=Decimal("2500.00"), grants_upper=Decimal("200.00"),
                key_tasks_done=5, satisfaction=0.9)
    for ind, points in SELF.items():
        vals[f"score_{ind}"] = points
        vals[f"note_{ind}"] = "按评分标准自评，佐证材料齐全。"
    vals["score_total"], vals["grade_self"] = 88.97, "良好"
    vals.update(changes)
    return vals


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bureau")
    form = bureau_form(folder)
    template = folder / "模板.xlsx"
    return folder, form, template


def test_form_check_accepts_the_bureau_form(made):
    _, form, _ = made
    result = runner.invoke(app, ["form", "check", str(form)])
    assert result.exit_code == 0, result.output
    assert "mz-dept-2020" in result.output and "字段 44 个" in result.output and "指标 17 个" in result.output


def test_template_check_and_run_score_it_as_spec_12_says(made, tmp_path):
    _, form, template = made
    result = runner.invoke(app, ["template", "--form", str(form), "-o", str(template)])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(template)
    assert "grants_upper" in wb.defined_names and "score_B7" in wb.defined_names
    sheet, ref = next(iter(wb.defined_names["grants_upper"].destinations))
    basic = wb[sheet]
    row = int(ref.split("$")[-1])
    assert basic[f"A{row}"].value == "其中：上级补助收入（万元）"
    assert basic[f"A{row - 1}"].value == "其中：财政拨款收入（万元）"  # in its section, where it was inserted
    assert any(c.value == "年末实有在职人数（人）" for c in basic["A"])
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["rubric_id"] == "mz-dept-2020"
    scores = wb["评分表"]
    formulas = {scores[f"A{r}"].value: scores[f"G{r}"].value for r in range(4, 21)}
    assert "MIN(key_tasks_done,key_tasks_planned)/key_tasks_planned" in formulas["D1"]
    assert "(income_fiscal+grants_upper)/(income_total)" in formulas["B7"]

    # three units fill the template by another program (openpyxl through the defined names)
    inbox = tmp_path / "报回"
    inbox.mkdir()
    fill_workbook(template, unit_values("M001"), inbox / "M001.xlsx")
    fill_workbook(template, unit_values("M002", grants_upper=None), inbox / "M002.xlsx")  # one input blank
    fill_workbook(template, unit_values("M003", satisfaction=None, score_D3="不适用", score_total=85.97),
                  inbox / "M003.xlsx")  # D3 不适用

    # by hand, from the §12 rules and the filled figures
    b7_value = (Decimal("2500.00") + Decimal("200.00")) / Decimal("2999.76")  # (a+b)/c
    b7 = r2(Decimal(7) * min(b7_value / Decimal(1), Decimal(1)))  # 比例: 分值 × min(value/目标, 1)
    d1_value = Decimal(min(5, 6)) / Decimal(6)
    d1 = r2(max(Decimal(0), Decimal(10) - Decimal("0.5") * (Decimal(1) - d1_value) * HUNDRED))  # 线性, 低于 100%
    d3 = Decimal(3)  # ≥ bands, first match: 90% is not ≥ 95%, is ≥ 85%
    assert (b7, d1) == (Decimal("6.30"), Decimal("1.67"))
    full = {"A1": 3, "A2": 5, "A3": 5, "A4": 5, "B1": 10, "B2": 5, "B3": 5, "B4": 5, "B5": 5, "B6": 5,
            "C1": 5, "C2": 5, "C3": 5, "D2": 10}
    total = r2(sum(map(Decimal, full.values())) + b7 + d1 + d3)
    assert total == Decimal("88.97")
    rescaled = r2((total - d3) / (HUNDRED - 5) * HUNDRED)  # D3 不适用: Σ / Σ applicable weights × 100
    assert rescaled == Decimal("90.49")

    checked = runner.invoke(app, ["check", str(inbox / "M001.xlsx"), "--form", str(form)])
    assert checked.exit_code == 0, checked.output
    assert "核定 88.97 分 良好" in checked.output

    out = tmp_path / "结果"
    ran = runner.invoke(app, ["run", str(inbox), "--rubric", str(form), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    doc = json.loads((out / "results.json").read_text("utf-8"))
    by_code = {f["unit_code"]: f for f in doc["files"]}
    m1 = by_code["M001"]
    assert m1["status"] == "reviewed" and m1["reviewed_total"] == float(total) and m1["reviewed_grade"] == "良好"
    inds = {i["code"]: i for i in m1["indicators"]}
    assert [i["code"] for i in m1["indicators"]] == [*list(full)[:10], "B7", "C1", "C2", "C3", "D1", "D2", "D3"]
    assert inds["B7"]["reviewed_score"] == float(b7) and inds["B7"]["value"] == float(round(b7_value, 6))
    assert inds["D1"]["reviewed_score"] == float(d1) and inds["D1"]["value"] == float(round(d1_value, 6))
    assert inds["D3"]["reviewed_score"] == float(d3) and inds["D3"]["value"] == 0.9
    assert all(inds[c]["reviewed_score"] == v for c, v in full.items())
    assert m1["fields"]["grants_upper"] == 200 and [f["code"] for f in m1["findings"]] == []

    m2 = by_code["M002"]  # 上级补助收入 blank while the other inputs of B7 are filled: missing-value, 无法计算
    assert m2["status"] == "error" and m2["reviewed_total"] is None
    b7_2 = next(i for i in m2["indicators"] if i["code"] == "B7")
    assert b7_2["reviewed_score"] is None and b7_2["applicable"] is None
    missing = [f for f in m2["findings"] if f["code"] == "missing-value"]
    assert len(missing) == 1 and "B25「上级补助收入」" in missing[0]["message"] and "请补填" in missing[0]["message"]

    m3 = by_code["M003"]
    assert m3["status"] == "reviewed" and m3["reviewed_total"] == float(rescaled) and m3["reviewed_grade"] == "优秀"
    assert [f["code"] for f in m3["findings"]] == ["not-applicable"]
    report = next((out / "reports").glob("M001_*.md")).read_text("utf-8")
    assert "资金到位率" in report and "88.97" in report
    assert (out / "summary.xlsx").is_file()
    assert dt.date.fromisoformat(doc["deadline"]) == dt.date(2021, 6, 20)
