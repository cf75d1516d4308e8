"""Feedback workbooks (spec §8): `feedback/<单位编码>_<单位名称>.xlsx` for each unit to send back.

A unit gets one when its file was reviewed or in error and has at least one error or warning;
findings of severity 提示 alone do not warrant a letter back (they are listed on 审核意见 when
a feedback file is written anyway). The first sheet `审核意见` lists every finding with a link to
its cell and an empty, unlocked 单位答复 column; each error or warning cell is filled (red for
errors, amber for warnings) and carries a comment.

- .xlsx / .xlsm: the unit's own package, patched (perfxl.ooxml.patch): every original part is
  kept byte for byte except those that must change, so cached values, images, shapes,
  validation and protection survive; macros are dropped and the result is .xlsx.
- .xls, .ods, .xlsb (and .et), or a package the patcher declines: a new workbook with 审核意见
  and a values-only copy of the sheets perfxl read, highlighted and commented.
- An input that changed since it was reviewed, or cannot be read again: 审核意见 alone.
Inputs are only ever read. The two ways of writing are perfxl.write.feedback_copy; a project
file (spec §13) is marked the same way, on its project sheets.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

from perfxl.findings import SEVERITY_ORDER, Finding, Severity
from perfxl.model import BatchResult, FileResult
from perfxl.ooxml.comments import Mark
from perfxl.ooxml.package import Unsupported
from perfxl.ooxml.patch import Review, ReviewRow
from perfxl.ooxml.refs import parse_a1
from perfxl.read.values import format_number
from perfxl.review.ledger import must_send_again
from perfxl.write.feedback_copy import COLOURS, patched_copy, rebuilt_copy
from perfxl.write.folder import OutputFolder, Writer
from perfxl.write.kind import batch_context, form_of, kind_label
from perfxl.write.text import since_last_text

__all__ = ["COLOURS", "HEADER", "REVIEW_SHEET", "build_marks", "build_review", "feedback_bytes", "needs_feedback",
           "patched_copy", "rebuilt_copy", "write_feedback"]

REVIEW_SHEET = "审核意见"
#: 问题 is the code's Chinese name, 规则 the code; perfxl.read.replies finds the columns by this text
HEADER = ("序号", "严重程度", "问题", "规则", "工作表", "单元格", "说明", "应为", "实为", "单位答复")
SEND_BACK = (Severity.ERROR, Severity.WARNING)
#: below this many files per process a pool costs more than it saves (a file takes ~5 ms)
MIN_PER_PROCESS = 40


def needs_feedback(result: FileResult) -> bool:
    """A scored file with an error or a warning, or any file its unit must send again (an
    unreadable one too: perfxl.review.ledger.must_send_again)."""
    return (result.scored and any(f.severity in SEND_BACK for f in result.findings)) or must_send_again(result)


def _number(d: Decimal | None) -> str:
    return "—" if d is None else format_number(d)


def _valid_ref(ref: str | None) -> bool:
    try:
        return ref is not None and parse_a1(ref) is not None
    except ValueError:
        return False


def build_review(result: FileResult, batch: BatchResult) -> Review:
    errors, warnings, infos = (result.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    returned = errors > 0
    name, code = result.unit_name or "（未填单位名称）", result.unit_code or "无编码"
    if returned:
        lead = (f"退回：本文件有 {errors} 项错误（红色标注）" + (f"、{warnings} 项警告（黄色标注）" if warnings else "")
                + "。请逐项更正错误后重新报送；警告请逐项核实，需要说明的请在“单位答复”栏填写。")
    else:
        lead = (f"提醒：未发现错误，有 {warnings} 项警告（黄色标注）。请逐项核实，并在“单位答复”栏说明情况；"
                "确有差错的，请更正后重新报送。")
    totals = _project_totals(result, returned) if result.projects else _totals(
        result.self_total, result.self_grade, result.reviewed_total, result.reviewed_grade, returned)
    notes = [f"报送文件：{result.file}。{totals}",
             "标注单元格的批注中有详细说明；点击“单元格”列可跳转到该单元格。"
             + (f"另有 {infos} 项提示，仅供参考，无需更正。" if infos else "")]
    since = result.since_last
    if since:
        notes.append(f"与上次报送相比——{since_last_text(since, form_of(batch, result).fields)}。")
    review = Review(f"{batch.year}年度{kind_label(result, batch)}绩效自评审核意见——{name}（{code}）", lead, returned,
                    notes, header=HEADER, sheet_name=REVIEW_SHEET)
    for i, f in enumerate(sorted(result.findings, key=lambda f: SEVERITY_ORDER[f.severity]), 1):
        cells = [c for c in f.cells if _valid_ref(c)]
        shown = cells[0] + (f"（相关：{'、'.join(cells[1:])}）" if len(cells) > 1 else "") if cells else ""
        details = f.details or {}
        # the unit's last reply to this finding stands until it writes another
        values = [i, f.severity.label, f.title, f.code, f.sheet or "", shown, f.message,
                  _text(details.get("expected")), _text(details.get("found")), f.reply or ""]
        review.rows.append(ReviewRow(values, f.severity.value, (f.sheet, cells[0]) if f.sheet and cells else None))
    return review


def _totals(self_total: Decimal | None, self_grade: str | None, reviewed_total: Decimal | None,
            reviewed_grade: str | None, returned: bool) -> str:
    if reviewed_total is None:
        reviewed = "无法计算（存在影响评分的错误）"
    else:
        reviewed = f"{_number(reviewed_total)}（{reviewed_grade}）"
        reviewed += "，待单位更正后重新核定" if returned else ""
    return f"自评总分 {_number(self_total)}" + (f"（{self_grade}）" if self_grade else "") + f"；核定总分 {reviewed}。"


def _project_totals(result: FileResult, returned: bool) -> str:
    """A project file's totals, project by project in sheet order (spec §13)."""
    parts = [f"项目“{p.project_name or '（未填项目名称）'}”（工作表「{p.sheet}」）"
             + _totals(p.self_total, p.self_grade, p.reviewed_total, p.reviewed_grade, returned)
             for p in result.projects]
    return f"共 {len(result.projects)} 个项目：" + "".join(parts)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _comment(f: Finding, primary: str | None) -> str:
    head = f"【{f.severity.label}】{f.code} {f.title}"
    if primary is not None:
        return f"{head}：相关单元格，详见 {primary}"
    details = f.details or {}
    expected, found = details.get("expected"), details.get("found")
    extra = ""
    if expected is not None or found is not None:
        extra = "\n" + "；".join(part for part in (
            f"应为：{expected}" if expected is not None else "", f"实为：{found}" if found is not None else "") if part)
    return f"{head}\n{f.message}{extra}"


def build_marks(result: FileResult) -> dict[str, dict[str, Mark]]:
    """sheet -> A1 -> Mark for every cell of every error or warning finding."""
    texts: dict[tuple[str, str], list[str]] = {}
    worst: dict[tuple[str, str], str] = {}
    for f in result.findings:
        if f.severity not in SEND_BACK or not f.sheet:
            continue
        cells = [c for c in f.cells if _valid_ref(c)]
        for i, ref in enumerate(cells):
            key = (f.sheet, ref)
            texts.setdefault(key, []).append(_comment(f, cells[0] if i else None))
            if worst.get(key) != "error":
                worst[key] = f.severity.value
    out: dict[str, dict[str, Mark]] = {}
    for (sheet, ref), parts in texts.items():
        out.setdefault(sheet, {})[ref] = Mark(worst[(sheet, ref)], "\n\n".join(parts))
    return out


# -- the batch ------------------------------------------------------------------------------


def feedback_bytes(result: FileResult, batch: BatchResult, data: bytes | None) -> tuple[bytes, str | None]:
    """The feedback workbook of one unit, and perfxl's own failure on the way: None normally,
    "TypeName: message" when the patcher or the copier failed unexpectedly (the workbook is then
    the next best copy). `data` is the unit's file as read now (None: unreadable)."""
    from perfxl.read.badfile import describe, is_bad_package

    cause: str | None = None
    review, marks = build_review(result, batch), build_marks(result)
    if data is not None and result.sha256 and hashlib.sha256(data).hexdigest() != result.sha256:
        review.notes.append("原文件在审核后已被改动，本表只列审核意见，未附带标注的工作表。")
        data = None
    elif data is None:
        review.notes.append("原文件已无法读取，本表只列审核意见。")
    if data is not None and result.format in ("xlsx", "xlsm"):
        try:
            return patched_copy(data, review, marks), None
        except Exception as exc:  # a values copy instead
            # a package the patcher declines (Unsupported) or cannot parse is the package's
            # doing; anything else is a bug of perfxl's, reported by the caller
            if not (isinstance(exc, Unsupported) or is_bad_package(exc)):
                cause = describe(exc)
            reason = "结构特殊" if isinstance(exc, Unsupported) else "无法按原样复制"
            review = build_review(result, batch)
            review.notes.append(f"原文件{reason}，反馈表为数值副本：只保留各单元格的值，格式、公式和图片未保留。")
    elif data is not None:
        review.notes.append(f"原文件为 .{result.format} 格式，反馈表为数值副本：只保留各单元格的值，"
                            "格式和公式未保留；更正时请修改原文件或下发的模板。")
    try:
        return rebuilt_copy(review, marks, result, data, form_of(batch, result)), cause
    except Exception as exc:  # the values copy failed too: the findings alone still go back
        if not is_bad_package(exc):
            cause = cause or describe(exc)
        review = build_review(result, batch)
        review.notes.append("原文件无法复制，本表只列审核意见。")
        return rebuilt_copy(review, marks, result, None), cause


def unreadable_bytes(result: FileResult, batch: BatchResult, prefill: dict[str, object] | None
                     ) -> tuple[bytes, str | None]:
    """The feedback workbook of a file that could not be used (perfxl.write.resend): 审核意见 and,
    for a known unit (`prefill`), this round's template pre-filled for it; and perfxl's own
    failure on the way (the 审核意见 sheet alone then still goes back)."""
    from perfxl.read.badfile import describe
    from perfxl.write.resend import resend_review, template_with_review

    cause: str | None = None
    if prefill is not None:
        try:
            review = resend_review(build_review(result, batch), result, prefill)
            return template_with_review(review, form_of(batch, result), batch.year, prefill), None
        except Exception as exc:  # a bug of ours, reported by the caller
            cause = describe(exc)
    return rebuilt_copy(resend_review(build_review(result, batch), result, None), {}, result, None), cause


def _write(result: FileResult, batch: BatchResult, src: Path, writer: Writer, rel: str,
           prefill: dict[str, object] | None = None) -> str | None:
    """Write one unit's feedback copy; returns perfxl's own failure while copying, if any."""
    if result.status == "unreadable":  # nothing of the file is copied: it could not be used
        content, failure = unreadable_bytes(result, batch, prefill)
        writer.write_bytes(rel, content)
        return failure
    try:
        data: bytes | None = src.read_bytes()
    except OSError:
        data = None
    content, failure = feedback_bytes(result, batch, data)
    writer.write_bytes(rel, content)
    return failure


_CONTEXT: tuple[BatchResult, Writer] | None = None


def _init_worker(context: BatchResult, writer: Writer) -> None:
    global _CONTEXT
    _CONTEXT = (context, writer)


def _work(task: tuple[FileResult, Path, str, dict | None]) -> str | None:
    assert _CONTEXT is not None
    return _write(task[0], _CONTEXT[0], task[1], _CONTEXT[1], task[2], task[3])


def _stems(batch: BatchResult) -> list[tuple[FileResult, str]]:
    """Every file that gets feedback with its stem: scored ones as reports/ names them, then the
    unreadable ones that go back (perfxl.write.resend)."""
    from perfxl.write.naming import output_stems
    from perfxl.write.resend import resend_stems

    stems = output_stems(batch)
    return [(r, stem) for r, stem in stems if needs_feedback(r)] + resend_stems(batch, stems)


FeedbackTask = tuple[FileResult, Path, str, "dict | None"]  # result, source file, rel, prefill


def plan_feedback(batch: BatchResult, input_dir: Path, folder: OutputFolder, memo=None, roster=None
                  ) -> tuple[list[Path], list[FeedbackTask]]:
    """Every feedback workbook's path and the tasks of those to write (see write_feedback)."""
    from perfxl.read.intake import source_path
    from perfxl.write.resend import prefill_for

    tasks: list[FeedbackTask] = []
    paths: list[Path] = []
    for result, unique in _stems(batch):
        rel = folder.child("feedback", f"{unique}.xlsx")
        dest = folder.path(rel)
        paths.append(dest)
        prefill = prefill_for(result, roster, batch.year) if result.status == "unreadable" else None
        # the result carries the input's sha256 (an unchanged copy is kept); a fresh template
        # also depends on what it is pre-filled with
        key = memo.output_key(result, batch, "feedback", repr(sorted(prefill.items())) if prefill else "") \
            if memo is not None else ""
        if not folder.fresh(rel, key):
            tasks.append((result, source_path(Path(input_dir), result.key or result.file), folder.target(rel, key),
                          prefill))
    return paths, tasks


def feedback_failures(batch: BatchResult, folder: OutputFolder, tasks: list[FeedbackTask],
                      failures: list[str | None]) -> None:
    """perfxl's own failures while writing the copies (write_one's answers, in task order):
    unkeyed (made again next run) and reported as batch-level internal-error findings."""
    for (_, _, rel, _), failure in zip(tasks, failures, strict=True):
        if failure:
            folder.unkeyed(rel)  # a copy made after a failure is made (and reported) again next run
    folder.collect()
    for (result, _, rel, _), failure in zip(tasks, failures, strict=True):
        if failure:
            batch.findings.append(Finding(
                "internal-error", f"perfxl 生成 {result.file} 的反馈件时发生内部错误（{failure}），已改为数值副本 {rel}；"
                "这不是单位文件的问题，请把该文件和这条信息反馈给 perfxl 维护人员", file=result.file,
                unit_code=result.unit_code))


def write_one(task: FeedbackTask, batch: BatchResult, writer: Writer) -> str | None:
    """One plan_feedback task; perfxl's own failure while copying, if any."""
    return _write(task[0], batch, task[1], writer, task[2], task[3])


def write_feedback(batch: BatchResult, input_dir: Path, out: Path | OutputFolder, jobs: int = 1,
                   memo=None, roster=None) -> list[Path]:
    """Write feedback/<code>_<name>.xlsx for every unit that has errors or warnings, and for every
    file its unit must send again (unreadable too); returns the paths.

    Names follow reports/ (same stem, same de-duplication over all scored files), so a unit's
    report and feedback pair up. An unreadable file's workbook holds 审核意见 and, when its unit
    is known, this round's template pre-filled from `roster` (or from what the file said).
    With `jobs` > 1 and at least MIN_PER_PROCESS files per process, the files are written by a
    pool of `jobs` processes (same bytes; see feedback_bench.py (d)).
    A copy that perfxl itself failed to make as it should is still written (as a values copy)
    and reported as a batch-level internal-error."""
    folder = OutputFolder.of(out)
    writer = folder.writer()
    paths, tasks = plan_feedback(batch, input_dir, folder, memo, roster)
    if not tasks:
        return paths
    from perfxl.parallel import parallel_map

    context = batch_context(batch)  # what a file's feedback needs
    failures = parallel_map(_work, tasks, jobs, MIN_PER_PROCESS, initializer=_init_worker, initargs=(context, writer))
    feedback_failures(batch, folder, tasks, failures)
    return paths
