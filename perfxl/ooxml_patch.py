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

Edits are made at the string level, located with regular expressions over tags (the parts are
UTF-8 XML without DTDs, comments or CDATA — anything else is Unsupported), and with defusedxml
where a part must be understood as a whole (workbook, rels, existing comments): re-serialising a
part with ElementTree would rename namespace prefixes and break `mc:Ignorable`. Whatever this
module does not understand raises `Unsupported`; the caller then writes a values-only copy.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr, unescape

from defusedxml import ElementTree

from perfxl.ooxml import NS_MAIN, NS_PKG_REL, NS_REL, col_letters, parse_a1

if TYPE_CHECKING:
    from perfxl.feedback import Review

NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_DOC = f"{NS_REL}/officeDocument"
REL_SHEET, REL_STYLES = f"{NS_REL}/worksheet", f"{NS_REL}/styles"
REL_COMMENTS, REL_VML = f"{NS_REL}/comments", f"{NS_REL}/vmlDrawing"
CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_MACRO = ("vbaProject", "macroEnabled", "macrosheet", "vbaProjectSignature")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

FILL = {"error": "FFFFC7CE", "warning": "FFFFEB9C"}
#: 审核意见 column widths (characters): 序号 严重程度 规则 工作表 单元格 说明 应为 实为 单位答复
WIDTHS = (6, 9, 24, 12, 16, 60, 16, 16, 40)
LINK_COL, SEVERITY_COL, REPLY_COL = 4, 1, 8

_Q = r"""(?:[^>"']|"[^"]*"|'[^']*')*?"""  # the inside of a tag, quotes respected
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


class Unsupported(Exception):
    """A package (or part) this patcher does not edit; the caller writes a values copy."""


def xstring(text: str) -> str:
    """Text for a cell or comment (ST_Xstring): control characters and literal `_xHHHH_`
    escaped the way Excel reads them, then XML-escaped."""
    return escape(_ILLEGAL.sub(lambda m: "_x005F_" if m[0] == "_" else f"_x{ord(m[0]):04X}_", text))


@functools.lru_cache(maxsize=64)
def _attr_re(name: str) -> re.Pattern:
    return re.compile(rf"""\s{re.escape(name)}\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@functools.lru_cache(maxsize=64)
def _tag_re(prefix: str, local: str) -> re.Pattern:
    """A start tag `<prefix:local …>` or `<prefix:local …/>`; group 1: "/" when empty."""
    return re.compile(rf"<{re.escape(prefix)}{local}\b{_Q}(/?)>")


@functools.lru_cache(maxsize=64)
def _plain_tag_re(prefix: str, local: str) -> re.Pattern:
    """Like _tag_re for elements whose attributes are all numbers, references or flags (row, c,
    xf): no attribute value can hold a ">", so the faster pattern is exact."""
    return re.compile(rf"<{re.escape(prefix)}{local}\b[^>]*?(/?)>")


def _attr(tag: str, name: str) -> str | None:
    m = _attr_re(name).search(tag)
    if not m:
        return None
    return m[1] if m[1] is not None else m[2]


def _set_attr(tag: str, name: str, value: str | None) -> str:
    """A start tag with attribute `name` set to `value` (None: removed)."""
    pat = _attr_re(name)
    if value is None:
        return pat.sub("", tag, count=1)
    new = f' {name}="{escape(value, {chr(34): "&quot;"})}"'
    if pat.search(tag):
        return pat.sub(lambda _: new, tag, count=1)
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return tag[:end].rstrip() + new + tag[end:]


def _prefix(text: str, local: str) -> str:
    m = re.search(rf"<([\w.-]+:)?{local}\b", text)
    if not m:
        raise Unsupported(f"no <{local}>")
    return m[1] or ""


def _rel_prefix(text: str) -> str | None:
    m = re.search(rf"""xmlns:([\w.-]+)\s*=\s*["']{re.escape(NS_REL)}["']""", text)
    return m[1] if m else None


def _rels_path(part: str) -> str:
    d, b = posixpath.split(part)
    return posixpath.join(d, "_rels", b + ".rels")


def _relative(src_part: str, target: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(src_part) or ".")


_WIDE = re.compile("[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
                   "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")


def display_width(text: str) -> int:
    """Columns a text takes: CJK and full-width characters count two."""
    return len(text) + len(_WIDE.findall(text))


def line_count(text: str, width: int) -> int:
    return sum(max(1, math.ceil(display_width(line) / max(width - 1, 1))) for line in text.split("\n"))


@dataclass
class Mark:
    """One annotated cell: the worst severity on it and its comment text."""

    severity: str  # "error" or "warning"
    comment: str  # lines; the first is shown in bold


@dataclass
class _Rel:
    id: str
    type: str
    target: str  # absolute part name, or the raw target for external links
    external: bool = False


@dataclass
class _Package:
    data: bytes
    zin: zipfile.ZipFile
    changed: dict[str, bytes] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = {i.filename for i in self.zin.infolist()}
        self.folded = {n.casefold() for n in self.names}

    def has(self, name: str) -> bool:
        return (name in self.names or name in self.changed) and name not in self.removed

    def raw(self, name: str) -> bytes:
        return self.changed[name] if name in self.changed else self.zin.read(name)

    def text(self, name: str) -> str:
        data = self.raw(name)
        if b"<!" in data:  # DTDs, comments, CDATA: not in parts we edit; intake rejects DTDs
            raise Unsupported(f"{name}: markup declarations")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unsupported(f"{name}: not UTF-8") from exc

    def put(self, name: str, text: str | bytes) -> None:
        if not self.has(name) and name not in self.added:
            self.added.append(name)
        self.changed[name] = text.encode("utf-8") if isinstance(text, str) else text

    def free(self, pattern: str) -> str:
        """The first unused part name `pattern % n`, n ≥ 1 (part names are case-insensitive)."""
        n = 1
        while (pattern % n).casefold() in self.folded or pattern % n in self.added:
            n += 1
        return pattern % n

    def rels(self, part: str) -> list[_Rel]:
        path = _rels_path(part)
        if not self.has(path):
            return []
        out = []
        for el in ElementTree.fromstring(self.raw(path)):
            target, external = el.get("Target", ""), el.get("TargetMode") == "External"
            if not external:
                target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(posixpath.dirname(part), target))
            out.append(_Rel(el.get("Id", ""), el.get("Type", ""), target, external))
        return out

    def add_rels(self, part: str, rels: list[tuple[str, str]]) -> list[str]:
        """Append relationships (type, target part) to part's rels; returns their ids."""
        path = _rels_path(part)
        used = {r.id for r in self.rels(part)}
        ids, xml = [], []
        n = 1
        for rtype, target in rels:
            while f"rId{n}" in used:
                n += 1
            used.add(f"rId{n}")
            ids.append(f"rId{n}")
            xml.append(f'<Relationship Id="rId{n}" Type="{rtype}" Target={quoteattr(_relative(part, target))}/>')
        if self.has(path):
            text = self.text(path)
            p = _prefix(text, "Relationships")
            end = text.rfind(f"</{p}Relationships>")
            if end < 0:
                text = re.sub(r"/>\s*$", ">", text.rstrip()) + f"</{p}Relationships>"
                end = text.rfind(f"</{p}Relationships>")
            if p:
                xml = [x.replace("<Relationship ", f"<{p}Relationship ") for x in xml]
            self.put(path, text[:end] + "".join(xml) + text[end:])
        else:
            self.put(path, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     f'<Relationships xmlns="{NS_PKG_REL}">{"".join(xml)}</Relationships>')
        return ids

    def write(self) -> bytes:
        """Original parts in their order (changed ones replaced), then the new parts. Unchanged
        parts are copied as stored, compressed bytes and all; a zip this cannot follow is
        rewritten through zipfile instead (same content, recompressed)."""
        try:
            return self._copy_raw()
        except Unsupported:
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
                for info in self.zin.infolist():
                    name = info.filename
                    if name in self.removed or name.endswith("/"):
                        continue
                    data = self.changed[name] if name in self.changed else self.zin.read(info)
                    zout.writestr(zipfile.ZipInfo(name, info.date_time), data, zipfile.ZIP_DEFLATED)
                for name in self.added:
                    zout.writestr(zipfile.ZipInfo(name, FIXED_TIME), self.changed[name], zipfile.ZIP_DEFLATED)
            return out.getvalue()

    def _copy_raw(self) -> bytes:
        src, infos = self.data, self.zin.infolist()
        eocd = src.rfind(b"PK\x05\x06", max(0, len(src) - 65557))
        if eocd < 0 or len(src) < eocd + 22:
            raise Unsupported("no end of central directory")
        entries, cd_size, cd_off = struct.unpack("<HII", src[eocd + 10:eocd + 20])
        if entries != len(infos) or cd_off + cd_size > eocd or 0xFFFFFFFF in (cd_size, cd_off):
            raise Unsupported("zip64 or prefixed archive")
        out, central, count, pos = bytearray(), bytearray(), 0, cd_off
        for info in infos:
            rec = src[pos:pos + 46]
            if rec[:4] != b"PK\x01\x02":
                raise Unsupported("central directory")
            n, m, k = struct.unpack("<HHH", rec[28:34])
            (local,) = struct.unpack("<I", rec[42:46])
            record, pos = bytearray(src[pos:pos + 46 + n + m + k]), pos + 46 + n + m + k
            name = info.filename
            if name in self.removed or name.endswith("/"):
                continue
            if name in self.changed:
                self._entry(out, central, name, self.changed[name], info.date_time)
            else:
                if local != info.header_offset or src[local:local + 4] != b"PK\x03\x04" or local == 0xFFFFFFFF:
                    raise Unsupported("local header")
                ln, lm = struct.unpack("<HH", src[local + 26:local + 30])
                end = local + 30 + ln + lm + info.compress_size
                if info.flag_bits & 0x08:  # a data descriptor follows the data
                    end += 16 if src[end:end + 4] == b"PK\x07\x08" else 12
                if end > cd_off:
                    raise Unsupported("member overruns the central directory")
                record[42:46] = struct.pack("<I", len(out))
                out += src[local:end]
                central += record
            count += 1
        for name in self.added:
            self._entry(out, central, name, self.changed[name], FIXED_TIME)
            count += 1
        if count > 0xFFFF or len(out) > 0xFFFFFFFF:
            raise Unsupported("too large for a plain zip")
        return bytes(out + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central),
                                                   len(out), 0))

    @staticmethod
    def _entry(out: bytearray, central: bytearray, name: str, data: bytes, when: tuple) -> None:
        """One deflated member: local header and data into `out`, its record into `central`."""
        comp = zlib.compressobj(1, zlib.DEFLATED, -15)  # speed: parts are small
        packed = comp.compress(data) + comp.flush()
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else 0x800
        y, mo, d, h, mi, sec = when
        dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
        crc = zlib.crc32(data)
        common = struct.pack("<HHHHHIIIH", 20, flags, 8, dos_time, dos_date, crc, len(packed), len(data),
                             len(raw_name))
        central += b"PK\x01\x02" + struct.pack("<H", 20) + common + struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(out))
        central += raw_name
        out += b"PK\x03\x04" + common + struct.pack("<H", 0) + raw_name + packed


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


def _col_index(letters: str) -> int:
    return parse_a1(letters + "1")[1]


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
            prev = _col_index(re.match(r"[A-Z]+", r)[0]) if r else prev + 1
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


# -- comments and VML ---------------------------------------------------------------------------

AUTHOR = "财政局审核"
PREVIOUS = "上次审核意见"


def _comment_xml(ref: str, author_id: int, text: str, p: str = "") -> str:
    head, _, rest = text.partition("\n")
    rpr = '<{p}rPr>{b}<{p}sz val="9"/><{p}color indexed="81"/><{p}rFont val="宋体"/><{p}charset val="134"/></{p}rPr>'
    runs = f'<{p}r>{rpr.format(p=p, b=f"<{p}b/>")}<{p}t xml:space="preserve">{xstring(head)}</{p}t></{p}r>'
    if rest:
        runs += f'<{p}r>{rpr.format(p=p, b="")}<{p}t xml:space="preserve">{xstring(chr(10) + rest)}</{p}t></{p}r>'
    return f'<{p}comment ref="{ref}" authorId="{author_id}"><{p}text>{runs}</{p}text></{p}comment>'


def _vml_shape(shape_id: int, row: int, col: int, text: str, z: int) -> str:
    lines = min(24, line_count(text, 36) + 1)
    anchor = f"{col + 1}, 15, {max(row - 1, 0)}, 10, {col + 5}, 15, {max(row - 1, 0) + lines}, 4"
    return (f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
            f'margin-left:{48 * (col + 1) + 11}pt;margin-top:{15 * max(row - 1, 0) + 1.5}pt;width:260pt;'
            f'height:{15 * lines}pt;z-index:{z};visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
            '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
            '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto">'
            '<div style="text-align:left"></div></v:textbox><x:ClientData ObjectType="Note">'
            f"<x:MoveWithCells/><x:SizeWithCells/><x:Anchor>{anchor}</x:Anchor><x:AutoFill>False</x:AutoFill>"
            f"<x:Row>{row}</x:Row><x:Column>{col}</x:Column></x:ClientData></v:shape>")


_SHAPETYPE = ('<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
              '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')
_VML_NS = ('xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
           'xmlns:x="urn:schemas-microsoft-com:office:excel"')


def _vml_blocks(pkg: _Package) -> set[int]:
    used = set()
    for name in pkg.names | set(pkg.added):
        if name.lower().endswith(".vml") and pkg.has(name):
            for m in re.finditer(rb'<o:idmap\b[^>]*\bdata="([\d,\s]+)"', pkg.raw(name)):
                used.update(int(x) for x in m[1].split(b",") if x.strip())
    return used


# -- the package ----------------------------------------------------------------------------


def _sheet_name_unique(wanted: str, names: list[str]) -> str:
    folded = {n.casefold() for n in names}
    if wanted.casefold() not in folded:
        return wanted
    n = 2
    while f"{wanted}{n}".casefold() in folded:
        n += 1
    return f"{wanted}{n}"


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

    def _comments(self, sheet_part: str, sheet: _Sheet, marks: dict[str, Mark], overrides: list) -> None:
        """Comments part + VML for one sheet; merged into existing ones when the sheet has them."""
        cells = sorted(marks.items(), key=lambda kv: _split_ref(kv[0]))
        rels = self.pkg.rels(sheet_part)
        vml_rid = sheet.legacy_drawing()
        comments = next((r for r in rels if r.type == REL_COMMENTS and not r.external), None)
        if vml_rid is None:
            block = max(_vml_blocks(self.pkg) | {0}) + 1
            shapes = "".join(_vml_shape(block * 1024 + i + 1, *_split_ref(ref), m.comment, i + 1)
                             for i, (ref, m) in enumerate(cells))
            vml = (f'<xml {_VML_NS}><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/>'
                   f"</o:shapelayout>{_SHAPETYPE}{shapes}</xml>")
            vml_part = self.pkg.free("xl/drawings/vmlDrawing%d.vml")
            com_part = self.pkg.free("xl/comments%d.xml")
            body = "".join(_comment_xml(ref, 0, m.comment) for ref, m in cells)
            self.pkg.put(vml_part, vml)
            self.pkg.put(com_part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         f'<comments xmlns="{NS_MAIN}"><authors><author>{AUTHOR}</author></authors>'
                         f"<commentList>{body}</commentList></comments>")
            overrides += [(vml_part, CT_VML), (com_part, CT_COMMENTS)]
            rid, _ = self.pkg.add_rels(sheet_part, [(REL_VML, vml_part), (REL_COMMENTS, com_part)])
            sheet.add_legacy_drawing(rid)
            return
        vml_rel = next((r for r in rels if r.id == vml_rid and not r.external), None)
        if vml_rel is None or not self.pkg.has(vml_rel.target):
            raise Unsupported("legacyDrawing target missing")
        try:
            vml = self.pkg.raw(vml_rel.target).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unsupported("VML drawing not in UTF-8") from exc
        taken: set[str] = set()
        if comments is not None:
            ctext = self.pkg.text(comments.target)
            croot = ElementTree.fromstring(ctext.encode("utf-8"))
            taken = {c.get("ref", "") for c in croot.iter(f"{{{NS_MAIN}}}comment")}
            authors = [a.text or "" for a in croot.iter(f"{{{NS_MAIN}}}author")]
        skipped = [ref for ref, _ in cells if ref in taken]
        cells = [(ref, m) for ref, m in cells if ref not in taken]
        if skipped:
            self.notes.append(f"单元格 {'、'.join(skipped)} 原有批注，未另加批注，审核意见见本表")
        if not cells:
            return
        ids = [int(x) for x in re.findall(r"_x0000_s(\d+)", vml)]
        blocks = re.search(r'<o:idmap\b[^>]*\bdata="(\d+)', vml)
        start = max([*ids, int(blocks[1]) * 1024 if blocks else 1024]) + 1
        shapes = "".join(_vml_shape(start + i, *_split_ref(ref), m.comment, start + i)
                         for i, (ref, m) in enumerate(cells))
        if 'id="_x0000_t202"' not in vml:
            shapes = _SHAPETYPE + shapes
        end = vml.rfind("</xml>")
        if end < 0:
            raise Unsupported("VML drawing without </xml>")
        self.pkg.put(vml_rel.target, vml[:end] + shapes + vml[end:])
        if comments is None:
            com_part = self.pkg.free("xl/comments%d.xml")
            body = "".join(_comment_xml(ref, 0, m.comment) for ref, m in cells)
            self.pkg.put(com_part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         f'<comments xmlns="{NS_MAIN}"><authors><author>{AUTHOR}</author></authors>'
                         f"<commentList>{body}</commentList></comments>")
            overrides.append((com_part, CT_COMMENTS))
            self.pkg.add_rels(sheet_part, [(REL_COMMENTS, com_part)])
            return
        p = _prefix(ctext, "comments")
        if AUTHOR in authors:
            author_id = authors.index(AUTHOR)
        else:
            author_id = len(authors)
            a_end = ctext.find(f"</{p}authors>")
            if a_end < 0:
                raise Unsupported("comments without <authors>")
            ctext = ctext[:a_end] + f"<{p}author>{AUTHOR}</{p}author>" + ctext[a_end:]
        l_end = ctext.find(f"</{p}commentList>")
        if l_end < 0:
            raise Unsupported("comments without <commentList>")
        body = "".join(_comment_xml(ref, author_id, m.comment, p) for ref, m in cells)
        self.pkg.put(comments.target, ctext[:l_end] + body + ctext[l_end:])

    def _workbook(self, review_name: str, rid: str, rename: tuple[str, str] | None) -> None:
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
        new = f"<{p}sheet name={quoteattr(review_name)} sheetId=\"{sid}\" {rattr}/>"
        text = re.sub(rf"<{p}sheets\b{_Q}>", lambda m: m[0] + new, text, count=1)

        def view(m: re.Match) -> str:
            return _set_attr(_set_attr(m[0], "activeTab", "0"), "firstSheet", None)

        text = re.sub(rf"<{p}workbookView\b{_Q}/?>", view, text)

        def shift(m: re.Match) -> str:
            local = _attr(m[0], "localSheetId")
            return _set_attr(m[0], "localSheetId", str(int(local) + 1)) if local and local.isdigit() else m[0]

        text = re.sub(rf"<{p}definedName\b{_Q}>", shift, text)
        self.pkg.put(self.wb_part, text)

    def _review_sheet(self, review: Review, styles: _Styles) -> str:
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
                s = {SEVERITY_COL: sev_style[item.severity], REPLY_COL: x["reply"]}.get(i, x["center"] if i in (
                    0, 3) else x["body"])
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
                + '<pageMargins left="0.5" right="0.5" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                '<pageSetup paperSize="9" orientation="landscape" fitToHeight="0"/></worksheet>')

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
                self._comments(part, sheet, sheet_marks, overrides)
            if sheet.edits:
                pkg.put(part, sheet.render())
        missing = sorted(set(marks) - set(parts))
        if missing:
            self.notes.append(f"工作表 {'、'.join(missing)} 不在本文件中，相关问题仅列于本表")
        review.notes.extend(self.notes)
        names, review_name, rename = self.sheet_names(), review.sheet_name, None
        old = next((n for n in names if n.casefold() == review_name.casefold()), None)
        if old is not None:  # a returned feedback copy: keep last round's sheet under another name
            if f"{old}!" in self.wb or f"{old}'!" in self.wb:
                review_name = _sheet_name_unique(review_name, names)
            else:
                rename = (old, _sheet_name_unique(PREVIOUS, names))
                review.notes.append(f"原文件中的“{old}”工作表（上一轮的审核意见）已改名为“{rename[1]}”")
        review_part = pkg.free("xl/worksheets/sheet%d.xml")
        pkg.put(review_part, self._review_sheet(review, styles))
        overrides.append((review_part, CT_SHEET))
        (rid,) = pkg.add_rels(self.wb_part, [(REL_SHEET, review_part)])
        self._workbook(review_name, rid, rename)
        pkg.put(styles_rel.target, styles.render())
        self._content_types(overrides)
        return pkg.write()
