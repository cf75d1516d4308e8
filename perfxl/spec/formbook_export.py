"""Write a form as a form workbook (spec §12): 说明, 设置, 字段, 指标, 校验, ready to edit in Excel or WPS.

Validation lists on the columns with fixed words, input messages showing each syntax, text
format where Excel would otherwise turn what is typed into a number or a formula, frozen
headers, A4 landscape print setup. The bytes depend only on the form (the creation time is pinned).
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from perfxl.spec.form import SEVERITIES, Form
from perfxl.spec.formbook_params import (
    BLANK_CN,
    RULE_CN,
    TYPE_CN,
    deadline_text,
    example,
    grades_text,
    params_text,
    value_text,
)

SETTINGS_HEADERS = ("项目", "值")
FIELD_HEADERS = ("分组", "字段键", "名称", "类型", "必填", "单位", "别名", "选项", "提示")
INDICATOR_HEADERS = ("指标编码", "一级指标", "二级指标", "三级指标", "分值", "评分标准", "指标值", "评分方式", "参数", "空白时")
CHECK_HEADERS = ("校验编码", "名称", "条件", "严重程度", "说明", "主单元格", "消息")
SHEETS = ("说明", "设置", "字段", "指标", "校验")
ROOM = 500  # rows below the last one that keep the validation lists, for rows the bureau adds
FOOTER = "&C第 &P 页 共 &N 页"

_FIELD_WIDTHS = (18, 22, 26, 8, 6, 7, 30, 28, 34)
_INDICATOR_WIDTHS = (8, 12, 13, 20, 6, 32, 30, 9, 32, 8)
_CHECK_WIDTHS = (18, 22, 40, 8, 24, 20, 48)
_GUIDE_WIDTH = 100
LINE_HEIGHT = 15  # points per wrapped line of 11-point text

_INSTRUCTIONS = [
    ("h", "表单工作簿填写说明"),
    ("p", "本工作簿定义一轮部门整体支出绩效自评所用的表单：基础数据表的字段、评分表的指标与评分规则、交叉校验和等级。"
          "财政部门在 Excel 或 WPS 中修改后，用 perfxl form check 本文件.xlsx 检查；检查通过即可用于生成模板和复核。"
          "表头文字不要改动；列的顺序可以调整，可以插入空行和标题行，多出的列会被忽略。"),
    ("h", "设置"),
    ("p", "两列：项目 | 值。编号：表单的英文编号（如 gd-dept-2020），写入模板并用于识别报回文件；名称；"
          "表式：部门整体 或 项目支出；年度：评价年度，四位数；报送截止：如“次年6月20日”，或一个日期如 2021-06-20；"
          "通知文号、通知名称：本轮通知（可不填）；等级：如“优秀≥90；良好≥80；中≥60；差”，从高到低，最后一个等级不写分数线；"
          "一级分值（可不填）：如“预算编制=20；预算执行=40；预算监督=15；预算使用效益=25”，检查时核对各一级指标的分值合计。"),
    ("h", "字段（基础数据表）"),
    ("p", "分组：基础数据表中的分组标题，空白表示同上一行；字段键：英文小写字母开头，只含小写字母、数字和下划线（如 income_total），"
          "用作模板中的名称和公式中的字段，不能与单元格地址相同（如 tax2020）；名称：表中显示的项目名称，"
          "“其中：”开头表示分项；类型：见下；必填：是 或 否（空白为否）；单位：如 万元、人、项、%；"
          "别名：单位常用的其他写法，用“；”分隔；选项：类型为选项时的可选值，用“；”分隔；提示：填报时显示的提示。"),
    ("p", "类型：文本、编码（如单位编码，按文本比较）、选项（下拉选择）、年度（四位年份）、日期、整数、金额（万元）、百分比、长文本。"),
    ("p", "每个表单必须有字段 unit_code（编码）、unit_name（文本）、eval_year（年度）、filing_date（日期）。"),
    ("h", "指标（评分表）"),
    ("p", "指标编码：如 A1，不能重复；一级指标、二级指标：空白表示同上一行；三级指标：指标名称；分值：各指标分值之和应为 100；"
          "评分标准：印在模板中的文字；指标值：计算指标的公式（人工评分不填）；评分方式和参数：见下；"
          "空白时：数据空白时的处理——不适用（全部空白或 0/0 时剔除该指标并折算为百分制）、零分、报错（默认）。"),
    ("p", "指标值公式：字段键、数字（95% 即 0.95）、+ - * /、括号，以及函数 ABS、MIN、MAX、SUM、DAYS(开始日期, 结束日期)（相隔天数）、"
          "DAYS_LATE(日期)（晚于报送截止的天数）。例：expense_total/(carryover_begin+income_total)；"
          "ABS(income_fiscal-budget_initial)/budget_initial；DAYS(budget_approved_date, budget_published_date)。"),
    ("p", "评分方式与参数（参数各项用“；”分隔）："),
    *(("p", f"　{RULE_CN[k]}：{example(k)}{note}") for k, note in (
        ("manual", "（评分要点:分值，分值之和等于该指标分值）"),
        ("bands", "（从上到下第一个满足的档得分，最后一档写“其他”；也可都用 ≥ 从大到小排列）"),
        ("linear", "（方向=低于：低于目标时每低 1 个百分点扣分；方向=高于：高于目标时扣分；连续计算，扣完为止）"),
        ("proportional", "（得分 = 分值 × 指标值 ÷ 目标，最多满分）"),
        ("days_within", "（指标值为 DAYS(…) 的天数，不超过天数得满分，否则 0 分）"),
        ("days_late", "（指标值为 DAYS_LATE(…)，每逾期 1 天扣分，扣完为止）"))),
    ("h", "校验（交叉核对）"),
    ("p", "校验编码：问题代码，小写英文和连字符（如 balance-mismatch），同一编码可用于多条校验；名称；"
          "条件：应当成立的比较，两边是公式，比较符号 =、<=、>=、<、>（也可写 ≤ ≥），"
          "如 carryover_begin+income_total = expense_total+carryover_end；金额相差不超过 0.01 视为相等，整数和日期精确比较；"
          "严重程度：错误、警告、提示；说明：附在问题后的说明，写“空白按零”则空白字段按 0 计算（否则有空白时不校验）；"
          "主单元格：问题标在哪个字段上（字段键，默认左边第一个字段）；消息：不用默认措辞时的完整消息，"
          "可用 {left}（左边的值）、{right}（右边的值）、{diff}（相差）和条件中的 {字段键} 代入数值。"),
]


def _columns(text: str) -> float:
    """Width in Excel's column units: a CJK character takes a little over two (measured in LibreOffice)."""
    return sum(2.3 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in text)


def _lines(text: str, width: int) -> int:
    """Lines `text` wraps to in a column `width` characters wide (Excel and LibreOffice do not grow
    a row for wrapped text written by xlsxwriter, so perfxl sets the height itself)."""
    return sum(max(1, math.ceil(_columns(part) / max(width - 1, 1))) for part in text.split("\n"))


def _widths(ws, widths: tuple[int, ...], fmt) -> None:
    for col, width in enumerate(widths):
        ws.set_column(col, col, width, fmt)


def _weight(weight: Decimal) -> int | float | str:
    """A 分值 as a number cell, or as text when a number would lose its digits (2.50 reads back as 2.5)."""
    number = int(weight) if weight == weight.to_integral_value() else float(weight)
    back = Decimal(number) if isinstance(number, int) else Decimal(repr(number))
    return number if str(back) == str(weight) else str(weight)


def _print(ws, rows: int, cols: int) -> None:
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.print_area(0, 0, max(rows - 1, 0), cols - 1)
    ws.set_footer(FOOTER)


def _table(wb, ws, headers: tuple[str, ...], rows: list[tuple], widths: tuple[int, ...], fmts: dict) -> None:
    _widths(ws, widths, fmts["text"])
    for col, head in enumerate(headers):
        ws.write_string(0, col, head, fmts["head"])
    ws.set_row(0, LINE_HEIGHT * max(_lines(h, w) for h, w in zip(headers, widths, strict=True)))
    for r, row in enumerate(rows, 1):
        lines = max(_lines(str(v), w) for v, w in zip(row, widths, strict=True) if v not in (None, ""))
        if lines > 1:
            ws.set_row(r, LINE_HEIGHT * lines)
        for c, value in enumerate(row):
            if value is None or value == "":
                ws.write_blank(r, c, None, fmts["cell"])  # the grid stays whole on paper
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                ws.write_number(r, c, value, fmts["cell"])
            else:
                ws.write_string(r, c, str(value), fmts["cell"])
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    _print(ws, len(rows) + 1, len(headers))


def _choices(ws, col: int, values: list[str], title: str, prompt: str) -> None:
    ws.data_validation(1, col, ROOM, col, {
        "validate": "list", "source": values, "input_title": title[:32], "input_message": prompt[:255],
        "error_title": f"{title}不对"[:32], "error_message": f"请从列表中选择：{'、'.join(values)}"[:255]})


def _prompt(ws, col: int, title: str, prompt: str) -> None:
    ws.data_validation(1, col, ROOM, col, {"validate": "any", "input_title": title[:32], "input_message": prompt[:255]})


def write_form(form: Form, path: Path | str) -> None:
    """Write `form` as a form workbook at `path` (.xlsx)."""
    rubric = form.rubric
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"title": f"表单 {rubric.id}", "subject": rubric.name, "author": "perfxl",
                       "created": dt.datetime(rubric.year + 1, 1, 1)})
    fmts = {
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter",
                               "num_format": "@"}),
        "cell": wb.add_format({"border": 1, "text_wrap": True, "valign": "top", "num_format": "@"}),
        "text": wb.add_format({"num_format": "@", "text_wrap": True, "valign": "top"}),
        "number": wb.add_format({"valign": "top"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "h": wb.add_format({"bold": True, "font_size": 12, "valign": "bottom"}),
        "p": wb.add_format({"text_wrap": True, "valign": "top"}),
    }
    sheets = {name: wb.add_worksheet(name) for name in SHEETS}

    ws = sheets["说明"]
    ws.set_column(0, 0, _GUIDE_WIDTH)
    for r, (kind, text) in enumerate(_INSTRUCTIONS):
        ws.write_string(r, 0, text, fmts["title"] if r == 0 else fmts[kind])
        ws.set_row(r, 24 if kind == "h" else LINE_HEIGHT * _lines(text, _GUIDE_WIDTH - 4))
    _print(ws, len(_INSTRUCTIONS), 1)
    ws.repeat_rows(0, 0)

    settings = [("编号", rubric.id), ("名称", rubric.name), ("表式", form.kind), ("年度", rubric.year),
                ("报送截止", deadline_text(rubric.deadline_rule))]
    notice = rubric.notice
    if notice is not None:
        settings += [(k, v) for k, v in (("通知文号", notice.number), ("通知名称", notice.title)) if v]
    settings.append(("等级", grades_text(rubric.grades)))
    if form.level1_totals:
        settings.append(("一级分值", "；".join(f"{name}={points:f}" for name, points in form.level1_totals)))
    ws = sheets["设置"]
    _table(wb, ws, SETTINGS_HEADERS, settings, (14, 70), fmts)
    _prompt(ws, 1, "值", "报送截止写“次年6月20日”或日期；等级写“优秀≥90；良好≥80；中≥60；差”")

    ws = sheets["字段"]
    rows = [(f.section, f.key, f"{f.prefix}{f.label}", TYPE_CN[f.type], "是" if f.required else "否", f.unit,
             "；".join(f.aliases), "；".join(f.choices), f.hint) for f in form.fields.values()]
    _table(wb, ws, FIELD_HEADERS, rows, _FIELD_WIDTHS, fmts)
    _prompt(ws, 1, "字段键", "小写英文字母开头，只含小写字母、数字和下划线，如 income_total")
    _choices(ws, 3, list(TYPE_CN.values()), "类型", "金额以万元计；百分比如 95%；编码按文本比较")
    _choices(ws, 4, ["是", "否"], "必填", "是：单位必须填写；否或空白：可不填")
    _prompt(ws, 6, "别名", "其他写法，用“；”分隔")
    _prompt(ws, 7, "选项", "类型为选项时的可选值，用“；”分隔")

    ws = sheets["指标"]
    rows = [(i.code, i.level1, i.level2, i.name, _weight(i.weight),
             i.criteria, value_text(i.value), RULE_CN[i.rule["kind"]], params_text(i),
             "" if i.manual else BLANK_CN[i.blank]) for i in rubric.indicators]
    _table(wb, ws, INDICATOR_HEADERS, rows, _INDICATOR_WIDTHS, fmts)
    ws.set_column(4, 4, _INDICATOR_WIDTHS[4], fmts["number"])  # typed 分值 stay numbers
    ws.data_validation(1, 4, ROOM, 4, {"validate": "decimal", "criteria": ">", "value": 0, "input_title": "分值",
                                       "input_message": "各指标分值之和应为 100", "error_message": "分值应为大于 0 的数字"})
    _prompt(ws, 6, "指标值", "公式，如 expense_total/(carryover_begin+income_total)；人工评分不填")
    _choices(ws, 7, list(RULE_CN.values()), "评分方式", "人工、分档、线性、比例、天数内、逾期扣分；参数写法见“说明”页")
    _prompt(ws, 8, "参数", "如 ≤5%:5；≤10%:4；其他:0 或 目标=95%；方向=低于；每点扣=0.75")
    _choices(ws, 9, list(BLANK_CN.values()), "空白时", "数据空白时：不适用（剔除并折算）、零分、报错（默认）")

    ws = sheets["校验"]
    rows = [(c.code, c.name, c.condition, SEVERITIES[c.severity], c.advice, c.primary or "", c.message or "")
            for c in form.checks]
    _table(wb, ws, CHECK_HEADERS, rows, _CHECK_WIDTHS, fmts)
    _prompt(ws, 2, "条件", "应当成立的比较，如 income_fiscal <= income_total")
    _choices(ws, 3, list(SEVERITIES.values()), "严重程度", "错误：须更正后重报；警告：请核实；提示：仅供参考")
    wb.close()
