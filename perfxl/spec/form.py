"""A form (spec §12): the rubric, the fields and the 校验 rows of one round, and the problems of one.

`Form` bundles what the TOML files hold today (the rubric, the field sections, the checks);
`Problem` is one line of `perfxl form check`, pinned to a sheet and cell where there is one.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from perfxl.findings import CATALOGUE
from perfxl.spec.checkrow import Check
from perfxl.spec.expr import Condition, ExprError, check, parse_condition
from perfxl.spec.fields import REQUIRED_FIELDS as REQUIRED_FIELDS  # re-exported: the form's rule
from perfxl.spec.fields import Field, Section
from perfxl.spec.rubric import Rubric, RubricError, builtin_ids, load_rubric, parse_rubric

SEVERITIES = {"error": "错误", "warning": "警告", "info": "提示"}
FORM_KINDS = ("部门整体", "项目支出")
CHECK_CODE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Problem:
    """One problem of a form: where (sheet, cell), what and what to write instead, and how bad."""

    message: str
    sheet: str = ""
    cell: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.sheet and self.cell else self.sheet
        message = " ".join(self.message.splitlines())  # one line, whatever a quoted cell held
        return f"{where}：{message}" if where else message

    @property
    def label(self) -> str:
        """错误, 警告 or 提示."""
        return SEVERITIES[self.severity]


@dataclass(frozen=True)
class Form:
    """Everything a round depends on: rubric (indicators, grades, year, deadline), fields, checks."""

    rubric: Rubric
    sections: tuple[Section, ...]
    checks: tuple[Check, ...] = ()
    kind: str = "部门整体"
    #: the 一级 totals the form states (设置 一级分值), checked against the indicators; descriptive, not hashed
    level1_totals: tuple[tuple[str, Decimal], ...] = ()

    @property
    def id(self) -> str:
        return self.rubric.id

    @property
    def fields(self) -> dict[str, Field]:
        """All fields by key, in template order."""
        return {f.key: f for s in self.sections for f in s.fields}

    @property
    def types(self) -> dict[str, str]:
        """Field key -> type, as expr.check takes it."""
        return {k: f.type for k, f in self.fields.items()}

    def summary(self) -> str:
        """One line a clerk reads: what this form is."""
        r = self.rubric
        computed = sum(1 for i in r.indicators if not i.manual)
        return (f"表单 {r.id}「{r.name}」：{self.kind}，{r.year} 年度，报送截止 {r.deadline(r.year).isoformat()}；"
                f"字段 {len(self.fields)} 个，指标 {len(r.indicators)} 个（计算 {computed}、人工 {len(r.indicators) - computed}），"
                f"总分 {r.total_weight:f}，校验 {len(self.checks)} 条")


def check_problems(raw: Mapping[str, object], types: Mapping[str, str] | None,
                   where: Callable[[str], tuple[str, str]]) -> tuple[Check | None, list[Problem]]:
    """Validate one 校验 row (keys code, name, condition, severity, advice, primary, message; English
    severities); `where(key)` gives (sheet, cell) of a column; `types` None when the fields are not known.
    Returns the Check when it has no error."""
    problems: list[Problem] = []

    def bad(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(message, *where(key), severity))

    code = str(raw.get("code") or "").strip()
    if not code:
        bad("code", "校验编码为空，请填写英文小写和连字符组成的编码，如 balance-mismatch")
    elif not CHECK_CODE.match(code):
        bad("code", f"校验编码“{code}”应只含小写英文字母、数字和连字符（-），如 balance-mismatch")
    severity = str(raw.get("severity") or "error")
    if severity not in SEVERITIES:
        bad("severity", f"严重程度“{severity}”不认识，可用：错误、警告、提示")
    elif code in CATALOGUE and CATALOGUE[code][0].value != severity:  # a catalogue code keeps its severity
        bad("severity", f"校验编码“{code}”是问题目录中的代码（{CATALOGUE[code][1]}），严重程度按目录为"
                        f"“{CATALOGUE[code][0].label}”；要用“{SEVERITIES[severity]}”请另起一个编码", "warning")
    text = raw.get("condition")
    cond: Condition | None = None
    if text is None or not str(text).strip():
        bad("condition", "条件为空，请写一个比较，如 carryover_begin+income_total = expense_total+carryover_end")
    else:
        try:
            cond = parse_condition(str(text))
        except ExprError as exc:
            bad("condition", f"条件{exc}")
        else:
            for err in check(cond, types) if types is not None else ():
                bad("condition", f"条件{err}")
    primary = str(raw.get("primary") or "").strip() or None
    if primary is not None and cond is not None and primary not in cond.fields():
        named = "、".join(cond.fields())
        bad("primary", f"主单元格“{primary}”不是条件中的字段键，可用：{named}")
    message = str(raw.get("message") or "").strip() or None
    if message is not None and cond is not None:
        allowed = {"left", "right", "diff", *cond.fields()}
        for name in _PLACEHOLDER.findall(message):
            if name not in allowed:
                bad("message", f"消息中的“{{{name}}}”不认识，可用：{'、'.join('{' + a + '}' for a in sorted(allowed))}")
    if any(p.severity == "error" for p in problems):
        return None, problems
    return Check(code=code, name=str(raw.get("name") or "").strip(), condition=str(cond), severity=severity,
                 advice=str(raw.get("advice") or "").strip(), primary=primary, message=message), problems


def load_checks(text: str, source: str, types: Mapping[str, str]) -> tuple[tuple[Check, ...], list[Problem]]:
    """The `[[check]]` tables of a TOML text, validated like 校验 rows; problems name the source."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return (), [Problem(f"TOML 格式错误：{exc}", source)]
    checks, problems = [], []
    for n, raw in enumerate(data.get("check", []), 1):
        got, found = check_problems(raw, types, lambda key, n=n: (source, f"第 {n} 条校验 {key}"))
        problems += found
        if got is not None:
            checks.append(got)
    return tuple(checks), problems


def load_level1(raw: object, rubric: Rubric, source: str) -> tuple[tuple[tuple[str, Decimal], ...], list[Problem]]:
    """A TOML form's `[level1]` table (一级指标 = 分值, the 设置 row 一级分值), checked against its indicators."""
    if raw is None:
        return (), []
    if not isinstance(raw, dict) or not raw:
        return (), [Problem("[level1] 应写成“\"一级指标\" = 分值”，如 \"投入\" = 20", source)]
    sums: dict[str, Decimal] = {}
    for ind in rubric.indicators:
        sums[ind.level1] = sums.get(ind.level1, Decimal(0)) + ind.weight
    out, problems = [], []
    for name, points in raw.items():
        if isinstance(points, bool) or not isinstance(points, int | Decimal):
            problems.append(Problem(f"[level1] 中“{name}”的分值 {points!r} 不是数字", source))
        elif name not in sums:
            problems.append(Problem(f"[level1] 中的“{name}”不是指标中的一级指标，可用：{'、'.join(sums)}", source))
        elif sums[name] != points:
            problems.append(Problem(f"一级指标“{name}”各指标分值之和为 {sums[name]:f}，[level1] 写的是 {points}，请核对",
                                    source))
        else:
            out.append((name, Decimal(points)))
    problems += [Problem(f"[level1] 没有写“{name}”，请补上，如 \"{name}\" = {total:f}", source)
                 for name, total in sums.items() if name not in raw]
    return tuple(out), problems


def toml_form(text: str, source: str, more_checks: str = "", checks_source: str = "",
              builtin: bool = False) -> tuple[Form | None, list[Problem]]:
    """A form written in TOML: the rubric, its own `[[section]]` fields when it has them (else the
    built-in list), its `[[check]]` rows (inline, and `more_checks`: a sibling .checks.toml's text)
    and `[level1]` totals. A file that is not `builtin` and has no rows keeps the built-in
    cross-checks (checks None); the Form is None when a problem is an error."""
    try:
        rubric = parse_rubric(text, source)
    except RubricError as exc:
        return None, [Problem(str(exc))]
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    types = {k: f.type for k, f in rubric.fields.items()}
    checks, problems = load_checks(text, name, types)
    if more_checks:
        more, found = load_checks(more_checks, checks_source, types)
        checks, problems = checks + more, problems + found
    level1, found = load_level1(tomllib.loads(text, parse_float=Decimal).get("level1"), rubric, name)
    problems += found
    if any(p.severity == "error" for p in problems):
        return None, problems
    rows = checks if checks or builtin else None
    return Form(rubric=dataclasses.replace(rubric, checks=rows), sections=rubric.sections, checks=checks,
                level1_totals=level1), problems


@cache
def builtin_form(form_id: str) -> Form:
    """A built-in form: its TOML in perfxl/spec/rubrics (with its own fields, or the global list) and
    its 校验 rows (inline, or in `<id>.checks.toml` beside it or in perfxl/spec)."""
    if form_id not in builtin_ids():
        return _plain_form(form_id)
    text = resources.files("perfxl.spec.rubrics").joinpath(f"{form_id}.toml").read_text("utf-8")
    more, more_source = "", ""
    for package in ("perfxl.spec.rubrics", "perfxl.spec"):
        res = resources.files(package).joinpath(f"{form_id}.checks.toml")
        if res.is_file():
            more, more_source = res.read_text("utf-8"), res.name
            break
    form, problems = toml_form(text, f"{form_id}.toml", more, more_source, builtin=True)
    if form is None or problems:  # a built-in is ours: a broken one is our bug, not the clerk's
        raise ValueError("; ".join(map(str, problems)))
    return form


def _plain_form(ref: str) -> Form:
    """A rubric by path as load_rubric reads it, with its fields and no rows of its own."""
    rubric = load_rubric(ref)
    return Form(rubric=dataclasses.replace(rubric, checks=()), sections=rubric.sections, checks=())
