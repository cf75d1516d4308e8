"""The main job and its outputs: evaluate a folder, apply the roster, remember, write (spec §8, §11)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from perfxl.model import BatchResult, Options
from perfxl.read.intake import Candidate
from perfxl.run.pipeline import run_candidates
from perfxl.run.state import State
from perfxl.run.worker import cancel, default_jobs, finish, in_background
from perfxl.write.errors import OutputFolderError
from perfxl.write.folder import OutputFolder


def run_job(candidates: list[Candidate], options: Options, input_dir: Path, out_dir: Path, *,
            roster=None, jobs: int | None = None, progress: Callable[[str], None] | None = None,
            docx: bool = False) -> BatchResult:
    """`perfxl run`: evaluate (reusing the output folder's cache), roster, adjustments, outputs.

    The output folder is locked for the run; perfxl replaces only files it wrote and nobody
    changed since, and sets anything else in its way aside under 保留/ (spec §11). On failure the
    folder is left without results.json, every written file on record and no temporary file."""
    folder = OutputFolder.open(out_dir)
    try:
        folder.remove("results.json")  # its presence means a run finished
        state = State(folder.root)
        batch = run_candidates(candidates, options, progress, jobs, state)
        if roster is not None:
            from perfxl.review.ledger import apply_roster

            apply_roster(batch, roster)
        if options.adjustments:
            from perfxl.review.adjust import unused_adjustments

            unused_adjustments(batch, options.adjustments)
        state.compare(batch.files)  # after every batch-level finding, so since_last sees them
        write_all(batch, input_dir, folder, state, docx=docx, jobs=jobs)
        batch.notes.extend(state.notes)  # a damaged line may show only when its entry is used
        folder.finish()
    except BaseException as exc:
        folder.abort()
        if isinstance(exc, OutputFolderError):
            exc.incomplete = True
        exc.set_aside = list(folder.set_aside)  # type: ignore[attr-defined]  # the clerk must still learn of them
        raise
    finally:
        folder.release()
    batch.set_aside = list(folder.set_aside)
    return batch


def write_all(batch: BatchResult, input_dir: Path, out: Path | OutputFolder, state: State | None = None, *,
              docx: bool = False, jobs: int | None = None) -> None:
    """reports/ (Markdown, HTML, optionally Word), feedback/, summary.xlsx, index.html, the state,
    then results.json — whose presence means the run finished (run_job removed the old one).
    Outputs of units no longer in the batch are removed by the folder's `finish`."""
    from perfxl.write.feedback import write_feedback
    from perfxl.write.html import write_html
    from perfxl.write.report import write_reports
    from perfxl.write.results import to_json, write_results
    from perfxl.write.summary import write_summary

    folder = OutputFolder.of(out)
    writer = folder.writer()
    folder.target("summary.xlsx")
    summary = in_background(write_summary, batch, writer)  # the other core writes it meanwhile
    try:
        markdown = write_reports(batch, folder, state, jobs)
        if docx:
            from perfxl.write.docx import write_docx

            write_docx(batch, folder, markdown, jobs, state)
        write_feedback(batch, input_dir, folder, jobs or default_jobs(), memo=state)  # adds internal-error findings
        write_html(batch, folder, markdown, state, jobs)
        results = to_json(batch, state)  # before the state is saved: it remembers the entries
        if state is not None:
            state.save(writer)
    except BaseException:
        cancel(summary)  # nothing may be written after the run has failed
        raise
    finish(summary, write_summary, batch, writer)
    folder.collect()
    write_results(batch, folder, text=results)
