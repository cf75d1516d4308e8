"""Where perfxl's data files are: the output templates (report.md.j2, the Word reference …)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import perfxl

#: a file every templates folder has: how the installed copy is told from an empty one
TEMPLATE = "report.md.j2"


def templates_dir() -> Path:
    """The folder of report.md.j2: the installed `perfxl.templates`, else the source tree's."""
    try:
        found = resources.files("perfxl.templates")
    except ModuleNotFoundError:
        found = None
    if isinstance(found, Path) and (found / TEMPLATE).is_file():
        return found
    return Path(perfxl.__file__).resolve().parent.parent / "templates"
