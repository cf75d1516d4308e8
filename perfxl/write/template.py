"""Build the workbook handed to units (spec §2, §4) from the field list and the rubric.

Every input cell gets a workbook-scoped defined name, data validation with an input message,
and is the only unlocked cell of its sheet. Live formulas show the unit its totals and rates;
perfxl never reads them back.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl import FORMAT_VERSION
from perfxl.model import BASIC_SHEET, GUIDE_SHEET, META_SHEET, SCORE_SHEET
from perfxl.ooxml.comments import line_count
from perfxl.read.values import format_number
from perfxl.spec.expr import parse
from perfxl.spec.expr_excel import to_excel
from perfxl.spec.fields import Field
from perfxl.spec.rubric import Indicator, Rubric
from perfxl.write.printing import set_print
from perfxl.write.writer import Writer

SCORE_HEADERS = ("指标编码", "一级指标", "二级指标", "三级指标", "分值", "评分标准", "指标值",
                 "自评得分", "自评说明（扣分原因/佐证材料）")
#: 填报说明's one column (characters): a portrait A4 page wide in Excel
GUIDE_WIDTH = 88
PROTECT = {"format_columns": True, "format_rows": True, "select_locked_cells": True,
           "select_unlocked_cells": True}
NUMBER_FORMATS = {"money": "#,##0.00", "int": "0", "percent": "0.00%", "date": "yyyy-mm-dd",
                  "year": "0", "code": "@", "text": "@"}


def _input_message(title: str, text: str) -> dict:
    # Excel limits: title 32 characters, message 255
    return {"input_title": title[:32], "input_message": text[:255]}


def _validation(f: Field) -> dict:
    hint = f.hint or ""
    if f.type == "money":
        rule = {"validate": "decimal", "criteria": ">=", "value": 0,
                "error_message": "请填写不小于 0 的数字，单位为万元"}
        hint = (hint + "。" if hint else "") + "单位：万元，填数字，可保留两位小数"
    elif f.type == "int":
        rule = {"validate": "integer", "criteria": ">=", "value": 0, "error_message": "请填写不小于 0 的整数"}
    elif f.type == "percent":
        rule = {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1,
                "error_message": "请填写 0%～100% 之间的百分数"}
    elif f.type == "date":
        rule = {"validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1),
                "maximum": dt.date(2099, 12, 31), "error_message": "请填写日期，如 2021-06-04"}
    elif f.type == "year":
        rule = {"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2099,
                "error_message": "请填写四位年份"}
    elif f.type == "choice":
        rule = {"validate": "list", "source": list(f.choices), "error_message": "请从下拉列表中选择"}
    else:
        rule = {"validate": "any"}
    if "error_message" in rule:
        rule["error_title"] = "填写有误"
    required = "（必填）" if f.required else ""
    rule.update(_input_message(f.label + required, hint or f"请填写{f.label}"))
    return rule


def _grade_formula(total: str, rubric: Rubric) -> str:
    grades = sorted(rubric.grades, key=lambda g: g.min, reverse=True)
    expr = f'"{grades[-1].label}"'
    for g in reversed(grades[:-1]):
        expr = f'IF({total}>={format_number(g.min)},"{g.label}",{expr})'
    return expr


def _value_formula(ind: Indicator, rubric: Rubric, year: int) -> tuple[str, str] | None:
    """An Excel formula (over the defined names) showing the indicator's value, and its format."""
    if ind.value is None:
        return None
    v, kind = ind.value, ind.value["kind"]
    inputs = ind.inputs
    ready = f"COUNT({','.join(inputs)})<{len(inputs)}"
    if kind == "ratio":
        num, den = "+".join(v["numerator"]), "+".join(v["denominator"])
        return f'=IF({ready},"",IFERROR(({num})/({den}),""))', "0.00%"
    if kind == "deviation":
        a, b = v["actual"], v["base"]
        return f'=IF({ready},"",IFERROR(ABS({a}-{b})/{b},""))', "0.00%"
    if kind == "change":
        c, p = v["current"], v["previous"]
        return f'=IF({ready},"",IFERROR(({c}-{p})/{p},""))', "0.00%"
    if kind == "field":
        return f'=IF({ready},"",{v["field"]})', "0.00%"
    if kind == "days_between":
        return f'=IF({ready},"",{v["end"]}-{v["start"]})', '0"天"'
    deadline = rubric.deadline(year)
    if kind == "expr":  # a §12 expression: the same formula, live over the defined names
        return to_excel(parse(v["expr"]), str, deadline), "0.00%" if ind.is_rate else '0"天"'

    return (f'=IF({ready},"",MAX(0,{v["date"]}-DATE({deadline.year},{deadline.month},{deadline.day})))',
            '"逾期"0"天"')


NUMERALS = "一二三四五六七八九十"
#: the built-in's fields its hand-written 填报说明 lines name; a form without them gets lines made from its own
_BALANCE = ("carryover_begin", "income_total", "expense_total", "carryover_end")
_BUILTIN_NA = ("sangong_budget", "procurement_budget", "fixed_assets_total", "satisfaction")


def _late_rule(rubric: Rubric) -> Indicator | None:
    """The indicator that deducts per day late from 填报日期, if the form has one."""
    return next((i for i in rubric.indicators if i.rule["kind"] == "days_late" and "filing_date" in i.inputs), None)


def guide_lines(rubric: Rubric, year: int) -> list[tuple[str, str]]:
    """填报说明's lines (text, format): what the form asks, only what it has (the built-in's as they were)."""
    deadline, fields = rubric.deadline(year), rubric.fields
    late = _late_rule(rubric)
    head = f"报送截止日期：{deadline.year}年{deadline.month}月{deadline.day}日。"
    if late is not None:
        head += f"逾期报送的，“{late.name}”指标每逾期 1 天扣 {format_number(late.rule['per_day'])} 分。"
    paras = ["请在“基础数据表”中填写黄色单元格，灰色单元格和文字不可修改。金额单位为万元，"
             "填写数字即可；日期按 2021-06-04 的格式填写；百分数按 96.50% 的格式填写。"]
    if all(k in fields for k in _BALANCE):
        cb, it, et, ce = (fields[k].label for k in _BALANCE)  # the form's own labels (the built-in's as before)
        paras.append(f"{cb} + {it} 应等于 {et} + {ce}；表格右侧“自动校验”列会即时提示是否平衡。")
    paras.append("请在“评分表”中逐项填写自评得分和自评说明：扣分的须说明扣分原因，"
                 "人工评分的指标须写明佐证材料。“指标值”列按基础数据自动计算，供参考。")
    optional = [i for i in rubric.indicators if i.blank == "not-applicable"]
    if optional:
        what = ("“三公”经费、政府采购、固定资产、满意度" if all(k in fields for k in _BUILTIN_NA)
                else "、".join(f"“{i.name}”" for i in optional[:4]))
        paras.append(f"{what}等数据确实没有的，请留空，不要填 0；全部留空的指标按不适用处理，不计入总分。")
    paras.append("填写完毕后请检查“自评总分”“自评等级”与自动合计一致，保存为 .xlsx 文件报送，"
                 "不要修改工作表名称、不要删除行或列、不要设置密码。")
    texts = [f for f in fields.values() if f.type == "longtext"]
    if texts:
        named = ("机构设置及职能、存在问题" if {"text_functions", "text_problems"} <= fields.keys()
                 else texts[0].label)
        paras.append(f"文字部分（{named}等）可在单元格内按 Alt+Enter 换行，每行为一段。")
    return [(f"{year}年度部门整体支出绩效自评填报说明", "title"),
            (f"指标体系：{rubric.name}（{rubric.id}），满分 100 分。", "guide"), (head, "guide"),
            *((f"{NUMERALS[n]}、{text}", "guide") for n, text in enumerate(paras))]


class _Builder:
    def __init__(self, path: Path, rubric: Rubric, year: int, prefill: dict[str, object] | None) -> None:
        self.rubric, self.year, self.prefill = rubric, year, prefill or {}
        self.wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
        created = dt.datetime(year + 1, 1, 1)  # pinned so that the same inputs give the same bytes
        self.wb.set_properties({"title": f"{year}年度部门整体支出绩效自评表", "author": "perfxl",
                                "created": created, "comments": f"rubric {rubric.id}"})
        add = self.wb.add_format
        base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True, "border": 1}
        self.f = {
            "title": add({"font_name": "黑体", "font_size": 16, "bold": True, "align": "center",
                          "valign": "vcenter"}),
            "subtitle": add({"font_name": "宋体", "font_size": 11, "align": "center", "valign": "vcenter"}),
            "header": add({**base, "bold": True, "align": "center", "bg_color": "#D9E1F2"}),
            "section": add({**base, "bold": True, "bg_color": "#F2F2F2"}),
            "label": add(base),
            "label_req": add({**base, "font_color": "#9C0006"}),
            "hint": add({**base, "font_color": "#595959", "font_size": 10}),
            "check": add({**base, "font_color": "#375623", "font_size": 10}),
            "center": add({**base, "align": "center"}),
            "text": add({**base, "valign": "top"}),
            "guide": add({"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"}),
        }
        self.inputs: dict[str, object] = {}

    def input_format(self, kind: str, locked: bool):
        fmt = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True, "border": 1,
               "locked": locked, "bg_color": "#EDEDED" if locked else "#FFF2CC"}
        if kind in NUMBER_FORMATS:
            fmt["num_format"] = NUMBER_FORMATS[kind]
        if kind == "longtext":
            fmt["valign"] = "top"
        key = (kind, locked)
        if key not in self.inputs:
            self.inputs[key] = self.wb.add_format(fmt)
        return self.inputs[key]

    def name(self, name: str, sheet: str, row: int, col: int) -> None:
        self.wb.define_name(name, f"='{sheet}'!{xl_rowcol_to_cell(row, col, True, True)}")

    # -- sheets --------------------------------------------------------------------------

    def guide(self) -> None:
        ws = self.wb.add_worksheet(GUIDE_SHEET)
        ws.set_column(0, 0, GUIDE_WIDTH)
        # a narrow blank column printed with it: LibreOffice never shrinks a lone column wider
        # than the page (as it is where Calibri's stand-in is wider), but fits two by width
        ws.set_column(1, 1, 1)
        lines = guide_lines(self.rubric, self.year)
        for r, (text, fmt) in enumerate(lines):
            ws.write_string(r, 0, text, self.f[fmt])
            # a line's rows for its wrapped text (a CJK character is a little over two widths)
            ws.set_row(r, 30 if fmt == "title" else max(48, 16 * line_count(text, GUIDE_WIDTH - 8) + 12))
        set_print(ws, (len(lines) - 1, 1), landscape=False)
        ws.protect("", PROTECT)

    def basic(self) -> None:
        ws = self.wb.add_worksheet(BASIC_SHEET)
        ws.set_column(0, 0, 34)
        ws.set_column(1, 1, 42)
        ws.set_column(2, 2, 34)
        ws.set_column(3, 3, 30)
        ws.merge_range(0, 0, 0, 3, f"{self.year}年度部门整体支出绩效自评基础数据表", self.f["title"])
        ws.set_row(0, 30)
        ws.merge_range(1, 0, 1, 3, "金额单位：万元　　黄色单元格为填报项，红色文字为必填项", self.f["subtitle"])
        for c, text in enumerate(("项目", "填报内容", "填报说明", "自动校验")):
            ws.write_string(2, c, text, self.f["header"])
        ws.freeze_panes(3, 1)
        row = 3
        for section in self.rubric.sections:
            ws.merge_range(row, 0, row, 3, section.title, self.f["section"])
            row += 1
            for f in section.fields:
                self.field_row(ws, row, f)
                row += 1
        set_print(ws, (row - 1, 3), landscape=False, titles=(2, 2))
        ws.protect("", PROTECT)

    def field_row(self, ws, row: int, f: Field) -> None:
        ws.write_string(row, 0, f.display_label, self.f["label_req" if f.required else "label"])
        locked = f.key in self.prefill
        fmt = self.input_format(f.type, locked)
        value = self.prefill.get(f.key)
        if f.type == "longtext":
            ws.merge_range(row, 1, row, 3, "", fmt)
            ws.set_row(row, 96)
        if value is None:
            ws.write_blank(row, 1, None, fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, 1, dt.datetime.combine(value, dt.time()), fmt)
        elif isinstance(value, int | float) or hasattr(value, "as_tuple"):
            ws.write_number(row, 1, float(value), fmt)  # type: ignore[arg-type]
        else:
            ws.write_string(row, 1, str(value), fmt)
        if not locked:
            ws.data_validation(row, 1, row, 1, _validation(f))
        self.name(f.key, BASIC_SHEET, row, 1)
        if f.type != "longtext":
            ws.write_string(row, 2, f.hint, self.f["hint"])
            check = BASIC_CHECKS.get(f.key)
            if check and _names_in(check) <= self.rubric.fields.keys():  # a form without them: no #NAME?
                ws.write_formula(row, 3, check, self.f["check"], "")
            else:
                ws.write_blank(row, 3, None, self.f["check"])

    def score(self) -> None:
        ws = self.wb.add_worksheet(SCORE_SHEET)
        for c, width in enumerate((9, 12, 14, 24, 7, 44, 12, 10, 40)):
            ws.set_column(c, c, width)
        last = len(SCORE_HEADERS) - 1
        ws.merge_range(0, 0, 0, last, f"{self.year}年度部门整体支出绩效自评评分表", self.f["title"])
        ws.set_row(0, 30)
        ws.merge_range(1, 0, 1, last, f"{self.rubric.name}　满分 100 分", self.f["subtitle"])
        for c, text in enumerate(SCORE_HEADERS):
            ws.write_string(2, c, text, self.f["header"])
        ws.freeze_panes(3, 0)
        first = 3
        inds = self.rubric.indicators
        for i, ind in enumerate(inds):
            self.indicator_row(ws, first + i, ind)
        self.merge_levels(ws, first, [i.level1 for i in inds], 1)
        self.merge_levels(ws, first, [f"{i.level1}/{i.level2}" for i in inds], 2, [i.level2 for i in inds])
        end = first + len(inds)
        scores = f"{xl_rowcol_to_cell(first, 7)}:{xl_rowcol_to_cell(end - 1, 7)}"
        total_at, grade_at = end, end + 1
        input_fmt = self.input_format("score", False)
        ws.merge_range(total_at, 0, total_at, 6, "自评总分", self.f["header"])
        ws.write_blank(total_at, 7, None, input_fmt)
        ws.data_validation(total_at, 7, total_at, 7, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
            "error_title": "填写有误", "error_message": "自评总分应在 0～100 之间",
            **_input_message("自评总分（必填）", "填写各指标自评得分之和；右侧为自动合计，供核对")})
        ws.write_formula(total_at, 8, f'="自动合计："&TEXT(SUM({scores}),"0.00")', self.f["check"], "")
        self.name("score_total", SCORE_SHEET, total_at, 7)
        ws.merge_range(grade_at, 0, grade_at, 6, "自评等级", self.f["header"])
        ws.write_blank(grade_at, 7, None, input_fmt)
        ws.data_validation(grade_at, 7, grade_at, 7, {
            "validate": "list", "source": list(self.rubric.grade_labels),
            **_input_message("自评等级（必填）", "；".join(
                f"{g.label}：{format_number(g.min)} 分及以上" for g in self.rubric.grades[:-1])
                + f"；{self.rubric.grades[-1].label}：其余")})
        ws.write_formula(grade_at, 8, f'="按自动合计应为："&{_grade_formula(f"SUM({scores})", self.rubric)}',
                         self.f["check"], "")
        self.name("grade_self", SCORE_SHEET, grade_at, 7)
        # 评分标准 is long text in nine columns: landscape
        set_print(ws, (grade_at, last), landscape=True, titles=(2, 2))
        ws.protect("", PROTECT)

    def indicator_row(self, ws, row: int, ind: Indicator) -> None:
        f = self.f
        ws.write_string(row, 0, ind.code, f["center"])
        ws.write_string(row, 1, ind.level1, f["center"])
        ws.write_string(row, 2, ind.level2, f["center"])
        ws.write_string(row, 3, ind.name, f["label"])
        ws.write_number(row, 4, float(ind.weight), f["center"])
        ws.write_string(row, 5, ind.criteria, f["hint"])
        formula = _value_formula(ind, self.rubric, self.year)
        if formula:
            ws.write_formula(row, 6, formula[0], self.wb.add_format({
                "font_size": 10, "border": 1, "align": "center", "valign": "vcenter",
                "num_format": formula[1]}), "")
        else:
            ws.write_string(row, 6, "人工评分", f["center"])
        ws.write_blank(row, 7, None, self.input_format("score", False))
        ws.write_blank(row, 8, None, self.input_format("longtext", False))
        ws.data_validation(row, 7, row, 7, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": float(ind.weight),
            "error_title": "填写有误", "error_message": f"得分应在 0～{format_number(ind.weight)} 之间",
            **_input_message(f"{ind.code} {ind.name}"[:32], f"满分 {format_number(ind.weight)} 分。{ind.criteria}")})
        ws.data_validation(row, 8, row, 8, {"validate": "any", **_input_message(
            "自评说明", "扣分的写明扣分原因；满分的人工评分指标写明佐证材料")})
        ws.set_row(row, 45)
        self.name(f"score_{ind.code}", SCORE_SHEET, row, 7)
        self.name(f"note_{ind.code}", SCORE_SHEET, row, 8)

    def merge_levels(self, ws, first: int, keys: list[str], col: int, shown: list[str] | None = None) -> None:
        shown = shown or keys
        start = 0
        for i in range(1, len(keys) + 1):
            if i == len(keys) or keys[i] != keys[start]:
                if i - start > 1:
                    ws.merge_range(first + start, col, first + i - 1, col, shown[start], self.f["center"])
                start = i

    def meta(self) -> None:
        ws = self.wb.add_worksheet(META_SHEET)
        rows = [("format_version", FORMAT_VERSION), ("rubric_id", self.rubric.id),
                ("rubric_hash", self.rubric.hash), ("year", str(self.year)),
                ("unit_code", str(self.prefill.get("unit_code", "")))]
        for r, (k, v) in enumerate(rows):
            ws.write_string(r, 0, k)
            if v:
                ws.write_string(r, 1, v)
        ws.hide()
        ws.protect("", PROTECT)

    def build(self) -> None:
        self.guide()
        self.basic()
        self.score()
        self.meta()
        self.wb.get_worksheet_by_name(BASIC_SHEET).activate()
        self.wb.close()


BASIC_CHECKS = {
    "staff_quota": ('=IF(COUNT(staff_quota_admin,staff_quota_inst,staff_quota_service)=0,"",'
                    'IF(SUM(staff_quota_admin,staff_quota_inst,staff_quota_service)=staff_quota,'
                    '"✓ 分项之和与编制总数相符","✗ 分项之和为"&SUM(staff_quota_admin,staff_quota_inst,'
                    'staff_quota_service)&"，与编制总数不符"))'),
    "expense_total": ('=IF(COUNT(expense_basic,expense_project)=0,"",IF(ABS(SUM(expense_basic,'
                      'expense_project)-expense_total)<=0.01,"✓ 基本支出+项目支出与合计相符",'
                      '"✗ 基本支出+项目支出="&TEXT(SUM(expense_basic,expense_project),"0.00")))'),
    "carryover_end": ('=IF(COUNT(carryover_begin,income_total,expense_total,carryover_end)<4,"",'
                      'IF(ABS(carryover_begin+income_total-expense_total-carryover_end)<=0.01,'
                      '"✓ 收支平衡","✗ 收支相差"&TEXT(carryover_begin+income_total-expense_total'
                      '-carryover_end,"0.00")))'),
    "income_fiscal": ('=IF(COUNT(income_fiscal,income_total)<2,"",IF(income_fiscal<=income_total+0.01,'
                      '"","✗ 财政拨款收入不应大于本年收入合计"))'),
    "satisfaction": '=IF(COUNT(satisfaction)=0,"",IF(satisfaction>1,"✗ 请按百分数填写，如 96.50%",""))',
}


def _names_in(formula: str) -> set[str]:
    """The defined names (field keys: lower case) a BASIC_CHECKS formula uses."""
    return set(re.findall(r"\b[a-z][a-z0-9_]*\b", re.sub(r'"[^"]*"', "", formula)))


def build_template(path: Path, rubric: Rubric, year: int | None = None,
                   prefill: dict[str, object] | None = None) -> None:
    """Write the (optionally pre-filled) workbook to `path`; pre-filled cells are locked."""
    path = Path(path)
    with Writer(path.parent, managed=False).path(path.name) as tmp:
        write_template(tmp, rubric, year, prefill)


def write_template(path: Path, rubric: Rubric, year: int | None = None,
                   prefill: dict[str, object] | None = None) -> None:
    """Write the workbook to `path` directly (the caller makes it atomic)."""
    _Builder(path, rubric, year if year is not None else rubric.year, prefill).build()
