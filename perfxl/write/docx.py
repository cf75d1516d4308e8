"""Word reports: each reports/<code>_<name>.md converted to .docx by pandoc (`perfxl run --docx`).

The look comes from templates/reference.docx (built by scripts/make_reference_docx.py): A4,
GB/T 9704 margins, 方正小标宋简体 title, 仿宋_GB2312 body at 28 pt line pitch, 黑体 / 楷体_GB2312
headings, bordered tables, "— 1 —" page numbers. The Markdown's `#` line becomes the document
title and `##`… become Heading 1…, so the report's 一、/（一）/1. levels get the official faces.

Between reading and writing, the document goes through pandoc's JSON AST here, for what a
reference document cannot say: table column widths from their content (pipe tables have
none), bold header cells (LibreOffice ignores a table style's header-row formatting), and a
title broken before its year, as official titles break between meaningful parts.

After writing, word/document.xml gets what Markdown cannot say at all: a wide table (the
indicator appendix) on landscape pages of its own section, and the closing 单位（公章）/填报日期
lines set right, where the stamp goes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.dom import minidom

from defusedxml.minidom import parseString

from perfxl.model import BatchResult
from perfxl.ooxml.refs import display_width
from perfxl.write.folder import OutputFolder, Writer

REFERENCE = "reference.docx"
#: pandoc's GitHub Markdown without what report.md.j2 never means: raw HTML, :emoji:, bare URLs
READER = "gfm-raw_html-emoji-autolink_bare_uris"
#: what fits one line of the text block, in half-width units: 156 mm at 22 pt (title), and
#: at 10.5 pt less ten columns' cell margins (tables)
TITLE_UNITS = 40
TABLE_UNITS = 72
#: a table of this many columns or more is set on landscape pages (the indicator appendix has 10)
WIDE_COLUMNS = 8
#: the landscape text block, 243 mm at 10.5 pt, less the cell margins
LANDSCAPE_UNITS = 118
#: A4 in twentieths of a point (portrait width, height)
A4 = (11906, 16838)
#: the lines a report ends with, set right (GB/T 9704: the date four characters from the right)
CLOSING = ("单位（公章）：", "填报日期：")
TIMEOUT = 120  # seconds for one pandoc run; a report converts in well under one


class DocxUnavailable(RuntimeError):
    """pandoc is missing: Word output needs the pypandoc-binary package."""


def pandoc_path() -> str:
    """The pandoc binary shipped by pypandoc-binary (or a system pandoc pypandoc finds)."""
    try:
        import pypandoc
    except ImportError as exc:
        raise DocxUnavailable("Word 报告需要 pandoc：请安装 pypandoc-binary（pip install pypandoc-binary）") from exc
    try:
        return pypandoc.get_pandoc_path()
    except OSError as exc:
        raise DocxUnavailable(f"未找到 pandoc：{exc}；请安装 pypandoc-binary") from exc


def reference_docx() -> Path:
    from perfxl.resources import templates_dir

    return templates_dir() / REFERENCE


# -- the AST -------------------------------------------------------------------------------


def _text(node: object) -> str:
    """The plain text of AST inlines or blocks."""
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    if isinstance(node, dict):
        kind = node.get("t")
        if kind == "Str":
            return node["c"]
        if kind in ("Space", "SoftBreak", "LineBreak"):
            return " "
        if kind == "Code":
            return node["c"][1]
        return _text(node.get("c", []))
    return ""


def _longest_unbreakable(text: str) -> int:
    """Lines break between wide characters and at spaces; a run like `100.00%` stays whole."""
    runs = re.split(r"[\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]", text)
    return max([display_width(r) for r in runs] + [2 if text else 0])


def column_widths(header: list[str], rows: list[list[str]], avail: int = TABLE_UNITS) -> list[float]:
    """Relative widths as a browser lays out an automatic table: each column gets at least its
    longest unbreakable run (and two characters), and the room left goes to columns in
    proportion to how much wider their longest cell would like to be."""
    cols = len(header)
    cells = [[row[i] if i < len(row) else "" for row in rows] for i in range(cols)]
    # +1: Latin glyphs such as % are wider than half an em
    lo = [max(4, *(_longest_unbreakable(c) + 1 for c in [header[i], *cells[i]])) for i in range(cols)]
    hi = [max(lo[i], *(display_width(c) for c in cells[i]), min(display_width(header[i]), 8)) for i in range(cols)]
    if sum(hi) <= avail:
        widths = [float(h) for h in hi]
    elif sum(lo) >= avail:
        widths = [float(m) for m in lo]
    else:
        room = (avail - sum(lo)) / (sum(hi) - sum(lo))
        widths = [m + (h - m) * room for m, h in zip(lo, hi, strict=True)]
    total = sum(widths)
    return [round(w / total, 4) for w in widths]


def _cell_blocks(cell: list) -> list:
    return cell[4]


def _table(table: dict) -> None:
    """Column widths from content and a bold header row, in place."""
    _attr, _caption, colspecs, head, bodies, _foot = table["c"]
    head_rows = head[1]
    body_rows = [row for body in bodies for row in (*body[2], *body[3])]
    if not head_rows:
        return
    header = [_text(_cell_blocks(c)) for c in head_rows[0][1]]
    rows = [[_text(_cell_blocks(c)) for c in row[1]] for row in body_rows]
    if len(header) != len(colspecs):
        return
    avail = LANDSCAPE_UNITS if len(colspecs) >= WIDE_COLUMNS else TABLE_UNITS
    for spec, width in zip(colspecs, column_widths(header, rows, avail), strict=True):
        spec[1] = {"t": "ColWidth", "c": width}
    for row in head_rows:
        for cell in row[1]:
            for block in _cell_blocks(cell):
                if block.get("t") in ("Plain", "Para") and block["c"]:
                    block["c"] = [{"t": "Strong", "c": block["c"]}]


def _title(meta: dict) -> None:
    """Break a long title before its year: 单位名称 / 2020年度部门整体支出绩效自评报告."""
    title = meta.get("title")
    if not title or title.get("t") != "MetaInlines" or display_width(_text(title["c"])) <= TITLE_UNITS:
        return
    inlines = title["c"]
    last = inlines[-1] if inlines else None
    if not last or last.get("t") != "Str":
        return
    match = re.search(r"\d{4}年度", last["c"])
    if not match or (match.start() == 0 and len(inlines) == 1):
        return
    head, tail = last["c"][: match.start()], last["c"][match.start():]
    inlines[-1:] = [*([{"t": "Str", "c": head}] if head else []), {"t": "LineBreak"}, {"t": "Str", "c": tail}]


def adjust(ast: dict) -> dict:
    """The pandoc document with table widths, bold table headers and a broken title."""
    _title(ast.get("meta", {}))

    def walk(node: object) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            if node.get("t") == "Table":
                _table(node)
            walk(node.get("c"))

    walk(ast["blocks"])
    return ast


# -- the document XML ----------------------------------------------------------------------


def _kids(node: minidom.Node, tag: str | None = None) -> list[minidom.Element]:
    return [c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE and (tag is None or c.tagName == tag)]


def _style(p: minidom.Element) -> str | None:
    for ppr in _kids(p, "w:pPr"):
        for style in _kids(ppr, "w:pStyle"):
            return style.getAttribute("w:val")
    return None


def _p_text(p: minidom.Element) -> str:
    return "".join(t.firstChild.data for t in p.getElementsByTagName("w:t") if t.firstChild)


def _ppr(doc: minidom.Document, p: minidom.Element) -> minidom.Element:
    found = _kids(p, "w:pPr")
    if found:
        return found[0]
    ppr = doc.createElement("w:pPr")
    p.insertBefore(ppr, p.firstChild)
    return ppr


#: the children of w:pPr in the order the schema requires (Word refuses a file that breaks it)
PPR_ORDER = (
    "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
    "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku", "wordWrap",
    "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi", "adjustRightInd", "snapToGrid",
    "spacing", "ind", "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc", "textDirection",
    "textAlignment", "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange",
)


def _add(doc: minidom.Document, ppr: minidom.Element, tag: str, **attrs: str) -> None:
    """Set `<w:tag attrs/>` (`w_right="1"` is `w:right="1"`) in a pPr: on the element there is, else
    on a new one in the schema's order."""
    present = _kids(ppr, f"w:{tag}")
    el = present[0] if present else doc.createElement(f"w:{tag}")
    for name, value in attrs.items():
        el.setAttribute(name.replace("_", ":", 1), value)
    if not present:
        rank = PPR_ORDER.index(tag)
        later = (c for c in _kids(ppr) if c.tagName.removeprefix("w:") in PPR_ORDER[rank + 1:])
        ppr.insertBefore(el, next(later, None))


def _grid(table: minidom.Element) -> list[minidom.Element]:
    return [col for grid in _kids(table, "w:tblGrid") for col in _kids(grid, "w:gridCol")]


def _landscape(sect: minidom.Element) -> minidom.Element:
    copy = sect.cloneNode(True)
    for size in _kids(copy, "w:pgSz"):
        size.setAttribute("w:w", str(A4[1]))
        size.setAttribute("w:h", str(A4[0]))
        size.setAttribute("w:orient", "landscape")
    return copy


def _text_width(sect: minidom.Element, width: int) -> int:
    margins = _kids(sect, "w:pgMar")
    if not margins:
        return width
    return width - sum(int(margins[0].getAttribute(f"w:{side}") or 0) for side in ("left", "right", "gutter"))


def _break_paragraph(doc: minidom.Document, sect: minidom.Element) -> minidom.Element:
    """An empty paragraph one point high that ends a section."""
    p = doc.createElement("w:p")
    ppr = _ppr(doc, p)
    _add(doc, ppr, "spacing", w_before="0", w_after="0", w_line="20", w_lineRule="exact")
    ppr.appendChild(sect)
    return p


def _wide_part(blocks: list[minidom.Element], at: int) -> int:
    """Where the part holding the wide table blocks[at] begins: the nearest heading above it (the
    department report's appendix heading; a project's 绩效指标完成情况, spec §13) and the bookmark
    before it, unless another table comes first; else the table itself."""
    i = at
    while i > 0 and blocks[i - 1].tagName != "w:tbl":
        i -= 1
        if blocks[i].tagName == "w:p" and (_style(blocks[i]) or "").startswith("Heading"):
            while i > 0 and blocks[i - 1].tagName == "w:bookmarkStart":
                i -= 1
            return i
    return at


def layout(xml: bytes) -> bytes:
    """word/document.xml with each wide table in a landscape section (its heading and notes
    with it; the pages before and after stay portrait) and the closing lines set right."""
    doc = parseString(xml)
    body = doc.getElementsByTagName("w:body")[0]
    final = _kids(body, "w:sectPr")[-1]
    landscape_width = _text_width(final, A4[1])
    blocks = [b for b in _kids(body) if b is not final]
    for n, p in enumerate(blocks[:-1]):
        if p.tagName == "w:p" and _p_text(p).startswith(CLOSING[0]) and blocks[n + 1].tagName == "w:p" \
                and _p_text(blocks[n + 1]).startswith(CLOSING[1]):
            for i, line in enumerate((p, blocks[n + 1])):
                ppr = _ppr(doc, line)
                if i == 0:  # a line's space above, and the two lines stay on one page
                    _add(doc, ppr, "keepNext")
                    _add(doc, ppr, "spacing", w_before="560")
                _add(doc, ppr, "ind", w_firstLine="0", w_firstLineChars="0", w_right="1280", w_rightChars="400")
                _add(doc, ppr, "jc", w_val="right")
    wide = [n for n, b in enumerate(blocks) if b.tagName == "w:tbl" and len(_grid(b)) >= WIDE_COLUMNS]
    for at in wide:
        table = blocks[at]
        cols = _grid(table)
        widths = [int(c.getAttribute("w:w") or 0) for c in cols]
        total = sum(widths) or 1
        for col, w in zip(cols, widths, strict=True):  # the grid in proportion, across the wider block
            col.setAttribute("w:w", str(round(w * landscape_width / total)))
        start = _wide_part(blocks, at)
        before = blocks[start].previousSibling  # in the live tree: a break inserted for an earlier table counts
        while before is not None and not (before.nodeType == before.ELEMENT_NODE and before.tagName in ("w:p", "w:tbl")):
            before = before.previousSibling
        if before is not None and not (before.tagName == "w:p" and before.getElementsByTagName("w:sectPr")):
            if before.tagName == "w:p":
                _ppr(doc, before).appendChild(final.cloneNode(True))
            else:
                body.insertBefore(_break_paragraph(doc, final.cloneNode(True)), blocks[start])
        following = next((b for b in blocks[at + 1:] if b.tagName in ("w:p", "w:tbl")), None)
        if following is None:  # the document ends in landscape
            body.replaceChild(_landscape(final), final)
        else:
            body.insertBefore(_break_paragraph(doc, _landscape(final)), table.nextSibling)
    return doc.toxml(encoding="UTF-8")


def _rewrite_document(path: Path) -> None:
    """Apply `layout` to a written .docx, keeping every other member and its metadata."""
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            fresh = zipfile.ZipInfo(info.filename, info.date_time)
            fresh.compress_type, fresh.external_attr = info.compress_type, info.external_attr
            z.writestr(fresh, layout(data) if info.filename == "word/document.xml" else data)


# -- conversion ----------------------------------------------------------------------------


def _run(args: list[str], stdin: bytes, env: dict[str, str]) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, env=env, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pandoc failed ({done.returncode}): {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def markdown_to_docx(markdown: str, dest: Path, *, reference: Path | None = None,
                     date: dt.date | None = None, writer: Writer | None = None, rel: str = "") -> Path:
    """Convert one report's Markdown to `dest` (written atomically; through `writer` at `rel`
    when given, as every file of an output folder is).

    `date` becomes the document's created/modified date (pandoc's SOURCE_DATE_EPOCH), so the
    same report gives the same bytes on every run."""
    pandoc = pandoc_path()
    env = dict(os.environ)
    if date is not None:
        env["SOURCE_DATE_EPOCH"] = str(int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()))
    raw = _run([pandoc, "--from", READER, "--to", "json", "--shift-heading-level-by=-1"],
               markdown.encode("utf-8"), env)
    ast = adjust(json.loads(raw))
    if writer is None:
        writer, rel = Writer(dest.parent, managed=False), dest.name
    with writer.path(rel) as tmp:
        _run([pandoc, "--from", "json", "--to", "docx", "--reference-doc", str(reference or reference_docx()),
              "--output", str(tmp)], json.dumps(ast, ensure_ascii=False).encode("utf-8"), env)
        _rewrite_document(tmp)
    return dest


def write_docx(batch: BatchResult, out: Path | OutputFolder, markdown_paths: Sequence[Path],
               jobs: int | None = None, memo=None) -> list[Path]:
    """reports/<code>_<name>.docx beside each Markdown report; returns the paths, in order.

    pandoc runs in up to `jobs` parallel processes (default: usable cores, at most 8)."""
    folder = OutputFolder.of(out)
    reference = reference_docx()
    if not reference.is_file():
        raise DocxUnavailable(f"缺少 Word 参考样式文件：{reference}")
    pandoc_path()  # fail once, before any thread starts

    scored = [r for r in batch.files if r.scored]
    writer = folder.writer()
    todo: list[tuple[Path, str]] = []
    for result, md_path in zip(scored, markdown_paths, strict=True):
        rel = folder.rel(Path(md_path).with_suffix(".docx"))
        key = memo.output_key(result, batch, "docx") if memo is not None else ""
        if not folder.fresh(rel, key):  # an unchanged report's Word file is not converted again
            todo.append((Path(md_path), folder.target(rel, key)))

    def one(task: tuple[Path, str]) -> None:
        md_path, rel = task
        markdown_to_docx(md_path.read_text(encoding="utf-8"), folder.path(rel), reference=reference,
                         date=batch.deadline, writer=writer, rel=rel)

    from perfxl.parallel import default_jobs

    workers = jobs or min(8, default_jobs())
    if workers <= 1 or len(todo) <= 1:
        for task in todo:
            one(task)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, todo))
    folder.collect()
    return [Path(p).with_suffix(".docx") for p in markdown_paths]
