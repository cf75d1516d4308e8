"""Load and validate a rubric (指标体系) file -> `Rubric` (spec §4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from perfxl.fields import fields

RULE_KINDS = ("manual", "bands", "linear", "days_within", "days_late")
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
        keys: list[str] = []
        for part in VALUE_KINDS[self.value["kind"]]:
            got = self.value[part]
            keys.extend(got if isinstance(got, list) else [got])
        return tuple(keys)

    @property
    def is_rate(self) -> bool:
        return self.value is not None and self.value["kind"] not in ("days_between", "days_late")


@dataclass(frozen=True)
class Grade:
    min: Decimal
    label: str


@dataclass(frozen=True)
class Rubric:
    id: str
    name: str
    year: int
    deadline_rule: dict
    grades: tuple[Grade, ...]
    indicators: tuple[Indicator, ...]
    source: str

    def indicator(self, code: str) -> Indicator:
        return next(i for i in self.indicators if i.code == code)

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

    @property
    def level1_groups(self) -> list[tuple[str, list[Indicator]]]:
        groups: dict[str, list[Indicator]] = {}
        for ind in self.indicators:
            groups.setdefault(ind.level1, []).append(ind)
        return list(groups.items())

    @property
    def total_weight(self) -> Decimal:
        return sum((i.weight for i in self.indicators), Decimal(0))

    @property
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


def _check_indicator(raw: dict, source: str, text: str, known: set[str]) -> Indicator:
    code = raw.get("code")
    for key in ("code", "level1", "level2", "name", "weight", "criteria", "rule"):
        if key not in raw:
            raise _fail(source, text, code, f"指标 {code or '?'} 缺少 {key}")
    rule, value = raw["rule"], raw.get("value")
    kind = rule.get("kind")
    if kind not in RULE_KINDS:
        raise _fail(source, text, code, f"指标 {code} 的规则类型 {kind!r} 未知，可用：{', '.join(RULE_KINDS)}")
    weight = Decimal(raw["weight"])
    if weight <= 0:
        raise _fail(source, text, code, f"指标 {code} 的分值必须大于 0")
    if kind == "manual":
        if value is not None:
            raise _fail(source, text, code, f"人工评分指标 {code} 不应有 value 公式")
        items = rule.get("items", [])
        if items and sum(Decimal(p) for _, p in items) != weight:
            raise _fail(source, text, code, f"指标 {code} 的评分要点分值之和不等于分值 {weight}")
    else:
        if value is None or value.get("kind") not in VALUE_KINDS:
            raise _fail(source, text, code, f"指标 {code} 缺少 value 公式或公式类型未知，可用：{', '.join(VALUE_KINDS)}")
        for part in VALUE_KINDS[value["kind"]]:
            if part not in value:
                raise _fail(source, text, code, f"指标 {code} 的公式缺少 {part}")
            for key in value[part] if isinstance(value[part], list) else [value[part]]:
                if key not in known:
                    raise _fail(source, text, code, f"指标 {code} 引用了未知字段 {key!r}")
        needs = {"bands": ("bands",), "linear": ("target", "side", "per_point"),
                 "days_within": ("days",), "days_late": ("per_day",)}[kind]
        for param in needs:
            if param not in rule:
                raise _fail(source, text, code, f"指标 {code} 的规则 {kind} 缺少参数 {param}")
        if kind == "linear" and rule["side"] not in ("above", "below"):
            raise _fail(source, text, code, f"指标 {code} 的 side 应为 above 或 below")
        if kind == "bands":
            for _bound, points in rule["bands"]:
                if Decimal(points) > weight:
                    raise _fail(source, text, code, f"指标 {code} 的分档得分 {points} 超过分值 {weight}")
    blank = raw.get("blank", "error")
    if blank not in BLANK_KINDS:
        raise _fail(source, text, code, f"指标 {code} 的 blank 应为 {', '.join(BLANK_KINDS)} 之一")
    return Indicator(
        code=code, level1=raw["level1"], level2=raw["level2"], name=raw["name"], weight=weight,
        criteria=raw["criteria"], rule=rule, value=value, blank=blank,
    )


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    """Parse and validate rubric TOML text."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{source}：TOML 格式错误：{exc}") from exc
    for key in ("id", "name", "year", "deadline", "grades", "indicator"):
        if key not in data:
            raise RubricError(f"{source}：缺少 {key}")
    known = set(fields())
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
    )


def builtin_ids() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("perfxl.rubrics").iterdir()
                  if p.name.endswith(".toml"))


@cache
def load_rubric(ref: str = "gd-dept-2020") -> Rubric:
    """A rubric by built-in id or by path to a TOML file."""
    if ref in builtin_ids():
        res = resources.files("perfxl.rubrics").joinpath(f"{ref}.toml")
        return parse_rubric(res.read_text("utf-8"), f"{ref}.toml")
    path = Path(ref)
    if not path.is_file():
        raise RubricError(f"找不到指标体系 {ref!r}：既不是内置编号（{', '.join(builtin_ids())}）也不是文件")
    return parse_rubric(path.read_text("utf-8"), str(path))
