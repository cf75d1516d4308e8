"""`perfxl form`: export a built-in form as a form workbook, and check a form (spec §12)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfxl.cli import usage
from perfxl.cli.closing import echo, fail

form_app = usage.new_app("form", "表单（字段、指标、评分规则和校验）：导出为可在 Excel/WPS 中编辑的表单工作簿，或检查一份表单。\n\n"
                                  "示例：perfxl form export gd-dept-2020 -o 表单.xlsx")


@form_app.command("export", epilog="示例：perfxl form export gd-dept-2020 -o 我市2021年表单.xlsx")
def export(
    form_id: Annotated[str, typer.Argument(metavar="编号或文件", help="内置表单编号，如 gd-dept-2020；也可为表单工作簿或 TOML 文件。",
                                           show_default=False)],
    out: Annotated[Path, typer.Option("-o", "--out", help="输出的表单工作簿（.xlsx）。", show_default=False)],
) -> None:
    """把表单导出为表单工作簿（说明、设置、字段、指标、校验五页），作为本地表单的起点。"""
    from perfxl.spec.formbook import FormNotFound, load_form, write_form

    if out.suffix.lower() != ".xlsx":
        raise fail(f"输出文件 {out} 不是 .xlsx", "请用 -o 指定以 .xlsx 结尾的文件名，如 -o 表单.xlsx")
    try:
        form, problems = load_form(form_id)
    except FormNotFound as exc:
        raise fail(str(exc), "可用 perfxl form check 检查表单文件，或填内置编号 gd-dept-2020") from exc
    if form is None:
        for p in problems:
            echo(f"{p.label} {p}")
        echo(f"表单 {form_id} 有错误，未导出；请先按上面的提示改正", err=True)
        raise typer.Exit(1)
    if getattr(form, "kind", "") == "项目支出" and not hasattr(form, "rubric"):  # the built-in project form (spec §13)
        raise fail(f"表单 {form.id} 是项目支出表，其字段和指标由 TOML 文件给出，暂不能导出为表单工作簿",
                   f"要得到项目支出表的填报模板，请用 perfxl template --form {form.id} -o 项目支出模板.xlsx")
    if out.parent and not out.parent.is_dir():
        raise fail(f"文件夹 {out.parent} 不存在", "请先建立该文件夹，或换一个输出位置")
    from xlsxwriter.exceptions import FileCreateError

    try:
        write_form(form, out)
    except (OSError, FileCreateError) as exc:  # xlsxwriter wraps the OSError of its final write
        from perfxl.write.errors import describe

        cause = exc.args[0] if isinstance(exc, FileCreateError) and exc.args else exc
        why = describe(cause) if isinstance(cause, OSError) else str(cause)
        raise fail(f"无法写入 {out}（{why}）", "请换一个可写的位置，或关闭正在打开该文件的 Excel/WPS 后重试") from exc
    echo(f"已导出表单 {form.id}：{out}")


@form_app.command("check", epilog="示例：perfxl form check 我市2021年表单.xlsx\n\n"
                                    "　　　perfxl form check gd-dept-2020")
def check(
    form_ref: Annotated[str, typer.Argument(metavar="表单", help="表单工作簿（.xlsx）、TOML 文件或内置表单编号。",
                                            show_default=False)],
) -> None:
    """检查表单，一次列出全部问题（页!单元格：问题和改法）；有错误时退出码为 1，没有问题时显示表单概要。"""
    from perfxl.spec.formbook import FormNotFound, load_form

    try:
        form, problems = load_form(form_ref)
    except FormNotFound as exc:
        raise fail(str(exc), "请检查文件路径，或填内置编号 gd-dept-2020") from exc
    for p in problems:
        echo(f"{p.label} {p}")
    errors = sum(1 for p in problems if p.severity == "error")
    if errors or form is None:
        echo(f"共 {errors} 个错误、{len(problems) - errors} 个警告和提示：请按上面的提示改正后重新检查")
        raise typer.Exit(1)
    echo(form.summary())
