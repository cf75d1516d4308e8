"""The HTML overview: output/index.html and one reports/<code>_<name>.html per Markdown report.

Self-contained and offline: CSS and JS inline, charts as inline SVG drawn here, no URL but the
relative links between the pages. A Content-Security-Policy pins the one script and the one
style sheet by hash and allows nothing else, so even text that escaped escaping could neither
run nor load anything. Unit text is escaped by Jinja2's autoescape; the unit pages are the
Markdown reports rendered by markdown-it-py with raw HTML off. The table is rendered here, and
its script only reorders and hides rows, reading sort keys from `data-v` attributes: no unit
data is ever embedded in JavaScript. Output is deterministic (no timestamps).

(The module is not called `html` so that it can never shadow the standard library's.)
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from perfxl.findings import CATALOGUE, SEVERITY_ORDER
from perfxl.model import STATUS_ORDER, BatchResult, FileResult
from perfxl.read.values import round_half_up
from perfxl.resources import templates_dir
from perfxl.write.folder import OutputFolder, Writer
from perfxl.write.kind import DEPARTMENT_KIND, batch_context, kind_label
from perfxl.write.naming import safe_name
from perfxl.write.summary_projects import project_grade_counts, projects_of
from perfxl.write.summary_sheet import UNGRADED, in_total

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

INDEX = "index.html.j2"
UNIT = "unit.html.j2"
STATUS_CLASS = {"reviewed": "ok", "error": "bad", "unreadable": "muted", "duplicate": "muted", "ignored": "muted"}
TOP_FINDINGS = 10


# -- environment ---------------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")


def _fixed(value: Decimal | None) -> str:
    return "—" if value is None else f"{round_half_up(Decimal(value)):.2f}"


@cache
def environment(folder: Path | None = None) -> jinja2.Environment:
    """Jinja2 for the HTML templates: autoescape on, StrictUndefined."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder or templates_dir()), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(csp_hash=_csp_hash, score=_fixed)
    return env


@cache
def markdown_renderer() -> MarkdownIt:
    """CommonMark + GFM tables and strikethrough; raw HTML is text, never markup."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"])


# -- what the overview shows ----------------------------------------------------------------


@dataclass
class Row:
    """One file in the units table."""

    result: FileResult
    href: str | None  # the unit page, relative to index.html
    status_class: str

    def __getattr__(self, name: str) -> object:
        return getattr(self.result, name)

    @property
    def name(self) -> str:
        return self.result.unit_name or Path(self.result.file).name

    @property
    def search(self) -> str:
        r = self.result
        parts = (r.unit_code, self.name, r.department, r.file, r.status_label, r.self_grade, r.reviewed_grade)
        return " ".join(str(p) for p in parts if p).lower()  # as JavaScript's toLowerCase


def _sort_value(value: Decimal | None) -> str:
    return "" if value is None else str(round_half_up(Decimal(value)))


def grade_chart(batch: BatchResult, width: int = 520, height: int = 240) -> dict[str, object]:
    """Paired bars per grade (自评等级, 核定等级) of the scored files, as SVG geometry (a project
    file's grades are its projects': project_summary)."""
    scored = [r for r in batch.files if r.scored and not r.projects]
    labels = [*batch.rubric.grade_labels, UNGRADED]

    def counts(grades: list[str | None]) -> list[int]:
        keyed = Counter(g if g in batch.rubric.grade_labels else UNGRADED for g in grades)
        return [keyed[g] for g in labels]

    series = [("自评等级", "self", counts([r.self_grade for r in scored])),
              ("核定等级", "reviewed", counts([r.reviewed_grade for r in scored]))]
    most = max([1, *(n for _, _, values in series for n in values)])
    step = math.ceil(most / 4)  # whole units, at most five gridlines
    top = step * math.ceil(most / step)
    ticks = list(range(0, top + 1, step))
    left, bottom, pad = 36, 28, 16
    plot_h = height - bottom - pad
    slot = (width - left) / len(labels)
    bar = min(36.0, slot / 3)
    bars = []
    for i, label in enumerate(labels):
        for j, (name, cls, values) in enumerate(series):
            n = values[i]
            h = plot_h * n / top
            x = left + slot * i + slot / 2 - bar + j * bar
            bars.append({"x": round(x, 1), "y": round(pad + plot_h - h, 1), "w": round(bar - 2, 1), "h": round(h, 1),
                         "n": n, "cls": cls, "title": f"{label} · {name}：{n}"})
    return {
        "width": width, "height": height, "bars": bars,
        "labels": [{"x": round(left + slot * i + slot / 2, 1), "text": g} for i, g in enumerate(labels)],
        "ticks": [{"y": round(pad + plot_h - plot_h * t / top, 1), "text": t} for t in ticks],
        "left": left, "right": width, "base": pad + plot_h, "series": [(name, cls) for name, cls, _ in series],
        "table": [(g, series[0][2][i], series[1][2][i]) for i, g in enumerate(labels)],
    }


def same_basis(r: FileResult) -> tuple[Decimal, Decimal] | None:
    """(self, reviewed) totals of a scored file on one basis: the indicators that apply, before
    不适用 rescaling; None without both totals.

    The unit's 自评总分 is the plain sum of its scores (spec §4.4: never rescaled), so it is the
    reviewed total that goes back to its sum before rescaling, rather than both being rescaled:
    the compared numbers stay ones the unit and the rubric wrote, and a gap is in the points the
    unit claimed. A score the unit put on a 不适用 row (allowed, `score-not-applicable`) counts on
    neither side."""
    if not r.scored or r.self_total is None or r.reviewed_total is None:
        return None
    if not r.rescaled:
        return Decimal(r.self_total), Decimal(r.reviewed_total)
    claimed = sum((Decimal(i.self_score) for i in r.indicators if i.applicable is False and i.self_score is not None),
                  Decimal(0))
    given = sum((Decimal(i.reviewed_score) for i in r.indicators if i.applicable and i.reviewed_score is not None),
                Decimal(0))
    return Decimal(r.self_total) - claimed, given


def scatter(batch: BatchResult, size: int = 300) -> dict[str, object]:
    """Self vs reviewed total per scored file, on the same basis (`same_basis`): points on or
    near the diagonal agree."""
    pairs = [(r, same_basis(r)) for r in batch.files]
    compared = [(r, b) for r, b in pairs if b is not None]
    points = [r for r, _ in compared]
    values = [v for _, b in compared for v in b]
    hi = max([Decimal(100), *values])
    lo = min([Decimal(60), *values])
    lo = Decimal(int(lo // 10 * 10))
    pad, plot = 40, size - 56

    def pos(v: Decimal, flip: bool) -> float:
        f = float((Decimal(v) - lo) / (hi - lo))
        return round(pad + plot * (1 - f) - 24, 1) if flip else round(pad + plot * f, 1)

    ticks = [lo + (hi - lo) * k / 4 for k in range(5)]
    diffs = [round_half_up(rev) - round_half_up(own) for _, (own, rev) in compared]

    def title(r: FileResult, own: Decimal, rev: Decimal) -> str:
        said = f"{r.unit_code or '无编码'} {r.unit_name or r.file}：自评 {_fixed(r.self_total)}，核定 {_fixed(r.reviewed_total)}"
        return said + (f"（折算前：自评 {_fixed(own)}，核定 {_fixed(rev)}）" if r.rescaled else "")

    return {
        "size": size, "lo": pos(lo, False), "hi": pos(hi, False), "ylo": pos(lo, True), "yhi": pos(hi, True),
        "ticks": [{"x": pos(t, False), "y": pos(t, True), "text": f"{t:.0f}"} for t in ticks],
        "points": [{"cx": pos(own, False), "cy": pos(rev, True), "cls": STATUS_CLASS[r.status],
                    "title": title(r, own, rev)} for r, (own, rev) in compared],
        "lower": sum(1 for d in diffs if d < 0),
        "higher": sum(1 for d in diffs if d > 0),
        "count": len(points),
        "rescaled": sum(1 for r in points if r.rescaled),
    }


def largest_gaps(batch: BatchResult, n: int = 5) -> list[dict[str, object]]:
    """The files whose reviewed total is furthest below (or above) their self total, compared on
    the same basis (`same_basis`): a gap that only 不适用 rescaling made is no gap."""
    rows = []
    for r in batch.files:
        basis = same_basis(r)
        if basis is not None and round_half_up(basis[1] - basis[0]) != 0:
            rows.append((basis[1] - basis[0], basis, r))
    rows.sort(key=lambda x: (-abs(x[0]), x[2].unit_code or "", x[2].file))
    return [{"result": r, "gap": f"{round_half_up(gap):+.2f}", "self": own, "reviewed": rev}
            for gap, (own, rev), r in rows[:n]]


def top_findings(batch: BatchResult, n: int = TOP_FINDINGS) -> list[dict[str, object]]:
    """The most frequent finding codes: times found and files concerned."""
    found = batch.all_findings
    hits = Counter(f.code for f in found)
    files = {code: len({f.file for f in found if f.code == code and f.file}) for code in hits}
    order = list(CATALOGUE)
    entry = {f.code: (f.severity, f.title) for f in found}  # a form's own codes too (spec §12)
    codes = sorted(hits, key=lambda c: (-hits[c], SEVERITY_ORDER[entry[c][0]],
                                        order.index(c) if c in CATALOGUE else len(order), c))
    return [{"code": c, "title": entry[c][1], "severity": entry[c][0].label,
             "severity_class": entry[c][0].value, "count": hits[c], "files": files[c]} for c in codes[:n]]


def project_summary(batch: BatchResult) -> dict[str, object] | None:
    """What the overview says of the batch's projects (spec §13): how many files and projects, the
    reviewed files' funds, the projects per reviewed grade; None when the batch has no project file."""
    files = batch.project_files
    if not files:
        return None
    projects = projects_of(batch)
    counted = [p for r, p in projects if in_total(r)]
    budget = sum((p.budget_annual or Decimal(0) for p in counted), Decimal(0))
    spent = sum((p.spent or Decimal(0) for p in counted), Decimal(0))
    return {"files": len(files), "projects": len(projects), "counted": len(counted),
            "budget": budget, "spent": spent, "rate": f"{round_half_up(spent / budget * 100):.2f}%" if budget else "—",
            "grades": [(g, n) for g, n in project_grade_counts(batch)],
            "capped": sum(1 for _, p in projects if p.capped_by_execution)}


def _batch_kind(batch: BatchResult) -> str:
    """What the batch's self-evaluations are of, for the overview's title: 部门整体支出, 项目支出 when
    every scored file is a project file, both when it has both."""
    scored = [r for r in batch.files if r.scored]
    if not batch.project_files:
        return DEPARTMENT_KIND
    return "项目支出" if all(r.projects for r in scored) else "部门整体及项目支出"


def index_context(batch: BatchResult, pages: dict[int, Path], out_dir: Path) -> dict[str, object]:
    """Everything index.html.j2 shows; `pages` maps id(FileResult) to its unit page."""
    statuses = Counter(r.status_label for r in batch.files)
    rows = []
    for r in batch.files:
        page = pages.get(id(r))
        # percent-encoded: a name may hold spaces or `#`, which would end the path
        href = quote(Path(os.path.relpath(page, out_dir)).as_posix()) if page else None
        rows.append(Row(r, href, STATUS_CLASS[r.status]))
    return {
        "batch": batch,
        "rubric": batch.rubric,
        "deadline": f"{batch.deadline.year}年{batch.deadline.month}月{batch.deadline.day}日",
        "statuses": [(label, statuses[label]) for label in STATUS_ORDER],
        "not_submitted": batch.not_submitted,
        "rows": rows,
        "sort_value": _sort_value,
        "chart": grade_chart(batch),
        "scatter": scatter(batch),
        "gaps": largest_gaps(batch),
        "findings": top_findings(batch),
        "scored": sum(1 for r in batch.files if r.scored),
        "projects": project_summary(batch),
        "kind": _batch_kind(batch),
        # the forms the files were read by (the first one when none was): what the scores follow
        "forms": [f for f in batch.forms if any(batch.form_of(r) is f for r in batch.files if r.scored)] or [batch.rubric],
    }


# -- writing -------------------------------------------------------------------------------


_INLINE: dict[str, str] = {}  # inline Markdown -> its HTML: a report's cells and lines repeat across units
_INLINE_MAX = 50_000


@cache
def _block_parser() -> MarkdownIt:
    """markdown_renderer's block rules alone: the inline parts are parsed (and memoised) apart."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]).disable(["inline", "text_join"])


def _inline_html(content: str) -> str:
    """The HTML of one inline token's content, as md.parse and md.renderer.render make it (the
    inline rules see only the content and, for links, the document's references: none here)."""
    html = _INLINE.get(content)
    if html is None:
        md = markdown_renderer()
        env: dict = {}
        (tok,) = md.parseInline(content, env)
        html = md.renderer.renderInline(tok.children or [], md.options, env)
        if len(_INLINE) >= _INLINE_MAX:
            _INLINE.clear()
        _INLINE[content] = html
    return html


def markdown_html(markdown: str) -> Markup:
    """A report as HTML. Column alignment becomes a class: the page's CSP allows no style attribute.

    Byte for byte what `markdown_renderer().render` makes of it, faster: the block structure is
    parsed per report, each inline part once per process (`_inline_html`); a report that defines
    link references (which an inline part may use) is rendered the plain way."""
    md = markdown_renderer()
    env: dict = {}
    tokens = _block_parser().parse(markdown, env)
    memo = not env.get("references")
    if not memo:
        env = {}
        tokens = md.parse(markdown, env)
    rules, options, out = md.renderer.rules, md.options, []
    for i, tok in enumerate(tokens):
        if tok.type in ("th_open", "td_open"):
            align = tok.attrs.pop("style", None)
            if isinstance(align, str) and align.startswith("text-align:"):
                tok.attrSet("class", "align-" + align.split(":", 1)[1])
        if tok.type == "inline":
            if memo:
                out.append(_inline_html(tok.content))
            elif tok.children:
                out.append(md.renderer.renderInline(tok.children, options, env))
        elif tok.type in rules:
            out.append(rules[tok.type](tokens, i, options, env))
        else:
            out.append(md.renderer.renderToken(tokens, i, options, env))
    return Markup("".join(out))  # html=False: unit text is escaped


def render_unit_page(markdown: str, result: FileResult, batch: BatchResult, index_href: str) -> str:
    body = markdown_html(markdown)
    return environment().get_template(UNIT).render(
        body=body, result=result, year=batch.year, index_href=index_href,
        title=result.unit_name or Path(result.file).name, kind=kind_label(result, batch))


def render_index(batch: BatchResult, pages: dict[int, Path], out_dir: Path) -> str:
    return environment().get_template(INDEX).render(index_context(batch, pages, out_dir))


def write_page(markdown: str, result: FileResult, ctx: BatchResult, writer: Writer, rel: str, index_href: str) -> None:
    """One unit page from its Markdown report's text; `index_href` as plan_html gives it."""
    writer.write_text(rel, render_unit_page(markdown, result, ctx, quote(index_href)))


def _write_page(task: tuple[Path, FileResult, BatchResult, Writer, str, str]) -> None:
    md_path, result, ctx, writer, rel, index_href = task
    write_page(md_path.read_text(encoding="utf-8"), result, ctx, writer, rel, index_href)


def plan_html(batch: BatchResult, folder: OutputFolder, markdown_paths: Sequence[Path], memo=None
              ) -> tuple[dict[int, Path], list[Path], list[tuple[Path, FileResult, str, str]]]:
    """The unit pages (by id(FileResult)), their paths in the order of `batch.files`, and the
    (Markdown path, result, rel, index href) of those to render (see write_html)."""
    out_dir = folder.root
    scored = [r for r in batch.files if r.scored]
    if len(scored) != len(markdown_paths):
        raise ValueError(f"{len(markdown_paths)} Markdown reports for {len(scored)} scored files")
    pages: dict[int, Path] = {}
    written = []
    todo = []
    for result, md_path in zip(scored, markdown_paths, strict=True):
        md_path = Path(md_path)
        stem = safe_name(result.unit_code or "", result.unit_name or Path(result.file).stem)
        if not md_path.stem.startswith(stem):  # write_reports's naming, possibly with a _2 suffix
            raise ValueError(f"{md_path.name} is not the report of {result.file}")
        dest = md_path.with_suffix(".html")
        rel = folder.rel(dest)
        index_href = Path(os.path.relpath(out_dir / "index.html", dest.parent)).as_posix()
        key = memo.output_key(result, batch, "html", index_href) if memo else ""
        if not folder.fresh(rel, key):
            todo.append((md_path, result, folder.target(rel, key), index_href))
        pages[id(result)] = dest
        written.append(dest)
    return pages, written, todo


def write_index(batch: BatchResult, folder: OutputFolder, pages: dict[int, Path]) -> Path:
    folder.writer().write_text(folder.target("index.html"), render_index(batch, pages, folder.root))
    folder.collect()
    return folder.path("index.html")


def write_html(batch: BatchResult, out: Path | OutputFolder, markdown_paths: Sequence[Path], memo=None,
               jobs: int | None = None) -> list[Path]:
    """output/index.html and reports/<stem>.html beside each Markdown report.

    `markdown_paths` is what `report.write_reports` returned: one per scored file, in the
    order of `batch.files`. Returns the unit pages in that order, then index.html. With a
    `memo`, the page of an unchanged report is kept; many pages render in up to `jobs` processes."""
    from perfxl.parallel import parallel_map

    folder = OutputFolder.of(out)
    context = batch_context(batch)
    writer = folder.writer()
    pages, written, todo = plan_html(batch, folder, markdown_paths, memo)
    parallel_map(_write_page, [(md, result, context, writer, rel, href) for md, result, rel, href in todo], jobs)
    return [*written, write_index(batch, folder, pages)]
