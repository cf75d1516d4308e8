"""The feedback workbook of a file that must be sent again (spec §8, issue 11).

A file perfxl could not use — another round's template, not a template, a broken or encrypted
file — still belongs to a unit that must report. It gets a feedback workbook like any returned
file: `审核意见` first, saying why the file could not be used and what to do. When the unit is
known (its code read from the file, or given by the roster by the file's name), the same workbook
also holds this round's template, pre-filled and locked for that unit as `perfxl template
--roster` would make it. One workbook, not two files: the unit fills in the template sheets,
answers in 单位答复 and sends that same workbook back, which perfxl reads as a normal submission
(the 审核意见 sheet does not disturb the reader), as it does every other feedback copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from perfxl.model import BatchResult, FileResult
from perfxl.ooxml.patch import Patcher, Review
from perfxl.read.roster import Roster, RosterUnit
from perfxl.spec.rubric import Rubric
from perfxl.write.prefill import prefill_values


def resend_stems(batch: BatchResult, taken: list[tuple[FileResult, str]]) -> list[tuple[FileResult, str]]:
    """The unreadable files that go back to their unit, each with a feedback stem that none of
    the scored files' stems (`taken`) has."""
    from perfxl.review.ledger import must_send_again
    from perfxl.write.naming import safe_name, unique

    used = {stem.casefold() for _, stem in taken}
    return [(r, unique(safe_name(r.unit_code or "", r.unit_name or Path(r.file).stem), used))
            for r in batch.files if r.status == "unreadable" and must_send_again(r)]


def prefill_for(result: FileResult, roster: Roster | None, year: int) -> dict[str, object] | None:
    """What the fresh template is pre-filled with: the roster's unit (with the bureau's figures)
    when the roster has it, else what the file itself said of the unit; None: unit unknown."""
    if not result.unit_code:
        return None
    unit = roster.get(result.unit_code) if roster is not None else None
    if unit is None:
        unit = RosterUnit(result.unit_code, result.unit_name or "", result.department)
    values = prefill_values(unit, year)
    if not values.get("unit_name"):
        del values["unit_name"]  # never lock a blank name: the unit types it
    return values


def resend_review(review: Review, result: FileResult, prefill: dict[str, object] | None) -> Review:
    """`review` (as build_review made it) reworded for a file that could not be used at all;
    `prefill`: what the attached template was pre-filled with (None: no template attached)."""
    names = "、".join(dict.fromkeys(f.title for f in result.findings if f.severity.value == "error"))
    review.returned = True
    review.lead = (f"退回重报：本文件未能审核（{names}）。请按下表说明处理后重新报送；"
                   "有需要说明的情况请在“单位答复”栏填写。")
    if prefill is not None:
        what = "、".join(label for key, label in (("unit_name", "名称"), ("unit_code", "编码"), ("eval_year", "评价年度"))
                        if key in prefill)
        todo = (f"本工作簿后面附有本次下发的填报模板，已预填本单位的{what}（已锁定，不必修改）："
                "请在其中填写黄色单元格，保存后把本工作簿整个报回。")
    else:
        todo = "未能识别报送单位，无法附上预填模板：请向财政部门索取本次下发的填报模板，填写后重新报送。"
    review.notes = [f"报送文件：{result.file}。", todo]
    for row in review.rows:  # the cells named are the unit's file's, not the attached template's
        row.link = None
    return review


def template_with_review(review: Review, rubric: Rubric, year: int, prefill: dict[str, object]) -> bytes:
    """This round's template pre-filled with `prefill`, with the 审核意见 sheet added first (the
    project form's workbook when `rubric` is a ProjectForm, spec §13)."""
    from perfxl.write.project_template import write_project_template
    from perfxl.write.template import write_template

    write = write_project_template if getattr(rubric, "kind", "") == "项目支出" else write_template
    with tempfile.TemporaryDirectory(prefix="perfxl-") as tmp:
        path = Path(tmp) / "template.xlsx"
        write(path, rubric, year, prefill)  # type: ignore[arg-type]
        data = path.read_bytes()
    return Patcher(data).patch(review, {})
