"""Which form a file was read by, as every output asks it: its form object, its deadline, and
whether it is a project file (spec §13) — 项目支出 rather than 部门整体支出 in titles and wording.

The context is the BatchResult a writer was given, or the batch's Options (a report rendered for
`perfxl check`); a file naming no form of the batch goes with the batch's first one.
"""

from __future__ import annotations

import datetime as dt

from perfxl.model import BatchResult, FileResult, Form, Options
from perfxl.spec.project import PROJECT_KIND

DEPARTMENT_KIND = "部门整体支出"


def form_of(ctx: BatchResult | Options, result: FileResult) -> Form:
    """The form `result` was read by."""
    if isinstance(ctx, BatchResult):
        return ctx.form_of(result)
    return ctx.form_named(result.form) or ctx.rubric


def deadline_of(ctx: BatchResult | Options, form: Form) -> dt.date:
    """A form's deadline in this batch: the command line's (--deadline), else the first form's as
    the batch has it, another form's own for the batch year."""
    return ctx.deadline_for(form)


def is_project_form(form: Form) -> bool:
    return getattr(form, "kind", "") == PROJECT_KIND


def is_project(result: FileResult, ctx: BatchResult | Options) -> bool:
    """A project file: it holds projects, or was read by a project form."""
    return bool(result.projects) or is_project_form(form_of(ctx, result))


def kind_label(result: FileResult, ctx: BatchResult | Options) -> str:
    """项目支出 or 部门整体支出: what the file's self-evaluation is of."""
    return PROJECT_KIND if is_project(result, ctx) else DEPARTMENT_KIND


def batch_context(batch: BatchResult) -> BatchResult:
    """What a unit's outputs need of the batch (its forms, year, deadline), light enough to send
    to worker processes."""
    return BatchResult(batch.rubric, batch.year, batch.deadline, others=batch.others, deadline_given=batch.deadline_given)
