"""Build the bundled sample folder examples/returns-2020/ (spec §10) and check it.

    python examples/make_samples.py            # rebuild the folder, verify it, refresh README table
    python examples/make_samples.py --check    # only verify the committed folder (exit 1 on mismatch)

Every returned workbook is made the way a unit would make it: the blank template from
`perfxl.write.template.build_template`, filled through its defined names with openpyxl, then edited
where the sample needs it (a 分值 overwritten, rows inserted, a formula typed). A few samples
are not template copies at all (pasted into a fresh workbook, an unrelated workbook, a web page
saved as .xls, a Word attachment, an Excel lock file). The output is deterministic: the zip
packages are rewritten with fixed entry dates and fixed docProps/core.xml times.

`EXPECTED` (status and sorted finding codes per file) and `TOTALS` are the contract checked by
`check()`; tests import this module and call `check()` (or `build()` into a temporary folder).
The folder's project files (项目支出, form proj-2020) are make_samples_projects.py's: this script
leaves them in place and checks only the department files, run as `perfxl run` runs them (with
the round's two forms).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import html
import io
import re
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import openpyxl
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange

from perfxl.model import STATUS_LABELS, FileResult, Options
from perfxl.read.values import format_number
from perfxl.run.pipeline import BatchResult, run_batch
from perfxl.spec.project import builtin_project_form
from perfxl.spec.rubric import load_rubric
from perfxl.write.template import build_template

HERE = Path(__file__).resolve().parent
OUT = HERE / "returns-2020"
README = HERE / "README.md"
RUBRIC = load_rubric("gd-dept-2020")
#: the project files of the folder are make_samples_projects.py's (their names have it): left alone here
PROJECT_MARK = "_项目支出"
D = Decimal

# --------------------------------------------------------------------------------------------
# The sample report's own texts (seeds/sample_report_zhanjiang_2020.txt), one paragraph a line.
# Leading indentation and trailing spaces are stripped; the numbering is the report's.
# 一(一): the run-in heading "（一）单位机构设置、部门职能情况。" is left out (the report prints
# its own heading). 三(四)5 keeps the report's "5.是依托…" as written.

FUNCTIONS = """\
中共湛江市委组织部是市委主管党建、干部、公务员和人才工作的综合职能部门,属行政单位。截至2020年12月31日，中共湛江市委组织部总编制70名，其中：行政编制61名，行政工勤编制9名。2020年末在职人数63人，离退休人数19人，离岗退养1人。单位工作职能主要如下：
1.研究和指导全市党组织建设；协调、指导党员教育工作，主管党员的管理和发展工作。
2.考察县（市、区）和市直各部门以及其他列入市委管理的领导班子；办理市管干部的任免、工资、待遇、退（离）休审批手续；负责乡镇和市直科级干部的备案审查和宏观管理工作，承办相关干部的调配、交流、安置事宜。
3.制订干部队伍建设的政策；综合管理培养年轻干部、后备干部、女干部、党外干部和少数民族干部工作；加强新时代优秀年轻干部队伍建设有关政策法规的组织实施和选育管用工作。
4.宏观指导党的组织制度和干部人事制度的改革；制订或参与制订组织、干部、人事工作的重要政策、制度。
5.检查、督促组织和干部工作，向市委反映重要情况、提出建议、监督科以上干部和干部选拔任用。
6.制订干部教育工作的政策、规划；协调、指导、检查各县（市、区）和市直单位的干部培训工作，组织市管干部和一定层次干部的培训。
7.检查、指导、协调人才工作；拟定和实施人才发展规划、人才工作政策措施并检查落实情况；落实党的知识分子政策，做好知识分子、专家人才的政治引领吸纳、联系服务工作；承担市人才工作领导小组办公室日常工作。
8.宏观管理退（离）休干部工作；制订或参与制订退（离）休干部工作的政策。
9.负责我市出席全国、省党代会的代表选举和市党代会的有关组织工作；做好市党代表联络服务工作。
10.统一管理公务员录用调配、考核奖惩、培训和工资福利等事务，研究拟订公务员管理政策措施并组织实施，指导全市公务员队伍建设和绩效管理等。"""

KEY_WORK = """\
1、落实“把政治建设摆在首位”的要求，在加强党的全面领导和党的建设上狠抓落实。坚持讲政治抓政治，认真落实省委“两个维护”十项制度机制和巩固深化主题教育成果21条举措，使组织工作与中心大局贴得更紧、融得更深。
2、落实“发挥组织部门职能作用”的要求，为夺取“双胜利”提供坚强组织保证。推动各级党组织和广大党员干部人才扛起责任、担当作为，抓紧抓实抓细疫情防控各项工作。
3、落实“树立大抓基层鲜明导向”的要求，打好基层党建三年行动计划收官战。坚持抓基层打基础，高质量完成三年行动计划各项任务，推动基层党组织全面进步全面过硬。
4、落实“坚持正确选人用人导向”的要求，打造忠诚干净担当的高素质干部队伍。严把选人用人关，抓实“选用管育”全链条，推动干部队伍“在状态、有激情、敢担当、出实效”。
5、落实“人才是第一资源”的要求，全方位培养、引进、用好人才。坚持把人才工作放在全局中谋划，落实湛江招才引智30条政策，一年来新引进人才505人、团队14个75人，特别是博士后引进数量同比增长77.8%；新认定高层次人才4719人，累计认定6501人，为湛江高质量发展提供人才支撑。
6、落实“打铁必须自身硬”的要求，不断提高组织工作制度化规范化科学化水平。践行“政治上绝对可靠、对党绝对忠诚”要求，把高标准贯穿全过程各环节，推动组织工作高质量发展。"""

TARGETS = """\
1、围绕“基层党建全面进步、全面过硬”主题推进基层党建三年行动计划。建立不忘初心、牢记使命的制度，持续落实“三会一课”、“第一议题”制度和“四个日子”党日活动制度，制定措施持续深化主题教育整改落实。全面完成软弱涣散村（社区）党组织三年整顿，打造一批村民小组党建示范点。开展模范党支部创建工作，以基层党委为单位，实行一年一考评。
2、着力建设忠诚干净担当的高素质干部队伍。深入贯彻落实干部任用条例，健全完善党管干部、选贤任能的制度，修订市管干部选拔任用工作规程，制定《市管职务任免规范手册》，制定党外干部培养选拔工作联席会议制度。认真贯彻落实2019-2023年全国党政领导班子建设规划纲要、全省党政领导班子建设若干措施，制定我市具体实施措施。定期定点开展“会诊式”分析研判，坚持经常性、近距离地多渠道接触了解干部，注重在经济发展主战场、重大斗争第一线、服务群众最前沿辨识选用干部。
3、努力提升公务员管理科学化法治化规范化水平。统筹做好省2020年考试录用公务员工作，完成2020年度选调生、急需紧缺专业公务员招录和从优秀村（社区）党组织书记中专项选拔乡镇公务员工作。加强公务员考核管理工作，开展公务员及时奖励，探索我市公务员平时考核方式方法，修订完善《湛江市县（市、区）落实“四个全面”绩效考核及年度考核评价实施意见》和《市直机关落实“四个全面”绩效考核方案》。巩固职务与职级并行制度成果，及时研究解决实施中遇到的具体问题，并落实工资待遇兑现工作，进一步规范公务员津贴补贴管理。根据疫情防控情况，配合做好全国人民满意的公务员推荐工作，及时对涌现的先进典型进行记功、嘉奖。
4、着力集聚匹配湛江高质量发展的各方面优秀人才。坚持党管人才原则，完善市人才工作领导小组运行机制，制定领导小组2020年工作要点。落实党委联系人才常态化工作机制，组织集中走访联系服务专家人才活动。持续强化人才政治引领，加大对各类优秀人才宣传力度，推动组织专家人才休假疗养、企业家人才培训、高层次人才国情研修等活动。切实加强人才引进培养，推进国家、省重点人才工程项目申报，持续跟踪已实施人才项目，落实湛发〔2018〕4号文相关优惠政策申报工作，抓好湛江招才引智30条政策以及市七大人才引育计划落地见效。结合省“一地区一产业一政策”要求，制定全市海洋产业科技创新人才项目规划，大力支持湛江湾实验室建设，推动出台《实验室人才团队引进办法》。指导雷州、徐闻、经开区等3个县级人才驿站及海创中心分站开展招才引智工作，推进廉江等4个县级人才驿站建设，对接办好百名博士地市行活动、中欧农业科技专家企业行、港澳医学专家湛江行等活动。
5、对标“两个绝对”要求持续推进模范部门建设。建立文件流转时间量化统计和通报制度。完善各项规章制度，对岗位工作规范和业务流程进行修订更新。落实重点任务调度、部领导分片包干督促落实等机制。严格组织工作重大事项请示报告制度。组织“学制度、守制度、用制度”主题活动。组织组工干部党性教育专题培训班。完善部机关党员干部廉政谈话制度，支持驻部纪检组履行职责。开展业务能力大提升行动，分科室建立“政策文件库”，开展学习竞赛和业务技能“大比武”，建立跨科室、跨业务的培养锻炼机制。优化“组工论坛”质量和模式，量化出勤率和实行通报制度。"""

PROCESS = """\
（一）评价小组情况。在此次绩效自评中，我部成立了绩效评价小组，由常务副部长任组长，协管领导任副组长，相关科室负责人、会计、出纳、采购员、资产员等任组员。工作小组针对此次自评工作，研究制定切实有效措施，明确分工，落实责任，按时按质上报自评结果。
（二）自评工作过程。我部根据《湛江市财政局关于开展2021年市级财政资金绩效自评工作的通知》（湛财绩〔2021〕5号）要求，成立自我绩效评价工作小组。办公室负责填写部门整体绩效自评基础数据表、对照部门（单位）整体支出绩效自评评分表的评价指标协同各科室进行收集资料，撰写自我绩效评价报告。自我绩效评价工作小组根据所收集的资料对绩效自评数据表、自评报告和自评表的评价指标逐个进行自评。
（三）自评材料报送时间及质量。我部按照要求对本部门的支出绩效进行评价，整理相关资料，按文件要求于6月20日前报送自评材料。我部均按要求对各专项资金的立项、申报、批复、实际支出等情况进行梳理，按照项目进行分类，对所报送自评材料真实性、完整性、一致性、规范性负责。
（四）自评材料报送及公开一致情况。我部所报送的自评报告、数据表、评分表与公开的自评报告、数据表、评分表一致。"""

EFFECTS = """\
1.坚持扩大“两个覆盖”加强党的领导。采取单独或联合组建的形式，新建6968个村民小组（自然村）党组织，约占全市1.2万个自然村的57%。实施机关企事业单位党建“提质创优”工程，推进全市4331家非公企业党建摸排和组织建设“双同步”，有序推进以五类企业为重点的“两个覆盖”工作，打造机关企事业单位党建示范点6个、行业党建示范点9个。
2.织密“防控网”让党旗在防疫一线高高飘扬。第一时间向全市党员干部发出动员通知，并选派7600多名机关干部支援社区一线。实现4.2万个党建网格与9800多个综治网格融合联动，推动党员“入网入格入家庭”实现网格化管理、地毯式排查，以党员为骨干的“三人排查小组”核查每日“清零”。全市110多个交通卡口和联合检查站全部建立临时党支部，由党支部书记担任“关卡长”，坚决守住“外防输入”各个关卡。我市率先妥善安排滞留的150多名湖北游客，被人民日报、央视等央媒纷纷点赞，李希书记莅湛调研时对此充分肯定。
3.坚持“一盘棋”全力服务经济社会发展。在省市突发公共卫生事件应急预案的框架下，制定全市组织部门的应急预案并及时开展演练。携手琼桂筑牢边界疫情防线，选派80名干部在海南海口三个码头开展离岛检疫，与广西陆川、合浦在15个省际通道设立体温监测点，协调湛航集团党委对防疫物资运输车辆实行免预约、优先装船，全力打通琼州海峡“绿色通道”。开展“百干帮百企”行动，选派100多名干部作为驻企服务专员，帮扶100多家重点企业和重点项目，截至目前，驻企干部共帮助企业在税收减免、援企稳岗、技术改造等方面获得政策扶持资金超过2.33亿元。
4.实施“三工程”夯实基层基础。深化“头雁”工程、党员先锋工程和基层基础保障工程，对全市1970个村（社区）分类成“红黄绿”三色管理，“挂图作战”销号式推进，推动村（社区）实现“三个一肩挑”占比提升到99.89%。坚决撤换调整“四不书记”97名并100%补齐，按不低于1:2比例建立3980人的村后备干部库。探索开展党员评星定级管理，充分发挥121个镇街党校教育培训主阵地作用，用好方言讲师团、2个省级红色村和26个市级红色村加强党员教育。把村级换届动员会直接开到镇村，完成全部1970个村级班子经济责任审计和民主评议，物色村“两委”人选1.18万人并稳步推进村级换届工作。
5.是依托“扬帆计划”引育产业创新人才。聚焦湛江支柱产业，实施“海洋产业人才振兴计划”，成功入选省“扬帆计划”第一档次，开展海洋人才振兴三年行动，举办中欧海洋生物科技论坛等涉海高峰论坛8场。推动人才“上山下乡”，制定乡村振兴人才支撑重点工作及任务清单，柔性引进农业、畜牧、水产养殖等产业人才，为基层提供技术指导服务12591人次。实施粤东西北地区基层事业单位急需紧缺人才专项公开招聘，征集卫健、农林牧渔等领域岗位426个。探索校企协同现代学徒制培养模式，建设“职校+企业”平台，培养技能人才4800多人，同比增长24.8%。"""

PROBLEMS = """\
1.在年初预算的资金安排和使用上有不可预见性。需加强综合考虑各方因素，合理设置预算绩效指标，保障各项组织工作顺利完成。
2.专项资金使用的计划性需进一步加强。个别科室在专项资金使用方面的计划性欠缺，导致在使用进度方面出现前松后紧的情况。"""

MEASURES = """\
1.按照《预算法》及其实施条例的相关规定，参考上年度的预算编制、收支执行情况及保障本年度重点工作，细化编制预算，提高预算编制的科学性、严谨性和可控性。
2.加强专项资金使用的计划性和督促管理。各科室加强对专项资金的提前规划意识，合理安排资金使用，加快资金使用进度，财务部门加强跟踪督促，提升各项资金使用效益。"""

# 三(二) sentences used as 自评说明 (C1: the report's "2021年3月9日" read as 2020, see README).
NOTES_ORG = {
    "A1": "同时做实做细部门项目库工作，按要求设置绩效目标，各项指标清晰、可衡量符合客观实际。",
    "A2": "预算支出数与财政拨款数一致，财政拨款收入预决算差异率为零。",
    "A3": "2020年末在职人数63人，离退休人数19人，离岗退养1人。",
    "B1": "本年收入合计2999.76万元，年初结转和结余2.89万元，本年支出合计2970.12万元，采取权责发生制结转32.53万元。",
    "B4": "规范执行会计核算制度，资金管理、费用标准、支付符合有关制度规定，不存在超预算、超范围、超标准支出，"
          "虚列支出，截留、挤占、挪用资金的，以及其他不符合制度规定支出。",
    "B6": "项目招投标、建设、验收等或方案实施严格执行相关制度规定。"
          "出租、出借、处置国有资产规范，按资产管理有关规定执行，相关收入按规定及时足额上缴。"
          "资产账与财务账相符，固定资产利用率为100％。",
    "C1": "我部2020年部门预算于2020年3月9日进行公开，符合市财政局文件时限要求。",
    "C2": "我委成立自评工作小组共13人，人数和结构符合文件规定。"
          "表格内容、自评报告填写真实、齐全，佐证材料材料规范、完整，关联性强。",
    "C3": "在规定时间内完成自评材料报送工作。",
    "D1": "我部预算年度内整体支出绩效目标完成情况良好，履行职责的效率性、效果性和公平性方面均取得好的成效。",
    "D2": "坚持扩大“两个覆盖”加强党的领导；织密“防控网”让党旗在防疫一线高高飘扬；坚持“一盘棋”全力服务经济社会发展；"
          "实施“三工程”夯实基层基础；依托“扬帆计划”引育产业创新人才。",
}


def organisation_department() -> dict[str, object]:
    """The sample report's unit (spec §10): every computed indicator at full marks."""
    vals: dict[str, object] = {
        "unit_name": "中共湛江市委组织部本级",
        "unit_code": "440800001",
        "department": "中共湛江市委组织部",
        "unit_type": "行政单位",
        "eval_year": 2020,
        "filing_date": dt.date(2021, 6, 4),
        "staff_quota": 70,
        "staff_quota_admin": 61,
        "staff_quota_service": 9,
        "staff_actual": 63,
        "retirees": 19,
        "eval_team_size": 13,
        "budget_initial": D("2999.76"),
        "income_total": D("2999.76"),
        "income_fiscal": D("2999.76"),
        "carryover_begin": D("2.89"),
        "expense_total": D("2970.12"),
        "carryover_end": D("32.53"),
        # not in the report: chosen so that A4, B2, B3 and D3 are at full marks
        "sangong_budget_prev": D("38.60"),
        "sangong_budget": D("36.20"),
        "sangong_actual": D("31.75"),
        "procurement_budget": D("180.00"),
        "procurement_actual": D("176.35"),
        "fixed_assets_total": D("1286.42"),
        "fixed_assets_in_use": D("1286.42"),
        "budget_approved_date": dt.date(2020, 2, 18),
        "budget_published_date": dt.date(2020, 3, 9),
        "key_tasks_planned": 6,
        "key_tasks_done": 6,
        "satisfaction": D("0.965"),
        "text_functions": FUNCTIONS,
        "text_key_work": KEY_WORK,
        "text_targets": TARGETS,
        "text_process": PROCESS,
        "text_effects": EFFECTS,
        "text_problems": PROBLEMS,
        "text_measures": MEASURES,
        "text_other": "无。",
    }
    for ind in RUBRIC.indicators:
        vals[f"score_{ind.code}"] = ind.weight
        if ind.code in NOTES_ORG:
            vals[f"note_{ind.code}"] = NOTES_ORG[ind.code]
    vals["score_total"] = 100
    vals["grade_self"] = "优秀"
    return vals


# --------------------------------------------------------------------------------------------
# The other units: invented figures, short texts in the same style.

MANUAL_NOTES = {
    "A1": "绩效目标与部门职能、年度重点工作相符，指标已细化量化，佐证：部门预算绩效目标申报表。",
    "B4": "未发现超预算、超范围、超标准支出及虚列、截留、挤占、挪用资金，支出审批程序完整，佐证：内控制度及审批单。",
    "B6": "政府采购和项目验收按规定执行，资产出租出借处置均已报批，资产账与财务账相符，佐证：资产清查报告。",
    "C2": "成立自评工作小组，分工明确；自评材料真实完整，与公开信息一致，佐证：自评工作方案。",
    "D2": "年度重点工作均已完成，社会效益明显，佐证：年度工作总结。",
}


def unit(name: str, code: str, department: str, *, we: str = "我局", unit_type: str = "行政单位",
         duties: tuple[str, ...], works: tuple[str, ...], effects: tuple[str, ...],
         problems: tuple[str, ...] = (), team: int = 7, filed: dt.date = dt.date(2021, 6, 11),
         **figures: object) -> dict[str, object]:
    """A complete return of an invented unit; `figures` set or override fields and scores."""
    vals: dict[str, object] = {
        "unit_name": name,
        "unit_code": code,
        "department": department,
        "unit_type": unit_type,
        "eval_year": 2020,
        "filing_date": filed,
        "eval_team_size": team,
        "budget_approved_date": dt.date(2020, 2, 18),
        "budget_published_date": dt.date(2020, 3, 6),
        "text_functions": "\n".join((f"{name}是{department}的本级预算单位，属{unit_type}。主要职责如下：",
                                     *(f"{i}.{d}" for i, d in enumerate(duties, 1)))),
        "text_key_work": "\n".join(f"{i}、{w}" for i, w in enumerate(works, 1)),
        "text_targets": "\n".join(f"{i}、{w.split('，')[0].rstrip('。')}，全年计划任务按期完成。" for i, w in enumerate(works, 1)),
        "text_process": "\n".join((
            f"（一）评价小组情况。{we}成立绩效自评工作小组共{team}人，由分管财务的领导任组长，"
            "办公室、财务及各业务科室负责人任组员。",
            f"（二）自评工作过程。{we}根据《湛江市财政局关于开展2021年市级财政资金绩效自评工作的通知》"
            "（湛财绩〔2021〕5号）要求，对照评分表逐项收集资料、开展自评，形成自评报告。")),
        "text_effects": "\n".join(f"{i}.{e}" for i, e in enumerate(effects, 1)),
        "text_problems": "\n".join(f"{i}.{p}" for i, p in enumerate(problems, 1)) if problems else "无",
        "text_measures": ("1.加强预算编制与执行的统筹，提高预算编制的科学性和准确性。\n"
                          "2.加强绩效目标管理和跟踪监控，提升资金使用效益。"),
        "text_other": "无",
    }
    for ind in RUBRIC.indicators:
        vals[f"score_{ind.code}"] = ind.weight
        if ind.code in MANUAL_NOTES:
            vals[f"note_{ind.code}"] = MANUAL_NOTES[ind.code]
    vals.update(figures)
    scores = [D(str(vals[f"score_{i.code}"])) for i in RUBRIC.indicators
              if isinstance(vals.get(f"score_{i.code}"), int | float | Decimal)]
    vals.setdefault("score_total", sum(scores, D(0)))
    vals.setdefault("grade_self", RUBRIC.grade(D(str(vals["score_total"]))))
    return vals


def statistics_bureau() -> dict[str, object]:
    """年末结转和结余 typed 10.00 too high: balance-mismatch."""
    return unit(
        "湛江市统计局本级", "440800002", "湛江市统计局",
        duties=("组织实施全市人口、经济、农业等重大国情国力普查。", "收集、汇总、整理和提供全市统计调查数据。",
                "依法开展统计执法检查，监督统计数据质量。"),
        works=("高质量完成第七次全国人口普查现场登记和数据汇总，普查质量抽查达到国家要求。",
               "做好新冠肺炎疫情对经济社会影响的监测分析，按月发布主要统计数据。",
               "推进统计执法“双随机、一公开”检查，严肃查处统计造假、弄虚作假行为。"),
        effects=("人口普查登记任务全面完成，数据质量通过省级核查。",
                 "按时发布月度、季度统计数据，为市委市政府决策提供依据。"),
        staff_quota=58, staff_quota_admin=52, staff_quota_service=6, staff_actual=55, retirees=31,
        budget_initial=D("1268.40"), income_total=D("1268.40"), income_fiscal=D("1268.40"),
        carryover_begin=D("15.32"), expense_total=D("1251.87"), carryover_end=D("41.85"),  # 31.85
        expense_basic=D("986.20"), expense_project=D("265.67"),
        sangong_budget_prev=D("12.00"), sangong_budget=D("11.40"), sangong_actual=D("9.86"),
        procurement_budget=D("65.00"), procurement_actual=D("63.20"),
        fixed_assets_total=D("742.18"), fixed_assets_in_use=D("731.06"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.952"),
    )


def urban_management_bureau() -> dict[str, object]:
    """Deductions: self scores follow the rules except B3; D3 deducted without a reason,
    B6 at full marks without evidence."""
    return unit(
        "湛江市城市管理和综合执法局本级", "440800003", "湛江市城市管理和综合执法局",
        duties=("负责全市市容环境卫生、城市照明、城市道路和市政设施的管理。",
                "负责城市管理综合执法工作的统筹协调和监督指导。",
                "负责城市生活垃圾分类和处理设施建设的监督管理。"),
        works=("推进创建全国文明城市常态化长效化，开展市容环境综合整治。",
               "推进生活垃圾分类工作，建成区居民小区分类设施覆盖率达到80%。",
               "完成主城区道路照明节能改造。", "开展违法建设专项治理行动。"),
        effects=("主次干道市容秩序明显改善，群众投诉量同比下降。",
                 "生活垃圾分类设施覆盖主城区居民小区，分类收运体系初步建立。"),
        problems=("受疫情影响，部分项目开工延后，年末结转资金较多，预算执行率偏低。",
                  "部分群众对执法方式仍有意见，满意度有待提高。"),
        team=9,
        staff_quota=186, staff_quota_admin=42, staff_quota_inst=128, staff_quota_service=16, staff_actual=179,
        retirees=64,
        budget_initial=D("5820.00"), income_total=D("6105.30"), income_fiscal=D("5980.30"),
        carryover_begin=D("412.60"), expense_total=D("5735.75"), carryover_end=D("782.15"),
        expense_basic=D("3120.40"), expense_project=D("2615.35"),
        sangong_budget_prev=D("45.00"), sangong_budget=D("42.00"), sangong_actual=D("39.80"),
        procurement_budget=D("860.00"), procurement_actual=D("774.00"),
        fixed_assets_total=D("3560.80"), fixed_assets_in_use=D("3420.10"),
        budget_published_date=dt.date(2020, 3, 5),
        key_tasks_planned=4, key_tasks_done=4, satisfaction=D("0.889"),
        score_B1=D("9.75"), note_B1="预算执行率88.00%，受疫情影响部分项目延期实施，按每低1个百分点扣0.75分，扣5.25分。",
        score_B3=5, note_B3="政府采购按计划执行。",
        note_B6=None,
        score_C2=4, note_C2="自评佐证材料不够充分，扣1分。",
        score_D2=9, note_D2="垃圾分类工作社会效益初步显现，长效机制尚未完全建立，扣1分。",
        score_D3=D("4.73"),
    )


def museum() -> dict[str, object]:
    """A 事业单位 without “三公” or procurement figures: A4, B2, B3 不适用, total rescaled."""
    return unit(
        "湛江市博物馆", "440800004", "湛江市文化广电旅游体育局", we="我馆", unit_type="事业单位",
        duties=("负责馆藏文物的收集、保管、研究和展示。", "举办基本陈列和临时展览，开展社会教育和公共文化服务。",
                "承担全市可移动文物普查和文物保护的业务指导。"),
        works=("完成馆藏文物数字化保护一期工作。",
               "举办“湛江历史文化陈列”等展览6个。",
               "疫情期间推出线上展览和云课堂。"),
        effects=("全年接待观众18.6万人次，线上展览访问量超过50万人次。", "完成馆藏文物数字化建档1200件（套）。"),
        team=5,
        staff_quota=32, staff_quota_inst=30, staff_quota_service=2, staff_actual=30, retirees=14,
        budget_initial=D("642.80"), income_total=D("688.35"), income_fiscal=D("642.80"),
        carryover_begin=D("26.40"), expense_total=D("690.12"), carryover_end=D("24.63"),
        expense_basic=D("512.30"), expense_project=D("177.82"),
        fixed_assets_total=D("2318.64"), fixed_assets_in_use=D("2296.10"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.942"),
        score_A4=None, note_A4="本馆未安排“三公”经费预算。",
        score_B2="不适用", note_B2="本馆未安排“三公”经费预算。",
        score_B3=None, note_B3="本年度无政府采购预算。",
    )


def agriculture_bureau() -> dict[str, object]:
    """Filed 12 days late, 评价年度 typed as the filing year, D2's 分值 raised to 15 in the sheet."""
    return unit(
        "湛江市农业农村局本级", "440800005", "湛江市农业农村局",
        duties=("统筹研究和组织实施“三农”工作的发展战略、中长期规划和重大政策。",
                "负责种植业、畜牧业、渔业等农业各产业的监督管理。",
                "负责农产品质量安全监督管理。"),
        works=("推进乡村振兴战略实施，完成年度农村人居环境整治任务。", "稳定粮食生产，全年粮食播种面积完成省下达任务。",
               "做好非洲猪瘟防控和生猪稳产保供工作。"),
        effects=("粮食生产保持稳定，生猪产能逐步恢复。", "农村人居环境整治三年行动目标任务全面完成。"),
        problems=("自评材料准备不充分，未能在规定时间内报送。",),
        filed=dt.date(2021, 7, 2), team=8, eval_year=2021,
        staff_quota=96, staff_quota_admin=84, staff_quota_service=12, staff_actual=90, retirees=52,
        budget_initial=D("8362.50"), income_total=D("8362.50"), income_fiscal=D("8362.50"),
        carryover_begin=D("128.70"), expense_total=D("8215.33"), carryover_end=D("275.87"),
        expense_basic=D("2086.45"), expense_project=D("6128.88"),
        sangong_budget_prev=D("60.00"), sangong_budget=D("56.00"), sangong_actual=D("48.32"),
        procurement_budget=D("1250.00"), procurement_actual=D("1216.80"),
        fixed_assets_total=D("5231.60"), fixed_assets_in_use=D("5180.25"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.935"),
        score_C3=0, note_C3="因材料补充完善，于2021年7月2日报送，逾期12天，本项不得分。",
        score_D2=12, note_D2="乡村振兴各项工作成效显著，经济效益、社会效益突出，按调整后分值自评12分。",
    )


def water_bureau() -> dict[str, object]:
    """Two rows inserted in 基础数据表, 本年支出合计 typed as a formula: read correctly."""
    return unit(
        "湛江市水务局本级", "440800007", "湛江市水务局",
        duties=("负责保障全市水资源的合理开发利用。",
                "负责水利工程建设与运行管理。",
                "负责全市防汛防旱的组织、协调、监督和指导。"),
        works=("推进鉴江供水枢纽等重点水利工程建设。",
               "全面推行河长制湖长制，开展河湖“清四乱”专项行动。",
               "做好2020年防汛防风工作。"),
        effects=("重点水利工程按计划推进，防汛防风工作实现“不死人、少伤人、少损失”目标。",
                 "河湖“清四乱”问题整改完成率100%。"),
        problems=("部分水利工程项目前期工作进度偏慢。",),
        staff_quota=72, staff_quota_admin=60, staff_quota_inst=8, staff_quota_service=4, staff_actual=68, retirees=40,
        budget_initial=D("4512.30"), income_total=D("4512.30"), income_fiscal=D("4512.30"),
        carryover_begin=D("86.45"), expense_total=D("4395.18"), carryover_end=D("203.57"),
        expense_basic=D("1650.72"), expense_project=D("2744.46"),
        sangong_budget_prev=D("35.00"), sangong_budget=D("33.00"), sangong_actual=D("30.15"),
        procurement_budget=D("420.00"), procurement_actual=D("409.60"),
        fixed_assets_total=D("3862.90"), fixed_assets_in_use=D("3841.30"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.948"),
        score_C2=D("4.5"), note_C2="部分项目佐证材料整理不够及时，扣0.5分。",
    )


def transport_bureau(corrected: bool) -> dict[str, object]:
    """Sent twice: first with a balance error, then corrected (the later filing date wins)."""
    return unit(
        "湛江市交通运输局本级", "440800008", "湛江市交通运输局",
        duties=("负责全市公路、水路交通运输行业管理。",
                "负责交通运输基础设施建设和养护的监督管理。",
                "负责城市公共交通的行业指导。"),
        works=("推进国省道改造和“四好农村路”建设。",
               "推进湛江港30万吨级航道改扩建工程前期工作。",
               "做好疫情期间交通运输保障。"),
        effects=("完成国省道路面改造120公里、农村公路建设310公里。", "疫情期间保障重点物资运输车辆通行。"),
        problems=("部分项目资金拨付进度滞后于工程进度。",),
        filed=dt.date(2021, 6, 15) if corrected else dt.date(2021, 6, 10),
        staff_quota=88, staff_quota_admin=80, staff_quota_service=8, staff_actual=85, retirees=47,
        budget_initial=D("6120.00"), income_total=D("6258.40"), income_fiscal=D("6120.00"),
        carryover_begin=D("342.15"), expense_total=D("6318.72"),
        carryover_end=D("281.83") if corrected else D("218.83"),
        expense_basic=D("1960.34"), expense_project=D("4358.38"),
        sangong_budget_prev=D("48.00"), sangong_budget=D("45.60"), sangong_actual=D("41.28"),
        procurement_budget=D("560.00"), procurement_actual=D("548.90"),
        fixed_assets_total=D("6120.75"), fixed_assets_in_use=D("6034.10"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.931"),
        score_B6=D("4.5"), note_B6="个别项目验收资料归档不及时，扣0.5分。",
    )


def environment_bureau() -> dict[str, object]:
    """Parts and totals disagree: 基本支出 + 项目支出 ≠ 本年支出合计, 自评总分 rounded up to 90
    while the scores add up to 89.5, and 自评等级 良好 for a written 90."""
    return unit(
        "湛江市生态环境局本级", "440800009", "湛江市生态环境局",
        duties=("负责建立健全全市生态环境基本制度。",
                "负责全市重大生态环境问题的统筹协调和监督管理。",
                "负责全市环境污染防治的监督管理。"),
        works=("打好污染防治攻坚战，全市空气质量优良天数比例达到省考核要求。", "推进九洲江、鉴江等重点流域水污染治理。",
               "完成中央环保督察反馈问题年度整改任务。",
               "推进固体废物和危险废物规范化管理。",
               "开展生态环境保护执法专项行动。",
               "推进“无废城市”建设前期工作。",
               "完成重点排污单位自动监控联网。",
               "开展生态环境宣传教育。",
               "推进排污许可全覆盖。",
               "完成第二次全国污染源普查成果应用。"),
        effects=("全市空气质量优良天数比例达到97.5%。", "重点流域国考断面水质达标。"),
        problems=("“无废城市”建设前期工作未能按计划完成。", "部分项目资金执行进度偏慢。"),
        staff_quota=64, staff_quota_admin=48, staff_quota_inst=12, staff_quota_service=4, staff_actual=61, retirees=29,
        budget_initial=D("3050.00"), income_total=D("3080.50"), income_fiscal=D("3050.00"),
        carryover_begin=D("56.30"), expense_total=D("2885.86"), carryover_end=D("250.94"),
        expense_basic=D("1865.20"), expense_project=D("1002.66"),  # sum 2867.86: 18.00 short
        sangong_budget_prev=D("26.00"), sangong_budget=D("24.50"), sangong_actual=D("22.96"),
        procurement_budget=D("380.00"), procurement_actual=D("372.40"),
        fixed_assets_total=D("2965.40"), fixed_assets_in_use=D("2930.15"),
        key_tasks_planned=10, key_tasks_done=9, satisfaction=D("0.93"),
        score_A1=4, note_A1="部分绩效指标未细化量化，扣1分。",
        score_B1=D("12.75"), note_B1="预算执行率92.00%，扣2.25分。",
        score_B6=D("4.75"), note_B6="个别项目验收不及时，扣0.25分。",
        score_C2=4, note_C2="自评佐证材料不够完整，扣1分。",
        score_D1=5, note_D1="计划重点工作10项，完成9项，“无废城市”建设前期工作未完成，扣5分。",
        score_D2=9, note_D2="污染防治成效明显，长效机制有待完善，扣1分。",
        score_total=90, grade_self="良好",
    )


def commerce_bureau() -> dict[str, object]:
    """“三公” spent without a “三公” budget; 预算公开日期 typed before the approval date."""
    return unit(
        "湛江市商务局本级", "440800010", "湛江市商务局",
        duties=("拟订全市国内外贸易和国际经济合作的发展规划和政策。",
                "负责推进全市流通产业结构调整。",
                "负责全市招商引资的统筹协调。"),
        works=("做好稳外贸稳外资工作。", "举办湛江海鲜美食节等促消费活动。", "推进湛江综合保税区申报工作。"),
        effects=("全年外贸进出口总额保持稳定。", "促消费活动带动社会消费品零售总额回升。"),
        problems=("年初未编列“三公”经费预算，执行中发生公务接待支出。",),
        staff_quota=66, staff_quota_admin=58, staff_quota_service=8, staff_actual=63, retirees=35,
        budget_initial=D("2860.00"), income_total=D("2860.00"), income_fiscal=D("2860.00"),
        carryover_begin=D("47.60"), expense_total=D("2812.44"), carryover_end=D("95.16"),
        expense_basic=D("1302.18"), expense_project=D("1510.26"),
        sangong_budget_prev=D("6.00"), sangong_budget=D("0"), sangong_actual=D("3.20"),
        procurement_budget=D("150.00"), procurement_actual=D("146.25"),
        fixed_assets_total=D("980.30"), fixed_assets_in_use=D("972.80"),
        budget_published_date=dt.date(2020, 2, 8),  # meant 2020-03-08
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.927"),
        score_B2=0, note_B2="年初未编列“三公”经费预算，因接待外省招商考察团发生公务接待费3.20万元，本项不得分。",
        score_B4=4, note_B4="发生未编列预算的公务接待支出，扣1分。",
    )


def science_bureau() -> dict[str, object]:
    """Input errors: 填报日期 left blank, an amount typed in 元, a negative 年末结转和结余."""
    return unit(
        "湛江市科学技术局本级", "440800011", "湛江市科学技术局",
        duties=("拟订全市科技发展规划和政策并组织实施。",
                "统筹推进全市科技创新体系建设。",
                "负责全市高新技术企业培育工作。"),
        works=("推进高新技术企业“育苗造林”行动。", "支持湛江湾实验室建设。", "组织实施市级科技专项。"),
        effects=("全市高新技术企业数量稳步增长。", "市级科技专项资金全部下达到项目单位。"),
        filing_date=None,
        staff_quota=40, staff_quota_admin=36, staff_quota_service=4, staff_actual=38, retirees=21,
        budget_initial=D("3620.00"), income_total=D("3620.00"), income_fiscal=D("3620.00"),
        carryover_begin=D("12.40"), expense_total=D("3635.60"), carryover_end="-3.20",
        expense_basic=D("820.36"), expense_project=D("2815.24"),
        sangong_budget_prev=D("8.00"), sangong_budget=D("7.60"), sangong_actual=D("6.48"),
        procurement_budget=D("120.00"), procurement_actual="1186000元",
        fixed_assets_total=D("460.20"), fixed_assets_in_use=D("455.90"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.958"),
    )


def housing_bureau() -> dict[str, object]:
    """Every amount typed in 元 instead of 万元 (balanced, so only the magnitude gives it away)."""
    return unit(
        "湛江市住房和城乡建设局本级", "440800012", "湛江市住房和城乡建设局",
        duties=("负责全市住房保障和房地产市场监督管理。",
                "负责建筑市场和工程质量安全的监督管理。",
                "负责城市建设和村镇建设的指导。"),
        works=("推进老旧小区改造。", "完成年度保障性安居工程建设任务。", "开展建筑施工安全专项整治。"),
        effects=("完成老旧小区改造32个，惠及居民5600户。", "保障性安居工程开工和基本建成任务全面完成。"),
        problems=("老旧小区改造项目前期手续办理周期较长。",),
        staff_quota=78, staff_quota_admin=70, staff_quota_service=8, staff_actual=74, retirees=43,
        budget_initial=D("41586000"), income_total=D("43620500"), income_fiscal=D("41586000"),
        carryover_begin=D("2365800"), expense_total=D("44012300"), carryover_end=D("1974000"),
        expense_basic=D("29650300"), expense_project=D("14362000"),
        sangong_budget_prev=D("486000"), sangong_budget=D("452000"), sangong_actual=D("398600"),
        procurement_budget=D("5200000"), procurement_actual=D("5068000"),
        fixed_assets_total=D("98652000"), fixed_assets_in_use=D("97120000"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.921"),
        score_D2=D("9.5"), note_D2="老旧小区改造群众获得感明显，部分项目进度滞后，扣0.5分。",
    )


def audit_bureau() -> dict[str, object]:
    """A correct return, but on the 2019 template (see `old_template`)."""
    return unit(
        "湛江市审计局本级", "440800013", "湛江市审计局",
        duties=("主管全市审计工作。", "对市级预算执行情况和其他财政收支情况进行审计监督。", "组织实施经济责任审计。"),
        works=("完成2019年度市级预算执行和其他财政收支审计。",
               "开展疫情防控资金和捐赠款物专项审计。",
               "完成领导干部经济责任审计项目。"),
        effects=("审计发现问题整改率达到95%以上。", "疫情防控资金专项审计推动资金及时拨付到位。"),
        staff_quota=62, staff_quota_admin=56, staff_quota_service=6, staff_actual=59, retirees=30,
        budget_initial=D("1850.00"), income_total=D("1850.00"), income_fiscal=D("1850.00"),
        carryover_begin=D("22.80"), expense_total=D("1826.45"), carryover_end=D("46.35"),
        expense_basic=D("1201.70"), expense_project=D("624.75"),
        sangong_budget_prev=D("15.00"), sangong_budget=D("14.00"), sangong_actual=D("12.66"),
        procurement_budget=D("90.00"), procurement_actual=D("88.20"),
        fixed_assets_total=D("1120.40"), fixed_assets_in_use=D("1108.75"),
        key_tasks_planned=3, key_tasks_done=3, satisfaction=D("0.962"),
        score_C2=D("4.5"), note_C2="佐证材料归档不够规范，扣0.5分。",
    )


# --------------------------------------------------------------------------------------------
# Workbook surgery, as Excel or a clerk would do it


def fill(wb: openpyxl.Workbook, values: dict[str, object]) -> None:
    """Write each value into the cell its defined name points at (None blanks the cell)."""
    for name, value in values.items():
        if name not in wb.defined_names:
            raise KeyError(f"no defined name {name!r} in the template")
        for sheet, ref in wb.defined_names[name].destinations:
            if isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time())
            wb[sheet][ref.replace("$", "")].value = value


_REF = re.compile(r"^(?P<sheet>'[^']+'|[^!]+)!\$(?P<col>[A-Z]+)\$(?P<row>\d+)$")


def insert_rows_like_excel(wb: openpyxl.Workbook, sheet: str, idx: int, amount: int) -> None:
    """Insert rows as Excel does: cells, merged ranges, validations, row heights and the
    workbook's defined names below `idx` all move down (openpyxl's insert_rows moves cells only)."""
    ws = wb[sheet]
    below = [CellRange(r.coord) for r in ws.merged_cells.ranges if r.min_row >= idx]
    for r in below:
        ws.unmerge_cells(r.coord)
    heights = {r: d.height for r, d in ws.row_dimensions.items() if r >= idx and d.height}
    ws.insert_rows(idx, amount)
    for r in heights:
        ws.row_dimensions[r].height = None
    for r, h in heights.items():
        ws.row_dimensions[r + amount].height = h
    for r in below:
        r.shift(row_shift=amount)
        ws.merge_cells(r.coord)
    for dv in ws.data_validations.dataValidation:
        ranges = []
        for cr in dv.sqref.ranges:
            cr = CellRange(cr.coord)
            if cr.min_row >= idx:
                cr.shift(row_shift=amount)
            ranges.append(cr.coord)
        dv.sqref = MultiCellRange(" ".join(ranges))
    for dn in wb.defined_names.values():
        m = _REF.match(dn.attr_text)
        if m and m["sheet"].strip("'") == sheet and int(m["row"]) >= idx:
            dn.attr_text = f"{m['sheet']}!${m['col']}${int(m['row']) + amount}"
    for r in range(idx, idx + amount):  # the new rows look like their neighbours
        for c in range(1, 5):
            ws.cell(r, c)._style = ws.cell(idx - 1, c)._style


def row_of(ws, code: str) -> int:
    """The 评分表 row whose 指标编码 is `code`."""
    for (cell,) in ws.iter_rows(min_col=1, max_col=1):
        if cell.value == code:
            return cell.row
    raise KeyError(code)


# --------------------------------------------------------------------------------------------
# Deterministic packages

ZIP_TIME = (2021, 1, 1, 0, 0, 0)
CREATED = "2021-01-01T00:00:00Z"
_CORE_TIME = re.compile(r"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def normalise(data: bytes, modified: str, cached: dict[str, str] | None = None) -> bytes:
    """Rewrite a package with fixed entry dates and fixed core.xml times; `cached` gives the
    cached value of formula cells (A1 ref -> value), as Excel would have saved it."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = _CORE_TIME.sub(lambda m: m[1] + (CREATED if m[2] == "created" else modified) + m[3], text)
                body = text.encode("utf-8")
            elif cached and info.filename.startswith("xl/worksheets/"):
                text = body.decode("utf-8")
                for ref, value in cached.items():
                    pattern = rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)<v(?:\s*/>|></v>)'
                    text = re.sub(pattern, rf"\g<1>\g<2><v>{value}</v>", text)
                body = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, body)
    return out.getvalue()


def saved(wb: openpyxl.Workbook, filed: dt.date | None, cached: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    day = filed or dt.date(2021, 6, 18)
    return normalise(buf.getvalue(), f"{day.isoformat()}T02:30:00Z", cached)


# --------------------------------------------------------------------------------------------
# The samples


class Sample(NamedTuple):  # not a dataclass: the module may be loaded from its path, outside sys.modules
    file: str
    shows: str  # what it demonstrates (README)
    make: Callable[[Path], bytes]  # template path -> file bytes
    status: str
    codes: tuple[str, ...]
    #: (自评总分, 自评等级, 核定总分, 核定等级) for scored files
    totals: tuple[str | None, str | None, str | None, str | None] | None = None


def from_template(values: Callable[[], dict[str, object]],
                  edit: Callable[[openpyxl.Workbook], dict[str, str] | None] | None = None):
    def make(template: Path) -> bytes:
        vals = values()
        wb = openpyxl.load_workbook(template)
        fill(wb, vals)
        cached = edit(wb) if edit else None
        return saved(wb, vals.get("filing_date"), cached)  # type: ignore[arg-type]
    return make


def edit_weight(wb: openpyxl.Workbook) -> None:
    """The unit overwrote D2's 分值 (10 → 15); the sheet protection has no password."""
    ws = wb["评分表"]
    ws.cell(row_of(ws, "D2"), 5).value = 15


def edit_insert_rows(wb: openpyxl.Workbook) -> dict[str, str]:
    """Two rows inserted below 联系电话; 本年支出合计 typed as =基本支出+项目支出."""
    ws = wb["基础数据表"]
    phone = next(c.row for (c,) in ws.iter_rows(min_col=1, max_col=1) if c.value == "联系电话")
    insert_rows_like_excel(wb, "基础数据表", phone + 1, 2)
    ws.cell(phone + 1, 1).value, ws.cell(phone + 1, 2).value = "办公地址", "湛江市赤坎区"
    ws.cell(phone + 2, 1).value, ws.cell(phone + 2, 2).value = "邮政编码", "524000"
    (_, total), = wb.defined_names["expense_total"].destinations
    (_, basic), = wb.defined_names["expense_basic"].destinations
    (_, project), = wb.defined_names["expense_project"].destinations
    total, basic, project = (r.replace("$", "") for r in (total, basic, project))
    ws[total].value = f"={basic}+{project}"
    value = D(str(ws[basic].value)) + D(str(ws[project].value))
    return {total: format_number(value)}


def old_template(wb: openpyxl.Workbook) -> None:
    """_meta of last year's template: another rubric id and hash."""
    meta = wb["_meta"]
    for (key, cell) in meta.iter_rows(min_col=1, max_col=2):
        if key.value == "rubric_id":
            cell.value = "gd-dept-2019"
        elif key.value == "rubric_hash":
            cell.value = "3f1c5e0b9d2a47c8e6b1f09a2d4c7e5f8a1b3c6d9e0f2a4b7c8d1e3f5a6b9c0d"
        elif key.value == "year":
            cell.value = "2019"


def pasted(template: Path) -> bytes:
    """The unit copied the labels and values into a fresh workbook: no _meta, no names, its own
    row order, aliases for labels, values typed as text in the ways people type them."""
    wb = openpyxl.Workbook()
    basic = wb.active
    basic.title = "基础数据表"
    rows: list[tuple[str, object]] = [
        ("项目", "填报内容"),
        ("预算单位名称", "湛江市文化广电旅游体育局本级"),
        ("单位代码", 440800006),
        ("主管部门", "湛江市文化广电旅游体育局"),
        ("单位类型", "行政单位"),
        ("年度", "2020年度"),
        ("填表日期", "2021年6月4日"),
        ("联系人", "办公室"),
        ("年初预算数（万元）", 2356.8),
        ("本年收入合计（万元）", "２３５６．８０"),
        ("其中：财政拨款收入（万元）", "2,356.80"),
        ("上年结余（万元）", "48.2万元"),
        ("本年支出合计（万元）", 2338.66),
        ("其中：基本支出（万元）", "1,234.50万元"),
        ("其中：项目支出（万元）", 1104.16),
        ("年末结余（万元）", 66.34),
        ("编制数（人）", "85人"),
        ("其中：行政编制（人）", 76),
        ("其中：工勤编制（人）", 9),
        ("在职人数（人）", 81),
        ("离退休人数（人）", 46),
        ("自评小组人数（人）", 6),
        ("上年“三公”经费预算数（万元）", 52),
        ("本年“三公”经费预算数（万元）", 49.5),
        ("本年“三公”经费决算数（万元）", 46.88),
        ("政府采购预算数（万元）", 320),
        ("政府采购实际金额（万元）", 311.45),
        ("固定资产总额（万元）", 1580.25),
        ("其中：在用固定资产（万元）", 1566.9),
        ("预算批复日期", "2020/2/18"),
        ("预算公开日期", 43896),  # pasted as a number: 2020-03-06 in Excel's date system
        ("计划重点工作数（项）", 4),
        ("完成重点工作数（项）", 4),
        ("满意度（%）", 96.5),
        ("单位机构设置及职能", "湛江市文化广电旅游体育局是市政府工作部门，属行政单位。主要职责如下：\n"
                       "1.贯彻落实文化、广播电视、旅游、体育工作方针政策。\n2.统筹规划全市文化、旅游、体育事业和产业发展。"),
        ("年度总体工作和重点工作任务", "1、做好疫情防控常态化下文旅场所有序开放。\n2、推进公共文化服务体系建设。\n"
                             "3、举办湛江文化旅游节。\n4、推进全民健身设施建设。"),
        ("绩效目标", "1、文旅场所有序开放，全年不发生安全事故。\n2、公共文化服务体系建设任务按期完成。"),
        ("自评工作开展情况", "（一）评价小组情况。我局成立绩效自评工作小组共6人。\n"
                      "（二）自评工作过程。对照评分表逐项收集资料、开展自评，形成自评报告。"),
        ("履职成效", "1.全市A级旅游景区、公共图书馆、文化馆有序恢复开放。\n2.新建社区体育公园5个。"),
        ("存在问题", "无"),
        ("改进措施", "1.加强预算绩效管理。"),
        ("其他自评情况", "无"),
    ]
    for row in rows:
        basic.append(row)
    basic.column_dimensions["A"].width = 34
    basic.column_dimensions["B"].width = 60
    score = wb.create_sheet("评分表")
    score.append(("指标编码", "指标名称", "分值", "自评分", "自评说明"))
    for ind in RUBRIC.indicators:
        weight = int(ind.weight)
        note = MANUAL_NOTES.get(ind.code, "")
        score.append((ind.code, ind.name, weight, f"{weight}分" if ind.code in ("A1", "D2") else weight, note))
    score.append(("自评总分", "100分"))
    score.append(("自评等级", "优"))
    score.column_dimensions["B"].width = 30
    score.column_dimensions["E"].width = 60
    return saved(wb, dt.date(2021, 6, 4))


def final_accounts(template: Path) -> bytes:
    """Not the template: the unit sent its 部门决算 summary table instead."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "收入支出决算总表"
    ws.append(("收入支出决算总表",))
    ws.append(("编制单位：湛江市民政局本级", None, "金额单位：万元"))
    ws.append(("项目", "行次", "金额"))
    for i, (label, amount) in enumerate((
        ("一、一般公共预算财政拨款收入", 4126.35), ("二、政府性基金预算财政拨款收入", 310.00),
        ("本年收入合计", 4436.35), ("年初结转和结余", 185.72), ("一、基本支出", 1520.48),
        ("二、项目支出", 2890.16), ("本年支出合计", 4410.64), ("年末结转和结余", 211.43)), 1):
        ws.append((label, i, amount))
    ws.column_dimensions["A"].width = 36
    return saved(wb, dt.date(2021, 6, 8))


def web_page(template: Path) -> bytes:
    """A table exported from a web system as “Excel”: HTML with an .xls name."""
    cells = (("单位名称", "湛江市人力资源和社会保障局本级"), ("单位编码", "440800015"), ("评价年度", "2020"),
             ("本年收入合计（万元）", "5210.36"))
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in cells)
    return ('<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8">'
            f"<title>基础数据表</title></head><body><table border=\"1\">{body}</table></body></html>\n"
            ).encode()


def lock_file(template: Path) -> bytes:
    """The owner file Excel leaves beside a workbook that is open (~$name)."""
    user = b"user"
    utf16 = "user".encode("utf-16-le")
    return (bytes([len(user)]) + user.ljust(53, b" ") + bytes([len(user), 0]) + utf16).ljust(165, b" ")


def word_report(template: Path) -> bytes:
    """The unit's 自评报告 as a .docx attachment (a minimal WordprocessingML package)."""
    paragraphs = ["整体绩效自评报告", "评价年度：2020年度", "评价单位：中共湛江市委组织部本级",
                  "一、单位基本情况", *FUNCTIONS.split("\n"), "四、其他自评情况", "无。"]
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{html.escape(p, quote=False)}</w:t></w:r></w:p>'
                   for p in paragraphs)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{w}">'
            f"<w:body>{body}</w:body></w:document>"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zi = zipfile.ZipInfo(name, ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, text.encode("utf-8"))
    return out.getvalue()


ORG = "440800001_中共湛江市委组织部本级"
SAMPLES: tuple[Sample, ...] = (
    Sample(f"{ORG}.xlsx", "样例报告的单位（spec §10）：各项计算指标均满分，自评 100 分、优秀；但“存在问题”写了两条",
           from_template(organisation_department), "reviewed", ("full-marks-despite-problems",),
           ("100", "优秀", "100", "优秀")),
    Sample(f"{ORG}_自评报告.docx", "随表附送的 Word 自评报告：不是电子表格，列出后忽略",
           word_report, "ignored", ("not-a-spreadsheet",)),
    Sample("440800002_湛江市统计局本级.xlsx", "年末结转和结余多填 10.00（应为 31.85）：收支不平衡",
           from_template(statistics_bureau), "error", ("balance-mismatch",), ("100", "优秀", "100", "优秀")),
    Sample("440800003_湛江市城市管理和综合执法局本级.xlsx",
           "有扣分的单位：预算执行率 88%、满意度 88.9%（D3 核定 4.73）；B3 自评 5 分而按数据应得 3.75 分；"
           "D3 扣分未写原因；B6 人工评分满分未写佐证",
           from_template(urban_management_bureau), "reviewed",
           ("deduction-unexplained", "full-marks-unexplained", "score-differs"), ("92.48", "优秀", "91.23", "优秀")),
    Sample("~$440800003_湛江市城市管理和综合执法局本级.xlsx", "Excel 打开文件时留下的锁定文件：列出后忽略",
           lock_file, "ignored", ("ignored-file",)),
    Sample("440800004_湛江市博物馆.xlsx",
           "事业单位，无“三公”经费和政府采购数据：A4、B2、B3 不适用，剔除后折算为百分制（自评 85 分不折算）",
           from_template(museum), "reviewed", ("not-applicable", "not-applicable", "not-applicable"),
           ("85", "良好", "100", "优秀")),
    Sample("440800005_湛江市农业农村局本级.xlsx",
           "7 月 2 日才报送（逾期 12 天，C3 得 0 分）；评价年度误填 2021；把 D2 的分值改成 15 并自评 12 分",
           from_template(agriculture_bureau, edit_weight), "error",
           ("late-submission", "score-out-of-range", "weight-changed", "year-mismatch"), ("97", "优秀", None, None)),
    Sample("440800006_湛江市文化广电旅游体育局本级.xlsx",
           "复制粘贴到新工作簿：无 _meta、无定义名称，按文字定位；别名标签（上年结余、年末结余、单位代码…）、"
           "全角数字、千分位、“万元”后缀、文本日期、“85人”“5分”；满意度填 96.5、公开日期为日期序号",
           pasted, "reviewed", ("date-from-serial", "meta-missing", "percent-assumed"), ("100", "优秀", "100", "优秀")),
    Sample("440800007_湛江市水务局本级.xlsx",
           "在基础数据表中插入了两行（定义名称随之下移），本年支出合计填的是公式 =基本支出+项目支出：均正确读取",
           from_template(water_bureau, edit_insert_rows), "reviewed", ("formula-in-input",),
           ("99.5", "优秀", "99.5", "优秀")),
    Sample("市直单位/440800008_湛江市交通运输局本级.xlsx",
           "同一单位报了两次：6 月 10 日的首版（收支不平衡），被更正版取代",
           from_template(lambda: transport_bureau(False)), "duplicate", ("duplicate-submission",)),
    Sample("市直单位/440800008_湛江市交通运输局本级（更正版）.xlsx",
           "6 月 15 日的更正版：填报日期较晚，作为该单位的有效文件",
           from_template(lambda: transport_bureau(True)), "reviewed", ("duplicate-submission",),
           ("99.5", "优秀", "99.5", "优秀")),
    Sample("440800009_湛江市生态环境局本级.xlsx",
           "勾稽关系：基本支出+项目支出比合计少 18.00；各项自评合计 89.5 分却填 90 分；90 分却填“良好”",
           from_template(environment_bureau), "error", ("grade-mismatch", "sum-mismatch", "total-mismatch"),
           ("90", "良好", "89.5", "良好")),
    Sample("440800010_湛江市商务局本级.xlsx",
           "无“三公”经费预算却支出 3.20 万元（B2 得 0 分）；"
           "预算公开日期 2020-02-08 早于批复日期（C1 无法计算，不出核定总分）",
           from_template(commerce_bureau), "error", ("date-order", "unbudgeted-spending"), ("94", "优秀", None, None)),
    Sample("440800011_湛江市科学技术局本级.xlsx",
           "填报不规范：填报日期未填；政府采购实际金额填“1186000元”；年末结转和结余填 -3.20（不出核定总分）",
           from_template(science_bureau), "error", ("missing-value", "type-error", "value-out-of-range"),
           ("100", "优秀", None, None)),
    Sample("440800012_湛江市住房和城乡建设局本级.xlsx",
           "所有金额按“元”填报（收支本身平衡，比率照算）：本年收入合计 43,620,500 万元，疑似单位错误，"
           "退回更正，其金额不计入汇总表的合计",
           from_template(housing_bureau), "error", ("magnitude-suspect",), ("99.5", "优秀", "99.5", "优秀")),
    Sample("440800013_湛江市审计局本级.xlsx", "用上一年度（2019）的模板填报：_meta 的指标体系不同，不予读取",
           from_template(audit_bureau, old_template), "unreadable", ("template-mismatch",)),
    Sample("440800014_湛江市民政局本级.xlsx", "报来的是部门决算“收入支出决算总表”，不是自评模板",
           final_accounts, "unreadable", ("not-a-template",)),
    Sample("440800015_湛江市人力资源和社会保障局本级.xls", "业务系统导出的“Excel”其实是网页（HTML）",
           web_page, "unreadable", ("file-unreadable",)),
)

#: file -> (status, sorted finding codes): the contract of the sample folder
EXPECTED: dict[str, tuple[str, list[str]]] = {s.file: (s.status, sorted(s.codes)) for s in SAMPLES}
#: file -> (自评总分, 自评等级, 核定总分, 核定等级), for the files that are scored
TOTALS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    s.file: s.totals for s in SAMPLES if s.totals is not None}


def build(out: Path = OUT) -> None:
    """(Re)write the department samples of the folder: its old files are deleted first, except the
    project files (make_samples_projects.py)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in sorted(out.rglob("*"), reverse=True):
        if old.is_file() and PROJECT_MARK not in old.name:
            old.unlink()
        elif old.is_dir() and not any(old.iterdir()):
            old.rmdir()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "data_template.xlsx"
        build_template(template, RUBRIC)
        for s in SAMPLES:
            path = out / s.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s.make(template))


def _show(d: Decimal | None) -> str | None:
    return None if d is None else format_number(d)


def options() -> Options:
    """The round's two forms, department first, as `perfxl run` takes them without --form."""
    return dataclasses.replace(Options.for_rubric(RUBRIC), others=(builtin_project_form("proj-2020"),))


def run(folder: Path = OUT, jobs: int | None = 1) -> BatchResult:
    return run_batch(folder, options(), jobs=jobs)


def check(folder: Path = OUT, jobs: int | None = 1, batch: BatchResult | None = None) -> list[str]:
    """Run perfxl over the folder; the differences from EXPECTED and TOTALS (empty: all as expected)."""
    batch = batch or run(folder, jobs)
    problems = []
    got = {r.file: r for r in batch.files if PROJECT_MARK not in r.file}
    for file in sorted(set(got) - set(EXPECTED)):
        problems.append(f"{file}: not a sample")
    for file, (status, codes) in EXPECTED.items():
        r = got.get(file)
        if r is None:
            problems.append(f"{file}: missing")
            continue
        found = (r.status, sorted(f.code for f in r.findings))
        if found != (status, codes):
            problems.append(f"{file}: expected {status} {codes}, got {found[0]} {found[1]}")
        if file in TOTALS:
            totals = (_show(r.self_total), r.self_grade, _show(r.reviewed_total), r.reviewed_grade)
            if totals != TOTALS[file]:
                problems.append(f"{file}: expected totals {TOTALS[file]}, got {totals}")
    return problems


# --------------------------------------------------------------------------------------------
# README table

BEGIN, END = "<!-- samples:begin -->", "<!-- samples:end -->"


def _pair(r: FileResult, total: Decimal | None, grade: str | None) -> str:
    if not r.scored:
        return ""
    return f"{_show(total)} {grade}" if total is not None else "—"


def table(batch: BatchResult) -> str:
    """The README table, from an actual run."""
    shows = {s.file: s.shows for s in SAMPLES}
    lines = ["| 文件 | 演示内容 | 状态 | 自评总分/等级 | 核定总分/等级 | 问题（规则 × 次数） |",
             "|---|---|---|---|---|---|"]
    for r in sorted((r for r in batch.files if PROJECT_MARK not in r.file), key=lambda r: r.file):
        counts = Counter(f.code for f in r.findings)
        severity = {f.code: f.severity.label for f in r.findings}
        found = "<br>".join(f"`{c}`（{severity[c]}）" + (f" × {n}" if n > 1 else "")
                            for c, n in sorted(counts.items()))
        lines.append(f"| `{r.file}` | {shows.get(r.file, '')} | {STATUS_LABELS[r.status]} `{r.status}` | "
                     f"{_pair(r, r.self_total, r.self_grade)} | {_pair(r, r.reviewed_total, r.reviewed_grade)} "
                     f"| {found} |")
    return "\n".join(lines)


def update_readme(batch: BatchResult) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table(batch) + "\n" + text[end:], encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check examples/returns-2020.")
    parser.add_argument("--check", action="store_true", help="only check the committed folder")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.check:
        build(args.out)
    batch = run(args.out)
    problems = check(args.out, batch=batch)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems and not args.check and args.out == OUT and README.exists():
        update_readme(batch)
    if not problems:
        print(f"{len(EXPECTED)} samples in {args.out}: all as expected")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
