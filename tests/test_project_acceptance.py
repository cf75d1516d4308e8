"""Acceptance of issue 13 ("Done when"), end to end through the product: the project form
`proj-2020` (spec §13) from `perfxl template --form proj-2020`, filled by another program as a
unit fills it (sheets copied with their sheet-scoped names), read, scored and checked by
`process_file` and `perfxl run`, and every number compared with one worked out by hand from the
rules of §13 (the arithmetic is in the comments beside the data).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest
from conftest import good_values
from openpyxl.utils import quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.model import Options
from perfxl.run.pipeline import process_file
from perfxl.spec.project import builtin_project_form
from perfxl.spec.rubric import load_rubric
from perfxl.write.fill import fill_workbook
from perfxl.write.fill_project import fill_projects, insert_rows
from perfxl.write.template import build_template

FORM = builtin_project_form("proj-2020")
DEPT = load_rubric("gd-dept-2020")
runner = CliRunner()

#: results.json `projects[]` and `projects[].indicators[]` keys, exactly as spec §13 lists them
PROJECT_KEYS = ["sheet", "project_name", "budget_annual", "spent", "execution_rate", "execution_self_score",
                "execution_score", "indicators", "self_total", "reviewed_total", "self_grade", "reviewed_grade",
                "capped_by_execution"]
INDICATOR_KEYS = ["row", "level1", "level2", "name", "direction", "target", "actual", "unit", "weight",
                  "self_score", "reviewed_score", "applicable"]
#: the template's layout (checked in test_the_template_is_laid_out_as_these_tests_assume)
HEADER_ROW, FIRST_ROW, TOTAL_CELL, GRADE_CELL = 14, 15, "I46", "I47"
COL = dict(level1="A", level2="B", name="C", direction="D", target="E", unit="F", actual="G", weight="H",
           self_score="I", reason="J")
HEADERS = dict(level1="一级指标", level2="二级指标", name="三级指标", direction="指标性质", target="年度指标值",
               unit="计量单位", actual="实际完成值", weight="分值", self_score="自评得分", reason="偏差原因分析及改进措施")
#: the severities §13 and §5 give
SEVERITY = {"weight-total": "error", "weight-split": "warning", "deviation-unexplained": "warning",
            "target-too-low": "warning", "indicator-kinds": "error", "spending-over-budget": "error",
            "weight-changed": "error", "score-differs": "warning", "total-mismatch": "error", "grade-mismatch": "error",
            "score-out-of-range": "error"}


@dataclass(frozen=True)
class Pct:
    """A number typed into a cell formatted as a percentage (0.97 shown as 97%)."""

    value: float


def R(l1, l2, name, direction, target, unit, actual, weight, score, reason=None) -> dict:
    return dict(level1=l1, level2=l2, name=name, direction=direction, target=target, unit=unit, actual=actual,
                weight=weight, self_score=score, reason=reason)


UNIT = {"unit_name": "测试市测试局", "unit_code": "T001", "department": "测试市测试局", "eval_year": 2020,
        "filing_date": dt.date(2021, 6, 4), "phone": "0759-1234567", "project_lead": "李四"}

# -- project A 人才工作专项: 执行率 142.5 / 150 = 0.95 → 预算执行率 10 × 0.95 = 9.50; no cap (≥ 80 %) -----
A_ROWS = [
    # ≥ 50 人, 52: min(52/50, 1) = 1 → 15 (52/50 = 1.04 < 1.3: no target-too-low)
    R("产出指标", "数量指标", "引进高层次人才数", "≥", "≥50", "人", "52", 15, 15),
    # ≥ 3个, 2个 (units in both cells): 10 × 2/3 = 6.6666… → 6.67
    R(None, None, "人才培训班期数", "≥", "3个", None, "2个", 10, 6.67, "一期培训因疫情推迟到次年"),
    # ≥95% against a cell holding 0.97 formatted as 97 %: both fractions, 0.97 ≥ 0.95 → 10
    R(None, "质量指标", "培训合格率", "≥", "≥95%", None, Pct(0.97), 10, 10),
    # 定性: the unit's own 4 of 5 is the reviewed score
    R(None, "时效指标", "资金拨付及时性", "定性", "按期拨付", None, "个别批次延后", 5, 4, "第三批资金拨付延后半个月"),
    # ≤ 0.3 万元, 0.33: 10 × 0.3 / 0.33 = 9.0909… → 9.09
    R(None, "成本指标", "人均培训成本", "≤", "≤0.3", "万元", 0.33, 10, 9.09, "场地费上涨"),
    # = 100%, 98%: 20 × max(0, 1 − |0.98 − 1| / 1) = 20 × 0.98 = 19.60
    R("效益指标", "社会效益指标", "人才政策兑现率", "=", "100%", None, "98%", 20, 19.6, "两项补贴次年兑现"),
    # ≥ 40万人次, 33.3万人次: 10 × 33.3 / 40 = 8.325 → half-up 8.33 (half-even would give 8.32)
    R(None, "可持续影响指标", "政策受益人次", "≥", "40万人次", None, "33.3万人次", 10, 8.33, "宣传覆盖不足"),
    # ≥ 90%, 96%: full → 10
    R("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", "≥90%", None, "96%", 10, 10),
]
# reviewed total = 9.50 + 15 + 6.67 + 10 + 4 + 9.09 + 19.60 + 8.33 + 10 = 92.19 → 优秀; the unit's own sum is the same
A = {**UNIT, "project_name": "人才工作专项", "implementer": "市委人才办", "budget_initial": D("120.00"),
     "budget_annual": D("150.00"), "spent": D("142.50"), "budget_initial_fiscal": D("120.00"),
     "budget_annual_fiscal": D("150.00"), "spent_fiscal": D("142.50"), "exec_score": 9.5,
     "target_text": "引进培养高层次人才。", "outcome_text": "引进人才 52 名。", "problems_text": "部分资金拨付偏慢。",
     "measures_text": "加快拨付进度。", "score_total": 92.19, "grade_self": "优秀", "rows": A_ROWS}

# -- project B 基层党建专项: 执行率 210 / 280 = 0.75 → 7.50; < 80 % caps the total at 89 (not < 70 %) ----
B_ROWS = [
    R("产出指标", "数量指标", "党群服务中心建设数", "≥", "20个", "个", "20个", 20, 20),  # met → 20
    R(None, None, "新增志愿服务队", "≥", 0, "支", "3支", 10, 10),  # ≥ with target 0, 实际 ≥ 0 → full 10
    R(None, "质量指标", "安全责任事故数", "≤", "0", "起", 0, 10, 10),  # ≤ with target 0, 实际 = 0 → full 10
    R(None, "时效指标", "逾期完工项目数", "=", "0个", None, "0个", 10, 10),  # = with target 0, 实际 = 0 → full 10
    R("效益指标", "可持续影响指标", "服务中心持续运行", "定性", "长期运行", None, "正常运行", 30, 30),  # 定性 30 → 30
    R("满意度指标", "服务对象满意度指标", "群众满意度", "≥", "≥90%", None, Pct(0.92), 10, 10),  # 0.92 ≥ 0.90 → 10
]
# Σ = 7.50 + 20 + 10 + 10 + 10 + 30 + 10 = 97.50 > 89 → reviewed 89.00 (capped), 良好; self 97.5 优秀 (never capped)
B = {**UNIT, "project_name": "基层党建专项", "implementer": "市委组织部组织科", "budget_initial": D("300"),
     "budget_annual": D("280"), "spent": D("210"), "exec_score": 7.5, "exec_reason": "部分项目年底才完工验收。",
     "target_text": "建设党群服务中心。", "outcome_text": "建成 20 个。", "score_total": 97.5, "grade_self": "优秀",
     "rows": B_ROWS}

# -- project C 党员教育培训: 执行率 65 / 100 = 0.65 → 6.50; < 80 % (89) and < 70 % (79): the lowest, 79 -----
C_ROWS = [
    R("产出指标", "数量指标", "培训人次", "≥", "1000人次", None, "1200人次", 30, 30),  # 1.2 < 1.3 → 30
    R(None, "质量指标", "考核合格率", "=", "100%", None, "100%", 20, 20),  # equal → 20
    R("效益指标", "社会效益指标", "党员素质提升", "定性", "提升", None, "明显提升", 30, 27, "部分支部学习不深入"),  # 27
    R("满意度指标", "服务对象满意度指标", "参训满意度", "≥", "90%", "%", "85%", 10, 9.44, "课程安排偏紧"),
    # ↑ 10 × 0.85 / 0.90 = 9.444… → 9.44
]
# Σ = 6.50 + 30 + 20 + 27 + 9.44 = 92.94 > 79 → reviewed 79.00 (capped), 中; self 92.94 优秀
C = {**UNIT, "project_name": "党员教育培训", "budget_initial": D("100"), "budget_annual": D("100"), "spent": D("65"), "exec_score": 6.5,
     "exec_reason": "线下培训因疫情取消两期。", "target_text": "培训党员。", "outcome_text": "已完成 1200 人次。",
     "score_total": 92.94, "grade_self": "优秀", "rows": C_ROWS}

#: sheet titles as a user leaves them: the template's, Excel's name for a copy, a renamed copy
TITLES = ["项目1", "项目1 (2)", "党员教育"]

#: per project: (execution_rate, execution_score, [reviewed score per row], reviewed_total, grade, capped)
EXPECTED = {
    "人才工作专项": (D("0.95"), D("9.5"), [D(x) for x in ("15", "6.67", "10", "4", "9.09", "19.6", "8.33", "10")],
                 D("92.19"), "优秀", False),
    "基层党建专项": (D("0.75"), D("7.5"), [D(x) for x in ("20", "10", "10", "10", "30", "10")], D("89"), "良好", True),
    "党员教育培训": (D("0.65"), D("6.5"), [D(x) for x in ("30", "20", "27", "9.44")], D("79"), "中", True),
}
SELF = {"人才工作专项": (D("92.19"), "优秀"), "基层党建专项": (D("97.5"), "优秀"), "党员教育培训": (D("92.94"), "优秀")}

# -- one clean project (every row at full marks, 执行率 100 %) for the finding tests ----------------
CLEAN_ROWS = [
    R("产出指标", "数量指标", "引进人才数", "≥", "≥50", "人", "52", 20, 20),  # row 15
    R(None, "质量指标", "培训合格率", "≥", "≥95%", None, "97%", 15, 15),  # row 16
    R(None, "时效指标", "资金拨付及时性", "定性", "按期完成", None, "按期完成", 5, 5),  # row 17
    R(None, "成本指标", "人均培训成本", "≤", "≤0.3", "万元", "0.28", 10, 10),  # row 18
    R("效益指标", "社会效益指标", "人才留用率", "=", "100%", None, "100%", 30, 30),  # row 19
    R("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", "≥90%", None, "96%", 10, 10),  # row 20
]
CLEAN = {**UNIT, "project_name": "人才服务专项", "budget_initial": D("100"), "budget_annual": D("100"), "spent": D("100"), "exec_score": 10,
         "target_text": "服务人才。", "outcome_text": "已完成。", "score_total": 100, "grade_self": "优秀", "rows": CLEAN_ROWS}
#: the sheet that carries the project under test in a finding file; a clean 项目1 stands before it
PLAIN = {**CLEAN, "project_name": "人才公寓运营"}
SHEET = "项目1 (2)"


# -- filling, as another program does ----------------------------------------------------------


def hand_copy(wb, source: str, title: str):
    """Copy a sheet as Excel's 移动或复制 does, done here with openpyxl itself (not the product's
    helper): copy_worksheet, then each sheet-scoped name of the source re-created on the copy
    (openpyxl writes it with the copy's localSheetId) pointing at the same cell of the copy. The
    copy is left at the end of the workbook, after the hidden _meta (Excel's 移至最后)."""
    src = wb[source]
    ws = wb.copy_worksheet(src)
    ws.title = title
    for name, dn in src.defined_names.items():
        ref = dn.attr_text.split("!")[-1]
        ws.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(title)}!{ref}")
    return ws


def _named(ws, name: str):
    ref = ws.defined_names[name].attr_text.split("!")[-1].replace("$", "")
    return ws[ref]


def _put(cell, value) -> None:
    if isinstance(value, Pct):
        cell.value, cell.number_format = value.value, "0%"
    elif isinstance(value, D):
        cell.value = float(value)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        cell.value = dt.datetime.combine(value, dt.time())
    else:
        cell.value = value


def write_by_hand(ws, project: dict) -> None:
    """Fields through the sheet's own names; rows from the row below ind_header, each column found
    by its header text in that row."""
    header = _named(ws, "ind_header").row
    cols = {key: c.column for c in ws[header] for key, text in HEADERS.items() if c.value == text}
    for key, value in project.items():
        if key != "rows":
            _put(_named(ws, key), value)
    for i, row in enumerate(project["rows"]):
        for key, value in row.items():
            _put(ws.cell(header + 1 + i, cols[key]), value)


def build_by_hand(template: Path, projects: list[dict], out: Path, titles: list[str] = TITLES, edit=None) -> Path:
    """项目1 copied (before any is filled) once per further project, every project written, `edit`
    applied to the workbook last."""
    wb = openpyxl.load_workbook(template)
    for title in titles[1: len(projects)]:
        hand_copy(wb, titles[0], title)
    for title, project in zip(titles, projects, strict=False):
        write_by_hand(wb[title], project)
    if edit is not None:
        edit(wb)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def changed(project: dict, row: int | None = None, **kw) -> dict:
    """A copy of `project` with fields changed, or with the columns of rows[row] changed."""
    out = {**project, "rows": [dict(r) for r in project["rows"]]}
    if row is None:
        out.update(kw)
    else:
        out["rows"][row].update(kw)
    return out


def evaluate(path: Path):
    return process_file(path, path.name, Options.for_rubric(FORM))


def project_summary(result) -> dict:
    """name → (execution_rate, execution_score, row scores, reviewed_total, grade, capped)."""
    return {p.project_name: (p.execution_rate, p.execution_score, [i.reviewed_score for i in p.indicators],
                             p.reviewed_total, p.reviewed_grade, p.capped_by_execution) for p in result.projects}


def serious(result) -> list:
    """The error- and warning-level findings (info ones are not in question here)."""
    return [f for f in result.findings if f.severity.value != "info"]


def run_cli(inbox: Path, out: Path, *forms: str) -> dict:
    args = ["run", str(inbox), "--out", str(out), "--jobs", "1"]
    for form in forms:
        args += ["--form", form]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("acc-template") / "T.xlsx"
    result = runner.invoke(app, ["template", "--form", "proj-2020", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def three(template, tmp_path_factory) -> Path:
    return build_by_hand(template, [A, B, C], tmp_path_factory.mktemp("acc-three") / "T001_项目.xlsx")


# -- 1. three copied project sheets score exactly as §13 --------------------------------------


def test_the_template_is_laid_out_as_these_tests_assume(template):
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == ["填报说明", "项目1", "_meta"] and wb["_meta"].sheet_state == "hidden"
    ws = wb["项目1"]
    assert [ws.cell(HEADER_ROW, c).value for c in range(1, 11)] == list(HEADERS.values())
    assert ws["A46"].value == "自评总分" and ws["A47"].value == "自评等级"
    assert _named(ws, "score_total").coordinate == TOTAL_CELL and _named(ws, "grade_self").coordinate == GRADE_CELL
    assert _named(ws, "ind_header").coordinate == f"A{HEADER_ROW}"
    assert dict(wb.defined_names) == {}  # every name is scoped to 项目1 (spec §13), so a copy carries its own


def test_the_hand_made_copies_carry_sheet_scoped_names(three):
    xml = zipfile.ZipFile(three).read("xl/workbook.xml").decode("utf-8")
    sheets = re.findall(r'<sheet [^>]*name="([^"]+)"', xml)
    assert sheets == ["填报说明", "项目1", "_meta", "项目1 (2)", "党员教育"]  # the copies after the hidden _meta
    scoped = re.findall(r'<definedName name="project_name" localSheetId="(\d+)">([^<]*)<', xml)
    assert scoped == [("1", "'项目1'!$C$3"), ("3", "'项目1 (2)'!$C$3"), ("4", "'党员教育'!$C$3")]
    assert "<definedName name=\"project_name\">" not in xml


def test_three_copied_projects_score_exactly_as_section_13(three):
    result = evaluate(three)
    assert result.form == "proj-2020" and result.status == "reviewed"
    assert serious(result) == [], [(f.code, f.sheet, f.cell, f.message) for f in serious(result)]
    assert [(p.sheet, p.project_name) for p in result.projects] == list(zip(TITLES, EXPECTED, strict=True))
    assert project_summary(result) == EXPECTED
    assert {p.project_name: (p.self_total, p.self_grade) for p in result.projects} == SELF
    assert [p.execution_self_score for p in result.projects] == [D("9.5"), D("7.5"), D("6.5")]
    assert [i.row for i in result.projects[0].indicators] == list(range(FIRST_ROW, FIRST_ROW + len(A_ROWS)))
    # a blank 一级/二级 continues the one above (spec §13)
    talent = result.projects[0].indicators
    assert [(i.level1, i.level2) for i in talent[:3]] == [("产出指标", "数量指标")] * 2 + [("产出指标", "质量指标")]
    assert [i.direction for i in talent] == ["≥", "≥", "≥", "定性", "≤", "=", "≥", "≥"]


def test_the_product_fill_helper_gives_the_same_scores(template, three, tmp_path):
    """write.fill_project copies 项目1 its own way: the same file content must read the same."""
    plain = [changed(p) for p in (A, B, C)]
    for p in plain:
        for r in p["rows"]:
            r.update({k: v.value for k, v in r.items() if isinstance(v, Pct)})
    out = tmp_path / "helper.xlsx"
    fill_projects(template, FORM, plain, out, titles=TITLES)
    result = evaluate(out)
    assert serious(result) == [] and project_summary(result) == EXPECTED


def test_perfxl_run_writes_projects_with_exactly_the_keys_of_section_13(three, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / three.name).write_bytes(three.read_bytes())
    data = run_cli(inbox, tmp_path / "out", "gd-dept-2020", "proj-2020")
    (entry,) = data["files"]
    assert entry["form"] == "proj-2020" and entry["status"] == "reviewed" and entry["unit_code"] == "T001"
    projects = entry["projects"]
    assert [list(p) for p in projects] == [PROJECT_KEYS] * 3
    assert all(list(i) == INDICATOR_KEYS for p in projects for i in p["indicators"])
    for p in projects:
        rate, score, rows, total, grade, capped = EXPECTED[p["project_name"]]
        assert D(str(p["execution_rate"])) == rate and D(str(p["execution_score"])) == score
        assert [D(str(i["reviewed_score"])) for i in p["indicators"]] == rows
        assert D(str(p["reviewed_total"])) == total and p["reviewed_grade"] == grade
        assert p["capped_by_execution"] is capped
        assert (D(str(p["self_total"])), p["self_grade"]) == SELF[p["project_name"]]
        assert all(i["applicable"] is True for i in p["indicators"])
        # 预算执行率 is not among the indicators (spec §13)
        assert not any("执行率" in (i["name"] or "") for i in p["indicators"])
    talent, party, _ = projects
    assert [p["sheet"] for p in projects] == TITLES
    assert (talent["budget_annual"], talent["spent"], talent["execution_self_score"]) == (150, 142.5, 9.5)
    assert [i["row"] for i in talent["indicators"]] == list(range(FIRST_ROW, FIRST_ROW + len(A_ROWS)))
    assert talent["indicators"][1]["level1"] == "产出指标" and talent["indicators"][4]["direction"] == "≤"
    assert party["indicators"][2]["weight"] == 10 and party["indicators"][4]["self_score"] == 30


def test_perfxl_run_with_the_project_form_alone(three, tmp_path):
    """The project form first (or alone) in a batch: its options are fingerprinted by its own hash."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / three.name).write_bytes(three.read_bytes())
    data = run_cli(inbox, tmp_path / "out", "proj-2020")
    assert data["rubric"] == "proj-2020"
    (entry,) = data["files"]
    assert entry["status"] == "reviewed"
    assert {p["project_name"]: D(str(p["reviewed_total"])) for p in entry["projects"]} == {
        name: exp[3] for name, exp in EXPECTED.items()}


def test_a_hidden_copy_is_not_a_project(template, tmp_path):
    """Project sheets are the visible sheets (spec §13): a unit's hidden old copy is not read."""

    def hide(wb):
        wb["项目1 (2)"].sheet_state = "hidden"

    result = evaluate(build_by_hand(template, [A, B, C], tmp_path / "hidden.xlsx", edit=hide))
    assert [p.sheet for p in result.projects] == ["项目1", "党员教育"] and serious(result) == []
    assert project_summary(result) == {k: v for k, v in EXPECTED.items() if k != "基层党建专项"}
    # not silent (spec §11): an info finding names the hidden sheet
    [hidden] = [f for f in result.findings if f.code == "sheet-hidden"]
    assert hidden.severity.value == "info" and hidden.sheet == "项目1 (2)" and "隐藏" in hidden.message


def test_the_issued_template_sent_back_unfilled_says_what_is_missing(template):
    """Not `not-a-template`: it is the template, with its 项目名称 and figures blank."""
    result = evaluate(template)
    codes = {f.code for f in result.findings}
    assert "not-a-template" not in codes and result.status == "error"
    assert any(f.code == "missing-value" and f.sheet == "项目1" and f.cell == "C3" for f in result.findings)


def test_the_same_project_twice_in_one_file_is_an_error_and_invents_no_change(template, tmp_path):
    """Two sheets named alike: project-repeated on the second's 项目名称; a second unchanged run says
    nothing changed (each sheet compared with itself, not with its namesake)."""
    twin = {**B, "project_name": A["project_name"]}
    inbox = tmp_path / "in"
    inbox.mkdir()
    build_by_hand(template, [A, twin], inbox / "T001_项目.xlsx", titles=TITLES[:2])
    out = tmp_path / "out"
    run_cli(inbox, out, "proj-2020")
    data = run_cli(inbox, out, "proj-2020")
    [entry] = data["files"]
    repeated = [f for f in entry["findings"] if f["code"] == "project-repeated"]
    assert [(f["sheet"], f["cells"][0]) for f in repeated] == [("项目1 (2)", "C3")]
    assert "项目1" in repeated[0]["message"] and A["project_name"] in repeated[0]["message"]
    sheet = openpyxl.load_workbook(out / "summary.xlsx", read_only=True)["项目汇总"]
    rows = list(sheet.iter_rows(values_only=True))
    col = rows[0].index("与上次报送相比")
    assert [r[col] for r in rows[1:] if r[2] == A["project_name"]] == [None, None]  # an unchanged file: no change
    report = next((out / "reports").glob("*_项目支出.md")).read_text("utf-8")
    assert "改动的数据" not in report and "新出现" not in report


def test_a_changed_self_total_is_named_in_chinese(template, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    build_by_hand(template, [A], inbox / "T001_项目.xlsx", titles=TITLES[:1])
    out = tmp_path / "out"
    run_cli(inbox, out, "proj-2020")
    build_by_hand(template, [{**A, "score_total": 90}], inbox / "T001_项目.xlsx", titles=TITLES[:1])
    run_cli(inbox, out, "proj-2020")
    report = next((out / "reports").glob("*_项目支出.md")).read_text("utf-8")
    assert "自评总分 92.19 → 90" in report and "score_total" not in report and "score\\_total" not in report


def test_a_project_file_pasted_without_meta_is_still_read_as_one(template, tmp_path):
    """No _meta (copied into a fresh workbook): meta-missing, and in a batch of both forms it is
    still found to be a project file by its content (spec §3 Locating sheets, §12)."""

    def no_meta(wb):
        del wb["_meta"]

    path = build_by_hand(template, [A, B, C], tmp_path / "no-meta.xlsx", edit=no_meta)
    options = Options.for_rubric(DEPT)
    options = type(options)(**{**options.__dict__, "others": (FORM,)})
    result = process_file(path, path.name, options)
    assert result.form == "proj-2020" and result.status == "reviewed"
    assert [(f.code, f.severity.value) for f in serious(result)] == [("meta-missing", "warning")]
    assert project_summary(result) == EXPECTED


# -- 2. inserted rows, removed names and moved columns change nothing ----------------------------

def excel_delete_row(ws, at: int) -> None:
    """Delete row `at` as Excel does: the cells, merged ranges and the sheet's names below move up."""
    ws.delete_rows(at)
    for rng in ws.merged_cells.ranges:
        if rng.min_row > at:
            rng.shift(row_shift=-1)
    for dn in ws.defined_names.values():
        sheet, _, ref = dn.attr_text.rpartition("!")
        m = re.fullmatch(r"\$([A-Z]+)\$(\d+)", ref)
        if m and int(m[2]) > at:
            dn.attr_text = f"{sheet}!${m[1]}${int(m[2]) - 1}"


def insert_everywhere(wb) -> None:
    """Rows inserted inside each indicator table and above it (the product's insert_rows moves the
    names and merged cells as Excel does; where they went is asserted below), and a spare row of
    the table deleted."""
    insert_rows(wb["项目1"], 17, 2)  # between 培训班期数 (16) and 培训合格率 (17)
    insert_rows(wb["项目1 (2)"], 12)  # above 年度总体目标: the whole table moves down one
    insert_rows(wb["项目1 (2)"], 19)  # inside: between 新增志愿服务队 (now 17) … 逾期完工项目数 (now 19)
    insert_rows(wb["党员教育"], 3, 3)  # above everything but the title
    excel_delete_row(wb["党员教育"], 3 + 40)  # a spare row of the table (row 40 before the insert)
    assert _named(wb["项目1 (2)"], "ind_header").coordinate == "A15"
    assert _named(wb["党员教育"], "score_total").coordinate == "I48"  # 46 + 3 − 1


#: where each project's rows are after insert_everywhere
INSERTED_ROWS = {"人才工作专项": [15, 16, 19, 20, 21, 22, 23, 24], "基层党建专项": [16, 17, 18, 20, 21, 22],
                 "党员教育培训": [18, 19, 20, 21]}


def drop_names(wb) -> None:
    for ws in wb.worksheets:
        for name in list(ws.defined_names):
            del ws.defined_names[name]
    for name in list(wb.defined_names):
        del wb.defined_names[name]


#: a new order of the indicator table's columns, 分值 last (keys of COL); 三级指标 stays left of H so that the
#: template's 合计 row (its label merged over A:G, its sums in H:J) still has no 三级指标
MOVED = ["level1", "name", "level2", "actual", "direction", "target", "unit", "reason", "self_score", "weight"]


def move_columns(wb, headers: dict[str, str] | None = None) -> None:
    """The indicator table's columns rearranged (MOVED), on every project sheet, header included;
    `headers` renames header texts (aliases a unit might write)."""
    for title in TITLES:
        ws = wb[title]
        for r in range(HEADER_ROW, int(TOTAL_CELL[1:]) - 1):  # the header and the 30 rows, not 合计
            cells = {key: ws[f"{COL[key]}{r}"] for key in COL}
            saved = {key: (c.value, c.number_format) for key, c in cells.items()}
            for n, key in enumerate(MOVED, start=1):
                target = ws.cell(r, n)
                target.value, target.number_format = saved[key]
        for n, key in enumerate(MOVED, start=1):
            if headers and key in headers:
                ws.cell(HEADER_ROW, n).value = headers[key]


#: column letter of each key after move_columns
MOVED_COL = {key: "ABCDEFGHIJ"[n] for n, key in enumerate(MOVED)}
ALIASES = {"name": "指标名称", "target": "指标值", "actual": "完成值", "self_score": "得分", "reason": "偏差原因分析"}


def _both(*edits):
    def edit(wb):
        for e in edits:
            e(wb)

    return edit


def merge_levels(wb) -> None:
    """一级/二级 cells of a group merged, as units lay out the national table (only the first holds text)."""
    for title, ranges in (("项目1", ("A15:A19", "B15:B16", "A20:A21")), ("项目1 (2)", ("A15:A18", "B15:B16"))):
        for rng in ranges:
            wb[title].merge_cells(rng)


def typed_as_people_type(wb) -> None:
    """项目1's cells as units write them: short 一级/二级, 指标性质 in words, full-width digits, spaces,
    units and 分 after the numbers (spec §3 and §13: the number is read)."""
    ws = wb["项目1"]
    for cell, value in {"A15": "产出", "B15": "数量", "D15": "正向指标", "E15": "不低于50", "G15": "５２", "H15": "15分",
                        "I15": "15分", "D16": ">=", "E17": "≥ 95 %", "D18": "定性指标", "D19": "反向", "E19": "≤0.3万元",
                        "D20": "等于", "E20": "100％", "G20": "９８％"}.items():
        ws[cell] = value


VARIANTS = {
    "一级/二级 merged": (merge_levels, None),
    "typed as people type": (typed_as_people_type, None),
    "rows inserted and deleted": (insert_everywhere, INSERTED_ROWS),
    "names removed": (drop_names, None),
    "rows inserted, names removed": (_both(insert_everywhere, drop_names), INSERTED_ROWS),
    "columns moved": (move_columns, None),
    "columns moved, names removed": (_both(move_columns, drop_names), None),
    "header aliases, columns moved, names removed": (_both(lambda wb: move_columns(wb, ALIASES), drop_names), None),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_inserted_rows_removed_names_and_moved_columns_change_nothing(template, tmp_path, variant):
    edit, rows = VARIANTS[variant]
    path = build_by_hand(template, [A, B, C], tmp_path / "v.xlsx", edit=edit)
    if "names" in variant:
        names = re.findall(r'<definedName name="([^"]+)"', zipfile.ZipFile(path).read("xl/workbook.xml").decode("utf-8"))
        assert names and all(n.startswith("_xlnm.") for n in names)  # only the print areas and titles are left
    result = evaluate(path)
    assert serious(result) == [], [(f.code, f.sheet, f.cell, f.message) for f in serious(result)]
    assert project_summary(result) == EXPECTED
    assert {p.project_name: (p.self_total, p.self_grade) for p in result.projects} == SELF
    assert [p.sheet for p in result.projects] == TITLES
    expected_rows = rows or {name: list(range(FIRST_ROW, FIRST_ROW + len(EXPECTED[name][2]))) for name in EXPECTED}
    assert {p.project_name: [i.row for i in p.indicators] for p in result.projects} == expected_rows


def test_a_finding_follows_its_cell_when_rows_are_inserted_and_columns_moved(template, tmp_path):
    """培训班期数 (row 16, 6.67 of 10) without its reason: deviation-unexplained on its 偏差原因 cell,
    wherever rows and columns have gone."""
    unexplained = changed(A, 1, reason=None)
    plain = build_by_hand(template, [unexplained, B, C], tmp_path / "plain.xlsx")
    inserted = build_by_hand(template, [unexplained, B, C], tmp_path / "inserted.xlsx",
                             edit=lambda wb: insert_rows(wb["项目1"], 15, 2))
    moved = build_by_hand(template, [unexplained, B, C], tmp_path / "moved.xlsx", edit=_both(move_columns, drop_names))
    where = {}
    for name, path in (("plain", plain), ("inserted", inserted), ("moved", moved)):
        found = serious(evaluate(path))
        assert [(f.code, f.sheet) for f in found] == [("deviation-unexplained", "项目1")], name
        where[name] = found[0].cell
    assert where == {"plain": "J16", "inserted": "J18", "moved": f"{MOVED_COL['reason']}16"}


# -- 3. each new finding where §13 says, and nowhere else -----------------------------------------


# the clean project's rows (CLEAN_ROWS) are at rows 15–20; its funds in row 9, 预算执行率 in row 11
FINDING_CASES = {
    # 18 + 15 + 5 + 10 + 30 + 10 = 88, + 10 = 98 ≠ 100; 产出 48 ≠ 50 is weight-split as well (a Σ ≠ 90
    # always leaves some 一级 off the form's split)
    "weight-total": (changed(changed(CLEAN, 0, weight=18, self_score=18), score_total=98),
                     [("weight-total", "H15", [f"H{r}" for r in range(15, 21)]),
                      ("weight-split", "H15", ["H15", "H16", "H17", "H18"])]),
    # 产出 15 + 15 + 5 + 10 = 45 ≠ 50 and 效益 35 ≠ 30; the total still 100
    "weight-split": (changed(changed(CLEAN, 0, weight=15, self_score=15), 4, weight=35, self_score=35),
                     [("weight-split", "H15", ["H15", "H16", "H17", "H18"]), ("weight-split", "H19", ["H19"])]),
    # 培训合格率 93 % of ≥95 %: 15 × 0.93 / 0.95 = 14.684… → 14.68 < 15, no reason
    "deviation-unexplained (row)": (changed(changed(CLEAN, 1, actual="93%", self_score=14.68), score_total=99.68),
                                    [("deviation-unexplained", "J16", ["J16", "I16"])]),
    # 执行率 85 / 100 = 0.85 < 90 %, 执行偏差原因 empty: on the exec_reason cell
    "deviation-unexplained (execution)": (changed(CLEAN, spent=D("85"), exec_score=8.5, score_total=98.5),
                                          [("deviation-unexplained", "I11", ["I11", "F9", "E9"])]),
    # ≥50, 65: 65 / 50 = 1.30 ≥ 130 %: on 实际完成值
    "target-too-low": (changed(CLEAN, 0, actual="65"), [("target-too-low", "G15", ["G15", "E15"])]),
    # ≥50% against a cell holding 0.65 (65 %): 0.65 / 0.50 = 1.30
    "target-too-low (percent cell)": (changed(CLEAN, 1, target="≥50%", actual=Pct(0.65)), [("target-too-low", "G16", ["G16", "E16"])]),
    # no 满意度 row (服务对象满意度 filed under 效益): 效益 40 ≠ 30 is weight-split as well
    "indicator-kinds": (changed(CLEAN, 5, level1="效益指标", level2="社会效益指标"),
                        [("indicator-kinds", None, None), ("weight-split", "H19", ["H19", "H20"])]),
    # 100.02 > 100 + 0.01; 执行率 > 1 counts as 1: 10 points, as the unit wrote
    "spending-over-budget": (changed(CLEAN, spent=D("100.02")), [("spending-over-budget", "F9", ["F9", "E9"])]),
    # 12 written over the locked 10: the form's 10 is used (no weight-total: 10 + 90 = 100)
    "weight-changed": (changed(CLEAN, exec_weight=12), [("weight-changed", "E11", ["E11"])]),
    # 人均培训成本 0.28 ≤ 0.3: 10, the unit wrote 9 (total 99 matches its own sum)
    "score-differs (row)": (changed(changed(CLEAN, 3, self_score=9), score_total=99), [("score-differs", "I18", ["I18"])]),
    # 预算执行率 10 × 1 = 10, the unit wrote 9
    "score-differs (execution)": (changed(CLEAN, exec_score=9, score_total=99), [("score-differs", "G11", ["G11"])]),
    # Σ self = 100, written 99 (still 优秀: no grade-mismatch)
    "total-mismatch": (changed(CLEAN, score_total=99), [("total-mismatch", TOTAL_CELL, [TOTAL_CELL])]),
    # 100 is 优秀, written 良好
    "grade-mismatch": (changed(CLEAN, grade_self="良好"), [("grade-mismatch", GRADE_CELL, [GRADE_CELL, TOTAL_CELL])]),
    # 定性 6 of 5 (written total 101 = Σ self, 优秀)
    "score-out-of-range": (changed(changed(CLEAN, 2, self_score=6), score_total=101),
                           [("score-out-of-range", "I17", ["I17"])]),
}

NEAR_MISSES = {
    "clean": CLEAN,
    # 64.5 / 50 = 1.29 < 130 %
    "target 129 %": changed(CLEAN, 0, actual="64.5"),
    # ≥50% against 0.645 (64.5 %): 1.29
    "target 129 % (percent cell)": changed(CLEAN, 1, target="≥50%", actual=Pct(0.645)),
    # spent = budget + 0.01 is within the tolerance
    "spent = budget + 0.01": changed(CLEAN, spent=D("100.01")),
    # 执行率 exactly 90 % needs no reason (9 points)
    "执行率 90 %": changed(CLEAN, spent=D("90"), exec_score=9, score_total=99),
    # below full with its reason written
    "deduction explained": changed(changed(CLEAN, 1, actual="93%", self_score=14.68, reason="两名学员补考"),
                                   score_total=99.68),
    # 14.684 written: rounded half-up to 0.01 it is the reviewed 14.68
    "self score rounds to the reviewed one": changed(
        changed(CLEAN, 1, actual="93%", self_score=14.684, reason="两名学员补考"), score_total=99.684),
    # a cap that does not bite: 执行率 0.75 (cap 89); 人才留用率 = 100 %, 70 %: 30 × (1 − 0.3) = 21;
    # 7.5 + 20 + 15 + 5 + 10 + 21 + 10 = 88.5 < 89
    "total below its cap": changed(changed(CLEAN, spent=D("75"), exec_score=7.5, exec_reason="年底采购未结算",
                                           score_total=88.5, grade_self="良好"), 4, actual="70%", self_score=21,
                                   reason="三名人才离职"),
}


def _finding_file(template: Path, tmp_path: Path, project: dict) -> Path:
    """A clean 项目1 (人才公寓运营) and the project under test on its copy 项目1 (2)."""
    return build_by_hand(template, [PLAIN, project], tmp_path / "f.xlsx", titles=["项目1", SHEET])


@pytest.mark.parametrize("case", list(FINDING_CASES))
def test_each_finding_appears_where_section_13_says_and_nowhere_else(template, tmp_path, case):
    project, expected = FINDING_CASES[case]
    result = evaluate(_finding_file(template, tmp_path, project))
    found = serious(result)
    assert [f.code for f in found] == [code for code, _, _ in expected], [(f.code, f.cells, f.message) for f in found]
    for f, (code, cell, cells) in zip(found, expected, strict=True):
        assert f.sheet == SHEET and f.file == "f.xlsx", (code, f.sheet)
        assert SHEET in f.message, f.message  # the clerk is told which sheet
        if cell is not None:
            assert f.cell == cell, (code, f.cells)
        if cells is not None:
            assert list(f.cells) == cells, (code, f.cells)
        assert f.severity.value == SEVERITY[code], (code, f.severity)
    clean_project, _ = result.projects
    assert clean_project.reviewed_total == D(100) and clean_project.reviewed_grade == "优秀"


def test_indicator_kinds_sits_in_the_indicator_table(template, tmp_path):
    """§13 does not say where indicator-kinds sits: in the 一级指标 column of the table at least."""
    result = evaluate(_finding_file(template, tmp_path, FINDING_CASES["indicator-kinds"][0]))
    (f,) = [f for f in result.findings if f.code == "indicator-kinds"]
    assert f.cell is not None and re.fullmatch(r"A(1[5-9]|20)", f.cell), f.cells
    assert "满意度" in f.message


@pytest.mark.parametrize("case", list(NEAR_MISSES))
def test_near_misses_do_not_fire(template, tmp_path, case):
    result = evaluate(_finding_file(template, tmp_path, NEAR_MISSES[case]))
    assert serious(result) == [], [(f.code, f.cell, f.message) for f in serious(result)]
    assert result.status == "reviewed"


def test_near_miss_scores(template, tmp_path):
    """What the near misses score, by hand."""
    scores = {}
    for case in ("spent = budget + 0.01", "执行率 90 %", "total below its cap"):
        _, tested = evaluate(_finding_file(template, tmp_path, NEAR_MISSES[case])).projects
        scores[case] = (tested.execution_score, tested.reviewed_total, tested.capped_by_execution)
    assert scores == {
        "spent = budget + 0.01": (D(10), D(100), False),  # 执行率 100.01 / 100 > 1 counts as 1: 10
        "执行率 90 %": (D(9), D(99), False),  # 10 × 0.9 = 9; 9 + 90 = 99
        "total below its cap": (D("7.5"), D("88.5"), False),  # 88.5 < 89: the cap does not bite
    }


def test_totals_after_weight_total_weight_changed_and_out_of_range(template, tmp_path):
    """§13: a project with weight-total still gets its Σ (no rescaling); after weight-changed the
    form's 10 is used; a 定性 score out of range nulls that project's total, grade and cap flag only."""
    totals = {}
    for case in ("weight-total", "score-out-of-range"):
        clean_project, tested = evaluate(_finding_file(template, tmp_path, FINDING_CASES[case][0])).projects
        totals[case] = (tested.reviewed_total, tested.reviewed_grade, tested.capped_by_execution, clean_project.reviewed_total)
    # 10 + 18 + 15 + 5 + 10 + 30 + 10 = 98, as summed (not rescaled to 100)
    assert totals["weight-total"] == (D(98), "优秀", False, D(100))
    assert totals["score-out-of-range"] == (None, None, None, D(100))
    # 12 written, 执行率 95 / 100: the form's 10 × 0.95 = 9.50 (the unit's 12 would give 11.40)
    project = changed(CLEAN, exec_weight=12, spent=D("95"), exec_score=9.5, score_total=99.5)
    result = evaluate(_finding_file(template, tmp_path, project))
    assert [(f.code, f.sheet, f.cell) for f in serious(result)] == [("weight-changed", SHEET, "E11")]
    tested = result.projects[1]
    assert (tested.execution_score, tested.reviewed_total) == (D("9.5"), D("99.5"))


@pytest.mark.parametrize(("actual", "target", "code", "cell"), [
    ("已完成", "≥50", "type-error", "G15"),  # no number on a ≥ row
    ("52", "较上年增长", "type-error", "E15"),
    (None, None, "missing-value", None),  # both blank on a row with a 三级指标
])
def test_an_unscorable_row_nulls_only_its_project(template, tmp_path, actual, target, code, cell):
    project = changed(CLEAN, 0, actual=actual, target=target)
    result = evaluate(_finding_file(template, tmp_path, project))
    found = [f for f in serious(result) if f.code == code]
    assert found and all(f.sheet == SHEET for f in serious(result)), [(f.code, f.cell) for f in serious(result)]
    if cell is not None:
        assert found[0].cell == cell
    else:
        assert set(found[0].cells) <= {"E15", "G15"} and found[0].cells
    clean_project, tested = result.projects
    assert tested.indicators[0].reviewed_score is None and tested.indicators[0].applicable is None
    assert (tested.reviewed_total, tested.reviewed_grade, tested.capped_by_execution) == (None, None, None)
    assert tested.indicators[1].reviewed_score == D(15)  # the other rows still scored
    assert (clean_project.reviewed_total, clean_project.reviewed_grade) == (D(100), "优秀")


# -- 4. a mixed batch: department and project files of one unit ------------------------------------

# 基层党建专项 sent again in the newer file with 执行率 224 / 280 = 0.80 → 8.00; 8 + 90 = 98, not capped
# (0.80 is not below 80 %) → 优秀
B2 = changed(B, spent=D("224"), exec_score=8, score_total=98, filing_date=dt.date(2021, 6, 10))
C2 = changed(C, filing_date=dt.date(2021, 6, 10))
# another unit's file with an error (100.02 > 100 + 0.01): its projects are listed, its money not in the 合计
OTHER = changed(CLEAN, unit_code="T002", unit_name="另一测试单位", department="另一测试单位", spent=D("100.02"))


@pytest.fixture(scope="module")
def mixed(template, tmp_path_factory):
    root = tmp_path_factory.mktemp("acc-mixed")
    dept_template = root / "dept-template.xlsx"
    build_template(dept_template, DEPT)
    inbox = root / "inbox"
    (inbox / "部门").mkdir(parents=True)
    fill_workbook(dept_template, good_values(), inbox / "部门" / "T001_部门整体.xlsx")  # unit T001, filed 2021-06-04
    # the older filing is saved last (docProps modified no earlier) and has the greater path, so that only
    # its filing date can make the newer one win (spec §6)
    build_by_hand(template, [B2, C2], inbox / "项目" / "a_T001.xlsx", titles=["项目1", "项目2"])
    build_by_hand(template, [A, B], inbox / "项目" / "b_T001.xlsx", titles=["项目1", "项目2"])
    build_by_hand(template, [OTHER], inbox / "项目" / "T002.xlsx")
    out = root / "out"
    data = run_cli(inbox, out, "gd-dept-2020", "proj-2020")
    return inbox, out, data, dept_template


def _files(data) -> dict:
    return {f["file"]: f for f in data["files"]}


def test_each_file_is_read_by_the_form_its_meta_names(mixed):
    _, _, data, _ = mixed
    files = _files(data)
    assert list(files) == ["部门/T001_部门整体.xlsx", "项目/a_T001.xlsx", "项目/b_T001.xlsx", "项目/T002.xlsx"]
    assert {k: (f["form"], f["status"]) for k, f in files.items()} == {
        "部门/T001_部门整体.xlsx": ("gd-dept-2020", "reviewed"),
        "项目/a_T001.xlsx": ("proj-2020", "reviewed"),
        "项目/b_T001.xlsx": ("proj-2020", "reviewed"),  # its other project is still scored
        "项目/T002.xlsx": ("proj-2020", "error"),
    }
    dept = files["部门/T001_部门整体.xlsx"]
    assert "projects" not in dept and dept["reviewed_total"] == 100 and dept["indicators"]
    assert all(f["indicators"] == [] for k, f in files.items() if k.startswith("项目/"))
    assert [f["code"] for f in files["项目/T002.xlsx"]["findings"] if f["severity"] == "error"] == ["spending-over-budget"]


def test_a_project_in_two_files_is_a_duplicate_in_the_older_file_only(mixed):
    _, _, data, _ = mixed
    files = _files(data)
    dept, newer, older = (files[k] for k in ("部门/T001_部门整体.xlsx", "项目/a_T001.xlsx", "项目/b_T001.xlsx"))
    # a department file and project files never supersede each other
    assert not any(f["code"] == "duplicate-submission" for f in dept["findings"])
    assert [p["project_name"] for p in newer["projects"]] == ["基层党建专项", "党员教育培训"]
    assert [p["project_name"] for p in older["projects"]] == ["人才工作专项"]
    (kept,) = [f for f in newer["findings"] if f["code"] == "duplicate-submission"]
    (gone,) = [f for f in older["findings"] if f["code"] == "duplicate-submission"]
    assert kept["severity"] == gone["severity"] == "warning"
    assert "基层党建专项" in kept["message"] and "b_T001.xlsx" in kept["message"]
    assert "基层党建专项" in gone["message"] and "a_T001.xlsx" in gone["message"]
    assert "部门" not in kept["message"] + gone["message"]
    # the superseded sheet leaves no finding behind; the kept projects are the newer file's
    assert all(f["sheet"] != "项目2" for f in older["findings"])
    party, education = newer["projects"]
    assert (D(str(party["spent"])), D(str(party["execution_score"])), D(str(party["reviewed_total"]))) == (
        D(224), D(8), D(98))
    assert party["capped_by_execution"] is False and party["reviewed_grade"] == "优秀"
    assert D(str(education["reviewed_total"])) == D(79) and education["capped_by_execution"] is True
    (talent,) = older["projects"]
    assert D(str(talent["reviewed_total"])) == D("92.19") and talent["reviewed_grade"] == "优秀"


def _sheet_rows(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


PROJECT_SUMMARY_HEADERS = ["单位编码", "单位名称", "项目名称", "全年预算数", "全年执行数", "执行率", "自评总分", "核定总分",
                           "自评等级", "核定等级", "错误数", "警告数"]
INDICATOR_SUMMARY_HEADERS = ["单位编码", "单位名称", "项目名称", "一级指标", "二级指标", "三级指标", "指标性质", "年度指标值",
                             "实际完成值", "分值", "自评得分", "核定得分"]


def test_summary_has_the_project_sheets_with_a_total_of_the_reviewed_files(mixed):
    _, out, _, _ = mixed
    wb = openpyxl.load_workbook(out / "summary.xlsx")
    assert "项目汇总" in wb.sheetnames and "项目指标" in wb.sheetnames
    rows = _sheet_rows(wb["项目汇总"])
    assert rows[0][:12] == PROJECT_SUMMARY_HEADERS
    body = [r for r in rows[1:] if r[0] is not None and not str(r[0]).startswith("合计")]
    assert [(r[0], r[2]) for r in body] == [("T001", "基层党建专项"), ("T001", "党员教育培训"), ("T001", "人才工作专项"),
                                            ("T002", "人才服务专项")]
    first = body[0]
    assert first[1] == "测试市测试局" and first[3:5] == [280, 224] and first[5] == pytest.approx(0.8)
    assert first[6:12] == [98, 98, "优秀", "优秀", 0, 0]
    assert body[1][6:10] == [92.94, 79, "优秀", "中"]  # self never capped, reviewed capped at 79
    assert body[3][10] == 1  # T002's spending-over-budget
    (total,) = [r for r in rows[1:] if r[0] is not None and str(r[0]).startswith("合计")]
    # the reviewed files' projects only (T002 is in error): 280 + 100 + 150 = 530; 224 + 65 + 142.5 = 431.5;
    # 执行率 of the sums 431.5 / 530 = 0.814150…; the superseded 基层党建专项 (210 of 280) is not counted
    assert total[3:5] == [530, 431.5]
    assert total[5] == pytest.approx(431.5 / 530, abs=1e-9)


def test_summary_lists_every_indicator_of_the_scored_projects(mixed):
    _, out, _, _ = mixed
    rows = _sheet_rows(openpyxl.load_workbook(out / "summary.xlsx")["项目指标"])
    assert rows[0][:12] == INDICATOR_SUMMARY_HEADERS
    body = [r for r in rows[1:] if r[0] is not None]
    assert len(body) == len(B_ROWS) + len(C_ROWS) + len(A_ROWS) + len(CLEAN_ROWS)  # the superseded B not again
    assert [r[5] for r in body if r[2] == "基层党建专项"] == [r["name"] for r in B_ROWS]
    (classes,) = [r for r in body if r[5] == "人才培训班期数"]
    assert classes[:7] == ["T001", "测试市测试局", "人才工作专项", "产出指标", "数量指标", "人才培训班期数", "≥"]
    assert classes[9:12] == [10, 6.67, 6.67]
    (cost,) = [r for r in body if r[5] == "人均培训成本" and r[0] == "T001"]
    assert cost[9:12] == [10, 9.09, 9.09]


def test_a_department_only_batch_has_no_project_sheets(mixed, tmp_path):
    inbox, _, _, _ = mixed
    only = tmp_path / "inbox"
    only.mkdir()
    (only / "T001.xlsx").write_bytes((inbox / "部门" / "T001_部门整体.xlsx").read_bytes())
    data = run_cli(only, tmp_path / "out", "gd-dept-2020", "proj-2020")
    assert [(f["form"], f["status"]) for f in data["files"]] == [("gd-dept-2020", "reviewed")]
    names = openpyxl.load_workbook(tmp_path / "out" / "summary.xlsx").sheetnames
    assert "汇总" in names and "项目汇总" not in names and "项目指标" not in names


def test_a_project_file_under_the_department_form_alone_is_a_template_mismatch(mixed, tmp_path):
    inbox, _, _, _ = mixed
    only = tmp_path / "inbox"
    only.mkdir()
    (only / "a_T001.xlsx").write_bytes((inbox / "项目" / "a_T001.xlsx").read_bytes())
    data = run_cli(only, tmp_path / "out", "gd-dept-2020")
    (entry,) = data["files"]
    assert entry["status"] == "unreadable" and [f["code"] for f in entry["findings"]] == ["template-mismatch"]
    assert "proj-2020" in entry["findings"][0]["message"]


def test_a_file_left_with_no_project_of_its_own_is_a_duplicate(template, tmp_path):
    """Every project of the older file sent again in a newer one: that file is superseded whole."""
    inbox = tmp_path / "inbox"
    build_by_hand(template, [B], inbox / "x_T001.xlsx")  # 2021-06-04
    build_by_hand(template, [B2, C2], inbox / "w_T001.xlsx", titles=["项目1", "项目2"])  # 2021-06-10
    files = _files(run_cli(inbox, tmp_path / "out", "gd-dept-2020", "proj-2020"))
    older, newer = files["x_T001.xlsx"], files["w_T001.xlsx"]
    assert older["status"] == "duplicate" and older["projects"] == []
    assert [f["code"] for f in older["findings"]] == ["duplicate-submission"]
    assert newer["status"] == "reviewed" and [p["project_name"] for p in newer["projects"]] == ["基层党建专项", "党员教育培训"]


# -- 5. resubmission: matched per project by 项目名称 ------------------------------------------------

# first version: 人才工作专项's 培训班期数 (6.67 of 10) and 基层党建专项's 执行率 75 % both without a reason
A_UNEXPLAINED = changed(A, 1, reason=None)
B_UNEXPLAINED = changed(B, exec_reason=None)


def _resubmitted(template: Path, root: Path) -> tuple[Path, Path, Path]:
    """The first version as T001_项目.xlsx; the second as T001_项目（更正）.xlsx with 人才工作专项
    explained and the sheets in the other order, so that only the 项目名称 can match them."""
    first = build_by_hand(template, [A_UNEXPLAINED, B_UNEXPLAINED], root / "v1" / "T001_项目.xlsx",
                          titles=["项目1", "项目2"])
    second = build_by_hand(template, [B_UNEXPLAINED, changed(A, filing_date=dt.date(2021, 6, 8))],
                           root / "v2" / "T001_项目（更正）.xlsx", titles=["项目1", "项目2"])
    return first, second, root / "out"


def _run_twice(first: Path, second: Path, out: Path) -> tuple[dict, dict]:
    """perfxl run into one output folder, the inbox holding the first version, then the second."""
    inbox = out.parent / "inbox"
    inbox.mkdir()
    (inbox / first.name).write_bytes(first.read_bytes())
    one = run_cli(inbox, out, "gd-dept-2020", "proj-2020")
    (inbox / first.name).unlink()
    (inbox / second.name).write_bytes(second.read_bytes())
    two = run_cli(inbox, out, "gd-dept-2020", "proj-2020")
    return one, two


@pytest.fixture(scope="module")
def resubmission(template, tmp_path_factory):
    first, second, out = _resubmitted(template, tmp_path_factory.mktemp("acc-resend"))
    one, two = _run_twice(first, second, out)
    return out, one, two


def test_resubmission_results_json_says_what_the_file_resolved(resubmission):
    _, one, two = resubmission
    (before,), (after,) = one["files"], two["files"]
    assert [(f["code"], f["sheet"], f["cell"]) for f in before["findings"] if f["severity"] != "info"] == [
        ("deviation-unexplained", "项目1", "J16"), ("deviation-unexplained", "项目2", "I11")]
    assert before["since_last"] is None
    assert [(f["code"], f["sheet"], f["cell"]) for f in after["findings"] if f["severity"] != "info"] == [
        ("deviation-unexplained", "项目1", "I11")]
    since = after["since_last"]
    assert since is not None and since["previous_file"] == "T001_项目.xlsx"
    # per file the codes are a set: deviation-unexplained is still open (on 基层党建专项)
    assert (since["resolved"], since["still_open"], since["new"]) == ([], ["deviation-unexplained"], [])


def test_resubmission_is_matched_per_project_by_its_name(template, tmp_path):
    """The state's comparison (run.state.State.compare) through run_job, as `perfxl run` does it:
    人才工作专项 resolved its deviation-unexplained although it moved from 项目1 to 项目2;
    基层党建专项 still has its own; 党员教育培训 is new."""
    from perfxl.read.intake import discover
    from perfxl.run.job import run_job

    first, _, out = _resubmitted(template, tmp_path)
    # the second version also brings a new project: it has no earlier version to compare with
    second = build_by_hand(template, [B_UNEXPLAINED, changed(A, filing_date=dt.date(2021, 6, 8)), C],
                           tmp_path / "v2" / "T001_项目（更正）.xlsx", titles=["项目1", "项目2", "项目3"])
    options = Options.for_rubric(DEPT)
    options = type(options)(**{**options.__dict__, "others": (FORM,)})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / first.name).write_bytes(first.read_bytes())
    run_job(discover(inbox), options, inbox, out, jobs=1)
    (inbox / first.name).unlink()
    (inbox / second.name).write_bytes(second.read_bytes())
    batch = run_job(discover(inbox), options, inbox, out, jobs=1)
    (result,) = batch.files
    since = {p.project_name: p.since_last for p in result.projects}
    assert [p.sheet for p in result.projects] == ["项目1", "项目2", "项目3"]
    assert since["党员教育培训"] is None
    talent, party = since["人才工作专项"], since["基层党建专项"]
    assert talent is not None and party is not None
    assert (talent["resolved"], talent["still_open"], talent["new"]) == (["deviation-unexplained"], [], [])
    assert (party["resolved"], party["still_open"], party["new"]) == ([], ["deviation-unexplained"], [])
    assert talent["previous_file"] == "T001_项目.xlsx"


def _report_sections(out: Path) -> dict[str, str]:
    """The unit's 项目支出绩效自评报告, cut into its per-project sections (### （n）项目名称)."""
    (report,) = sorted((out / "reports").glob("T001_*.md"))
    text = report.read_text("utf-8")
    parts = re.split(r"^### （[一二三四五六七八九十]+）(.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_the_report_says_per_project_what_was_resolved(resubmission):
    out, _, _ = resubmission
    sections = _report_sections(out)
    assert set(sections) == {"人才工作专项", "基层党建专项"}
    assert "已解决" in sections["人才工作专项"] and "偏差" in sections["人才工作专项"]
    assert "仍存在" in sections["基层党建专项"] and "已解决" not in sections["基层党建专项"]


def test_the_files_since_last_does_not_pair_two_different_projects(resubmission):
    """The projects resent in another sheet order: the file's since_last must not compare whichever
    projects came first (项目名称 人才工作专项 → 基层党建专项, every amount "changed")."""
    out, _, two = resubmission
    (after,) = two["files"]
    changed_fields = after["since_last"]["changed_fields"]
    assert not {"project_name", "budget_annual", "spent", "exec_score"} & set(changed_fields), changed_fields
    (report,) = sorted((out / "reports").glob("T001_*.md"))
    opening = report.read_text("utf-8").split("## 二、")[0]
    assert "项目名称 人才工作专项 → 基层党建专项" not in opening


@pytest.mark.parametrize(("direction", "target", "actual", "score"), [
    ("≤", "0", "1起", D(0)),  # ≤ with a target of 0: full only when 实际 = 0
    ("=", "0个", "2个", D(0)),  # = with a target of 0 missed: 0
    ("≥", 0, "-1", D(0)),  # ≥ with a target of 0: full only when 实际 ≥ 0
    ("=", "100", "250", D(0)),  # 10 × max(0, 1 − 150 / 100) = 0
    ("=", "100", "96", D("9.6")),  # 10 × (1 − 4 / 100) = 9.6
    ("≤", "≤0.3", "0.4万元", D("7.5")),  # 10 × 0.3 / 0.4 = 7.5
])
def test_rows_that_miss_score_as_section_13(template, tmp_path, direction, target, actual, score):
    """人均培训成本 (row 18, 分值 10) rewritten; the unit's self score matches and its reason is given."""
    project = changed(CLEAN, 3, direction=direction, target=target, actual=actual, self_score=float(score), reason="见说明")
    project["score_total"] = float(90 + score)
    result = evaluate(_finding_file(template, tmp_path, project))
    assert serious(result) == [], [(f.code, f.cell, f.message) for f in serious(result)]
    tested = result.projects[1]
    assert tested.indicators[3].reviewed_score == score and tested.reviewed_total == 90 + score
