"""Forms as data (spec §12): export a form as a form workbook, read one back, load any form by reference.

`export_form` writes 说明/设置/字段/指标/校验; `read_form` reads a workbook made in Excel or WPS into a
Form and lists every problem at once; `load_form` takes what `--form` takes: a built-in id, a
form workbook or a rubric TOML file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from perfxl.spec.fields import Field, Section
from perfxl.spec.form import Check, Form, Problem, builtin_form, toml_form
from perfxl.spec.formbook_read import read_form
from perfxl.spec.project import ProjectForm, builtin_form_ids, builtin_project_form, parse_project_form, project_form_ids
from perfxl.spec.rubric import Rubric, RubricError, builtin_ids

__all__ = ["WORKBOOK_SUFFIXES", "FormNotFound", "export_form", "load_form", "read_form", "write_form"]


def write_form(form: Form, path: Path | str) -> None:
    """A form as a form workbook (perfxl.spec.formbook_export.write_form). Imported when used:
    xlsxwriter is 70 ms of every check's start-up otherwise."""
    from perfxl.spec.formbook_export import write_form as write

    write(form, path)

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et", ".xlsb")


class FormNotFound(Exception):
    """Neither a built-in id nor an existing file; the message says which ids there are."""


def export_form(rubric: Rubric, fields: Iterable[Section] | Mapping[str, Field], path: Path | str,
                checks: Iterable[Check] = (), kind: str = "部门整体") -> None:
    """Write a rubric with its fields (sections, or fields by key) and checks as a form workbook."""
    if isinstance(fields, Mapping):
        groups: dict[str, list[Field]] = {}
        for f in fields.values():
            groups.setdefault(f.section, []).append(f)
        sections = tuple(Section(title, tuple(fs)) for title, fs in groups.items())
    else:
        sections = tuple(fields)
    write_form(Form(rubric=rubric, sections=sections, checks=tuple(checks), kind=kind), path)


def load_form(ref: str | Path) -> tuple[Form | ProjectForm | None, list[Problem]]:
    """A form by built-in id (a project form's too: a ProjectForm, spec §13), form workbook or rubric
    TOML (with optional [[check]] tables), and its problems; the Form is None when a problem is an
    error. Raises FormNotFound for a missing file."""
    text = str(ref)
    if text in builtin_ids():
        return builtin_form(text), []
    if text in project_form_ids():
        return builtin_project_form(text), []
    path = Path(ref)
    if not path.is_file():
        raise FormNotFound(f"找不到表单 {text}：既不是内置编号（{'、'.join(builtin_form_ids())}）也不是文件")
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return read_form(path)
    if path.suffix.lower() != ".toml":
        return None, [Problem(f"{path.name} 不是表单：表单应为表单工作簿（.xlsx）或 TOML 文件（.toml），"
                              "可用 perfxl form export gd-dept-2020 -o 表单.xlsx 导出一份作为起点")]
    try:
        source = path.read_text("utf-8")
    except UnicodeDecodeError:
        return None, [Problem(f"{path.name} 不是 UTF-8 编码的文本，请用 UTF-8 保存")]
    if _is_project_toml(source):  # a project form (spec §13) of the bureau's own: proj-2020.toml's shape
        try:
            return parse_project_form(source, str(path)), []
        except RubricError as exc:
            return None, [Problem(str(exc))]
    # its own [[section]] fields when it has them (else the built-in list), [[check]] rows, [level1]
    return toml_form(source, str(path))


def _is_project_toml(text: str) -> bool:
    try:
        return tomllib.loads(text).get("kind") == "项目支出"
    except tomllib.TOMLDecodeError:
        return False  # toml_form says what is wrong with it
