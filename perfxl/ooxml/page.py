"""Print setup of a worksheet: A4, one page wide, repeated header rows, a page-number footer.

The numbers live here, in the OOXML layer, so that the sheets written with xlsxwriter and the
review sheet the patcher writes as raw XML print alike.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from perfxl.ooxml.refs import col_letters

PAPER_A4 = 9  # ST_PaperSize 9: A4 210 × 297 mm
#: centred page number, in the words of a Chinese page footer (&P page, &N pages)
FOOTER = "&C第 &P 页 共 &N 页"
#: inches; the wider left margin leaves room to bind or staple, the bottom one for the footer
MARGINS = {"left": 0.7, "right": 0.5, "top": 0.6, "bottom": 0.8, "header": 0.3, "footer": 0.4}


def quote_sheet(sheet: str) -> str:
    """A sheet name as a formula writes it before "!": quoted, quotes doubled."""
    return "'" + sheet.replace("'", "''") + "'"


def page_xml(landscape: bool) -> str:
    """<pageMargins> to <headerFooter> of a worksheet fitted one page wide (CT_Worksheet order);
    the sheet also needs `<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>`."""
    m = MARGINS
    orientation = "landscape" if landscape else "portrait"
    # no horizontalCentered: LibreOffice then lays a fitted sheet out wider than the page
    return (f'<pageMargins left="{m["left"]}" right="{m["right"]}" top="{m["top"]}" bottom="{m["bottom"]}" '
            f'header="{m["header"]}" footer="{m["footer"]}"/>'
            f'<pageSetup paperSize="{PAPER_A4}" orientation="{orientation}" fitToWidth="1" fitToHeight="0"/>'
            f"<headerFooter><oddFooter>{escape(FOOTER)}</oddFooter></headerFooter>")


def print_names(sheet: str, local_id: int, titles: tuple[int, int], last: tuple[int, int], p: str = "") -> str:
    """The <definedName>s (namespace prefix `p`) of sheet number `local_id` that repeat rows
    `titles` (first, last) on every printed page and print from A1 to `last` (row, column) only;
    all numbers 0-based."""
    name = escape(quote_sheet(sheet))
    return (f'<{p}definedName name="_xlnm.Print_Area" localSheetId="{local_id}">'
            f"{name}!$A$1:${col_letters(last[1])}${last[0] + 1}</{p}definedName>"
            f'<{p}definedName name="_xlnm.Print_Titles" localSheetId="{local_id}">'
            f"{name}!${titles[0] + 1}:${titles[1] + 1}</{p}definedName>")
