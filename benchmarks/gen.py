"""Generate thousands of returns fast, for benchmarks/bench.py (generation is never timed).

openpyxl fills the form's template once per *variant* (a clean return, or one with a given error),
with marker strings (``@@CODE@@``) and sentinel numbers (``<v>900001</v>``) in the cells that
differ between units. Each return is then that variant's package with the markers replaced in
the XML parts (sharedStrings and the sheets) and re-zipped: ~1000 files a second instead of ~10.

- Department form (gd-dept-2020): per unit its code, name, 主管部门, a text of varying length and
  its money (income, carry-over, spending and balance at an execution rate of 97 %, so the
  computed B1 is always full and the clean variant has no finding).
  Error variants, each an error that sends the file back: ``balance`` (期末结转结余 off by 10,
  balance-mismatch), ``total`` (自评总分 off by 1, total-mismatch), ``missing`` (填报日期 blank,
  missing-value).
- Project form (proj-2020, spec §13): the template's sheet 项目1 filled (funds, texts, a table of
  seven indicators 50/30/10 with 预算执行率 10), then copied as a unit adds projects in Excel:
  openpyxl's copy_worksheet plus what it leaves out and Excel's 移动或复制 keeps (data
  validation, protection, freeze panes, print setup) and the sheet's **sheet-scoped** defined
  names, one set per copy (``localSheetId`` is the copy's index, as Excel writes it). Per unit
  and project: code, name, 项目名称, and the money (执行率 95 %). Error variant ``total``: the first
  project's 自评总分 off by 1.

A folder of n returns is files 0..n-1, each from its own seed, so the same n gives the same bytes.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import random
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

GEN_VERSION = 1
PERFXL = [sys.executable, "-m", "perfxl"]
DEPT_FORM, PROJ_FORM = "gd-dept-2020", "proj-2020"
DEPT_ERRORS = ("balance", "total", "missing")
PROJ_ERRORS = ("total",)
MONEY = ("budget_initial", "income_total", "income_fiscal", "carryover_begin", "expense_total", "carryover_end")
PROJ_MONEY = ("budget_initial", "budget_annual", "spent", "budget_initial_fiscal", "budget_annual_fiscal", "spent_fiscal")
#: (一级, 二级, 三级, 指标性质, 年度指标值, 计量单位, 实际完成值, 分值, 自评得分); a blank 一级 continues the one above
INDICATORS = (
    ("产出指标", "数量指标", "培训人次", "≥", 1000, "人次", 1050, 20, 20),
    (None, "质量指标", "培训合格率", "≥", "95%", "%", "97%", 15, 15),
    (None, "时效指标", "按期完成率", "=", "100%", "%", "100%", 10, 10),
    (None, "成本指标", "人均培训成本", "≤", 500, "元", 480, 5, 5),
    ("效益指标", "社会效益指标", "受益群众人数", "≥", 5000, "人", 5200, 20, 20),
    (None, "可持续影响指标", "长效管理机制", "定性", "健全", None, "健全", 10, 10),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥", "90%", "%", "93%", 10, 10),
)
EXEC_RATE = Decimal("0.95")


def template(form: str, dest: Path) -> Path:
    """The form's blank template, as a bureau gets it (`perfxl template --form`)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*PERFXL, "template", "--form", form, "-o", str(dest)], check=True, capture_output=True)
    return dest


def form_exists(form: str) -> bool:
    code = f"from perfxl.spec.formbook import load_form; load_form({form!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


# -- a variant's package, and a return from it ------------------------------------------------


class Package:
    """A filled workbook's zip members, with a fast substitution of marker bytes: members without
    a marker are deflated once and copied raw into every return, the others deflated per return."""

    def __init__(self, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self.members = [(info.filename, zf.read(info)) for info in zf.infolist()]
        self._raw = {name: _deflate(data) for name, data in self.members if not _marked(data)}

    def render(self, subs: dict[bytes, bytes]) -> bytes:
        pattern = re.compile(b"|".join(re.escape(k) for k in sorted(subs, key=len, reverse=True)))
        parts: list[tuple[str, tuple[int, int, bytes]]] = []
        for name, data in self.members:
            raw = self._raw.get(name)
            if raw is None:
                raw = _deflate(pattern.sub(lambda m: subs[m.group(0)], data))
            parts.append((name, raw))
        return _zip(parts)

    def check_markers(self, subs: dict[bytes, bytes]) -> None:
        """Every marker occurs in the package: a template that moved a cell must not go unnoticed."""
        blob = b"".join(d for _, d in self.members)
        missing = [k.decode() for k in subs if k not in blob]
        if missing:
            raise RuntimeError(f"markers not found in the filled template: {missing}")


def _marked(data: bytes) -> bool:
    return b"@@" in data or b"<v>9000" in data


def _deflate(data: bytes) -> tuple[int, int, bytes]:
    """(crc32, uncompressed size, raw deflate stream) of one member."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return zlib.crc32(data), len(data), c.compress(data) + c.flush()


def _zip(parts: list[tuple[str, tuple[int, int, bytes]]]) -> bytes:
    """A zip of already deflated members (no zip64: a return is far below 4 GiB)."""
    out, central = io.BytesIO(), []
    stamp = (0, 0x21)  # DOS time 00:00, date 1980-01-01
    for name, (crc, size, raw) in parts:
        fname = name.encode()
        flags = 0 if fname.isascii() else 0x800
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, *stamp, crc, len(raw), size, len(fname), 0))
        out.write(fname)
        out.write(raw)
        central.append(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 8, *stamp, crc, len(raw), size, len(fname), 0, 0, 0, 0, 0, offset)
            + fname
        )
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def _text(value: str) -> bytes:
    return escape(value).encode()


def _number(i: int) -> bytes:
    return f"<v>{900000 + i}</v>".encode()


def _money(d: Decimal) -> bytes:
    return f"<v>{d}</v>".encode()


# -- department form --------------------------------------------------------------------------


def _dept_values(variant: str) -> dict[str, object]:
    from perfxl.spec.rubric import load_rubric

    rubric = load_rubric(DEPT_FORM)
    vals: dict[str, object] = {
        "unit_name": "@@NAME@@",
        "unit_code": "@@CODE@@",
        "department": "@@DEPT@@",
        "unit_type": "行政单位",
        "eval_year": 2020,
        "filing_date": dt.date(2021, 6, 10),
        "staff_quota": 70,
        "staff_actual": 63,
        "eval_team_size": 9,
        "budget_approved_date": dt.date(2020, 2, 18),
        "budget_published_date": dt.date(2020, 3, 2),
        "key_tasks_planned": 6,
        "key_tasks_done": 6,
        "satisfaction": 0.95,
        "fixed_assets_total": 100,
        "fixed_assets_in_use": 100,
        "sangong_budget_prev": 30,
        "sangong_budget": 28,
        "sangong_actual": 26,
        "procurement_budget": 200,
        "procurement_actual": 196,
        "text_functions": "@@FUNC@@",
        "text_key_work": "@@KEYWORK@@",
        "text_targets": "绩效目标。",
        "text_effects": "履职成效明显。",
        "text_problems": "无",
    }
    for j, key in enumerate(MONEY):
        vals[key] = 900000 + j
    for ind in rubric.indicators:
        vals[f"score_{ind.code}"] = float(ind.weight)
        vals[f"note_{ind.code}"] = "达到要求，佐证材料齐全。"
    total = sum(ind.weight for ind in rubric.indicators)
    vals["score_total"], vals["grade_self"] = float(total), rubric.grade(Decimal(total))
    if variant == "total":
        vals["score_total"] = float(total - 1)
    elif variant == "missing":
        vals["filing_date"] = None
    return vals


def _dept_subs(i: int, variant: str, revision: int = 0) -> dict[bytes, bytes]:
    rng = random.Random(i)
    income = Decimal(rng.randint(50_000, 5_000_000)) / 100
    begin = Decimal(rng.randint(0, 20_000)) / 100
    expense = ((income + begin) * Decimal("0.97")).quantize(Decimal("0.01"))
    end = income + begin - expense + (10 if variant == "balance" else 0)
    money = (income, income, income, begin, expense, end)
    keywork = "完成年度工作任务。" + (f"（第{revision}次修改）" if revision else "")
    subs = {
        b"@@NAME@@": _text(f"测试单位{i:05d}"),
        b"@@CODE@@": _text(f"B{i:05d}"),
        b"@@DEPT@@": _text(f"主管部门{i % 17}"),
        b"@@FUNC@@": _text("负责本单位职能。" * rng.randint(1, 5)),
        b"@@KEYWORK@@": _text(keywork),
    }
    subs.update({_number(j): _money(d) for j, d in enumerate(money)})
    return subs


# -- project form -----------------------------------------------------------------------------


def _set(ws, name: str, value: object) -> None:
    """Write `value` into the cell of the sheet-scoped name `name` of `ws`."""
    dn = ws.defined_names[name]
    for _, ref in dn.destinations:
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        ws[ref.replace("$", "")].value = value


def _indicator_columns(ws) -> tuple[int, dict[str, int]]:
    """(header row, {header text: column}) of the indicator table at `ind_header`."""
    _, ref = next(iter(ws.defined_names["ind_header"].destinations))
    head = ws[ref.replace("$", "")]
    cols = {}
    for cell in ws[head.row]:
        if isinstance(cell.value, str):
            cols[cell.value.strip()] = cell.column
    return head.row, cols


def _fill_indicators(ws, variant: str) -> None:
    row0, cols = _indicator_columns(ws)
    order = ("一级指标", "二级指标", "三级指标", "指标性质", "年度指标值", "计量单位", "实际完成值", "分值", "自评得分")
    for k, values in enumerate(INDICATORS, 1):
        for header, value in zip(order, values, strict=True):
            if value is not None:
                ws.cell(row0 + k, cols[header], value)


def copy_project_sheet(wb, source, title: str):
    """Copy `source` as Excel's 移动或复制 does: cells and styles (openpyxl), then validation,
    protection, view and print setup, and every sheet-scoped name re-pointed at the copy."""
    from openpyxl.workbook.defined_name import DefinedName

    ws = wb.copy_worksheet(source)
    ws.title = title
    for dv in source.data_validations.dataValidation:
        ws.data_validations.append(copy.copy(dv))
    ws.protection = copy.copy(source.protection)
    ws.freeze_panes = source.freeze_panes
    ws.print_title_rows = source.print_title_rows
    ws.print_area = source.print_area
    quoted = "'" + source.title.replace("'", "''") + "'!"
    for name, dn in source.defined_names.items():
        text = dn.attr_text.replace(quoted, "'" + title.replace("'", "''") + "'!")
        ws.defined_names[name] = DefinedName(name, attr_text=text)
    # after its source, as a unit places its copies
    wb.move_sheet(ws, offset=wb.index(source) + 1 - wb.index(ws))
    return ws


def _proj_package(tpl: Path, variant: str, projects: int) -> bytes:
    import openpyxl

    wb = openpyxl.load_workbook(tpl)
    first = wb["项目1"]
    common = {
        "unit_name": "@@NAME@@",
        "unit_code": "@@CODE@@",
        "department": "@@DEPT@@",
        "implementer": "@@NAME@@",
        "eval_year": 2020,
        "project_lead": "张三",
        "phone": "0759-1234567",
        "exec_score": float(10 * EXEC_RATE),
        "target_text": "按计划完成年度培训和服务任务。",
        "outcome_text": "年度目标全部完成，群众满意度较高。",
        "problems_text": "无",
        "measures_text": "继续加强管理。",
        "filing_date": dt.date(2021, 6, 10),
        "score_total": float(10 * EXEC_RATE + 90),
        "grade_self": "优秀",
    }
    for name, value in common.items():
        _set(first, name, value)
    _fill_indicators(first, variant)
    sheets = [first]
    for k in range(2, projects + 1):
        sheets.append(copy_project_sheet(wb, sheets[-1], f"项目{k}"))
    for k, ws in enumerate(sheets, 1):
        _set(ws, "project_name", f"@@P{k:02d}@@")
        for j, key in enumerate(PROJ_MONEY):
            _set(ws, key, 900000 + 10 * k + j)
    if variant == "total":
        _set(first, "score_total", float(10 * EXEC_RATE + 89))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _proj_subs(i: int, projects: int, revision: int = 0) -> dict[bytes, bytes]:
    rng = random.Random(i)
    subs = {
        b"@@NAME@@": _text(f"测试单位{i:05d}" + (f"（{revision}）" if revision else "")),
        b"@@CODE@@": _text(f"P{i:05d}"),
        b"@@DEPT@@": _text(f"主管部门{i % 17}"),
    }
    for k in range(1, projects + 1):
        subs[f"@@P{k:02d}@@".encode()] = _text(f"测试单位{i:05d}第{k}个项目")
        annual = Decimal(rng.randint(5_000, 500_000) * 20) / 100  # 万元, so that 95 % is exact
        spent = annual * EXEC_RATE
        for j, d in enumerate((annual, annual, spent, annual, annual, spent)):
            subs[_number(10 * k + j)] = _money(d.quantize(Decimal("0.01")))
    return subs


# -- folders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """n returns of a form, `errors` saying which carry an error: "all" or "fifth" (i % 5 == 0)."""

    form: str  # DEPT_FORM or PROJ_FORM
    n: int
    errors: str
    projects: int = 10

    @property
    def name(self) -> str:
        tail = f"x{self.projects}" if self.form == PROJ_FORM else ""
        return f"{self.form}{tail}-{self.errors}-{self.n}"

    def variant(self, i: int) -> str:
        kinds = DEPT_ERRORS if self.form == DEPT_FORM else PROJ_ERRORS
        if self.errors == "all":
            return kinds[i % len(kinds)]
        return kinds[(i // 5) % len(kinds)] if i % 5 == 0 else "clean"

    def file_name(self, i: int) -> str:
        return f"B{i:05d}.xlsx" if self.form == DEPT_FORM else f"P{i:05d}_项目.xlsx"


class Generator:
    """Builds and caches batches under `cache` (one folder per batch, a stamp beside it)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self._templates: dict[str, bytes] = {}
        self._packages: dict[tuple[str, str, int], Package] = {}
        self._changed: set[tuple[Batch, int]] = set()

    def template_bytes(self, form: str) -> bytes:
        if form not in self._templates:
            self._templates[form] = template(form, self.cache / f"template-{form}.xlsx").read_bytes()
        return self._templates[form]

    def package(self, batch: Batch, variant: str) -> Package:
        key = (batch.form, variant, batch.projects)
        if key not in self._packages:
            tpl = self.cache / f"template-{batch.form}.xlsx"
            self.template_bytes(batch.form)
            if batch.form == DEPT_FORM:
                from perfxl.write.fill import fill_workbook

                filled = self.cache / f"filled-{batch.form}-{variant}.xlsx"
                fill_workbook(tpl, _dept_values(variant), filled)
                pkg = Package(filled.read_bytes())
                pkg.check_markers(_dept_subs(0, variant))
            else:
                pkg = Package(_proj_package(tpl, variant, batch.projects))
                pkg.check_markers(_proj_subs(0, batch.projects))
            self._packages[key] = pkg
        return self._packages[key]

    def render(self, batch: Batch, i: int, revision: int = 0) -> bytes:
        variant = batch.variant(i)
        dept = batch.form == DEPT_FORM
        subs = _dept_subs(i, variant, revision) if dept else _proj_subs(i, batch.projects, revision)
        return self.package(batch, variant).render(subs)

    def stamp(self, batch: Batch) -> str:
        digest = hashlib.sha256(self.template_bytes(batch.form)).hexdigest()
        return json.dumps({"gen": GEN_VERSION, "template": digest, "batch": batch.name})

    def folder(self, batch: Batch) -> Path:
        """The batch's folder, generated unless the cache holds it for the same template."""
        folder = self.cache / batch.name
        stamp = self.cache / f"{batch.name}.stamp"
        want = self.stamp(batch)
        if folder.is_dir() and stamp.is_file() and stamp.read_text() == want:
            return folder
        tmp = self.cache / f"{batch.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for i in range(batch.n):
            (tmp / batch.file_name(i)).write_bytes(self.render(batch, i))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        stamp.write_text(want)
        return folder

    def change(self, batch: Batch, i: int, revision: int) -> Path:
        """Rewrite return i as its unit correcting a text would (revision 0: as generated)."""
        path = self.cache / batch.name / batch.file_name(i)
        path.write_bytes(self.render(batch, i, revision))
        self._changed.add((batch, i))
        return path

    def restore(self) -> None:
        """Every changed return as generated again, so that the cache stays true to its stamp."""
        for batch, i in sorted(self._changed, key=lambda c: (c[0].name, c[1])):
            (self.cache / batch.name / batch.file_name(i)).write_bytes(self.render(batch, i))
        self._changed.clear()
