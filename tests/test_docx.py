"""Word reports: the reference document's official style, the converted reports' content, and
the layout of a page as LibreOffice renders it (A4, GB/T 9704 margins, 28 pt line pitch)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from conftest import RUBRIC, good_values, require_programs
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from perfxl.model import Options
from perfxl.run.pipeline import run_batch
from perfxl.write.docx import column_widths, markdown_to_docx, write_docx
from perfxl.write.fill import fill_workbook
from perfxl.write.report import write_reports

pytestmark = pytest.mark.slow  # every test here runs pandoc, most also LibreOffice

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "templates" / "reference.docx"
FONTCONF = REPO / "scripts" / "fontconfig" / "perfxl-fonts.conf"
HOSTILE = "<img src=x onerror=alert(1)>"
MM = 72 / 25.4  # PDF points per millimetre


def require(*tools: str) -> None:
    """The rendering tools (.ci/run installs them): a failure in CI, a skip elsewhere."""
    require_programs(*tools, install="libreoffice-writer-nogui poppler-utils")


@pytest.fixture(scope="module")
def reports(template_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A batch of three units -> their .docx, by unit code."""
    root = tmp_path_factory.mktemp("docx")
    returns = root / "in"
    returns.mkdir()
    units = {
        "T001": {},
        "T002": {"unit_name": "测试市财政局", "score_total": 90},  # total-mismatch: an error report
        "T003": {"unit_name": HOSTILE},
    }
    for code, changes in units.items():
        fill_workbook(template_path, {**good_values(), "unit_code": code, **changes}, returns / f"{code}.xlsx")
    batch = run_batch(returns, Options.for_rubric(RUBRIC), jobs=1)
    markdown = write_reports(batch, root / "out")
    written = write_docx(batch, root / "out", markdown)
    assert written == [p.with_suffix(".docx") for p in markdown]
    return {p.name.split("_")[0]: p for p in written}


def east_asia(style) -> str | None:
    return style.element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))


def by_id(document, style_id: str):
    return next(s for s in document.styles if s.style_id == style_id)


def paragraphs(document, style_id: str) -> list[str]:
    return [p.text for p in document.paragraphs if p.style is not None and p.style.style_id == style_id]


# -- the style -----------------------------------------------------------------------------


def test_page_is_a4_with_official_margins(reports):
    section = docx.Document(reports["T001"]).sections[0]
    size = [round(v / Mm(1)) for v in (section.page_width, section.page_height)]
    margins = [round(v / Mm(1)) for v in (section.top_margin, section.bottom_margin,
                                          section.left_margin, section.right_margin)]
    assert size == [210, 297]
    assert margins == [37, 35, 28, 26]


def test_styles_have_the_official_faces_and_sizes(reports):
    d = docx.Document(reports["T001"])
    expected = {  # style id: (east Asian face, size, bold)
        "Title": ("方正小标宋简体", 22, False),
        "Normal": ("仿宋_GB2312", 16, False),
        "BodyText": ("仿宋_GB2312", 16, False),
        "FirstParagraph": ("仿宋_GB2312", 16, False),
        "Heading1": ("黑体", 16, False),
        "Heading2": ("楷体_GB2312", 16, False),
        "Heading3": ("仿宋_GB2312", 16, True),
    }
    for style_id, (face, size, bold) in expected.items():
        style = by_id(d, style_id)
        assert (east_asia(style), style.font.size, bool(style.font.bold)) == (face, Pt(size), bold), style_id
    assert by_id(d, "Title").paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    for style_id in ("BodyText", "FirstParagraph", "Heading1"):
        fmt = by_id(d, style_id).paragraph_format
        assert (fmt.line_spacing_rule, fmt.line_spacing) == (WD_LINE_SPACING.EXACTLY, Pt(28)), style_id
        ind = by_id(d, style_id).element.pPr.find(qn("w:ind"))
        assert ind.get(qn("w:firstLineChars")) == "200", style_id  # two characters


def test_font_table_names_alternates_for_word_and_wps(reports):
    with zipfile.ZipFile(reports["T001"]) as z:
        fonts = z.read("word/fontTable.xml").decode()
    for name, alt in (("仿宋_GB2312", "仿宋"), ("楷体_GB2312", "楷体"), ("方正小标宋简体", "宋体"), ("黑体", "SimHei")):
        assert re.search(rf'w:name="{name}">\s*<w:altName w:val="{alt}"/>', fonts), name


def test_table_style_has_borders_and_a_bold_repeated_header(reports):
    d = docx.Document(reports["T001"])
    table = by_id(d, "Table").element
    borders = table.find(qn("w:tblPr")).find(qn("w:tblBorders"))
    assert {b.tag.split("}")[1]: b.get(qn("w:val")) for b in borders} == dict.fromkeys(
        ("top", "left", "bottom", "right", "insideH", "insideV"), "single")
    first = next(e for e in table.findall(qn("w:tblStylePr")) if e.get(qn("w:type")) == "firstRow")
    assert first.find(qn("w:rPr")).find(qn("w:b")) is not None


def test_footer_numbers_pages_with_a_field(reports):
    with zipfile.ZipFile(reports["T001"]) as z:
        footers = [z.read(n).decode() for n in z.namelist() if re.match(r"word/footer\d*\.xml$", n)]
    assert len(footers) == 1
    assert re.search(r'<w:t xml:space="preserve">— </w:t></w:r><w:fldSimple w:instr=" PAGE ">', footers[0])


# -- the content ---------------------------------------------------------------------------


def test_report_outline_becomes_headings(reports):
    d = docx.Document(reports["T001"])
    title = paragraphs(d, "Title")
    assert [t.replace("\n", "") for t in title] == ["测试市测试局2020年度部门整体支出绩效自评报告"]
    h1, h2, h3 = (paragraphs(d, f"Heading{n}") for n in (1, 2, 3))
    assert h1 == ["一、单位基本情况", "二、自评工作开展情况", "三、绩效自评情况", "四、其他自评情况",
                  "附件一 指标得分表", "附件二 审核发现"]
    assert h2[:4] == ["（一）机构设置及职能", "（二）年度总体工作和重点工作任务", "（三）部门整体支出绩效目标",
                      "（四）部门整体支出情况"]
    assert h3 == ["1. 预算编制情况。", "2. 预算执行情况。", "3. 预算监督情况。", "4. 预算使用效益。"]
    body = "\n".join(paragraphs(d, "BodyText") + paragraphs(d, "FirstParagraph"))
    assert "评价单位：测试市测试局" in body
    assert "负责本市测试工作。" in body


def test_indicator_table_lists_the_rubric(reports):
    d = docx.Document(reports["T002"])
    table = next(t for t in d.tables if t.rows[0].cells[0].text == "指标编码")
    codes = [row.cells[0].text for row in table.rows[1:]]
    assert codes == [i.code for i in RUBRIC.indicators] + ["合计"]
    header = table.rows[0].cells
    assert [c.text for c in header][-3:] == ["自评得分", "核定得分", "说明"]
    assert all(run.bold for c in header for run in c.paragraphs[0].runs)
    widths = [float(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert max(widths) == widths[6]  # 评分规则, the longest text, gets the widest column
    rows = {row.cells[0].text: [c.text for c in row.cells] for row in table.rows[1:]}
    assert rows["合计"][7:9] == ["90.00", "100.00"]
    findings = next(t for t in d.tables if t.rows[0].cells[0].text == "严重程度")
    head = [c.text for c in findings.rows[0].cells]
    rule = head.index("规则")
    assert head[rule - 1] == "问题"  # the Chinese name beside the code
    assert "total-mismatch" in [row.cells[rule].text for row in findings.rows[1:]]
    assert "自评总分与分项合计不符" in [row.cells[rule - 1].text for row in findings.rows[1:]]


def test_error_note_is_a_block_quote(reports):
    d = docx.Document(reports["T002"])
    assert paragraphs(d, "BlockText") == ["审核发现错误1项，详见附件二；有关数据和得分待单位更正后重新核定。"]


def test_unit_text_stays_text(reports):
    d = docx.Document(reports["T003"])
    assert paragraphs(d, "Title")[0].startswith(HOSTILE)
    with zipfile.ZipFile(reports["T003"]) as z:
        xml = z.read("word/document.xml").decode()
    assert "<img" not in xml and "&lt;img src=x onerror=alert(1)&gt;" in xml


def test_long_title_breaks_before_the_year(reports):
    d = docx.Document(reports["T001"])
    assert paragraphs(d, "Title") == ["测试市测试局\n2020年度部门整体支出绩效自评报告"]


def test_same_report_gives_the_same_bytes(reports, tmp_path):
    md = reports["T001"].with_suffix(".md").read_text(encoding="utf-8")
    a = markdown_to_docx(md, tmp_path / "a.docx", date=dt.date(2021, 6, 20))
    b = markdown_to_docx(md, tmp_path / "b.docx", date=dt.date(2021, 6, 20))
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.docx", "b.docx"]  # no temporaries left


def test_column_widths_follow_content():
    rule = "差异率≤5%得5分；≤10%得4分；≤20%得3分；≤30%得2分；超过30%不得分"
    widths = column_widths(["编码", "规则"], [["A1", rule * 2]])
    assert widths[1] > 0.8 and abs(sum(widths) - 1) < 0.001
    assert column_widths(["a", "b"], [["x", "y"]]) == [0.5, 0.5]


# -- the reference document ----------------------------------------------------------------


def test_committed_reference_is_the_scripts_output():
    """templates/reference.docx is scripts/make_reference_docx.py's output for this pandoc."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import make_reference_docx as maker
    finally:
        sys.path.pop(0)
    reference, version = maker.pandoc_default_reference()
    committed = docx.Document(REFERENCE).core_properties.comments
    # pypandoc-binary is pinned in pyproject.toml, so the pandoc here is the one the file was built with
    assert committed.endswith(f"pandoc {version}"), f"rebuild with scripts/make_reference_docx.py ({committed})"
    assert maker.build(reference, version) == REFERENCE.read_bytes()


# -- the rendered page ---------------------------------------------------------------------


def _lines(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """(xMin, yMin, xMax, yMax, text) of each text line pdftotext finds on a page."""
    html = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox-layout", str(pdf), "-"],
                          check=True, capture_output=True, text=True).stdout
    out = []
    for m in re.finditer(r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</line>',
                         html, re.S):
        words = "".join(re.findall(r">([^<]*)</word>", m[5]))
        out.append((*(float(m[i]) for i in range(1, 5)), words))
    return out


def test_rendered_page_has_the_official_layout(reports, tmp_path):
    """LibreOffice's rendering, with Noto CJK standing in for the official faces: A4, the text
    block inside the GB/T 9704 margins, 28 pt between lines, the page number below the block."""
    require("soffice", "pdfinfo", "pdftotext", "pdftoppm")
    if not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip():
        require("fonts-noto-cjk (no Chinese font)")
    env = {**os.environ, "FONTCONFIG_FILE": str(FONTCONF), "HOME": str(tmp_path)}
    src = tmp_path / "report.docx"
    shutil.copy(reports["T001"], src)
    subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, env=env, timeout=300)
    pdf = tmp_path / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    assert (round(width / MM), round(height / MM)) == (210, 297)
    assert 4 <= pages <= 10, pages

    lines = _lines(pdf, 1)
    top, bottom, left, right = 37 * MM, (297 - 35) * MM, 28 * MM, (210 - 26) * MM
    body = [ln for ln in lines if ln[1] < bottom]
    assert body[0][4].startswith("测试市测试局") and top - 1 < body[0][1] < top + 24  # the title
    assert min(ln[0] for ln in body) == pytest.approx(left, abs=1.5)
    # full-width punctuation may hang one character into the margin (CJK line breaking)
    assert max(ln[2] for ln in body) < right + 17
    starts = [ln[0] for ln in body if ln[4].startswith("根据《湛江市财政局")]
    assert starts == [pytest.approx(left + 32, abs=1.5)]  # first-line indent: two 16 pt characters
    text = [ln for ln in body if ln[3] - ln[1] < 24]  # 16 pt lines, not the 22 pt title
    pitches = {round(b[1] - a[1], 1) for a, b in itertools.pairwise(text)}
    assert pitches == {28.0}
    number = [ln for ln in lines if ln[1] >= bottom]
    assert [re.sub(r"\s", "", ln[4]) for ln in number] == ["—1—"]
    assert abs((number[0][0] + number[0][2]) / 2 - (left + right) / 2) < 3  # centred under the text

    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 10_000


def test_no_reports_no_documents(tmp_path):
    from perfxl.model import BatchResult

    assert write_docx(BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020)), tmp_path, []) == []
