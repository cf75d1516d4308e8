"""Build templates/reference.docx: pandoc's default reference document restyled as an official
report (GB/T 9704-2012 党政机关公文格式 as the model).

    python scripts/make_reference_docx.py [OUT]      # default: templates/reference.docx

pandoc takes from a reference document only its styles, page setup, header and footer and
font table, so this script starts from pandoc's own default (every style pandoc uses exists
there) and changes those parts with python-docx. The output is byte-for-byte reproducible for
a given pandoc version (fixed zip timestamps), so tests can check the committed file is this
script's output.

Fonts. The official faces (方正小标宋简体, 仿宋_GB2312, 楷体_GB2312, 黑体) are not free and not on
every machine. Styles name them in w:eastAsia; the font table lists each with w:altName (the
face Windows ships: 宋体, 仿宋, 楷体, 黑体), charset GB2312 and PANOSE, which is what Word's and
WPS's substitution uses when the named face is missing. On Linux, scripts/fontconfig/
perfxl-fonts.conf maps the names to Noto CJK for rendering checks.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "templates" / "reference.docx"

# GB/T 9704-2012 §5.2.1: 版心 156 mm × 225 mm on A4, 天头 37 mm, 订口 28 mm
PAGE = {"width": Mm(210), "height": Mm(297), "top": Mm(37), "bottom": Mm(35), "left": Mm(28), "right": Mm(26)}
# §7.5: page number 4号 (14 pt) 半角宋体, "— 1 —", 7 mm below the 版心: 35 - 7 - ~5 mm of text
FOOTER_DISTANCE = Mm(23)
HEADER_DISTANCE = Mm(15)

LATIN = "Times New Roman"
TITLE_FONT = "方正小标宋简体"  # 2号 (22 pt)
BODY_FONT = "仿宋_GB2312"  # 3号 (16 pt)
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
NUMBER_FONT = "宋体"
BODY_SIZE = Pt(16)
LINE = Pt(28)  # 22 lines of 28 pt fill the 225 mm 版心
TABLE_SIZE = Pt(10.5)  # 5号: ten columns have to fit 156 mm
NONE = Pt(0)

#: name -> (altName Windows ships, PANOSE, family, pitch); charset 86 = GB2312
FONT_TABLE = {
    TITLE_FONT: ("宋体", "02010600030101010101", "auto", "variable"),
    BODY_FONT: ("仿宋", "02010609030101010101", "modern", "fixed"),
    H2_FONT: ("楷体", "02010609030101010101", "modern", "fixed"),
    H1_FONT: ("SimHei", "02010609060101010101", "modern", "fixed"),
    NUMBER_FONT: ("SimSun", "02010600030101010101", "auto", "variable"),
    "仿宋": ("FangSong", "02010609060101010101", "modern", "fixed"),
    "楷体": ("KaiTi", "02010609060101010101", "modern", "fixed"),
}

W = nsdecls("w")


def pandoc_default_reference() -> tuple[bytes, str]:
    """pandoc's built-in reference.docx and pandoc's version."""
    import pypandoc

    pandoc = pypandoc.get_pandoc_path()
    data = subprocess.run([pandoc, "--print-default-data-file", "reference.docx"], check=True,
                          capture_output=True).stdout
    return data, pypandoc.get_pandoc_version()


# -- styles --------------------------------------------------------------------------------


def _reset(style) -> None:
    """Drop a style's paragraph and run properties (pandoc's theme fonts, colours, spacing)."""
    for tag in ("w:pPr", "w:rPr"):
        for el in style.element.findall(qn(tag)):
            style.element.remove(el)


def _fonts(rpr_owner, east_asia: str, latin: str = LATIN) -> None:
    """rFonts with explicit faces (no theme attributes, which would win over them)."""
    rpr = rpr_owner.get_or_add_rPr()
    for old in rpr.findall(qn("w:rFonts")):
        rpr.remove(old)
    rfonts = parse_xml(f'<w:rFonts {W} w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{east_asia}" w:cs="{latin}"/>')
    rpr.insert(0, rfonts)


def _first_line_indent(style, chars: int) -> None:
    """An indent of `chars` characters (w:firstLineChars, which follows the font size)."""
    ppr = style.element.get_or_add_pPr()
    for old in ppr.findall(qn("w:ind")):
        ppr.remove(old)
    twips = int(BODY_SIZE.pt * 20 * chars)
    ind = parse_xml(f'<w:ind {W} w:firstLineChars="{chars * 100}" w:firstLine="{twips if chars else 0}"/>')
    # w:ind comes after spacing and before jc/outlineLvl in CT_PPrBase
    after = ppr.find(qn("w:spacing"))
    if after is not None:
        after.addnext(ind)
    else:
        ppr.insert(0, ind)


def _para(style, *, font: str, size: Pt, bold: bool = False, indent: int | None = 2,
          align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.JUSTIFY, line: Pt | None = LINE,
          before: Pt = NONE, after: Pt = NONE, keep_next: bool = False, latin: str = LATIN) -> None:
    _reset(style)
    pf = style.paragraph_format
    pf.space_before, pf.space_after = before, after
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, line
    if align is not None:
        pf.alignment = align
    pf.keep_with_next = keep_next or None
    pf.widow_control = True
    if indent is not None:
        _first_line_indent(style, indent)
    style.font.size = size
    style.font.bold = bold
    style.font.italic = False
    _fonts(style.element, font, latin)
    style.font.color.rgb = RGBColor(0, 0, 0)


def _outline(style, level: int) -> None:
    style.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W} w:val="{level}"/>'))


def _by_id(doc, style_id: str):
    """A style by its w:styleId (pandoc's ids; python-docx's lookup by name renames built-ins)."""
    for style in doc.styles:
        if style.style_id == style_id:
            return style
    raise KeyError(style_id)


def restyle(doc) -> None:
    """The official look: what each pandoc style becomes."""
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for old in rpr_default.findall(qn("w:rFonts")):
        rpr_default.remove(old)
    rpr_default.insert(0, parse_xml(f'<w:rFonts {W} w:ascii="{LATIN}" w:hAnsi="{LATIN}" '
                                    f'w:eastAsia="{BODY_FONT}" w:cs="{LATIN}"/>'))
    for el in rpr_default.findall(qn("w:sz")) + rpr_default.findall(qn("w:szCs")):
        el.set(qn("w:val"), str(int(BODY_SIZE.pt * 2)))
    defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing")).set(qn("w:after"), "0")

    def style(style_id: str):
        return _by_id(doc, style_id)

    for sid in ("Normal", "BodyText", "FirstParagraph"):
        _para(style(sid), font=BODY_FONT, size=BODY_SIZE, indent=0 if sid == "Normal" else 2)
    _para(style("Title"), font=TITLE_FONT, size=Pt(22), indent=0, align=WD_ALIGN_PARAGRAPH.CENTER,
          line=Pt(36), after=LINE, latin=TITLE_FONT)
    for sid in ("Subtitle", "Author", "Date"):
        _para(style(sid), font=BODY_FONT, size=BODY_SIZE, indent=0, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(style("Heading1"), font=H1_FONT, size=BODY_SIZE, keep_next=True)
    _para(style("Heading2"), font=H2_FONT, size=BODY_SIZE, keep_next=True)
    _para(style("Heading3"), font=BODY_FONT, size=BODY_SIZE, bold=True, keep_next=True)
    for level in range(4, 10):
        _para(style(f"Heading{level}"), font=BODY_FONT, size=BODY_SIZE, keep_next=True)
    for level in range(1, 10):
        _outline(style(f"Heading{level}"), level - 1)
        char = style(f"Heading{level}Char")
        _reset(char)
        char.font.bold = level == 3
    for sid in ("TitleChar", "SubtitleChar"):
        _reset(style(sid))
    # the review note (a block quote): 楷体 sets it apart from the unit's own text
    _para(style("BlockText"), font=H2_FONT, size=BODY_SIZE)
    # table cells: 5号, single spacing, no indent; pandoc sets right/centre from the Markdown columns
    _para(style("Compact"), font=BODY_FONT, size=TABLE_SIZE, indent=0, line=None, align=WD_ALIGN_PARAGRAPH.LEFT,
          before=Pt(1.5), after=Pt(1.5))
    for sid in ("Caption", "TableCaption", "ImageCaption"):
        _para(style(sid), font=BODY_FONT, size=Pt(14), indent=0, align=WD_ALIGN_PARAGRAPH.CENTER, line=None)
    for sid in ("FootnoteText", "FootnoteBlockText"):
        _para(style(sid), font=BODY_FONT, size=Pt(12), indent=0, line=None)
    _table_style(style("Table"))
    doc.styles.element.append(parse_xml(
        f'<w:style {W} w:type="paragraph" w:styleId="Footer"><w:name w:val="footer"/>'
        '<w:basedOn w:val="Normal"/><w:uiPriority w:val="99"/><w:unhideWhenUsed/></w:style>'))
    _para(style("Footer"), font=NUMBER_FONT, size=Pt(14), indent=0, align=WD_ALIGN_PARAGRAPH.CENTER, line=None,
          latin=NUMBER_FONT)


def _table_style(style) -> None:
    """pandoc's "Table": all borders, centred, the header row bold and repeated on each page."""
    el = style.element
    for tag in ("w:pPr", "w:rPr", "w:tblPr", "w:trPr", "w:tcPr", "w:tblStylePr"):
        for old in el.findall(qn(tag)):
            el.remove(old)
    border = 'w:val="single" w:sz="4" w:space="0" w:color="000000"'
    sides = "".join(f"<w:{s} {border}/>" for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
    el.append(parse_xml(
        f'<w:rPr {W}><w:sz w:val="{int(TABLE_SIZE.pt * 2)}"/><w:szCs w:val="{int(TABLE_SIZE.pt * 2)}"/></w:rPr>'))
    el.append(parse_xml(
        f'<w:tblPr {W}><w:jc w:val="center"/><w:tblInd w:w="0" w:type="dxa"/><w:tblBorders>{sides}</w:tblBorders>'
        '<w:tblCellMar><w:top w:w="28" w:type="dxa"/><w:left w:w="57" w:type="dxa"/>'
        '<w:bottom w:w="28" w:type="dxa"/><w:right w:w="57" w:type="dxa"/></w:tblCellMar></w:tblPr>'))
    el.append(parse_xml(f'<w:trPr {W}><w:cantSplit/></w:trPr>'))
    el.append(parse_xml(f'<w:tcPr {W}><w:vAlign w:val="center"/></w:tcPr>'))
    el.append(parse_xml(
        f'<w:tblStylePr {W} w:type="firstRow"><w:pPr><w:keepNext/><w:jc w:val="center"/></w:pPr>'
        '<w:rPr><w:b/><w:bCs/></w:rPr><w:trPr><w:tblHeader/></w:trPr>'
        '<w:tcPr><w:vAlign w:val="center"/></w:tcPr></w:tblStylePr>'))


# -- page, footer, font table ----------------------------------------------------------------


def page_setup(doc) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE["width"], PAGE["height"]
    section.top_margin, section.bottom_margin = PAGE["top"], PAGE["bottom"]
    section.left_margin, section.right_margin = PAGE["left"], PAGE["right"]
    section.header_distance, section.footer_distance = HEADER_DISTANCE, FOOTER_DISTANCE
    section.gutter = Mm(0)
    footer = section.footer
    footer.is_linked_to_previous = False
    par = footer.paragraphs[0]
    par._p.get_or_add_pPr().get_or_add_pStyle().val = "Footer"
    for run in par._p.findall(qn("w:r")):
        par._p.remove(run)
    # — PAGE —: a field, so Word, WPS and LibreOffice number the pages themselves
    par._p.append(parse_xml(f'<w:r {W}><w:t xml:space="preserve">— </w:t></w:r>'))
    par._p.append(parse_xml(f'<w:fldSimple {W} w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    par._p.append(parse_xml(f'<w:r {W}><w:t xml:space="preserve"> —</w:t></w:r>'))


def font_table(doc) -> None:
    """Declare the official faces with the alternates Word/WPS substitute when one is missing."""
    part = next(rel.target_part for rel in doc.part.rels.values() if rel.reltype.endswith("/fontTable"))
    root = parse_xml(part.blob)
    for name, (alt, panose, family, pitch) in FONT_TABLE.items():
        for old in root.findall(qn("w:font")):
            if old.get(qn("w:name")) == name:
                root.remove(old)
        root.append(parse_xml(
            f'<w:font {W} w:name="{name}"><w:altName w:val="{alt}"/><w:panose1 w:val="{panose}"/>'
            f'<w:charset w:val="86"/><w:family w:val="{family}"/><w:pitch w:val="{pitch}"/></w:font>'))
    part._blob = _xml_bytes(root)


def _xml_bytes(root) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def sample_body(doc) -> None:
    """Replace pandoc's English style samples by one paragraph per style, as a report uses them."""
    body = doc.element.body
    for el in list(body):
        if el.tag != qn("w:sectPr"):
            body.remove(el)
    samples = [
        ("Title", "某某单位\n2020年度部门整体支出绩效自评报告"),
        ("Heading1", "一、单位基本情况（Heading 1：黑体三号）"),
        ("Heading2", "（一）机构设置及职能（Heading 2：楷体_GB2312三号）"),
        ("FirstParagraph", "正文（First Paragraph / Body Text：仿宋_GB2312三号，固定行距28磅，首行缩进2字符）。"),
        ("Heading3", "1. 预算编制情况。（Heading 3：仿宋_GB2312三号加粗）"),
        ("BodyText", "本文件由 scripts/make_reference_docx.py 生成，供 pandoc 作为 --reference-doc 使用；"
                      "pandoc 只采用其中的样式、页面设置、页脚和字体表。"),
        ("BlockText", "审核意见（Block Text：楷体_GB2312三号）。"),
    ]
    for style_id, text in samples:
        doc.add_paragraph(text, style=_by_id(doc, style_id))
    table = doc.add_table(rows=2, cols=3)
    for r, row in enumerate((("指标编码", "三级指标", "核定得分"), ("A1", "绩效目标设置", "5.00"))):
        for c, text in enumerate(row):
            table.cell(r, c).paragraphs[0].style = _by_id(doc, "Compact")
            table.cell(r, c).paragraphs[0].text = text
    # python-docx leaves out w:tblStyle for the default table style; pandoc writes it, so do we
    table._tbl.tblPr.insert(0, parse_xml(f'<w:tblStyle {W} w:val="Table"/>'))
    body.append(body.find(qn("w:sectPr")))  # sectPr stays last


def build(pandoc_reference: bytes, pandoc_version: str) -> bytes:
    """The reference document's bytes: reproducible for a given pandoc reference."""
    doc = Document(io.BytesIO(pandoc_reference))
    restyle(doc)
    page_setup(doc)
    font_table(doc)
    sample_body(doc)
    props = doc.core_properties
    props.title = "部门整体支出绩效自评报告 参考样式"
    props.author = props.last_modified_by = "perfxl"
    props.comments = f"scripts/make_reference_docx.py; pandoc {pandoc_version}"
    props.keywords = ""
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """The same entries with a fixed timestamp, so that two builds are identical."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    data = build(*pandoc_default_reference())
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
