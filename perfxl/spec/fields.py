"""The field list of 基础数据表 (spec §3.1), loaded from `fields.toml`; and the `[[section]]` tables
of any form TOML (the same shape), validated with messages a bureau can act on."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

FIELD_TYPES = ("text", "code", "choice", "year", "date", "int", "money", "percent", "longtext")
#: fields whose roles are fixed (identity, year check, lateness): every form has them, with these types
REQUIRED_FIELDS = {"unit_code": "code", "unit_name": "text", "eval_year": "year", "filing_date": "date"}
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
_QUOTES = "\"'“”‘’「」『』"  # as perfxl.read.values.QUOTES (a layer above)
_FIELD_KEYS = {"key", "label", "type", "required", "unit", "prefix", "aliases", "choices", "hint"}


@dataclass(frozen=True)
class Field:
    """One named input of the basic data sheet."""

    key: str
    label: str
    type: str
    required: bool = False
    unit: str = ""
    prefix: str = ""
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    hint: str = ""
    section: str = ""

    @property
    def display_label(self) -> str:
        """The label as printed in the template, e.g. `其中：行政编制（人）`."""
        unit = f"（{self.unit}）" if self.unit else ""
        return f"{self.prefix}{self.label}{unit}"


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[Field, ...]


class FieldsError(ValueError):
    """A `[[section]]` list that cannot be used; the message (Chinese) names the field; `key` is the
    field key it is about (None: the list as a whole), for the caller to find its line."""

    def __init__(self, message: str, key: str | None = None, occurrence: int = 1) -> None:
        super().__init__(message)
        self.key, self.occurrence = key, occurrence


def _label(text: str) -> str:
    """A label as the reader compares it, roughly (NFKC, no whitespace or quotes, spec §3): two equal
    ones cannot be told apart."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace() and ch not in _QUOTES)


def _strings(raw: dict, name: str, key: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FieldsError(f"字段 {key} 的 {name} 应写成文字列表，如 [\"上年结余\", \"年初结余\"]", key)
    return tuple(value)


def _field(raw: object, title: str, n: int) -> Field:
    if not isinstance(raw, dict):
        raise FieldsError(f"分组“{title}”的第 {n} 个字段应写成 [[section.field]] 表")
    key = raw.get("key")
    if not isinstance(key, str) or not FIELD_KEY.match(key):
        raise FieldsError(f"分组“{title}”的第 {n} 个字段的 key {key!r} 应以小写英文字母开头，只含小写字母、数字和下划线",
                          key if isinstance(key, str) else None)
    if key in ("score_total", "grade_self") or key.startswith(("score_", "note_")):
        raise FieldsError(f"字段键“{key}”与评分表的名称冲突（score_…、note_…、grade_self 留给评分表），请改名", key)
    from perfxl.spec.expr_excel import name_problem  # Excel's own names: tax2020 is a cell

    if (why := name_problem(key)) is not None:
        raise FieldsError(why, key)
    unknown = sorted(set(raw) - _FIELD_KEYS)
    if unknown:
        raise FieldsError(f"字段 {key} 中的 {'、'.join(unknown)} 不认识，可用：{'、'.join(sorted(_FIELD_KEYS))}", key)
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        raise FieldsError(f"字段 {key} 的类型 {kind!r} 不认识，可用：{', '.join(FIELD_TYPES)}", key)
    texts = {name: raw.get(name, "") for name in ("label", "unit", "prefix", "hint")}
    if not all(isinstance(v, str) for v in texts.values()) or not texts["label"].strip():
        raise FieldsError(f"字段 {key} 的 label（名称）不能为空，label、unit、prefix、hint 都应为文字", key)
    if not isinstance(raw.get("required", False), bool):
        raise FieldsError(f"字段 {key} 的 required 应为 true 或 false", key)
    choices = _strings(raw, "choices", key)
    if (kind == "choice") != bool(choices):
        raise FieldsError(f"字段 {key}：类型 choice 须写 choices（可选值），其他类型不写", key)
    return Field(key=key, label=texts["label"], type=kind, required=raw.get("required", False), unit=texts["unit"],
                 prefix=texts["prefix"], aliases=_strings(raw, "aliases", key), choices=choices, hint=texts["hint"],
                 section=title)


def parse_sections(raw: object, own: bool = True) -> tuple[Section, ...]:
    """The `[[section]]` tables of a TOML form (title, `[[section.field]]` …) as Sections; a form's
    own list (`own`) must also have the four fields every form has. Raises FieldsError."""
    if not isinstance(raw, list) or not raw:
        raise FieldsError("section 应写成 [[section]] 表，每个表有 title 和若干 [[section.field]]")
    out, keys, labels = [], set(), {}
    for n, sec in enumerate(raw, 1):
        title = sec.get("title") if isinstance(sec, dict) else None
        if not isinstance(title, str) or not title.strip() or not isinstance(sec.get("field"), list) or not sec["field"]:
            raise FieldsError(f"第 {n} 个 [[section]] 应有 title（分组标题）和至少一个 [[section.field]]")
        fields = tuple(_field(raw_field, title, m) for m, raw_field in enumerate(sec["field"], 1))
        for f in fields:
            if f.key in keys:
                raise FieldsError(f"字段键“{f.key}”重复，字段键不能重复", f.key, occurrence=2)
            keys.add(f.key)
            for text in (f.label, *f.aliases):
                seen = labels.setdefault(_label(text), f.key)
                if seen != f.key:
                    raise FieldsError(f"字段 {f.key} 的“{text}”与字段 {seen} 的名称或别名相同，读取报回文件时无法区分", f.key)
        out.append(Section(title, fields))
    if own:
        by_key = {f.key: f for s in out for f in s.fields}
        for key, kind in REQUIRED_FIELDS.items():
            f = by_key.get(key)
            if f is None or f.type != kind or not f.required:
                raise FieldsError(f"缺少必备字段“{key}”（类型 {kind}，required = true）：每个表单都要有 "
                                  f"{'、'.join(REQUIRED_FIELDS)}", f and key)
    return tuple(out)


@cache
def sections() -> tuple[Section, ...]:
    """The sections of 基础数据表 in template order (the built-in list)."""
    data = tomllib.loads(resources.files("perfxl.spec").joinpath("fields.toml").read_text("utf-8"))
    try:
        return parse_sections(data["section"], own=False)
    except FieldsError as exc:  # ours: a broken built-in list is our bug
        raise ValueError(f"fields.toml: {exc}") from exc


@cache
def fields() -> dict[str, Field]:
    """All fields by key, in template order."""
    return {f.key: f for s in sections() for f in s.fields}
