"""Pages that print (issue 11): every sheet perfxl writes prints on A4, one page wide, with its
header rows on every page, a print area and a page-number footer, and the 统计 chart on a page of
its own. Read from the XML (fast), then rendered by LibreOffice to PDF and measured with poppler
(slow: pages, page sizes, text)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from conftest import RUBRIC, require_programs

from perfxl.model import FileResult
from perfxl.ooxml.patch import Patcher, Review, ReviewRow
from perfxl.write.feedback import HEADER, REVIEW_SHEET, rebuilt_copy
from perfxl.write.summary import EXTRA_HEADERS, FINDING_HEADERS, SHEETS, SUMMARY_HEADERS
from perfxl.write.summary_projects import PROJECT_SHEETS
from perfxl.write.template import build_template

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "examples" / "returns-2020"
COMMITTED = REPO / "templates" / "data_template.xlsx"
M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
FOOTER = "&C第 &P 页 共 &N 页"
#: the children of <worksheet> in the order CT_Worksheet requires (those perfxl may write)
ORDER = ("sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetProtection",
         "autoFilter", "mergeCells", "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions",
         "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks", "drawing", "legacyDrawing")
#: the template's sheets: (landscape, rows repeated on every page)
TEMPLATE = {"填报说明": (False, None), "基础数据表": (False, "$3:$3"), "评分表": (True, "$3:$3")}
TEMPLATE_COLUMNS = {"填报说明": "B", "基础数据表": "D", "评分表": "I"}  # the last printed column
#: the samples hold project files (spec §13): 项目汇总 and 项目指标 come after 指标得分
SUMMARY = {"汇总": (True, "$1:$1"), "指标得分": (True, "$1:$1"), "项目汇总": (True, "$1:$1"), "项目指标": (True, "$1:$1"),
           "问题清单": (True, "$1:$1"), "未报送": (False, "$1:$1"), "统计": (False, None)}
PREFILL = {"unit_code": "440800099", "unit_name": "湛江市测试局本级", "department": "湛江市测试局",
           "eval_year": 2020}


@dataclass
class Sheet:
    """What a worksheet says about how it prints."""

    xml: ET.Element
    hidden: bool
    area: str | None  # the print area without its sheet name: $A$1:$D$52
    titles: str | None  # rows repeated on every page: $3:$3
    drawing: ET.Element | None

    def find(self, tag: str) -> ET.Element | None:
        return self.xml.find(f"{M}{tag}")


def _part(target: str, base: str = "xl/") -> str:
    return target.lstrip("/") if target.startswith("/") else base + target


def sheets(data: bytes) -> dict[str, Sheet]:
    """Each worksheet of a package by name, with its print names from workbook.xml."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        targets = {r.get("Id"): r.get("Target") for r in ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))}
        names: dict[tuple[str, str], str] = {}
        for dn in book.iter(f"{M}definedName"):
            key = (dn.get("name") or "", dn.get("localSheetId") or "")
            assert key not in names, f"defined name {key} twice"
            names[key] = dn.text or ""
        out = {}
        for i, el in enumerate(book.iter(f"{M}sheet")):
            name, part = el.get("name") or "", _part(targets[el.get(f"{R}id")])
            xml = ET.fromstring(zf.read(part))
            drawing = None
            if xml.find(f"{M}drawing") is not None:
                rels = ET.fromstring(zf.read(part.replace("worksheets/", "worksheets/_rels/") + ".rels"))
                target = next(r.get("Target") for r in rels if r.get("Type", "").endswith("/drawing"))
                drawing = ET.fromstring(zf.read(_part(target.replace("../", ""))))
            local = {key[0]: text for key, text in names.items() if key[1] == str(i)}
            for builtin in ("_xlnm.Print_Area", "_xlnm.Print_Titles"):
                if builtin in local:  # a print name names its own sheet
                    sheet, _, ref = local[builtin].rpartition("!")
                    assert sheet.strip("'").replace("''", "'") == name, (name, local[builtin])
                    local[builtin] = ref
            out[name] = Sheet(xml, el.get("state") == "hidden", local.get("_xlnm.Print_Area"),
                              local.get("_xlnm.Print_Titles"), drawing)
        return out


def assert_prints(sheet: Sheet, landscape: bool, titles: str | None, name: str = "") -> None:
    """A4, fitted one page wide and as many tall as needed, margins, the footer, a print area
    from A1 covering what the sheet holds, the header rows repeated; children in schema order."""
    pr = sheet.xml.find(f"{M}sheetPr/{M}pageSetUpPr")
    assert pr is not None and pr.get("fitToPage") == "1", name
    setup = sheet.find("pageSetup")
    assert setup is not None, name
    assert setup.get("paperSize") == "9", name
    assert setup.get("orientation") == ("landscape" if landscape else "portrait"), name
    assert setup.get("fitToWidth", "1") == "1" and setup.get("fitToHeight") == "0", name
    assert sheet.find("pageMargins") is not None, name
    assert sheet.xml.findtext(f"{M}headerFooter/{M}oddFooter") == FOOTER, name
    assert sheet.titles == titles, name
    used = sheet.find("dimension").get("ref").split(":")[-1]
    area = re.fullmatch(r"\$A\$1:\$([A-Z]+)\$(\d+)", sheet.area or "")
    assert area, (name, sheet.area)
    last = re.fullmatch(r"([A-Z]+)(\d+)", used)
    assert (len(area[1]), area[1]) >= (len(last[1]), last[1]) and int(area[2]) >= int(last[2]), (name, sheet.area)
    tags = [child.tag.removeprefix(M) for child in sheet.xml]
    known = [t for t in tags if t in ORDER]
    assert known == sorted(known, key=ORDER.index), (name, tags)


def layout(data: bytes, sheet: str = REVIEW_SHEET) -> tuple[str, str]:
    """(rows repeated, print area) a review sheet should have: its header row, and A1 to its
    last finding's reply."""
    rows = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True)[sheet].iter_rows(values_only=True))
    head = next(i for i, row in enumerate(rows, 1) if list(row[:len(HEADER)]) == list(HEADER))
    return f"${head}:${head}", f"$A$1:${chr(64 + len(HEADER))}${len(rows)}"


def review(rows: int, name: str = REVIEW_SHEET) -> Review:
    """A 审核意见 of `rows` findings, each with a two-line 说明."""
    out = Review("2020年度部门整体支出绩效自评审核意见——湛江市测试局本级（440800099）",
                 "退回：本文件有错误（红色标注）。请逐项更正错误后重新报送。", True,
                 ["报送文件：测试.xlsx。", "标注单元格的批注中有详细说明。"], header=HEADER, sheet_name=name)
    for i in range(1, rows + 1):
        values: list[object] = [""] * len(HEADER)
        values[:6] = [i, "错误", "balance-mismatch", "基础数据表", "B29",
                      f"第{i}项：年初结转和结余加本年收入合计应等于本年支出合计加年末结转和结余，相差 {i}.00 万元"]
        out.rows.append(ReviewRow(values, "error", None))
    return out


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("print") / "template.xlsx"
    build_template(path, RUBRIC)
    return path.read_bytes()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    """`perfxl run examples/returns-2020 --out D`: D."""
    out = tmp_path_factory.mktemp("samples") / "out"
    done = subprocess.run([sys.executable, "-m", "perfxl", "run", str(SAMPLES), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    assert (out / "summary.xlsx").is_file(), done.stdout + done.stderr
    return out


# -- fast: the XML ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["blank", "prefilled", "committed"])
def test_every_template_sheet_prints(which, blank, tmp_path):
    if which == "prefilled":
        build_template(tmp_path / "p.xlsx", RUBRIC, prefill=PREFILL)
        data = (tmp_path / "p.xlsx").read_bytes()
    else:
        data = blank if which == "blank" else COMMITTED.read_bytes()
    found = sheets(data)
    assert [n for n, s in found.items() if not s.hidden] == list(TEMPLATE)
    for name, (landscape, titles) in TEMPLATE.items():
        assert_prints(found[name], landscape, titles, name)
        # the used range; 填报说明 with the narrow blank column that lets LibreOffice fit it
        rows = re.search(r"\d+$", found[name].find("dimension").get("ref"))[0]
        assert found[name].area == f"$A$1:${TEMPLATE_COLUMNS[name]}${rows}", name
    openpyxl.load_workbook(io.BytesIO(data))  # still opens


def test_every_summary_sheet_prints_and_the_chart_has_a_page_of_its_own(sample_run):
    found = sheets((sample_run / "summary.xlsx").read_bytes())
    assert list(found) == [*SHEETS[:2], *PROJECT_SHEETS, *SHEETS[2:]] == list(SUMMARY)
    for name, (landscape, titles) in SUMMARY.items():
        assert_prints(found[name], landscape, titles, name)
    stats = found["统计"]
    (brk,) = stats.xml.iter(f"{M}brk")
    tables_end = int(stats.find("dimension").get("ref").split(":")[-1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    assert int(brk.get("id")) > tables_end  # the break comes after the last table row …
    anchor = stats.drawing.find("{*}twoCellAnchor")
    top, bottom = (int(anchor.findtext(f"{{*}}{end}/{{*}}row")) for end in ("from", "to"))
    assert top > int(brk.get("id"))  # … the chart below it, never touching the page before …
    assert bottom < int(stats.area.rpartition("$")[2])  # … and inside the print area
    right = int(anchor.findtext("{*}to/{*}col"))
    assert right < 5  # no wider than the tables (A:E), so fitting does not shrink them for it


#: what says how a sheet prints
PRINT_TAGS = ("sheetPr", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks")


def test_every_feedback_review_sheet_prints(sample_run, blank):
    copies = sorted((sample_run / "feedback").glob("*.xlsx"))
    assert copies
    for path in copies:
        data = path.read_bytes()
        found = sheets(data)
        assert next(iter(found)) == REVIEW_SHEET
        titles, area = layout(data)
        assert_prints(found[REVIEW_SHEET], True, titles, path.name)
        assert found[REVIEW_SHEET].area == area, path.name
    # the patched path leaves the unit's own sheets printing as they did
    data = Patcher(blank).patch(review(3), {})
    before, after = sheets(blank), sheets(data)
    assert list(after) == [REVIEW_SHEET, *before]
    assert_prints(after[REVIEW_SHEET], True, layout(data)[0])
    assert after[REVIEW_SHEET].area == layout(data)[1]
    for name, sheet in before.items():
        for tag in PRINT_TAGS:
            old, new = sheet.find(tag), after[name].find(tag)
            assert (old is None) == (new is None) and (old is None or ET.tostring(old) == ET.tostring(new)), name
        assert (after[name].area, after[name].titles) == (sheet.area, sheet.titles), name
    # the values copy
    data = rebuilt_copy(review(3), {}, FileResult("x.xlsx"), None)
    rebuilt = sheets(data)
    assert list(rebuilt) == [REVIEW_SHEET]
    assert_prints(rebuilt[REVIEW_SHEET], True, layout(data)[0])
    assert rebuilt[REVIEW_SHEET].area == layout(data)[1]


def test_a_returned_copy_keeps_its_print_names_on_last_rounds_sheet(blank):
    first = Patcher(blank).patch(review(2), {})
    second = Patcher(first).patch(review(4), {})
    found = sheets(second)
    assert list(found)[:2] == [REVIEW_SHEET, "上次审核意见"]
    assert (found["上次审核意见"].titles, found["上次审核意见"].area) == layout(first)
    assert (found[REVIEW_SHEET].titles, found[REVIEW_SHEET].area) == layout(second)
    assert layout(first) != layout(second)  # so that the two could not be mixed up unseen
    # a name of the unit's own that points at last round's sheet keeps that sheet's name
    parts = _members(first)
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"</definedNames>", "<definedName name=\"reply\">'审核意见'!$I$7</definedName></definedNames>".encode())
    third = Patcher(_package(parts)).patch(review(1), {})
    found = sheets(third)
    assert list(found)[:2] == ["审核意见2", REVIEW_SHEET]
    assert (found[REVIEW_SHEET].titles, found[REVIEW_SHEET].area) == layout(first)
    assert (found["审核意见2"].titles, found["审核意见2"].area) == layout(third, "审核意见2")


def test_a_third_round_still_renames_and_keeps_every_sheets_print_names(blank):
    """Round two's print names ('上次审核意见'!…) end with round one's sheet name: no reason to keep it."""
    rounds = [Patcher(blank).patch(review(2), {})]
    for n in (3, 4):
        rounds.append(Patcher(rounds[-1]).patch(review(n), {}))
    found = sheets(rounds[-1])
    assert list(found)[:3] == [REVIEW_SHEET, "上次审核意见2", "上次审核意见"]
    assert (found[REVIEW_SHEET].titles, found[REVIEW_SHEET].area) == layout(rounds[2])
    assert (found["上次审核意见2"].titles, found["上次审核意见2"].area) == layout(rounds[1])
    assert (found["上次审核意见"].titles, found["上次审核意见"].area) == layout(rounds[0])


def test_print_names_go_where_the_schema_wants_them_when_the_workbook_has_none(tmp_path):
    import xlsxwriter

    path = tmp_path / "bare.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("数据").write_string(0, 0, "单位")
    wb.close()
    assert b"definedNames" not in _members(path.read_bytes())["xl/workbook.xml"]
    patched = Patcher(path.read_bytes()).patch(review(1), {})
    book = ET.fromstring(_members(patched)["xl/workbook.xml"])
    tags = [child.tag.removeprefix(M) for child in book]
    assert tags.index("definedNames") == tags.index("sheets") + 1
    assert tags.index("definedNames") < tags.index("calcPr")
    titles, area = layout(patched)
    ws = openpyxl.load_workbook(io.BytesIO(patched))[REVIEW_SHEET]
    assert ws.print_title_rows == titles and ws.print_area == f"'{REVIEW_SHEET}'!{area}"


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _package(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -- slow: rendered by LibreOffice ----------------------------------------------------------------


@dataclass
class Page:
    width: float
    height: float
    text: str  # flat(): cell text wrapped over lines still reads whole

    @property
    def landscape(self) -> bool:
        return self.width > self.height

    def is_a4(self) -> bool:
        return sorted((round(self.width), round(self.height))) == [595, 842]


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """render(xlsx) -> its pages as LibreOffice prints them (every sheet, in order)."""
    require_programs("soffice", "pdfinfo", "pdftotext", install="libreoffice-calc-nogui poppler-utils")
    root = tmp_path_factory.mktemp("pdf")
    profile = (root / "profile").as_uri()  # a profile of its own: another soffice may be running

    def run(path: Path) -> list[Page]:
        outdir = root / path.stem
        subprocess.run([shutil.which("soffice"), f"-env:UserInstallation={profile}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(outdir), str(path)],
                       check=True, capture_output=True, timeout=300)
        pdf = outdir / f"{path.stem}.pdf"
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], check=True, capture_output=True,
                              text=True).stdout
        sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
        text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
        texts = text.split("\f")[: len(sizes)]
        assert len(texts) == len(sizes) == int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])
        return [Page(float(w), float(h), flat(t)) for (w, h), t in zip(sizes, texts, strict=True)]

    return run


def flat(text: object) -> str:
    """Text without white space and hyphens (pdftotext drops a hyphen that ends a line)."""
    return "".join(str(text).split()).replace("-", "")


def group(pages: list[Page], markers: dict[str, str], rest: tuple[str, str] | None = None) -> dict[str, list[int]]:
    """Page numbers (1-based) per sheet, each page told by the one marker text it holds (or, for
    `rest` = (sheet, text), by holding none of them but that text); the sheets print in the
    markers' order, each on consecutive pages."""
    out: dict[str, list[int]] = {name: [] for name in markers}
    for n, page in enumerate(pages, 1):
        hits = [name for name, marker in markers.items() if flat(marker) in page.text]
        if not hits and rest is not None and flat(rest[1]) in page.text:
            hits = [rest[0]]
        assert len(hits) == 1, (n, hits, page.text[:200])
        out[hits[0]].append(n)
    order = [n for numbers in out.values() for n in numbers]
    assert order == list(range(1, len(pages) + 1)), out
    return out


def assert_page_numbers(pages: list[Page]) -> None:
    for n, page in enumerate(pages, 1):
        assert f"第{n}页共{len(pages)}页" in page.text, n


@pytest.mark.slow
def test_the_blank_template_prints_on_few_a4_pages_one_page_wide(blank, render, tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(blank)
    pages = render(path)
    assert all(p.is_a4() for p in pages), [(p.width, p.height) for p in pages]
    book = openpyxl.load_workbook(path)
    score_header = [c.value for c in book["评分表"][3]]
    # "自动校验" and "填报说明" appear in the guide's text too; "填报内容" is 基础数据表's own header
    by_sheet = group(pages, {"填报说明": book["填报说明"]["A1"].value, "基础数据表": "填报内容",
                             "评分表": score_header[-1]})
    # stated bounds: 填报说明 one page, each table at most two (16 pages before issue 11)
    assert len(by_sheet["填报说明"]) == 1
    assert 1 <= len(by_sheet["基础数据表"]) <= 2 and 1 <= len(by_sheet["评分表"]) <= 2
    for name, (landscape, _) in TEMPLATE.items():
        assert all(pages[n - 1].landscape == landscape for n in by_sheet[name]), name
    # one page wide: every page holds its table's first and last header (repeated on each page)
    for n in by_sheet["基础数据表"]:
        assert "项目" in pages[n - 1].text and "自动校验" in pages[n - 1].text
    for n in by_sheet["评分表"]:
        assert flat(score_header[0]) in pages[n - 1].text and flat(score_header[-1]) in pages[n - 1].text
    # nothing cut: the title on page 1, each sheet's title on its first page, and every text of
    # each sheet whole on its pages (pdftotext splits a cell's text at wide spaces)
    assert flat("2020年度部门整体支出绩效自评填报说明") in pages[0].text
    for name in TEMPLATE:
        assert flat(book[name]["A1"].value) in pages[by_sheet[name][0] - 1].text, name
        shown = "".join(pages[n - 1].text for n in by_sheet[name])
        texts = [c for row in book[name].iter_rows() for c in row if isinstance(c.value, str) and c.data_type != "f"]
        assert len(texts) > 5, name
        for cell in texts:
            for part in cell.value.split():
                assert flat(part) in shown, (name, cell.coordinate, part)
    assert_page_numbers(pages)


@pytest.mark.slow
def test_the_samples_summary_prints_one_page_wide_with_the_chart_alone(sample_run, render):
    pages = render(sample_run / "summary.xlsx")
    assert all(p.is_a4() for p in pages), [(p.width, p.height) for p in pages]
    # markers no finding's message holds; 未报送 (no roster: its header alone) holds none of them
    by_sheet = group(pages, {"汇总": EXTRA_HEADERS[0], "指标得分": "A1 自评", "项目汇总": "执行率封顶",
                             "项目指标": "三级指标", "问题清单": FINDING_HEADERS[-1],
                             "未报送": "\0", "统计": "计入汇总合计", "图": "核定等级分布"}, rest=("未报送", "主管部门"))
    assert len(by_sheet["未报送"]) == 1
    summary = by_sheet["汇总"]
    assert 1 <= len(summary) <= 2  # 18 files: 8 vertical strips before issue 11
    for n in summary:
        page = pages[n - 1]
        assert page.landscape
        assert flat(SUMMARY_HEADERS[0]) in page.text and flat(EXTRA_HEADERS[-1]) in page.text  # all 19 columns
    book = openpyxl.load_workbook(sample_run / "summary.xlsx", read_only=True)
    codes = {str(r[0]) for r in book["汇总"].iter_rows(min_row=2, values_only=True) if r[0]}
    shown = "".join(pages[n - 1].text for n in summary)
    assert codes and all(code in shown for code in codes)
    assert "合计（已审核单位）" in pages[summary[-1] - 1].text
    for name in ("指标得分", *PROJECT_SHEETS, "问题清单"):
        assert by_sheet[name] and all(pages[n - 1].landscape for n in by_sheet[name]), name
    (chart,) = by_sheet["图"]
    assert chart == len(pages) and not pages[chart - 1].landscape
    for label in (*RUBRIC.grade_labels, "未定级"):
        assert label in pages[chart - 1].text
    assert "文件数" not in pages[chart - 1].text and "规则" not in pages[chart - 1].text  # the chart alone
    assert all("核定等级分布" not in pages[n - 1].text for n in by_sheet["统计"])  # not split over the tables' page
    assert_page_numbers(pages)


@pytest.mark.slow
def test_review_sheets_print_one_page_wide_with_the_footer(sample_run, blank, render, tmp_path):
    first, last = flat(HEADER[0]), flat(HEADER[-1])
    # a feedback copy of the samples (the unit's package, patched): 审核意见 on page 1
    copy = sorted((sample_run / "feedback").glob("*.xlsx"))[0]
    title = openpyxl.load_workbook(copy, read_only=True)[REVIEW_SHEET]["A1"].value
    page = render(copy)[0]
    assert page.is_a4() and page.landscape
    assert flat(title) in page.text and first in page.text and last in page.text
    assert "第1页共" in page.text
    # a long 审核意见 both ways: its header on every page, every page one page wide
    for how, data in (("patched", Patcher(blank).patch(review(90), {})),
                      ("rebuilt", rebuilt_copy(review(90), {}, FileResult("x.xlsx"), None))):
        path = tmp_path / f"{how}.xlsx"
        path.write_bytes(data)
        pages = render(path)
        own = [p for p in pages if last in p.text]
        assert len(own) >= 2, how
        assert pages[: len(own)] == own, how  # first in the workbook
        for n, p in enumerate(own, 1):
            assert p.is_a4() and p.landscape and first in p.text, (how, n)
            assert f"第{n}页共{len(pages)}页" in p.text, (how, n)
        assert "第90项" in own[-1].text, how
