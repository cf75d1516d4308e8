"""Cell comments and their legacy VML drawing for one worksheet (spec §8 feedback comments).

`add_comments` gives each marked cell a comment (first line bold) and a hidden VML note shape
sized to its text. A sheet without a `<legacyDrawing>` gets a new comments part and VML part,
their rels and content-type overrides; a sheet that has them gets ours merged in (new shape ids
and a free idmap block, our author appended once), and a cell that already carries a comment
keeps it and gets no second one, noted for the 审核意见 sheet. `display_width` and `line_count`
estimate how much room a text takes, for the note boxes here and the rows of 审核意见.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from defusedxml import ElementTree

from perfxl.ooxml.cells import _Sheet, _split_ref
from perfxl.ooxml.package import Unsupported, _Package, _prefix, xstring
from perfxl.ooxml.refs import NS_MAIN, NS_REL, display_width

REL_COMMENTS, REL_VML = f"{NS_REL}/comments", f"{NS_REL}/vmlDrawing"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
AUTHOR = "财政局审核"


@dataclass
class Mark:
    """One annotated cell: the worst severity on it and its comment text."""

    severity: str  # "error" or "warning"
    comment: str  # lines; the first is shown in bold

def line_count(text: str, width: int) -> int:
    return sum(max(1, math.ceil(display_width(line) / max(width - 1, 1))) for line in text.split("\n"))


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


def add_comments(pkg: _Package, sheet_part: str, sheet: _Sheet, marks: dict[str, Mark], overrides: list,
                 notes: list[str]) -> None:
    """Comments part + VML for one sheet; merged into existing ones when the sheet has them."""
    cells = sorted(marks.items(), key=lambda kv: _split_ref(kv[0]))
    rels = pkg.rels(sheet_part)
    vml_rid = sheet.legacy_drawing()
    comments = next((r for r in rels if r.type == REL_COMMENTS and not r.external), None)
    if vml_rid is None:
        block = max(_vml_blocks(pkg) | {0}) + 1
        shapes = "".join(_vml_shape(block * 1024 + i + 1, *_split_ref(ref), m.comment, i + 1)
                         for i, (ref, m) in enumerate(cells))
        vml = (f'<xml {_VML_NS}><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/>'
               f"</o:shapelayout>{_SHAPETYPE}{shapes}</xml>")
        vml_part = pkg.free("xl/drawings/vmlDrawing%d.vml")
        com_part = pkg.free("xl/comments%d.xml")
        body = "".join(_comment_xml(ref, 0, m.comment) for ref, m in cells)
        pkg.put(vml_part, vml)
        pkg.put(com_part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<comments xmlns="{NS_MAIN}"><authors><author>{AUTHOR}</author></authors>'
                f"<commentList>{body}</commentList></comments>")
        overrides += [(vml_part, CT_VML), (com_part, CT_COMMENTS)]
        rid, _ = pkg.add_rels(sheet_part, [(REL_VML, vml_part), (REL_COMMENTS, com_part)])
        sheet.add_legacy_drawing(rid)
        return
    vml_rel = next((r for r in rels if r.id == vml_rid and not r.external), None)
    if vml_rel is None or not pkg.has(vml_rel.target):
        raise Unsupported("legacyDrawing target missing")
    try:
        vml = pkg.raw(vml_rel.target).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unsupported("VML drawing not in UTF-8") from exc
    taken: set[str] = set()
    if comments is not None:
        ctext = pkg.text(comments.target)
        croot = ElementTree.fromstring(ctext.encode("utf-8"))
        taken = {c.get("ref", "") for c in croot.iter(f"{{{NS_MAIN}}}comment")}
        authors = [a.text or "" for a in croot.iter(f"{{{NS_MAIN}}}author")]
    skipped = [ref for ref, _ in cells if ref in taken]
    cells = [(ref, m) for ref, m in cells if ref not in taken]
    if skipped:
        notes.append(f"单元格 {'、'.join(skipped)} 原有批注，未另加批注，审核意见见本表")
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
    pkg.put(vml_rel.target, vml[:end] + shapes + vml[end:])
    if comments is None:
        com_part = pkg.free("xl/comments%d.xml")
        body = "".join(_comment_xml(ref, 0, m.comment) for ref, m in cells)
        pkg.put(com_part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<comments xmlns="{NS_MAIN}"><authors><author>{AUTHOR}</author></authors>'
                f"<commentList>{body}</commentList></comments>")
        overrides.append((com_part, CT_COMMENTS))
        pkg.add_rels(sheet_part, [(REL_COMMENTS, com_part)])
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
    pkg.put(comments.target, ctext[:l_end] + body + ctext[l_end:])
