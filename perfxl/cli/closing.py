"""What a command prints when it is done: findings (`check`), the closing table of `run`, the
units to send back, the roster's 未报送 and 需重报 units, and the files set aside."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import typer

from perfxl.terminal import clean


def echo(text: str, err: bool = False) -> None:
    """Print one line; names and values that came from a file may hold escape sequences."""
    typer.echo(clean(text), err=err)


def fail(reason: str, hint: str) -> typer.Exit:
    """A usage or configuration error: one line of reason, one of hint; exit 2."""
    echo(f"错误：{reason}", err=True)
    echo(f"提示：{hint}", err=True)
    return typer.Exit(2)


def named(finding) -> str:
    """A finding as a clerk reads it: its Chinese name, the code beside it for machines."""
    return f"{finding.title} {finding.code}"


def print_findings(batch) -> None:
    from perfxl.findings import Severity

    for r in batch.files:
        head = f"{r.file}  [{r.status_label}]"
        if r.reviewed_total is not None:
            head += f"  核定 {r.reviewed_total} 分 {r.reviewed_grade}"
        echo(head)
        for p in r.projects:  # a project file (spec §13): each project's total on a line of its own
            total = f"核定 {p.reviewed_total} 分 {p.reviewed_grade}" if p.reviewed_total is not None else "未定级"
            if p.capped_by_execution and p.execution_rate is not None:  # why it is below the rows' sum
                total += f"（执行率 {(p.execution_rate * 100).quantize(Decimal('0.01'))}% 偏低，总分封顶）"
            echo(f"  项目 {p.sheet}「{p.project_name or '未填项目名称'}」 {total}")
        for f in r.findings:
            where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or "")
            echo(f"  {Severity(f.severity).label} {f.title}（{f.code}） {where + ' ' if where else ''}{f.message}")
            if f.reply is not None:  # the unit's text: `echo` strips its escape sequences
                echo(f"    单位答复：{f.reply}")
    if batch.findings:
        echo("本批次")
        for f in batch.findings:
            echo(f"  {Severity(f.severity).label} {f.title}（{f.code}） {f.message}")


def returned_lines(batch) -> list[str]:
    """需退回更正的单位: every file its unit must correct or send again, with the reasons."""
    from perfxl.review.ledger import must_send_again, return_reasons

    files = [r for r in batch.files if must_send_again(r)]
    if not files:
        return []
    units = {r.unit_code or r.file for r in files}
    # a unit may have a department file and project files to correct: the files are listed
    count = f"{len(units)} 个" if len(units) == len(files) else f"{len(units)} 个（文件 {len(files)} 个）"
    lines = [f"需退回更正的单位 {count}："]
    for r in files:
        codes = "、".join(named(f) for f in return_reasons(r))
        again = "需重报：" if r.status == "unreadable" else ""
        who = f"{r.unit_code} {r.unit_name or r.file}" if r.unit_code else f"（无编码）{r.file}"
        kind = "项目支出表，" if r.projects or r.form in _project_ids(batch) else ""
        lines.append(f"  {who}（{kind}{again}{codes}）")
    return lines


def _project_ids(batch) -> set[str]:
    return {f.id for f in batch.forms if getattr(f, "kind", "") == "项目支出"}


def roster_lines(batch, roster) -> list[str]:
    """The roster's units that sent nothing (未报送) and those whose files were all unusable (需重报)."""
    if roster is None:
        return []
    from perfxl.review.ledger import resubmit_units

    lines: list[str] = []
    if batch.not_submitted:
        lines.append(f"名单中未报送的单位 {len(batch.not_submitted)} 个：")
        for u in batch.not_submitted:
            dept = f"（主管部门：{u['department']}）" if u.get("department") else ""
            lines.append(f"  {u['unit_code']} {u['unit_name']}{dept}")
    again = resubmit_units(batch, roster)
    if again:
        lines.append(f"名单中需重报的单位 {len(again)} 个（已报送，但文件无法使用，已列入上面的退回名单）：")
        for u in again:
            lines.append(f"  {u['unit_code']} {u['unit_name']}：{'、'.join(u['files'])}")  # type: ignore[arg-type]
    return lines


def print_summary(batch, out: Path, roster=None) -> None:
    from rich.console import Console
    from rich.table import Table

    from perfxl.model import STATUS_ORDER

    statuses = Counter(r.status_label for r in batch.files)
    scored = [r for r in batch.files if r.scored and not r.projects]
    grades = Counter(r.reviewed_grade or "未定级" for r in scored)
    projects = [p for r in batch.files if r.scored for p in r.projects]
    console = Console(highlight=False, soft_wrap=True, markup=False)  # unit names are text, not markup

    def say(text: str) -> None:  # unit and file names may hold escape sequences
        console.print(clean(text))

    used = {r.form for r in batch.files}
    shown = [f for f in batch.forms if f is batch.rubric or f.id in used]
    if len(shown) == 1:
        say(f"{batch.year}年度部门整体支出绩效自评复核：指标体系 {batch.rubric.id}，"
            f"报送截止 {batch.deadline.isoformat()}")
    else:  # several forms (spec §12): each with its own deadline
        forms = "；".join(f"{f.id}（{getattr(f, 'kind', '部门整体')}，报送截止 "
                         f"{batch.deadline_for(f).isoformat()}）" for f in shown)
        say(f"{batch.year}年度绩效自评复核：表单 {forms}")
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
    if projects:
        table.add_row("已评分项目", str(len(projects)))
        by_grade = Counter(p.reviewed_grade or "未定级" for p in projects)
        for label in dict.fromkeys([*(g for f in batch.forms if getattr(f, "kind", "") == "项目支出"
                                      for g in f.grade_labels), *by_grade, "未定级"]):
            if by_grade.get(label):
                table.add_row(f"  {label}", str(by_grade[label]))
    if batch.not_submitted:
        table.add_row("未报送单位（名单内）", str(len(batch.not_submitted)))
    if roster is not None:
        from perfxl.review.ledger import resubmit_units

        again = resubmit_units(batch, roster)
        if again:
            table.add_row("需重报单位（名单内）", str(len(again)))
    table.add_row("错误", str(sum(r.errors for r in batch.files)))
    table.add_row("警告", str(sum(r.warnings for r in batch.files)))
    console.print(table)
    lines = [clean(line) for line in (*returned_lines(batch), *roster_lines(batch, roster))]
    if lines:  # one print for the list (a line per unit to send back: a print each took 0.4 ms)
        console.print("\n".join(lines))
    for f in batch.findings:
        if f.code == "adjustment-unused":
            say(f"警告：{f.message}")
    for note in batch.notes:
        say(f"警告：{note}")
    print_set_aside(batch.set_aside, out)
    print_removed(batch.removed)
    say(f"输出文件夹：{out}")
    from fnmatch import fnmatch

    from perfxl.write.folder import listed

    ours = listed(out)  # what perfxl wrote: a clerk's own reports/笔记.md is no report
    reports = out / "reports"
    for label, path, pattern in (("汇总表", out / "summary.xlsx", ""), ("单位报告", reports, "*.md"),
                                 ("Word 报告", reports, "*.docx"), ("反馈件", out / "feedback", "*.xlsx"),
                                 ("总览网页", out / "index.html", ""), ("结果数据", out / "results.json", "")):
        folder = path.relative_to(out).as_posix()
        count = sum(1 for rel in ours if rel.startswith(folder + "/") and fnmatch(rel[len(folder) + 1:], pattern)
                    and "/" not in rel[len(folder) + 1:]) if pattern else 0
        if pattern and count:
            say(f"  {label}：{path}（{count} 份）")
        elif not pattern and path.exists():
            say(f"  {label}：{path}")


def print_internal_errors(batch) -> None:
    """perfxl's own failures, apart from the units' problems: these files go back to nobody."""
    files = [f for f in batch.internal_errors if f.file]
    echo(f"perfxl 在 {len(batch.internal_errors)} 处发生内部错误（internal-error）；其余结果均已写出。"
         "这些不是单位文件的问题，无须退回单位，请将输出文件夹中的 results.json 反馈给 perfxl 维护人员", err=True)
    for name in dict.fromkeys(f.file for f in files):
        echo(f"  {name}", err=True)


def print_set_aside(moved: list[tuple[str, str]], out: Path) -> None:
    from perfxl.write.folder import KEEP

    if moved:
        echo(f"以下 {len(moved)} 个文件不是 perfxl 写的，或写出后被改动过，已移到 {out / KEEP}（未删除任何文件）：")
        for original, kept in moved:
            echo(f"  {original} → {kept}")


def print_removed(removed: list[str], shown: int = 10) -> None:
    """Earlier outputs this run no longer makes (a unit gone from the folder, Word reports of a run
    with --docx): perfxl's own and unchanged, so removed — but never without a word."""
    if removed:
        echo(f"上次运行写出、本次不再生成的 {len(removed)} 个文件已删除（均为 perfxl 写出且未被改动过）：")
        for rel in removed[:shown]:
            echo(f"  {rel}")
        if len(removed) > shown:
            echo(f"  ……等 {len(removed)} 个")
