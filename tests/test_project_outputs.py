"""The outputs of project files (spec §13): results.json `form` and `projects`, summary.xlsx 项目汇总
and 项目指标, the 项目支出绩效自评报告 (Markdown, HTML page, the index's project count) and feedback
workbooks marking cells of project sheets whatever their names.

The batch is built here from FileResult / ProjectResult values (no reader, no scorer): its numbers
are chosen so that every total below is worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from conftest import RUBRIC
from markdown_it import MarkdownIt

from perfxl.findings import Finding
from perfxl.model import BatchResult, FileResult, ProjectIndicatorResult, ProjectResult
from perfxl.spec.project import builtin_project_form
from perfxl.write.feedback import build_marks, build_review, feedback_bytes, rebuilt_copy
from perfxl.write.html import write_html
from perfxl.write.project_text import cell_value, value_text
from perfxl.write.report import render_report, write_reports
from perfxl.write.results import to_json
from perfxl.write.summary import SHEETS, TOTAL_LABEL, write_summary

PROJ = builtin_project_form("proj-2020")
D = Decimal
DEADLINE = dt.date(2021, 6, 20)

PROJECT_KEYS = ["sheet", "project_name", "budget_annual", "spent", "execution_rate", "execution_self_score",
                "execution_score", "indicators", "self_total", "reviewed_total", "self_grade", "reviewed_grade",
                "capped_by_execution"]
INDICATOR_KEYS = ["row", "level1", "level2", "name", "direction", "target", "actual", "unit", "weight", "self_score",
                  "reviewed_score", "applicable"]


def ind(row, level1, level2, name, direction, target, actual, unit, weight, self_score, reviewed, *,
        target_value=None, actual_value=None, reason=None, applicable=True) -> ProjectIndicatorResult:
    return ProjectIndicatorResult(row, level1, level2, name, direction, target, actual, unit, D(weight),
                                  None if self_score is None else D(self_score),
                                  None if reviewed is None else D(reviewed), applicable,
                                  None if target_value is None else D(target_value),
                                  None if actual_value is None else D(actual_value), reason)


def talent() -> ProjectResult:
    """人才工作专项: 480 of 500 spent (96 %, 9.60 points); 新认定高层次人才 4719 of 5000 scores
    30 × 0.9438 = 28.31; total 9.60 + 20 + 15 + 15 + 28.31 + 10 = 97.91 (优秀)."""
    return ProjectResult(
        "项目1", "人才工作专项", D("500.00"), D("480.00"), D("0.96"), D(10), D("9.60"),
        [ind(12, "产出指标", "数量指标", "新引进人才", "≥", 500, D(505), "人", 20, 20, 20,
             target_value=500, actual_value=505),
         ind(13, "产出指标", "质量指标", "人才项目验收合格率", "≥", "≥95%", 0.97, None, 15, 15, 15,
             target_value="0.95", actual_value="0.97"),
         ind(14, "产出指标", "时效指标", "资金拨付及时性", "定性", "按期完成", "按期完成", None, 15, 15, 15),
         ind(15, "效益指标", "社会效益指标", "新认定高层次人才", "≥", "5000人", "4719人", None, 30, 30, "28.31",
             target_value=5000, actual_value=4719, reason="部分人才的认定手续延至次年办理"),
         ind(16, "满意度指标", "服务对象满意度指标", "人才满意度", "≥", "≥90%", "92%", None, 10, 10, 10,
             target_value="0.90", actual_value="0.92")],
        D(100), D("97.91"), "优秀", "优秀", False,
        fields={"project_name": "人才工作专项", "implementer": "市委人才工作领导小组办公室", "project_lead": "李四",
                "budget_initial": D("450.00"), "budget_annual": D("500.00"), "spent": D("480.00"),
                "budget_initial_fiscal": D("450.00"), "budget_annual_fiscal": D("500.00"), "spent_fiscal": D("480.00"),
                "exec_reason": None, "target_text": "引进各类人才500人。\n新认定高层次人才5000人。",
                "outcome_text": "新引进人才505人，新认定高层次人才4719人。", "problems_text": "人才认定进度偏慢。",
                "measures_text": "提前部署认定工作。", "filing_date": dt.date(2021, 6, 4)},
    )


def party() -> ProjectResult:
    """基层党建专项: 650 of 1000 spent (65 %: 6.50 points; below 70 % the total is capped at 79);
    6.50 + 50 + 30 + 10 = 96.50 before the cap, 79 after (中)."""
    return ProjectResult(
        "项目2", "基层党建专项", D("1000.00"), D("650.00"), D("0.65"), D(10), D("6.50"),
        [ind(12, "产出指标", "数量指标", "新建村民小组党组织", "≥", "6000个", "6968个", None, 50, 50, 50,
             target_value=6000, actual_value=6968),
         ind(13, "效益指标", "社会效益指标", "党组织覆盖率", "≥", "≥50%", "57%", None, 30, 30, 30,
             target_value="0.5", actual_value="0.57"),
         ind(14, "满意度指标", "服务对象满意度指标", "党员群众满意度", "≥", "≥90%", "95%", None, 10, 10, 10,
             target_value="0.9", actual_value="0.95")],
        D(100), D(79), "优秀", "中", True, since_last={
            "resolved": ["deviation-unexplained"], "still_open": [], "new": [], "changed_fields": {"spent": [600, 650]},
            "previous_file": "440800001_项目_旧.xlsx"},
        fields={"project_name": "基层党建专项", "budget_initial": D("1000.00"), "budget_annual": D("1000.00"),
                "spent": D("650.00"), "exec_reason": None, "target_text": "完成村民小组党组织组建。",
                "outcome_text": "新建村民小组党组织6968个。", "problems_text": None, "measures_text": None,
                "filing_date": dt.date(2021, 6, 5)},
    )


def survey() -> ProjectResult:
    """统计调查专项, on a sheet the unit renamed 统计调查: 250 spent of a 200 budget (an error)."""
    return ProjectResult(
        "统计调查", "统计调查专项", D("200.00"), D("250.00"), D("1.25"), D(10), D(10),
        [ind(10, "产出指标", "数量指标", "调查样本数", "≥", "1000户", "1000户", None, 50, 50, 50,
             target_value=1000, actual_value=1000),
         ind(11, "效益指标", "社会效益指标", "数据采用率", "≥", "≥90%", None, "%", 30, 30, None, applicable=None),
         ind(12, "满意度指标", "服务对象满意度指标", "用户满意度", "≥", 90, 95, "%", 10, 10, 10,
             target_value="0.90", actual_value="0.95")],
        D(100), None, "优秀", None, None,
        fields={"project_name": "统计调查专项", "budget_annual": D("200.00"), "spent": D("250.00")},
    )


def project_batch() -> BatchResult:
    """Two project files (one reviewed with two projects, one in error) and a department file."""
    zj = FileResult(
        "440800001_项目.xlsx", "reviewed", "440800001", "中共湛江市委组织部本级", "中共湛江市委组织部",
        fields={"unit_code": "440800001", "unit_name": "中共湛江市委组织部本级", "filing_date": dt.date(2021, 6, 4)},
        findings=[
            Finding("meta-missing", "文件没有 _meta 工作表，已按本次的项目支出表审核", file="440800001_项目.xlsx"),
            Finding("deviation-unexplained", "项目2 C9「执行偏差原因」：执行率 65.00% 低于 90%，未说明原因",
                    "项目2", ("C9",), file="440800001_项目.xlsx"),
        ],
        form="proj-2020", projects=[talent(), party()], format="xlsx")
    tj = FileResult(
        "440800002_项目.xlsx", "error", "440800002", "湛江市统计局本级", "湛江市统计局",
        fields={"unit_code": "440800002", "unit_name": "湛江市统计局本级"},
        findings=[
            Finding("spending-over-budget", "统计调查 E6「全年执行数」250 超过「全年预算数」200", "统计调查",
                    ("E6", "D6"), file="440800002_项目.xlsx"),
            Finding("missing-value", "统计调查 G11 指标“数据采用率”的「实际完成值」未填写", "统计调查", ("G11",),
                    file="440800002_项目.xlsx"),
            Finding("weight-split", "统计调查：产出指标分值 50 与表单的 50 相同，效益指标 30……", "统计调查", ("H10",),
                    file="440800002_项目.xlsx"),
        ],
        form="proj-2020", projects=[survey()], format="xlsx")
    dept = FileResult("440800003.xlsx", "reviewed", "440800003", "湛江市博物馆", "湛江市文化广电旅游体育局",
                      fields={"income_total": D("100.00"), "carryover_begin": D(0), "expense_total": D("90.00"),
                              "carryover_end": D("10.00"), "filing_date": dt.date(2021, 6, 1)},
                      self_total=D(95), reviewed_total=D(95), self_grade="优秀", reviewed_grade="优秀", form="gd-dept-2020")
    return BatchResult(RUBRIC, 2020, DEADLINE, files=[zj, tj, dept], others=(PROJ,))


@pytest.fixture(scope="module")
def batch() -> BatchResult:
    return project_batch()


# -- results.json ----------------------------------------------------------------------------


def test_results_json_has_form_and_projects_with_the_keys_of_spec_13(batch):
    doc = json.loads(to_json(batch))
    zj, tj, dept = doc["files"]
    assert [f["form"] for f in doc["files"]] == ["proj-2020", "proj-2020", "gd-dept-2020"]
    assert list(zj)[10:13] == ["findings", "form", "projects"] and "projects" not in dept
    assert [list(p) for p in zj["projects"]] == [PROJECT_KEYS, PROJECT_KEYS]
    assert {tuple(i) for p in zj["projects"] + tj["projects"] for i in p["indicators"]} == {tuple(INDICATOR_KEYS)}
    talent_, party_ = zj["projects"]
    assert (talent_["sheet"], talent_["project_name"], talent_["budget_annual"], talent_["spent"]) == (
        "项目1", "人才工作专项", 500, 480)
    assert (talent_["execution_rate"], talent_["execution_self_score"], talent_["execution_score"]) == (0.96, 10, 9.6)
    assert (talent_["reviewed_total"], talent_["reviewed_grade"], talent_["capped_by_execution"]) == (97.91, "优秀", False)
    assert (party_["reviewed_total"], party_["reviewed_grade"], party_["capped_by_execution"]) == (79, "中", True)
    rows = talent_["indicators"]
    assert [r["row"] for r in rows] == [12, 13, 14, 15, 16]
    # as written: text stays text, numbers stay numbers (Decimals as the file does elsewhere)
    assert (rows[0]["target"], rows[0]["actual"], rows[0]["unit"]) == (500, 505, "人")
    assert (rows[1]["target"], rows[1]["actual"]) == ("≥95%", 0.97)
    assert rows[3] == {"row": 15, "level1": "效益指标", "level2": "社会效益指标", "name": "新认定高层次人才",
                       "direction": "≥", "target": "5000人", "actual": "4719人", "unit": None, "weight": 30,
                       "self_score": 30, "reviewed_score": 28.31, "applicable": True}
    cannot = tj["projects"][0]
    assert cannot["reviewed_total"] is None and cannot["capped_by_execution"] is None
    assert cannot["indicators"][1]["applicable"] is None and cannot["indicators"][1]["reviewed_score"] is None
    assert cannot["execution_rate"] == 1.25
    assert '"reviewed_score": 28.31,' in to_json(batch)  # 28.31, not its binary neighbour


def test_a_file_without_a_form_takes_the_batchs_first(batch):
    ignored = FileResult("readme.pdf", "ignored")
    doc = json.loads(to_json(dataclasses.replace(batch, files=[ignored])))
    assert doc["files"][0]["form"] == "gd-dept-2020" and "projects" not in doc["files"][0]


# -- summary.xlsx -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def summary(batch, tmp_path_factory) -> openpyxl.Workbook:
    return openpyxl.load_workbook(write_summary(batch, tmp_path_factory.mktemp("summary")))


def values(ws) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_project_sheets_follow_the_scores_sheet(summary):
    assert summary.sheetnames == ["汇总", "指标得分", "项目汇总", "项目指标", "问题清单", "未报送", "统计"]


def test_projects_sheet_rows_and_the_reviewed_total(summary):
    ws = summary["项目汇总"]
    rows = values(ws)
    assert rows[0][:12] == ["单位编码", "单位名称", "项目名称", "全年预算数", "全年执行数", "执行率", "自评总分",
                            "核定总分", "自评等级", "核定等级", "错误数", "警告数"]
    assert [r[:12] for r in rows[1:4]] == [
        ["440800001", "中共湛江市委组织部本级", "人才工作专项", 500, 480, 0.96, 100, 97.91, "优秀", "优秀", 0, 0],
        # the file's meta-missing has no sheet: it is no project's
        ["440800001", "中共湛江市委组织部本级", "基层党建专项", 1000, 650, 0.65, 100, 79, "优秀", "中", 0, 1],
        ["440800002", "湛江市统计局本级", "统计调查专项", 200, 250, 1.25, 100, "—", "优秀", "—", 2, 1],
    ]
    assert [r[12:16] for r in rows[1:4]] == [["否", "项目1", "440800001_项目.xlsx", None],
                                             ["是", "项目2", "440800001_项目.xlsx",
                                              "已解决：偏差未说明原因（deviation-unexplained）；改动的数据：全年执行数 600 → 650"],
                                             ["—", "统计调查", "440800002_项目.xlsx", None]]
    # 合计 of the reviewed file's projects only: 500 + 1000 and 480 + 650; 执行率 1130 / 1500
    total = rows[4]
    assert total[0] == TOTAL_LABEL and total[3:5] == [1500, 1130]
    assert total[5] == pytest.approx(1130 / 1500)
    assert ws["D2"].number_format == "#,##0.00" and ws["F2"].number_format == "0.00%"
    assert ws["H2"].number_format == "0.00" and ws["F5"].number_format == "0.00%"
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb.endswith("D9E1F2")
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref == "A1:P4"
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"


def test_indicators_sheet_has_a_row_for_each_indicator(summary):
    ws = summary["项目指标"]
    rows = values(ws)
    assert rows[0][:12] == ["单位编码", "单位名称", "项目名称", "一级指标", "二级指标", "三级指标", "指标性质",
                            "年度指标值", "实际完成值", "分值", "自评得分", "核定得分"]
    assert len(rows) == 1 + 5 + 3 + 3
    assert [r[5] for r in rows[1:]][:6] == ["新引进人才", "人才项目验收合格率", "资金拨付及时性", "新认定高层次人才",
                                             "人才满意度", "新建村民小组党组织"]
    assert rows[4][:12] == ["440800001", "中共湛江市委组织部本级", "人才工作专项", "效益指标", "社会效益指标",
                            "新认定高层次人才", "≥", "5000人", "4719人", 30, 30, 28.31]
    # a number on a percent row is the percentage scored: 0.97 of a 97 % cell, shown as 97.00%
    assert rows[2][7:9] == ["≥95%", 0.97] and ws["I3"].number_format == "0.00%"
    # 90 and 95 typed with the unit %: the fractions scored
    assert rows[11][7:9] == [0.9, 0.95] and ws["H12"].number_format == "0.00%"
    assert rows[10][11] == "—" and rows[4][12:16] == [None, "部分人才的认定手续延至次年办理", "项目1", 15]
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref == "A1:P12"


def test_values_as_written_read_as_numbers_where_they_are_numbers():
    plain = ind(12, "产出指标", "数量指标", "人数", "≥", "1,200", "1300", "人", 20, 20, 20,
                target_value=1200, actual_value=1300)
    assert (cell_value(plain, "target"), cell_value(plain, "actual")) == ((D(1200), None), (D(1300), None))
    assert (value_text(plain, "target"), value_text(plain, "actual")) == ("1200人", "1300人")
    percent = ind(13, "产出指标", "质量指标", "合格率", "≥", "≥95", "97", "%", 15, 15, 15,
                  target_value="0.95", actual_value="0.97")
    assert cell_value(percent, "target") == ("≥95", None) and cell_value(percent, "actual") == (D("0.97"), "rate")
    assert (value_text(percent, "target"), value_text(percent, "actual")) == ("≥95%", "97.00%")
    words = ind(14, "产出指标", "时效指标", "完成时限", "定性", "12月底前", "按期完成", "月", 15, 15, 15)
    assert (value_text(words, "target"), value_text(words, "actual")) == ("12月底前", "按期完成")


def test_stats_count_projects_by_grade(summary):
    rows = values(summary["统计"])
    assert rows[0] == ["核定等级", "单位数", "项目数", None, None]
    # the department file is 优秀; of the projects one 优秀, one 中, one not graded
    assert [r[:3] for r in rows[1:6]] == [["优秀", 1, 1], ["良好", 0, 0], ["中", 0, 1], ["差", 0, 0], ["未定级", 0, 1]]


def test_a_department_only_batch_has_no_project_sheets(batch, tmp_path):
    dept = dataclasses.replace(batch, files=[batch.files[2]])
    wb = openpyxl.load_workbook(write_summary(dept, tmp_path))
    assert tuple(wb.sheetnames) == SHEETS
    assert values(wb["统计"])[0][:3] == ["核定等级", "单位数", None]


# -- the report -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(batch) -> str:
    return render_report(batch.files[0], batch)


def headings(text: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(text)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def section(text: str, start: str, end: str | None = None) -> str:
    """The report from the heading `start` up to the next heading `end` (or the end)."""
    begin = text.index(start)
    return text[begin: text.index(end, begin + 1) if end else None]


def test_report_has_one_section_per_project_in_sheet_order(report):
    heads = headings(report)
    assert heads[0] == "中共湛江市委组织部本级2020年度项目支出绩效自评报告"
    assert heads[1:3] == ["一、项目自评总体情况", "二、各项目自评情况"]
    parts = ["1. 项目资金情况", "2. 年度总体目标", "3. 实际完成情况", "4. 绩效指标完成情况", "5. 偏差及原因分析",
             "6. 预算执行率得分", "7. 存在的问题", "8. 改进措施", "9. 自评结果", "10. 审核发现"]
    assert heads[3:] == ["（一）人才工作专项", *parts, "（二）基层党建专项", *parts, "附件 其他审核发现"]


def test_report_sheet_order_is_the_files_not_the_names(batch):
    swapped = dataclasses.replace(batch.files[0], projects=[party(), talent()])
    heads = headings(render_report(swapped, batch))
    assert heads.index("（一）基层党建专项") < heads.index("（二）人才工作专项")


def test_overview_sums_the_projects(report):
    overview = section(report, "## 一、", "## 二、")
    # 500 + 1000 budgeted, 480 + 650 spent: 75.33 %
    assert "共对2个项目开展绩效自评，全年预算数合计1500.00万元，全年执行数合计1130.00万元，执行率为75.33%" in overview
    assert "核定等级为优秀的1个、中的1个。" in overview and "其中1个项目因预算执行率偏低，核定总分按规定封顶。" in overview
    assert "本单位于2021年6月5日报送自评材料，在规定时间（2021年6月20日）内完成报送。" in overview
    assert "| 人才工作专项 | 500.00 | 480.00 | 96.00% | 100.00 | 97.91 | 优秀 |" in overview
    assert "| 基层党建专项 | 1000.00 | 650.00 | 65.00% | 100.00 | 79.00 | 中 |" in overview


def test_project_section_funds_texts_and_indicator_table(report):
    talent_ = section(report, "### （一）", "### （二）")
    assert "项目实施单位为市委人才工作领导小组办公室，项目负责人为李四。" in talent_
    assert "| 资金总额 | 450.00 | 500.00 | 480.00 | 96.00% |" in talent_
    assert "| 其中：财政拨款 | 450.00 | 500.00 | 480.00 | 96.00% |" in talent_
    assert "引进各类人才500人。\n\n新认定高层次人才5000人。" in section(talent_, "#### 2.", "#### 3.")
    assert "新引进人才505人，新认定高层次人才4719人。" in section(talent_, "#### 3.", "#### 4.")
    table = section(talent_, "#### 4.", "#### 5.")
    assert "本项目共设置绩效指标5个，其中产出指标3个、效益指标1个、满意度指标1个" in table
    assert "| 预算执行率 |  |  |  | 100.00% | 96.00% | 10 | 10.00 | 9.60 |" in table
    assert "| 产出指标 | 数量指标 | 新引进人才 | ≥ | 500人 | 505人 | 20 | 20.00 | 20.00 |" in table
    assert "| 产出指标 | 质量指标 | 人才项目验收合格率 | ≥ | ≥95% | 97.00% | 15 | 15.00 | 15.00 |" in table
    assert "| 效益指标 | 社会效益指标 | 新认定高层次人才 | ≥ | 5000人 | 4719人 | 30 | 30.00 | 28.31 |" in table
    assert "| 合计 |  |  |  |  |  | 100 | 100.00 | 97.91 |" in table


def test_deviations_execution_and_results(report):
    talent_ = section(report, "### （一）", "### （二）")
    deviations = section(talent_, "#### 5.", "#### 6.")
    assert deviations.count("（1）") == 1 and "（2）" not in deviations  # only the row below full marks
    assert ("新认定高层次人才：年度指标值5000人，实际完成值4719人，得28.31分（分值30分）。"
            "偏差原因分析及改进措施：部分人才的认定手续延至次年办理") in deviations
    assert "执行率为96.00%，预算执行率得9.60分（分值10分），单位自评10.00分。" in section(talent_, "#### 6.", "#### 7.")
    assert "人才认定进度偏慢。" in section(talent_, "#### 7.", "#### 8.")
    assert "提前部署认定工作。" in section(talent_, "#### 8.", "#### 9.")
    results = section(talent_, "#### 9.", "#### 10.")
    assert "本项目自评总分为100.00分，自评等级为优秀。按评分规则复核，核定总分为97.91分，核定等级为优秀。" in results
    assert "新认定高层次人才（自评30.00分，核定28.31分）" in results
    party_ = section(report, "### （二）", "单位（公章）")
    assert "各项绩效指标均达到年度指标值，无偏差。" in party_
    assert ("> 本项目已重新报送。与上次报送相比——已解决：偏差未说明原因（deviation-unexplained）；"
            "改动的数据：全年执行数 600 → 650。") in party_
    assert "重新报送" not in talent_
    execution = section(party_, "#### 6.", "#### 7.")
    assert "执行率低于90%，单位未说明执行偏差原因。" in execution
    assert "执行率低于70%，核定总分按规定封顶为79.00分（按各项得分合计为96.50分）。" in execution
    assert "核定总分为79.00分（已按执行率封顶），核定等级为中。" in section(party_, "#### 9.", "#### 10.")
    assert "无。" in section(party_, "#### 7.", "#### 8.")


def test_a_deviation_without_its_reason_is_said(batch):
    quiet = talent()
    quiet.indicators[3].reason = None
    text = render_report(dataclasses.replace(batch.files[0], projects=[quiet]), batch)
    assert "得28.31分（分值30分）。单位未填写偏差原因分析及改进措施。" in text


def test_each_project_lists_the_findings_of_its_sheet(report):
    talent_ = section(report, "### （一）", "### （二）")
    party_ = section(report, "### （二）", "单位（公章）")
    assert section(talent_, "#### 10.").strip().endswith("无。")
    assert "deviation-unexplained" in party_ and "项目2!C9" in party_ and "deviation-unexplained" not in talent_
    others = section(report, "## 附件 其他审核发现")
    assert "meta-missing" in others and "deviation-unexplained" not in others
    assert report.index("单位（公章）：中共湛江市委组织部") < report.index("## 附件")
    assert "填报日期：2021年6月5日" in report  # the latest of the sheets' dates


def test_an_error_file_report_says_what_cannot_be_scored(batch):
    text = render_report(batch.files[1], batch)
    assert text.startswith("# 湛江市统计局本级2020年度项目支出绩效自评报告\n")
    assert "> 审核发现错误2项、警告1项，详见各项目的审核发现" in text
    assert "| 效益指标 | 社会效益指标 | 数据采用率 | ≥ | ≥90% | — | 30 | 30.00 | 无法计算 |" in text
    assert "| 满意度指标 | 服务对象满意度指标 | 用户满意度 | ≥ | 90.00% | 95.00% | 10 | 10.00 | 10.00 |" in text
    assert "数据采用率：年度指标值≥90%，实际完成值未填写，无法计算得分（原因见审核发现）。\n" in text
    assert "核定总分：—（存在无法计算的得分，待单位更正后重新核定）。" in text
    assert "1个项目暂无法核定" in text and "## 附件" not in text  # every finding is on its sheet


def test_a_resent_files_line_leaves_the_data_to_each_project(batch):
    # the file's own changed_fields compare the first sheets of the two files, whichever projects they hold
    resent = dataclasses.replace(batch.files[0], since_last={
        "resolved": [], "still_open": [], "new": ["meta-missing"],
        "changed_fields": {"project_name": ["人才工作专项", "基层党建专项"]}, "previous_file": "旧.xlsx"})
    opening = render_report(resent, batch).split("## 二、")[0]
    assert "> 本单位已重新报送。与上次报送相比——新出现：缺少模板标识（meta-missing）；各项目改动的数据见该项目。" in opening
    assert "人才工作专项 →" not in opening
    quiet = dataclasses.replace(resent, since_last={"resolved": [], "still_open": [], "new": [], "changed_fields": {}},
                                projects=[talent()])
    assert "与上次报送相比——问题无变化，项目数据均无变化。" in render_report(quiet, batch)


def test_unit_text_in_a_project_report_stays_text(batch):
    hostile = dataclasses.replace(talent(), project_name="# 标题 <b>x</b>")
    hostile.fields["outcome_text"] = "- 列表\n[链接](http://x)"
    text = render_report(dataclasses.replace(batch.files[0], projects=[hostile]), batch)
    assert "### （一）\\# 标题 &lt;b&gt;x&lt;/b&gt;" in text
    assert "\\- 列表\n\n\\[链接\\](http\\://x)" in text and "<b>" not in text


# -- HTML -------------------------------------------------------------------------------------


def test_project_reports_get_pages_and_the_index_counts_projects(batch, tmp_path):
    markdown = write_reports(batch, tmp_path)
    # a project file's outputs say so in their name, beside a department file of the same unit
    assert [p.name for p in markdown] == ["440800001_中共湛江市委组织部本级_项目支出.md", "440800002_湛江市统计局本级_项目支出.md",
                                          "440800003_湛江市博物馆.md"]
    assert markdown[0].read_text("utf-8") == render_report(batch.files[0], batch)
    assert "部门整体支出绩效自评报告" in markdown[2].read_text("utf-8")
    pages = write_html(batch, tmp_path, markdown)
    page = pages[0].read_text("utf-8")
    assert "<title>中共湛江市委组织部本级 · 2020年度项目支出绩效自评报告</title>" in page
    assert "<h3>（一）人才工作专项</h3>" in page
    assert "<title>湛江市博物馆 · 2020年度部门整体支出绩效自评报告</title>" in pages[2].read_text("utf-8")
    index = (tmp_path / "index.html").read_text("utf-8")
    assert "2020年度部门整体及项目支出绩效自评汇总" in index
    assert "其中项目支出自评文件 2 个、项目 3 个" in index
    assert "<b>3</b><span>项目（2 个文件）</span>" in index
    # the reviewed file's two projects: 1500 budgeted, 1130 spent
    assert "已审核文件的 2 个项目：全年预算数合计 1500.00 万元，全年执行数合计 1130.00 万元，执行率 75.33%" in index
    assert re.search(r"<td>中</td><td class=\"num\">1</td>", index)


def test_a_department_only_index_has_no_project_lines(batch, tmp_path):
    dept = dataclasses.replace(batch, files=[batch.files[2]])
    write_html(dept, tmp_path, write_reports(dept, tmp_path))
    index = (tmp_path / "index.html").read_text("utf-8")
    assert "2020年度部门整体支出绩效自评汇总" in index and "项目" not in index.split("<main>")[0].split("<h1>")[1]
    assert 'id="projects"' not in index and "proj-2020" not in index


# -- feedback ---------------------------------------------------------------------------------


def returned_project_file() -> bytes:
    """A project workbook whose unit renamed its project sheet 人才工作专项, and a 填报说明."""
    wb = openpyxl.Workbook()
    wb.active.title = "填报说明"
    wb["填报说明"]["A1"] = "每个项目一张工作表"
    ws = wb.create_sheet("人才工作专项")
    ws["A2"], ws["B2"] = "项目名称", "人才工作专项"
    ws["D6"], ws["E6"] = 200, 250
    ws["H15"] = 30
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def marked_result(data: bytes) -> tuple[FileResult, BatchResult]:
    project = dataclasses.replace(survey(), sheet="人才工作专项", project_name="人才工作专项",
                                  cells={"budget_annual": ("人才工作专项", "D6"), "spent": ("人才工作专项", "E6")})
    result = FileResult(
        "人才.xlsx", "error", "440800009", "测试单位", findings=[
            Finding("spending-over-budget", "人才工作专项 E6「全年执行数」250 超过「全年预算数」200", "人才工作专项",
                    ("E6", "D6"), file="人才.xlsx"),
            Finding("deviation-unexplained", "人才工作专项 H15 得分低于分值，未说明偏差原因", "人才工作专项", ("H15",),
                    file="人才.xlsx")],
        form="proj-2020", projects=[project], format="xlsx", sha256=hashlib.sha256(data).hexdigest())
    return result, BatchResult(RUBRIC, 2020, DEADLINE, files=[result], others=(PROJ,))


def fill(ws, ref: str) -> str:
    return ws[ref].fill.fgColor.rgb[-6:]


def test_feedback_marks_cells_of_a_project_sheet_with_any_name():
    data = returned_project_file()
    result, batch = marked_result(data)
    content, failure = feedback_bytes(result, batch, data)
    assert failure is None
    wb = openpyxl.load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["审核意见", "填报说明", "人才工作专项"]
    ws = wb["人才工作专项"]
    assert (fill(ws, "E6"), fill(ws, "D6"), fill(ws, "H15")) == ("FFC7CE", "FFC7CE", "FFEB9C")
    assert "spending-over-budget" in ws["E6"].comment.text and "相关单元格，详见 E6" in ws["D6"].comment.text
    assert "deviation-unexplained" in ws["H15"].comment.text
    assert wb["填报说明"]["A1"].comment is None and ws["B2"].value == "人才工作专项"
    review = wb["审核意见"]
    assert review["A1"].value == "2020年度项目支出绩效自评审核意见——测试单位（440800009）"
    notes = " ".join(str(c.value) for c in review["A"][:6] if c.value)
    assert "共 1 个项目：项目“人才工作专项”（工作表「人才工作专项」）自评总分 100（优秀）；核定总分 无法计算" in notes
    links = [c.hyperlink.location for row in review.iter_rows() for c in row if c.hyperlink]
    assert links == ["'人才工作专项'!E6", "'人才工作专项'!H15"]


def test_a_values_copy_keeps_the_project_sheets_and_their_marks():
    data = returned_project_file()
    result, batch = marked_result(data)
    review, marks = build_review(result, batch), build_marks(result)
    wb = openpyxl.load_workbook(io.BytesIO(rebuilt_copy(review, marks, result, data, PROJ)))
    # the project sheet by its own name; 填报说明 is neither read nor named by a finding
    assert wb.sheetnames == ["审核意见", "人才工作专项"]
    ws = wb["人才工作专项"]
    assert (fill(ws, "E6"), fill(ws, "H15")) == ("FFC7CE", "FFEB9C") and ws["E6"].value == 250
    assert ws["D6"].number_format == "#,##0.00"  # a money field of the project form
    assert "spending-over-budget" in ws["E6"].comment.text


def test_a_department_files_review_keeps_its_title(batch):
    review = build_review(batch.files[2], batch)
    assert review.title == "2020年度部门整体支出绩效自评审核意见——湛江市博物馆（440800003）"
    assert review.notes[0] == "报送文件：440800003.xlsx。自评总分 95（优秀）；核定总分 95（优秀）。"



@pytest.mark.slow  # runs pandoc
def test_word_report_of_a_project_file(report, tmp_path):
    import docx
    from docx.enum.section import WD_ORIENT

    from perfxl.write.docx import markdown_to_docx

    d = docx.Document(markdown_to_docx(report, tmp_path / "r.docx"))
    styled = lambda name: [p.text for p in d.paragraphs if p.style.style_id == name]  # noqa: E731
    assert styled("Heading2") == ["（一）人才工作专项", "（二）基层党建专项"]
    assert styled("Heading3")[:4] == ["1. 项目资金情况", "2. 年度总体目标", "3. 实际完成情况", "4. 绩效指标完成情况"]
    # each project's indicator table, with its heading, on a landscape page of its own section
    assert [s.orientation for s in d.sections] == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE] * 2 + [WD_ORIENT.PORTRAIT]
    body = d.element.body
    blocks = [el for el in body.iterchildren() if el.tag.endswith(("}p", "}tbl"))]
    starts = [i + 1 for i, el in enumerate(blocks) if el.tag.endswith("}p") and el.find(".//" + docx.oxml.ns.qn("w:sectPr")) is not None]
    text = lambda el: "".join(t.text or "" for t in el.iter(docx.oxml.ns.qn("w:t")))  # noqa: E731
    assert text(blocks[starts[0]]) == "4. 绩效指标完成情况"
    tables = [t for t in d.tables if t.rows[0].cells[0].text == "一级指标"]
    assert [row.cells[2].text for row in tables[1].rows[1:]] == ["", "新建村民小组党组织", "党组织覆盖率", "党员群众满意度", ""]
