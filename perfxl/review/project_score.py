"""One project sheet -> its 预算执行率 score, each indicator row's reviewed score, the total, the
execution-rate cap and the grade (spec §13 Scoring).

All arithmetic is Decimal; each score (预算执行率 and every row) is rounded half-up to 0.01 once and
the total is their sum. A row that cannot be scored (a number missing or unreadable, a 定性 row
without a valid self score) is 无法计算 (`applicable` None) and nulls its project's total and grade,
never another project's. The findings here are about the values themselves (missing-value,
type-error, value-out-of-range, score-out-of-range, zero-denominator); the cross-checks are in
perfxl.review.project_checks.
"""

from __future__ import annotations

from decimal import Decimal

from perfxl.findings import Finding
from perfxl.model import FieldValue, ProjectIndicatorResult, ProjectResult, ProjectRow, ProjectSheet
from perfxl.read import values
from perfxl.read.values import format_number, round_half_up
from perfxl.review.project_values import is_percent_unit, on_scale, parse_money_cell, parse_quantity, parse_score_cell, shown

ZERO, ONE = Decimal(0), Decimal(1)
QUALITATIVE = "定性"
DIRECTIONS = ("≥", "≤", "=", QUALITATIVE)


def column_label(form, key: str) -> str:
    """An indicator-table column's header as the template prints it (年度指标值, 自评得分 …)."""
    return form.headers(key)[0]


def field_label(form, key: str) -> str:
    f = form.fields.get(key)
    return f.label if f else {"score_total": "自评总分", "grade_self": "自评等级"}.get(key, key)


def at(fv: FieldValue, label: str) -> str:
    """`项目1 H12「自评得分」`: where a value is, for a message."""
    return f"{fv.sheet} {fv.cell}「{label}」" if fv.cell else f"{fv.sheet or ''}「{label}」"


def finding(code: str, message: str, *fvs: FieldValue | None, sheet: str | None = None, **details) -> Finding:
    """A finding on the cells of these values, the first one primary."""
    cells = tuple(dict.fromkeys(fv.cell for fv in fvs if fv is not None and fv.cell))
    where = next((fv.sheet for fv in fvs if fv is not None and fv.sheet), sheet)
    return Finding(code, message, where, cells, details=details)


def level1_of(form, text: object) -> str | None:
    """The form's 一级指标 a cell names (its aliases; 产出 and 产出指标 alike), None when none."""
    if not isinstance(text, str):
        return None
    if form.level1_of(text):
        return form.level1_of(text)
    folded = values.fold(text).removesuffix("指标")
    return next((name for name, _ in form.split if values.fold(name).removesuffix("指标") == folded), None)


def direction_of(form, text: object) -> str | None:
    """The 指标性质 symbol a cell means; the reader normally leaves the symbol itself."""
    if text in DIRECTIONS:
        return text  # type: ignore[return-value]
    return form.direction_of(text)


class _ProjectScorer:
    def __init__(self, sheet: ProjectSheet, form) -> None:
        self.sheet, self.form = sheet, form
        self.findings: list[Finding] = []

    def fv(self, key: str) -> FieldValue:
        return self.sheet.fields.get(key) or FieldValue(key, sheet=self.sheet.sheet)

    def add(self, code: str, message: str, *fvs: FieldValue | None, **details) -> None:
        self.findings.append(finding(code, message, *fvs, sheet=self.sheet.sheet, **details))

    # -- 预算执行率 ---------------------------------------------------------------------------

    def money(self, key: str) -> Decimal | None:
        fv = self.fv(key)
        if fv.error:
            return None
        parsed = parse_money_cell(fv.value)
        return parsed.value if parsed.problem is None else None  # type: ignore[return-value]

    def execution(self, res: ProjectResult) -> None:
        budget, spent = self.money("budget_annual"), self.money("spent")
        res.budget_annual, res.spent = budget, spent
        res.execution_self_score, _ = self.self_score(self.fv("exec_score"), f"「{self.form.exec_label}」", self.form.exec_weight)
        if budget is None or spent is None:  # missing-value of a required field: project_checks
            return
        if budget == 0:
            if spent == 0:  # spent > 0 is spending-over-budget (project_checks)
                self.add("zero-denominator", f"{at(self.fv('budget_annual'), '全年预算数')}与「全年执行数」均为 0，"
                         f"无法计算执行率，{self.form.exec_label}按 0 分计；请核对项目资金", self.fv("budget_annual"), self.fv("spent"))
            res.execution_score = ZERO
            return
        res.execution_rate = spent / budget
        res.execution_score = round_half_up(self.form.exec_weight * min(res.execution_rate, ONE))

    # -- self scores ------------------------------------------------------------------------

    def self_score(self, fv: FieldValue, what: str, weight: Decimal | None) -> tuple[Decimal | None, bool]:
        """A 自评得分 read, with missing-value / score-out-of-range said here: (the number, whether it
        is in [0, weight]). The number is kept even when out of range (total-mismatch sums every
        number written); None when there is none."""
        if fv.error or fv.cell is None:  # the reader has said why
            return None, False
        parsed = parse_score_cell(fv.value)
        span = f"0～{format_number(weight)}" if weight is not None else "0 到分值"
        if parsed.problem or parsed.value is None:
            code, problem = ("missing-value", "未填写") if not parsed.problem else ("score-out-of-range", parsed.problem[1])
            self.add(code, f"{fv.sheet} {fv.cell}{what}的自评得分{problem}，应填写 {span} 之间的分数", fv)
            return None, False
        score: Decimal = parsed.value  # type: ignore[assignment]
        if weight is not None and not ZERO <= score <= weight:
            self.add("score-out-of-range", f"{fv.sheet} {fv.cell}{what}的自评得分 {format_number(score)} 超出 {span} 的范围", fv,
                     expected=span, found=format_number(score))
            return score, False
        return score, weight is not None

    # -- indicator rows -----------------------------------------------------------------------

    def row(self, row: ProjectRow) -> ProjectIndicatorResult:
        cell = lambda key: row.cells.get(key) or FieldValue(key, sheet=self.sheet.sheet)  # noqa: E731
        name = cell("name")
        text = lambda key: None if cell(key).error else values.parse_text(cell(key).value).value  # noqa: E731
        res = ProjectIndicatorResult(row.row, level2=text("level2"), name=text("name"), unit=text("unit"),
                                     target=cell("target").value, actual=cell("actual").value,
                                     reason=values.parse_longtext(cell("reason").value).value if not cell("reason").error else None)
        what = f"指标“{res.name}”"
        label = lambda key: f" {what}的「{column_label(self.form, key)}」"  # noqa: E731
        self.level1(cell("level1"), res, label("level1"))
        res.direction = self.direction(cell("direction"), label("direction"))
        res.weight = self.weight(cell("weight"), label("weight"))
        res.self_score, valid = self.self_score(cell("self_score"), f" {what}", res.weight)
        if res.direction == QUALITATIVE:  # reviewed = the unit's score when a number in [0, 分值]
            self.qualitative_values(cell("target"), cell("actual"), what)
            ok = res.weight is not None and valid
            res.reviewed_score = round_half_up(res.self_score) if ok else None  # type: ignore[arg-type]
            res.applicable = True if ok else None
            return res
        numbers = self.numbers(cell("target"), cell("actual"), cell("unit"), res, what)
        if res.direction is None or res.weight is None or numbers is None or name.error:
            res.applicable = None
            return res
        res.target_value, res.actual_value = numbers
        res.reviewed_score = round_half_up(score_row(res.direction, res.weight, *numbers))
        return res

    def level1(self, fv: FieldValue, res: ProjectIndicatorResult, label: str) -> None:
        """一级指标 does not change a row's score: a blank or unknown one is said, the row still scored."""
        if fv.error or fv.cell is None:  # the reader said the column is missing
            return
        if values.is_blank(fv.value):
            self.add("missing-value", f"{fv.sheet} {fv.cell}{label}未填写，应为：{'、'.join(n for n, _ in self.form.split)}", fv)
            return
        res.level1 = level1_of(self.form, fv.value)
        if res.level1 is None:
            res.level1 = values.parse_text(fv.value).value  # type: ignore[assignment]
            self.add("type-error", f"{fv.sheet} {fv.cell}{label}“{shown(fv.value)}”不是可选项，"
                     f"应为：{'、'.join(n for n, _ in self.form.split)}", fv)

    def direction(self, fv: FieldValue, label: str) -> str | None:
        if fv.error or fv.cell is None:
            return None
        if values.is_blank(fv.value):
            self.add("missing-value", f"{fv.sheet} {fv.cell}{label}未填写，应为：{'、'.join(DIRECTIONS)}，该指标无法计算得分", fv)
            return None
        symbol = direction_of(self.form, fv.value)
        if symbol is None:
            self.add("type-error", f"{fv.sheet} {fv.cell}{label}“{shown(fv.value)}”不是可选项，应为：{'、'.join(DIRECTIONS)}"
                     "（≥ 越大越好，≤ 越小越好，= 应相等，定性 由单位打分），该指标无法计算得分", fv)
        return symbol

    def weight(self, fv: FieldValue, label: str) -> Decimal | None:
        if fv.error or fv.cell is None:
            return None
        parsed = parse_score_cell(fv.value)
        if parsed.value is None:
            problem = f"“{shown(fv.value)}”不是数字" if parsed.problem else "未填写"
            self.add("type-error" if parsed.problem else "missing-value", f"{fv.sheet} {fv.cell}{label}{problem}，"
                     "该指标无法计算得分；请填写该指标的分值", fv)
            return None
        if parsed.value < 0:  # type: ignore[operator]
            self.add("value-out-of-range", f"{fv.sheet} {fv.cell}{label}为 {shown(fv.value)}，分值不能为负", fv)
            return None
        return parsed.value  # type: ignore[return-value]

    def qualitative_values(self, target: FieldValue, actual: FieldValue, what: str) -> None:
        """A 定性 row is scored by the unit; its texts are asked for, not scored."""
        blank = [fv for fv in (target, actual) if not fv.error and fv.cell and values.is_blank(fv.value)]
        if blank:
            names = "和".join(f"「{column_label(self.form, fv.key)}」" for fv in blank)
            self.add("missing-value", f"{blank[0].sheet} {blank[0].cell} 定性{what}的{names}未填写，"
                     "请写明年度目标和实际完成情况（如“按期完成”“已完成”）", *blank)

    def numbers(self, target: FieldValue, actual: FieldValue, unit: FieldValue, res: ProjectIndicatorResult,
                what: str) -> tuple[Decimal, Decimal] | None:
        """(target, actual) on one scale for a quantitative row (a percent as a fraction on both
        sides), or None with the finding said."""
        if target.error or actual.error or target.cell is None or actual.cell is None:
            return None
        qt, qa = parse_quantity(target.value), parse_quantity(actual.value)
        if qt.blank and qa.blank:
            self.add("missing-value", f"{target.sheet} {target.cell} {what}的「{column_label(self.form, 'target')}」和"
                     f"「{column_label(self.form, 'actual')}」均未填写，该指标无法计算得分，请补填", target, actual)
            return None
        bad = False
        for fv, q in ((target, qt), (actual, qa)):
            label = f" {what}的「{column_label(self.form, fv.key)}」"
            if q.blank:
                self.add("missing-value", f"{fv.sheet} {fv.cell}{label}未填写，该指标无法计算得分，请补填", fv)
            elif q.number is None:
                self.add("type-error", f"{fv.sheet} {fv.cell}{label}“{shown(fv.value)}”中没有可计算的数值；指标性质为"
                         f"“{res.direction or '定量'}”的指标须填写一个数值（可带 % 或单位，如 95%、3个），"
                         "无法量化的指标请将指标性质改为“定性”", fv)
            elif q.too_big:
                self.add("value-out-of-range", f"{fv.sheet} {fv.cell}{label}“{shown(fv.value)}”数值过大，请核对", fv)
            elif q.number < 0 and fv is target and res.direction in ("≥", "≤"):  # a negative actual scores as written
                self.add("value-out-of-range", f"{fv.sheet} {fv.cell}{label}为负数 {shown(fv.value)}；指标性质为"
                         f"“{res.direction}”的年度指标值不能为负，如确为负值请将指标性质改为“=”", fv)
            else:
                continue
            bad = True
        if bad:
            return None
        percent_row = qt.percent or qa.percent or is_percent_unit(None if unit.error else unit.value)
        return on_scale(qt, qa, percent_row)

    # -- the project ------------------------------------------------------------------------

    def run(self) -> ProjectResult:
        sheet = self.sheet
        res = ProjectResult(sheet.sheet, project_name=values.parse_text(sheet.value("project_name")).value)  # type: ignore[arg-type]
        res.fields = {k: fv.value for k, fv in sheet.fields.items()}
        res.cells = {k: (fv.sheet or sheet.sheet, fv.cell) for k, fv in sheet.fields.items() if fv.cell}
        self.execution(res)
        res.indicators = [self.row(r) for r in sheet.rows if not _nameless(r)]
        total_fv, grade_fv = self.fv("score_total"), self.fv("grade_self")
        res.self_total = None if total_fv.error else parse_score_cell(total_fv.value).value  # type: ignore[assignment]
        res.self_grade = None if grade_fv.error else values.parse_grade(grade_fv.value, self.form.grade_labels).value  # type: ignore[assignment]
        scores = [res.execution_score, *(r.reviewed_score for r in res.indicators)]
        if any(s is None for s in scores) or any(r.applicable is None for r in res.indicators):
            res.capped_by_execution = None
            return res
        total = round_half_up(sum(scores, ZERO))  # type: ignore[arg-type]
        cap = cap_for(self.form, res.execution_rate)
        res.capped_by_execution = cap is not None and total > cap
        res.reviewed_total = round_half_up(cap) if res.capped_by_execution else total  # 79.00, as every total
        res.reviewed_grade = self.form.grade(res.reviewed_total)
        return res


def _nameless(row: ProjectRow) -> bool:
    """A row with no 三级指标 is no indicator (the reader keeps only named rows; a stray one is skipped)."""
    fv = row.cells.get("name")
    return fv is None or (not fv.error and values.is_blank(fv.value))


def score_row(direction: str, weight: Decimal, target: Decimal, actual: Decimal) -> Decimal:
    """A quantitative row's score before rounding (spec §13): ≥ 分值 × min(实际/指标, 1); ≤ full when
    实际 ≤ 指标, else 分值 × 指标/实际; = full when equal, else 分值 × max(0, 1 − |实际−指标|/|指标|);
    a target of 0: ≥ full when 实际 ≥ 0, ≤ and = full when 实际 = 0, else 0."""
    if direction == "≥":
        if target == 0:
            return weight if actual >= 0 else ZERO
        return weight * max(ZERO, min(actual / target, ONE))
    if direction == "≤":
        if target == 0:
            return weight if actual == 0 else ZERO
        return weight if actual <= target else weight * target / actual
    if target == 0:
        return weight if actual == 0 else ZERO
    return weight if actual == target else weight * max(ZERO, ONE - abs(actual - target) / abs(target))


def cap_for(form, rate: Decimal | None) -> Decimal | None:
    """The cap on a reviewed total at this execution rate: the lowest cap whose bound the exact rate
    is below (执行率 < 80 % → 89 …); None when none applies or the rate is unknown."""
    if rate is None:
        return None
    caps = [cap for bound, cap in form.caps if rate < bound]
    return min(caps) if caps else None


def score_project(sheet: ProjectSheet, form) -> tuple[ProjectResult, list[Finding]]:
    """Score one project sheet against a project form (spec §13): its result and the findings
    about its values. The weights used are the unit's 分值 for rows and the form's for 预算执行率."""
    scorer = _ProjectScorer(sheet, form)
    return scorer.run(), scorer.findings


