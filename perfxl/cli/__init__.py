"""The command line: parse options, call the library, print, exit. Nothing else lives here."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from perfxl import __version__
from perfxl.terminal import clean

app = typer.Typer(
    name="perfxl",
    help="部门整体支出绩效自评：批量复核单位报回的工作簿，生成报告、反馈件和汇总表。\n\n"
    "示例：perfxl run examples/returns-2020 --out output",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RubricOpt = Annotated[str, typer.Option("--rubric", help="指标体系：内置编号或 TOML 文件路径。")]
YearOpt = Annotated[int | None, typer.Option("--year", help="评价年度（默认取指标体系的年度）。")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", min=1, help="并行读取的进程数（默认：可用的 CPU 核数）。")]
DeadlineOpt = Annotated[str | None, typer.Option(
    "--deadline", help="报送截止日期 YYYY-MM-DD（默认取指标体系的规定）。")]
RosterOpt = Annotated[Path | None, typer.Option(
    "--roster", help="单位名单（.xlsx 或 .csv）：单位编码、单位名称，可选主管部门和财政部门掌握的数据。")]


def _echo(text: str, err: bool = False) -> None:
    """Print one line; names and values that came from a file may hold escape sequences."""
    typer.echo(clean(text), err=err)


class UsageError(Exception):
    """A usage or configuration error: one line of reason and one of hint; exit 2."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def _fail(err: UsageError) -> typer.Exit:
    _echo(f"错误：{err.reason}", err=True)
    _echo(f"提示：{err.hint}", err=True)
    return typer.Exit(2)


def _options(rubric: str, year: int | None, deadline: str | None, **kw):
    from perfxl.model import Options
    from perfxl.spec.rubric import RubricError, load_rubric

    try:
        rub = load_rubric(rubric)
    except RubricError as exc:
        raise UsageError(str(exc), "--rubric 可填内置编号（如 gd-dept-2020）或指标体系 TOML 文件的路径") from exc
    if year is not None and not 2000 <= year <= 2099:
        raise UsageError(f"评价年度 {year} 无效", "--year 应为四位年份，如 2020")
    due = None
    if deadline is not None:
        try:
            due = dt.date.fromisoformat(deadline)
        except ValueError as exc:
            raise UsageError(f"截止日期 {deadline!r} 无效", "--deadline 应为 YYYY-MM-DD，如 2021-06-20") from exc
    return Options.for_rubric(rub, year, due, **kw)


ROSTER_HINT = ("名单须为 .xlsx 或 .csv（UTF-8 或 GB18030 编码），含“单位编码”“单位名称”列，可选“主管部门”"
               "和以基础数据表项目名称（如 财政拨款收入年初预算数）命名的数据列")
ADJUST_HINT = ("调整文件须为 CSV（UTF-8 或 GB18030 编码），含“单位编码”“指标编码”“核定得分”“理由”四列，"
               "每行调整一个人工评分指标")


def _roster(path: Path | None):
    """Load the roster before any file is read; a bad one is a usage error."""
    if path is None:
        return None
    from perfxl.read.roster import RosterError, load_roster

    try:
        return load_roster(path)
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


@app.command(epilog="示例：perfxl template -o 2020年度自评模板.xlsx\n\n"
                      "　　　perfxl template --roster 单位名单.xlsx -o 预填模板")
def template(
    out: Annotated[Path, typer.Option("-o", "--out", help="输出文件（.xlsx）；与 --roster 同用时为输出文件夹。")],
    rubric: RubricOpt = "gd-dept-2020",
    year: YearOpt = None,
    deadline: DeadlineOpt = None,
    roster: RosterOpt = None,
) -> None:
    """生成下发给各单位的空白填报模板；给出 --roster 时为名单中每个单位生成一份预填并锁定的模板。"""
    from perfxl.write.template import build_template

    try:
        opts = _options(rubric, year, deadline)
        if roster is not None:
            if out.exists() and not out.is_dir():
                raise UsageError(f"输出位置 {out} 是已存在的文件", "使用 --roster 时 -o 应为文件夹，如 -o 预填模板")
            if out.suffix.lower() == ".xlsx":
                raise UsageError(f"输出位置 {out} 像是文件名", "使用 --roster 时 -o 应为文件夹，如 -o 预填模板")
        units = _roster(roster)
    except UsageError as err:
        raise _fail(err) from err
    if units is not None:
        from perfxl.write.errors import OutputFolderError
        from perfxl.write.prefill import write_prefilled

        try:
            written = write_prefilled(units, opts.rubric, opts.year, out)
        except OutputFolderError as err:
            raise _fail(UsageError(str(err), err.hint or "请用 -o 指定一个空文件夹或以前生成预填模板的文件夹")) from err
        _echo(f"已生成 {len(written)} 份预填模板：{out}")
        return
    if out.suffix.lower() != ".xlsx":
        raise _fail(UsageError(f"输出文件 {out} 不是 .xlsx", "请用 -o 指定以 .xlsx 结尾的文件名"))
    build_template(out, opts.rubric, opts.year)
    _echo(f"已生成模板：{out}")


def _print_findings(batch) -> None:
    from perfxl.findings import Severity

    for r in batch.files:
        head = f"{r.file}  [{r.status_label}]"
        if r.reviewed_total is not None:
            head += f"  核定 {r.reviewed_total} 分 {r.reviewed_grade}"
        _echo(head)
        for f in r.findings:
            where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
            _echo(f"  {Severity(f.severity).label} {f.code} {where} {f.message}")
    if batch.findings:
        _echo("本批次")
        for f in batch.findings:
            _echo(f"  {Severity(f.severity).label} {f.code} {f.message}")


@app.command(epilog="示例：perfxl check examples/returns-2020")
def check(
    paths: Annotated[list[Path], typer.Argument(help="要检查的文件或文件夹。", show_default=False)],
    rubric: RubricOpt = "gd-dept-2020",
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
        opts = _options(rubric, year, deadline)
        units = _roster(roster)
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"找不到 {missing[0]}", "请检查路径是否正确")
    except UsageError as err:
        raise _fail(err) from err
    batch = run_candidates(candidates_for(paths), opts, jobs=jobs)
    if units is not None:
        from perfxl.review.ledger import apply_roster

        apply_roster(batch, units)
    _print_findings(batch)
    errors = sum(r.errors for r in batch.files)
    raise typer.Exit(1 if errors else 0)


def _inside(child: Path, parent: Path) -> bool:
    child, parent = child.resolve(), parent.resolve()
    return child == parent or parent in child.parents


@app.command(epilog="示例：perfxl run examples/returns-2020 --out output")
def run(
    folder: Annotated[Path, typer.Argument(help="存放报回文件的文件夹（含子文件夹）。", show_default=False)],
    out: Annotated[Path, typer.Option("-o", "--out", help="输出文件夹。")] = Path("output"),
    rubric: RubricOpt = "gd-dept-2020",
    year: YearOpt = None,
    deadline: DeadlineOpt = None,
    jobs: JobsOpt = None,
    roster: RosterOpt = None,
    adjust: Annotated[Path | None, typer.Option(
        "--adjust", help="财政部门核定调整（CSV：单位编码、指标编码、核定得分、理由），"
                         "替换人工评分指标的核定得分。")] = None,
    docx: Annotated[bool, typer.Option("--docx", help="同时生成 Word 版自评报告（reports/*.docx，公文样式）。")] = False,
) -> None:
    """批量复核：读取文件夹中的全部报回文件，生成报告、汇总表和 results.json。"""
    from perfxl.run.worker import warm_up

    warm_up()  # the reading processes' server starts while the options, roster and folder load
    import dataclasses

    from perfxl.read.intake import discover
    from perfxl.run.job import run_job
    from perfxl.write.errors import OutputFolderError

    try:
        opts = _options(rubric, year, deadline)
        units = _roster(roster)
        if adjust is not None:
            from perfxl.review.adjust import AdjustmentError, load_adjustments

            try:
                adjustments = load_adjustments(adjust, opts.rubric, units)
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
        batch = run_job(candidates, opts, folder, out, roster=units, jobs=jobs, progress=step, docx=docx)
    except OutputFolderError as err:
        if bar is not None:
            bar.stop()
        _echo(f"错误：{err}", err=True)
        _print_set_aside(getattr(err, "set_aside", []), out)
        if err.incomplete:
            _echo(f"输出文件夹 {out} 不完整（没有 results.json）：本次结果未全部写出，排除问题后重新运行即可恢复全部输出。",
                       err=True)
        _echo(f"提示：{err.hint or '请换一个可写的输出文件夹（--out），或排除上述问题后重新运行'}", err=True)
        raise typer.Exit(2) from err
    except Exception as exc:  # our bug: the folder was left without results.json, say so
        if bar is not None:
            bar.stop()
        _echo(f"perfxl 内部错误：{type(exc).__name__}: {exc}", err=True)
        _print_set_aside(getattr(exc, "set_aside", []), out)
        _echo(f"输出文件夹 {out} 不完整（没有 results.json）。", err=True)
        _echo("提示：输入文件未被修改；请将这条信息和所用命令反馈给 perfxl 维护人员", err=True)
        raise typer.Exit(3) from exc
    if bar is not None:
        bar.stop()
    _print_summary(batch, out)
    if batch.internal_errors:
        _echo(f"perfxl 在 {len(batch.internal_errors)} 处发生内部错误（见上，代码 internal-error）；其余结果均已写出。"
                   "这些不是单位文件的问题，请将输出文件夹中的 results.json 反馈给 perfxl 维护人员", err=True)
        raise typer.Exit(3)


def _print_summary(batch, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from perfxl.model import STATUS_ORDER

    statuses = Counter(r.status_label for r in batch.files)
    scored = [r for r in batch.files if r.scored]
    grades = Counter(r.reviewed_grade or "未定级" for r in scored)
    console = Console(highlight=False, soft_wrap=True, markup=False)  # unit names are text, not markup

    def say(text: str) -> None:  # unit and file names may hold escape sequences
        console.print(clean(text))

    say(f"{batch.year}年度部门整体支出绩效自评复核：指标体系 {batch.rubric.id}，"
                  f"报送截止 {batch.deadline.isoformat()}")
    table = Table(show_header=True)
    table.add_column("项目")
    table.add_column("数量", justify="right")
    table.add_row("文件", str(len(batch.files)))
    for label in STATUS_ORDER:
        if statuses.get(label):
            table.add_row(f"  {label}", str(statuses[label]))
    table.add_row("已评分单位", str(len(scored)))
    for label in (*batch.rubric.grade_labels, "未定级"):
        if grades.get(label):
            table.add_row(f"  {label}", str(grades[label]))
    if batch.not_submitted:
        table.add_row("未报送单位（名单内）", str(len(batch.not_submitted)))
    table.add_row("错误", str(sum(r.errors for r in batch.files)))
    table.add_row("警告", str(sum(r.warnings for r in batch.files)))
    console.print(table)
    returned = [r for r in batch.files if r.status == "error"]
    if returned:
        say(f"需退回更正的单位 {len(returned)} 个：")
        for r in returned:
            codes = "、".join(dict.fromkeys(f.code for f in r.findings if f.severity == "error"))
            say(f"  {r.unit_code or '—'} {r.unit_name or r.file}（{codes}）")
    for note in batch.notes:
        say(f"警告：{note}")
    _print_set_aside(batch.set_aside, out)
    say(f"输出文件夹：{out}")
    reports = out / "reports"
    for label, path, pattern in (("汇总表", out / "summary.xlsx", ""), ("单位报告", reports, "*.md"),
                                 ("Word 报告", reports, "*.docx"), ("反馈件", out / "feedback", "*.xlsx"),
                                 ("总览网页", out / "index.html", ""), ("结果数据", out / "results.json", "")):
        count = sum(1 for _ in path.glob(pattern)) if pattern and path.is_dir() else 0
        if pattern and count:
            say(f"  {label}：{path}（{count} 份）")
        elif not pattern and path.exists():
            say(f"  {label}：{path}")


def _print_set_aside(moved: list[tuple[str, str]], out: Path) -> None:
    from perfxl.write.folder import KEEP

    if moved:
        _echo(f"以下 {len(moved)} 个文件不是 perfxl 写的，或写出后被改动过，已移到 {out / KEEP}（未删除任何文件）：")
        for original, kept in moved:
            _echo(f"  {original} → {kept}")


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
    """部门整体支出绩效自评：批量复核单位报回的工作簿，生成报告、反馈件和汇总表。"""


def main() -> None:
    """Entry point: a bug of ours or an unwritable output folder ends with a message, never a
    traceback (exit 3 for an internal error, 2 for an output folder that cannot be written)."""
    for stream in (sys.stdout, sys.stderr):  # a GBK console cannot show every file name: replace, never fail
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        app()  # usage errors and exit codes are typer's; only what escapes a command lands here
    except OSError as exc:  # the environment, not perfxl: no space, read-only, a file held open …
        from perfxl.write.errors import describe

        _echo(f"错误：{exc.filename or ''}：{describe(exc)}", err=True)
        _echo("提示：请换一个可写的输出位置，或关闭正在打开该文件的 Excel/WPS 后重新运行", err=True)
        sys.exit(2)
    except Exception as exc:  # our bug: say so plainly, keep the batch's inputs untouched
        _echo(f"perfxl 内部错误：{type(exc).__name__}: {exc}", err=True)
        _echo("提示：输入文件未被修改；请将这条信息和所用命令反馈给 perfxl 维护人员", err=True)
        sys.exit(3)
