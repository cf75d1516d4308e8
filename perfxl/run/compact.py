"""Results held compactly in the parent: what every file of a form shares is held once.

The parent keeps every file's result until the batch's outputs are written (the summary, the
duplicates, the roster need all of them). A result arrives unpickled from a worker or decoded from
the state, each with its own copy of everything: the 40-odd field keys, the (sheet, cell) of every
field — the same for every file of one template — the indicator codes, the sheet names. Sharing
them takes a result from ~28 KiB to about half (measured on the benchmark's returns with
tracemalloc), so that 10,000 units fit where 5,000 did. Nothing is changed but which object holds
an equal value: every output is byte-identical.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from perfxl.model import FileResult


class Compactor:
    """Shares equal parts between the results of one batch (one per run: the table grows with
    the distinct layouts seen, a handful)."""

    #: at most this many shared texts or scores: a value seen once costs its table entry, so
    #: only what recurs across files is worth a place (codes, sheets, cells, scores like 4.5)
    LIMIT = 20_000

    def __init__(self) -> None:
        self._cells: dict[tuple, dict] = {}
        self._strings: dict[str, str] = {}
        self._scores: dict[str, Decimal] = {}
        self._keys: dict[tuple, tuple] = {}

    def text(self, value: object) -> object:
        """One object for each short text seen (codes, sheet names, cell references)."""
        if isinstance(value, str) and len(value) <= 64:
            shared = self._strings.get(value)
            if shared is None and len(self._strings) < self.LIMIT:
                shared = self._strings[value] = value
            return value if shared is None else shared
        return value

    def score(self, value: Decimal | None) -> Decimal | None:
        """One Decimal for each score (an indicator's 5, 4.5, 0: a few dozen values a form).
        Keyed by the exact text, so 5 and 5.0 stay apart."""
        if value is None:
            return None
        key = str(value)
        shared = self._scores.get(key)
        if shared is None and len(self._scores) < self.LIMIT:
            shared = self._scores[key] = value
        return value if shared is None else shared

    def cells(self, cells: dict) -> dict:
        """One dict for each layout: every file filled in the same template has the same cells.
        Never mutated once a result is made (readers build a new dict per file)."""
        key = tuple(cells.items())
        shared = self._cells.get(key)
        if shared is None:
            text = self.text
            shared = self._cells[key] = {text(k): (text(s), text(c)) for k, (s, c) in cells.items()}
        return shared

    def fields(self, fields: dict) -> dict:
        """The same values under shared keys (one tuple of keys a layout; dict(zip) is C-fast).
        The values stay the file's own: most are its own figures and names."""
        keys = tuple(fields)
        shared = self._keys.get(keys)
        if shared is None:
            shared = self._keys[keys] = tuple(sys.intern(k) for k in keys)
        return dict(zip(shared, fields.values(), strict=True))

    def __call__(self, result: FileResult) -> FileResult:
        text = self.text
        result.cells = self.cells(result.cells)
        result.fields = self.fields(result.fields)
        for indicator in result.indicators:
            indicator.code = text(indicator.code)  # type: ignore[assignment]
            indicator.reason = text(indicator.reason)  # type: ignore[assignment]
            indicator.self_score = self.score(indicator.self_score)
            indicator.reviewed_score = self.score(indicator.reviewed_score)
        for project in result.projects:
            project.cells = self.cells(project.cells)
            project.fields = self.fields(project.fields)
            project.sheet = text(project.sheet)  # type: ignore[assignment]
            for row in project.indicators:
                for name in ("level1", "level2", "direction", "unit"):
                    setattr(row, name, text(getattr(row, name)))
                row.weight, row.self_score = self.score(row.weight), self.score(row.self_score)
                row.reviewed_score = self.score(row.reviewed_score)
        for name in ("status", "format", "form", "self_grade", "reviewed_grade", "department"):
            setattr(result, name, text(getattr(result, name)))
        return result
