"""Normalise what people type into a cell (spec §3, "Values as people type them").

Every parser takes the raw cell value (str, float, int, bool, date, datetime or None) and
returns a `Parsed`: the normalised value (None = blank), or a problem (finding code and a
Chinese fragment quoting what was there), and optionally an informational note. Callers add
the sheet, cell and label. Nothing here guesses silently.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

BLANK_TOKENS = frozenset({"", "无", "暂无", "不适用", "没有", "/", "-", "—", "——", "N/A", "NA"})
EMPTY_TEXT_TOKENS = frozenset({"", "无", "暂无", "没有", "无问题", "不适用"})

SERIAL_MIN, SERIAL_MAX = 36526, 73050
#: no amount, count or score a unit types is this large; beyond it Decimal arithmetic would lose
#: digits (28 significant) and quantising would fail
MAX_NUMBER = Decimal("1e15")  # 2000-01-01 .. 2099-12-31 in the 1900 system

GRADE_WORDS = {
    "优": "优秀",
    "优秀": "优秀",
    "良": "良好",
    "良好": "良好",
    "中": "中",
    "中等": "中",
    "合格": "中",
    "差": "差",
    "不合格": "差",
}


@dataclass(frozen=True)
class Parsed:
    value: object = None
    problem: tuple[str, str] | None = None  # (code, message fragment)
    note: tuple[str, str] | None = None  # (info code, message fragment)

    @property
    def blank(self) -> bool:
        return self.value is None and self.problem is None


BLANK = Parsed()


def show(raw: object) -> str:
    """How a raw value is quoted back to the clerk."""
    if isinstance(raw, float):
        return format_number(Decimal(repr(raw))) if raw == raw and abs(raw) != float("inf") else str(raw)
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return str(raw)


def format_number(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 2999.76, 70, 0.5."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def format_money(d: Decimal) -> str:
    """Money with at least two decimals: 2.89, 3002.65, 10.00 (more when typed with more)."""
    return f"{d:.2f}" if d.as_tuple().exponent >= -2 else format_number(d)  # type: ignore[operator]


def fold(text: str) -> str:
    """NFKC with all whitespace removed."""
    if type(text) is str and len(text) <= 64:  # a short text is folded once (labels, words, codes)
        return _fold_short(text)
    return "".join(unicodedata.normalize("NFKC", text).split())


@lru_cache(maxsize=1 << 14)
def _fold_short(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def is_blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        if type(raw) is str and len(raw) <= 64:
            return _blank_short(raw)
        folded = fold(raw)
        return folded in BLANK_TOKENS or folded.upper() in BLANK_TOKENS
    return False


@lru_cache(maxsize=1 << 14)  # the same few words in every file (a project sheet asks ~200 times)
def _blank_short(text: str) -> bool:
    folded = fold(text)
    return folded in BLANK_TOKENS or folded.upper() in BLANK_TOKENS


def is_empty_text(text: object) -> bool:
    """Spec §3: empty after NFKC and removing whitespace and punctuation, or a 'nothing' word."""
    if text is None:
        return True
    folded = "".join(
        ch for ch in fold(str(text)) if not unicodedata.category(ch).startswith(("P", "S"))
    )
    return folded in EMPTY_TEXT_TOKENS


def round_half_up(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _to_decimal(raw: float | int) -> Decimal:
    return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)


_NUMBER = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^\.\d+$")
_NEGATIVE = re.compile(r"^(?:[-−－](?P<a>.+)|\((?P<b>.+)\))$")


def _number_text(text: str) -> tuple[Decimal | None, bool]:
    """Parse typed number text (full-width, thousands separators, parenthesised negatives).

    Returns (magnitude, negative); magnitude None when the text is not a number.
    """
    negative = False
    m = _NEGATIVE.match(text)
    if m:
        negative, text = True, m.group("a") or m.group("b")
    if not _NUMBER.match(text):
        return None, negative
    try:
        return Decimal(text.replace(",", "")), negative
    except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
        return None, negative


def _numeric(raw: object, suffixes: tuple[str, ...] = ()) -> tuple[Decimal | None, bool, str]:
    """A number from a cell: (value, negative, text-after-suffix) or (None, …) if not a number."""
    if isinstance(raw, bool):
        return None, False, str(raw)
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return None, False, str(raw)
        d = _to_decimal(raw)
        return abs(d), d < 0, ""
    if not isinstance(raw, str):
        return None, False, show(raw)
    text = fold(raw)
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    value, negative = _number_text(text)
    return value, negative, text


def _too_big(raw: object) -> Parsed:
    return Parsed(problem=("value-out-of-range", f"“{show(raw)}”数值过大，请核对"))


def parse_money(raw: object) -> Parsed:
    """Money in 万元: numbers or text, optional 万元/万; other units are refused, never converted."""
    if is_blank(raw):
        return BLANK
    value, negative, text = _numeric(raw, ("万元", "万"))
    if value is None:
        if isinstance(raw, str) and re.search(r"(亿元|千元|百元|元|亿)$", text):
            return Parsed(problem=("type-error", f"“{show(raw)}”金额单位应为万元，请换算为万元后填写数字"))
        return Parsed(problem=("type-error", f"“{show(raw)}”不是金额，请填写以万元为单位的数字"))
    if negative:
        return Parsed(problem=("value-out-of-range", f"“{show(raw)}”为负数，金额不能为负"))
    if value > MAX_NUMBER:
        return _too_big(raw)
    if value.as_tuple().exponent < -4:  # float noise beyond 4 places, e.g. 0.30000000000000004
        value = round_half_up(value, "0.0001")
    return Parsed(value)


def parse_int(raw: object, unit: str = "") -> Parsed:
    """A count: 63, "63", 63.0 (and "63人"); 63.5 is a type error."""
    if is_blank(raw):
        return BLANK
    value, negative, _ = _numeric(raw, (unit,) if unit else ())
    if value is None:
        return Parsed(problem=("type-error", f"“{show(raw)}”不是整数"))
    if value > MAX_NUMBER:
        return _too_big(raw)
    if value != value.to_integral_value():
        return Parsed(problem=("type-error", f"“{show(raw)}”不是整数，人数、项数应为整数"))
    if negative and value != 0:
        return Parsed(problem=("value-out-of-range", f"“{show(raw)}”为负数，不能为负"))
    return Parsed(int(value))


def parse_percent(raw: object) -> Parsed:
    """A rate as a fraction. 0–1 is a fraction, 1–100 a percentage (noted), text with % /100."""
    if is_blank(raw):
        return BLANK
    if isinstance(raw, str) and fold(raw).endswith("%"):
        value, negative = _number_text(fold(raw)[:-1])
        if value is None:
            return Parsed(problem=("type-error", f"“{show(raw)}”不是百分数"))
        fraction = -value / 100 if negative else value / 100
        if not 0 <= fraction <= 1:
            return Parsed(problem=("value-out-of-range", f"“{show(raw)}”超出 0%～100% 的范围"))
        return Parsed(fraction)
    value, negative, _ = _numeric(raw)
    if value is None:
        return Parsed(problem=("type-error", f"“{show(raw)}”不是百分数"))
    if negative and value != 0:
        return Parsed(problem=("value-out-of-range", f"“{show(raw)}”超出 0%～100% 的范围"))
    if value <= 1:
        return Parsed(value)
    if value <= 100:
        fraction = value / 100
        note = f"“{show(raw)}”按 {format_number(value)}% 理解（{format_number(fraction)}）"
        return Parsed(fraction, note=("percent-assumed", note))
    return Parsed(problem=("value-out-of-range", f"“{show(raw)}”超出 0%～100% 的范围"))


_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)


def serial_to_date(serial: int, date1904: bool = False) -> dt.date:
    """An Excel serial day number to a date, in the workbook's date system."""
    base = dt.date(1904, 1, 1) if date1904 else dt.date(1899, 12, 30)
    return base + dt.timedelta(days=serial)


def parse_date(raw: object, date1904: bool = False) -> Parsed:
    """Date cells, Excel serials in 36526–73050, and the usual typed forms."""
    if is_blank(raw):
        return BLANK
    if isinstance(raw, dt.datetime):
        return Parsed(raw.date())
    if isinstance(raw, dt.date):
        return Parsed(raw)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and raw == int(raw) and SERIAL_MIN <= raw <= SERIAL_MAX:
            day = serial_to_date(int(raw), date1904)
            note = f"数字 {int(raw)} 按 Excel 日期序号理解为 {day.isoformat()}"
            return Parsed(day, note=("date-from-serial", note))
        return Parsed(problem=("type-error", f"“{show(raw)}”不是日期，请按 2021-06-04 的格式填写"))
    text = fold(str(raw))
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return Parsed(dt.date(int(m["y"]), int(m["m"]), int(m["d"])))
            except ValueError:
                break
    return Parsed(problem=("type-error", f"“{show(raw)}”不是有效日期，请按 2021-06-04 的格式填写"))


def parse_year(raw: object) -> Parsed:
    """An integer 2000–2099, optionally followed by 年 or 年度."""
    if is_blank(raw):
        return BLANK
    value, negative, _ = _numeric(raw, ("年度", "年"))
    if (
        value is None
        or negative
        or value != value.to_integral_value()
        or not 2000 <= value <= 2099
    ):
        return Parsed(problem=("type-error", f"“{show(raw)}”不是有效年度，请填写四位年份，如 2020"))
    return Parsed(int(value))


def parse_text(raw: object) -> Parsed:
    """Free text; an integral number becomes its digits (a phone typed as a number)."""
    if type(raw) is str and len(raw) <= 64:
        return _text_short(raw)
    return _parse_text(raw)


@lru_cache(maxsize=1 << 14)  # a Parsed is frozen: one for each short text is shared
def _text_short(raw: str) -> Parsed:
    return _parse_text(raw)


def _parse_text(raw: object) -> Parsed:
    if is_blank(raw):
        return BLANK
    if isinstance(raw, float) and math.isfinite(raw) and raw == int(raw):
        return Parsed(str(int(raw)))
    if isinstance(raw, int | float):
        return Parsed(show(raw))
    if isinstance(raw, dt.date):
        return Parsed(show(raw))
    return Parsed(str(raw).strip())


def parse_code(raw: object) -> Parsed:
    """单位编码: NFKC, whitespace removed, upper-cased; compared as a string."""
    text = parse_text(raw)
    if text.value is None:
        return text
    return Parsed(fold(str(text.value)).upper())


def parse_choice(raw: object, choices: tuple[str, ...]) -> Parsed:
    if is_blank(raw):
        return BLANK
    folded = fold(str(raw))
    for choice in choices:
        if fold(choice) == folded:
            return Parsed(choice)
    options = "、".join(choices)
    return Parsed(problem=("type-error", f"“{show(raw)}”不是可选项，应为：{options}"))


def parse_longtext(raw: object) -> Parsed:
    if is_blank(raw):  # "无" as the whole of a required text is no text
        return BLANK
    text = parse_text(raw) if not isinstance(raw, str) else Parsed(raw.strip())
    return text


def parse_score(raw: object) -> Parsed:
    """A self score: a number, optionally with a trailing 分. Negative numbers are kept
    (score-out-of-range reports them)."""
    if is_blank(raw):
        return BLANK
    value, negative, _ = _numeric(raw, ("分",))
    if value is None:
        return Parsed(problem=("type-error", f"“{show(raw)}”不是分数"))
    if value > MAX_NUMBER:
        return _too_big(raw)
    return Parsed(-value if negative else value)


def parse_grade(raw: object, labels: tuple[str, ...]) -> Parsed:
    """优/优秀, 良/良好, 中/中等/合格, 差/不合格 → the rubric's labels."""
    if is_blank(raw):
        return BLANK
    folded = fold(str(raw))
    word = GRADE_WORDS.get(folded, folded)
    if word in labels:
        return Parsed(word)
    return Parsed(problem=("type-error", f"“{show(raw)}”不是等级，应为：{'、'.join(labels)}"))


def parse_field(kind: str, raw: object, *, unit: str = "", choices: tuple[str, ...] = (),
                date1904: bool = False) -> Parsed:
    """Dispatch on a field's type."""
    if kind == "money":
        return parse_money(raw)
    if kind == "int":
        return parse_int(raw, unit)
    if kind == "percent":
        return parse_percent(raw)
    if kind == "date":
        return parse_date(raw, date1904)
    if kind == "year":
        return parse_year(raw)
    if kind == "code":
        return parse_code(raw)
    if kind == "choice":
        return parse_choice(raw, choices)
    if kind == "longtext":
        return parse_longtext(raw)
    return parse_text(raw)


# -- labels ------------------------------------------------------------------------------------

LABEL_UNITS = ("万元", "人", "%", "项", "个", "天", "日", "元/人")
QUOTES = "\"'“”‘’「」『』"
MAX_LABEL = 60  # longer texts are answers, never labels


def label_key(text: object) -> str:
    """Normalise a label: NFKC, no whitespace or quotes, no `*`, `其中：`, `：` or unit."""
    if not isinstance(text, str) or len(text) > MAX_LABEL:
        return ""  # long texts are answers, never labels
    return _label_key(text)


@lru_cache(maxsize=8192)
def _label_key(text: str) -> str:
    key = "".join(ch for ch in fold(text) if ch not in QUOTES)
    key = key.lstrip("*")
    if key.startswith("其中:"):
        key = key[3:]
    key = key.rstrip(":")
    for unit in LABEL_UNITS:
        suffix = f"({unit})"
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key.rstrip(":")
