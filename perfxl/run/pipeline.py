"""run_batch(folder, options) -> BatchResult: read, score and check every file. No printing."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from perfxl.findings import SEVERITY_ORDER, Finding
from perfxl.model import UNREADABLE_CODES, BatchResult, FileResult, Options, Submission
from perfxl.read.badfile import file_problem, is_panic
from perfxl.read.intake import Candidate, discover, sniff
from perfxl.read.replies import attach_replies
from perfxl.read.submission import read_with_forms
from perfxl.read.workbook import enough_fields
from perfxl.review.checks import Context, run_checks, template_findings
from perfxl.review.scoring import score
from perfxl.run.compact import Compactor
from perfxl.run.duplicates import resolve_duplicates
from perfxl.run.state import State, cache_key, options_fingerprint
from perfxl.run.worker import internal_error
from perfxl.write.errors import describe as describe_os


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def _unique(findings: list[Finding]) -> list[Finding]:
    """One missing-value per blank cell, however many indicators read it (B32 feeds A4 and B2)."""
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.code, f.sheet, f.cells)
        if f.code == "missing-value" and f.cells and key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def _status(findings: list[Finding]) -> str:
    if any(f.code in UNREADABLE_CODES for f in findings):
        return "unreadable"
    if any(f.severity.value == "error" for f in findings):
        return "error"
    return "reviewed"


def _field_values(sub: Submission) -> dict[str, object]:
    return {k: fv.value for k, fv in sub.fields.items()}


def _unreadable(rel: str, code: str, message: str, **kw) -> FileResult:
    return FileResult(file=rel, status="unreadable", findings=[Finding(code, message, file=rel)], **kw)


def evaluate(sub: Submission, options: Options, rel: str, form=None) -> FileResult:
    """Score and check a Submission that was read by `form` (the batch's first form by default);
    each finding carries the unit's reply to it when the file is a returned feedback copy."""
    form = options.rubric if form is None else form
    if getattr(form, "kind", "部门整体") == "项目支出":
        result = _evaluate_projects(sub, options, rel, form)
    else:
        result = _evaluate(sub, options, rel, form)
    result.form = form.id
    result.replies = list(sub.replies)
    result.findings, _ = attach_replies(result.findings, result.replies)
    return result


def _started(sub: Submission, rel: str, form, forms, not_ours: str | None) -> tuple[FileResult, list[Finding], bool]:
    """The file's identity, its `_meta` findings, and whether it stops here: template-mismatch, or
    `not_ours` (the not-a-template message) when the form cannot read it."""
    meta_findings = template_findings(sub, form, forms)
    result = FileResult(file=rel, format=sub.format)
    result.unit_code = sub.unit_code
    result.unit_name = sub.value("unit_name")  # type: ignore[assignment]
    result.department = sub.value("department")  # type: ignore[assignment]
    if any(f.code == "template-mismatch" for f in meta_findings):
        result.status = "unreadable"
        result.findings = [f.located(rel, result.unit_code) for f in meta_findings]
        return result, meta_findings, True
    if not_ours is not None:
        result.status = "unreadable"
        result.findings = [Finding("not-a-template", not_ours, file=rel)]
        return result, meta_findings, True
    return result, meta_findings, False


def _finished(result: FileResult, sub: Submission, findings: list[Finding]) -> None:
    result.findings = [f.located(result.file, result.unit_code) for f in _sorted(_unique(findings))]
    result.status = _status(result.findings)
    result.fields = _field_values(sub)
    result.cells = {k: (fv.sheet, fv.cell) for k, fv in sub.fields.items() if fv.cell}


def _evaluate_projects(sub: Submission, options: Options, rel: str, form) -> FileResult:
    """A project file (spec §13): every project sheet scored and checked."""
    from perfxl.review.project import review_projects

    not_ours = None if sub.projects else ("未找到填有“项目名称”的项目工作表：该文件不是本次下发的项目支出绩效自评模板，"
                                          "请使用下发的模板填报（每个项目一张工作表）")
    result, meta_findings, stop = _started(sub, rel, form, options.forms, not_ours)
    if stop:
        return result
    projects, found = review_projects(sub, form, options.deadline_for(form), options.year)
    _finished(result, sub, [*sub.findings, *meta_findings, *found])
    result.projects = projects
    return result


def _evaluate(sub: Submission, options: Options, rel: str, rubric) -> FileResult:
    deadline = options.deadline_for(rubric)
    readable = not (sub.basic_sheet is None and sub.score_sheet is None) and enough_fields(sub, rubric.fields)
    not_ours = None if readable else ("未找到“基础数据表”和“评分表”，或必填项不足一半：该文件不是本次下发的"
                                      "自评模板，请使用下发的模板填报")
    result, meta_findings, stop = _started(sub, rel, rubric, options.forms, not_ours)
    if stop:
        return result
    adjustments = options.adjustments.get(result.unit_code or "", {})
    scored = score(sub, rubric, deadline, adjustments)
    ctx = Context(sub, scored, rubric, options.year, deadline)
    _finished(result, sub, [*sub.findings, *meta_findings, *scored.findings, *run_checks(ctx)])
    result.indicators = scored.indicators
    result.self_total, result.self_grade = scored.self_total, scored.self_grade
    result.reviewed_total, result.reviewed_grade = scored.reviewed_total, scored.reviewed_grade
    result.rescaled = scored.rescaled
    return result


def process_bytes(data: bytes, rel: str, options: Options) -> FileResult:
    """One file's bytes -> FileResult. A reader's failure on bad bytes becomes a file finding,
    any other failure an `internal-error`; only MemoryError (the worker's safety limit) and
    interrupts escape."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        parts: dict[str, bytes] = {}
        fmt = sniff(data, options.limits, parts)
        sub, modified, form = read_with_forms(data, fmt, options.forms, rel, options.limits.rows, parts)
    except MemoryError:
        raise
    except BaseException as exc:  # BaseException: python-calamine's Rust panics are not Exceptions
        problem = file_problem(exc)
        if problem is not None:
            return _unreadable(rel, *problem, sha256=digest)
        if not isinstance(exc, Exception) and not is_panic(exc):
            raise  # KeyboardInterrupt, SystemExit
        return internal_error(rel, exc)
    try:
        result = evaluate(sub, options, rel, form)
    except MemoryError:
        raise
    except Exception as exc:  # scoring and checks only see values already read: any failure is ours
        return internal_error(rel, exc)
    result.sha256, result.modified, result.format = digest, modified, fmt
    return result


def process_file(path: Path, rel: str, options: Options) -> FileResult:
    """Read one file (read-only) and evaluate it."""
    try:
        data = path.read_bytes()
    except OSError as exc:  # this machine's doing (permissions, a program holding it), not the unit's
        return _unreadable(rel, "file-inaccessible", f"本机无法打开这个文件（{describe_os(exc)}），这不是单位文件的问题，"
                           "无须退回单位；请检查文件的访问权限、关闭正在使用它的程序后重新运行")
    return process_bytes(data, rel, options)


def ignored(candidate: Candidate) -> FileResult:
    if candidate.companion:
        message = ("不是电子表格文件，已忽略；如为压缩包，请解压后放入" if candidate.rel.lower().endswith(
            (".zip", ".rar", ".7z")) else "不是电子表格文件（附件、说明等），已忽略")
        code = "not-a-spreadsheet"
    else:
        message, code = f"{candidate.ignore}，已忽略", "ignored-file"
    return FileResult(file=candidate.rel, status="ignored", findings=[Finding(code, message, file=candidate.rel)])


def summary_order(r: FileResult) -> tuple:
    """汇总 order: files without a unit code last, then by code, then by path."""
    return (r.unit_code is None, r.unit_code or "", r.file)


def run_batch(folder: Path, options: Options, progress: Callable[[str], None] | None = None,
              jobs: int | None = None, state: State | None = None) -> BatchResult:
    """Read, score and check every file below `folder`."""
    return run_candidates(discover(folder), options, progress, jobs, state)


def _file_hash(path: Path) -> str | None:
    """The content hash of a regular file (a FIFO or device is left to a time-limited worker)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def run_candidates(candidates: list[Candidate], options: Options, progress: Callable[[str], None] | None = None,
                   jobs: int | None = None, state: State | None = None) -> BatchResult:
    """Evaluate candidates in limited worker processes (`jobs`, default: usable cores).

    With a `state`, files whose content, path and options are unchanged since the last run
    come from its cache, and the fresh results are stored in it."""
    from perfxl.run.worker import WorkerPool, default_jobs, warm_up

    if any(not c.ignore for c in candidates):
        warm_up()  # the worker processes' server imports perfxl while the files are hashed
    batch = BatchResult(options.rubric, options.year, options.deadline, others=options.others,
                        deadline_given=options.deadline_given)
    todo: list[Candidate] = []
    compact = Compactor()  # every result is held until the outputs are written: shared parts once
    fingerprint = options_fingerprint(options) if state is not None else ""
    if state is not None:
        state.fingerprint = fingerprint
    for cand in candidates:
        cached = None
        if not cand.ignore and state is not None:
            digest = _file_hash(cand.path)
            if digest is not None:
                cached = state.lookup(cache_key(digest, cand.key, fingerprint))
        if cand.ignore or cached is not None:
            batch.files.append(_named(compact(cached or ignored(cand)), cand))
            if progress:
                progress(cand.rel)
        else:
            todo.append(cand)
    if todo:
        with WorkerPool(jobs or default_jobs(), options, process_file) as pool:
            for index, result in pool.run(todo, progress):
                if state is not None and result.sha256:  # keyed by the name's bytes, not as shown
                    state.store(cache_key(result.sha256, todo[index].key, fingerprint), result)
                batch.files.append(_named(compact(result), todo[index]))
    resolve_duplicates(batch.files)
    batch.files.sort(key=summary_order)
    return batch


def _named(result: FileResult, cand: Candidate) -> FileResult:
    result.key = cand.key if cand.key != cand.rel else None
    return result


def candidates_for(paths: Iterable[Path]) -> list[Candidate]:
    """`perfxl check PATH…`: files as given, folders walked."""
    out: list[Candidate] = []
    for p in paths:
        if p.is_dir():
            out.extend(discover(p))
        else:
            out.append(Candidate(p, p.as_posix()))
    return out
