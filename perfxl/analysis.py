"""A run's results.json as pandas DataFrames, for analysts (`pip install "perfxl[analysis]"`).

The only module that imports pandas: the command line never imports it (its import costs every
command ~0.3 s), so nothing outside this file may import `perfxl.analysis`.

    run = load("输出")                                  # files, indicators, findings, not_submitted
    years = load_years({2020: "输出2020", 2021: "输出2021"})
    deduction_rates(years)                               # per indicator and year: who lost points

Only results.json is read (spec §8): it exists only when a run finished. Identifiers stay
strings ("0440800001" keeps its zero), scores and money are float64 with NaN for 不适用, 无法计算
and blanks, rates are fractions, dates datetime64, and status, severity and grades ordered
categoricals so that sorting and grouping follow the form's order, not the alphabet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from perfxl.findings import CATALOGUE
from perfxl.spec.fields import Field
from perfxl.spec.fields import fields as field_specs
from perfxl.spec.rubric import Rubric, RubricError, builtin_ids, load_rubric

STATUSES = ("reviewed", "error", "unreadable", "duplicate", "ignored")
SEVERITIES = ("error", "warning", "info")
GRADES = ("优秀", "良好", "中", "差")  # spec §4.2; a rubric's own bands replace them when it is known
#: the statuses whose scores count in deduction_rates: read and scored (an `error` file keeps its
#: scores, spec §4.3); duplicates would count a unit twice, unreadable files have none
SCORED = ("reviewed", "error")

# column -> kind; "grade", "status" and "severity" are the ordered categoricals above
FILE_COLUMNS = {
    "year": "int", "unit_code": "str", "unit_name": "str", "department": "str", "file": "str",
    "status": "status", "status_label": "str", "format": "str",
    "self_total": "float", "reviewed_total": "float", "self_grade": "grade", "reviewed_grade": "grade",
    "rescaled": "bool", "errors": "int", "warnings": "int", "deadline": "date", "sha256": "str", "form": "str",
}
INDICATOR_COLUMNS = {
    "year": "int", "unit_code": "str", "file": "str", "status": "status", "form": "str", "code": "str",
    "level1": "str", "level2": "str", "name": "str", "weight": "float",
    "value": "float", "self_score": "float", "reviewed_score": "float",
    "applicable": "bool", "reason": "str", "manual": "bool", "adjusted": "bool",
}
FINDING_COLUMNS = {
    "year": "int", "level": "str", "unit_code": "str", "file": "str", "code": "str", "name": "str",
    "severity": "severity", "sheet": "str", "cell": "str", "cells": "str", "message": "str", "reply": "str",
}
#: a project file's projects (spec §13 results.json `projects`), one row a project
PROJECT_COLUMNS = {
    "year": "int", "unit_code": "str", "unit_name": "str", "file": "str", "status": "status", "form": "str",
    "sheet": "str", "project_name": "str", "budget_annual": "float", "spent": "float", "execution_rate": "float",
    "execution_self_score": "float", "execution_score": "float", "self_total": "float", "reviewed_total": "float",
    "self_grade": "grade", "reviewed_grade": "grade", "capped_by_execution": "bool",
}
#: one row an indicator of a project; 年度指标值 and 实际完成值 as the unit wrote them (text)
PROJECT_INDICATOR_COLUMNS = {
    "year": "int", "unit_code": "str", "file": "str", "status": "status", "sheet": "str", "project_name": "str",
    "row": "int", "level1": "str", "level2": "str", "name": "str", "direction": "str", "target": "str",
    "actual": "str", "unit": "str", "weight": "float", "self_score": "float", "reviewed_score": "float",
    "applicable": "bool",
}
NOT_SUBMITTED_COLUMNS = {"year": "int", "unit_code": "str", "unit_name": "str", "department": "str"}
#: field type (fields.toml) -> column kind; counts stay integers (nullable), money and rates floats
FIELD_KINDS = {"text": "str", "code": "str", "choice": "str", "longtext": "str", "year": "int",
               "int": "int", "money": "float", "percent": "float", "date": "date"}


class AnalysisError(Exception):
    """results.json missing, unreadable or of another shape; the message (Chinese) names the path."""


@dataclass(frozen=True, eq=False)
class Run:
    """One round, or several stacked by load_years, as DataFrames with a `year` column each."""

    files: pd.DataFrame
    indicators: pd.DataFrame
    findings: pd.DataFrame
    not_submitted: pd.DataFrame
    #: the project files' projects and their indicators (spec §13); empty without project files
    projects: pd.DataFrame
    project_indicators: pd.DataFrame


def load(out_dir: str | Path, rubric: str | Path | Rubric | None = None) -> Run:
    """The run in `out_dir` (or a results.json path) as DataFrames.

    `rubric` (id, TOML path or Rubric) names the indicators and gives their weights when the
    run used a rubric that is not built in; a built-in one is found by the id in results.json."""
    path, doc = _read(Path(out_dir))
    return _build([(doc["year"], path, doc, _rubric(doc, rubric, path))])


def load_years(out_dirs: Mapping[int, str | Path], rubric=None) -> Run:
    """Several rounds, e.g. {2020: "输出2020", 2021: "输出2021"}, stacked in year order.

    Each folder's results.json must be of the year it is given for, so that a trend is never
    drawn from a mislabelled round. `rubric`: as in load, or a mapping year -> rubric."""
    rounds = []
    for year in sorted(out_dirs):
        path, doc = _read(Path(out_dirs[year]))
        if doc["year"] != year:
            raise AnalysisError(f"{path} 是 {doc['year']} 年度的结果，却被指定为 {year} 年度，请核对文件夹与年度的对应关系")
        given = rubric.get(year) if isinstance(rubric, Mapping) else rubric
        rounds.append((year, path, doc, _rubric(doc, given, path)))
    return _build(rounds)


def deduction_rates(run: Run, statuses: tuple[str, ...] = SCORED) -> pd.DataFrame:
    """Per year and indicator: units scored, units that lost points, their share, mean points lost.

    Counts applicable indicators with a reviewed score in files of `statuses`; points lost =
    weight − reviewed score, and `mean_lost` averages it over all units scored (not only those
    that lost points), so that share_lost × the loss of those who lost = mean_lost. Per form too:
    two department forms' indicators are never mixed (their codes may coincide)."""
    ind = run.indicators
    scored = ind[ind["status"].isin(statuses) & ind["applicable"].fillna(False).astype(bool)
                 & ind["reviewed_score"].notna()]
    if scored["weight"].isna().any():
        raise AnalysisError("缺少指标分值，无法计算扣分：结果文件所用的指标体系不是内置的，"
                            "请在 load(…, rubric=\"指标体系文件.toml\") 中指定它")
    # rounded to the cent, as scores are (spec §4.2), so that float noise is never a deduction
    lost = (scored["weight"] - scored["reviewed_score"]).clip(lower=0).round(2)
    keys = ["year", "form", "code"] if scored["form"].notna().all() else ["year", "code"]  # results of 0.2 lack "form"
    grouped = scored.assign(points_lost=lost, lost=lost > 0).groupby(keys, sort=False, observed=True)
    out = grouped.agg(level1=("level1", "first"), level2=("level2", "first"), name=("name", "first"),
                      weight=("weight", "first"), units=("points_lost", "size"),
                      units_lost=("lost", "sum"), mean_lost=("points_lost", "mean")).reset_index()
    out["units_lost"] = out["units_lost"].astype("int64")
    out.insert(out.columns.get_loc("mean_lost"), "share_lost", out["units_lost"] / out["units"])
    return out.sort_values("year", kind="stable", ignore_index=True)


# --- reading -------------------------------------------------------------------------------

def _read(path: Path) -> tuple[Path, dict]:
    """results.json of an output folder (or the file itself), checked for its shape."""
    if path.is_dir():
        path = path / "results.json"
        if not path.is_file():
            folder = path.parent
            if (folder / ".perfxl").is_dir() or (folder / "summary.xlsx").is_file():
                raise AnalysisError(f"{folder} 中没有 results.json：这次运行没有完成（中途失败或被中断），"
                                    "请重新运行 perfxl run 后再读取")
            raise AnalysisError(f"{folder} 中没有 results.json：这不是 perfxl run 的输出文件夹，"
                                "请指定 perfxl run --out 写入的文件夹")
    elif not path.exists():
        raise AnalysisError(f"找不到 {path}：请指定 perfxl run --out 写入的输出文件夹")
    try:
        doc = json.loads(path.read_text("utf-8"))
    except UnicodeDecodeError:
        raise AnalysisError(f"{path} 不是 UTF-8 编码的 results.json，可能被其他程序改动过，请重新运行 perfxl run") from None
    except json.JSONDecodeError as e:
        raise AnalysisError(f"{path} 第 {e.lineno} 行第 {e.colno} 列不是有效的 JSON：文件可能不完整或被改动过，"
                            "请重新运行 perfxl run") from None
    except OSError as e:
        raise AnalysisError(f"无法读取 {path}：{'没有读取权限' if isinstance(e, PermissionError) else e.strerror}") from None
    _check_shape(doc, path)
    return path, doc


def _check_shape(doc: object, path: Path) -> None:
    def wrong(what: str) -> AnalysisError:
        return AnalysisError(f"{path} 不是 perfxl 生成的 results.json（{what}），请指定 perfxl run 的输出文件夹")

    def dicts(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)

    if not isinstance(doc, dict):
        raise wrong("内容不是一个对象")
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise wrong("缺少评价年度 year")
    if not isinstance(doc.get("rubric"), str | None) or not isinstance(doc.get("deadline"), str | None):
        raise wrong("rubric 或 deadline 不是文字")
    if not dicts(doc.get("files")):
        raise wrong("缺少文件列表 files")
    for key in ("not_submitted", "findings"):
        if not dicts(doc.get(key, [])):
            raise wrong(f"{key} 不是对象列表")
    for n, entry in enumerate(doc["files"], 1):
        if not isinstance(entry.get("file"), str) or not isinstance(entry.get("status"), str):
            raise wrong(f"files 第 {n} 项缺少 file 或 status")
        if not isinstance(entry.get("fields") or {}, dict):
            raise wrong(f"files 第 {n} 项的 fields 不是对象")
        for key in ("indicators", "findings"):
            if not dicts(entry.get(key) or []):
                raise wrong(f"files 第 {n} 项的 {key} 不是对象列表")


def _rubric(doc: dict, given: str | Path | Rubric | None, path: Path) -> Rubric | None:
    """The run's rubric: the one given, else the built-in one results.json names, else None."""
    name = doc.get("rubric")
    if given is None:
        return load_rubric(name) if name in builtin_ids() else None
    try:
        rubric = given if isinstance(given, Rubric) else load_rubric(str(given))
    except RubricError as e:
        raise AnalysisError(str(e)) from None
    if name is not None and rubric.id != name:
        raise AnalysisError(f"{path} 是按指标体系 {name} 复核的，指定的指标体系却是 {rubric.id}，请指定同一个指标体系")
    return rubric


# --- building --------------------------------------------------------------------------------

def _build(rounds: list[tuple[int, Path, dict, Rubric | None]]) -> Run:
    """All rounds' rows, then one conversion, so that stacked categoricals share categories."""
    files, indicators, findings, missing = [], [], [], []
    # each round's own form's fields (spec §12); the built-in list when its form is not known
    kinds: dict[str, Field] = {}
    for *_, rubric in rounds:
        kinds |= {k: f for k, f in (rubric.fields if rubric else field_specs()).items() if k not in kinds}
    field_keys: dict[str, None] = dict.fromkeys(k for k in kinds if k not in FILE_COLUMNS)
    grades: dict[str, None] = {}
    projects: list[dict] = []
    project_rows: list[dict] = []
    for year, _path, doc, rubric in rounds:
        grades |= dict.fromkeys(rubric.grade_labels if rubric else GRADES)
        for entry in doc["files"]:
            # each file by its own form (spec §12): a batch may hold several
            form = _form_rubric(entry.get("form"), rubric)
            specs = {i.code: i for i in form.indicators} if form else {}
            head = {"year": year, "deadline": doc.get("deadline"), "unit_code": entry.get("unit_code"), "file": entry["file"],
                    "status": entry["status"], "form": entry.get("form") or doc.get("rubric")}
            fields = entry.get("fields") or {}
            field_keys |= dict.fromkeys(k for k in fields if k not in FILE_COLUMNS)
            files.append({**{k: fields.get(k) for k in field_keys}, **entry, **head})
            for project in entry.get("projects") or []:
                if not isinstance(project, dict):
                    continue
                at = {"sheet": project.get("sheet"), "project_name": project.get("project_name")}
                projects.append({**project, "unit_name": entry.get("unit_name"), **head})
                project_rows.extend({**ind, **at, **head} for ind in project.get("indicators") or [] if isinstance(ind, dict))
            for ind in entry.get("indicators") or []:
                spec = specs.get(ind.get("code")) if isinstance(ind.get("code"), str) else None
                meta = {"level1": spec.level1, "level2": spec.level2, "name": spec.name, "weight": float(spec.weight)} if spec else {}
                indicators.append({**ind, **meta, **head})
            for f in entry.get("findings") or []:
                findings.append(_finding(f, year, "file", head["unit_code"], head["file"]))
        for f in doc.get("findings", []):
            findings.append(_finding(f, year, "batch", f.get("unit_code"), f.get("file")))
        missing.extend({**unit, "year": year} for unit in doc.get("not_submitted", []))
    file_columns = FILE_COLUMNS | {k: _field_kind(k, files, kinds) for k in field_keys}
    return Run(files=_frame(files, file_columns, grades), indicators=_frame(indicators, INDICATOR_COLUMNS, grades),
               findings=_frame(findings, FINDING_COLUMNS, grades), not_submitted=_frame(missing, NOT_SUBMITTED_COLUMNS, grades),
               projects=_frame(projects, PROJECT_COLUMNS, grades),
               project_indicators=_frame(project_rows, PROJECT_INDICATOR_COLUMNS, grades))


def _form_rubric(form_id: object, rubric: Rubric | None) -> Rubric | None:
    """The department form a file was read by: the round's (given or named) one, another built-in
    one, or None (the project form has no fixed indicators; a form not built in is not known)."""
    if rubric is not None and form_id in (None, rubric.id):
        return rubric
    return load_rubric(form_id) if isinstance(form_id, str) and form_id in builtin_ids() else None


def _finding(f: dict, year: int, level: str, unit_code: object, file: object) -> dict:
    code, cells = f.get("code"), f.get("cells")
    name = CATALOGUE[code][1] if isinstance(code, str) and code in CATALOGUE else None
    joined = ",".join(map(str, cells)) if isinstance(cells, list) and cells else None
    return {**f, "year": year, "level": level, "unit_code": unit_code, "file": file, "name": name, "cells": joined}


def _field_kind(key: str, rows: list[dict], specs: Mapping[str, Field]) -> str:
    """A field's column kind from its form's field list; a key it does not know is a number column
    only when every value is a number (a code typed as digits must stay text)."""
    if key in specs:
        return FIELD_KINDS.get(specs[key].type, "str")
    values = [r.get(key) for r in rows if r.get(key) is not None]
    numeric = values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return "float" if numeric else "str"


def _frame(rows: list[dict], columns: dict[str, str], grades: dict[str, None]) -> pd.DataFrame:
    orders = {"status": STATUSES, "severity": SEVERITIES, "grade": tuple(grades)}
    data = {name: _column([r.get(name) for r in rows], kind, orders) for name, kind in columns.items()}
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _column(values: list, kind: str, orders: dict[str, tuple[str, ...]]):
    if kind == "str":
        return pd.array([None if v is None else str(v) for v in values], dtype="string")
    if kind == "bool":
        return pd.array([v if isinstance(v, bool) else None for v in values], dtype="boolean")
    if kind == "date":
        text = pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)
        # one resolution whatever pandas infers (it varies with the values and the version)
        return pd.to_datetime(text, format="ISO8601", errors="coerce").astype("datetime64[us]").to_numpy()
    if kind in orders:
        text = [v if isinstance(v, str) else None for v in values]
        # values outside the known order (a future status, a bureau's own grade) go last, never lost
        known = list(orders[kind]) + sorted({v for v in text if v is not None} - set(orders[kind]))
        return pd.Categorical(text, categories=known, ordered=True)
    numbers = pd.to_numeric(pd.Series([None if isinstance(v, bool) else v for v in values], dtype=object),
                            errors="coerce").astype("float64")
    if kind == "int" and numbers.dropna().mod(1).eq(0).all():
        return numbers.astype("Int64").array
    return numbers.to_numpy()
