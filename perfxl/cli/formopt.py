"""`--form` (alias `--rubric`) of template, check and run: the form is loaded before any file is read.

A form with an error stops the command (exit 2) after listing every problem as `perfxl form check`
prints them; its warnings are printed and the command goes on (spec §12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from perfxl.cli.closing import echo

if TYPE_CHECKING:
    from perfxl.spec.form import Form

FormOpt = Annotated[str, typer.Option(
    "--form", "--rubric", metavar="表单",
    help="表单：内置编号（如 gd-dept-2020）、表单工作簿（.xlsx，可由 perfxl form export 导出后修改）"
         "或指标体系 TOML 文件；--rubric 与之相同。")]
FormsOpt = Annotated[list[str] | None, typer.Option(
    "--form", "--rubric", metavar="表单",
    help="表单：内置编号（如 gd-dept-2020、proj-2020）、表单工作簿（.xlsx，可由 perfxl form export 导出后修改）"
         "或指标体系 TOML 文件；可重复给出，每个文件按其模板标识（_meta）中的表单读取；"
         "没有标识的，有项目表而无基础数据表的按项目支出表单，其余按第一个部门整体表单；"
         "--rubric 与之相同。不写时为 gd-dept-2020 和 proj-2020（部门整体支出表和项目支出表）。", show_default=False)]
FORM_HINT = "--form 可填内置编号（如 gd-dept-2020）、表单工作簿（.xlsx）或指标体系 TOML 文件的路径"


def _stop(reason: str, hint: str) -> typer.Exit:
    echo(f"错误：{reason}", err=True)
    echo(f"提示：{hint}", err=True)
    return typer.Exit(2)


def load_form_option(ref: str) -> Form:
    """The form `--form` names, its warnings printed; any error: every problem printed, exit 2."""
    from perfxl.spec.formbook import FormNotFound, load_form

    try:
        form, problems = load_form(ref)
    except FormNotFound as exc:
        from perfxl.spec.project import builtin_form_ids

        raise _stop(f"找不到指标体系（表单）{ref}：既不是内置编号（{'、'.join(builtin_form_ids())}）也不是文件",
                    FORM_HINT) from exc
    errors = sum(1 for p in problems if p.severity == "error")
    if form is None or errors:
        for p in problems:
            echo(f"{p.label} {p}", err=True)
        raise _stop(f"表单 {ref} 有 {errors or len(problems)} 个错误，未读取任何文件",
                    f"请按上面的提示改正表单，可用 perfxl form check {ref} 检查；{FORM_HINT}")
    if form.kind != "部门整体" and hasattr(form, "rubric"):  # a workbook of 项目支出: only the built-in proj-2020 is one
        raise _stop(f"表单 {ref} 的表式为“{form.kind}”，本版本只能按“部门整体”表式读取表单工作簿",
                    "项目支出表请用内置表单 --form proj-2020；或在表单“设置”页把表式改为 部门整体")
    for p in problems:
        if p.severity == "warning":
            echo(f"{p.label} {p}", err=True)
    return form
