"""The command line: parse options, call the library, print, exit. Nothing else lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from perfxl import __version__
from perfxl.cli import usage
from perfxl.cli.closing import echo as _echo
from perfxl.cli.closing import fail, print_findings, print_internal_errors, print_set_aside, print_summary
from perfxl.cli.formopt import FormOpt, FormsOpt, load_form_option
from perfxl.write.errors import OutputFolderError

app = usage.new_app("perfxl", "部门整体支出和项目支出绩效自评：批量复核单位报回的工作簿，生成报告、反馈件和汇总表。\n\n"
                              "示例：perfxl run examples/returns-2020 --out output")

# --year and --jobs are read as text and checked here, so that a bad value gets a Chinese reason and hint
YearOpt = Annotated[str | None, typer.Option("--year", metavar="年份", help="评价年度（默认取指标体系的年度）。")]
JobsOpt = Annotated[str | None, typer.Option("--jobs", metavar="N", help="并行读取的进程数（默认：可用的 CPU 核数）。")]
DeadlineOpt = Annotated[str | None, typer.Option(
    "--deadline", metavar="日期", help="报送截止日期，如 2021-06-20、2021/6/20 或 2021年6月20日（默认取指标体系的规定）。")]
RosterOpt = Annotated[Path | None, typer.Option(
    "--roster", metavar="文件", help="单位名单（.xlsx 或 .csv）：单位编码、单位名称，可选主管部门和财政部门掌握的数据。")]


class UsageError(Exception):
    """A usage or configuration error: one line of reason and one of hint; exit 2."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def _fail(err: UsageError) -> typer.Exit:
    return fail(err.reason, err.hint)


def _jobs(text: str | None) -> int | None:
    if text is None:
        return None
    from perfxl.read.values import parse_int

    jobs = parse_int(text).value
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"并行进程数 --jobs {text} 无效", "--jobs 应为 1 或更大的整数，如 --jobs 2；不写则按 CPU 核数")
    return jobs


def _options(form: str | list[str], year: str | None, deadline: str | None, **kw):
    """The batch's options; the forms (`--form`, alias `--rubric`, repeated for several) are loaded
    first, so that a form with errors stops the command (exit 2, every problem listed) before
    anything else is looked at. The first form is the one a file without `_meta` is read by."""
    import dataclasses

    from perfxl.model import Options
    from perfxl.read.values import parse_date, parse_year

    forms = batch_forms([form] if isinstance(form, str) else form or list(ROUND_FORMS))
    rub = forms[0]
    the_year = None
    if year is not None:
        the_year = parse_year(year).value
        if not isinstance(the_year, int):
            raise UsageError(f"评价年度 {year} 无效", "--year 应为 2000～2099 之间的四位年份，如 2020")
    due = None
    if deadline is not None:  # every form a workbook's date cell accepts (2021/6/20, 2021年6月20日 …)
        due = parse_date(deadline.strip()).value
        if due is None:
            raise UsageError(f"截止日期 {deadline!r} 无效",
                             "--deadline 应为日期，如 2021-06-20、2021/6/20、2021.6.20 或 2021年6月20日")
    opts = Options.for_rubric(rub, the_year, due, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(opts, others=forms[1:]) if len(forms) > 1 else opts


#: check and run without --form: the round's two built-in forms (spec §12), the department form first
ROUND_FORMS = ("gd-dept-2020", "proj-2020")


def batch_forms(refs: list[str]) -> tuple:
    """Each `--form` loaded once (the same id named twice counts once); two different forms
    with one id are a usage error: a file's `_meta` could not tell them apart."""
    out: dict[str, object] = {}
    for ref in refs:
        loaded = load_form_option(ref)
        form = getattr(loaded, "rubric", loaded)  # a department Form carries its rubric; the project form is one
        same = out.get(form.id)
        if same is not None and same.hash != form.hash:
            raise UsageError(f"--form 给出了两个编号同为 {form.id} 但内容不同的表单",
                             "一次运行中每个表单编号只能对应一个表单；请删去其中一个 --form，或修改其中一个表单的编号")
        out.setdefault(form.id, form)
    return tuple(out.values())


ROSTER_HINT = ("名单须为 .xlsx 或 .csv（UTF-8 或 GB18030 编码），含“单位编码”“单位名称”列，可选“主管部门”"
               "和以基础数据表项目名称（如 财政拨款收入年初预算数）命名的数据列")
ADJUST_HINT = ("调整文件须为 CSV（UTF-8 或 GB18030 编码），含“单位编码”“指标编码”“核定得分”“理由”四列，"
               "每行调整一个人工评分指标")


def _roster(path: Path | None, spec):
    """Load the roster against the form's fields (`rubric.fields`) before any file is read; a bad
    one is a usage error."""
    if path is None:
        return None
    from perfxl.read.roster import RosterError, load_roster

    try:
        return load_roster(path, spec)
    except RosterError as exc:
        raise UsageError(str(exc), ROSTER_HINT) from exc


def _progress(total: int):
    """A progress callback on an interactive terminal, else a no-op."""
    if not sys.stderr.isatty() or total < 2:
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("读取", total=total)
    bar.start()
    return (lambda rel: bar.advance(task)), bar


@app.command(cls=usage.Command, epilog="示例：perfxl template -o 2020年度自评模板.xlsx\n"
                                      "　　　perfxl template --roster 单位名单.xlsx -o 预填模板")
def template(
    out: Annotated[Path, typer.Option("-o", "--out", metavar="文件",
                                      help="输出文件（.xlsx）；与 --roster 同用时为输出文件夹。")],
    form: FormOpt = "gd-dept-2020",
    year: YearOpt = None,
    deadline: DeadlineOpt = None,
    roster: RosterOpt = None,
) -> None:
    """生成下发给各单位的空白填报模板；给出 --roster 时为名单中每个单位生成一份预填并锁定的模板。"""
    from perfxl.write.template import build_template

    try:
        opts = _options(form, year, deadline)
        if roster is not None:
            if out.exists() and not out.is_dir():
                raise UsageError(f"输出位置 {out} 是已存在的文件", "使用 --roster 时 -o 应为文件夹，如 -o 预填模板")
            if out.suffix.lower() == ".xlsx":
                raise UsageError(f"输出位置 {out} 像是文件名", "使用 --roster 时 -o 应为文件夹，如 -o 预填模板")
        units = _roster(roster, opts.rubric.fields)
    except UsageError as err:
        raise _fail(err) from err
    if units is not None:
        from perfxl.write.prefill import write_prefilled

        try:
            written = write_prefilled(units, opts.rubric, opts.year, out)
        except OutputFolderError as err:
            raise _fail(UsageError(str(err), err.hint or "请用 -o 指定一个空文件夹或以前生成预填模板的文件夹")) from err
        _echo(f"已生成 {len(written)} 份预填模板：{out}")
        return
    if out.suffix.lower() != ".xlsx":
        raise _fail(UsageError(f"输出文件 {out} 不是 .xlsx", "请用 -o 指定以 .xlsx 结尾的文件名"))
    if getattr(opts.rubric, "kind", "") == "项目支出":  # the project form's workbook (spec §13)
        from perfxl.write.project_template import build_project_template as build_template
    build_template(out, opts.rubric, opts.year)
    _echo(f"已生成模板：{out}")


@app.command(cls=usage.Command, epilog="示例：perfxl check examples/returns-2020")
def check(
    paths: Annotated[list[Path], typer.Argument(metavar="路径", help="要检查的文件或文件夹。", show_default=False)],
    form: FormsOpt = None,
    year: YearOpt = None,
    deadline: DeadlineOpt = None,
    jobs: JobsOpt = None,
    roster: RosterOpt = None,
) -> None:
    """检查一个或多个报回文件，列出发现的问题；有错误时退出码为 1。"""
    from perfxl.run.worker import warm_up

    warm_up()  # the reading processes' server starts while the options and rubric load
    from perfxl.run.pipeline import candidates_for, run_candidates

    try:
        opts = _options(form, year, deadline)
        workers = _jobs(jobs)
        units = _roster(roster, opts.rubric.fields)
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"找不到 {missing[0]}", "请检查路径是否正确")
    except UsageError as err:
        raise _fail(err) from err
    batch = run_candidates(candidates_for(paths), opts, jobs=workers)
    if units is not None:
        from perfxl.review.ledger import apply_roster
        from perfxl.run.pipeline import summary_order

        apply_roster(batch, units)
        batch.files.sort(key=summary_order)  # attributed files have a unit code now
    print_findings(batch)
    errors = sum(r.errors for r in batch.files)
    raise typer.Exit(1 if errors else 0)


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


@app.command(cls=usage.Command, epilog="示例：perfxl run examples/returns-2020 --out output")
def run(
    folder: Annotated[Path, typer.Argument(metavar="文件夹", help="存放报回文件的文件夹（含子文件夹）。",
                                           show_default=False)],
    out: Annotated[Path, typer.Option("-o", "--out", metavar="文件夹", help="输出文件夹。")] = Path("output"),
    form: FormsOpt = None,
    year: YearOpt = None,
    deadline: DeadlineOpt = None,
    jobs: JobsOpt = None,
    roster: RosterOpt = None,
    adjust: Annotated[Path | None, typer.Option(
        "--adjust", metavar="文件", help="财政部门核定调整（CSV：单位编码、指标编码、核定得分、理由），"
                         "替换人工评分指标的核定得分。")] = None,
    docx: Annotated[bool, typer.Option("--docx", help="同时生成 Word 版自评报告（reports/*.docx，公文样式）。")] = False,
) -> None:
    """批量复核：读取文件夹中的全部报回文件，生成报告、汇总表和 results.json。"""
    from perfxl.run.worker import warm_up

    warm_up()  # the reading processes' server starts while the options, roster and folder load
    import dataclasses

    from perfxl.read.intake import discover
    from perfxl.run.job import BatchRefused, run_job

    rows: dict[str, str] = {}  # each adjusted unit's row, to name it when the unit exists nowhere
    try:
        opts = _options(form, year, deadline)
        workers = _jobs(jobs)
        units = _roster(roster, opts.rubric.fields)
        if adjust is not None:
            from perfxl.review.adjust import AdjustmentError, load_adjustments

            try:
                adjustments = load_adjustments(adjust, opts.rubric, rows)
            except AdjustmentError as exc:
                raise UsageError(str(exc), ADJUST_HINT) from exc
            opts = dataclasses.replace(opts, adjustments=adjustments)
        if not folder.is_dir():
            raise UsageError(f"找不到文件夹 {folder}", "请指定存放报回文件的文件夹")
        if _inside(out, folder):
            raise UsageError(f"输出文件夹 {out} 位于输入文件夹 {folder} 之内",
                             "请用 --out 指定输入文件夹以外的位置，如 --out output")
        if _inside(folder, out):  # perfxl rewrites and prunes its output folder: inputs must not be there
            raise UsageError(f"输入文件夹 {folder} 位于输出文件夹 {out} 之内",
                             "请把报回文件放在输出文件夹以外，或用 --out 另选输出位置")
    except UsageError as err:
        raise _fail(err) from err
    candidates = discover(folder)
    step, bar = _progress(len(candidates))
    try:
        batch = run_job(candidates, opts, folder, out, roster=units, jobs=workers, progress=step, docx=docx,
                        adjust_rows=rows)
    except BatchRefused as err:  # the files show the run was set up wrong; no output was written
        if bar is not None:
            bar.stop()
        _echo(f"错误：{err.reason}", err=True)
        if (out / "summary.xlsx").exists():
            _echo(f"输出文件夹 {out} 中是以前的结果，已不完整（没有 results.json）：改正后重新运行即可恢复全部输出。", err=True)
        _echo(f"提示：{err.hint}", err=True)
        raise typer.Exit(2) from err
    except OutputFolderError as err:
        if bar is not None:
            bar.stop()
        _echo(f"错误：{err}", err=True)
        print_set_aside(getattr(err, "set_aside", []), out)
        if err.incomplete:
            _echo(f"输出文件夹 {out} 不完整（没有 results.json）：本次结果未全部写出，排除问题后重新运行即可恢复全部输出。",
                       err=True)
        _echo(f"提示：{err.hint or '请换一个可写的输出文件夹（--out），或排除上述问题后重新运行'}", err=True)
        raise typer.Exit(2) from err
    except KeyboardInterrupt as exc:  # Ctrl-C: the folder was left without results.json, say so
        if bar is not None:
            bar.stop()
        print_set_aside(getattr(exc, "set_aside", []), out)
        _echo(f"已中断：输出文件夹 {out} 不完整（没有 results.json），重新运行即可恢复全部输出。", err=True)
        raise typer.Exit(130) from exc
    except Exception as exc:  # our bug: the folder was left without results.json, say so
        if bar is not None:
            bar.stop()
        _echo(f"perfxl 内部错误：{type(exc).__name__}: {exc}", err=True)
        print_set_aside(getattr(exc, "set_aside", []), out)
        _echo(f"输出文件夹 {out} 不完整（没有 results.json）。", err=True)
        _echo("提示：输入文件未被修改；请将这条信息和所用命令反馈给 perfxl 维护人员", err=True)
        raise typer.Exit(3) from exc
    if bar is not None:
        bar.stop()
    print_summary(batch, out, units)
    if batch.internal_errors:
        print_internal_errors(batch)
        raise typer.Exit(3)


# -- perfxl form export / check (issue 12): a sub-app of its own module -----------------------
from perfxl.cli.form import form_app  # noqa: E402  (kept beside the commands it joins)

app.add_typer(form_app, name="form")


def version_callback(value: bool) -> None:
    if value:
        _echo(f"perfxl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="显示版本号。")] = False,
) -> None:
    """部门整体支出和项目支出绩效自评：批量复核单位报回的工作簿，生成报告、反馈件和汇总表。"""


def main() -> None:
    """Entry point: a bug of ours or an unwritable output folder ends with a message, never a
    traceback (exit 3 for an internal error, 2 for an output folder that cannot be written)."""
    for stream in (sys.stdout, sys.stderr):  # a GBK console cannot show every file name: replace, never fail
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        app()  # usage errors and exit codes are typer's; only what escapes a command lands here
    except OutputFolderError as err:  # the same, already in words (template -o, pre-filled copies, form export)
        _echo(f"错误：{err}", err=True)
        _echo(f"提示：{err.hint or '请换一个可写的输出位置，或关闭正在打开该文件的 Excel/WPS 后重新运行'}", err=True)
        sys.exit(2)
    except OSError as exc:  # the environment, not perfxl: no space, read-only, a file held open …
        from perfxl.write.errors import describe

        _echo(f"错误：{exc.filename or ''}：{describe(exc)}", err=True)
        _echo("提示：请换一个可写的输出位置，或关闭正在打开该文件的 Excel/WPS 后重新运行", err=True)
        sys.exit(2)
    except Exception as exc:  # our bug: say so plainly, keep the batch's inputs untouched
        _echo(f"perfxl 内部错误：{type(exc).__name__}: {exc}", err=True)
        _echo("提示：输入文件未被修改；请将这条信息和所用命令反馈给 perfxl 维护人员", err=True)
        sys.exit(3)
