"""Benchmark perfxl against the raw cost of reading the same files (issue 5).

    python benchmarks/bench.py [--files 1000] [--rounds 5] [--out benchmarks/RESULTS.md]

Generates N returns from the template with varied figures (one in five with at least one
finding), then measures whole processes in alternating rounds, each a fresh interpreter:

- `perfxl run` into a fresh output folder (reports, summary, feedback, results.json);
- `perfxl check` on the folder;
- a raw python-calamine read of every sheet of every file;
- opening every file with openpyxl `load_workbook(p)` (default mode), in one process;
- a re-run of `perfxl run` into the same output folder after one file changed;
- `perfxl --help`.

Prints medians, the ratios of medians and peak memory (max RSS of the child), and writes the
table with a description of the machine to RESULTS.md. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERFXL = [sys.executable, "-m", "perfxl"]

RAW_CALAMINE = """
import sys, pathlib, python_calamine
n = 0
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.xlsx")):
    wb = python_calamine.CalamineWorkbook.from_path(str(p))
    for name in wb.sheet_names:
        n += len(wb.get_sheet_by_name(name).to_python())
print(n)
"""
OPENPYXL_OPEN = """
import sys, pathlib, openpyxl
n = 0
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.xlsx")):
    wb = openpyxl.load_workbook(p)
    n += len(wb.sheetnames)
print(n)
"""


def _values(i: int, rng: random.Random) -> dict[str, object]:
    from perfxl.spec.rubric import load_rubric

    rubric = load_rubric()
    income = Decimal(rng.randint(50_000, 5_000_000)) / 100
    begin = Decimal(rng.randint(0, 20_000)) / 100
    expense = (income + begin) * Decimal(rng.randint(900, 1000)) / 1000
    expense = expense.quantize(Decimal("0.01"))
    end = income + begin - expense
    quota = rng.randint(10, 200)
    vals: dict[str, object] = {
        "unit_name": f"测试单位{i:04d}", "unit_code": f"B{i:05d}", "department": f"主管部门{i % 17}",
        "unit_type": rng.choice(["行政单位", "事业单位"]), "eval_year": 2020, "filing_date": dt.date(2021, 6, rng.randint(1, 20)),
        "staff_quota": quota, "staff_actual": rng.randint(quota * 8 // 10, quota), "eval_team_size": rng.randint(3, 15),
        "budget_initial": income, "income_total": income, "income_fiscal": income, "carryover_begin": begin,
        "expense_total": expense, "carryover_end": end, "budget_approved_date": dt.date(2020, 2, 18),
        "budget_published_date": dt.date(2020, 3, rng.randint(1, 9)), "key_tasks_planned": 6, "key_tasks_done": 6,
        "satisfaction": rng.randint(900, 1000) / 1000, "fixed_assets_total": 100, "fixed_assets_in_use": 100,
        "text_functions": "负责本单位职能。" * rng.randint(1, 5), "text_key_work": "完成年度工作任务。",
        "text_targets": "绩效目标。", "text_effects": "履职成效明显。", "text_problems": "无",
    }
    for ind in rubric.indicators:
        vals[f"score_{ind.code}"] = float(ind.weight)
        vals[f"note_{ind.code}"] = "达到要求，佐证材料齐全。"
    # computed indicators at the rule's value: B1 and D3 may deduct
    rate = expense / (income + begin)
    b1 = max(Decimal(0), 15 - Decimal("0.75") * max(Decimal(0), (Decimal("0.95") - rate) * 100))
    d3 = max(Decimal(0), 5 - Decimal("0.25") * max(Decimal(0), (Decimal("0.90") - Decimal(str(vals["satisfaction"]))) * 100))
    vals["score_B1"], vals["score_D3"] = float(b1.quantize(Decimal("0.01"))), float(d3.quantize(Decimal("0.01")))
    vals["score_total"] = float(sum(Decimal(str(vals[f"score_{i.code}"])) for i in rubric.indicators))
    vals["grade_self"] = rubric.grade(Decimal(str(vals["score_total"])))
    if i % 5 == 0:  # one in five with a finding that sends it back
        vals["carryover_end"] = end + 10
    return vals


def generate(folder: Path, n: int) -> None:
    from perfxl.spec.rubric import load_rubric
    from perfxl.write.fill import fill_workbook
    from perfxl.write.template import build_template

    folder.mkdir(parents=True, exist_ok=True)
    template = folder.parent / "template.xlsx"
    build_template(template, load_rubric())
    rng = random.Random(20201231)
    for i in range(n):
        fill_workbook(template, _values(i, rng), folder / f"B{i:05d}.xlsx")


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import version

    return (f"{platform.system()} {platform.machine()}, {cpu}, {len(os.sched_getaffinity(0))} usable cores, "
            f"{mem:.0f} GiB RAM, Python {platform.python_version()}, openpyxl {version('openpyxl')}, "
            f"python-calamine {version('python-calamine')}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "returns"
        t0 = time.perf_counter()
        generate(data, args.files)
        print(f"generated {args.files} returns in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        incr = work / "incremental"
        subprocess.run([*PERFXL, "run", str(data), "--out", str(incr)], check=True, capture_output=True)
        changed = data / "B00001.xlsx"
        methods = {
            "perfxl run": lambda: [*PERFXL, "run", str(data), "--out", str(work / "out")],
            "perfxl check": lambda: [*PERFXL, "check", str(data)],
            "raw calamine read": lambda: [sys.executable, "-c", RAW_CALAMINE, str(data)],
            "openpyxl open": lambda: [sys.executable, "-c", OPENPYXL_OPEN, str(data)],
            "perfxl run, one file changed": lambda: [*PERFXL, "run", str(data), "--out", str(incr)],
            "perfxl --help": lambda: [*PERFXL, "--help"],
        }
        times: dict[str, list[float]] = {m: [] for m in methods}
        rss: dict[str, int] = dict.fromkeys(methods, 0)
        for r in range(args.rounds):
            order = list(methods)[r % len(methods):] + list(methods)[: r % len(methods)]
            for name in order:
                shutil.rmtree(work / "out", ignore_errors=True)
                if name == "perfxl run, one file changed":
                    _touch_value(changed, r)
                elapsed, peak = timed(methods[name]())
                times[name].append(elapsed)
                rss[name] = max(rss[name], peak)
            print(f"round {r + 1}: " + ", ".join(f"{m} {times[m][-1]:.2f}s" for m in methods), file=sys.stderr)
    med = {m: statistics.median(v) for m, v in times.items()}
    rows = [f"| {m} | {med[m]:.2f} | {min(times[m]):.2f}–{max(times[m]):.2f} | {rss[m] / 1024:.0f} |" for m in methods]
    ratios = [
        ("perfxl run / openpyxl open", med["perfxl run"] / med["openpyxl open"], "≤ 0.5"),
        ("perfxl check / raw calamine read", med["perfxl check"] / med["raw calamine read"], "≤ 4"),
        ("re-run after one change / full run", med["perfxl run, one file changed"] / med["perfxl run"],
         "≤ max(10 %, 1 s)"),
    ]
    text = "\n".join([
        "# Benchmark results", "",
        f"`python benchmarks/bench.py --files {args.files} --rounds {args.rounds}`, "
        f"{dt.date.today().isoformat()}.", "",
        f"Machine: {machine()}.", "",
        f"{args.files} generated returns (one in five with a balance error, so one in five gets a feedback "
        "workbook). Each method is a whole process (start-up included), run in alternating order in each "
        "round; medians over the rounds.", "",
        "| method | median s | range s | peak RSS MiB |", "|---|---:|---:|---:|", *rows, "",
        "| ratio | value | target |", "|---|---:|---|",
        *[f"| {name} | {value:.2f} | {target} |" for name, value, target in ratios], "",
    ])
    args.out.write_text(text, encoding="utf-8")
    print(text)


def _touch_value(path: Path, r: int) -> None:
    """Change one input value of a return, as a unit correcting its file would."""
    from perfxl.write.fill import fill_workbook

    fill_workbook(path, {"contact": f"联系人{r}"}, path)


if __name__ == "__main__":
    main()
