"""One 校验 row of a form (spec §12): a comparison that must hold, and the finding when it does not.

Its own module so that the rubric can carry a form's rows without importing the form.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfxl.spec.expr import Condition, parse_condition

BLANK_AS_ZERO = "空白按零"


@dataclass(frozen=True)
class Check:
    """One 校验 row: a comparison that must hold, the finding code when it does not, and its wording."""

    code: str
    name: str
    condition: str  # canonical text of the parsed condition
    severity: str = "error"
    advice: str = ""
    primary: str | None = None
    message: str | None = None

    @property
    def parsed(self) -> Condition:
        """The condition as a tree (the text was checked when the form was read)."""
        return parse_condition(self.condition)

    @property
    def blank_as_zero(self) -> bool:
        """`空白按零` in 说明: blank fields count as 0 instead of skipping the check."""
        return BLANK_AS_ZERO in self.advice
