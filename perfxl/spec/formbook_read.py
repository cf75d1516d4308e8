"""Read a form workbook into a Form (spec §12) and list every problem at once, each pinned to a cell.

The pyxform model: one pass over 设置, 字段, 指标 and 校验 collects every problem, each one line
`指标!H7：评分方式“线形”不认识，可用：…` saying what to write instead; the Form is built only when
none is an error. Expressions are parsed by perfxl.spec.expr, never executed.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

from perfxl.spec.expr import Expr, ExprError, check, parse
from perfxl.spec.expr_excel import name_problem
from perfxl.spec.fields import Field, Section
from perfxl.spec.form import REQUIRED_FIELDS, SEVERITIES, Check, Form, Problem, check_problems
from perfxl.spec.formbook_grid import (
    Table,
    blank_continues,
    find_sheets,
    label_key,
    number_of,
    open_sheets,
    read_table,
    text_of,
)
from perfxl.spec.formbook_params import (
    CN_BLANK,
    CN_RULE,
    CN_TYPE,
    RULE_CN,
    RULES_FOR,
    TYPE_CN,
    fold,
    parse_params,
    value_of,
)
from perfxl.spec.formbook_settings import check_level1, read_settings
from perfxl.spec.rubric import Indicator, Notice, Rubric

_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,19}\Z")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_YES = {"是", "y", "yes", "true", "1", "√", "✓", "必填"}
_NO = {"否", "n", "no", "false", "0", "×", "选填", ""}
_SPLIT = re.compile(r"[；;\n]")


def _choice(word: str, options: dict[str, str], what: str) -> tuple[str | None, str | None]:
    """(value, problem) of a fixed word: its Chinese or English name, else a sentence listing them."""
    t = fold(word)
    if t in options:
        return options[t], None
    if t in options.values():
        return t, None
    near = difflib.get_close_matches(t, list(options), 1, 0.3)
    hint = f"，是否应为“{near[0]}”？" if near else ""
    return None, f"{what}“{word}”不认识，可用：{'、'.join(options)}{hint}"


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: tuple[str, str], message: str, severity: str = "error") -> None:
        self.problems.append(Problem(message, where[0], where[1], severity))

    # -- 设置 --------------------------------------------------------------------------------

    def settings(self, table: Table) -> dict[str, object]:
        return read_settings(table, self.add)

    # -- 字段 --------------------------------------------------------------------------------

    def fields(self, table: Table) -> tuple[Section, ...]:
        seen: dict[str, str] = {}  # key -> cell of its first row
        labels: dict[str, tuple[str, str]] = {}  # label key -> (cell, what)
        sections: dict[str, list[Field]] = {}
        for r, values in blank_continues(iter(table.rows), "分组"):
            at = table.where(r)
            section = text_of(values.get("分组"))
            if not section:
                self.add(at("分组"), "第一个字段的分组为空，请写基础数据表的分组标题，如 一、基本信息")
            raw_key = text_of(values.get("字段键"))
            key = fold(raw_key)
            if not key:
                self.add(at("字段键"), "字段键为空，请填写小写英文字段键，如 income_total")
            elif not _KEY.match(key):
                lower = re.sub(r"[^a-z0-9_]+", "_", unicodedata.normalize("NFKC", raw_key).lower()).strip("_")
                hint = f"，如“{lower}”" if _KEY.match(lower) else "，如 income_total"
                self.add(at("字段键"), f"字段键“{raw_key}”应以小写英文字母开头，只含小写字母、数字和下划线{hint}")
            elif (why := name_problem(key)) is not None:
                self.add(at("字段键"), why)
            elif key in ("score_total", "grade_self") or key.startswith(("score_", "note_")):
                self.add(at("字段键"), f"字段键“{key}”与评分表的名称冲突（score_…、note_…、grade_self 留给评分表），"
                         f"请改名，如 {key.replace('score_', 'value_').replace('note_', 'text_').replace('grade_self', 'grade_value')}")
            elif key in seen:
                self.add(at("字段键"), f"字段键“{key}”与 {seen[key]} 重复，字段键不能重复")
            else:
                seen[key] = f"{table.sheet}!{at('字段键')[1]}"
            name = text_of(values.get("名称"))
            prefix = ""
            for p in ("其中：", "其中:"):
                if name.startswith(p):
                    prefix, name = "其中：", name[len(p):].strip()
            if not name:
                self.add(at("名称"), "名称为空，请填写基础数据表中显示的项目名称，如 本年收入合计")
            kind, problem = _choice(text_of(values.get("类型")), CN_TYPE, "类型")
            if problem:
                self.add(at("类型"), problem)
            required = fold(text_of(values.get("必填"))).lower()
            if required not in _YES | _NO:
                self.add(at("必填"), f"必填“{text_of(values.get('必填'))}”应为 是 或 否（空白为否）")
            aliases = tuple(a.strip() for a in _SPLIT.split(text_of(values.get("别名"))) if a.strip())
            choices = tuple(a.strip() for a in _SPLIT.split(text_of(values.get("选项"))) if a.strip())
            if kind == "choice" and not choices:
                self.add(at("选项"), "类型为选项时须写出可选值，用“；”分隔，如 行政单位；事业单位")
            elif kind and kind != "choice" and choices:
                self.add(at("选项"), f"类型为{TYPE_CN[kind]}，选项只用于类型“选项”，已忽略", "warning")
                choices = ()
            for label in (name, *aliases):
                lk = label_key(label)
                if lk and lk in labels:
                    self.add(at("别名" if label != name else "名称"),
                             f"“{label}”与 {labels[lk][0]} 的{labels[lk][1]}相同，读取报回文件时无法区分，请改用别的写法")
                elif lk:
                    labels[lk] = (f"{table.sheet}!{at('名称')[1]}", "名称" if label == name else "别名")
            if key and kind:
                sections.setdefault(section, []).append(Field(
                    key=key, label=name, type=kind, required=required in _YES, unit=text_of(values.get("单位")),
                    prefix=prefix, aliases=aliases, choices=choices, hint=text_of(values.get("提示")), section=section))
        if not table.rows:
            self.add((table.sheet, table.cell(table.header_row + 1, "字段键")), "没有任何字段，请从这一行起逐行填写字段")
        out = tuple(Section(title, tuple(fs)) for title, fs in sections.items())
        by_key: dict[str, Field] = {}
        for f in (f for s in out for f in s.fields):
            by_key.setdefault(f.key, f)  # a key repeated is said above: its first row is the field
        for key, kind in REQUIRED_FIELDS.items():
            f = by_key.get(key)
            where = (table.sheet, table.cell(table.header_row + 1 + len(table.rows), "字段键"))
            if f is None and key not in seen:
                self.add(where, f"缺少必备字段“{key}”（{TYPE_CN[kind]}）：每个表单都要有 "
                         f"{'、'.join(REQUIRED_FIELDS)}，请加上这一行")
            elif f is not None and (f.type != kind or not f.required):
                sheet, _, cell = seen.get(key, f"{where[0]}!{where[1]}").rpartition("!")  # the field's own row
                self.add((sheet, cell), f"必备字段“{key}”的类型应为{TYPE_CN[kind]}、必填为是")
        return out

    # -- 指标 --------------------------------------------------------------------------------

    def indicators(self, table: Table, types: dict[str, str] | None) -> list[Indicator]:
        out: list[Indicator] = []
        seen: dict[str, str] = {}
        total = Decimal(0)
        first = True
        for r, values in blank_continues(iter(table.rows), "一级指标", "二级指标"):
            at = table.where(r)
            code = fold(text_of(values.get("指标编码")))
            name = text_of(values.get("三级指标"))
            if not code and "合计" in "".join(text_of(v) for v in values.values()):
                self.add(at("指标编码"), "合计行不是指标，已忽略", "info")
                continue
            ok = True
            if not code:
                self.add(at("指标编码"), "指标编码为空，请填写，如 A1"); ok = False  # noqa: E702
            elif not _CODE.match(code):
                self.add(at("指标编码"), f"指标编码“{code}”应只含英文字母、数字和下划线（最多 20 个），如 A1"); ok = False  # noqa: E702
            elif code.upper() in seen:  # score_A1 and score_a1 are one name to Excel
                self.add(at("指标编码"), f"指标编码“{code}”与 {seen[code.upper()]} 重复（不分大小写）"); ok = False  # noqa: E702
            else:
                seen[code.upper()] = f"{table.sheet}!{at('指标编码')[1]}"
            for col in ("一级指标", "二级指标", "三级指标"):
                if not text_of(values.get(col)):
                    self.add(at(col), f"{col}为空，请填写" + ("（空白表示同上一行，第一行须填写）" if col != "三级指标" and first else ""))
                    ok = False
            first = False
            weight = number_of(values.get("分值"))
            if weight is None or weight <= 0:
                self.add(at("分值"), f"分值“{text_of(values.get('分值'))}”应为大于 0 的数字，如 5"); ok = False  # noqa: E702
            else:
                total += weight
            kind, problem = _choice(text_of(values.get("评分方式")), CN_RULE, "评分方式")
            if problem:
                self.add(at("评分方式"), problem if text_of(values.get("评分方式")) else
                         f"评分方式为空，可用：{'、'.join(RULE_CN.values())}")
                if text_of(values.get("指标值")):  # its formula is still checked: every problem at once
                    self._formula(text_of(values["指标值"]), at, types)
                continue
            rule, found = parse_params(kind, text_of(values.get("参数")), weight)
            for severity, message in found:
                self.add(at("参数"), message, severity)
            ok = ok and not any(s == "error" for s, _ in found)
            value, blank = self._value(values, at, kind, types)
            ok = ok and (kind == "manual" or value is not None) and blank is not None
            criteria = text_of(values.get("评分标准"))
            if not criteria:
                self.add(at("评分标准"), "评分标准为空：模板中该指标将没有评分标准文字，建议填写", "warning")
            if ok:
                out.append(Indicator(code=code, level1=text_of(values["一级指标"]), level2=text_of(values["二级指标"]),
                                     name=name, weight=weight, criteria=criteria, rule=rule, value=value, blank=blank))  # type: ignore[arg-type]
        if not table.rows:
            self.add((table.sheet, table.cell(table.header_row + 1, "指标编码")), "没有任何指标，请从这一行起逐行填写指标")
        elif total != 100 and not any(p.sheet == table.sheet and "分值“" in p.message for p in self.problems):
            self.add((table.sheet, table.cell(table.header_row, "分值")), f"各指标分值之和为 {total:f}，应为 100，请调整分值")
        return out

    def _value(self, values: dict, at, kind: str, types: dict[str, str] | None) -> tuple[dict | None, str | None]:
        text = text_of(values.get("指标值"))
        blank_text = text_of(values.get("空白时"))
        if kind == "manual":
            if text:
                self.add(at("指标值"), "人工评分的指标不填指标值，请删去，或把评分方式改为计算的方式（如 线性）")
                return None, None
            if blank_text:
                self.add(at("空白时"), "人工评分的指标不用填空白时，已忽略", "warning")
            return None, "error"
        blank, problem = _choice(blank_text, CN_BLANK, "空白时") if blank_text else ("error", None)
        if problem:
            self.add(at("空白时"), problem)
        if not text:
            self.add(at("指标值"), f"{RULE_CN[kind]}评分的指标须填写指标值公式，如 expense_total/(carryover_begin+income_total)"
                     "（以“=”开头输入的公式会被 Excel 当作公式计算而读不到，请把该列设为文本格式或去掉“=”）")
            return None, blank
        tree = self._formula(text, at, types)
        if tree is None:
            return None, blank
        value = value_of(tree)
        if value["kind"] not in RULES_FOR[kind]:
            need = {"days_within": "DAYS(开始日期, 结束日期)", "days_late": "DAYS_LATE(日期)"}.get(kind, "一个比率，如 a/b")
            self.add(at("指标值"), f"{RULE_CN[kind]}评分的指标值应为 {need}")
            return None, blank
        return value, blank

    def _formula(self, text: str, at, types: dict[str, str] | None) -> Expr | None:
        """The parsed 指标值, or None when it is not a formula over known fields (problems added)."""
        if text.startswith("#"):
            self.add(at("指标值"), f"指标值“{text}”是 Excel 的错误值：公式被 Excel 当成了公式计算；请把该列设为文本格式后重新输入，"
                     "或在公式前加英文单引号（'）")
            return None
        try:
            tree = parse(text)
        except ExprError as exc:
            self.add(at("指标值"), f"指标值{exc}")
            return None
        errors = check(tree, types) if types is not None else []
        for err in errors:
            self.add(at("指标值"), f"指标值{err}")
        return None if errors else tree

    # -- 校验 --------------------------------------------------------------------------------

    def checks(self, table: Table, types: dict[str, str] | None) -> list[Check]:
        out: list[Check] = []
        seen: dict[tuple[str, str], str] = {}
        severities = {cn: en for en, cn in SEVERITIES.items()}
        for r, values in table.rows:
            at = table.where(r)
            sev_text = fold(text_of(values.get("严重程度")))
            raw = {"code": fold(text_of(values.get("校验编码"))), "name": text_of(values.get("名称")),
                   "condition": text_of(values.get("条件")), "severity": severities.get(sev_text, sev_text or "error"),
                   "advice": text_of(values.get("说明")), "primary": fold(text_of(values.get("主单元格"))),
                   "message": text_of(values.get("消息"))}
            got, problems = check_problems(raw, types, lambda col, at=at: at(_CHECK_COLUMNS[col]))
            self.problems += problems
            if got is not None:
                if (got.code, got.condition) in seen:
                    self.add(at("条件"), f"与 {seen[got.code, got.condition]} 的校验相同，请删去一行", "warning")
                seen[got.code, got.condition] = f"{table.sheet}!{at('条件')[1]}"
                out.append(got)
        return out


_CHECK_COLUMNS = {"code": "校验编码", "name": "名称", "condition": "条件", "severity": "严重程度", "advice": "说明",
                  "primary": "主单元格", "message": "消息"}


def read_form(path: Path | str) -> tuple[Form | None, list[Problem]]:
    """Read a form workbook; (the Form, or None when any problem is an error; every problem in sheet order)."""
    path = Path(path)
    grids, problems = open_sheets(path)
    if not grids:
        return None, problems
    roles, found = find_sheets(grids)
    if not roles.keys() & {"设置", "字段"}:  # a template or a return, most likely: one clear sentence
        what = "像是填报模板或报回文件" if {"基础数据表", "评分表", "_meta"} & set(grids) else "找不到“设置”和“字段”页"
        return None, [Problem(f"{path.name} 不是表单工作簿（{what}）：表单工作簿有“设置”“字段”“指标”“校验”等页；"
                              "可用 perfxl form export gd-dept-2020 -o 表单.xlsx 导出一份作为起点")]
    problems += found
    reader = _Reader()
    tables: dict[str, Table] = {}
    for role in ("设置", "字段", "指标", "校验"):
        if role not in roles:
            if role == "校验":
                reader.add(("", ""), "没有“校验”页：本表单不做交叉校验", "info")
            else:
                reader.add(("", ""), f"找不到“{role}”页：请按 perfxl form export 导出的表单工作簿保留该页")
            continue
        table, found = read_table(grids[roles[role]], roles[role], role)
        reader.problems += found
        if table is not None:
            tables[role] = table
    settings = reader.settings(tables["设置"]) if "设置" in tables else {}
    sections = reader.fields(tables["字段"]) if "字段" in tables else ()
    # without a readable 字段 page the fields are unknown: expressions are still parsed, not type-checked
    types = {f.key: f.type for s in sections for f in s.fields} if "字段" in tables else None
    indicators = reader.indicators(tables["指标"], types) if "指标" in tables else []
    checks = reader.checks(tables["校验"], types) if "校验" in tables else []
    if "指标" in tables and not any(p.severity == "error" and p.sheet == tables["指标"].sheet for p in reader.problems):
        check_level1(indicators, settings.get("level1", ()), settings.get("level1_at"), reader.add)  # type: ignore[arg-type]
    problems += reader.problems
    if any(p.severity == "error" for p in problems):
        return None, problems
    number, title = settings["notice"]  # type: ignore[misc]
    title = title[1:-1].strip() if title.startswith("《") and title.endswith("》") else title  # as the TOML loader does
    rubric = Rubric(id=settings["id"], name=settings["name"], year=settings["year"], deadline_rule=settings["deadline"],  # type: ignore[arg-type]
                    grades=settings["grades"], indicators=tuple(indicators), source=str(path),  # type: ignore[arg-type]
                    notice=Notice(number, title) if number or title else None, sections=sections,
                    checks=tuple(checks))
    return Form(rubric=rubric, sections=sections, checks=tuple(checks), kind=settings["kind"],  # type: ignore[arg-type]
                level1_totals=settings["level1"]), problems  # type: ignore[arg-type]
