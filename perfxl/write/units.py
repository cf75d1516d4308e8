"""Every unit's own outputs in one pass (spec §8): its Markdown report, its HTML page made from
that same text, and its feedback workbook, written together by the process that was sent the
unit once, instead of three passes that each send every result to a pool of their own.

What is written, where and when it is kept is each writer's (plan_reports, plan_html,
plan_feedback): the bytes are theirs, only the work is grouped by unit.
"""

from __future__ import annotations

from pathlib import Path

from perfxl.model import BatchResult, FileResult
from perfxl.write.feedback import MIN_PER_PROCESS, FeedbackTask, feedback_failures, plan_feedback, write_one
from perfxl.write.folder import OutputFolder, Writer
from perfxl.write.html import plan_html, write_index, write_page
from perfxl.write.kind import batch_context
from perfxl.write.report import plan_reports, render_report

#: (result, report rel or None, (Markdown path, page rel, index href) or None, feedback task or None)
UnitTask = tuple[FileResult, "str | None", "tuple[Path, str, str] | None", "FeedbackTask | None"]

_CONTEXT: tuple[BatchResult, Writer] | None = None


def _init_worker(context: BatchResult, writer: Writer) -> None:
    global _CONTEXT
    _CONTEXT = (context, writer)


def _unit(task: UnitTask) -> str | None:
    """One unit's outputs; perfxl's own failure while copying its feedback workbook, if any."""
    assert _CONTEXT is not None
    ctx, writer = _CONTEXT
    result, report_rel, page, feedback = task
    markdown = None
    if report_rel is not None:
        markdown = render_report(result, ctx)
        writer.write_text(report_rel, markdown)
    if page is not None:
        md_path, rel, index_href = page
        if markdown is None:  # the report was kept: the page of a changed index link is made from its file
            markdown = md_path.read_text(encoding="utf-8")
        write_page(markdown, result, ctx, writer, rel, index_href)
    return write_one(feedback, ctx, writer) if feedback is not None else None


def write_unit_outputs(batch: BatchResult, input_dir: Path, folder: OutputFolder, memo=None, jobs: int | None = None,
                       roster=None) -> list[Path]:
    """reports/ (Markdown and HTML), feedback/ and index.html, as write_reports, write_feedback
    and write_html one after the other would write them; returns the Markdown reports' paths."""
    from perfxl.parallel import parallel_map

    markdown, reports = plan_reports(batch, folder, memo)
    _, feedback = plan_feedback(batch, input_dir, folder, memo, roster)
    pages, _, html = plan_html(batch, folder, markdown, memo)
    tasks: dict[int, list] = {}
    for result, rel in reports:
        tasks.setdefault(id(result), [result, None, None, None])[1] = rel
    for md_path, result, rel, index_href in html:
        tasks.setdefault(id(result), [result, None, None, None])[2] = (md_path, rel, index_href)
    for task in feedback:
        tasks.setdefault(id(task[0]), [task[0], None, None, None])[3] = task
    order = [tuple(t) for t in tasks.values()]
    # a unit's outputs take about as long as its feedback workbook alone: the same share per process
    answers = parallel_map(_unit, order, jobs, MIN_PER_PROCESS // 2, initializer=_init_worker,
                           initargs=(batch_context(batch), folder.writer()))
    failure = {id(t[0]): a for t, a in zip(order, answers, strict=True)}
    feedback_failures(batch, folder, feedback, [failure[id(t[0])] for t in feedback])  # unkeys, then collects
    write_index(batch, folder, pages)
    return markdown
