"""The main job and its outputs: evaluate a folder, apply the roster, remember, write (spec §8)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from perfxl.intake import Candidate
from perfxl.model import BatchResult
from perfxl.pipeline import Options, run_candidates
from perfxl.state import State
from perfxl.worker import default_jobs, finish, in_background


def run_job(candidates: list[Candidate], options: Options, input_dir: Path, out_dir: Path, *,
            roster=None, jobs: int | None = None, progress: Callable[[str], None] | None = None,
            docx: bool = False) -> BatchResult:
    """`perfxl run`: evaluate (reusing the output folder's cache), roster, adjustments, outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (out_dir / "results.json").unlink()  # deleted at the start: its presence means a run finished
    state = State(out_dir)
    batch = run_candidates(candidates, options, progress, jobs, state)
    if roster is not None:
        from perfxl.roster import apply_roster

        apply_roster(batch, roster)
    if options.adjustments:
        from perfxl.adjust import unused_adjustments

        unused_adjustments(batch, options.adjustments)
    state.compare(batch.files)  # after every batch-level finding, so since_last sees them
    write_all(batch, input_dir, out_dir, state, docx=docx, jobs=jobs)
    return batch


def write_all(batch: BatchResult, input_dir: Path, out_dir: Path, state: State | None = None, *,
              docx: bool = False, jobs: int | None = None) -> None:
    """reports/ (Markdown, HTML, optionally Word), summary.xlsx, index.html, state, then
    results.json — whose presence means the run finished (run_job removed the old one)."""
    from perfxl.feedback import write_feedback
    from perfxl.htmlpage import write_html
    from perfxl.report import write_reports
    from perfxl.results import to_json, write_results
    from perfxl.summary import write_summary

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = in_background(write_summary, batch, out_dir)  # the other core writes it meanwhile
    reports = out_dir / "reports"
    markdown = write_reports(batch, out_dir, state, jobs)
    _replace_folder(reports, markdown, "*.md")
    docx_paths: list[Path] = []
    if docx:
        from perfxl.docx import write_docx

        docx_paths = write_docx(batch, out_dir, markdown, jobs, state)
    _replace_folder(reports, docx_paths, "*.docx")  # without --docx, old Word files would not match
    feedback = write_feedback(batch, input_dir, out_dir, jobs or default_jobs(), memo=state)
    _replace_folder(out_dir / "feedback", feedback, "*.xlsx")
    _replace_folder(reports, write_html(batch, out_dir, markdown, state, jobs), "*.html")
    results = to_json(batch, state)  # before the state is saved: it remembers the entries
    if state is not None:
        state.save()
    finish(summary, write_summary, batch, out_dir)
    write_results(batch, out_dir, text=results)


def _replace_folder(folder: Path, written: list[Path], pattern: str) -> None:
    """Drop outputs of units no longer in the batch, so the folder shows exactly this run."""
    if not folder.is_dir():
        return
    keep = {p.resolve() for p in written}
    for path in folder.glob(pattern):
        if path.resolve() not in keep:
            path.unlink()
