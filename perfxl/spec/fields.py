"""The field list of 基础数据表 (spec §3.1), loaded from `fields.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

FIELD_TYPES = ("text", "code", "choice", "year", "date", "int", "money", "percent", "longtext")


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


@cache
def sections() -> tuple[Section, ...]:
    """The sections of 基础数据表 in template order."""
    data = tomllib.loads(resources.files("perfxl.spec").joinpath("fields.toml").read_text("utf-8"))
    out = []
    for sec in data["section"]:
        fields = []
        for raw in sec["field"]:
            kind = raw["type"]
            if kind not in FIELD_TYPES:
                raise ValueError(f"fields.toml: field {raw['key']}: unknown type {kind!r}")
            fields.append(
                Field(
                    key=raw["key"],
                    label=raw["label"],
                    type=kind,
                    required=raw.get("required", False),
                    unit=raw.get("unit", ""),
                    prefix=raw.get("prefix", ""),
                    aliases=tuple(raw.get("aliases", ())),
                    choices=tuple(raw.get("choices", ())),
                    hint=raw.get("hint", ""),
                    section=sec["title"],
                )
            )
        out.append(Section(sec["title"], tuple(fields)))
    return tuple(out)


@cache
def fields() -> dict[str, Field]:
    """All fields by key, in template order."""
    return {f.key: f for s in sections() for f in s.fields}
