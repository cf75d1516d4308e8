"""The project form's workbook (spec §13): 填报说明, one project sheet `项目1`, hidden `_meta`.

Laid out like the national 项目支出绩效自评表. Every defined name is scoped to `项目1`, so that a
unit adds a project by copying the sheet (Excel's and WPS's 移动或复制 copy sheet-scoped names,
validations and formulas with it). Styles, validations and `_meta` are the department template's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from perfxl.model import GUIDE_SHEET
from perfxl.ooxml.comments import line_count
from perfxl.read.values import format_number
from perfxl.spec.fields import Field
from perfxl.spec.project import ProjectForm
from perfxl.write.printing import set_print
from perfxl.write.template import GUIDE_WIDTH, NUMERALS, PROTECT, _Builder, _grade_formula, _input_message, _validation
from perfxl.write.writer import Writer

PROJECT_SHEET = "项目1"
LAST_COL = 9  # A..J: the indicator table's ten columns
WIDTHS = (11, 13, 24, 9, 13, 9, 13, 8, 9, 30)
#: what a pre-filled copy carries on 项目1 (the roster's figures are the unit's, not a project's)
PREFILL_KEYS = ("unit_name", "unit_code", "department", "eval_year")
#: rows may be inserted and deleted in the indicator table although the sheet is protected
PROJECT_PROTECT = {**PROTECT, "insert_rows": True, "delete_rows": True}
#: (label key, value key) pairs of the header block, two a row
HEADER_ROWS = (("unit_name", "unit_code"), ("department", "implementer"), ("eval_year", "project_lead"), ("phone", None))
FUNDS_ROWS = (("年度资金总额", ("budget_initial", "budget_annual", "spent")),
              ("其中：财政拨款", ("budget_initial_fiscal", "budget_annual_fiscal", "spent_fiscal")))
EXAMPLES = "≥95%、100%、3个、30天、按期完成"


def project_guide_lines(form: ProjectForm, year: int) -> list[tuple[str, str]]:
    """填报说明's lines (text, format) for the project form."""
    due = form.deadline(year)
    split = "、".join(f"{name} {format_number(w)} 分" for name, w in form.split)
    rest = format_number(100 - form.exec_weight)
    caps = "、".join(f"{format_number(below * 100)}%" for below, _ in form.caps)
    capped = "、".join(format_number(cap) for _, cap in form.caps)
    meanings = "；".join(f"“{d.symbol}”为{d.name}，{d.meaning}" for d in form.directions_spec)
    paras = [
        f"增加项目：本工作簿已有一张项目表“{PROJECT_SHEET}”，每个项目填写一张。在工作表标签“{PROJECT_SHEET}”上单击右键，"
        "选择“移动或复制”，勾选“建立副本”（WPS 为“创建副本”）后确定，再把新表改名为“项目2”或项目简称。"
        "请不要新建空白工作表再粘贴：只有复制出的工作表带有模板的单元格名称、下拉列表和自动计算公式。"
        "各项目表的单位名称、单位编码应相同。",
        "黄色单元格为填报项，灰色单元格和文字不可修改；金额单位为万元，填写数字即可；日期按 2021-06-04 的格式填写。"
        "执行率、分值合计和自评得分合计自动计算，供核对。",
        f"{form.exec_label}：分值 {format_number(form.exec_weight)} 分，执行率 = 全年执行数 ÷ 全年预算数，"
        f"自评得分 = {format_number(form.exec_weight)} × 执行率（超过 100% 的按 100% 计）；"
        "执行率低于 90% 的，须在“执行偏差原因”中说明原因。"
        + (f"执行率低于 {caps} 的，核定总分分别不超过 {capped} 分。" if form.caps else ""),
        f"绩效指标合计 {rest} 分，一般为 {split}，可按项目实际适当调整，但各指标分值与{form.exec_label}分值之和须为 100 分；"
        "产出、效益、满意度指标都应至少有一项。",
        "每行填写一个三级指标。一级指标、二级指标从下拉列表选择；同一一级、二级下连续的几行，只在第一行填写，"
        "下面几行留空即视为相同。行数不够时，在表格中间右键“插入”行，不要插在“合计”行的下面；多余的空行可以保留。",
        f"指标性质：{meanings}。",
        f"年度指标值和实际完成值按平常写法填写，可带计量单位或百分号，如 {EXAMPLES}；定量指标须写出数字，"
        "百分数两边都写百分号（如年度指标值 ≥95%、实际完成值 97%），计量单位也可写在“计量单位”列。",
        "分值、自评得分填写数字。未达到年度指标值而扣分的，须在“偏差原因分析及改进措施”中说明原因和改进措施；"
        "定性指标按完成情况自评打分，并写明依据。",
        "填写完毕后请核对“自评总分”“自评等级”与自动合计一致，保存为 .xlsx 文件报送；不要设置密码。"
        "文字部分可在单元格内按 Alt+Enter 换行，每行为一段。",
    ]
    return [(f"{year}年度项目支出绩效自评填报说明", "title"),
            (f"表单：{form.name}（{form.id}），每个项目满分 100 分。", "guide"),
            (f"报送截止日期：{due.year}年{due.month}月{due.day}日。", "guide"),
            *((f"{NUMERALS[n]}、{text}", "guide") for n, text in enumerate(paras))]


class _ProjectBuilder(_Builder):
    """The department template's builder, its names scoped to the project sheet."""

    def __init__(self, path: Path, form: ProjectForm, year: int, prefill: dict[str, object] | None) -> None:
        keep = {k: v for k, v in (prefill or {}).items() if k in PREFILL_KEYS}
        super().__init__(path, form, year, keep)  # type: ignore[arg-type]
        self.form = form
        self.named: dict[str, tuple[int, int]] = {}
        self.wb.set_properties({"title": f"{year}年度项目支出绩效自评表", "author": "perfxl",
                                "created": dt.datetime(year + 1, 1, 1), "comments": f"form {form.id}"})
        add = self.wb.add_format
        cell = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True, "border": 1,
                "locked": False, "bg_color": "#FFF2CC"}
        self.f.update({
            "in_center": add({**cell, "align": "center"}),
            "in_text": add({**cell, "num_format": "@", "align": "center"}),
            "in_number": add({**cell, "align": "center"}),
            "in_long": add({**cell, "valign": "top"}),
            "fixed": add({**cell, "align": "center", "locked": True, "bg_color": "#EDEDED"}),
            "rate": add({"font_name": "宋体", "font_size": 11, "valign": "vcenter", "border": 1, "align": "center",
                         "num_format": "0.00%", "bg_color": "#EDEDED"}),
            "sum": add({"font_name": "宋体", "font_size": 11, "valign": "vcenter", "border": 1, "align": "center",
                        "bold": True, "bg_color": "#EDEDED"}),
        })

    def name(self, name: str, sheet: str, row: int, col: int) -> None:
        """A name scoped to its sheet: copied with the sheet (spec §13)."""
        quoted = "'" + sheet.replace("'", "''") + "'"
        self.named[name] = (row, col)
        self.wb.define_name(f"{quoted}!{name}", f"={quoted}!{xl_rowcol_to_cell(row, col, True, True)}")

    def guide(self) -> None:
        ws = self.wb.add_worksheet(GUIDE_SHEET)
        ws.set_column(0, 0, GUIDE_WIDTH)
        ws.set_column(1, 1, 1)  # as the department template's: LibreOffice fits two columns by width
        lines = project_guide_lines(self.form, self.year)
        for r, (text, fmt) in enumerate(lines):
            ws.write_string(r, 0, text, self.f[fmt])
            ws.set_row(r, 30 if fmt == "title" else max(48, 16 * line_count(text, GUIDE_WIDTH - 8) + 12))
        set_print(ws, (len(lines) - 1, 1), landscape=False)
        ws.protect("", PROTECT)

    # -- 项目1 -----------------------------------------------------------------------------

    def field_input(self, ws, row: int, col: int, last: int, f: Field) -> None:
        """A field's input cell (merged over col..last), named, validated, pre-filled and locked when given."""
        value = self.prefill.get(f.key)
        locked = value is not None
        fmt = self.input_format(f.type, locked)
        if last > col:
            ws.merge_range(row, col, row, last, "", fmt)
        if value is None:
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, int | float):
            ws.write_number(row, col, float(value), fmt)
        else:
            ws.write_string(row, col, str(value), fmt)
        if not locked:
            ws.data_validation(row, col, row, col, _validation(f))
        self.name(f.key, PROJECT_SHEET, row, col)

    def label(self, ws, row: int, col: int, last: int, text: str, required: bool = False) -> None:
        fmt = self.f["label_req" if required else "label"]
        if last > col:
            ws.merge_range(row, col, row, last, text, fmt)
        else:
            ws.write_string(row, col, text, fmt)

    def project(self) -> None:
        ws = self.wb.add_worksheet(PROJECT_SHEET)
        fields, f = self.form.fields, self.f
        for c, width in enumerate(WIDTHS):
            ws.set_column(c, c, width)
        ws.merge_range(0, 0, 0, LAST_COL, f"{self.year}年度项目支出绩效自评表", f["title"])
        ws.set_row(0, 30)
        ws.merge_range(1, 0, 1, LAST_COL, "金额单位：万元　　黄色单元格为填报项，红色文字为必填项；"
                       "每个项目一张表，增加项目请复制本工作表（见“填报说明”）", f["subtitle"])
        self.label(ws, 2, 0, 1, fields["project_name"].label, True)
        self.field_input(ws, 2, 2, LAST_COL, fields["project_name"])
        row = 3
        for left, right in HEADER_ROWS:
            self.label(ws, row, 0, 1, fields[left].label, fields[left].required)
            self.field_input(ws, row, 2, 4, fields[left])
            if right is None:
                ws.merge_range(row, 5, row, LAST_COL, "", f["hint"])
            else:
                self.label(ws, row, 5, 6, fields[right].label, fields[right].required)
                self.field_input(ws, row, 7, LAST_COL, fields[right])
            row += 1
        row = self.funds(ws, row)
        for r in range(2, row - 1):  # the header and funds rows; the 预算执行率 row is taller
            ws.set_row(r, 22)
        for key in ("target_text", "outcome_text"):
            self.long_row(ws, row, fields[key])
            row += 1
        first, last = self.indicators(ws, row)
        row = self.totals(ws, last + 1, first, last)
        for key in ("problems_text", "measures_text"):
            self.long_row(ws, row, fields[key])
            row += 1
        self.label(ws, row, 0, 2, fields["filing_date"].label, True)
        self.field_input(ws, row, 3, 4, fields["filing_date"])
        ws.merge_range(row, 5, row, LAST_COL, "填报单位（盖章）：", f["hint"])
        set_print(ws, (row, LAST_COL), landscape=True, titles=(0, 2))
        ws.protect("", PROJECT_PROTECT)

    def funds(self, ws, row: int) -> int:
        """The funds block, then the 预算执行率 row; returns the next row."""
        fields, f = self.form.fields, self.f
        ws.merge_range(row, 0, row, 2, "项目资金（万元）", f["header"])
        for c, key in enumerate(("budget_initial", "budget_annual", "spent"), 3):
            ws.write_string(row, c, fields[key].label, f["header"])
        ws.write_string(row, 6, "执行率", f["header"])
        ws.merge_range(row, 7, row, LAST_COL, "自动计算（供核对）", f["header"])
        exec_at = row + 1 + len(FUNDS_ROWS)
        weight_cell = xl_rowcol_to_cell(exec_at, 4)
        for i, (text, keys) in enumerate(FUNDS_ROWS):
            r = row + 1 + i
            self.label(ws, r, 0, 2, text, fields[keys[0]].required)
            for c, key in enumerate(keys, 3):
                self.field_input(ws, r, c, c, fields[key])
            budget, spent = xl_rowcol_to_cell(r, 4), xl_rowcol_to_cell(r, 5)
            rate = f"{spent}/{budget}"
            ws.write_formula(r, 6, f'=IF(COUNT({budget},{spent})<2,"",IFERROR({rate},""))', f["rate"], "")
            if i == 0:
                ws.merge_range(r, 7, r, LAST_COL, "", f["check"])
                ws.write_formula(r, 7, f'=IF(COUNT({budget},{spent},{weight_cell})<3,"",IFERROR("{self.form.exec_label}得分应为："'
                                 f'&TEXT({weight_cell}*MIN({rate},1),"0.00"),""))', f["check"], "")
            else:
                ws.merge_range(r, 7, r, LAST_COL, "执行率 = 全年执行数 ÷ 全年预算数", f["hint"])
        r = exec_at
        ws.merge_range(r, 0, r, 2, self.form.exec_label, f["label"])
        ws.write_string(r, 3, "分值", f["center"])
        ws.write_number(r, 4, float(self.form.exec_weight), f["fixed"])
        self.name("exec_weight", PROJECT_SHEET, r, 4)
        ws.write_string(r, 5, "自评得分", f["center"])
        ws.write_blank(r, 6, None, f["in_number"])
        ws.data_validation(r, 6, r, 6, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": float(self.form.exec_weight),
            "error_title": "填写有误", "error_message": f"得分应在 0～{format_number(self.form.exec_weight)} 之间",
            **_input_message(f"{self.form.exec_label}自评得分", self.form.fields["exec_score"].hint)})
        self.name("exec_score", PROJECT_SHEET, r, 6)
        ws.write_string(r, 7, "执行偏差原因", f["center"])
        ws.merge_range(r, 8, r, LAST_COL, "", f["in_long"])
        ws.data_validation(r, 8, r, 8, {"validate": "any", **_input_message("执行偏差原因", self.form.fields["exec_reason"].hint)})
        self.name("exec_reason", PROJECT_SHEET, r, 8)
        ws.set_row(r, 45)
        return r + 1

    def long_row(self, ws, row: int, f: Field) -> None:
        self.label(ws, row, 0, 2, f.label, f.required)
        self.field_input(ws, row, 3, LAST_COL, f)
        ws.set_row(row, 80)

    def indicators(self, ws, row: int) -> tuple[int, int]:
        """The header row (named ind_header) and the indicator rows; returns (first, last) row."""
        form, f = self.form, self.f
        for c, key in enumerate(k for k, _ in form.columns):
            ws.write_string(row, c, form.headers(key)[0], f["header"])
        self.name("ind_header", PROJECT_SHEET, row, 0)
        ws.set_row(row, 30)
        first, last = row + 1, row + form.max_rows
        formats = ("in_center", "in_center", "in_long", "in_center", "in_text", "in_center", "in_text",
                   "in_number", "in_number", "in_long")
        for r in range(first, last + 1):
            for c, fmt in enumerate(formats):
                ws.write_blank(r, c, None, f[fmt])
            ws.set_row(r, 30)
        lists = ((0, form.level1, "一级指标", "产出指标、效益指标或满意度指标；与上一行相同可留空"),
                 (1, form.level2, "二级指标", "从列表选择；与上一行相同可留空"),
                 (3, form.directions, "指标性质", "≥ 正向，≤ 反向（如成本），= 等于，定性 由单位自评"))
        for c, choices, title, hint in lists:
            ws.data_validation(first, c, last, c, {"validate": "list", "source": list(choices), "error_title": "填写有误",
                                                   "error_message": "请从下拉列表中选择", **_input_message(title, hint)})
        for c, title in ((4, "年度指标值"), (6, "实际完成值")):
            ws.data_validation(first, c, last, c, {"validate": "any", **_input_message(
                title, f"按平常写法填写，可带单位或百分号，如 {EXAMPLES}；定量指标须有数字")})
        weight, score = xl_rowcol_to_cell(first, 7, row_abs=False), xl_rowcol_to_cell(first, 8, row_abs=False)
        ws.data_validation(first, 7, last, 7, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100, "error_title": "填写有误",
            "error_message": "分值应在 0～100 之间", **_input_message("分值", "本指标的分值；各指标分值与预算执行率分值之和为 100")})
        ws.data_validation(first, 8, last, 8, {
            "validate": "custom", "value": f"=AND(ISNUMBER({score}),{score}>=0,{score}<=N({weight}))",
            "error_title": "填写有误", "error_message": "自评得分应在 0 与本行分值之间",
            **_input_message("自评得分", "不超过本行分值；扣分的须写明偏差原因")})
        ws.data_validation(first, 9, last, 9, {"validate": "any", **_input_message(
            "偏差原因分析及改进措施", "未达到年度指标值或扣分的，写明原因和改进措施")})
        return first, last

    def totals(self, ws, row: int, first: int, last: int) -> int:
        """合计 (live Σ分值 and Σ自评得分), then 自评总分 and 自评等级 beside their live checks; returns the next row."""
        f = self.f
        weights = f"{xl_rowcol_to_cell(first, 7)}:{xl_rowcol_to_cell(last, 7)}"
        scores = f"{xl_rowcol_to_cell(first, 8)}:{xl_rowcol_to_cell(last, 8)}"
        exec_weight = self.cell_of("exec_weight")
        exec_score = self.cell_of("exec_score")
        ws.merge_range(row, 0, row, 6, "绩效指标合计（自动计算）", f["header"])
        ws.write_formula(row, 7, f"=SUM({weights})", f["sum"], "")
        ws.write_formula(row, 8, f"=SUM({scores})", f["sum"], "")
        total = f"({exec_weight}+SUM({weights}))"
        ws.write_formula(row, 9, f'="含{self.form.exec_label}，分值合计："&{total}&IF({total}=100,"  ✓","  ✗ 应为 100")',
                         f["check"], "")
        self_sum = f"(N({exec_score})+SUM({scores}))"
        grade_at, total_at = row + 2, row + 1
        ws.merge_range(total_at, 0, total_at, 7, "自评总分", f["header"])
        ws.write_blank(total_at, 8, None, f["in_number"])
        ws.data_validation(total_at, 8, total_at, 8, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100, "error_title": "填写有误",
            "error_message": "自评总分应在 0～100 之间",
            **_input_message("自评总分（必填）", f"{self.form.exec_label}与各指标自评得分之和；右侧为自动合计，供核对")})
        ws.write_formula(total_at, 9, f'="自动合计："&TEXT({self_sum},"0.00")', f["check"], "")
        self.name("score_total", PROJECT_SHEET, total_at, 8)
        ws.merge_range(grade_at, 0, grade_at, 7, "自评等级", f["header"])
        ws.write_blank(grade_at, 8, None, f["in_center"])
        ws.data_validation(grade_at, 8, grade_at, 8, {
            "validate": "list", "source": list(self.form.grade_labels), **_input_message("自评等级（必填）", "；".join(
                f"{g.label}：{format_number(g.min)} 分及以上" for g in self.form.grades[:-1]) + f"；{self.form.grades[-1].label}：其余")})
        ws.write_formula(grade_at, 9, f'="按自动合计应为："&{_grade_formula(self_sum, self.form)}', f["check"], "")  # type: ignore[arg-type]
        self.name("grade_self", PROJECT_SHEET, grade_at, 8)
        return grade_at + 1

    def cell_of(self, name: str) -> str:
        """The A1 cell a name of 项目1 points at, relative: a copied sheet's formulas point at its own."""
        return xl_rowcol_to_cell(*self.named[name])

    def build(self) -> None:
        self.guide()
        self.project()
        self.meta()
        self.wb.get_worksheet_by_name(PROJECT_SHEET).activate()
        self.wb.close()


def build_project_template(path: Path, form: ProjectForm, year: int | None = None,
                           prefill: dict[str, object] | None = None) -> None:
    """Write the (optionally pre-filled) project workbook to `path` atomically; pre-filled cells are locked."""
    path = Path(path)
    with Writer(path.parent, managed=False).path(path.name) as tmp:
        write_project_template(tmp, form, year, prefill)


def write_project_template(path: Path, form: ProjectForm, year: int | None = None,
                           prefill: dict[str, object] | None = None) -> None:
    """Write the project workbook to `path` directly (the caller makes it atomic)."""
    _ProjectBuilder(path, form, year if year is not None else form.year, prefill).build()
