"""Build the project returns of examples/returns-2020/ (项目支出绩效自评表, form proj-2020, spec §13) and check them.

    python examples/make_samples_projects.py            # rewrite the project files, verify them, refresh the README
    python examples/make_samples_projects.py --check    # verify the committed files: results and identical regeneration

Eight files of seven units of the 湛江 sample folder, 21 projects. Each is made as a unit makes it:
the blank workbook of `perfxl template --form proj-2020` (perfxl.write.project_template), its sheet
项目1 copied once per further project as Excel's 移动或复制 copies it (with its sheet-scoped names,
perfxl.write.fill_project.copy_project_sheet), every sheet filled through its names and its indicator
table below `ind_header`; where the sample needs it, sheets renamed and rows inserted as Excel inserts
them (insert_rows). The packages are saved deterministically with make_samples.py's `saved` (fixed zip
dates and docProps/core.xml times), so regeneration gives identical bytes.

The first unit is the sample report's (中共湛江市委组织部本级): its projects are the work the report
describes (人才工作, 基层党建三年行动, 干部教育培训, 公务员考录), their spending 1632.47 of the unit's
2970.12 万元, and the 32.53 万元 the unit carried over is exactly what the projects left unspent. The
other units each show findings of §13. Every expected number below was worked out by hand from the
rules of §13 (the arithmetic is in the comments beside the data); `check()` runs perfxl (both forms of
the round, as `perfxl run examples/returns-2020` does) and compares every project's totals, grades,
cap and finding codes with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import openpyxl
from openpyxl.utils import quote_sheetname

from perfxl.findings import CATALOGUE
from perfxl.model import STATUS_LABELS
from perfxl.read.values import format_money, format_number, round_half_up
from perfxl.spec.project import builtin_project_form
from perfxl.write.fill_project import SOURCE_SHEET, copy_project_sheet, insert_rows, named_cell, write_project
from perfxl.write.project_template import build_project_template

HERE = Path(__file__).resolve().parent
OUT = HERE / "returns-2020"
README = HERE / "README.md"
FORM = builtin_project_form("proj-2020")
D = Decimal
#: every project file's name has it (and no department file's): make_samples.py leaves these files alone
MARK = "_项目支出"


def _base():
    """make_samples.py, loaded from its path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_samples", HERE / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


BASE = _base()


def R(l1, l2, name, direction, target, unit, actual, weight, score, reason=None) -> dict[str, object]:
    """One indicator row, as the unit types it (一级/二级 None: the blank cell continues the row above)."""
    return dict(level1=l1, level2=l2, name=name, direction=direction, target=target, unit=unit, actual=actual,
                weight=weight, self_score=score, reason=reason)


class Expect(NamedTuple):  # not a dataclass: the module may be loaded from its path, outside sys.modules
    """What perfxl must make of one project sheet (worked out by hand from spec §13)."""

    self_total: str
    self_grade: str
    reviewed_total: str | None
    reviewed_grade: str | None
    capped: bool | None = False
    codes: tuple[str, ...] = ()  # the finding codes on this sheet


class Project(NamedTuple):
    sheet: str
    values: dict[str, object]  # fields by defined name, and "rows"
    expect: Expect


class ProjectFile(NamedTuple):
    file: str
    shows: str  # what it demonstrates (README)
    unit: dict[str, object]  # the fields every sheet of the file shares
    projects: tuple[Project, ...]
    status: str
    #: an edit after filling, as the unit made it (rows inserted …)
    edit: Callable[[openpyxl.Workbook], None] | None = None
    #: the finding codes of the file that sit on no project sheet
    file_codes: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        """Every finding code of the file, sorted."""
        return sorted([*self.file_codes, *(c for p in self.projects for c in p.expect.codes)])


def project(sheet: str, name: str, implementer: str, lead: str, funds: tuple[str, str, str], rows: list[dict],
            expect: Expect, *, exec_score: object, target: str, outcome: str, self_total: object = None,
            grade: str | None = None, exec_reason: str | None = None, problems: str = "无", measures: str = "无",
            **more: object) -> Project:
    """A project sheet's values: 年初预算数, 全年预算数 and 全年执行数 (all 财政拨款, as the units' budgets
    are), the 预算执行率 self score, the rows, 自评总分 (the Σ of the self scores unless given) and
    自评等级 (of that total unless given)."""
    initial, annual, spent = (D(x) for x in funds)
    if self_total is None:
        scores = [D(str(exec_score)), *(D(str(r["self_score"])) for r in rows)]
        self_total = sum(scores, D(0))
    vals: dict[str, object] = {
        "project_name": name, "implementer": implementer, "project_lead": lead,
        "budget_initial": initial, "budget_annual": annual, "spent": spent,
        "budget_initial_fiscal": initial, "budget_annual_fiscal": annual, "spent_fiscal": spent,
        "exec_score": exec_score, "exec_reason": exec_reason, "target_text": target, "outcome_text": outcome,
        "problems_text": problems, "measures_text": measures,
        "score_total": self_total, "grade_self": grade or FORM.grade(round_half_up(D(str(self_total)))),
        "rows": rows, **more,
    }
    return Project(sheet, vals, expect)


def unit(name: str, code: str, department: str, filed: dt.date, phone: str) -> dict[str, object]:
    return {"unit_name": name, "unit_code": code, "department": department, "eval_year": 2020,
            "filing_date": filed, "phone": phone}


# --------------------------------------------------------------------------------------------
# 440800001 中共湛江市委组织部本级: the sample report's unit. Its projects are the work the report
# names; 年初 1620.00, 全年 1665.00, 执行 1632.47 of its 2970.12 万元 of spending; unspent 17.64 + 4.80 +
# 6.09 + 4.00 = 32.53, the unit's 年末结转和结余. Every row at its target or explained; no finding.

ORG_UNIT = unit("中共湛江市委组织部本级", "440800001", "中共湛江市委组织部", dt.date(2021, 6, 4), "0759-3338001")
ORG_PROBLEMS = "专项资金使用的计划性需进一步加强，个别科室在专项资金使用进度方面出现前松后紧的情况。"
ORG_MEASURES = "加强专项资金使用的计划性和督促管理，合理安排资金使用，加快资金使用进度，财务部门加强跟踪督促。"

ORG = (
    # 执行率 842.36 / 860.00 = 0.979488… → 10 × 0.979488 = 9.79488 → 9.79
    project("项目1", "人才工作专项", "中共湛江市委组织部（市委人才工作领导小组办公室）", "人才工作科科长",
            ("800.00", "860.00", "842.36"), [
                R("产出指标", "数量指标", "新引进各类人才", "≥", "≥500", "人", "505人", 10, 10),  # 505/500 = 1.01 → 10
                R(None, None, "新引进人才团队", "≥", "12个", None, "14个", 10, 10),  # 14/12 = 1.17 (< 1.3) → 10
                R(None, None, "新认定高层次人才", "≥", "4000人", None, "4719人", 10, 10),  # 1.18 → 10
                R(None, "质量指标", "新建县级人才驿站", "≥", "4个", None, "4个", 10, 10),  # met → 10
                R(None, "时效指标", "人才政策兑现及时性", "定性", "按期完成", None, "按期完成", 10, 10),  # 定性: 10
                R("效益指标", "社会效益指标", "为基层提供技术指导服务", "≥", "12000人次", None, "12591人次", 15, 15),
                R(None, "可持续影响指标", "人才工作机制持续运行", "定性", "长效运行", None,
                  "市人才工作领导小组运行机制完善，党委联系人才机制常态化", 15, 15),  # 定性: 15
                R("满意度指标", "服务对象满意度指标", "引进人才满意度", "≥", "≥90%", None, "95%", 10, 10),
            ],
            # 9.79 + 90 = 99.79 → 优秀
            Expect("99.79", "优秀", "99.79", "优秀"), exec_score=D("9.79"),
            target="落实湛江招才引智30条政策和市七大人才引育计划，全年新引进人才500人以上、团队12个以上，新建县级人才驿站4个。",
            outcome="新引进人才505人、团队14个75人，新认定高层次人才4719人；推进廉江等4个县级人才驿站建设。",
            problems=ORG_PROBLEMS, measures=ORG_MEASURES),
    # 执行率 515.20 / 520.00 = 0.990769… → 9.90769 → 9.91
    project("项目2", "基层党建专项", "中共湛江市委组织部（组织科）", "组织科科长",
            ("520.00", "520.00", "515.20"), [
                R("产出指标", "数量指标", "新建村民小组（自然村）党组织", "≥", "6000个", None, "6968个", 10, 10),  # 1.16 → 10
                R(None, None, "打造机关企事业单位党建示范点", "≥", "6个", None, "6个", 10, 10),
                R(None, None, "打造行业党建示范点", "≥", "9个", None, "9个", 10, 10),
                R(None, "质量指标", "软弱涣散村（社区）党组织整顿完成率", "=", "100%", None, "100%", 10, 10),  # equal → 10
                R(None, "时效指标", "基层党建三年行动计划收官", "定性", "2020年底前完成", None, "按期完成", 10, 10),
                # ≥95% against 99.89%: fractions, 0.9989 / 0.95 = 1.05 → 15
                R("效益指标", "社会效益指标", "村（社区）“三个一肩挑”占比", "≥", "≥95%", None, "99.89%", 15, 15),
                R(None, "可持续影响指标", "村后备干部库人数（不低于1:2）", "≥", "3940人", None, "3980人", 15, 15),  # 1.01 → 15
                R("满意度指标", "服务对象满意度指标", "基层党员群众满意度", "≥", "≥90%", None, "96%", 10, 10),
            ],
            # 9.91 + 90 = 99.91 → 优秀
            Expect("99.91", "优秀", "99.91", "优秀"), exec_score=D("9.91"),
            target="打好基层党建三年行动计划收官战，全面完成软弱涣散村（社区）党组织整顿，打造一批村民小组党建示范点。",
            outcome="新建6968个村民小组（自然村）党组织，打造机关企事业单位党建示范点6个、行业党建示范点9个，"
                    "“三个一肩挑”占比提升到99.89%，建立3980人的村后备干部库。",
            problems=ORG_PROBLEMS, measures=ORG_MEASURES),
    # 执行率 158.91 / 165.00 = 0.963090… → 9.6309 → 9.63 (年初 180.00, 调减到 165.00: 线下培训压减)
    project("项目3", "干部教育培训专项", "中共湛江市委组织部（干部教育科）", "干部教育科科长",
            ("180.00", "165.00", "158.91"), [
                R("产出指标", "数量指标", "举办市管干部主体班次", "≥", "12期", None, "12期", 15, 15),
                R(None, None, "培训干部", "≥", "1500人次", None, "1620人次", 10, 10),  # 1.08 → 10
                R(None, "质量指标", "参训学员考核合格率", "≥", "≥98%", None, "100%", 10, 10),  # 1.00 / 0.98 → 10
                # ≤ 0.10 万元: 158.91 / 1620 = 0.098 ≤ 0.10 → full 15
                R(None, "成本指标", "人均培训成本", "≤", "≤0.10", "万元/人次", 0.098, 15, 15),
                R("效益指标", "社会效益指标", "干部履职能力提升", "定性", "明显提升", None,
                  "参训干部政治素质和履职能力明显提升", 20, 20),
                R(None, "可持续影响指标", "镇街党校开展培训", "≥", "121个", None, "121个", 10, 10),
                R("满意度指标", "服务对象满意度指标", "参训学员满意度", "≥", "≥90%", None, "94.5%", 10, 10),
            ],
            # 9.63 + 90 = 99.63 → 优秀
            Expect("99.63", "优秀", "99.63", "优秀"), exec_score=D("9.63"),
            target="组织市管干部和一定层次干部的培训，全年举办主体班次12期、培训干部1500人次以上。",
            outcome="举办主体班次12期，培训干部1620人次；组织组工干部党性教育专题培训班。",
            problems=ORG_PROBLEMS, measures=ORG_MEASURES),
    # 执行率 116.00 / 120.00 = 0.966666… → 9.6667 → 9.67
    project("项目4", "公务员考试录用专项", "中共湛江市委组织部（公务员管理科）", "公务员管理科科长",
            ("120.00", "120.00", "116.00"), [
                # ≥ 350 人, 342: 20 × 342/350 = 19.542857… → 19.54 (explained)
                R("产出指标", "数量指标", "录用公务员（含选调生）", "≥", "350人", None, "342人", 20, D("19.54"),
                  "8个职位因报考人数不足或体检、考察不合格未能录满，已按规定递补；仍空缺的职位纳入2021年度考录计划。"),
                R(None, None, "从优秀村（社区）党组织书记中专项选拔乡镇公务员", "≥", "20人", None, "20人", 10, 10),
                R(None, "质量指标", "考试组织安全责任事故", "≤", "0起", None, "0起", 10, 10),  # ≤ 0 and 0 → full 10
                R(None, "时效指标", "按省统一部署完成考录", "定性", "按期完成", None, "按期完成", 10, 10),
                R("效益指标", "社会效益指标", "新录用公务员试用期考核合格率", "=", "100%", None, "100%", 15, 15),
                R(None, "可持续影响指标", "基层公务员队伍结构优化", "定性", "持续优化", None,
                  "新录用人员充实到基层一线，队伍年龄和专业结构进一步优化", 15, 15),
                R("满意度指标", "服务对象满意度指标", "考生满意度", "≥", "90%", None, "93%", 10, 10),
            ],
            # 9.67 + 19.54 + 10 + 10 + 10 + 15 + 15 + 10 = 99.21 → 优秀
            Expect("99.21", "优秀", "99.21", "优秀"), exec_score=D("9.67"),
            target="统筹做好省2020年考试录用公务员工作，完成选调生、急需紧缺专业公务员招录和从优秀村（社区）党组织书记中"
                   "专项选拔乡镇公务员工作。",
            outcome="录用公务员342人，专项选拔乡镇公务员20人，考录工作安全有序、按期完成。",
            problems=ORG_PROBLEMS, measures=ORG_MEASURES),
)


# --------------------------------------------------------------------------------------------
# 440800002 湛江市统计局本级: the weights. Its three projects spend 168.42 + 62.05 + 35.20 = 265.67, the
# 项目支出 of its department return.

STATS_UNIT = unit("湛江市统计局本级", "440800002", "湛江市统计局", dt.date(2021, 6, 11), "0759-3338002")

STATS = (
    # 执行率 168.42 / 172.00 = 0.979186… → 9.79. The 产出 rows add up to 45: 10 + 85 = 95 ≠ 100
    # (weight-total) and 产出 45 ≠ 50 (weight-split); the Σ stands, not rescaled.
    project("项目1", "第七次全国人口普查经费", "湛江市统计局（人口普查办公室）", "人口和就业统计科科长",
            ("172.00", "172.00", "168.42"), [
                R("产出指标", "数量指标", "完成普查小区划分", "≥", "2986个", None, "2986个", 15, 15),
                R(None, "质量指标", "普查登记漏登率", "≤", "≤0.5%", None, "0.32%", 15, 15),  # 0.0032 ≤ 0.005 → 15
                R(None, "时效指标", "现场登记按期完成", "定性", "2020年12月10日前完成", None, "按期完成", 15, 15),
                R("效益指标", "社会效益指标", "普查数据质量通过省级核查", "定性", "通过核查", None, "已通过", 30, 30),
                R("满意度指标", "服务对象满意度指标", "普查对象满意度", "≥", "≥90%", None, "92%", 10, 10),
            ],
            # 9.79 + 85 = 94.79 → 优秀 (self and reviewed alike)
            Expect("94.79", "优秀", "94.79", "优秀", codes=("weight-split", "weight-total")), exec_score=D("9.79"),
            target="高质量完成第七次全国人口普查现场登记和数据汇总，普查质量达到国家要求。",
            outcome="全市2986个普查小区现场登记按期完成，漏登率0.32%，数据质量通过省级核查。"),
    # 执行率 62.05 / 65.00 = 0.954615… → 9.55. 产出 60 and 效益 20 (Σ 100): weight-split on each.
    project("项目2", "统计调查与监测专项", "湛江市统计局", "综合科科长",
            ("65.00", "65.00", "62.05"), [
                R("产出指标", "数量指标", "开展专项统计调查", "≥", "6项", None, "6项", 20, 20),
                R(None, None, "发布月度、季度统计数据", "≥", "16期", None, "16期", 20, 20),
                R(None, "时效指标", "数据按时发布率", "=", "100%", None, "100%", 20, 20),
                R("效益指标", "社会效益指标", "统计分析报告获市领导批示", "≥", "10篇", None, "12篇", 20, 20),  # 1.2 → 20
                R("满意度指标", "服务对象满意度指标", "数据使用部门满意度", "≥", "≥90%", None, "95%", 10, 10),
            ],
            # 9.55 + 90 = 99.55 → 优秀
            Expect("99.55", "优秀", "99.55", "优秀", codes=("weight-split", "weight-split")), exec_score=D("9.55"),
            target="做好新冠肺炎疫情对经济社会影响的监测分析，按月、按季发布主要统计数据。",
            outcome="完成专项统计调查6项，发布统计数据16期，统计分析报告获市领导批示12篇。"),
    # The unit took 预算执行率 as 20 (unprotected the sheet, E11 10 → 20) and gave 产出 40: its own table
    # adds up to 100, the form's does not. 执行率 35.20 / 36.00 = 0.977777… → the form's 10: 9.78; self
    # 20 × 0.9778 = 19.56 > 10 (score-out-of-range) and ≠ 9.78 (score-differs); 10 + 80 = 90 (weight-total);
    # 产出 40 (weight-split). A quantitative score out of range does not stop scoring: 9.78 + 80 = 89.78.
    project("项目3", "统计执法检查专项", "湛江市统计局（执法监督科）", "执法监督科科长",
            ("36.00", "36.00", "35.20"), [
                R("产出指标", "数量指标", "开展统计执法检查", "≥", "20家", None, "22家", 20, 20),  # 1.1 → 20
                R(None, "质量指标", "立案查处案件结案率", "=", "100%", None, "100%", 20, 20),
                R("效益指标", "社会效益指标", "统计数据质量", "定性", "明显提升", None, "未发现统计造假案件", 30, 30),
                R("满意度指标", "服务对象满意度指标", "被检查单位满意度", "≥", "90%", None, "91%", 10, 10),
            ],
            # self 19.56 + 80 = 99.56 → 优秀; reviewed 9.78 + 80 = 89.78 → 良好
            Expect("99.56", "优秀", "89.78", "良好",
                   codes=("score-differs", "score-out-of-range", "weight-changed", "weight-split", "weight-total")),
            exec_score=D("19.56"), exec_weight=20,
            target="推进统计执法“双随机、一公开”检查，严肃查处统计造假、弄虚作假行为。",
            outcome="检查企业和单位22家，立案查处的案件全部结案。"),
)


# --------------------------------------------------------------------------------------------
# 440800003 湛江市城市管理和综合执法局本级: 执行率 low (its department return admits it), the cap biting.

URBAN_UNIT = unit("湛江市城市管理和综合执法局本级", "440800003", "湛江市城市管理和综合执法局", dt.date(2021, 6, 16),
                  "0759-3338003")

URBAN = (
    # 执行率 816.00 / 1200.00 = 0.68 → 6.80; < 80 % (89) and < 70 % (79): the lowest, 79 (reason given)
    project("项目1", "生活垃圾分类设施建设", "湛江市城市管理和综合执法局（环卫科）", "环卫科科长",
            ("1200.00", "1200.00", "816.00"), [
                R("产出指标", "数量指标", "新建生活垃圾分类收集站", "≥", "40个", None, "32个", 20, 16,  # 20 × 32/40 = 16
                  "受疫情影响2个片区开工延后，8个收集站2021年一季度建成"),
                R(None, None, "配置分类垃圾桶", "≥", "6000个", None, "6200个", 10, 10),
                R(None, "质量指标", "建成区居民小区分类设施覆盖率", "≥", "≥80%", None, "82%", 10, 10),
                R(None, "时效指标", "项目按期完工率", "≥", "100%", None, "80%", 10, 8,  # 10 × 0.80 = 8
                  "同上，部分工程顺延到2021年"),
                R("效益指标", "生态效益指标", "生活垃圾回收利用率", "≥", "≥35%", None, "36.5%", 15, 15),
                R(None, "可持续影响指标", "分类收运体系", "定性", "初步建立", None, "主城区分类收运体系初步建立", 15, 15),
                R("满意度指标", "服务对象满意度指标", "居民满意度", "≥", "≥85%", None, "88%", 10, 10),
            ],
            # Σ 6.80 + 16 + 10 + 10 + 8 + 15 + 15 + 10 = 90.80 > 79 → reviewed 79.00 中; self 90.8 优秀 (never capped)
            Expect("90.8", "优秀", "79", "中", capped=True), exec_score=D("6.8"),
            exec_reason="受疫情影响，2个片区收集站开工延后，工程款按进度结算，384.00万元结转2021年支付。",
            target="推进生活垃圾分类，建成区居民小区分类设施覆盖率达到80%，新建分类收集站40个。",
            outcome="新建分类收集站32个，配置分类垃圾桶6200个，覆盖率达到82%。"),
    # 执行率 765.00 / 900.00 = 0.85 → 8.50 (not below 80 %: no cap); below 90 % with 执行偏差原因 empty
    # (deviation-unexplained on I11) and the 改造LED路灯 row short of full with its 偏差原因 empty (on J15)
    project("项目2", "城市道路照明节能改造", "湛江市城市管理和综合执法局（市政科）", "市政科科长",
            ("900.00", "900.00", "765.00"), [
                R("产出指标", "数量指标", "改造LED路灯", "≥", "5000盏", None, "4680盏", 20, D("18.72")),  # 20 × 0.936
                R(None, "质量指标", "改造路段亮灯率", "≥", "≥98%", None, "99%", 15, 15),
                R(None, "成本指标", "单灯改造成本", "≤", "≤0.18", "万元/盏", 0.163, 15, 15),  # 0.163 ≤ 0.18 → 15
                R("效益指标", "经济效益指标", "年节约电费", "≥", "120万元", None, "112万元", 15, 14,  # 15 × 112/120 = 14
                  "部分路段12月才完成改造，节电效果未满一年"),
                R(None, "生态效益指标", "年节约标准煤", "≥", "450吨", None, "430吨", 15, D("14.33"),  # 14.333… → 14.33
                  "同上"),
                R("满意度指标", "服务对象满意度指标", "市民满意度", "≥", "≥90%", None, "93%", 10, 10),
            ],
            # 8.50 + 18.72 + 15 + 15 + 14 + 14.33 + 10 = 95.55 → 优秀
            Expect("95.55", "优秀", "95.55", "优秀", codes=("deviation-unexplained", "deviation-unexplained")),
            exec_score=D("8.5"),
            target="完成主城区道路照明节能改造5000盏，年节约电费120万元。",
            outcome="改造LED路灯4680盏，改造路段亮灯率99%。"),
    # 执行率 234.00 / 300.00 = 0.78 → 7.80; < 80 %: at most 89 (reason given)
    project("项目3", "违法建设专项治理", "湛江市城市管理和综合执法局（执法支队）", "执法支队队长",
            ("300.00", "300.00", "234.00"), [
                R("产出指标", "数量指标", "拆除违法建设面积", "≥", "30万平方米", None, "32.6万平方米", 20, 20),  # 1.09
                R(None, None, "查处违法建设案件", "≥", "150宗", None, "168宗", 15, 15),  # 1.12
                R(None, "时效指标", "新增违建处置时限", "定性", "发现即处置", None, "按期完成", 15, 15),
                R("效益指标", "社会效益指标", "新增违法建设", "≤", "0宗", None, "0宗", 15, 15),  # ≤ 0 and 0 → full
                R(None, "可持续影响指标", "违建防控长效机制", "定性", "建立", None, "已建立", 15, 15),
                R("满意度指标", "服务对象满意度指标", "群众满意度", "≥", "90%", None, "92%", 10, 10),
            ],
            # Σ 7.80 + 90 = 97.80 > 89 → reviewed 89.00 良好; self 97.8 优秀
            Expect("97.8", "优秀", "89", "良好", capped=True), exec_score=D("7.8"),
            exec_reason="部分拆除工程按进度在2021年结算，66.00万元结转下年。",
            target="开展违法建设专项治理行动，拆除违法建设30万平方米，新增违法建设零增长。",
            outcome="拆除违法建设32.6万平方米，查处案件168宗，未发现新增违法建设。"),
)


# --------------------------------------------------------------------------------------------
# 440800006 湛江市文化广电旅游体育局本级: its projects in two files (文化旅游 and 体育), values written as
# people write them, a 定性 row scored below full, a target set too low.

CULTURE_UNIT = unit("湛江市文化广电旅游体育局本级", "440800006", "湛江市文化广电旅游体育局", dt.date(2021, 6, 4),
                    "0759-3338006")

CULTURE = (
    # 执行率 146.20 / 150.00 = 0.974666… → 9.75 (年初 180.00, 调减到 150.00)
    project("项目1", "湛江文化旅游节", "湛江市文化广电旅游体育局（产业发展科）", "产业发展科科长",
            ("180.00", "150.00", "146.20"), [
                R("产出指标", "数量指标", "举办文化旅游节主题活动", "≥", "3个", None, "3个", 20, 20),
                R(None, "质量指标", "活动安全事故", "≤", "0起", None, 0, 10, 10),  # ≤ 0 and 0 → full
                R(None, "时效指标", "按期举办", "定性", "按期完成", None, "按期完成", 10, 10),
                R(None, "成本指标", "活动经费", "≤", "≤150万元", None, "146.2万元", 10, 10),
                # ≥ 2亿元, 1.86亿元: 15 × 1.86 / 2 = 13.95 (explained)
                R("效益指标", "经济效益指标", "带动旅游收入", "≥", "≥2亿元", None, "1.86亿元", 15, D("13.95"),
                  "受疫情防控影响，线下活动规模压减"),
                R(None, "社会效益指标", "线上线下参与人次", "≥", "50万人次", None, "58万人次", 15, 15),  # 1.16 → 15
                R("满意度指标", "服务对象满意度指标", "游客满意度", "≥", "≥90%", None, "93.6%", 10, 10),
            ],
            # 9.75 + 20 + 10 + 10 + 10 + 13.95 + 15 + 10 = 98.70 → 优秀
            Expect("98.7", "优秀", "98.7", "优秀"), exec_score=D("9.75"),
            target="疫情防控常态化下举办湛江文化旅游节，主题活动3个，带动旅游收入2亿元。",
            outcome="举办主题活动3个，线上线下参与58万人次，带动旅游收入1.86亿元。"),
    # 执行率 411.50 / 420.00 = 0.979761… → 9.80
    project("项目2", "公共文化服务体系建设", "湛江市文化广电旅游体育局（公共服务科）", "公共服务科科长",
            ("420.00", "420.00", "411.50"), [
                R("产出指标", "数量指标", "送戏下乡", "≥", "120场", None, "126场", 15, 15),  # 1.05 → 15
                R(None, None, "公共图书馆、文化馆免费开放率", "=", "100%", None, "100%", 15, 15),
                R(None, "质量指标", "基层综合性文化服务中心达标率", "≥", "≥95%", None, "96%", 10, 10),
                R(None, "时效指标", "场馆有序恢复开放", "定性", "按期完成", None, "按期完成", 10, 10),
                # 定性 scored by the unit: 12 of 15 is the reviewed score (explained)
                R("效益指标", "社会效益指标", "群众文化获得感", "定性", "明显提升", None, "城区明显提升，偏远镇村覆盖不足", 15, 12,
                  "偏远镇村送戏下乡频次偏少，2021年增设流动服务点"),
                R(None, "可持续影响指标", "公共文化设施长效运营", "定性", "长效运营", None, "运营机制健全", 15, 15),
                R("满意度指标", "服务对象满意度指标", "群众满意度", "≥", "≥90%", None, "95%", 10, 10),
            ],
            # 9.80 + 15 + 15 + 10 + 10 + 12 + 15 + 10 = 96.80 → 优秀
            Expect("96.8", "优秀", "96.8", "优秀"), exec_score=D("9.8"),
            target="推进公共文化服务体系建设，送戏下乡120场，公共文化场馆免费开放。",
            outcome="送戏下乡126场，公共图书馆、文化馆全部免费开放。"),
)

SPORT = (
    # 执行率 296.80 / 300.00 = 0.989333… → 9.89; 5个 of 3个 = 166.67 % ≥ 130 %: target-too-low (on G15)
    project("项目1", "社区体育公园建设", "湛江市文化广电旅游体育局（群众体育科）", "群众体育科科长",
            ("300.00", "300.00", "296.80"), [
                R("产出指标", "数量指标", "新建社区体育公园", "≥", "3个", None, "5个", 20, 20),
                R(None, "质量指标", "工程验收合格率", "=", "100%", None, "100%", 15, 15),
                R(None, "时效指标", "按期建成", "定性", "按期完成", None, "按期完成", 15, 15),
                R("效益指标", "社会效益指标", "新增健身场地面积", "≥", "3万平方米", None, "3.4万平方米", 30, 30),  # 1.13
                R("满意度指标", "服务对象满意度指标", "周边居民满意度", "≥", "≥90%", None, "96%", 10, 10),
            ],
            # 9.89 + 90 = 99.89 → 优秀
            Expect("99.89", "优秀", "99.89", "优秀", codes=("target-too-low",)), exec_score=D("9.89"),
            target="推进全民健身设施建设，新建社区体育公园3个。",
            outcome="新建社区体育公园5个，新增健身场地3.4万平方米。"),
    # 执行率 62.40 / 80.00 = 0.78 → 7.80 (< 80 %: at most 89, which a total of 83.55 does not reach)
    project("项目2", "全民健身赛事活动", "湛江市文化广电旅游体育局（群众体育科）", "群众体育科科长",
            ("80.00", "80.00", "62.40"), [
                R("产出指标", "数量指标", "举办全民健身赛事", "≥", "12项", None, "9项", 25, D("18.75"),  # 25 × 9/12
                  "受疫情影响，3项线下赛事取消"),
                R(None, "质量指标", "赛事安全事故", "≤", "0起", None, "0起", 15, 15),
                R(None, "时效指标", "赛事按计划举办", "定性", "按计划举办", None, "3项赛事取消", 10, 6, "同上"),  # 定性: 6
                R("效益指标", "社会效益指标", "参赛群众", "≥", "3万人次", None, "2.6万人次", 30, 26,  # 30 × 2.6/3 = 26
                  "同上"),
                R("满意度指标", "服务对象满意度指标", "参赛群众满意度", "≥", "90%", None, "94%", 10, 10),
            ],
            # 7.80 + 18.75 + 15 + 6 + 26 + 10 = 83.55 → 良好; the cap (89) does not bite
            Expect("83.55", "良好", "83.55", "良好"), exec_score=D("7.8"),
            exec_reason="受疫情影响，3项线下赛事取消，相应经费未支出。",
            target="举办全民健身赛事12项，参赛群众3万人次。",
            outcome="举办赛事9项，参赛群众2.6万人次。"),
)


# --------------------------------------------------------------------------------------------
# 440800007 湛江市水务局本级: sheets renamed after the projects, rows inserted in two tables (as its
# department return had rows inserted): nothing changes, every project scores as written.

WATER_UNIT = unit("湛江市水务局本级", "440800007", "湛江市水务局", dt.date(2021, 6, 15), "0759-3338007")

WATER = (
    # 执行率 147.30 / 150.00 = 0.982 → 9.82
    project("河长制", "河长制工作经费", "湛江市水务局（河湖管理科）", "河湖管理科科长",
            ("150.00", "150.00", "147.30"), [
                R("产出指标", "数量指标", "河湖巡查", "≥", "1200次", None, "1286次", 20, 20),  # 1.07 → 20
                R(None, None, "“清四乱”问题整改完成率", "=", "100%", None, "100%", 15, 15),
                R(None, "时效指标", "问题整改按期销号", "定性", "按期完成", None, "按期完成", 15, 15),
                R("效益指标", "生态效益指标", "主要河流水质达标率", "≥", "≥90%", None, "92.3%", 30, 30),
                R("满意度指标", "服务对象满意度指标", "沿河群众满意度", "≥", "≥90%", None, "94%", 10, 10),
            ],
            Expect("99.82", "优秀", "99.82", "优秀"), exec_score=D("9.82"),  # 9.82 + 90
            target="全面落实河长制，开展河湖“清四乱”，主要河流水质达标率90%以上。",
            outcome="河湖巡查1286次，“清四乱”问题全部整改，主要河流水质达标率92.3%。"),
    # 执行率 702.00 / 720.00 = 0.975 → 9.75 (年初 680.00, 追加到 720.00). Rows 18–19 inserted after the
    # 时效 row (see insert_water_rows): two 成本 rows, their 一级 blank (continues 产出).
    project("水库除险加固", "小型水库除险加固", "湛江市水务局（建设管理科）", "建设管理科科长",
            ("680.00", "720.00", "702.00"), [
                R("产出指标", "数量指标", "完成除险加固小型水库", "≥", "18宗", None, "18宗", 20, 20),
                R(None, "质量指标", "工程验收合格率", "=", "100%", None, "100%", 10, 10),
                R(None, "时效指标", "汛前完成主体工程", "定性", "按期完成", None, "按期完成", 10, 10),
                R("效益指标", "社会效益指标", "保护下游人口", "≥", "5万人", None, "5.2万人", 15, 15),
                R(None, "可持续影响指标", "水库安全度汛", "定性", "安全度汛", None, "全部安全度汛", 15, 15),
                R("满意度指标", "服务对象满意度指标", "受益群众满意度", "≥", "90%", None, "95%", 10, 10),
            ],
            # 9.75 + 40 + 10 (the inserted rows) + 40 = 99.75, the 自评总分 the unit typed
            Expect("99.75", "优秀", "99.75", "优秀"), exec_score=D("9.75"), self_total=D("99.75"),
            target="完成18宗小型水库除险加固，汛前完成主体工程。",
            outcome="18宗小型水库除险加固全部完成并通过验收，全部安全度汛。"),
    # 执行率 254.80 / 260.00 = 0.98 → 9.80. Two rows inserted just above the 合计 row (rows 45–46) hold
    # two 效益 rows, below 25 blank rows of the table.
    project("农村供水", "农村供水保障工程", "湛江市水务局（农村水利科）", "农村水利科科长",
            ("260.00", "260.00", "254.80"), [
                R("产出指标", "数量指标", "新建改造农村供水工程", "≥", "25处", None, "26处", 20, 20),
                R(None, "质量指标", "水质检测合格率", "≥", "≥95%", None, "96.8%", 15, 15),
                R(None, "时效指标", "工程按期完工", "定性", "按期完成", None, "按期完成", 15, 15),
                R("效益指标", "社会效益指标", "受益农村人口", "≥", "8万人", None, "8.3万人", 15, 15),
                R("满意度指标", "服务对象满意度指标", "受益群众满意度", "≥", "90%", None, "93%", 10, 10),
            ],
            # 9.80 + 75 + 15 (the inserted rows) = 99.80, the 自评总分 the unit typed
            Expect("99.8", "优秀", "99.8", "优秀"), exec_score=D("9.8"), self_total=D("99.8"),
            target="新建改造农村供水工程25处，受益农村人口8万人。",
            outcome="新建改造农村供水工程26处，受益农村人口8.3万人，水质检测合格率96.8%。"),
)

#: the rows the unit typed into the rows it inserted: (sheet, insert before row, rows)
WATER_INSERTED = (
    ("水库除险加固", 18, [R(None, "成本指标", "单宗工程平均投资", "≤", "≤40万元", None, "39万元", 5, 5),  # 702/18 = 39
                        R(None, None, "设计监理费占比", "≤", "≤8%", None, "7.5%", 5, 5)]),
    ("农村供水", 45, [R("效益指标", "可持续影响指标", "工程管护责任落实率", "=", "100%", None, "100%", 10, 10),
                    R(None, "生态效益指标", "水源保护范围划定", "定性", "完成划定", None, "已完成", 5, 5)]),
)


def insert_water_rows(wb: openpyxl.Workbook) -> None:
    """The unit inserted rows in two tables after filling them (the names below move, as in Excel)
    and typed an indicator into each; its 自评总分 (typed beforehand) already counted them."""
    for sheet, at, rows in WATER_INSERTED:
        ws = wb[sheet]
        insert_rows(ws, at, len(rows))
        for i, row in enumerate(rows):
            write_row(ws, at + i, row)


# --------------------------------------------------------------------------------------------
# 440800009 湛江市生态环境局本级: the unit's own sums (its department return adds up badly too).

ENV_UNIT = unit("湛江市生态环境局本级", "440800009", "湛江市生态环境局", dt.date(2021, 6, 17), "0759-3338009")

ENV = (
    # 执行率 388.00 / 400.00 = 0.97 → 9.70. 淘汰老旧车辆 2700 of 3000: 15 × 0.9 = 13.50, self 15
    # (score-differs); 自评总分 typed 100 while its scores add up to 99.70 (total-mismatch).
    project("项目1", "大气污染防治专项", "湛江市生态环境局（大气环境科）", "大气环境科科长",
            ("400.00", "400.00", "388.00"), [
                R("产出指标", "数量指标", "新建空气质量自动监测站", "≥", "6个", None, "6个", 15, 15),
                R(None, None, "淘汰老旧车辆", "≥", "3000辆", None, "2700辆", 15, 15, "部分车主延期报废，2021年继续推进"),
                R(None, "质量指标", "监测数据有效率", "≥", "≥90%", None, "95%", 10, 10),
                R(None, "时效指标", "治理任务按期完成", "定性", "按期完成", None, "按期完成", 10, 10),
                R("效益指标", "生态效益指标", "空气质量优良天数比例", "≥", "≥95%", None, "97.5%", 20, 20),
                R(None, "可持续影响指标", "大气污染联防联控机制", "定性", "健全", None, "已建立", 10, 10),
                R("满意度指标", "服务对象满意度指标", "公众满意度", "≥", "≥85%", None, "88%", 10, 10),
            ],
            # self 100 优秀 (its scores: 9.70 + 90 = 99.70); reviewed 9.70 + 15 + 13.50 + 10 + 10 + 20 + 10 + 10 = 98.20 优秀
            Expect("100", "优秀", "98.2", "优秀", codes=("score-differs", "total-mismatch")),
            exec_score=D("9.7"), self_total=100,
            target="新建空气质量自动监测站6个，淘汰老旧车辆3000辆，空气质量优良天数比例95%以上。",
            outcome="建成监测站6个，淘汰老旧车辆2700辆，空气质量优良天数比例97.5%。"),
    # 执行率 336.00 / 350.00 = 0.96 → 9.60. Self scores as the rules give them, 93.39, but 自评等级 typed
    # 良好 (93.39 is 优秀: grade-mismatch).
    project("项目2", "水污染防治专项", "湛江市生态环境局（水生态环境科）", "水生态环境科科长",
            ("350.00", "350.00", "336.00"), [
                R("产出指标", "数量指标", "整治黑臭水体", "≥", "5条", None, "4条", 20, 16, "1条水体截污工程受征地影响延期"),  # 20 × 4/5
                R(None, None, "入河排污口排查", "≥", "300个", None, "326个", 10, 10),  # 1.09 → 10
                R(None, "质量指标", "重点排污单位监测达标率", "≥", "≥80%", None, "83%", 10, 10),
                R(None, "时效指标", "整治任务按期完成", "定性", "按期完成", None, "按期完成", 10, 10),
                # 20 × 0.667 / 0.75 = 17.7866… → 17.79 (explained)
                R("效益指标", "生态效益指标", "国考断面水质优良比例", "≥", "≥75%", None, "66.7%", 20, D("17.79"),
                  "1个断面受上游来水影响未达标"),
                R(None, "社会效益指标", "群众环境投诉办结率", "=", "100%", None, "100%", 10, 10),
                R("满意度指标", "服务对象满意度指标", "公众满意度", "≥", "≥85%", None, "86%", 10, 10),
            ],
            # 9.60 + 16 + 10 + 10 + 10 + 17.79 + 10 + 10 = 93.39 → 优秀 (typed 良好)
            Expect("93.39", "良好", "93.39", "优秀", codes=("grade-mismatch",)), exec_score=D("9.6"), grade="良好",
            target="整治黑臭水体5条，国考断面水质优良比例75%以上。",
            outcome="完成4条黑臭水体整治，国考断面水质优良比例66.7%。"),
)


# --------------------------------------------------------------------------------------------
# 440800010 湛江市商务局本级: money and indicator kinds.

COMMERCE_UNIT = unit("湛江市商务局本级", "440800010", "湛江市商务局", dt.date(2021, 6, 9), "0759-3338010")

COMMERCE = (
    # 执行数 312.50 > 全年预算数 300.00 (spending-over-budget, error); 执行率 1.0417 counts as 1 → 10.00
    project("项目1", "外贸发展专项资金", "湛江市商务局（对外贸易科）", "对外贸易科科长",
            ("300.00", "300.00", "312.50"), [
                R("产出指标", "数量指标", "支持外贸企业", "≥", "80家", None, "86家", 20, 20),  # 1.08
                R(None, None, "组织参加境内外展会", "≥", "10场", None, "10场", 15, 15),
                R(None, "时效指标", "资金拨付", "定性", "按期完成", None, "按期完成", 15, 15),
                R("效益指标", "经济效益指标", "进出口总额增长", "≥", "≥3%", None, "3.6%", 30, 30),  # 1.2 → 30
                R("满意度指标", "服务对象满意度指标", "企业满意度", "≥", "≥90%", None, "92%", 10, 10),
            ],
            Expect("100", "优秀", "100", "优秀", codes=("spending-over-budget",)), exec_score=10,  # 10 + 90
            target="支持外贸企业稳订单、拓市场，全市进出口总额增长3%。",
            outcome="支持外贸企业86家，组织参加展会10场，进出口总额增长3.6%。"),
    # 执行率 190.00 / 200.00 = 0.95 → 9.50. No 满意度 row (indicator-kinds, error); its 10 went to 效益,
    # 40 ≠ 30 (weight-split); 10 + 50 + 40 = 100 (no weight-total).
    project("项目2", "电子商务进农村综合示范", "湛江市商务局（电子商务科）", "电子商务科科长",
            ("200.00", "200.00", "190.00"), [
                R("产出指标", "数量指标", "建设县级电商公共服务中心", "≥", "1个", None, "1个", 15, 15),
                R(None, None, "建设村级电商服务站点", "≥", "60个", None, "62个", 20, 20),
                R(None, "质量指标", "站点运营达标率", "≥", "≥90%", None, "91%", 15, 15),
                R("效益指标", "经济效益指标", "农产品网络零售额", "≥", "1.5亿元", None, "1.62亿元", 25, 25),  # 1.08
                R(None, "社会效益指标", "带动就业", "≥", "500人", None, "540人", 15, 15),
            ],
            Expect("99.5", "优秀", "99.5", "优秀", codes=("indicator-kinds", "weight-split")), exec_score=D("9.5"),
            target="建设县级电商公共服务中心1个、村级服务站点60个，带动农产品网络销售。",
            outcome="建成县级中心1个、村级站点62个，农产品网络零售额1.62亿元。"),
)


# --------------------------------------------------------------------------------------------
# The files

FILES: tuple[ProjectFile, ...] = (
    ProjectFile("440800001_中共湛江市委组织部本级_项目支出.xlsx",
                "样例报告单位的 4 个项目（人才工作、基层党建、干部教育培训、公务员考录），指标取自报告；"
                "项目执行 1632.47 万元，未执行的 32.53 万元即单位的年末结转和结余；值按平常写法填写"
                "（≥500、505人、≥95%、99.89%、0起、按期完成），有定性指标，扣分的一项写明了原因",
                ORG_UNIT, ORG, "reviewed"),
    ProjectFile("440800002_湛江市统计局本级_项目支出.xlsx",
                "分值：项目1 产出指标只有 45 分（合计 95）；项目2 合计 100 但产出 60、效益 20；项目3 撤销工作表保护，"
                "把预算执行率分值改成 20（自评 19.56 分）、产出指标减到 40 分：按表单的 10 分核定预算执行率（9.78 分），"
                "分值合计便只有 90 分",
                STATS_UNIT, STATS, "error"),
    ProjectFile("440800003_湛江市城市管理和综合执法局本级_项目支出.xlsx",
                "执行率封顶：项目1 执行率 68%，合计 90.80 按封顶核定 79 分；项目3 执行率 78%，97.80 核定 89 分；"
                "项目2 执行率 85% 未写执行偏差原因，一项指标扣分未写原因",
                URBAN_UNIT, URBAN, "reviewed"),
    ProjectFile("440800006_湛江市文化广电旅游体育局本级_项目支出（文化旅游）.xlsx",
                "同一单位的项目分两个文件报送（之一）：“≥2亿元”“1.86亿元”“3个”“≤150万元”等写法；"
                "定性指标自评 12 分（满分 15）并写明依据",
                CULTURE_UNIT, CULTURE, "reviewed"),
    ProjectFile("440800006_湛江市文化广电旅游体育局本级_项目支出（体育）.xlsx",
                "同一单位的第二个项目文件（项目名称不同，两个文件都有效）：社区体育公园指标 3 个、实际建成 5 个"
                "（指标值偏低）；执行率 78% 但合计 83.55 分未达封顶线",
                {**CULTURE_UNIT, "filing_date": dt.date(2021, 6, 10)}, SPORT, "reviewed"),
    ProjectFile("440800007_湛江市水务局本级_项目支出.xlsx",
                "复制项目表并改名（河长制、水库除险加固、农村供水），在两张表的指标表中插入行"
                "（名称随之下移，其中一处插在合计行上方、与上面的指标隔着空行）：均按所填计分",
                WATER_UNIT, WATER, "reviewed", edit=insert_water_rows),
    ProjectFile("440800009_湛江市生态环境局本级_项目支出.xlsx",
                "自评：一项指标未完成仍自评满分，自评总分写 100（各项合计 99.70）；另一个项目 93.39 分写成“良好”",
                ENV_UNIT, ENV, "error"),
    ProjectFile("440800010_湛江市商务局本级_项目支出.xlsx",
                "全年执行数 312.50 万元超过全年预算数 300.00 万元；另一个项目没有满意度指标（其 10 分给了效益指标）",
                COMMERCE_UNIT, COMMERCE, "error"),
)

#: file -> (status, sorted finding codes)
EXPECTED: dict[str, tuple[str, list[str]]] = {f.file: (f.status, f.codes) for f in FILES}


# --------------------------------------------------------------------------------------------
# Filling, as a unit fills the workbook


def rename_sheet(wb: openpyxl.Workbook, old: str, new: str) -> None:
    """Rename a sheet as Excel does: its sheet-scoped names now point into the renamed sheet."""
    ws = wb[old]
    ws.title = new
    for dn in ws.defined_names.values():
        dn.attr_text = f"{quote_sheetname(new)}!{dn.attr_text.split('!')[-1]}"


def write_row(ws, row: int, values: dict[str, object]) -> None:
    """One indicator row typed into sheet row `row`, each column found by its header text."""
    header = named_cell(ws, "ind_header")
    heads = {key: texts[0] for key, texts in FORM.columns}
    cols = {key: cell.column for cell in ws[header.row] for key, text in heads.items() if cell.value == text}
    for key, value in values.items():
        ws.cell(row, cols[key]).value = float(value) if isinstance(value, Decimal) else value


def make(pf: ProjectFile, template: Path) -> bytes:
    """The file's bytes: 项目1 renamed if the unit named it, copied once per further project (every copy made
    from the blank sheet, as a unit copies it before filling), each sheet filled, the edit, a deterministic save."""
    wb = openpyxl.load_workbook(template)
    titles = [p.sheet for p in pf.projects]
    if titles[0] != SOURCE_SHEET:
        rename_sheet(wb, SOURCE_SHEET, titles[0])
    for title in titles[1:]:
        copy_project_sheet(wb, titles[0], title)
    for p in pf.projects:
        write_project(wb[p.sheet], FORM, {**pf.unit, **p.values})
    if pf.edit is not None:
        pf.edit(wb)
    wb.active = wb.sheetnames.index(titles[0])
    return BASE.saved(wb, pf.unit["filing_date"])


def _project_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and MARK in p.name) if folder.exists() else []


def build(out: Path = OUT) -> None:
    """(Re)write the project files into `out`, beside the department samples (make_samples.py):
    only files with 项目支出 in their name are deleted first."""
    out.mkdir(parents=True, exist_ok=True)
    for old in _project_files(out):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "proj-2020_template.xlsx"
        build_project_template(template, FORM)
        for pf in FILES:
            (out / pf.file).write_bytes(make(pf, template))


# --------------------------------------------------------------------------------------------
# Checking


def run(folder: Path = OUT, jobs: int | None = 1):
    """perfxl over the folder with the round's two forms, as `perfxl run examples/returns-2020` does."""
    return BASE.run(folder, jobs)


def _show(d: Decimal | None) -> str | None:
    return None if d is None else format_number(d)


def check(folder: Path = OUT, jobs: int | None = 1, batch=None) -> list[str]:
    """The differences between perfxl's results for the project files and FILES (empty: all as expected)."""
    batch = batch or run(folder, jobs)
    problems = []
    got = {r.file: r for r in batch.files if MARK in r.file}
    problems += [f"{file}: not a project sample" for file in sorted(set(got) - set(EXPECTED))]
    for pf in FILES:
        r = got.get(pf.file)
        if r is None:
            problems.append(f"{pf.file}: missing")
            continue
        found = (r.status, sorted(f.code for f in r.findings))
        if found != (pf.status, pf.codes):
            problems.append(f"{pf.file}: expected {pf.status} {pf.codes}, got {found[0]} {found[1]}")
        if r.form != FORM.id:
            problems.append(f"{pf.file}: read by form {r.form}, not {FORM.id}")
        sheets = [p.sheet for p in r.projects]
        if sheets != [p.sheet for p in pf.projects]:
            problems.append(f"{pf.file}: expected sheets {[p.sheet for p in pf.projects]}, got {sheets}")
            continue
        for p, res in zip(pf.projects, r.projects, strict=True):
            e = p.expect
            want = (p.values["project_name"], e.self_total, e.self_grade, e.reviewed_total, e.reviewed_grade, e.capped)
            have = (res.project_name, _show(res.self_total), res.self_grade, _show(res.reviewed_total),
                    res.reviewed_grade, res.capped_by_execution)
            if have != want:
                problems.append(f"{pf.file} {p.sheet}: expected {want}, got {have}")
            codes = sorted(f.code for f in r.findings if f.sheet == p.sheet)
            if codes != sorted(e.codes):
                problems.append(f"{pf.file} {p.sheet}: expected codes {sorted(e.codes)}, got {codes}")
        elsewhere = sorted(f.code for f in r.findings if f.sheet not in sheets)
        if elsewhere != sorted(pf.file_codes):
            problems.append(f"{pf.file}: expected codes off the project sheets {sorted(pf.file_codes)}, got {elsewhere}")
    return problems


def regenerated_identically(folder: Path = OUT) -> list[str]:
    """The project files rebuilt in a temporary folder, compared byte for byte with `folder`'s."""
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        rebuilt = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in _project_files(Path(tmp))}
    committed = {p.relative_to(folder).as_posix(): p.read_bytes() for p in _project_files(folder)}
    return [f"{name}: {'missing' if name not in committed else 'not a sample' if name not in rebuilt else 'differs'}"
            for name in sorted(set(rebuilt) | set(committed)) if rebuilt.get(name) != committed.get(name)]


# --------------------------------------------------------------------------------------------
# README section: the expected results (FILES), which check() holds perfxl to

BEGIN, END = "<!-- samples-projects:begin -->", "<!-- samples-projects:end -->"


def _codes_text(codes: tuple[str, ...] | list[str]) -> str:
    counts = Counter(codes)
    return "<br>".join(f"`{c}`（{CATALOGUE[c][0].label}）" + (f" × {n}" if n > 1 else "") for c, n in sorted(counts.items()))


def _rate(p: Project) -> str:
    rate = p.values["spent"] / p.values["budget_annual"]  # type: ignore[operator]
    return f"{round_half_up(rate * 100):.2f}%"


def _pair(total: str | None, grade: str | None) -> str:
    return "—" if total is None else f"{total} {grade}"


def section() -> str:
    """The README's list of the project files, each with its projects and expected results."""
    out = []
    for pf in FILES:
        out += [f"**`{pf.file}`**（{STATUS_LABELS[pf.status]} `{pf.status}`）：{pf.shows}", "",
                "| 项目表 | 项目名称 | 全年预算数 | 全年执行数 | 执行率 | 自评总分/等级 | 核定总分/等级 | 问题（规则 × 次数） |",
                "|---|---|---|---|---|---|---|---|"]
        for p in pf.projects:
            e = p.expect
            reviewed = _pair(e.reviewed_total, e.reviewed_grade) + ("（封顶）" if e.capped else "")
            out.append(f"| {p.sheet} | {p.values['project_name']} | {format_money(p.values['budget_annual'])} | "  # type: ignore[arg-type]
                       f"{format_money(p.values['spent'])} | {_rate(p)} | {_pair(e.self_total, e.self_grade)} | "  # type: ignore[arg-type]
                       f"{reviewed} | {_codes_text(e.codes)} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def update_readme() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + section() + "\n" + text[end:], encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check the project files of examples/returns-2020.")
    parser.add_argument("--check", action="store_true", help="only check the committed files (and that they regenerate identically)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.check:
        build(args.out)
    problems = check(args.out)
    if args.check:
        problems += regenerated_identically(args.out)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems and not args.check and args.out == OUT and BEGIN in README.read_text(encoding="utf-8"):
        update_readme()
    if not problems:
        print(f"{len(FILES)} project files ({sum(len(f.projects) for f in FILES)} projects) in {args.out}: all as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
