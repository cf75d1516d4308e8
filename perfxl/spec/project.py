"""The project form (spec §13, 项目支出绩效自评表): `ProjectForm`, loaded from `forms/<id>.toml`.

A project form has no fixed indicator list: each project sheet carries the unit's own indicators
(产出 / 效益 / 满意度 with 指标性质 ≥ ≤ = 定性). What the form fixes is the sheet's other fields, the
预算执行率 weight, the 一级 split the weights should follow, the 执行率 caps, the choice lists and the
indicator table's columns. It offers what generic code asks of a rubric (id, name, year, deadline,
grades, hash, notice, fields, sections), so the batch, `_meta`, lateness and the roster work alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, cached_property
from importlib import resources

from perfxl.spec.fields import FIELD_TYPES, Field, Section
from perfxl.spec.rubric import Grade, Graded, Notice, RubricError, _notice, builtin_ids

PROJECT_KIND = "项目支出"
#: a 分值 or 自评得分 of the project sheet: read as typed, judged by the checks (not in fields.FIELD_TYPES)
SCORE_TYPE = "score"
#: model.PROJECT_COLUMNS, in template order (spec §13)
COLUMN_KEYS = ("level1", "level2", "name", "direction", "target", "unit", "actual", "weight", "self_score", "reason")


@dataclass(frozen=True)
class Place:
    """Where the label fallback finds a field whose label is not beside its cell: in the row whose
    text is one of `row`, the cell under the column headed one of `column` (the funds grid), or the
    cell right of one of `label` in that row."""

    row: tuple[str, ...]
    column: tuple[str, ...] = ()
    label: tuple[str, ...] = ()


@dataclass(frozen=True)
class Level1:
    """一级指标: its name, the weight the form gives it (weight-split), its 二级指标 in order."""

    name: str
    weight: Decimal
    level2: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Direction:
    """指标性质: the symbol written in the sheet (≥ ≤ = 定性), its name and meaning, and what units write instead."""

    symbol: str
    name: str
    meaning: str
    aliases: tuple[str, ...] = ()

    @property
    def qualitative(self) -> bool:
        return self.symbol == "定性"


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True)
class ProjectForm(Graded):
    """The project form of spec §13: one project a sheet, the unit's own indicators."""

    id: str
    name: str
    year: int
    deadline_rule: dict
    grades: tuple[Grade, ...]
    sections: tuple[Section, ...]
    exec_weight: Decimal
    levels: tuple[Level1, ...]
    #: (execution rate below which the cap applies, as a fraction; the cap), highest rate first
    caps: tuple[tuple[Decimal, Decimal], ...]
    directions_spec: tuple[Direction, ...]
    #: indicator-table column key -> header texts, the first as the template prints it
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    #: field key -> where the label fallback looks (fields whose label is not beside the cell)
    places: tuple[tuple[str, Place], ...] = ()
    max_rows: int = 30
    exec_label: str = "预算执行率"
    notice: Notice | None = None
    source: str = ""
    kind: str = PROJECT_KIND
    #: generic code walks a rubric's indicators: a project form's are each sheet's own
    indicators: tuple = ()

    # -- what generic code asks of a rubric ---------------------------------------------------

    @cached_property
    def fields(self) -> dict[str, Field]:
        """The project sheet's header, funds and text fields by key, in template order."""
        return {f.key: f for s in self.sections for f in s.fields}

    @cached_property  # a form does not change once made; every file's _meta is compared with it
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of what scores (spec §2): id, kind, grades, the 预算执行率
        weight, the 一级 split with its 二级 lists, the caps and the 指标性质 symbols; not the
        labels, hints, aliases or notice."""
        core = {
            "id": self.id, "kind": self.kind, "grades": [[g.min, g.label] for g in self.grades],
            "exec_weight": self.exec_weight,
            "split": [[lv.name, lv.weight, list(lv.level2)] for lv in self.levels],
            "caps": [list(c) for c in self.caps], "directions": [d.symbol for d in self.directions_spec],
        }
        text = json.dumps(core, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def content_hash(self) -> str:
        """SHA-256 of everything the form says, descriptive parts too (what outputs depend on)."""
        text = repr((self.hash, self.name, self.year, self.deadline_rule, self.sections, self.places,
                     self.columns, self.directions_spec, self.levels, self.notice, self.max_rows))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def summary(self) -> str:
        """One line a clerk reads: what this form is (`perfxl form check proj-2020`)."""
        split = "、".join(f"{lv.name[:-2] if lv.name.endswith('指标') else lv.name} {lv.weight:f}" for lv in self.levels)
        return (f"表单 {self.id}「{self.name}」：{self.kind}，{self.year} 年度，报送截止 {self.deadline(self.year).isoformat()}；"
                f"每个项目一张工作表，字段 {len(self.fields)} 个，绩效指标由单位填写（模板 {self.max_rows} 行，可插入），"
                f"{self.exec_label} {self.exec_weight:f} 分，{split}")

    # -- the project specifics ----------------------------------------------------------------

    @property
    def split(self) -> tuple[tuple[str, Decimal], ...]:
        """(一级指标, weight) as the form splits the 100 points besides 预算执行率: 产出 50, 效益 30, 满意度 10."""
        return tuple((lv.name, lv.weight) for lv in self.levels)

    @property
    def level1(self) -> tuple[str, ...]:
        """The 一级指标 choice list."""
        return tuple(lv.name for lv in self.levels)

    @property
    def level2(self) -> tuple[str, ...]:
        """The 二级指标 choice list, grouped by 一级 in order."""
        return tuple(name for lv in self.levels for name in lv.level2)

    @property
    def directions(self) -> tuple[str, ...]:
        """The 指标性质 choice list: ≥ ≤ = 定性."""
        return tuple(d.symbol for d in self.directions_spec)

    @cached_property
    def _direction_words(self) -> dict[str, str]:
        """Folded symbol, name or alias -> symbol, the first direction's winning (as it is tried first)."""
        out: dict[str, str] = {}
        for d in self.directions_spec:
            for a in (d.symbol, d.name, *d.aliases):
                out.setdefault(_fold(a), d.symbol)
        return out

    @cached_property
    def _level1_words(self) -> dict[str, str]:
        """Folded 一级 name or alias -> name, the first 一级's winning."""
        out: dict[str, str] = {}
        for lv in self.levels:
            for a in (lv.name, *lv.aliases):
                out.setdefault(_fold(a), lv.name)
        return out

    def direction_of(self, text: object) -> str | None:
        """The 指标性质 symbol a typed text means (`>=`, 正向, ＞＝ → ≥), None when none."""
        if not isinstance(text, str):
            return None
        return self._direction_words.get(_fold(text))

    def level1_of(self, text: object) -> str | None:
        """The 一级指标 a typed text means (产出 → 产出指标), None when none."""
        if not isinstance(text, str):
            return None
        return self._level1_words.get(_fold(text))

    def level2_of(self, text: object) -> tuple[str, str] | None:
        """(一级, 二级) a typed 二级指标 means (数量 → 产出指标/数量指标), None when none."""
        if not isinstance(text, str):
            return None
        folded = _fold(text).removesuffix("指标")
        for lv in self.levels:
            for name in lv.level2:
                if folded and folded == name.removesuffix("指标"):
                    return lv.name, name
        return None

    def cap_for(self, rate: Decimal) -> Decimal | None:
        """The cap on a reviewed total at this execution rate (a fraction): the lowest whose
        threshold the rate is below; None when no cap bites."""
        caps = [cap for below, cap in self.caps if rate < below]
        return min(caps) if caps else None

    @cached_property
    def _headers(self) -> dict[str, tuple[str, ...]]:
        return dict(self.columns)

    @cached_property
    def _places(self) -> dict[str, Place]:
        return dict(self.places)

    def headers(self, key: str) -> tuple[str, ...]:
        """The header texts of an indicator-table column, the template's first."""
        return self._headers[key]

    def place(self, key: str) -> Place | None:
        return self._places.get(key)


# -- loading -----------------------------------------------------------------------------------

_CAP = re.compile(r"^(?P<rate>\d+(?:\.\d+)?)%[:：](?P<cap>\d+(?:\.\d+)?)$")


def parse_caps(text: str) -> tuple[tuple[Decimal, Decimal], ...]:
    """`80%:89；70%:79` -> ((0.80, 89), (0.70, 79)), highest rate first; ValueError naming a bad item."""
    out = []
    for item in re.split(r"[；;]", _fold(text)):
        if not item:
            continue
        m = _CAP.match(item)
        if m is None:
            raise ValueError(f"执行率封顶“{item}”应写成 执行率%:封顶分，如 80%:89")
        out.append((Decimal(m["rate"]) / 100, Decimal(m["cap"])))
    return tuple(sorted(out, key=lambda c: c[0], reverse=True))


def _texts(raw: object, what: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        raise ValueError(f"{what} 应为文字或文字列表")
    return tuple(raw)


def _decimal(raw: object, what: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"{what} 应为数字") from exc
    if isinstance(raw, bool) or not value.is_finite() or value < 0:
        raise ValueError(f"{what} 应为不小于 0 的数字")
    return value


def _sections(data: dict) -> tuple[tuple[Section, ...], tuple[tuple[str, Place], ...]]:
    sections, places = [], []
    for sec in data.get("section", []):
        fields = []
        for raw in sec.get("field", []):
            key, kind = raw.get("key"), raw.get("type")
            if kind not in (*FIELD_TYPES, SCORE_TYPE):
                raise ValueError(f"字段 {key} 的类型 {kind!r} 未知")
            fields.append(Field(key=key, label=raw["label"], type=kind, required=raw.get("required", False),
                                unit=raw.get("unit", ""), prefix=raw.get("prefix", ""),
                                aliases=tuple(raw.get("aliases", ())), choices=tuple(raw.get("choices", ())),
                                hint=raw.get("hint", ""), section=sec["title"]))
            if "place" in raw:
                p = raw["place"]
                place = Place(_texts(p["row"], f"{key} 的 place.row"), _texts(p.get("column", []), f"{key} 的 place.column"),
                              _texts(p.get("label", []), f"{key} 的 place.label"))
                if bool(place.column) == bool(place.label):
                    raise ValueError(f"字段 {key} 的 place 须有 column 或 label 之一")
                places.append((key, place))
        sections.append(Section(sec["title"], tuple(fields)))
    keys = [f.key for s in sections for f in s.fields]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"字段 {key} 重复")
    for key in ("project_name", "unit_code", "unit_name", "eval_year", "filing_date", "budget_annual", "spent",
                "exec_weight", "exec_score", "exec_reason"):
        if key not in keys:
            raise ValueError(f"缺少字段 {key}")
    return tuple(sections), tuple(places)


def parse_project_form(text: str, source: str = "<form>") -> ProjectForm:
    """Parse and validate a project form's TOML text; RubricError names the source and the problem."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{source}：TOML 格式错误：{exc}") from exc
    try:
        for key in ("id", "name", "year", "deadline", "grades", "execution", "level1", "direction", "columns", "section"):
            if key not in data:
                raise ValueError(f"缺少 {key}")
        if data.get("kind", PROJECT_KIND) != PROJECT_KIND:
            raise ValueError(f"kind 应为 {PROJECT_KIND}")
        grades = tuple(sorted((Grade(_decimal(g["min"], "等级下限"), g["label"]) for g in data["grades"]),
                              key=lambda g: g.min, reverse=True))
        if not grades or grades[-1].min != 0:
            raise ValueError("等级划分须包含下限为 0 的最低等级")
        deadline = data["deadline"]
        dt.date(int(data["year"]) + deadline.get("year_offset", 0), deadline["month"], deadline["day"])
        exec_weight = _decimal(data["execution"]["weight"], "execution.weight")
        levels = tuple(Level1(lv["name"], _decimal(lv["weight"], f"{lv['name']} 的 weight"),
                              _texts(lv["level2"], f"{lv['name']} 的 level2"), tuple(lv.get("aliases", ())))
                       for lv in data["level1"])
        total = exec_weight + sum((lv.weight for lv in levels), Decimal(0))
        if total != 100:
            raise ValueError(f"预算执行率与各一级指标分值之和为 {total:f}，应为 100")
        directions = tuple(Direction(d["symbol"], d["name"], d.get("meaning", ""), tuple(d.get("aliases", ())))
                           for d in data["direction"])
        columns = tuple((key, _texts(data["columns"].get(key), f"columns.{key}")) for key in COLUMN_KEYS)
        sections, places = _sections(data)
        max_rows = int(data.get("max_rows", 30))
        if not 1 <= max_rows <= 200:
            raise ValueError("max_rows 应在 1～200 之间")
        caps = parse_caps(data.get("caps", ""))
    except (KeyError, TypeError, ValueError) as exc:
        what = f"缺少 {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
        raise RubricError(f"{source}：{what}") from exc
    return ProjectForm(
        id=data["id"], name=data["name"], year=int(data["year"]), deadline_rule=deadline, grades=grades,
        sections=sections, exec_weight=exec_weight, levels=levels, caps=caps, directions_spec=directions,
        columns=columns, places=places, max_rows=max_rows, exec_label=data["execution"].get("label", "预算执行率"),
        notice=_notice(data.get("notice"), source, text), source=source,
    )


def project_form_ids() -> list[str]:
    """The ids of the built-in project forms (forms/*.toml)."""
    return sorted(p.name[:-5] for p in resources.files("perfxl.spec.forms").iterdir() if p.name.endswith(".toml"))


def builtin_form_ids() -> list[str]:
    """Every built-in form id, department and project (what `--form` takes besides a file)."""
    return sorted({*builtin_ids(), *project_form_ids()})


@cache
def builtin_project_form(form_id: str = "proj-2020") -> ProjectForm:
    """A built-in project form by id; KeyError for an unknown id."""
    if form_id not in project_form_ids():
        raise KeyError(form_id)
    res = resources.files("perfxl.spec.forms").joinpath(f"{form_id}.toml")
    return parse_project_form(res.read_text("utf-8"), f"{form_id}.toml")
