"""The main job and its outputs: evaluate a folder, apply the roster, remember, write (spec §8, §11)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from perfxl.model import BatchResult, Options
from perfxl.pool import InThread
from perfxl.read.intake import Candidate
from perfxl.run.pipeline import run_candidates, summary_order
from perfxl.run.state import State
from perfxl.run.worker import default_jobs
from perfxl.write.errors import OutputFolderError
from perfxl.write.folder import OutputFolder


class BatchRefused(Exception):
    """The files read show the run was set up wrong (every file of another year, an adjusted unit
    that exists nowhere): nothing is written; the CLI prints `reason` and `hint` and exits 2."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def other_year(batch: BatchResult) -> tuple[int, int] | None:
    """(year, files) when at least two readable files state a year and all state the same one,
    other than the batch's: the operator's --year (or the rubric's year) is wrong, not the units.
    A single file's year stays that unit's claim (year-mismatch)."""
    stated = [r.fields.get("eval_year") for r in batch.files if r.scored]
    years = {y for y in stated if isinstance(y, int)}
    if len(years) != 1 or batch.year in years:
        return None
    (year,) = years
    count = sum(1 for y in stated if y == year)
    return (year, count) if count >= 2 else None


def _refuse_if_misconfigured(batch: BatchResult, options: Options, roster, adjust_rows: dict[str, str] | None) -> None:
    found = other_year(batch)
    if found is not None:
        year, count = found
        raise BatchRefused(f"读取的 {count} 个文件填报的评价年度都是 {year}，与本次复核的年度 {batch.year} 不符；"
                           "本次没有写出任何结果",
                           f"如本次复核的是 {year} 年度，请加上 --year {year} 重新运行")
    if options.adjustments:
        from perfxl.review.adjust import AdjustmentError, check_units

        try:
            check_units(batch, options.adjustments, adjust_rows or {}, roster)
        except AdjustmentError as exc:
            raise BatchRefused(f"{exc}；本次没有写出任何结果",
                               "请改正调整文件中的单位编码（应为本批次报送的单位或名单中的单位）后重新运行") from exc


def run_job(candidates: list[Candidate], options: Options, input_dir: Path, out_dir: Path, *,
            roster=None, jobs: int | None = None, progress: Callable[[str], None] | None = None,
            docx: bool = False, adjust_rows: dict[str, str] | None = None) -> BatchResult:
    """`perfxl run`: evaluate (reusing the output folder's cache), roster, adjustments, outputs.

    The output folder is locked for the run; perfxl replaces only files it wrote and nobody
    changed since, and sets anything else in its way aside under 保留/ (spec §11). On failure the
    folder is left without results.json, every written file on record and no temporary file.
    A batch that shows the run was set up wrong raises BatchRefused before any output is written
    (the folder is then left as after any failed run: the earlier outputs, no results.json).
    `adjust_rows`: each adjusted unit's row in the adjustment file (load_adjustments' `rows`)."""
    folder = OutputFolder.open(out_dir)
    state: State | None = None
    try:
        folder.remove("results.json")  # its presence means a run finished (also to a program waiting)
        state = State(folder.root)
        batch = run_candidates(candidates, options, progress, jobs, state)
        if roster is not None:
            from perfxl.review.ledger import apply_roster

            apply_roster(batch, roster)
            batch.files.sort(key=summary_order)  # attributed files have a unit code now
        _refuse_if_misconfigured(batch, options, roster, adjust_rows)  # before any output is written
        if options.adjustments:
            from perfxl.review.adjust import unused_adjustments

            unused_adjustments(batch, options.adjustments, adjust_rows)
        state.compare(batch.files, batch.rubric.id)  # after every batch-level finding, so since_last sees them
        write_all(batch, input_dir, folder, state, docx=docx, jobs=jobs, roster=roster)
        batch.notes.extend(state.notes)  # a damaged line may show only when its entry is used
        folder.finish()
    except BaseException as exc:
        folder.abort()
        if isinstance(exc, OutputFolderError):
            exc.incomplete = True
        exc.set_aside = list(folder.set_aside)  # type: ignore[attr-defined]  # the clerk must still learn of them
        raise
    finally:
        if state is not None:
            state.close()
        folder.release()
    batch.set_aside = list(folder.set_aside)
    # results.json is removed first and written again last: only what is gone at the end was removed
    batch.removed = [rel for rel in folder.removed if rel not in folder.entries]
    return batch


def write_all(batch: BatchResult, input_dir: Path, out: Path | OutputFolder, state: State | None = None, *,
              docx: bool = False, jobs: int | None = None, roster=None) -> None:
    """reports/ (Markdown, HTML, optionally Word), feedback/, summary.xlsx, index.html, the state,
    then results.json — whose presence means the run finished (run_job removed the old one).
    Outputs of units no longer in the batch are pruned just before results.json."""
    from perfxl.write.feedback import write_feedback
    from perfxl.write.html import write_html
    from perfxl.write.report import write_reports
    from perfxl.write.results import spool_json, write_results
    from perfxl.write.summary import write_summary
    from perfxl.write.units import write_unit_outputs

    folder = OutputFolder.of(out)
    writer = folder.writer()
    folder.target("summary.xlsx")
    # written by a thread meanwhile (this process mostly waits for the unit outputs' workers), from
    # the batch as it is now: the unit outputs add batch-level findings only afterwards
    summary = InThread(write_summary, dataclasses.replace(batch, findings=list(batch.findings)), writer)
    try:
        if docx:  # the Word files come from the Markdown reports on disk, before feedback and pages
            from perfxl.write.docx import write_docx

            markdown = write_reports(batch, folder, state, jobs)
            write_docx(batch, folder, markdown, jobs, state)
            write_feedback(batch, input_dir, folder, jobs or default_jobs(), memo=state, roster=roster)
            write_html(batch, folder, markdown, state, jobs)
        else:  # each unit's report, page and feedback in one task (same files as the three passes)
            write_unit_outputs(batch, input_dir, folder, state, jobs, roster)  # adds internal-error findings
        results = spool_json(batch, state)  # before the state is saved: it remembers the entries
        try:
            if state is not None:
                state.save(writer)
        except BaseException:
            results.close()
            raise
    except BaseException:
        summary.cancel()  # nothing may be written after the run has failed
        raise
    try:
        summary.finish()
        folder.prune()  # earlier outputs no longer made go before results.json says the run finished
    except BaseException:
        summary.cancel()  # Ctrl-C while waiting for it: it too must stop before the folder is let go
        results.close()
        raise
    write_results(batch, folder, spool=results)
