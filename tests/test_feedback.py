"""Feedback workbooks: the unit's package kept intact, with highlights, comments and 审核意见."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import python_calamine
from conftest import RUBRIC, require_programs
from openpyxl.comments import Comment

from perfxl.findings import Finding
from perfxl.model import BatchResult, Options
from perfxl.read.package import read_package
from perfxl.run.pipeline import process_file, run_batch
from perfxl.write.feedback import feedback_bytes, write_feedback

FIXTURES = Path(__file__).parent / "fixtures"
OPTIONS = Options.for_rubric(RUBRIC)
RED, AMBER = "FFFFC7CE", "FFFFEB9C"
HEADER = ["序号", "严重程度", "问题", "规则", "工作表", "单元格", "说明", "应为", "实为", "单位答复"]


def named_cell(path: Path, name: str) -> tuple[str, str]:
    """(sheet, A1) of a workbook-scoped defined name of the template."""
    with zipfile.ZipFile(path) as zf:
        return read_package(zf).names[name]


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def stored(data: bytes) -> dict[str, bytes]:
    """Each member as stored: local header, extra field and compressed data."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        out = {}
        for info in zf.infolist():
            start = info.header_offset
            n, m = int.from_bytes(data[start + 26:start + 28], "little"), int.from_bytes(data[start + 28:start + 30],
                                                                                        "little")
            out[info.filename] = data[start:start + 30 + n + m + info.compress_size]
        return out


def review_rows(wb: openpyxl.Workbook) -> list[list[object]]:
    """The finding rows of 审核意见 (below its header row)."""
    rows = [list(r) for r in wb["审核意见"].iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[: len(HEADER)] == HEADER)
    return rows[start + 1:]


def run(folder: Path, out: Path) -> tuple[BatchResult, list[Path]]:
    batch = run_batch(folder, OPTIONS, jobs=1)
    return batch, write_feedback(batch, folder, out)


def by_file(batch: BatchResult, name: str):
    return next(r for r in batch.files if r.file == name)


def with_finding(path: Path, key: str = "carryover_end", code: str = "balance-mismatch"):
    """A fixture's FileResult with one error finding added on the cell of `key` (the fixtures are
    correct returns, and a program that is not LibreOffice cannot re-save them with an error)."""
    result = process_file(path, path.name, OPTIONS)
    sheet, ref = result.cells[key]
    finding = Finding(code, "收支不平衡（测试）", sheet, (ref,), file=path.name, unit_code=result.unit_code,
                      details={"expected": "32.53", "found": "42.53"})
    result = replace(result, status="error", findings=[finding, *result.findings])
    return result, BatchResult(RUBRIC, OPTIONS.year, OPTIONS.deadline, [result])


def test_balance_error_gets_feedback_with_review_sheet_red_cell_and_comment(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    before = src.read_bytes()
    batch, written = run(tmp_path / "in", tmp_path / "out")
    result = by_file(batch, "u1.xlsx")
    assert result.status == "error"
    assert written == [tmp_path / "out" / "feedback" / "T001_测试市测试局.xlsx"]
    sheet, ref = named_cell(src, "carryover_end")

    wb = openpyxl.load_workbook(written[0])
    assert wb.sheetnames[0] == "审核意见"
    assert wb.active.title == "审核意见"
    assert [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected] == ["审核意见"]
    rows = review_rows(wb)
    row = next(r for r in rows if r[3] == "balance-mismatch")
    assert row[1] == "错误" and row[2] == "收支不平衡" and row[4] == sheet and str(row[5]).startswith(ref)
    assert (row[7], row[8]) == ("32.53", "42.53")
    assert wb["审核意见"].cell(1, 1).value.endswith("测试市测试局（T001）")
    lead = wb["审核意见"].cell(2, 1).value
    assert lead.startswith("退回")
    link = next(c.hyperlink for c in wb["审核意见"]["F"] if c.value == row[5])
    assert link.location == f"'{sheet}'!{ref}"
    reply = next(c for c in wb["审核意见"]["J"] if c.row > 1 and c.value is None and c.has_style)
    assert reply.protection.locked is False

    cell = wb[sheet][ref]
    assert cell.fill.fgColor.rgb == RED
    assert "balance-mismatch" in cell.comment.text and "42.53" in cell.comment.text
    assert cell.number_format == "#,##0.00"  # the copied cell format keeps its number format
    assert cell.value == 42.53
    assert wb[sheet].protection.sheet  # the unit's sheet protection is still on
    untouched = wb[sheet]["A5"]
    assert untouched.fill.fgColor.rgb != RED and untouched.comment is None

    assert src.read_bytes() == before  # the input is never written


def test_only_the_parts_that_must_change_change(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    old, new = members(src.read_bytes()), members(out.read_bytes())
    with zipfile.ZipFile(src) as zf:
        pkg = read_package(zf)
        stored = {i.filename: (i.CRC, i.compress_size) for i in zf.infolist()}
    sheet, _ = named_cell(src, "carryover_end")
    may_change = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
                  "docProps/app.xml", pkg.sheet_parts[sheet]}
    assert set(old) <= set(new)
    changed = {name for name in old if old[name] != new[name]}
    assert changed <= may_change
    assert {"xl/workbook.xml", "xl/styles.xml", pkg.sheet_parts[sheet]} <= changed
    assert old[pkg.sheet_parts["评分表"]] == new[pkg.sheet_parts["评分表"]]
    with zipfile.ZipFile(out) as zf:  # unchanged parts are copied as stored, not recompressed
        for info in zf.infolist():
            if info.filename in old and info.filename not in changed:
                assert (info.CRC, info.compress_size) == stored[info.filename]
    added = set(new) - set(old)
    assert any(re.fullmatch(r"xl/comments\d+\.xml", n) for n in added)
    assert any(re.fullmatch(r"xl/drawings/vmlDrawing\d+\.vml", n) for n in added)
    rels = [n for n in added if n.endswith(".rels")]
    assert rels == ["xl/worksheets/_rels/" + pkg.sheet_parts[sheet].rsplit("/", 1)[1] + ".rels"]
    # the old styles survive as a prefix: existing s= indices keep their meaning
    old_xfs = re.search(rb"<cellXfs[^>]*>(.*)</cellXfs>", old["xl/styles.xml"], re.S)[1]
    assert old_xfs in new["xl/styles.xml"]


def test_cached_formula_values_and_values_survive(tmp_path):
    src = tmp_path / "in" / "lo-T103.xlsx"
    src.parent.mkdir()
    shutil.copy(FIXTURES / "lo-T103.xlsx", src)
    result, batch = with_finding(src)
    out, failure = feedback_bytes(result, batch, src.read_bytes())
    assert failure is None
    with zipfile.ZipFile(src) as zf:
        pkg = read_package(zf)
        cached = {s: [ref for ref, has in pkg.formula_cells(zf, s).items() if has] for s in pkg.sheet_parts}
    assert sum(len(v) for v in cached.values()) > 0, "the fixture should carry cached formula values"
    before = python_calamine.CalamineWorkbook.from_path(str(src))
    after = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out))
    assert after.sheet_names == ["审核意见", *before.sheet_names]
    for name in before.sheet_names:
        assert after.get_sheet_by_name(name).to_python() == before.get_sheet_by_name(name).to_python()
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        pkg_after = read_package(zf)
        for sheet, refs in cached.items():
            kept = pkg_after.formula_cells(zf, sheet)
            assert all(kept[ref] for ref in refs)
    assert pkg_after.names == pkg.names
    # parts that need no change are copied as LibreOffice stored them (headers, data descriptors, bytes)
    old_stored, new_stored = stored(src.read_bytes()), stored(out)
    same = [name for name in old_stored if name.startswith(("xl/sharedStrings", "xl/worksheets/sheet1", "docProps"))]
    assert len(same) >= 4
    for name in same:
        assert new_stored[name] == old_stored[name]


def test_warning_only_unit_is_amber_and_reminded(make_return, tmp_path):
    src = make_return("in/w.xlsx", unit_code="W001", score_A1=4.0, note_A1=None, score_total=99)
    batch, (out,) = run(tmp_path / "in", tmp_path / "out")
    result = by_file(batch, "w.xlsx")
    assert result.status == "reviewed"
    assert {f.code for f in result.findings if f.severity.value != "info"} == {"deduction-unexplained"}
    sheet, ref = named_cell(src, "score_A1")
    wb = openpyxl.load_workbook(out)
    assert wb["审核意见"].cell(2, 1).value.startswith("提醒")
    assert wb[sheet][ref].fill.fgColor.rgb == AMBER
    assert "deduction-unexplained" in wb[sheet][ref].comment.text
    assert [r[1] for r in review_rows(wb)] == ["警告"]


def test_no_feedback_without_errors_or_warnings(make_return, tmp_path):
    make_return("in/good.xlsx", unit_code="G001")
    make_return("in/info.xlsx", unit_code="I001", satisfaction=96.5)  # percent-assumed: 提示 only
    make_return("in/bad.xlsx", unit_code="B001", carryover_end=Decimal("42.53"))
    batch, written = run(tmp_path / "in", tmp_path / "out")
    info = by_file(batch, "info.xlsx")
    assert info.findings and all(f.severity.value == "info" for f in info.findings)
    assert not [f for f in by_file(batch, "good.xlsx").findings if f.severity.value != "info"]
    assert [p.name for p in written] == ["B001_测试市测试局.xlsx"]
    assert sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir()) == ["B001_测试市测试局.xlsx"]


def test_output_opens_everywhere_and_is_deterministic(make_return, tmp_path):
    make_return("in/u1.xlsx", carryover_end=Decimal("42.53"), score_total=98)
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    first = out.read_bytes()
    _, (again,) = run(tmp_path / "in", tmp_path / "out2")
    assert again.read_bytes() == first
    wb = python_calamine.CalamineWorkbook.from_path(str(out))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()
    codes = [r[3] for r in review_rows(openpyxl.load_workbook(out))]
    assert codes == ["balance-mismatch", "total-mismatch"]
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None


def test_formula_text_from_the_unit_stays_text(make_return, tmp_path):
    evil = '=HYPERLINK("http://evil.example","点我")'
    src = make_return("in/u1.xlsx")
    wb = openpyxl.load_workbook(src)
    sheet, ref = named_cell(src, "staff_quota")
    wb[sheet][ref].value = evil
    wb[sheet][ref].data_type = "s"  # a string, as a unit typing it with a leading apostrophe gets
    wb.save(src)
    batch, (out,) = run(tmp_path / "in", tmp_path / "out")
    finding = next(f for f in by_file(batch, "u1.xlsx").findings if f.code == "type-error")
    assert finding.details["found"] == evil
    review = openpyxl.load_workbook(out)["审核意见"]
    cells = [c for row in review.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert [c.value for c in cells] == [evil]
    assert cells[0].data_type == "s"
    parts = members(out.read_bytes())
    review_part = next(v for k, v in parts.items() if k.startswith("xl/worksheets/sheet") and "审核意见".encode()
                       in v and b"<f" not in v)
    assert b"<f>" not in review_part and b"<f " not in review_part
    calamine = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_name("审核意见").to_python()
    assert evil in [v for row in calamine for v in row]


def test_file_name_is_safe_and_inside_the_output_folder(make_return, tmp_path):
    make_return("in/u1.xlsx", unit_code="X/../9", unit_name='..\\..\\evil/名:称*?"<>|', carryover_end=Decimal("1"))
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    folder = (tmp_path / "out" / "feedback").resolve()
    assert out.resolve().parent == folder
    assert out.exists() and out.suffix == ".xlsx"
    assert not set(out.name) & set('/\\:*?"<>|') and ".." not in out.stem
    assert list(folder.iterdir()) == [out.resolve()]


def test_legacy_formats_get_a_values_copy(tmp_path):
    for fixture, fmt in (("lo-T101.xls", "xls"), ("lo-T102.ods", "ods")):
        src = FIXTURES / fixture
        before = hashlib.sha256(src.read_bytes()).hexdigest()
        result, batch = with_finding(src)
        assert result.format == fmt
        written = write_feedback(batch, FIXTURES, tmp_path / fmt)
        assert [p.name for p in written] == [f"{result.unit_code}_{result.unit_name}.xlsx"]
        assert write_feedback(batch, FIXTURES, tmp_path / f"{fmt}-again")[0].read_bytes() == written[0].read_bytes()
        assert hashlib.sha256(src.read_bytes()).hexdigest() == before
        wb = openpyxl.load_workbook(written[0])
        assert wb.sheetnames == ["审核意见", "基础数据表", "评分表"]
        notes = [c.value for c in wb["审核意见"]["A"][:6] if c.value]
        assert any("数值副本" in n and f".{fmt}" in n for n in notes)
        sheet, ref = result.cells["carryover_end"]
        assert wb[sheet][ref].fill.fgColor.rgb == RED
        assert "balance-mismatch" in wb[sheet][ref].comment.text
        name_sheet, name_ref = result.cells["unit_name"]
        assert wb[name_sheet][name_ref].value == result.unit_name
        assert wb[sheet][ref].value == 32.53
        row = review_rows(wb)[0]
        assert row[3] == "balance-mismatch"
        link = wb["审核意见"].cell(next(r.row for r in wb["审核意见"]["D"] if r.value == "balance-mismatch"), 6)
        assert link.hyperlink.location == f"'{sheet}'!{ref}"


def test_xlsm_loses_its_macros_and_becomes_xlsx(make_return, tmp_path):
    src = make_return("in/m.xlsm", carryover_end=Decimal("42.53"))
    parts = members(src.read_bytes())
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0not really a VBA project"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml").replace(
        b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
        b'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    batch, (out,) = run(tmp_path / "in", tmp_path / "out")
    assert by_file(batch, "m.xlsm").format == "xlsm"
    assert out.suffix == ".xlsx"
    new = members(out.read_bytes())
    assert "xl/vbaProject.bin" not in new
    assert b"vbaProject" not in new["[Content_Types].xml"] + new["xl/_rels/workbook.xml.rels"]
    assert b"macroEnabled" not in new["[Content_Types].xml"]
    assert b"spreadsheetml.sheet.main+xml" in new["[Content_Types].xml"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "审核意见"
    assert any("去除宏" in str(c.value) for c in wb["审核意见"]["A"])


def test_existing_comments_and_print_areas_are_kept(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    sheet, ref = named_cell(src, "carryover_end")
    _, begin = named_cell(src, "carryover_begin")
    wb = openpyxl.load_workbook(src)
    wb[sheet]["A5"].comment = Comment("单位自己的批注", "单位")
    wb[sheet][ref].comment = Comment("年末数以决算为准", "单位")
    wb["评分表"].print_area = "A1:I30"
    wb.save(src)
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    wb = openpyxl.load_workbook(out)
    ws = wb[sheet]
    assert ws["A5"].comment.text == "单位自己的批注"
    assert ws[ref].comment.text == "年末数以决算为准"  # the unit's own comment is not overwritten
    assert ws[ref].fill.fgColor.rgb == RED
    assert "balance-mismatch" in ws[begin].comment.text  # a related cell gets ours
    assert any(f"单元格 {ref} 原有批注" in str(c.value) for c in wb["审核意见"]["A"])
    assert wb["评分表"].print_area == "'评分表'!$A$1:$I$30"
    assert wb.sheetnames.index("评分表") == 3


def test_a_returned_feedback_copy_keeps_last_rounds_sheet(make_return, tmp_path):
    make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    _, (first,) = run(tmp_path / "in", tmp_path / "out")
    again = tmp_path / "in2" / "u1.xlsx"
    again.parent.mkdir()
    shutil.copy(first, again)  # the unit replied in the feedback copy and sent it back unchanged
    batch, (second,) = run(tmp_path / "in2", tmp_path / "out2")
    assert by_file(batch, "u1.xlsx").status == "error"
    wb = openpyxl.load_workbook(second)
    assert wb.sheetnames[:2] == ["审核意见", "上次审核意见"]
    assert review_rows(wb)[0][3] == "balance-mismatch"


def test_unusual_package_falls_back_to_a_values_copy(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    sheet, ref = named_cell(src, "carryover_end")
    with zipfile.ZipFile(src) as zf:
        part = read_package(zf).sheet_parts[sheet]
    parts = members(src.read_bytes())
    parts[part] = parts[part].replace(b"<sheetData>", b"<!-- edited by hand --><sheetData>", 1)
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["审核意见", "基础数据表", "评分表"]
    assert any("数值副本" in str(c.value) for c in wb["审核意见"]["A"])
    assert wb[sheet][ref].fill.fgColor.rgb == RED


def test_input_changed_after_review_gets_the_findings_only(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    batch = run_batch(tmp_path / "in", OPTIONS, jobs=1)
    make_return("in/u1.xlsx", carryover_end=Decimal("32.53"))  # corrected while we were busy
    (out,) = write_feedback(batch, tmp_path / "in", tmp_path / "out")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["审核意见"]
    assert any("已被改动" in str(c.value) for c in wb["审核意见"]["A"])
    assert review_rows(wb)[0][3] == "balance-mismatch"
    assert src.exists()


@pytest.mark.slow
def test_libreoffice_reads_the_feedback_back(make_return, tmp_path):
    require_programs("soffice", install="libreoffice-calc-nogui")
    soffice = shutil.which("soffice")
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    sheet, ref = named_cell(src, "carryover_end")
    _, (out,) = run(tmp_path / "in", tmp_path / "out")
    lo = tmp_path / "lo"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--convert-to", "xlsx", "--outdir", str(lo), str(out)], check=True, capture_output=True,
                   timeout=180)
    wb = openpyxl.load_workbook(lo / out.name)
    assert wb.sheetnames[0] == "审核意见"
    row = review_rows(wb)[0]
    assert row[3] == "balance-mismatch" and str(row[5]).startswith(ref)
    assert wb[sheet][ref].fill.fgColor.rgb == RED
    assert "balance-mismatch" in wb[sheet][ref].comment.text
    assert wb[sheet][ref].value == 42.53


def test_legacy_drawing_goes_where_the_schema_wants_it():
    from perfxl.ooxml.cells import _Sheet

    head = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData/>')
    cf = ('<conditionalFormatting sqref="A1"><cfRule type="dataBar" priority="1"><extLst><ext uri="x">'
          "<y/></ext></extLst></cfRule></conditionalFormatting>")
    cases = {
        head + cf + '<pageMargins left="1"/><drawing r:id="rId9"/><tableParts count="0"/></worksheet>': "<tableParts",
        head + cf + '<pageMargins left="1"/><extLst><ext uri="z"><mc:AlternateContent/></ext></extLst></worksheet>':
            "<extLst><ext uri=\"z\">",
        head + cf + "</worksheet>": "</worksheet>",
    }
    for xml, follower in cases.items():
        sheet = _Sheet(xml)
        sheet.add_legacy_drawing("rId7")
        out = sheet.render()
        assert out.count("<legacyDrawing") == 1
        assert out.index('<legacyDrawing r:id="rId7"/>') + len('<legacyDrawing r:id="rId7"/>') == out.index(follower)


def test_cell_text_is_escaped_the_way_excel_reads_it():
    from perfxl.ooxml.package import xstring

    assert xstring("a<b & _x0041_\x01") == "a&lt;b &amp; _x005F_x0041__x0001_"


def test_resubmission_shows_what_changed(make_return, tmp_path):
    src = make_return("in/u1.xlsx", carryover_end=Decimal("42.53"))
    result = process_file(src, "u1.xlsx", OPTIONS)
    late = Finding("unknown-unit", "单位编码不在名单内", file="u1.xlsx")  # batch-level findings come last
    result = replace(result, findings=[*result.findings, late], since_last={
        "resolved": ["total-mismatch"], "still_open": ["balance-mismatch"], "new": [],
        "changed_fields": {"carryover_end": [52.53, 42.53]}, "previous_file": "u1.xlsx"})
    batch = BatchResult(RUBRIC, OPTIONS.year, OPTIONS.deadline, [result])
    (out,) = write_feedback(batch, tmp_path / "in", tmp_path / "out")
    wb = openpyxl.load_workbook(out)
    notes = " ".join(str(c.value) for c in wb["审核意见"]["A"][:6])
    assert "已解决：自评总分与分项合计不符（total-mismatch）" in notes
    assert "仍存在：收支不平衡（balance-mismatch）" in notes
    assert "年末结转和结余 52.53 → 42.53" in notes  # the one wording of report, summary and feedback
    assert [r[1] for r in review_rows(wb)] == ["错误", "警告"]


def test_a_process_pool_writes_the_same_files(make_return, tmp_path, monkeypatch):
    from perfxl.write import feedback

    make_return("in/a.xlsx", unit_code="A001", carryover_end=Decimal("42.53"))
    make_return("in/b.xlsx", unit_code="B001", score_A1=4.0, note_A1=None, score_total=99)
    batch = run_batch(tmp_path / "in", OPTIONS, jobs=1)
    serial = write_feedback(batch, tmp_path / "in", tmp_path / "serial", jobs=1)
    monkeypatch.setattr(feedback, "MIN_PER_PROCESS", 1)
    pooled = write_feedback(batch, tmp_path / "in", tmp_path / "pooled", jobs=2)
    assert [p.name for p in pooled] == [p.name for p in serial] == ["A001_测试市测试局.xlsx", "B001_测试市测试局.xlsx"]
    assert [p.read_bytes() for p in pooled] == [p.read_bytes() for p in serial]
