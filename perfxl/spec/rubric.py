"""Load and validate a rubric (指标体系) file -> `Rubric` (spec §4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from dataclasses import field as _field
from decimal import Decimal, InvalidOperation
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from perfxl.spec.checkrow import Check
from perfxl.spec.fields import Field, FieldsError, Section, parse_sections, sections

RULE_KINDS = ("manual", "bands", "linear", "proportional", "days_within", "days_late")
VALUE_KINDS = {
    "ratio": ("numerator", "denominator"),
    "deviation": ("actual", "base"),
    "change": ("current", "previous"),
    "days_between": ("start", "end"),
    "days_late": ("date",),
    "field": ("field",),
}
BLANK_KINDS = ("not-applicable", "zero", "error")


class RubricError(Exception):
    """A rubric file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Indicator:
    code: str
    level1: str
    level2: str
    name: str
    weight: Decimal
    criteria: str
    rule: dict
    value: dict | None = None
    blank: str = "error"

    @property
    def manual(self) -> bool:
        return self.rule["kind"] == "manual"

    @property
    def inputs(self) -> tuple[str, ...]:
        """Field keys this indicator reads, in formula order."""
        if self.value is None:
            return ()
        if self.value["kind"] == "expr":  # a §12 expression: its fields, in order of appearance
            return tuple(self.value["fields"])
        keys: list[str] = []
        for part in VALUE_KINDS[self.value["kind"]]:
            got = self.value[part]
            keys.extend(got if isinstance(got, list) else [got])
        return tuple(keys)

    @property
    def is_rate(self) -> bool:
        if self.value is not None and self.value["kind"] == "expr":  # days go with the day rules
            return self.rule["kind"] not in ("days_within", "days_late")
        return self.value is not None and self.value["kind"] not in ("days_between", "days_late")


@dataclass(frozen=True)
class Grade:
    min: Decimal
    label: str


@dataclass(frozen=True)
class Notice:
    """The notice that orders the round: 通知文号 `number` and 通知名称 `title` (spec §12)."""

    number: str = ""
    title: str = ""  # without the 《》 a citation puts around it


class Graded:
    """What every form has of a round: its grades (`grades`, highest first) and its deadline rule
    (`deadline_rule`); the department rubric and the project form both."""

    grades: tuple[Grade, ...]
    deadline_rule: dict

    @property
    def grade_labels(self) -> tuple[str, ...]:
        return tuple(g.label for g in self.grades)

    def grade(self, total: Decimal) -> str:
        """The grade of a (rounded) total; lower bounds inclusive."""
        for g in self.grades:
            if total >= g.min:
                return g.label
        return self.grades[-1].label

    def deadline(self, year: int) -> dt.date:
        d = self.deadline_rule
        return dt.date(year + d.get("year_offset", 0), d["month"], d["day"])


@dataclass(frozen=True)
class Rubric(Graded):
    id: str
    name: str
    year: int
    deadline_rule: dict
    grades: tuple[Grade, ...]
    indicators: tuple[Indicator, ...]
    source: str
    #: descriptive, like names and criteria: not part of the hash
    notice: Notice | None = None
    #: the form's 基础数据表 fields in template order (spec §12); the global list by default; not hashed
    sections: tuple[Section, ...] = _field(default_factory=sections)
    #: the form's 校验 rows (spec §12); None: the built-in cross-checks perfxl implements in code; not hashed
    checks: tuple[Check, ...] | None = None

    @cached_property
    def fields(self) -> dict[str, Field]:
        """The form's fields by key, in template order."""
        return {f.key: f for s in self.sections for f in s.fields}

    def indicator(self, code: str) -> Indicator:
        return next(i for i in self.indicators if i.code == code)

    @property
    def level1_groups(self) -> list[tuple[str, list[Indicator]]]:
        groups: dict[str, list[Indicator]] = {}
        for ind in self.indicators:
            groups.setdefault(ind.level1, []).append(ind)
        return list(groups.items())

    @property
    def total_weight(self) -> Decimal:
        return sum((i.weight for i in self.indicators), Decimal(0))

    @cached_property  # a form does not change once made; every file's _meta is compared with it
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of codes, weights, rules and parameters (spec §2)."""
        core = [
            {"code": i.code, "weight": i.weight, "rule": i.rule, "value": i.value, "blank": i.blank}
            for i in self.indicators
        ]
        text = json.dumps(
            {"id": self.id, "grades": [[g.min, g.label] for g in self.grades], "indicators": core},
            sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(rubric: Rubric) -> str:
    """SHA-256 of everything a rubric says, its descriptive parts too (names, criteria, notice, its
    form's fields): what a file's cached result and outputs depend on, unlike `Rubric.hash`."""
    described = [(i.code, i.level1, i.level2, i.name, i.criteria) for i in rubric.indicators]
    text = repr((rubric.hash, rubric.name, rubric.year, rubric.deadline_rule, described, rubric.notice, rubric.sections,
                 rubric.checks))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _line_of(text: str, code: str | None, occurrence: int = 1) -> int:
    """The line on which an indicator's code is defined (its n-th definition), for messages."""
    if code is None:
        return 1
    seen = 0
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf'\s*code\s*=\s*"{re.escape(code)}"', line):
            seen += 1
            if seen == occurrence:
                return n
    return 1


def _fail(source: str, text: str, code: str | None, message: str, occurrence: int = 1) -> RubricError:
    return RubricError(f"{source} 第 {_line_of(text, code, occurrence)} 行：{message}")


#: which formulas each computed rule can score: rates for linear and bands, days for the day rules
RULE_VALUES = {
    "linear": ("ratio", "deviation", "change", "field"),
    "bands": ("ratio", "deviation", "change", "field"),
    "proportional": ("ratio", "deviation", "change", "field"),
    "days_within": ("days_between",),
    "days_late": ("days_late",),
}
RULE_PARAMS = {"bands": ("bands",), "linear": ("target", "side", "per_point"), "proportional": ("target",),
               "days_within": ("days",), "days_late": ("per_day",)}
#: the codes a rule's `zero_division` (除零) may name for a positive number over 0 (spec §12)
ZERO_DIVISION_CODES = ("zero-denominator", "unbudgeted-spending")


def _number(value: object) -> Decimal:
    """A rubric parameter as an exact Decimal; anything else is a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError(value)
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(value) from exc
    if not number.is_finite():
        raise ValueError(value)
    return number


def _check_indicator(raw: dict, source: str, text: str, known: dict[str, str]) -> Indicator:
    code = raw.get("code")

    def fail(message: str) -> RubricError:
        return _fail(source, text, code, message)

    for key in ("code", "level1", "level2", "name", "weight", "criteria", "rule"):
        if key not in raw:
            raise fail(f"指标 {code or '?'} 缺少 {key}")
    rule, value = raw["rule"], raw.get("value")
    if not isinstance(rule, dict) or (value is not None and not isinstance(value, dict)):
        raise fail(f"指标 {code} 的 rule 和 value 应写成 {{ kind = … }} 的形式")
    kind = rule.get("kind")
    if kind not in RULE_KINDS:
        raise fail(f"指标 {code} 的规则类型 {kind!r} 未知，可用：{', '.join(RULE_KINDS)}")
    try:
        weight = _number(raw["weight"])
    except ValueError as exc:
        raise fail(f"指标 {code} 的分值 {raw['weight']!r} 不是数字") from exc
    if weight <= 0:
        raise fail(f"指标 {code} 的分值必须大于 0")
    try:
        if kind == "manual":
            if value is not None:
                raise fail(f"人工评分指标 {code} 不应有 value 公式")
            items = rule.get("items", [])
            if items and sum(_number(p) for _, p in items) != weight:
                raise fail(f"指标 {code} 的评分要点分值之和不等于分值 {weight}")
        else:
            _check_computed(rule, value, kind, weight, known, lambda m: fail(f"指标 {code}：{m}"))
    except (ValueError, TypeError) as exc:
        raise fail(f"指标 {code} 的规则参数有误（{exc}）：数值须为数字，分档须写成 [[上限, 得分], …]") from exc
    blank = raw.get("blank", "error")
    if blank not in BLANK_KINDS:
        raise fail(f"指标 {code} 的 blank 应为 {', '.join(BLANK_KINDS)} 之一")
    return Indicator(
        code=code, level1=raw["level1"], level2=raw["level2"], name=raw["name"], weight=weight,
        criteria=raw["criteria"], rule=rule, value=value, blank=blank,
    )


def _check_expr(value: dict, types: dict[str, str], fail) -> None:
    """A `value = { kind = "expr", expr = "(a+b)/c" }` of spec §12: parsed (never executed) and typed;
    its canonical text and fields are kept, as the form workbook reader keeps them."""
    from perfxl.spec.expr import ExprError, check, parse

    if set(value) - {"kind", "expr", "fields"} or not isinstance(value.get("expr"), str):
        raise fail('算式公式应写成 { kind = "expr", expr = "(a+b)/c" }')
    try:
        tree = parse(value["expr"])
    except ExprError as exc:
        raise fail(f"算式“{value['expr']}”{exc}") from exc
    problems = check(tree, types)
    if problems:
        raise fail(f"算式“{value['expr']}”{problems[0]}")
    value.update(expr=str(tree), fields=list(tree.fields()))


def _check_computed(rule: dict, value: dict | None, kind: str, weight: Decimal, known: dict[str, str], fail) -> None:
    if value is not None and value.get("kind") == "expr":  # any computed rule takes an expression
        _check_expr(value, known, fail)
    elif value is None or value.get("kind") not in VALUE_KINDS:
        raise fail(f"缺少 value 公式或公式类型未知，可用：{', '.join((*VALUE_KINDS, 'expr'))}")
    elif value["kind"] not in RULE_VALUES[kind]:
        raise fail(f"规则 {kind} 不能用于公式 {value['kind']}（可用：{', '.join(RULE_VALUES[kind])}）")
    for part in VALUE_KINDS.get(value["kind"], ()):
        if part not in value:
            raise fail(f"公式缺少 {part}")
        for key in value[part] if isinstance(value[part], list) else [value[part]]:
            if key not in known:
                raise fail(f"引用了未知字段 {key!r}")
    for param in RULE_PARAMS[kind]:
        if param not in rule:
            raise fail(f"规则 {kind} 缺少参数 {param}")
    if rule.get("zero_division", ZERO_DIVISION_CODES[0]) not in ZERO_DIVISION_CODES:
        raise fail(f"zero_division 应为 {'、'.join(ZERO_DIVISION_CODES)} 之一")
    if kind == "linear":
        if rule["side"] not in ("above", "below"):
            raise fail("side 应为 above 或 below")
        _number(rule["target"]), _number(rule["per_point"])
    elif kind == "proportional":
        if _number(rule["target"]) <= 0:
            raise fail("比例的 target 应大于 0")
    elif kind == "bands":
        if rule.get("compare", "<=") not in ("<=", ">="):
            raise fail('compare 应为 "<="（≤ 分档，默认）或 ">="（≥ 分档）')
        for bound, points in rule["bands"]:
            _number(bound)
            if _number(points) > weight:
                raise fail(f"分档得分 {points} 超过分值 {weight}")
        if _number(rule.get("otherwise", 0)) > weight:
            raise fail(f"otherwise 得分超过分值 {weight}")
    else:
        _number(rule[RULE_PARAMS[kind][0]])


NOTICE_KEYS = {"number": "通知文号", "title": "通知名称"}


def _notice(raw: object, source: str, text: str) -> Notice | None:
    """`[notice] number = "湛财绩〔2021〕5号"  title = "…的通知"`; absent or empty -> None."""
    if raw is None:
        return None
    line = next((n for n, ln in enumerate(text.splitlines(), 1) if re.match(r"\s*(\[notice\]|notice\s*=)", ln)), 1)
    where = f"{source} 第 {line} 行"
    usage = "应写成 [notice] 表：number = \"通知文号\"，title = \"通知名称\""
    if not isinstance(raw, dict):
        raise RubricError(f"{where}：notice {usage}")
    unknown = sorted(set(raw) - set(NOTICE_KEYS))
    if unknown:
        raise RubricError(f"{where}：[notice] 中的 {'、'.join(unknown)} 不认识，"
                          f"可用：{'、'.join(f'{k}（{v}）' for k, v in NOTICE_KEYS.items())}")
    got = {}
    for key, label in NOTICE_KEYS.items():
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise RubricError(f"{where}：[notice] 的 {key}（{label}）应为文字，用英文双引号括起")
        got[key] = " ".join(value.split())
    title = got["title"]
    if title.startswith("《") and title.endswith("》"):  # the citation adds its own
        title = title[1:-1].strip()
    if not got["number"] and not title:
        return None
    return Notice(number=got["number"], title=title)


def parse_rubric(text: str, source: str = "<rubric>", field_sections: tuple[Section, ...] | None = None) -> Rubric:
    """Parse and validate rubric TOML text; its formulas may name its own fields (`[[section]]`
    tables, spec §12), else those of `field_sections` (the global list by default)."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{source}：TOML 格式错误：{exc}") from exc
    for key in ("id", "name", "year", "deadline", "grades", "indicator"):
        if key not in data:
            raise RubricError(f"{source}：缺少 {key}")
    secs = _own_sections(data["section"], source, text) if "section" in data else \
        sections() if field_sections is None else field_sections
    known = {f.key: f.type for s in secs for f in s.fields}
    indicators = [_check_indicator(raw, source, text, known) for raw in data["indicator"]]
    codes = [i.code for i in indicators]
    for code in codes:
        if codes.count(code) > 1:
            raise _fail(source, text, code, f"指标编码 {code} 重复", occurrence=2)
    total = sum((i.weight for i in indicators), Decimal(0))
    if total != 100:
        raise RubricError(f"{source}：各指标分值之和为 {total}，应为 100")
    grades = tuple(sorted((Grade(Decimal(g["min"]), g["label"]) for g in data["grades"]),
                          key=lambda g: g.min, reverse=True))
    if not grades or grades[-1].min != 0:
        raise RubricError(f"{source}：等级划分须包含下限为 0 的最低等级")
    deadline = data["deadline"]
    try:
        dt.date(int(data["year"]) + deadline.get("year_offset", 0), deadline["month"], deadline["day"])
    except (KeyError, ValueError, TypeError) as exc:
        raise RubricError(f"{source}：deadline 应形如 {{ year_offset = 1, month = 6, day = 20 }}") from exc
    return Rubric(
        id=data["id"], name=data["name"], year=int(data["year"]), deadline_rule=deadline,
        grades=grades, indicators=tuple(indicators), source=source,
        notice=_notice(data.get("notice"), source, text), sections=secs,
    )


def _own_sections(raw: object, source: str, text: str) -> tuple[Section, ...]:
    """A form's own `[[section]]` / `[[section.field]]` tables (the shape of fields.toml), used
    instead of the built-in field list (spec §12)."""
    try:
        return parse_sections(raw)
    except FieldsError as exc:
        lines = [n for n, ln in enumerate(text.splitlines(), 1)
                 if exc.key and re.match(rf'\s*key\s*=\s*"{re.escape(exc.key)}"', ln)]
        line = lines[min(exc.occurrence, len(lines)) - 1] if lines else \
            next((n for n, ln in enumerate(text.splitlines(), 1) if ln.strip() == "[[section]]"), 1)
        raise RubricError(f"{source} 第 {line} 行：{exc}") from None


def builtin_ids() -> list[str]:
    """The built-in forms' ids: the TOML files of perfxl/spec/rubrics (not their `.checks.toml`)."""
    return sorted(p.name[:-5] for p in resources.files("perfxl.spec.rubrics").iterdir()
                  if p.name.endswith(".toml") and not p.name.endswith(".checks.toml"))


@cache
def load_rubric(ref: str = "gd-dept-2020") -> Rubric:
    """A rubric by built-in id or by path to a TOML file."""
    if ref in builtin_ids():
        res = resources.files("perfxl.spec.rubrics").joinpath(f"{ref}.toml")
        return parse_rubric(res.read_text("utf-8"), f"{ref}.toml")
    path = Path(ref)
    if not path.is_file():
        raise RubricError(f"找不到指标体系 {ref!r}：既不是内置编号（{', '.join(builtin_ids())}）也不是文件")
    return parse_rubric(path.read_text("utf-8"), str(path))
