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
Inputs are only ever read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from perfxl.findings import SEVERITY_ORDER, Finding, Severity
from perfxl.model import BASIC_SHEET, SCORE_SHEET, BatchResult, FileResult
from perfxl.ooxml.comments import AUTHOR, Mark, line_count
from perfxl.ooxml.package import Unsupported
from perfxl.ooxml.patch import CENTER_COLS, LINK_COL, REPLY_COL, SEVERITY_COL, WIDTHS, Patcher, Review, ReviewRow
from perfxl.ooxml.refs import display_width, parse_a1
from perfxl.read.values import format_number
from perfxl.review.ledger import must_send_again
from perfxl.spec.fields import Field
from perfxl.spec.rubric import Rubric
from perfxl.write.folder import OutputFolder, Writer
from perfxl.write.printing import set_print
from perfxl.write.text import since_last_text

REVIEW_SHEET = "审核意见"
#: 问题 is the code's Chinese name, 规则 the code; perfxl.read.replies finds the columns by this text
HEADER = ("序号", "严重程度", "问题", "规则", "工作表", "单元格", "说明", "应为", "实为", "单位答复")
SEND_BACK = (Severity.ERROR, Severity.WARNING)
COLOURS = {"error": ("#FFC7CE", "#9C0006"), "warning": ("#FFEB9C", "#9C5700")}
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
    if result.reviewed_total is None:
        reviewed = "无法计算（存在影响评分的错误）"
    else:
        reviewed = f"{_number(result.reviewed_total)}（{result.reviewed_grade}）"
        reviewed += "，待单位更正后重新核定" if returned else ""
    notes = [f"报送文件：{result.file}。自评总分 {_number(result.self_total)}"
             + (f"（{result.self_grade}）" if result.self_grade else "") + f"；核定总分 {reviewed}。",
             "标注单元格的批注中有详细说明；点击“单元格”列可跳转到该单元格。"
             + (f"另有 {infos} 项提示，仅供参考，无需更正。" if infos else "")]
    since = result.since_last
    if since:
        notes.append(f"与上次报送相比——{since_last_text(since, batch.rubric.fields)}。")
    review = Review(f"{batch.year}年度部门整体支出绩效自评审核意见——{name}（{code}）", lead, returned, notes,
                    header=HEADER, sheet_name=REVIEW_SHEET)
    for i, f in enumerate(sorted(result.findings, key=lambda f: SEVERITY_ORDER[f.severity]), 1):
        cells = [c for c in f.cells if _valid_ref(c)]
        shown = cells[0] + (f"（相关：{'、'.join(cells[1:])}）" if len(cells) > 1 else "") if cells else ""
        details = f.details or {}
        # the unit's last reply to this finding stands until it writes another
        values = [i, f.severity.label, f.title, f.code, f.sheet or "", shown, f.message,
                  _text(details.get("expected")), _text(details.get("found")), f.reply or ""]
        review.rows.append(ReviewRow(values, f.severity.value, (f.sheet, cells[0]) if f.sheet and cells else None))
    return review


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


# -- the two ways of writing ---------------------------------------------------------------


def patched_copy(data: bytes, review: Review, marks: dict[str, dict[str, Mark]]) -> bytes:
    """The unit's OOXML package with the highlights, comments and 审核意见 added."""
    patcher = Patcher(data)
    names = set(patcher.sheet_names())
    for row in review.rows:
        if row.link and row.link[0] not in names:
            row.link = None
    return patcher.patch(review, marks)


def rebuilt_copy(review: Review, marks: dict[str, dict[str, Mark]], result: FileResult,
                 data: bytes | None, rubric: Rubric | None = None) -> bytes:
    """A new workbook: 审核意见 and, when `data` is given, a values-only copy of the sheets read
    (基础数据表 and 评分表 as the reader located them, and any sheet a finding names)."""
    import xlsxwriter

    from perfxl.read.workbook import Reader, open_book

    grids = []
    if data is not None:
        book = open_book(data, result.format or "xlsx")
        wanted = {sheet for sheet, _ in result.cells.values()} | {f.sheet for f in result.findings if f.sheet}
        wanted |= {BASIC_SHEET, SCORE_SHEET}
        if rubric is not None:
            sub = Reader(book, rubric, result.file).read()
            wanted |= {sub.basic_sheet, sub.score_sheet}
        grids = [book.grids[name] for name in book.order if name in wanted]
    names = {g.name for g in grids}
    for row in review.rows:
        if row.link and row.link[0] not in names:
            row.link = None
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    wb.set_properties({"title": review.title, "author": AUTHOR, "created": dt.datetime(2000, 1, 1)})
    review_name = review.sheet_name if review.sheet_name not in names else f"{review.sheet_name}2"
    _xlsxwriter_review(wb, wb.add_worksheet(review_name), review)
    types = _field_types(result, rubric.fields) if rubric is not None else {}  # no rubric: no sheets copied
    for grid in grids:
        _xlsxwriter_copy(wb, wb.add_worksheet(grid.name[:31]), grid, marks.get(grid.name, {}), types)
    wb.close()
    return buf.getvalue()


def _field_types(result: FileResult, known: Mapping[str, Field]) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> type of each field read, over the form's fields (rubric.fields)."""
    return {(sheet, ref): known[key].type for key, (sheet, ref) in result.cells.items() if key in known}


def _xlsxwriter_review(wb, ws, review: Review) -> None:
    add = wb.add_format
    base = {"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"}
    box = {**base, "border": 1, "border_color": "#BFBFBF"}
    fmt = {
        "title": add({**base, "bold": True, "font_size": 14, "valign": "vcenter", "text_wrap": False}),
        "lead": add({**base, "bold": True, "font_color": "#9C0006" if review.returned else "#9C5700"}),
        "note": add(base),
        "head": add({**box, "bold": True, "bg_color": "#D9E1F2", "align": "center", "valign": "vcenter"}),
        "body": add(box), "center": add({**box, "align": "center"}),
        "link": add({**box, "font_color": "#0563C1", "underline": 1}),
        "reply": add({**box, "bg_color": "#FFF2CC", "locked": False}),
        "info": add({**box, "align": "center"}),
    }
    for sev, (fill, font) in COLOURS.items():
        fmt[sev] = add({**box, "align": "center", "bold": True, "bg_color": fill, "font_color": font})
    ncol = len(review.header)
    for i, w in enumerate(WIDTHS[:ncol]):
        ws.set_column(i, i, w)
    total = sum(WIDTHS[:ncol])
    row = 0
    for text, style, height in [(review.title, "title", 24), (review.lead, "lead", None),
                                *((n, "note", None) for n in review.notes)]:
        ws.merge_range(row, 0, row, ncol - 1, "", fmt[style])
        ws.write_string(row, 0, text, fmt[style])
        ws.set_row(row, height or 15 * line_count(text, total))
        row += 1
    for i, h in enumerate(review.header):
        ws.write_string(row, i, h, fmt["head"])
    ws.set_row(row, 20)
    ws.freeze_panes(row + 1, 0)
    head = row
    for item in review.rows:
        row += 1
        for i, value in enumerate(item.values):
            style = {SEVERITY_COL: item.severity, REPLY_COL: "reply"}.get(i, "center" if i in CENTER_COLS else "body")
            if isinstance(value, int):
                ws.write_number(row, i, value, fmt[style])
            elif i == LINK_COL and item.link:
                sheet, ref = item.link
                ws.write_url(row, i, f"internal:'{sheet.replace(chr(39), chr(39) * 2)}'!{ref}", fmt["link"],
                             string=str(value))
            elif value == "":
                ws.write_blank(row, i, None, fmt[style])
            else:
                ws.write_string(row, i, str(value), fmt[style])
        ws.set_row(row, 15 * max(line_count(str(v), WIDTHS[i]) for i, v in enumerate(item.values)) + 3)
    ws.protect("", {"format_columns": True, "format_rows": True})
    set_print(ws, (row, ncol - 1), landscape=True, titles=(head, head))
    ws.set_tab_color("#C00000")
    ws.activate()


def _xlsxwriter_copy(wb, ws, grid, marks: dict[str, Mark], types: dict[tuple[str, str], str]) -> None:
    from perfxl.ooxml.refs import a1
    from perfxl.write.template import NUMBER_FORMATS

    formats: dict[tuple, object] = {}

    def style(num: str | None, severity: str | None):
        key = (num, severity)
        if key not in formats:
            spec = {"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "vcenter", "border": 1,
                    "border_color": "#BFBFBF"}
            if num:
                spec["num_format"] = num
            if severity:
                spec["bg_color"] = COLOURS[severity][0]
            formats[key] = wb.add_format(spec)
        return formats[key]

    marked = {parse_a1(ref): m for ref, m in marks.items()}
    widths: dict[int, int] = {}
    covered: set[tuple[int, int]] = set()
    for (r0, c0), (r1, c1) in grid.merged.items():
        if (r1, c1) == (r0, c0):
            continue
        mark = marked.get((r0, c0))
        ws.merge_range(r0, c0, r1, c1, "", style(None, mark.severity if mark else None))
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)} - {(r0, c0)}
    for r, c in sorted(set(grid.cells) | set(marked)):
        if (r, c) in covered:
            continue
        value = grid.cells.get((r, c))
        mark = marked.get((r, c))
        kind = types.get((grid.name, a1(r, c)))
        fmt = style(NUMBER_FORMATS.get(kind) if kind not in ("code", "text", None) else None,
                    mark.severity if mark else None)
        if value is None or value == "":
            ws.write_blank(r, c, None, fmt)
        elif isinstance(value, bool):
            ws.write_boolean(r, c, value, fmt)
        elif isinstance(value, int | float):
            ws.write_number(r, c, value, fmt)
        elif isinstance(value, dt.datetime | dt.date | dt.time):
            ws.write_datetime(r, c, value, style(NUMBER_FORMATS["date"] if not isinstance(value, dt.time) else
                                                 "hh:mm:ss", mark.severity if mark else None))
        else:
            ws.write_string(r, c, str(value), fmt)
        if grid.merged.get((r, c), (r, c)) == (r, c):
            widths[c] = max(widths.get(c, 8), min(50, display_width(str(value or "")) + 2))
    for c, w in widths.items():
        ws.set_column(c, c, w)
    used = set(grid.cells) | set(marked) | set(grid.merged.values())
    if used:  # as wide as a 评分表 with its long 评分标准 text: landscape
        set_print(ws, (max(r for r, _ in used), max(c for _, c in used)), landscape=sum(widths.values()) > 120)
    for (r, c), mark in sorted(marked.items()):
        ws.write_comment(r, c, mark.comment, {"author": AUTHOR, "font_name": "宋体", "font_size": 9,
                                              "x_scale": 2.6, "y_scale": min(6, 1 + line_count(mark.comment, 36) / 4)})


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
        return rebuilt_copy(review, marks, result, data, batch.rubric), cause
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
            return template_with_review(review, batch.rubric, batch.year, prefill), None
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
    from perfxl.read.intake import source_path
    from perfxl.write.resend import prefill_for

    folder = OutputFolder.of(out)
    writer = folder.writer()
    tasks: list[tuple[FileResult, Path, str, dict | None]] = []
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
    if not tasks:
        return paths
    from perfxl.parallel import parallel_map

    context = BatchResult(batch.rubric, batch.year, batch.deadline)  # what a file's feedback needs
    failures = parallel_map(_work, tasks, jobs, MIN_PER_PROCESS, initializer=_init_worker, initargs=(context, writer))
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
    return paths
