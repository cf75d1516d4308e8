"""Annotate a unit's .xlsx/.xlsm package without rebuilding it (spec §8 feedback workbooks).

Every part of the unit's package is kept exactly as stored (the compressed bytes are copied, not
re-inflated) except the few that must change: `[Content_Types].xml`, the workbook part and its
rels, `styles.xml` (fonts, fills, borders and cell formats appended at the end, so every existing
style index keeps its meaning), and the worksheets that get highlights (only the `s=` of the
marked cells, cells created where the XML has none, a `<legacyDrawing>`) or that were the
selected tab (`tabSelected` dropped, so the new first sheet is not grouped with it), and their
rels. New parts: the `审核意见` sheet, and per annotated sheet a comments part and its legacy VML
drawing. Cached values, images, drawings, validation and protection are therefore untouched.

Decisions:
- A sheet that already has comments or a VML drawing gets ours merged in; a cell that already
  carries a comment keeps it (highlighted, listed on 审核意见, noted there) and gets no second one.
- A workbook that already has a `审核意见` sheet (a returned feedback copy) keeps it, renamed
  `上次审核意见`, so the unit's earlier replies stay visible.
- .xlsm: the VBA project, its rels and content types are removed and the main content type
  becomes the .xlsx one; Excel 4 macro sheets make the package Unsupported.
- `docProps/app.xml` is left alone: its sheet list is informational, Excel and LibreOffice
  rewrite it on save, and openpyxl and LibreOffice write none.
- New parts are deflated at level 1: they are small, and speed is the point.

The work is split by what is edited: `ooxml_package` holds the zip and its parts (and the tag
helpers), `ooxml_cells` styles.xml and worksheet cells, `ooxml_comments` comments and VML; this
module edits the package as a whole (content types, workbook part and rels, macros) and writes
the 审核意见 sheet.

Edits are made at the string level, located with regular expressions over tags (the parts are
UTF-8 XML without DTDs, comments or CDATA — anything else is Unsupported), and with defusedxml
where a part must be understood as a whole (workbook, rels, existing comments): re-serialising a
part with ElementTree would rename namespace prefixes and break `mc:Ignorable`. Whatever this
module does not understand raises `Unsupported`; the caller then writes a values-only copy.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr, unescape

from defusedxml import ElementTree

from perfxl.ooxml.cells import FILL, _Sheet, _split_ref, _Styles
from perfxl.ooxml.comments import Mark, add_comments, line_count
from perfxl.ooxml.package import _Q, Unsupported, _attr, _Package, _prefix, _rel_prefix, _rels_path, _set_attr, xstring
from perfxl.ooxml.page import page_xml, print_names, quote_sheet
from perfxl.ooxml.refs import NS_MAIN, NS_REL, col_letters

REL_DOC = f"{NS_REL}/officeDocument"
REL_SHEET, REL_STYLES = f"{NS_REL}/worksheet", f"{NS_REL}/styles"
CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_MACRO = ("vbaProject", "macroEnabled", "macrosheet", "vbaProjectSignature")

#: 审核意见 column widths (characters): 序号 严重程度 问题 规则 工作表 单元格 说明 应为 实为 单位答复
WIDTHS = (6, 9, 16, 24, 12, 16, 60, 16, 16, 40)
LINK_COL, SEVERITY_COL, REPLY_COL = 5, 1, 9
CENTER_COLS = (0, 4)  # 序号, 工作表
PREVIOUS = "上次审核意见"


@dataclass
class ReviewRow:
    values: list[object]
    severity: str
    link: tuple[str, str] | None  # (sheet, A1) the 单元格 column points at


@dataclass
class Review:
    """The content of the review sheet the patcher adds first, independent of how it is written."""

    title: str
    lead: str
    returned: bool  # errors to correct, rather than warnings only
    notes: list[str] = field(default_factory=list)
    rows: list[ReviewRow] = field(default_factory=list)
    header: tuple[str, ...] = ()
    sheet_name: str = "Review"


def _sheet_name_unique(wanted: str, names: list[str]) -> str:
    folded = {n.casefold() for n in names}
    if wanted.casefold() not in folded:
        return wanted
    n = 2
    while f"{wanted}{n}".casefold() in folded:
        n += 1
    return f"{wanted}{n}"


def _edit_own_names(text: str, p: str, index: int, edit) -> str:
    """Workbook XML `text` with each built-in name (_xlnm.: print area, print titles, filter)
    scoped to sheet number `index` replaced by `edit(element)`."""
    def one(m: re.Match) -> str:
        own = (_attr(m[1], "name") or "").startswith("_xlnm.") and _attr(m[1], "localSheetId") == str(index)
        return edit(m[0]) if own else m[0]

    return re.sub(rf"(<{p}definedName\b{_Q}>).*?</{p}definedName>", one, text, flags=re.S)


def _add_names(text: str, p: str, names: str) -> str:
    """Workbook XML `text` with the <definedName> elements `names` added, in a <definedNames>
    made where CT_Workbook wants it (after sheets, functionGroups, externalReferences) if none."""
    found = re.search(rf"<{p}definedNames\b{_Q}(/?)>", text)
    if found and not found[1]:
        return text[:found.end()] + names + text[found.end():]
    block = f"<{p}definedNames>{names}</{p}definedNames>"
    if found:  # an empty <definedNames/>
        return text[:found.start()] + block + text[found.end():]
    for tag in ("externalReferences", "functionGroups", "sheets"):
        end = re.search(rf"</{p}{tag}>|<{p}{tag}\b{_Q}/>", text)
        if end:
            return text[:end.end()] + block + text[end.end():]
    raise Unsupported("workbook without sheets")


class Patcher:
    """One package being annotated. `notes` collects what the 审核意见 sheet should say."""

    def __init__(self, data: bytes) -> None:
        try:
            self.pkg = _Package(data, zipfile.ZipFile(io.BytesIO(data)))
        except zipfile.BadZipFile as exc:
            raise Unsupported("not a zip package") from exc
        self.notes: list[str] = []
        ct = self.pkg.text("[Content_Types].xml")
        self.ct = ct
        main = [r for r in self.pkg.rels("") if r.type == REL_DOC]
        if not main:
            raise Unsupported("no officeDocument relationship")
        self.wb_part = main[0].target
        self.wb = self.pkg.text(self.wb_part)
        root = ElementTree.fromstring(self.wb.encode("utf-8"))
        if root.tag != f"{{{NS_MAIN}}}workbook":
            raise Unsupported("workbook is not transitional SpreadsheetML")
        self.wb_rels = self.pkg.rels(self.wb_part)
        by_id = {r.id: r for r in self.wb_rels}
        self.sheets: list[tuple[str, int, str | None]] = []  # name, sheetId, part (None: not a worksheet)
        for el in root.iter(f"{{{NS_MAIN}}}sheet"):
            rel = by_id.get(el.get(f"{{{NS_REL}}}id", ""))
            part = rel.target if rel is not None and rel.type == REL_SHEET and self.pkg.has(rel.target) else None
            self.sheets.append((el.get("name", ""), int(el.get("sheetId", "0")), part))

    # -- pieces ------------------------------------------------------------------------

    def _drop_macros(self) -> None:
        """.xlsm -> .xlsx: remove the VBA project and whatever hangs off it."""
        for rel in self.wb_rels:
            if rel.type.endswith("/vbaProject") and not rel.external:
                for sub in self.pkg.rels(rel.target):
                    if not sub.external:
                        self.pkg.removed.add(sub.target)
                self.pkg.removed.update({rel.target, _rels_path(rel.target)})
                path = _rels_path(self.wb_part)
                text = self.pkg.text(path)
                text = re.sub(rf"<(?:[\w.-]+:)?Relationship\b{_Q}\sId\s*=\s*[\"']{re.escape(rel.id)}[\"']{_Q}/>",
                              "", text)
                self.pkg.put(path, text)
                self.notes.append("原文件含宏，反馈副本已去除宏，保存为 .xlsx 格式")

    def _content_types(self, overrides: list[tuple[str, str]]) -> None:
        text, p = self.ct, _prefix(self.ct, "Types")
        removed = {"/" + n.casefold() for n in self.pkg.removed}
        main = "/" + self.wb_part.casefold()

        def fix(m: re.Match) -> str:
            tag = m[0]
            part = (_attr(tag, "PartName") or "").casefold()  # part names compare case-insensitively
            if part in removed:
                return ""
            if part == main:
                return _set_attr(tag, "ContentType", CT_MAIN)
            ext, ctype = _attr(tag, "Extension"), _attr(tag, "ContentType") or ""
            if ext is not None and "vbaProject" in ctype:
                return ""
            return tag

        text = re.sub(rf"<{p}(?:Override|Default)\b{_Q}/>", fix, text)
        left = re.findall(rf"<{p}(?:Override|Default)\b{_Q}/>", text)
        if any(any(word in (_attr(t, "ContentType") or "") for word in CT_MACRO) for t in left):
            raise Unsupported("macro content (Excel 4 macro sheets) that an .xlsx may not carry")
        add = "".join(f'<{p}Override PartName="/{part}" ContentType="{ctype}"/>' for part, ctype in overrides)
        end = text.rindex(f"</{p}Types>")
        self.pkg.put("[Content_Types].xml", text[:end] + add + text[end:])

    def _workbook(self, review_name: str, rid: str, rename: tuple[str, str] | None,
                  printed: tuple[int, tuple[int, int]]) -> None:
        text = self.wb
        p = _prefix(text, "workbook")
        sid = max([s[1] for s in self.sheets] + [0]) + 1
        root = re.search(rf"<{p}workbook\b{_Q}>", text)
        rp = _rel_prefix(root[0]) if root else None
        rattr = f'{rp}:id="{rid}"' if rp else f'xmlns:r="{NS_REL}" r:id="{rid}"'
        if rename:
            def rename_sheet(m: re.Match) -> str:
                name = unescape(_attr(m[0], "name") or "", {"&quot;": '"', "&apos;": "'"})
                return _set_attr(m[0], "name", rename[1]) if name == rename[0] else m[0]

            text = re.sub(rf"<{p}sheet\b{_Q}/?>", rename_sheet, text)
            # the sheet in its own names' formulas, quoted or bare ('审核意见'!$6:$6, 审核意见!$A$1:$I$9)
            old_ref = re.escape(escape(rename[0])) + "!"
            ref = re.compile(f"{re.escape(escape(quote_sheet(rename[0])))}!|(?<=[>,]){old_ref}")
            new_ref = escape(quote_sheet(rename[1])) + "!"
            text = _edit_own_names(text, p, self.sheet_names().index(rename[0]), lambda e: ref.sub(new_ref, e))
        new = f"<{p}sheet name={quoteattr(review_name)} sheetId=\"{sid}\" {rattr}/>"
        text = re.sub(rf"<{p}sheets\b{_Q}>", lambda m: m[0] + new, text, count=1)

        def view(m: re.Match) -> str:
            return _set_attr(_set_attr(m[0], "activeTab", "0"), "firstSheet", None)

        text = re.sub(rf"<{p}workbookView\b{_Q}/?>", view, text)

        def shift(m: re.Match) -> str:
            local = _attr(m[0], "localSheetId")
            return _set_attr(m[0], "localSheetId", str(int(local) + 1)) if local and local.isdigit() else m[0]

        text = re.sub(rf"<{p}definedName\b{_Q}>", shift, text)
        head, last = printed
        text = _add_names(text, p, print_names(review_name, 0, (head, head), last, p))
        self.pkg.put(self.wb_part, text)

    def _review_sheet(self, review: Review, styles: _Styles) -> tuple[str, tuple[int, tuple[int, int]]]:
        """The sheet's XML, and where it prints: its header row and last cell (0-based)."""
        border = styles.border()
        bold, title_font = styles.font(bold=True), styles.font(size=14, bold=True)
        lead_font = styles.font(bold=True, color="FF9C0006" if review.returned else "FF9C5700")
        link_font = styles.font(color="FF0563C1", underline=True)
        sev_style = {
            "error": styles.xf(styles.font(bold=True, color="FF9C0006"), styles.fill(FILL["error"]), border, "center"),
            "warning": styles.xf(styles.font(bold=True, color="FF9C5700"), styles.fill(FILL["warning"]), border,
                                 "center"),
            "info": styles.xf(0, 0, border, "center"),
        }
        x = {
            "title": styles.xf(title_font, v="center", wrap=False),
            "lead": styles.xf(lead_font),
            "note": styles.xf(0),
            "head": styles.xf(bold, styles.fill("FFD9E1F2"), border, "center", "center"),
            "body": styles.xf(0, 0, border),
            "center": styles.xf(0, 0, border, "center"),
            "link": styles.xf(link_font, 0, border),
            "reply": styles.xf(0, styles.fill("FFFFF2CC"), border, locked=False),
        }
        ncol = len(review.header)
        last = col_letters(ncol - 1)
        total_width = sum(WIDTHS[:ncol])
        rows, merges, links = [], [], []

        def cell(ref: str, value: object, s: int) -> str:
            if isinstance(value, int):
                return f'<c r="{ref}" s="{s}"><v>{value}</v></c>'
            if value in (None, ""):
                return f'<c r="{ref}" s="{s}"/>'
            return f'<c r="{ref}" s="{s}" t="inlineStr"><is><t xml:space="preserve">{xstring(str(value))}</t></is></c>'

        def merged_line(text: str, s: int, height: float | None = None) -> None:
            n = len(rows) + 1
            ht = height or 15 * line_count(text, total_width)
            rows.append(f'<row r="{n}" ht="{ht}" customHeight="1">{cell(f"A{n}", text, s)}</row>')
            merges.append(f"A{n}:{last}{n}")

        merged_line(review.title, x["title"], 24)
        merged_line(review.lead, x["lead"])
        for note in review.notes:
            merged_line(note, x["note"])
        n = len(rows) + 1
        rows.append(f'<row r="{n}" ht="20" customHeight="1">' + "".join(
            cell(f"{col_letters(i)}{n}", h, x["head"]) for i, h in enumerate(review.header)) + "</row>")
        header_row = n
        for item in review.rows:
            n = len(rows) + 1
            out = []
            for i, value in enumerate(item.values):
                s = {SEVERITY_COL: sev_style[item.severity], REPLY_COL: x["reply"]}.get(
                    i, x["center"] if i in CENTER_COLS else x["body"])
                if i == LINK_COL and item.link:
                    s = x["link"]
                    sheet, ref = item.link
                    quoted = "'" + sheet.replace("'", "''") + "'"
                    links.append(f'<hyperlink ref="{col_letters(i)}{n}" location={quoteattr(f"{quoted}!{ref}")} '
                                 f"display={quoteattr(str(value))}/>")
                out.append(cell(f"{col_letters(i)}{n}", value, s))
            lines = max(line_count(str(v), WIDTHS[i]) for i, v in enumerate(item.values))
            rows.append(f'<row r="{n}" ht="{15 * lines + 3}" customHeight="1">{"".join(out)}</row>')
        cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                       for i, w in enumerate(WIDTHS[:ncol]))
        top = f"A{header_row + 1}"
        return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
                '<sheetPr><tabColor rgb="FFC00000"/><pageSetUpPr fitToPage="1"/></sheetPr>'
                f'<dimension ref="A1:{last}{len(rows)}"/>'
                '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
                f'<pane ySplit="{header_row}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>'
                f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/></sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(rows)}</sheetData>'
                '<sheetProtection sheet="1" objects="1" scenarios="1" formatColumns="0" formatRows="0"/>'
                f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
                + "</mergeCells>" + (f"<hyperlinks>{''.join(links)}</hyperlinks>" if links else "")
                + page_xml(landscape=True) + "</worksheet>"), (header_row - 1, (len(rows) - 1, ncol - 1))

    # -- the whole job -------------------------------------------------------------------

    def sheet_names(self) -> list[str]:
        return [s[0] for s in self.sheets]

    def patch(self, review: Review, marks: dict[str, dict[str, Mark]]) -> bytes:
        """The annotated package. `marks`: sheet name -> A1 -> Mark (sheets absent are ignored)."""
        pkg = self.pkg
        self._drop_macros()
        styles_rel = next((r for r in self.wb_rels if r.type == REL_STYLES and pkg.has(r.target)), None)
        if styles_rel is None:
            raise Unsupported("no styles part")
        styles = _Styles(pkg.text(styles_rel.target))
        overrides: list[tuple[str, str]] = []
        parts = {name: part for name, _, part in self.sheets if part}
        for name, _, part in self.sheets:
            if part is None:
                continue
            sheet_marks = marks.get(name, {})
            sheet = None
            raw = pkg.raw(part)
            if sheet_marks or b"tabSelected" in raw:
                sheet = _Sheet(pkg.text(part))
            if sheet is None:
                continue
            if sheet.selected():
                sheet.unselect()
            if sheet_marks:
                cells = {_split_ref(ref): m.severity for ref, m in sheet_marks.items()}
                sheet.restyle(cells, styles.highlight)
                add_comments(pkg, part, sheet, sheet_marks, overrides, self.notes)
            if sheet.edits:
                pkg.put(part, sheet.render())
        missing = sorted(set(marks) - set(parts))
        if missing:
            self.notes.append(f"工作表 {'、'.join(missing)} 不在本文件中，相关问题仅列于本表")
        review.notes.extend(self.notes)
        names, review_name, rename = self.sheet_names(), review.sheet_name, None
        old = next((n for n in names if n.casefold() == review_name.casefold()), None)
        if old is not None:  # a returned feedback copy: keep last round's sheet under another name
            # its own print area and titles move with it; any other reference to it keeps the name
            others = _edit_own_names(self.wb, _prefix(self.wb, "workbook"), names.index(old), lambda _: "")
            # quoted ('审核意见'!) or bare, but never the end of a longer name ('上次审核意见'!)
            if re.search(f"{re.escape(escape(quote_sheet(old)))}!|(?<![\\w.']){re.escape(escape(old))}!", others):
                review_name = _sheet_name_unique(review_name, names)
            else:
                rename = (old, _sheet_name_unique(PREVIOUS, names))
                review.notes.append(f"原文件中的“{old}”工作表（上一轮的审核意见）已改名为“{rename[1]}”")
        review_part = pkg.free("xl/worksheets/sheet%d.xml")
        sheet_xml, printed = self._review_sheet(review, styles)
        pkg.put(review_part, sheet_xml)
        overrides.append((review_part, CT_SHEET))
        (rid,) = pkg.add_rels(self.wb_part, [(REL_SHEET, review_part)])
        self._workbook(review_name, rid, rename, printed)
        pkg.put(styles_rel.target, styles.render())
        self._content_types(overrides)
        return pkg.write()
