"""The 设置 page of a form workbook (spec §12): 编号, 名称, 表式, 年度, 报送截止, 通知, 等级 and the
一级 totals a form may state, each problem pinned to its 值 cell."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from perfxl.spec.form import FORM_KINDS
from perfxl.spec.formbook_grid import Table, header_key, number_of, text_of
from perfxl.spec.formbook_params import fold, parse_deadline, parse_grades
from perfxl.spec.rubric import Indicator

#: add(where, message, severity="error"): how a problem is recorded
Add = Callable[..., None]
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_SPLIT = re.compile(r"[；;\n]")
_SETTINGS = {"编号": ("编号", "表单编号", "id", "指标体系编号"), "名称": ("名称", "表单名称", "表式名称"),
             "表式": ("表式", "表单类型"), "年度": ("年度", "评价年度"),
             "报送截止": ("报送截止", "报送截止日期", "截止日期", "报送期限"), "通知文号": ("通知文号", "文号"),
             "通知名称": ("通知名称", "通知标题", "通知"), "等级": ("等级", "等级划分", "等级标准"),
             "一级分值": ("一级分值", "一级指标分值", "一级权重")}


def read_settings(table: Table, add: Add) -> dict[str, object]:
    """The 设置 page: id, name, 表式, year, deadline, grades, notice and the stated 一级 totals."""
    names = {header_key(a): item for item, aliases in _SETTINGS.items() for a in aliases}
    got: dict[str, tuple[object, tuple[str, str]]] = {}
    for r, values in table.rows:
        item = names.get(header_key(text_of(values.get("项目"))))
        if item is None:
            add((table.sheet, table.cell(r, "项目")), f"设置项“{text_of(values.get('项目'))}”不认识，已忽略；"
                f"可用：{'、'.join(_SETTINGS)}", "info")
        elif item in got:
            add((table.sheet, table.cell(r, "项目")), f"设置项“{item}”写了两次，请删去一行")
        else:
            got[item] = (values.get("值"), (table.sheet, table.cell(r, "值")))
    out: dict[str, object] = {}
    for item in ("编号", "名称", "年度", "报送截止", "等级"):
        if item not in got or not text_of(got[item][0]):
            where = got[item][1] if item in got else (table.sheet, table.cell(table.header_row + 1 + len(table.rows), "项目"))
            add(where, f"缺少设置项“{item}”，请在“项目”列写“{item}”、在“值”列填写"
                + {"编号": "，如 gd-dept-2020", "年度": "，如 2020", "报送截止": "，如 次年6月20日",
                   "等级": "，如 优秀≥90；良好≥80；中≥60；差", "名称": ""}[item])
    text = {k: text_of(v) for k, (v, _) in got.items()}
    if text.get("编号") and not _ID.match(fold(text["编号"])):
        add(got["编号"][1], f"编号“{text['编号']}”应只含英文字母、数字、连字符和下划线，如 gd-dept-2020")
    out["id"], out["name"] = fold(text.get("编号", "")), text.get("名称", "")
    kind = text.get("表式") or "部门整体"
    if kind not in FORM_KINDS:
        add(got["表式"][1], f"表式“{kind}”不认识，可用：{'、'.join(FORM_KINDS)}")
    elif kind != "部门整体":
        add(got["表式"][1], f"本版本尚不能按“{kind}”表式生成模板和复核：表单可以检查和导出", "warning")
    out["kind"] = kind
    year = None
    if text.get("年度"):
        number = number_of(fold(text["年度"]).removesuffix("年度").removesuffix("年"))
        if number is None or number != int(number) or not 2000 <= number <= 2099:
            add(got["年度"][1], f"年度“{text['年度']}”应为四位年份，如 2020")
        else:
            year = int(number)
    out["year"] = year
    if "报送截止" in got and text.get("报送截止"):
        rule, problem = parse_deadline(got["报送截止"][0], year)
        if problem:
            add(got["报送截止"][1], problem)
        out["deadline"] = rule
    if text.get("等级"):
        grades, problems = parse_grades(text["等级"])
        for p in problems:
            add(got["等级"][1], p)
        out["grades"] = grades
    out["notice"] = (text.get("通知文号", ""), text.get("通知名称", ""))
    out["level1"] = _level1(text["一级分值"], got["一级分值"][1], add) if text.get("一级分值") else ()
    out["level1_at"] = got["一级分值"][1] if "一级分值" in got else None
    return out


def _level1(text: str, where: tuple[str, str], add: Add) -> tuple[tuple[str, Decimal], ...]:
    """`预算编制=20；预算执行=40；…`: the 一级 totals the form states."""
    out: list[tuple[str, Decimal]] = []
    complete = True
    for item in (i.strip() for i in _SPLIT.split(text) if i.strip()):
        name, sep, raw = item.replace("＝", "=").replace("：", "=").replace(":", "=").rpartition("=")
        points = number_of(raw) if sep and name.strip() else None
        if points is None or points <= 0:
            add(where, f"一级分值“{item}”应写成“一级指标=分值”，如 预算编制=20；预算执行=40")
            complete = False
        else:
            out.append((name.strip(), points))
    total = sum((p for _, p in out), Decimal(0))
    if out and complete and total != 100:
        add(where, f"一级分值之和为 {total:f}，应为 100")
    return tuple(out)


def check_level1(indicators: list[Indicator], stated: tuple[tuple[str, Decimal], ...],
                 where: tuple[str, str] | None, add: Add) -> None:
    """Each 一级指标's weights against the total 设置 states for it (spec §12, form checks)."""
    if not stated or where is None:
        return
    sums: dict[str, Decimal] = {}
    for ind in indicators:
        sums[ind.level1] = sums.get(ind.level1, Decimal(0)) + ind.weight
    named = dict(stated)
    for name, points in stated:
        if name not in sums:
            add(where, f"一级分值中的“{name}”不是指标页中的一级指标，可用：{'、'.join(sums)}")
        elif sums[name] != points:
            add(where, f"一级指标“{name}”各指标分值之和为 {sums[name]:f}，一级分值写的是 {points:f}，请核对")
    for name in sums:
        if name not in named:
            add(where, f"一级分值没有写“{name}”，请补上，如 {name}={sums[name]:f}")
