"""The cell texts of a form workbook (spec §12) and the rubric data they stand for, both ways.

指标值 expressions of the built-in shapes map back to the rubric's value kinds (so an exported
built-in imports with the same hash); 参数 texts such as `≤5%:5；其他:0` or `目标=95%；方向=低于；
每点扣=0.75` become rule dicts; 等级 and 报送截止 likewise. Parsers return problems as Chinese
sentences for the reader to pin to a cell; nothing here reads a file.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from itertools import pairwise

from perfxl.findings import CATALOGUE
from perfxl.spec.expr import TYPE_NAMES, Binary, Call, Expr, Field, Group
from perfxl.spec.rubric import RULE_VALUES, ZERO_DIVISION_CODES, Grade, Indicator

TYPE_CN = dict(TYPE_NAMES)
CN_TYPE = {cn: en for en, cn in TYPE_CN.items()}
RULE_CN = {"manual": "人工", "bands": "分档", "linear": "线性", "proportional": "比例",
           "days_within": "天数内", "days_late": "逾期扣分"}
CN_RULE = {cn: en for en, cn in RULE_CN.items()}
BLANK_CN = {"not-applicable": "不适用", "zero": "零分", "error": "报错"}
CN_BLANK = {cn: en for en, cn in BLANK_CN.items()}
SIDE_CN = {"below": "低于", "above": "高于"}
#: which value kinds each rule can take; an `expr` goes with every computed rule
RULES_FOR = {k: (*v, "expr") for k, v in RULE_VALUES.items()}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)%?\Z")
_SPLIT = re.compile(r"[；;\n]")
_LINEAR = {"目标": "target", "目标值": "target", "方向": "side", "每点扣": "per_point", "每点扣分": "per_point",
           "每个百分点扣": "per_point", "除零": "zero_division"}
_SINGLE = {"proportional": {"目标": "target", "目标值": "target", "除零": "zero_division"},
           "days_within": {"天数": "days"}, "days_late": {"每天扣": "per_day", "每天扣分": "per_day"}}
_CANON = {"linear": {"target": "目标", "side": "方向", "per_point": "每点扣"}, "proportional": {"target": "目标"},
          "days_within": {"days": "天数"}, "days_late": {"per_day": "每天扣"}}
_EXAMPLES = {"manual": "目标与职能相符:2；指标细化量化:2；与预算匹配:1", "bands": "≤5%:5；≤10%:4；≤20%:3；其他:0",
             "linear": "目标=95%；方向=低于；每点扣=0.75", "proportional": "目标=100%", "days_within": "天数=20",
             "days_late": "每天扣=1"}


def fold(text: str) -> str:
    """NFKC without whitespace: full-width digits, ％ ： ； ＝ as ASCII, as typed with a Chinese IME."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def example(kind: str) -> str:
    """A 参数 example of a rule kind."""
    return _EXAMPLES[kind]


# -- numbers ------------------------------------------------------------------------------

def parse_number(text: str) -> int | Decimal:
    """`5` -> 5, `0.75` -> Decimal('0.75'), `95%` -> Decimal('0.95') (digits kept: 100% is 1.00). ValueError else."""
    t = fold(text)
    if not _NUMBER.match(t) or len(t.strip("+-%").replace(".", "").lstrip("0")) > 15:
        raise ValueError(text)
    if t.endswith("%"):
        return Decimal(t[:-1]).scaleb(-2)
    return Decimal(t) if "." in t else int(t)


def format_number(value: object, rate: bool = False) -> str:
    """The text parse_number reads back as the same value (ints plain, rate Decimals as percent)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if rate and value.scaleb(2).as_tuple().exponent <= 0:
        return format(value.scaleb(2), "f") + "%"
    text = format(value, "f")
    return text if "." in text else text + ".0"  # a Decimal stays a Decimal


# -- 指标值 -----------------------------------------------------------------------------------

def _bare(node: Expr) -> Expr:
    while isinstance(node, Group):
        node = node.inner
    return node


def _summands(node: Expr) -> list[str] | None:
    node = _bare(node)
    if isinstance(node, Field):
        return [node.key]
    if isinstance(node, Binary) and node.op == "+":
        left, right = _summands(node.left), _summands(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _difference(node: Expr) -> tuple[str, str] | None:
    node = _bare(node)
    if isinstance(node, Binary) and node.op == "-" and isinstance(lhs := _bare(node.left), Field) \
            and isinstance(rhs := _bare(node.right), Field):
        return lhs.key, rhs.key
    return None


def value_of(tree: Expr) -> dict:
    """The rubric value dict of a parsed 指标值: a built-in shape (ratio, deviation, change,
    days_between, days_late, field) when it is one, else kind `expr` with its canonical text."""
    node = _bare(tree)
    if isinstance(node, Field):
        return {"kind": "field", "field": node.key}
    if isinstance(node, Call) and node.name == "DAYS":
        return {"kind": "days_between", "start": node.args[0].key, "end": node.args[1].key}  # type: ignore[attr-defined]
    if isinstance(node, Call) and node.name == "DAYS_LATE":
        return {"kind": "days_late", "date": node.args[0].key}  # type: ignore[attr-defined]
    if isinstance(node, Binary) and node.op == "/":
        num, den = _bare(node.left), _bare(node.right)
        if isinstance(den, Field):
            if isinstance(num, Call) and num.name == "ABS" and len(num.args) == 1:
                pair = _difference(num.args[0])
                if pair and pair[1] == den.key:
                    return {"kind": "deviation", "actual": pair[0], "base": den.key}
            pair = _difference(num) if isinstance(node.left, Group) else None
            if pair and pair[1] == den.key:
                return {"kind": "change", "current": pair[0], "previous": den.key}
        top, bottom = _summands(num), _summands(den)
        if top and bottom:
            return {"kind": "ratio", "numerator": top, "denominator": bottom}
    return {"kind": "expr", "expr": str(tree), "fields": list(tree.fields())}


def value_text(value: dict | None) -> str:
    """The 指标值 expression of a rubric value dict."""
    if value is None:
        return ""
    kind = value["kind"]

    def side(keys: list[str]) -> str:
        return keys[0] if len(keys) == 1 else f"({'+'.join(keys)})"

    return {
        "field": lambda: value["field"],
        "ratio": lambda: f"{side(value['numerator'])}/{side(value['denominator'])}",
        "deviation": lambda: f"ABS({value['actual']}-{value['base']})/{value['base']}",
        "change": lambda: f"({value['current']}-{value['previous']})/{value['previous']}",
        "days_between": lambda: f"DAYS({value['start']}, {value['end']})",
        "days_late": lambda: f"DAYS_LATE({value['date']})",
        "expr": lambda: value["expr"],
    }[kind]()


# -- 参数 -------------------------------------------------------------------------------------

def params_text(ind: Indicator) -> str:
    """The 参数 cell of an indicator, in the §12 syntax."""
    rule, kind = ind.rule, ind.rule["kind"]
    if kind == "manual":
        return "；".join(f"{name}:{format_number(points)}" for name, points in rule.get("items", []))
    if kind == "bands":
        sign = "≥" if rule.get("compare") == ">=" else "≤"
        items = [f"{sign}{format_number(b, True)}:{format_number(p)}" for b, p in rule["bands"]]
        if "otherwise" in rule:
            items.append(f"其他:{format_number(rule['otherwise'])}")
        return "；".join(items)
    if kind == "linear":
        text = f"目标={format_number(rule['target'], True)}；方向={SIDE_CN[rule['side']]}；每点扣={format_number(rule['per_point'])}"
    elif kind == "proportional":
        text = f"目标={format_number(rule['target'], True)}"
    elif kind == "days_within":
        text = f"天数={format_number(rule['days'])}"
    else:
        text = f"每天扣={format_number(rule['per_day'])}"
    return text + (f"；除零={rule['zero_division']}" if "zero_division" in rule else "")


def _items(text: str) -> list[str]:
    return [item.strip() for item in _SPLIT.split(text) if item.strip()]


def _points(text: str) -> int | Decimal:
    t = fold(text)
    return parse_number(t[:-1] if t.endswith("分") else t)


def parse_params(kind: str, text: str, weight: Decimal | None) -> tuple[dict, list[tuple[str, str]]]:
    """(rule dict, [(severity, message)]) of a 参数 cell for rule `kind` (English) and the row's 分值."""
    problems: list[tuple[str, str]] = []
    rule: dict = {"kind": kind}
    items = _items(text)
    if kind == "manual":
        return _manual(items, weight, rule, problems)
    if not items:
        return rule, [("error", f"{RULE_CN[kind]}需要参数，如 {example(kind)}")]
    if kind == "bands":
        return _bands(items, weight, rule, problems)
    names = _LINEAR if kind == "linear" else _SINGLE[kind]
    canon = _CANON[kind]
    for item in items:
        name, sep, raw = item.replace("＝", "=").partition("=")
        key = names.get(fold(name))
        if not sep or key is None:
            known = "、".join([*canon.values(), "除零"] if kind in ("linear", "proportional") else canon.values())
            problems.append(("error", f"参数“{item}”不认识，{RULE_CN[kind]}的参数写成“名称=值”，名称可用：{known}；如 {example(kind)}"))
            continue
        if key in rule:
            problems.append(("error", f"参数“{fold(name)}”写了两次"))
            continue
        rule[key] = _param_value(key, raw.strip(), problems)
    missing = [name for key, name in canon.items() if key not in rule]
    if missing:
        problems.append(("error", f"{RULE_CN[kind]}缺少参数“{'”“'.join(missing)}”，完整写法如 {example(kind)}"))
    if kind == "proportional" and isinstance(rule.get("target"), int | Decimal) and rule["target"] <= 0:
        problems.append(("error", f"比例的目标“{format_number(rule['target'], True)}”应大于 0，如 目标=100%"))
    return rule, problems


def _param_value(key: str, raw: str, problems: list[tuple[str, str]]) -> object:
    if key == "side":
        side = {"低于": "below", "高于": "above"}.get(fold(raw))
        if side is None:
            problems.append(("error", f"方向“{raw}”不认识，可用：低于（低于目标扣分）、高于（高于目标扣分）"))
        return side
    if key == "zero_division":
        if raw not in ZERO_DIVISION_CODES:
            known = "、".join(f"{code}（{CATALOGUE[code][1]}）" for code in ZERO_DIVISION_CODES)
            problems.append(("error", f"除零“{raw}”不认识，可用：{known}，如 除零=unbudgeted-spending"))
        return raw
    try:
        number = _points(raw[:-1] if key == "days" and raw.endswith("天") else raw)
    except ValueError:
        problems.append(("error", f"“{raw}”不是数字，如 {'20' if key == 'days' else '0.5' if key != 'target' else '95%'}"))
        return None
    if key == "days" and not (isinstance(number, int) and number >= 0):
        problems.append(("error", f"天数“{raw}”应为不小于 0 的整数，如 20"))
    elif key in ("per_point", "per_day") and number <= 0:
        problems.append(("error", f"每{'点' if key == 'per_point' else '天'}扣分“{raw}”应大于 0"))
    return number


def _manual(items: list[str], weight: Decimal | None, rule: dict, problems: list) -> tuple[dict, list]:
    if not items:
        return rule, [("warning", f"人工评分没有写评分要点，建议写出，如 {example('manual')}")]
    parsed = []
    for item in items:
        name, sep, raw = item.replace("：", ":").rpartition(":")
        try:
            points = _points(raw) if sep and name.strip() else None
        except ValueError:
            points = None
        if points is None:
            problems.append(("error", f"评分要点“{item}”应写成“要点:分值”，如 目标与职能相符:2"))
            continue
        parsed.append([name.strip(), points])
    total = sum((Decimal(p) for _, p in parsed), Decimal(0))
    if not problems and weight is not None and total != weight:
        problems.append(("error", f"评分要点的分值之和为 {total:f}，与分值 {weight:f} 不等，请调整要点分值"))
    rule["items"] = parsed
    return rule, problems


def _bands(items: list[str], weight: Decimal | None, rule: dict, problems: list) -> tuple[dict, list]:
    bands, signs = [], set()
    for n, item in enumerate(items):
        cond, sep, raw = item.replace("：", ":").rpartition(":")
        c = fold(cond).replace("<=", "≤").replace(">=", "≥")
        try:
            points = _points(raw) if sep else None
        except ValueError:
            points = None
        if points is None:
            problems.append(("error", f"分档“{item}”应写成“≤上限:得分”或“其他:得分”，如 {example('bands')}"))
            continue
        if weight is not None and points > weight:
            problems.append(("error", f"分档“{item}”的得分 {points} 超过分值 {weight:f}"))
        if c in ("其他", "其它", "否则"):
            if n != len(items) - 1:
                problems.append(("error", f"“{item}”应放在最后一档"))
            rule["otherwise"] = points
            continue
        if c[:1] not in ("≤", "≥"):
            problems.append(("error", f"分档“{item}”应以 ≤ 或 ≥ 开头，如 ≤5%:5"))
            continue
        try:
            bound = parse_number(c[1:])
        except ValueError:
            problems.append(("error", f"分档“{item}”的界限“{c[1:]}”不是数字，如 5% 或 0.05"))
            continue
        signs.add(c[0])
        bands.append([bound, points])
    if len(signs) > 1:
        problems.append(("error", "同一指标的分档请都用 ≤（从小到大）或都用 ≥（从大到小），不要混用"))
    if "otherwise" not in rule:
        problems.append(("error", f"分档最后一档应为“其他:得分”（都不满足时的得分），如 {example('bands')}"))
    ascending = signs != {"≥"}
    for (b1, _), (b2, _) in pairwise(bands):
        if (b2 <= b1) if ascending else (b2 >= b1):
            order = "从小到大" if ascending else "从大到小"
            problems.append(("warning", f"分档界限应{order}排列：前面的档先匹配，{format_number(b2, True)} 这一档永远用不到"))
            break
    rule["bands"] = bands
    if signs == {"≥"}:
        rule["compare"] = ">="
    return rule, problems


# -- 等级 and 报送截止 ----------------------------------------------------------------------------

def grades_text(grades: tuple[Grade, ...]) -> str:
    """`优秀≥90；良好≥80；中≥60；差`."""
    return "；".join(g.label if g.min == 0 and n == len(grades) - 1 else f"{g.label}≥{g.min:f}"
                    for n, g in enumerate(grades))


def parse_grades(text: str) -> tuple[tuple[Grade, ...], list[str]]:
    """Grades from `优秀≥90；良好≥80；中≥60；差`, highest first, and the problems."""
    problems, grades = [], []
    items = _items(text)
    for n, item in enumerate(items):
        t = fold(item).replace(">=", "≥")
        label, sep, raw = t.partition("≥")
        if not sep:
            if n != len(items) - 1:
                problems.append(f"等级“{item}”没有分数线，只有最后一个等级可以不写（即 0 分以上）")
            grades.append(Grade(Decimal(0), t))
            continue
        try:
            low = Decimal(raw) if _NUMBER.match(raw) and not raw.endswith("%") else None
        except ArithmeticError:
            low = None
        if not label or low is None or not 0 <= low <= 100:
            problems.append(f"等级“{item}”应写成“等级名称≥分数线”，如 优秀≥90")
            continue
        grades.append(Grade(low, label))
    labels = [g.label for g in grades]
    if len(set(labels)) != len(labels):
        problems.append("等级名称有重复")
    if any(b.min >= a.min for a, b in pairwise(grades)):
        problems.append("等级的分数线应从高到低排列，如 优秀≥90；良好≥80；中≥60；差")
    if grades and grades[-1].min != 0 and not problems:
        problems.append(f"最后一个等级应不写分数线（0 分以上），如 …；{grades[-1].label}；差")
    if not grades:
        problems.append("等级为空，请写成 优秀≥90；良好≥80；中≥60；差")
    return tuple(grades), problems


_OFFSETS = {"次年": 1, "下一年": 1, "翌年": 1, "当年": 0, "本年": 0, "同年": 0}
_RELATIVE = re.compile(r"(次年|下一年|翌年|当年|本年|同年)([0-9]{1,2})月([0-9]{1,2})日?\Z")
_DATE = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?\Z")


def deadline_text(rule: dict) -> str:
    """`次年6月20日` (relative to 年度)."""
    word = {1: "次年", 0: "当年"}.get(rule.get("year_offset", 0))
    if word is None:
        return f"{rule.get('year_offset', 0)}年后{rule['month']}月{rule['day']}日"
    return f"{word}{rule['month']}月{rule['day']}日"


def parse_deadline(value: object, year: int | None) -> tuple[dict | None, str | None]:
    """The deadline dict ({year_offset, month, day}) of a 报送截止 cell, or a problem."""
    hint = "报送截止应写成“次年6月20日”或一个日期，如 2021-06-20"
    if isinstance(value, str) and fold(value).isdigit() and len(fold(value)) == 5:
        value = int(fold(value))
    if isinstance(value, int | float) and not isinstance(value, bool) and 36526 <= value <= 73050:
        value = dt.date(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel serial, as spec §3 reads dates
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        y, m, d = value.year, value.month, value.day
        if year is None:
            return None, None  # 年度 is wrong; its own problem says so
        offset = y - year
    else:
        t = fold(str(value))
        rel, date = _RELATIVE.match(t), _DATE.match(t)
        if rel:
            offset, m, d = _OFFSETS[rel[1]], int(rel[2]), int(rel[3])
            y = (year or 2000) + offset
        elif date:
            if year is None:
                return None, None
            y, m, d = int(date[1]), int(date[2]), int(date[3])
            offset = y - year
        else:
            return None, f"报送截止“{value}”看不懂；{hint}"
    try:
        dt.date(y, m, d)
    except ValueError:
        return None, f"报送截止“{value}”不是有效日期；{hint}"
    if not 0 <= offset <= 1:
        return None, f"报送截止“{value}”应在评价年度当年或次年；{hint}"
    return {"year_offset": offset, "month": m, "day": d}, None
