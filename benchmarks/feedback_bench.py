"""Feedback workbooks: the package patcher against an openpyxl load + annotate + save (issue 5).

    python benchmarks/feedback_bench.py [--files 200] [--rounds 5] [--keep DIR]

Generates N filled returns from the template (perfxl.write.fill), each with at least one error or
warning (balance, unexplained deductions, a blank required field, a wrong total), runs
perfxl.run.pipeline.run_batch on them once, then times, in alternating rounds with the order
rotated, four ways of writing the same feedback files from the same findings:

  (a) perfxl.write.feedback.write_feedback, jobs=1: the unit's package patched (what perfxl ships);
  (b) openpyxl: load_workbook, insert 审核意见, fill and comment the cells, save;
  (c) perfxl's values-only rebuild with xlsxwriter (its fallback for .xls/.ods), for scale;
  (d) (a) with write_feedback's process pool on the usable cores (pool start-up included).

(a), (b) and (c) run in this one process. Each round reads every input and writes every output.
Prints per-round times, medians, files/s and the ratios, and a fidelity check on
tests/fixtures/lo-T103.xlsx (a LibreOffice-saved return, so its formula cells carry cached
values): how many cached values each way keeps.
Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _values(i: int, rng: random.Random, rubric) -> dict[str, object]:
    income = Decimal(rng.randint(50_000, 5_000_000)) / 100
    begin = Decimal(rng.randint(0, 20_000)) / 100
    expense = ((income + begin) * Decimal(rng.randint(960, 1000)) / 1000).quantize(Decimal("0.01"))
    vals: dict[str, object] = {
        "unit_name": f"测试单位{i:04d}", "unit_code": f"F{i:05d}", "department": f"主管部门{i % 7}",
        "unit_type": "行政单位", "eval_year": 2020, "filing_date": dt.date(2021, 6, rng.randint(1, 20)),
        "staff_quota": 70, "staff_quota_admin": 61, "staff_quota_service": 9, "staff_actual": 63,
        "eval_team_size": 9, "budget_initial": income, "income_total": income, "income_fiscal": income,
        "carryover_begin": begin, "expense_total": expense, "carryover_end": income + begin - expense,
        "budget_approved_date": dt.date(2020, 2, 18), "budget_published_date": dt.date(2020, 3, 2),
        "key_tasks_planned": 6, "key_tasks_done": 6, "satisfaction": 0.95, "fixed_assets_total": 100,
        "fixed_assets_in_use": 100, "text_functions": "负责本单位职能。" * rng.randint(1, 5),
        "text_key_work": "完成年度工作任务。", "text_targets": "绩效目标。", "text_effects": "履职成效明显。",
        "text_problems": "无",
    }
    for ind in rubric.indicators:
        vals[f"score_{ind.code}"] = float(ind.weight)
        vals[f"note_{ind.code}"] = "达到要求，佐证材料齐全。"
    vals["score_total"], vals["grade_self"] = 100, "优秀"
    kind = i % 4  # every file gets something to send back
    if kind == 0:
        vals["carryover_end"] = income + begin - expense + 10  # balance-mismatch (error)
    elif kind == 1:
        vals["score_A1"], vals["note_A1"], vals["score_total"] = 4.0, None, 99  # deduction-unexplained (warning)
    elif kind == 2:
        vals["filing_date"] = None  # missing-value (error) on a blank cell
    else:
        vals["score_total"] = 98  # total-mismatch (error)
    return vals


def generate(folder: Path, n: int) -> None:
    from perfxl.spec.rubric import load_rubric
    from perfxl.write.fill import fill_workbook
    from perfxl.write.template import build_template

    rubric = load_rubric("gd-dept-2020")
    folder.mkdir(parents=True, exist_ok=True)
    template = folder.parent / "template.xlsx"
    build_template(template, rubric)
    rng = random.Random(20210620)
    for i in range(n):
        fill_workbook(template, _values(i, rng, rubric), folder / f"F{i:05d}.xlsx")


# -- (b) the openpyxl way ---------------------------------------------------------------------


def openpyxl_feedback(src: Path, dest: Path, review, marks) -> None:
    """Same content as perfxl's feedback workbook, written the openpyxl way."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

    from perfxl.ooxml.comments import AUTHOR, line_count
    from perfxl.ooxml.patch import LINK_COL, REPLY_COL, SEVERITY_COL, WIDTHS
    from perfxl.write.feedback import COLOURS

    wb = openpyxl.load_workbook(src)
    ws = wb.create_sheet(review.sheet_name, 0)
    thin = Side(style="thin", color="FFBFBFBF")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    fills = {k: PatternFill("solid", fgColor="FF" + v[0][1:]) for k, v in COLOURS.items()}
    ncol = len(review.header)
    for i, w in enumerate(WIDTHS[:ncol], 1):
        ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width = w
    row = 1
    for text, bold in [(review.title, True), (review.lead, True), *((n, False) for n in review.notes)]:
        ws.cell(row, 1, text).font = Font(bold=bold, size=14 if row == 1 else 11)
        ws.cell(row, 1).alignment = wrap
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncol)
        ws.row_dimensions[row].height = 15 * line_count(text, sum(WIDTHS))
        row += 1
    for i, h in enumerate(review.header, 1):
        c = ws.cell(row, i, h)
        c.font, c.border, c.fill = Font(bold=True), box, PatternFill("solid", fgColor="FFD9E1F2")
    ws.freeze_panes = ws.cell(row + 1, 1)
    for item in review.rows:
        row += 1
        for i, value in enumerate(item.values):
            c = ws.cell(row, i + 1)
            c.value = value  # openpyxl would take "=…" as a formula: set the type explicitly
            if isinstance(value, str):
                c.data_type = "s"
            c.border, c.alignment = box, wrap
            if i == SEVERITY_COL and item.severity in fills:
                c.fill = fills[item.severity]
            if i == REPLY_COL:
                c.protection = Protection(locked=False)
            if i == LINK_COL and item.link:
                c.hyperlink = f"#'{item.link[0]}'!{item.link[1]}"
                c.font = Font(color="FF0563C1", underline="single")
    ws.protection.sheet = True
    for sheet, cells in marks.items():
        if sheet not in wb.sheetnames:
            continue
        target = wb[sheet]
        for ref, mark in cells.items():
            c = target[ref]
            c.fill = fills[mark.severity]
            c.comment = Comment(mark.comment, AUTHOR, width=260, height=120)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = other is ws
    wb.active = 0
    wb.save(dest)


# -- the rounds -------------------------------------------------------------------------------


def _ways(batch, inputs: Path, out: Path):
    from perfxl.run.worker import default_jobs
    from perfxl.write.feedback import build_marks, build_review, needs_feedback, rebuilt_copy, write_feedback

    todo = [r for r in batch.files if needs_feedback(r)]
    cores = default_jobs()

    def patcher() -> int:
        return len(write_feedback(batch, inputs, out / "a", jobs=1))

    def patcher_parallel() -> int:
        return len(write_feedback(batch, inputs, out / "d", jobs=cores))

    def openpyxl_way() -> int:
        folder = out / "b"
        folder.mkdir(parents=True, exist_ok=True)
        for r in todo:
            openpyxl_feedback(inputs / r.file, folder / f"{r.unit_code}.xlsx", build_review(r, batch), build_marks(r))
        return len(todo)

    def rebuild() -> int:
        folder = out / "c"
        folder.mkdir(parents=True, exist_ok=True)
        for r in todo:
            data = (inputs / r.file).read_bytes()
            (folder / f"{r.unit_code}.xlsx").write_bytes(rebuilt_copy(build_review(r, batch), build_marks(r), r, data))
        return len(todo)

    return {"(a) perfxl package patcher": patcher, "(b) openpyxl load+save": openpyxl_way,
            "(c) xlsxwriter values rebuild": rebuild, f"(d) patcher, {cores} processes": patcher_parallel}


def _cached_values(data: bytes) -> int:
    """Formula cells with a cached value (<f> followed by a non-empty <v>) in all worksheets."""
    import re

    n = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet") and name.endswith(".xml"):
                n += len(re.findall(rb"<f\b[^>]*(?:/>|>[^<]*</f>)<v>[^<]+</v>", zf.read(name)))
    return n


def fidelity(batch) -> str:
    """Cached formula values kept by (a) and (b) on a LibreOffice-saved return."""
    from perfxl.findings import Finding
    from perfxl.model import Options
    from perfxl.run.pipeline import process_file
    from perfxl.spec.rubric import load_rubric
    from perfxl.write.feedback import build_marks, build_review, feedback_bytes

    src = ROOT / "tests" / "fixtures" / "lo-T103.xlsx"
    result = process_file(src, src.name, Options.for_rubric(load_rubric("gd-dept-2020")))
    sheet, ref = result.cells["carryover_end"]
    result = replace(result, status="error", findings=[Finding("balance-mismatch", "收支不平衡（测试）", sheet, (ref,),
                                                               details={"expected": "1", "found": "2"})])
    data = src.read_bytes()
    a, _ = feedback_bytes(result, batch, data)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "b.xlsx"
        openpyxl_feedback(src, dest, build_review(result, batch), build_marks(result))
        b = dest.read_bytes()
    return (f"cached formula values in lo-T103.xlsx: {_cached_values(data)}; kept by (a) patcher: "
            f"{_cached_values(a)}; kept by (b) openpyxl: {_cached_values(b)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from perfxl.model import Options
    from perfxl.run.pipeline import run_batch
    from perfxl.spec.rubric import load_rubric

    tmp = Path(tempfile.mkdtemp(prefix="perfxl-feedback-bench-"))
    base = args.keep or tmp
    inputs = base / "returns"
    try:
        if not inputs.is_dir() or len(list(inputs.glob("*.xlsx"))) != args.files:
            shutil.rmtree(inputs, ignore_errors=True)
            start = time.perf_counter()
            generate(inputs, args.files)
            print(f"generated {args.files} returns in {time.perf_counter() - start:.1f} s")
        batch = run_batch(inputs, Options.for_rubric(load_rubric("gd-dept-2020")), jobs=1)
        ways = _ways(batch, inputs, tmp / "out")
        times: dict[str, list[float]] = {name: [] for name in ways}
        names = list(ways)
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[: rnd % len(names)]
            for name in order:
                shutil.rmtree(tmp / "out", ignore_errors=True)
                gc.collect()
                start = time.perf_counter()
                count = ways[name]()
                times[name].append(time.perf_counter() - start)
            print(f"round {rnd + 1}: " + ", ".join(f"{n.split()[0]} {times[n][-1]:.3f} s" for n in names))
        print(f"\n{count} feedback workbooks per round, {args.rounds} rounds, one process")
        med = {n: statistics.median(t) for n, t in times.items()}
        first = names[0]
        for n in names:
            print(f"{n:32} median {med[n]:7.3f} s  {count / med[n]:8.1f} files/s  "
                  f"{med[n] / med[first]:5.2f}× the patcher's time")
        print(fidelity(batch))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
