"""The HTML overview and unit pages: self-contained, offline, escaped; and, in a real headless
Chromium (Debian's, driven by playwright), the table sorts and filters, the links work, and no
unit text runs as code."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import RUBRIC, good_values, require_programs

from perfxl.model import Options
from perfxl.run.pipeline import run_batch
from perfxl.write.fill import fill_workbook
from perfxl.write.html import markdown_html, write_html
from perfxl.write.report import write_reports

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>window.pwned=1</script>"
UNITS = {  # code -> changes to the good return; reviewed totals 100, 90, 95, 100, 100
    "T001": {"unit_name": "测试市测试局"},
    "T002": {"unit_name": "测试市财政局", "key_tasks_done": 4},  # D1 0 of 10
    "T003": {"unit_name": IMG, "satisfaction": 0.7},  # D3 0 of 5
    "T004": {"unit_name": SCRIPT, "department": "<b>主管</b>"},
    "T005": {"unit_name": "测试市某某中心 #2", "score_total": 90},  # total-mismatch: an error
}


@pytest.fixture(scope="module")
def site(template_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """(batch, output folder, written pages) for five units and one ignored file."""
    root = tmp_path_factory.mktemp("html")
    returns = root / "in"
    returns.mkdir()
    for code, changes in UNITS.items():
        fill_workbook(template_path, {**good_values(), "unit_code": code, **changes}, returns / f"{code}.xlsx")
    (returns / "说明.txt").write_text("附件", encoding="utf-8")
    batch = run_batch(returns, Options.for_rubric(RUBRIC), jobs=1)
    out = root / "out"
    pages = write_html(batch, out, write_reports(batch, out))
    return batch, out, pages


# -- the files -----------------------------------------------------------------------------


class Links(HTMLParser):
    """Every URL-valued attribute, every inline handler, every script and style element."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.handlers: list[str] = []
        self.tags: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src", "srcset", "action", "poster", "data", "xlink:href", "formaction"):
                self.urls.append(value or "")
            if name.startswith("on"):
                self.handlers.append(name)
            if name == "style":
                self.styles.append(value or "")


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def test_pages_are_written_for_each_report_and_the_index(site):
    batch, out, pages = site
    scored = [r for r in batch.files if r.scored]
    assert pages[-1] == out / "index.html"
    assert len(pages) == len(scored) + 1
    assert all(p.parent == out / "reports" and p.suffix == ".html" for p in pages[:-1])


def test_pages_are_self_contained(site):
    """No URL leaves the output folder: only relative links to pages that exist."""
    _, _, pages = site
    for page in pages:
        links = parse(page)
        assert links.handlers == [] and links.styles == [], page.name
        assert links.tags.count("script") == 1 and links.tags.count("style") == 1, page.name
        assert not {"img", "link", "iframe", "object", "embed", "base", "form"} & set(links.tags), page.name
        for url in links.urls:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.I), (page.name, url)
            assert (page.parent / unquote(url)).is_file(), (page.name, url)
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"https?://|url\(", text.replace("http://www.w3.org/2000/svg", "")), page.name


def test_content_security_policy_pins_the_script_and_style(site):
    _, _, pages = site
    for page in pages:
        text = page.read_text(encoding="utf-8")
        policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)[1]
        assert policy.startswith("default-src 'none'; ")
        for tag, directive in (("script", "script-src"), ("style", "style-src")):
            body = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)[1]
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"{directive} 'sha256-{digest}'" in policy


def test_unit_text_is_escaped_in_the_files(site):
    _, out, pages = site
    index = (out / "index.html").read_text(encoding="utf-8")
    assert IMG not in index and SCRIPT not in index and "<b>主管</b>" not in index
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;" in index
    for page in pages[:-1]:
        text = page.read_text(encoding="utf-8")
        assert IMG not in text and SCRIPT not in text


def test_markdown_raw_html_stays_text():
    html = markdown_html("# t\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'class="align-right"' in html and "style=" not in html


def test_output_is_deterministic(site, tmp_path):
    batch, out, pages = site
    markdown = [p.with_suffix(".md") for p in pages[:-1]]
    again = write_html(batch, out, markdown)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in pages]


def test_markdown_paths_must_match_the_scored_files(site):
    batch, out, pages = site
    with pytest.raises(ValueError, match="Markdown reports"):
        write_html(batch, out, [p.with_suffix(".md") for p in pages[:-2]])


# -- in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    require_programs(CHROMIUM, install="chromium")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A page that may read files and nothing else; it records what it tried and any dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    pg = context.new_page()
    pg.blocked, pg.dialogs, pg.problems = [], [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            pg.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("request", lambda r: None if r.url.startswith("file://") else pg.blocked.append(r.url))
    yield pg
    context.close()


def rows(pg) -> list[list[str]]:
    """The visible rows of the units table, as cell texts."""
    return pg.eval_on_selector_all(
        "#units tbody tr", "rs => rs.filter(r => !r.hidden).map(r => Array.from(r.cells, c => c.textContent.trim()))")


def column(pg, header: str) -> list[str]:
    heads = pg.eval_on_selector_all("#units thead th", "hs => hs.map(h => h.textContent.trim())")
    i = heads.index(header)
    return [r[i] for r in rows(pg)]


@pytest.mark.slow  # drives Chromium
def test_index_works_offline_in_chromium(site, page, tmp_path):
    batch, out, _ = site
    page.goto((out / "index.html").as_uri())
    assert page.title() == "2020年度部门整体支出绩效自评汇总"
    assert len(rows(page)) == len(batch.files) == 6
    assert page.locator("svg rect.reviewed").count() == len(RUBRIC.grades) + 1  # one bar per grade and 未定级
    assert page.locator("svg circle").count() == 5
    assert "自评得分与核定得分不一致" in page.locator("#findings + table").inner_text()
    page.screenshot(path=tmp_path / "index.png", full_page=True)
    assert (tmp_path / "index.png").stat().st_size > 20_000
    assert page.blocked == [] and page.problems == [] and page.dialogs == []


@pytest.mark.slow  # drives Chromium
def test_header_click_sorts_numerically(site, page):
    _, out, _ = site
    page.goto((out / "index.html").as_uri())
    page.get_by_role("button", name="核定总分").click()
    assert page.locator("th", has_text="核定总分").get_attribute("aria-sort") == "ascending"
    # numbers, not strings ("100.00" < "90.00" as text); the ignored file (no score) stays last
    assert column(page, "核定总分") == ["90.00", "95.00", "100.00", "100.00", "100.00", ""]
    page.get_by_role("button", name="核定总分").click()
    assert column(page, "核定总分") == ["100.00", "100.00", "100.00", "95.00", "90.00", ""]
    page.get_by_role("button", name="单位编码").click()
    assert column(page, "单位编码") == ["T001", "T002", "T003", "T004", "T005", ""]
    assert page.blocked == [] and page.problems == []


@pytest.mark.slow  # drives Chromium
def test_filter_hides_rows(site, page):
    _, out, _ = site
    page.goto((out / "index.html").as_uri())
    page.get_by_label("筛选单位").fill("财政")
    assert column(page, "单位编码") == ["T002"]
    assert page.locator("#shown").inner_text() == "1"
    page.get_by_label("筛选单位").fill("有错误")
    assert column(page, "单位编码") == ["T005"]
    page.get_by_label("筛选单位").fill("")
    assert len(rows(page)) == 6


@pytest.mark.slow  # drives Chromium
def test_unit_link_opens_the_report_and_back(site, page):
    _, out, _ = site
    page.goto((out / "index.html").as_uri())
    page.get_by_role("link", name="测试市某某中心 #2").click()
    page.wait_for_load_state()
    assert page.url.endswith(".html") and "/reports/" in page.url
    assert page.locator("h1").inner_text().startswith("测试市某某中心 #2")
    assert page.locator("h2", has_text="一、单位基本情况").count() == 1
    assert page.locator("table").first.locator("tbody tr").count() == len(RUBRIC.indicators) + 1
    page.get_by_role("link", name="返回汇总").click()
    page.wait_for_load_state()
    assert page.url.endswith("/index.html")
    assert page.blocked == [] and page.problems == []


@pytest.mark.slow  # drives Chromium
@pytest.mark.parametrize("name", [IMG, SCRIPT])
def test_unit_names_never_run(site, page, name):
    _, out, pages = site
    code = next(c for c, ch in UNITS.items() if ch["unit_name"] == name)
    unit_page = next(p for p in pages if p.name.startswith(f"{code}_"))
    for url in ((out / "index.html").as_uri(), unit_page.as_uri()):
        page.goto(url)
        page.wait_for_timeout(200)  # an onerror handler would have fired by now
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.get_by_text(name, exact=False).count() >= 1  # shown, as text
    assert page.dialogs == [] and page.blocked == [] and page.problems == []


def test_an_empty_batch_still_gives_an_index(tmp_path):
    from perfxl.model import BatchResult

    batch = BatchResult(RUBRIC, 2020, RUBRIC.deadline(2020))
    assert write_html(batch, tmp_path, []) == [tmp_path / "index.html"]
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "显示 <span id=\"shown\">0</span> / 0 个文件" in text and "未发现问题。" in text


def test_markdown_paths_must_be_the_files_reports(site):
    batch, out, pages = site
    markdown = [p.with_suffix(".md") for p in pages[:-1]]
    with pytest.raises(ValueError, match="is not the report of"):
        write_html(batch, out, markdown[::-1])
