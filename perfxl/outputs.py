"""Write every output of a batch into the output folder; results.json last (spec §8)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from perfxl.pipeline import BatchResult


def write_all(batch: BatchResult, out_dir: Path) -> None:
    """reports/, summary.xlsx, then results.json — whose presence means the run finished."""
    from perfxl.report import write_reports
    from perfxl.results import write_results
    from perfxl.summary import write_summary

    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (out_dir / "results.json").unlink()
    written = set(write_reports(batch, out_dir))
    _remove_stale(out_dir / "reports", written, "*.md")
    write_summary(batch, out_dir)
    write_results(batch, out_dir)


def _remove_stale(folder: Path, keep: set[Path], pattern: str) -> None:
    """Drop outputs of units that are no longer in the batch, so the folder shows this run."""
    if not folder.is_dir():
        return
    keep_resolved = {p.resolve() for p in keep}
    for path in folder.glob(pattern):
        if path.resolve() not in keep_resolved:
            path.unlink()
