"""What every Markdown report shares (spec §8, §13): escaping unit text, the Jinja2 environment of
the report templates with its formatting filters, the round's notice as a report cites it, whose
seal a report bears, and rendering a template into tidy Markdown.

Unit text reaches the Markdown only escaped: the templates pass it through `md` / `paras`, and
the environment's `finalize` hook escapes any other string it prints, so a template edit that
forgets a filter still cannot let a unit's text become Markdown structure or HTML.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache
from pathlib import Path

import jinja2

from perfxl.model import FileResult, Form
from perfxl.read.values import format_number, is_empty_text, round_half_up
from perfxl.resources import templates_dir
from perfxl.write.text import clean


class Md(str):
    """Text that is already valid, inert Markdown: printed as is."""


#: active anywhere in a line (CommonMark + GFM tables/strikethrough, a heading's closing `#`,
#: pandoc math/superscript/citations)
_INLINE = re.compile(r"([\\`*_{}\[\]|~$^@#])")
#: GFM "extended autolinks" need no brackets: break `scheme://` and `www.`
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<![\w.])(www)(\.)")
#: active only at the start of a line: headings, bullets, setext underlines, thematic breaks;
#: ordered-list markers (`1.`, pandoc `a)` `(i)`) and pandoc `:` only before a space
_LEADING = re.compile(r"^(?:([+\-=])|(\(?(?:[A-Za-z]{1,8}|\d{1,9}))([.)])(?= |$)|(:)(?= |$))")


def _escape_line(line: str) -> str:
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    line = _INLINE.sub(r"\\\1", line)
    line = _AUTOLINK.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", line)
    return _LEADING.sub(lambda m: f"{m[2]}\\{m[3]}" if m[2] else f"\\{m[1] or m[4]}", line, count=1)


def md(value: object) -> Md:
    """One line of unit text, escaped: never structure, HTML, a link or an image; None -> —."""
    if isinstance(value, Md):
        return value
    if value is None:
        return Md("—")
    return Md(_escape_line(" ".join(clean(value).split())))


def paras(value: object) -> Md:
    """A long text: each non-blank line one escaped paragraph."""
    if value is None:
        return Md("")
    lines = (" ".join(line.split()) for line in clean(value).split("\n"))
    return Md("\n\n".join(_escape_line(line) for line in lines if line))


def _finalize(value: object) -> object:
    """Everything `{{ … }}` prints: Md as is, other strings escaped, ints as digits. Decimals,
    dates and None must go through a formatting filter, so a forgotten one fails loudly."""
    if isinstance(value, Md):
        return value
    if isinstance(value, jinja2.Undefined):  # `x if c` without else; StrictUndefined raises
        return str(value)
    if isinstance(value, str):
        return md(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"report template printed {value!r} without a formatting filter")


def _fixed(value: Decimal | None, suffix: str = "") -> Md:
    return Md("—" if value is None else f"{round_half_up(Decimal(value)):.2f}{suffix}")


def money(value: Decimal | None) -> Md:
    """万元 with two decimals."""
    return _fixed(value)


def percent(value: Decimal | None) -> Md:
    """A fraction as a percentage with two decimals."""
    return _fixed(None if value is None else Decimal(value) * 100, "%")


def cn_date(value: dt.date | None) -> Md:
    return Md("—" if value is None else f"{value.year}年{value.month}月{value.day}日")


@cache
def environment(folder: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment of the report templates (StrictUndefined, escaping finalize)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder or templates_dir()), undefined=jinja2.StrictUndefined,
        autoescape=False, finalize=_finalize, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, paras=paras, money=money, score=_fixed, pct=percent, date=cn_date,
                       num=lambda v: Md("—" if v is None else format_number(Decimal(v))))
    env.tests["empty_text"] = is_empty_text
    return env


def notice_text(form: Form) -> Md | None:
    """The round's notice as a report cites it: 《通知名称》（通知文号）."""
    notice = form.notice
    if notice is None:
        return None
    if notice.title and notice.number:
        return Md(f"《{md(notice.title)}》（{md(notice.number)}）")
    return Md(f"《{md(notice.title)}》" if notice.title else f"{md(notice.number)}文件")


def seal(result: FileResult) -> str:
    """Whose seal the report bears: a department's 本级 accounts bear the department's (as in
    the sample: 中共湛江市委组织部本级 stamped 中共湛江市委组织部)."""
    name, department = result.unit_name, result.department
    if name and department and name == f"{department}本级":
        return department
    return name or "（单位名称未填写）"


def render_markdown(template: str, context: dict[str, object]) -> str:
    """A report template rendered: trailing spaces dropped, runs of blank lines collapsed, one
    final newline."""
    text = environment().get_template(template).render(context)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"
