"""The expression language of forms (spec §12): 指标值 formulas and 校验 conditions.

Text is tokenized and parsed by hand into a small tree — never `eval`, never Python's `ast` —
so a form cell can only ever name fields, numbers, `+ - * /` and six functions. This module
imports nothing from perfxl: it sits at the bottom of the layers. `expr_eval` evaluates the
trees in Decimal, `expr_excel` writes them as live Excel formulas.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

MAX_LENGTH = 500
MAX_DEPTH = 20
MAX_DIGITS = 15
#: name -> (fewest, most) arguments; None = any number
FUNCTIONS = {"ABS": (1, 1), "MIN": (1, None), "MAX": (1, None), "SUM": (1, None), "DAYS": (2, 2), "DAYS_LATE": (1, 1)}
COMPARISONS = ("=", "<=", ">=", "<", ">")
MONEY_TOLERANCE = Decimal("0.01")
TYPE_NAMES = {"text": "文本", "code": "编码", "choice": "选项", "year": "年度", "date": "日期", "int": "整数",
              "money": "金额", "percent": "百分比", "longtext": "长文本"}
NUMERIC_TYPES = {"int", "money", "percent", "year", "整数", "金额", "百分比", "年度"}
DATE_TYPES = {"date", "日期"}


class ExprError(ValueError):
    """A formula perfxl cannot use: `message` in Chinese and the 1-based character `position`."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"第 {position} 个字符：{message}")
        self.message, self.position = message, position

    def __reduce__(self):  # picklable across the worker pool despite the two-argument constructor
        return ExprError, (self.message, self.position)


# -- the tree -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    """A parsed expression; `str()` gives its canonical text, which parses to the same tree."""

    pos: int = field(default=0, compare=False, repr=False, kw_only=True)  # 1-based, for messages

    def fields(self) -> tuple[str, ...]:
        """The field keys named, each once, in order of appearance."""
        return tuple(dict.fromkeys(n.key for n in walk(self) if isinstance(n, Field)))

    def __str__(self) -> str:
        return render(self, lambda n: n.key, lambda n: f"{n.name}({','.join(str(a) for a in n.args)})", False)[0]


@dataclass(frozen=True)
class Number(Expr):
    value: Decimal
    percent: bool = False  # written as 95%: value is already 0.95


@dataclass(frozen=True)
class Field(Expr):
    key: str


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Group(Expr):
    """Parentheses the author wrote: kept so the template's formula shows them as written."""

    inner: Expr


@dataclass(frozen=True)
class Condition:
    """A 校验 condition: `left op right`, op one of COMPARISONS."""

    left: Expr
    op: str
    right: Expr
    pos: int = field(default=0, compare=False, repr=False)

    def fields(self) -> tuple[str, ...]:
        """The field keys named on both sides, each once, in order of appearance."""
        return tuple(dict.fromkeys(self.left.fields() + self.right.fields()))

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


def walk(node: Expr):
    """Every node of the tree, parents before children, left to right."""
    yield node
    for child in _children(node):
        yield from walk(child)


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Binary):
        return node.left, node.right
    if isinstance(node, Call):
        return node.args
    return (node.inner,) if isinstance(node, Group) else ()


def render(node: Expr, leaf, call, excel: bool) -> tuple[str, int]:
    """(text, precedence) of a tree: 1 additive, 2 multiplicative, 3 unary, 4 atom; `leaf` names
    fields, `call` writes calls that are not plain (DAYS …) and returns text or (text, precedence)."""
    def go(n: Expr) -> tuple[str, int]:
        if isinstance(n, Number):
            text = format(n.value if excel or not n.percent else n.value.scaleb(2), "f")
            return (text + "%" if n.percent and not excel else text), 4
        if isinstance(n, Field):
            return leaf(n), 4
        if isinstance(n, Group):
            return f"({go(n.inner)[0]})", 4
        if isinstance(n, Neg):
            text, p = go(n.operand)
            return "-" + (f"({text})" if p < 3 else text), 3
        if isinstance(n, Binary):
            prec = 1 if n.op in "+-" else 2
            (lt, lp), (rt, rp) = go(n.left), go(n.right)
            # parentheses exactly where the tree needs them: a-(b-c) keeps them, (a-b)-c does not
            return f"{f'({lt})' if lp < prec else lt}{n.op}{f'({rt})' if rp <= prec else rt}", prec
        if isinstance(n, Call) and n.name in ("ABS", "MIN", "MAX", "SUM"):
            return f"{n.name}({','.join(go(a)[0] for a in n.args)})", 4
        got = call(n)
        return got if isinstance(got, tuple) else (got, 4)
    return go(node)


# -- tokens -------------------------------------------------------------------------------

# one character in, one character out, so every position is a position in what the author typed
_SAME_AS = {"×": "*", "÷": "/", "−": "-", "–": "-", "≦": "≤", "≧": "≥", "\u3000": " ", "\xa0": " "}
_TOKEN = re.compile(r"(?P<space>\s+)|(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)%?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<cmp><=|>=|==|<>|!=|[<>=≤≥≠])|(?P<op>\*\*|[-+*/^])|(?P<punct>[(),])", re.ASCII)
_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
_HINTS = {'"': "公式中不能有文字或引号", "'": "公式中不能有文字或引号", "“": "公式中不能有文字或引号",
          "”": "公式中不能有文字或引号", "‘": "公式中不能有文字或引号", "’": "公式中不能有文字或引号",
          "[": "不能用方括号", "]": "不能用方括号", "{": "不能用花括号", "}": "不能用花括号",
          ".": "“.”只能用作数字的小数点", "%": "百分号只能紧跟在数字后面，如 95%", "、": "参数之间请用逗号分隔"}
_NOT_EQUAL = "不支持“不等于”，可用的比较符号：=、<=、>=、<、>"


@dataclass(frozen=True)
class _Tok:
    kind: str  # num name func op cmp ( ) , end
    text: str
    pos: int


def _normalize(ch: str) -> str:
    if "\uff01" <= ch <= "\uff5e":  # full-width ASCII as typed with a Chinese IME: （）， ０-９ ＋－％ ＜＝ …
        return chr(ord(ch) - 0xFEE0)
    return _SAME_AS.get(ch, " " if ch.isspace() else ch)


def _tokens(text: str) -> list[_Tok]:
    if not isinstance(text, str):
        raise ExprError("公式应写成文字，如 ABS(income_fiscal-budget_initial)/budget_initial", 1)
    if len(text) > MAX_LENGTH:
        raise ExprError(f"公式太长（{len(text)} 个字符），最多 {MAX_LENGTH} 个", MAX_LENGTH + 1)
    src = "".join(_normalize(c) for c in text)
    toks: list[_Tok] = []
    i = 0
    while i < len(src):
        m = _TOKEN.match(src, i)
        pos = i + 1
        if m is None:
            ch = text[i]
            if "\u4e00" <= ch <= "\u9fff":
                raise ExprError(f"不认识的字符“{ch}”：字段请写字段键（如 income_fiscal），不要写中文名称", pos)
            shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
            raise ExprError(_HINTS.get(src[i], f"不认识的字符“{shown}”"), pos)
        kind, tok = m.lastgroup, m.group()
        i = m.end()
        if kind == "space":
            continue
        if kind == "num":
            if i < len(src) and (src[i].isalnum() or src[i] in "._"):
                j = i
                while j < len(src) and (src[j].isalnum() or src[j] in "._" or (src[j] in "+-" and src[j - 1] in "eE")):
                    j += 1
                if src[i] in "eE":
                    raise ExprError(f"不支持科学计数法“{text[pos - 1:j]}”，请直接写出数字", pos)
                raise ExprError(f"数字“{text[pos - 1:j]}”写法不对", pos)
            if len(tok.rstrip("%").replace(".", "").lstrip("0")) > MAX_DIGITS:
                raise ExprError(f"数字“{tok}”超过 {MAX_DIGITS} 位有效数字", pos)
        elif kind == "name":
            rest = src[i:].lstrip()
            if rest.startswith("("):
                if tok.upper() not in FUNCTIONS:
                    raise ExprError(f"不认识的函数“{tok}”，可用：{'、'.join(FUNCTIONS)}", pos)
                kind, tok = "func", tok.upper()
            elif tok.upper() in FUNCTIONS:
                raise ExprError(f"函数“{tok.upper()}”后面应有括号，如 {tok.upper()}(…)", pos)
            elif not _KEY.match(tok):
                hint = f"，是否应为“{tok.lower()}”？" if _KEY.match(tok.lower()) else ""
                raise ExprError(f"字段键“{tok}”应以小写字母开头，只含小写字母、数字和下划线{hint}", pos)
        elif kind == "cmp":
            if tok in ("<>", "!=", "≠"):
                raise ExprError(_NOT_EQUAL, pos)
            tok = {"≤": "<=", "≥": ">=", "==": "="}.get(tok, tok)
        elif kind == "op" and tok in ("**", "^"):
            raise ExprError(f"不支持乘方“{tok}”，可用：+ - * /", pos)
        toks.append(_Tok(tok if kind == "punct" else kind, tok, pos))
    toks.append(_Tok("end", "", len(text) + 1))
    return toks


# -- parser -------------------------------------------------------------------------------

class _Parser:
    def __init__(self, toks: list[_Tok], condition: bool) -> None:
        self.toks, self.i, self.depth, self.condition = toks, 0, 0, condition

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        self.i += 1
        return self.toks[self.i - 1]

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"括号、函数或负号嵌套超过 {MAX_DEPTH} 层，请简化公式", tok.pos)

    def sum(self) -> Expr:
        left = self.product()
        while self.peek().kind == "op" and self.peek().text in "+-":
            tok = self.take()
            left = Binary(tok.text, left, self.product(), pos=tok.pos)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in "*/":
            tok = self.take()
            left = Binary(tok.text, left, self.unary(), pos=tok.pos)
        return left

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.text in "+-":
            self.take()
            self.enter(tok)
            operand = self.unary()
            self.depth -= 1
            return Neg(operand, pos=tok.pos) if tok.text == "-" else operand  # unary plus: Excel's =+a habit
        return self.atom()

    def atom(self) -> Expr:
        tok = self.take()
        if tok.kind == "num":
            percent = tok.text.endswith("%")
            value = Decimal(tok.text.rstrip("%"))
            return Number(value.scaleb(-2) if percent else value, percent, pos=tok.pos)
        if tok.kind == "name":
            return Field(tok.text, pos=tok.pos)
        if tok.kind == "(":
            self.enter(tok)
            inner = self.sum()
            self.close(tok, "括号")
            return Group(inner, pos=tok.pos)
        if tok.kind == "func":
            return self.call(tok)
        raise self.unexpected(tok, "operand")

    def call(self, tok: _Tok) -> Expr:
        self.enter(tok)
        self.take()  # "(": the tokenizer saw it
        args: list[Expr] = []
        if self.peek().kind != ")":
            args.append(self.sum())
            while self.peek().kind == ",":
                self.take()
                args.append(self.sum())
        self.close(tok, f"函数 {tok.text} 的括号")
        low, high = FUNCTIONS[tok.text]
        if len(args) < low or (high is not None and len(args) > high):
            need = f" {low} 个" if low == high else f"至少 {low} 个"
            raise ExprError(f"函数 {tok.text} 需要{need}参数，这里有 {len(args)} 个", tok.pos)
        if tok.text in ("DAYS", "DAYS_LATE") and not all(isinstance(a, Field) for a in args):
            example = "DAYS(budget_approved_date, budget_published_date)" if tok.text == "DAYS" else "DAYS_LATE(filing_date)"
            raise ExprError(f"函数 {tok.text} 的参数应是日期字段键，如 {example}", tok.pos)
        return Call(tok.text, tuple(args), pos=tok.pos)

    def close(self, opener: _Tok, what: str) -> None:
        if self.peek().kind != ")":
            if self.peek().kind == "end":
                raise ExprError(f"{what}没有闭合：缺少与此处“(”对应的“)”", opener.pos)
            raise self.unexpected(self.peek(), "inside" if what == "括号" else "call")
        self.take()
        self.depth -= 1

    def unexpected(self, tok: _Tok, where: str) -> ExprError:
        """The error for `tok` where it stands: "operand" expected, "inside" parentheses or a "call", "after" a side."""
        if tok.kind == "end":
            return ExprError("公式不完整，末尾缺少数字或字段", tok.pos)
        if tok.kind == ")":
            return ExprError("多余的右括号“)”", tok.pos)
        if tok.kind == ",":
            return ExprError("逗号只能用在函数的括号里，分隔参数", tok.pos)
        if tok.kind == "cmp":
            if not self.condition:
                return ExprError(f"指标值中不能有比较符号“{tok.text}”（比较只用于校验条件）", tok.pos)
            if where == "operand":
                return ExprError(f"比较符号“{tok.text}”前后缺少数字或字段", tok.pos)
            return ExprError("校验条件只能有一个比较符号" if where == "after" else "比较符号不能放在括号或函数里", tok.pos)
        if tok.kind == "op":
            return ExprError(f"运算符“{tok.text}”前后缺少数字或字段", tok.pos)
        return ExprError(f"“{tok.text}”前缺少运算符" + ("或逗号" if where == "call" else ""), tok.pos)

    def end(self) -> None:
        if self.peek().kind != "end":
            raise self.unexpected(self.peek(), "after")


def parse(text: str) -> Expr:
    """Parse a 指标值 formula; one leading `=` (as typed in Excel) is ignored. Raises ExprError."""
    toks = _tokens(text)
    if toks[0].kind == "cmp" and toks[0].text == "=":
        toks = toks[1:]
    if toks[0].kind == "end":
        raise ExprError("公式为空", 1)
    p = _Parser(toks, False)
    expr = p.sum()
    p.end()
    return expr


def parse_condition(text: str) -> Condition:
    """Parse a 校验 condition: two expressions and exactly one of = <= >= < > (≤ ≥ too)."""
    toks = _tokens(text)
    if toks[0].kind == "end":
        raise ExprError("校验条件为空", 1)
    p = _Parser(toks, True)
    left = p.sum()
    op = p.peek()
    if op.kind != "cmp":
        if op.kind == "end":
            raise ExprError(f"校验条件需要一个比较符号：{'、'.join(COMPARISONS)}", op.pos)
        raise p.unexpected(op, "after")
    p.take()
    right = p.sum()
    p.end()
    return Condition(left, op.text, right, op.pos)


# -- types --------------------------------------------------------------------------------

def check(node: Expr | Condition, types: Mapping[str, str]) -> list[ExprError]:
    """Every problem of a parsed formula against the form's field types (key -> type, English or
    Chinese names of spec §3): unknown fields, text in arithmetic, dates outside DAYS/DAYS_LATE."""
    problems: list[ExprError] = []
    if isinstance(node, Condition):
        kinds = [_kind(side, types, problems) for side in (node.left, node.right)]
        if "date" in kinds and None not in kinds and kinds[0] != kinds[1]:
            problems.append(ExprError("日期只能与日期比较；要比较天数请用 DAYS(开始日期, 结束日期)", node.pos))
    elif _kind(node, types, problems) == "date":
        problems.append(ExprError("指标值不能只是一个日期，请用 DAYS 或 DAYS_LATE 算出天数", 1))
    return problems


def _kind(node: Expr, types: Mapping[str, str], problems: list[ExprError]) -> str | None:
    """"number", "date", or None when a problem below already says why it is neither."""
    if isinstance(node, Number):
        return "number"
    if isinstance(node, Group):
        return _kind(node.inner, types, problems)
    if isinstance(node, Field):
        kind = types.get(node.key)
        if kind is None:
            near = difflib.get_close_matches(node.key, list(types), 1)
            hint = f"，是否应为“{near[0]}”？" if near else ""
            problems.append(ExprError(f"表单中没有字段键“{node.key}”{hint}", node.pos))
            return None
        if kind in DATE_TYPES:
            return "date"
        if kind in NUMERIC_TYPES:
            return "number"
        problems.append(ExprError(f"字段“{node.key}”是{TYPE_NAMES.get(kind, kind)}，不能用于计算", node.pos))
        return None
    if isinstance(node, Call) and node.name in ("DAYS", "DAYS_LATE"):
        for arg in node.args:
            if _kind(arg, types, problems) == "number" and isinstance(arg, Field):
                what = TYPE_NAMES.get(types[arg.key], types[arg.key])
                problems.append(ExprError(f"函数 {node.name} 的参数应是日期字段，“{arg.key}”是{what}", arg.pos))
        return "number"
    for operand in _children(node):
        if _kind(operand, types, problems) == "date":
            what = f"不能放进 {node.name}" if isinstance(node, Call) else "不能直接加减乘除"
            problems.append(ExprError(f"日期“{operand}”{what}；日期只能用在 DAYS(开始日期, 结束日期)、DAYS_LATE(日期) 中，"
                                      "或单独作为校验条件的一边", operand.pos))
    return "number"
