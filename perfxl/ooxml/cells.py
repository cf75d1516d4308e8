"""Cell formatting edits: `styles.xml` and the worksheet parts (spec §8 highlights).

`_Styles` appends fonts, fills, borders and cell formats at the end of their lists, so every
existing style index keeps its meaning, and makes a highlighted copy of a cell's own format
(its markup verbatim, the severity's fill swapped in). `_Sheet` edits one worksheet at the string
level: the `s=` of marked cells, cells and rows created where the XML has none (dropping `spans`
and growing `<dimension>` to cover them), `tabSelected` removed, and a `<legacyDrawing>` placed
where CT_Worksheet wants it; edits are collected and applied in one pass by `render`.
"""

from __future__ import annotations

import itertools
import re
from xml.sax.saxutils import quoteattr

from perfxl.ooxml.package import _Q, Unsupported, _attr, _plain_tag_re, _prefix, _rel_prefix, _set_attr, _tag_re
from perfxl.ooxml.refs import NS_MAIN, NS_REL, col_index, col_letters, parse_a1

FILL = {"error": "FFFFC7CE", "warning": "FFFFEB9C"}


class _Styles:
    """Appends fonts, fills, borders and cell formats to styles.xml; existing indices stay."""

    def __init__(self, text: str) -> None:
        self.text = text
        p = self.p = _prefix(text, "styleSheet")
        root = _tag_re(p, "styleSheet").search(text)
        if root is None or NS_MAIN not in root[0]:
            raise Unsupported("styles: not transitional SpreadsheetML")
        self.counts: dict[str, int] = {}
        self.new: dict[str, list[str]] = {}
        bodies = {}
        for sec, child in (("fonts", "font"), ("fills", "fill"), ("borders", "border"), ("cellXfs", "xf"),
                           ("cellStyleXfs", "xf")):
            m = _tag_re(p, sec).search(text)
            if m is None:
                if sec == "cellStyleXfs":
                    bodies[sec] = ""
                    continue
                raise Unsupported(f"styles: no <{sec}>")
            bodies[sec] = "" if m[1] else text[m.end():text.index(f"</{p}{sec}>", m.end())]
            self.counts[sec] = len(re.findall(rf"<{re.escape(p)}{child}[\s/>]", bodies[sec]))
            self.new[sec] = []
        self.has_style_xf = self.counts.pop("cellStyleXfs", 0) > 0
        del self.new["cellStyleXfs"]
        body = bodies["cellXfs"]
        starts = [m.start() for m in _plain_tag_re(p, "xf").finditer(body)] + [len(body)]
        self.xfs = [body[a:b].rstrip() for a, b in itertools.pairwise(starts)]  # each <xf> verbatim
        first = re.search(rf"<{re.escape(p)}font\b.*?</{re.escape(p)}font>", bodies["fonts"], re.S)
        name = _tag_re(p, "name").search(first[0]) if first else None
        self.font_name = _attr(name[0], "val") if name and _attr(name[0], "val") else "宋体"
        self._cache: dict[object, int] = {}

    def _add(self, sec: str, xml: str, raw: bool = False) -> int:
        """Index of an appended entry; our own markup gets the document's prefix, copies keep theirs."""
        if self.p and not raw:
            xml = re.sub(r"<(/?)(?=[a-zA-Z])", rf"<\1{self.p}", xml)
        key = (sec, xml)
        if key not in self._cache:
            self._cache[key] = self.counts[sec] + len(self.new[sec])
            self.new[sec].append(xml)
        return self._cache[key]

    def font(self, size: int = 11, bold: bool = False, color: str | None = None, underline: bool = False) -> int:
        return self._add("fonts", "<font>" + ("<b/>" if bold else "") + ("<u/>" if underline else "")
                         + f'<sz val="{size}"/>' + (f'<color rgb="{color}"/>' if color else "")
                         + f"<name val={quoteattr(self.font_name)}/></font>")

    def fill(self, rgb: str) -> int:
        return self._add("fills", f'<fill><patternFill patternType="solid"><fgColor rgb="{rgb}"/>'
                         '<bgColor indexed="64"/></patternFill></fill>')

    def border(self) -> int:
        side = '<{0} style="thin"><color rgb="FFBFBFBF"/></{0}>'
        return self._add("borders", "<border>" + "".join(side.format(s) for s in ("left", "right", "top", "bottom"))
                         + "<diagonal/></border>")

    def xf(self, font: int = 0, fill: int = 0, border: int = 0, h: str | None = None, v: str = "top",
           wrap: bool = True, locked: bool = True) -> int:
        align = (f' horizontal="{h}"' if h else "") + f' vertical="{v}"' + (' wrapText="1"' if wrap else "")
        xf_id = ' xfId="0"' if self.has_style_xf else ""
        return self._add("cellXfs", f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="{border}"{xf_id}'
                         ' applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1" applyProtection="1">'
                         f'<alignment{align}/><protection locked="{int(locked)}"/></xf>')

    def highlight(self, s: int, severity: str) -> int:
        """A copy of cell format `s` (its markup verbatim) with the severity's fill."""
        key = ("hl", s, severity)
        if key not in self._cache:
            fill = str(self.fill(FILL[severity]))
            base = self.xfs[s] if 0 <= s < len(self.xfs) else f'<{self.p}xf numFmtId="0" fontId="0" borderId="0"/>'
            head = _plain_tag_re(self.p, "xf").match(base)
            new_head = _set_attr(_set_attr(head[0], "fillId", fill), "applyFill", "1")
            self._cache[key] = self._add("cellXfs", new_head + base[head.end():], raw=True)
        return self._cache[key]

    def render(self) -> str:
        text, p = self.text, self.p
        for sec, items in self.new.items():
            if not items:
                continue
            m = _tag_re(p, sec).search(text)
            head = _set_attr(m[0], "count", str(self.counts[sec] + len(items)))
            if m[1]:  # <fills count="0"/>
                text = text[:m.start()] + head[:-2].rstrip() + ">" + "".join(items) + f"</{p}{sec}>" + text[m.end():]
            else:
                close = text.index(f"</{p}{sec}>", m.end())
                text = text[:m.start()] + head + text[m.end():close] + "".join(items) + text[close:]
        return text


# -- worksheets -----------------------------------------------------------------------------

#: worksheet children that come after <legacyDrawing> (besides extLst); none of them nests
#: inside an element that comes before it (mc:AlternateContent wraps oleObjects and controls)
_AFTER_LEGACY = re.compile(r"<(?:[\w.-]+:)?(?:legacyDrawingHF|drawingHF|picture|oleObjects|controls|"
                           r"webPublishItems|tableParts|AlternateContent)\b")


def _split_ref(ref: str) -> tuple[int, int]:
    return parse_a1(ref)  # 0-based (row, col)


class _Sheet:
    """String-level edits of one worksheet part."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.p = _prefix(text, "worksheet")
        self.edits: list[tuple[int, int, str]] = []
        m = re.search(rf"<{self.p}sheetData\b{_Q}(/?)>", text)
        if not m:
            raise Unsupported("worksheet without sheetData")
        self.data_open = m
        if m[1]:
            self.data_end = self.tail_start = m.end()
        else:
            self.data_end = text.index(f"</{self.p}sheetData>", m.end())
            self.tail_start = self.data_end + len(f"</{self.p}sheetData>")

    def _rows(self) -> list[tuple[int, re.Match, int, int]]:
        """(row number, start-tag match, body end, element end) for each row."""
        out, prev = [], 0
        pat = _plain_tag_re(self.p, "row")
        pos = self.data_open.end()
        while (m := pat.search(self.text, pos, self.data_end)) is not None:
            r = _attr(m[0], "r")
            prev = int(r) if r else prev + 1
            if m[1]:
                out.append((prev, m, m.end(), m.end()))
                pos = m.end()
            else:
                close = self.text.index(f"</{self.p}row>", m.end())
                out.append((prev, m, close, close + len(f"</{self.p}row>")))
                pos = close
        return out

    def _cells(self, start: int, end: int) -> list[tuple[int, re.Match]]:
        out, prev = [], -1
        for m in _plain_tag_re(self.p, "c").finditer(self.text, start, end):
            r = _attr(m[0], "r")
            prev = col_index(re.match(r"[A-Z]+", r)[0]) if r else prev + 1
            out.append((prev, m))
        return out

    def _base_style(self, row_tag: str | None, col: int) -> int:
        if row_tag and _attr(row_tag, "customFormat") in ("1", "true") and _attr(row_tag, "s"):
            return int(_attr(row_tag, "s"))
        head = self.text[: self.data_open.start()]
        for m in re.finditer(rf"<{self.p}col\b{_Q}/?>", head):
            lo, hi, st = _attr(m[0], "min"), _attr(m[0], "max"), _attr(m[0], "style")
            if lo and hi and st and int(lo) - 1 <= col <= int(hi) - 1:
                return int(st)
        return 0

    def restyle(self, cells: dict[tuple[int, int], str], style_for) -> None:
        """Give each (row, col) the style `style_for(current s, severity)`; create missing cells."""
        p, rows = self.p, self._rows()
        by_row: dict[int, dict[int, str]] = {}
        for (r, c), sev in cells.items():
            by_row.setdefault(r + 1, {})[c] = sev
        known = {num: (m, body_end, elem_end) for num, m, body_end, elem_end in rows}
        grown = False
        for num, wanted in sorted(by_row.items()):
            if num in known:
                m, body_end, _ = known[num]
                present = {c: cm for c, cm in self._cells(m.end(), body_end)}
                inserts: dict[int, list[str]] = {}
                for col, sev in sorted(wanted.items()):
                    if col in present:
                        tag = present[col][0]
                        s = int(_attr(tag, "s") or 0)
                        self.edits.append((present[col].start(), present[col].end(),
                                           _set_attr(tag, "s", str(style_for(s, sev)))))
                    else:
                        grown = True
                        after = [cm.start() for c, cm in present.items() if c > col]
                        at = min(after) if after else body_end
                        s = style_for(self._base_style(m[0], col), sev)
                        inserts.setdefault(at, []).append(f'<{p}c r="{col_letters(col)}{num}" s="{s}"/>')
                row_tag = _set_attr(m[0], "spans", None) if inserts else m[0]
                if m[1] and inserts:  # <row r="5"/>
                    self.edits.append((m.start(), m.end(), row_tag[:-2].rstrip() + ">"
                                       + "".join(inserts[m.end()]) + f"</{p}row>"))
                else:
                    if row_tag != m[0]:
                        self.edits.append((m.start(), m.end(), row_tag))
                    self.edits.extend((at, at, "".join(x)) for at, x in inserts.items())
            else:
                grown = True
                later = [m.start() for n, m, _, _ in rows if n > num]
                at = min(later) if later else self.data_end
                xml = "".join(f'<{p}c r="{col_letters(c)}{num}" s="{style_for(self._base_style(None, c), sev)}"/>'
                              for c, sev in sorted(wanted.items()))
                self.edits.append((at, at, f'<{p}row r="{num}">{xml}</{p}row>'))
        if self.data_open[1] and by_row:  # <sheetData/>
            self.edits.append((self.data_open.start(), self.data_open.end(), f"<{p}sheetData>"))
            self.edits.append((self.data_open.end(), self.data_open.end(), f"</{p}sheetData>"))
        if grown:
            self._grow_dimension(cells)

    def _grow_dimension(self, cells) -> None:
        m = re.search(rf"<{self.p}dimension\b{_Q}/?>", self.text[: self.data_open.start()])
        ref = _attr(m[0], "ref") if m else None
        if not ref or not re.fullmatch(r"[A-Z]+\d+(:[A-Z]+\d+)?", ref):
            return
        a, _, b = ref.partition(":")
        (r0, c0), (r1, c1) = _split_ref(a), _split_ref(b or a)
        for r, c in cells:
            r0, c0, r1, c1 = min(r0, r), min(c0, c), max(r1, r), max(c1, c)
        new = f"{col_letters(c0)}{r0 + 1}:{col_letters(c1)}{r1 + 1}"
        self.edits.append((m.start(), m.end(), _set_attr(m[0], "ref", new)))

    def unselect(self) -> None:
        """Drop tabSelected so the new first sheet is the only selected one (no grouping)."""
        for m in re.finditer(rf"<{self.p}sheetView\b{_Q}/?>", self.text[: self.data_open.start()]):
            if _attr(m[0], "tabSelected") is not None:
                self.edits.append((m.start(), m.end(), _set_attr(m[0], "tabSelected", None)))

    def selected(self) -> bool:
        head = self.text[: self.data_open.start()]
        return any(_attr(m[0], "tabSelected") in ("1", "true")
                   for m in re.finditer(rf"<{self.p}sheetView\b{_Q}/?>", head))

    def legacy_drawing(self) -> str | None:
        """r:id of an existing <legacyDrawing>."""
        m = re.search(rf"<{self.p}legacyDrawing\b{_Q}/?>", self.text[self.tail_start:])
        if not m:
            return None
        rid = re.search(r"""\s[\w.-]+:id\s*=\s*["']([^"']*)["']""", m[0])
        if not rid:
            raise Unsupported("legacyDrawing without r:id")
        return rid[1]

    def add_legacy_drawing(self, rid: str) -> None:
        """Insert <legacyDrawing> where CT_Worksheet wants it: before the first element that
        must follow it, else before a top-level <extLst> (always last), else at the end."""
        text, p = self.text, self.p
        end = text.rindex(f"</{p}worksheet>")
        if text[:end].rstrip().endswith(f"</{p}extLst>"):
            depth = 0  # match the closing tag to its opening one; extLst also nests inside cfRule
            for t in reversed(list(re.finditer(rf"<(/?){re.escape(p)}extLst\b{_Q}(/?)>", text[:end]))):
                depth += 1 if t[1] else (0 if t[2] else -1)
                if depth == 0:
                    end = t.start()
                    break
        m = _AFTER_LEGACY.search(text, self.tail_start, end)
        at = m.start() if m else end
        root = _tag_re(p, "worksheet").search(text)
        rp = _rel_prefix(root[0]) if root else None
        attr = f'{rp}:id="{rid}"' if rp else f'xmlns:r="{NS_REL}" r:id="{rid}"'
        self.edits.append((at, at, f"<{p}legacyDrawing {attr}/>"))

    def render(self) -> str:
        text = self.text
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        return text
