"""Word reports' page layout: the wide indicator appendix on landscape pages of its own section,
the body and the findings portrait, and the closing 单位（公章）/填报日期 lines set right."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import require_programs
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from perfxl.write.docx import A4, PPR_ORDER, layout, markdown_to_docx

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "440800001_中共湛江市委组织部本级.md"
FONTCONF = REPO / "scripts" / "fontconfig" / "perfxl-fonts.conf"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
ROOT = f'<w:document xmlns:w="{W}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
SECT = ('<w:sectPr><w:footerReference r:id="rId9" w:type="default"/><w:pgSz w:h="16838" w:w="11906"/>'
        '<w:pgMar w:bottom="1984" w:footer="1304" w:gutter="0" w:header="850" w:left="1587" w:right="1474" w:top="2098"/>'
        '</w:sectPr>')


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample unit's report (the golden Markdown) as Word."""
    dest = tmp_path_factory.mktemp("layout") / "report.docx"
    return markdown_to_docx(GOLDEN.read_text("utf-8"), dest, date=dt.date(2021, 6, 20))


def blocks_by_section(document) -> list[tuple[int, object]]:
    """(section index, body element) for every paragraph and table of the body, in order."""
    out, section = [], 0
    for el in document.element.body.iterchildren():
        if el.tag in (qn("w:p"), qn("w:tbl")):
            out.append((section, el))
            if el.tag == qn("w:p") and el.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
                section += 1  # this paragraph is the last of its section
    return out


def text_of(el) -> str:
    return "".join(t.text or "" for t in el.iter(qn("w:t")))


def section_of(document, predicate) -> int:
    return next(n for n, el in blocks_by_section(document) if predicate(el))


# -- the sample report ---------------------------------------------------------------------


@pytest.mark.slow  # runs pandoc
def test_indicator_appendix_is_a_landscape_section_between_portrait_ones(sample):
    d = docx.Document(sample)
    assert [s.orientation for s in d.sections] == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE, WD_ORIENT.PORTRAIT]
    for s in d.sections:  # every page A4, the text block inside the same GB/T 9704 margins
        size = sorted(round(v / Mm(1)) for v in (s.page_width, s.page_height))
        assert size == [210, 297]
        assert [round(v / Mm(1)) for v in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]
    landscape = d.sections[1]
    assert (round(landscape.page_width / Mm(1)), round(landscape.page_height / Mm(1))) == (297, 210)

    indicators = section_of(d, lambda el: el.tag == qn("w:tbl") and text_of(el).startswith("指标编码"))
    findings = section_of(d, lambda el: el.tag == qn("w:tbl") and text_of(el).startswith("严重程度"))
    heading = section_of(d, lambda el: text_of(el) == "附件一 指标得分表")
    body = section_of(d, lambda el: text_of(el) == "四、其他自评情况")
    assert (body, heading, indicators, findings) == (0, 1, 1, 2)


@pytest.mark.slow  # runs pandoc
def test_every_section_keeps_the_page_number_footer(sample):
    with zipfile.ZipFile(sample) as z:
        xml = z.read("word/document.xml").decode()
    sects = re.findall(r"<w:sectPr>.*?</w:sectPr>", xml, re.S)
    assert len(sects) == 3
    refs = {re.search(r'<w:footerReference r:id="(\w+)" w:type="default"\s*/>', s)[1] for s in sects}
    assert len(refs) == 1  # one footer, "— n —", numbered on across the sections
    assert "pgNumType" not in xml  # no section restarts the numbering
    assert re.search(r'<w:pgSz w:h="11906" w:w="16838" w:orient="landscape"\s*/>', sects[1])


@pytest.mark.slow  # runs pandoc
def test_the_wide_table_fills_the_landscape_text_block(sample):
    d = docx.Document(sample)
    table = next(t for t in d.tables if t.rows[0].cells[0].text == "指标编码")
    grid = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert abs(sum(grid) - (A4[1] - 1587 - 1474)) <= len(grid)  # 243 mm, rounding per column
    assert max(grid) == grid[6]  # 评分规则 still the widest


@pytest.mark.slow  # runs pandoc
def test_closing_lines_are_set_right_and_end_the_body(sample):
    d = docx.Document(sample)
    closing = [p for p in d.paragraphs if p.text.startswith(("单位（公章）：", "填报日期："))]
    assert [p.text for p in closing] == ["单位（公章）：中共湛江市委组织部", "填报日期：2021年6月4日"]
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.RIGHT for p in closing)
    assert closing[0].paragraph_format.keep_with_next
    assert closing[0].paragraph_format.space_before == Pt(28)  # one line clear of the text above
    # the date line itself ends the portrait section: no empty paragraph before the appendix
    assert closing[1]._p.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None
    body = [p for p in d.paragraphs if p.text.startswith("根据")]
    assert body and body[0].alignment != WD_ALIGN_PARAGRAPH.RIGHT


@pytest.mark.slow  # runs pandoc
def test_paragraph_properties_keep_the_schema_order(sample):
    """Word refuses a pPr whose children are out of order; LibreOffice does not, so check it here."""
    d = docx.Document(sample)
    for ppr in d.element.body.iter(qn("w:pPr")):
        ranks = [PPR_ORDER.index(child.tag.split("}")[1]) for child in ppr]
        assert ranks == sorted(ranks), [child.tag for child in ppr]


@pytest.mark.slow  # runs pandoc
def test_layout_keeps_the_output_deterministic(sample, tmp_path):
    again = markdown_to_docx(GOLDEN.read_text("utf-8"), tmp_path / "again.docx", date=dt.date(2021, 6, 20))
    assert again.read_bytes() == sample.read_bytes()
    with zipfile.ZipFile(sample) as z:
        names = z.namelist()
        # pandoc's member times (the deadline; 1980 for parts it copies), never the time of the rewrite
        assert {i.date_time for i in z.infolist()} <= {(2021, 6, 20, 0, 0, 0), (1980, 1, 1, 0, 0, 0)}
    assert names[0] == "[Content_Types].xml"


# -- layout() on small documents -------------------------------------------------------------


def _p(text: str, style: str = "BodyText") -> str:
    return f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>'


def _tbl(columns: int) -> str:
    grid = "".join('<w:gridCol w:w="100"/>' for _ in range(columns))
    return f"<w:tbl><w:tblGrid>{grid}</w:tblGrid><w:tr><w:tc><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"


def _doc(*blocks: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ROOT}<w:body>{"".join(blocks)}{SECT}</w:body></w:document>'.encode()


def _orients(xml: bytes) -> list[str]:
    return ["landscape" if 'w:orient="landscape"' in s else "portrait"
            for s in re.findall(r"<w:sectPr>.*?</w:sectPr>", xml.decode(), re.S)]


def test_narrow_tables_change_nothing_but_the_closing_lines():
    src = _doc(_p("正文"), _tbl(4), _p("单位（公章）：测试局"), _p("填报日期：2021年6月4日"))
    out = layout(src)
    assert _orients(out) == ["portrait"]
    assert out.count(b'<w:jc w:val="right"/>') == 2
    assert out.count(b"<w:spacing") == 1  # set once, on the first line
    assert out.decode().index("<w:keepNext/>") < out.decode().index("填报日期")


def test_a_wide_table_at_the_end_makes_the_last_section_landscape():
    out = layout(_doc(_p("正文"), _p("附件一 指标得分表", "Heading1"), _p("说明"), _tbl(10)))
    assert _orients(out) == ["portrait", "landscape"]
    xml = out.decode()
    assert xml.index("<w:sectPr>") < xml.index("附件一") < xml.rindex("<w:sectPr>")  # the heading goes with its table


def test_a_wide_table_after_a_table_gets_a_break_paragraph_of_its_own():
    out = layout(_doc(_tbl(3), _tbl(9), _p("之后")))
    assert _orients(out) == ["portrait", "landscape", "portrait"]
    xml = out.decode()
    assert xml.count('<w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>') == 2
    assert 'w:orient="landscape"' in xml[xml.index("</w:tbl>", xml.index("</w:tbl>") + 1):]


def test_two_wide_parts_in_a_row_share_no_portrait_page_between_them():
    out = layout(_doc(_p("正文"), _p("附件一", "Heading1"), _tbl(10), _p("附件二", "Heading1"), _tbl(8), _p("完")))
    assert _orients(out) == ["portrait", "landscape", "landscape", "portrait"]


def test_layout_keeps_the_namespaces_and_text_escaped():
    out = layout(_doc(_p("&lt;img src=x&gt; &amp; 〔2021〕"), _tbl(8)))
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert ROOT.encode() in out
    assert "&lt;img src=x&gt; &amp; 〔2021〕".encode() in out


# -- as LibreOffice prints it ----------------------------------------------------------------


@pytest.mark.slow  # drives LibreOffice
def test_rendered_appendix_pages_are_landscape(sample, tmp_path):
    require_programs("soffice", "pdfinfo", "pdftotext", install="libreoffice-writer-nogui poppler-utils")
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTCONF), "HOME": str(tmp_path)}
    subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(sample)],
                   check=True, capture_output=True, env=env, timeout=300)
    pdf = tmp_path / "report.pdf"
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], check=True, capture_output=True, text=True).stdout
    sizes = [(round(float(w)), round(float(h))) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]
    assert len(sizes) >= 4 and set(sizes) <= {(595, 842), (842, 595)}  # A4 either way

    def text(page: int) -> str:
        return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                              check=True, capture_output=True, text=True).stdout

    pages = [text(n) for n in range(1, len(sizes) + 1)]
    landscape = [n for n, s in enumerate(sizes) if s == (842, 595)]
    first = next(n for n, t in enumerate(pages) if "附件一" in t)
    last = next(n for n, t in enumerate(pages) if "附件二" in t)
    assert landscape == list(range(first, last)), (sizes, first, last)  # every page of the table, nothing else
    assert "D3" in pages[last - 1] and "合计" in pages[last - 1]  # the table ends on the last landscape page
    assert "单位（公章）" in pages[first - 1] and sizes[first - 1] == (595, 842)
    for n, t in enumerate(pages, 1):  # numbered on across the sections: "— n —" on page n
        assert str(n) in re.findall(r"—\s*(\d+)\s*—", t), (n, t[-200:])
