"""Help and usage errors in Chinese (issue 11): everything typer and click would print in English.

typer 0.2x vendors click without its gettext hooks, and its rich help boxes cut a CJK help text
with "…" when a column runs out. So perfxl renders help itself — 用法, 参数, 选项, 命令, [必填],
[默认：…], 显示帮助并退出 — as plain text wrapped by display width (a CJK character takes two
columns), never cut at any terminal width; and `Group.main` catches click's usage errors and
prints them as the rest of perfxl prints a usage error: "错误：…" and "提示：…", exit 2. Click's
exception classes are told apart by name, since typer keeps them in a private module.
"""

from __future__ import annotations

import re
import shutil
import sys
from typing import Any

from typer.core import TyperCommand, TyperGroup

from perfxl.ooxml.refs import display_width
from perfxl.terminal import clean

HELP_TEXT = "显示帮助并退出。"
MAX_WIDTH = 100
#: the option column is at most this wide; a longer one puts its help on the next line
MAX_LEFT = 28
#: never at the start of a line (Chinese line-breaking rules): closing punctuation
_NO_START = set("，。、；：？！）》」』】”’%％,.;:?!)]}")
#: an ASCII word (a path, an option) and a bracketed note ([默认：gd-dept-2020]) stay whole
_TOKEN = re.compile(r"\[[^\]\n]{0,30}\]|[\x21-\x7e]+|\s|.", re.S)


def width() -> int:
    """The columns help may use: the terminal's (COLUMNS counts), at most MAX_WIDTH, one spare."""
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, MAX_WIDTH)) - 1


def wrap(text: str, limit: int) -> list[str]:
    """`text` in lines of at most `limit` columns (display width), broken between CJK characters
    or at spaces, never inside an ASCII word unless it alone is too long; nothing is dropped."""
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        line = ""
        for token in _TOKEN.findall(para):
            if display_width(line + token) <= limit or not line.strip():
                line += token
                continue
            while token[0] in _NO_START and len(line.rstrip()) > 1:  # punctuation stays with what it closes
                line, token = line[:-1], line[-1] + token
            lines.append(line.rstrip())
            line = token.lstrip()
            while display_width(line) > limit:  # an ASCII word longer than the line
                head = _fit(line, limit)
                lines.append(head)
                line = line[len(head):]
        lines.append(line.rstrip())
    return lines


def _fit(text: str, limit: int) -> str:
    out = ""
    for ch in text:
        if display_width(out + ch) > limit:
            break
        out += ch
    return out or text[:1]


# -- what a command has ------------------------------------------------------------------------


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _metavar(param: Any) -> str:
    meta = getattr(param, "metavar", None) or (param.name or "").upper()
    return f"{meta}…" if getattr(param, "nargs", 1) == -1 else meta


def _help(param: Any) -> str:
    if param.name == "help":
        return HELP_TEXT
    text = (getattr(param, "help", None) or "").strip()
    extras = []
    if getattr(param, "required", False):
        extras.append("[必填]")
    default = getattr(param, "default", None)
    if (not _is_argument(param) and not getattr(param, "is_flag", False) and default not in (None, "", False)
            and getattr(param, "show_default", True) is not False):
        extras.append(f"[默认：{default}]")
    if not extras:
        return text
    gap = "" if text and display_width(text[-1]) == 2 else " "  # no space after 。
    return (text + gap + " ".join(extras)).strip()


def _option_names(param: Any) -> str:
    names = sorted(param.opts, key=lambda o: (o.startswith("--"), o))
    shown = ("    " if names[0].startswith("--") else "") + ", ".join(names)  # long names aligned
    if not getattr(param, "is_flag", False):
        shown += f" {param.metavar or '值'}"
    return shown


def usage(command: Any, ctx: Any) -> str:
    """用法 line: `perfxl run [选项] 文件夹`."""
    if isinstance(command, TyperGroup):
        return f"{ctx.command_path} [选项] 命令 [参数]…"
    args = " ".join(_metavar(p) for p in command.get_params(ctx) if _is_argument(p) and not getattr(p, "hidden", False))
    return f"{ctx.command_path} [选项] {args}".rstrip()


def _rows(out: list[str], title: str, rows: list[tuple[str, str]], total: int) -> None:
    if not rows:
        return
    out += ["", f"{title}："]
    left = min(MAX_LEFT, max(display_width(name) for name, _ in rows))
    for name, text in rows:
        pad = 2 + left + 2
        lines = wrap(text, total - pad)
        if display_width(name) > left:  # a long name: its help starts below it
            out.append(f"  {name}")
            out += [" " * pad + line for line in lines if line]
            continue
        first = f"  {name}" + " " * (left - display_width(name)) + "  "
        out.append((first + lines[0]).rstrip())
        out += [" " * pad + line for line in lines[1:]]


def render_help(command: Any, ctx: Any) -> str:
    """The whole help page of a command or of the group, in Chinese, wrapped to the terminal."""
    total = width()
    out = wrap(f"用法：{usage(command, ctx)}", total)
    if command.help:
        out.append("")
        for i, para in enumerate(command.help.strip().split("\n\n")):
            out += [""] * (i > 0) + wrap(" ".join(para.split("\n")).strip(), total)
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    _rows(out, "参数", [(_metavar(p), _help(p)) for p in params if _is_argument(p)], total)
    _rows(out, "选项", [(_option_names(p), _help(p)) for p in params if not _is_argument(p)], total)
    if isinstance(command, TyperGroup):
        commands = [(name, (cmd.short_help or cmd.help or "").strip().split("\n")[0])
                    for name, cmd in command.commands.items() if not cmd.hidden]
        _rows(out, "命令", commands, total)
        out += ["", *wrap(f"运行 {ctx.command_path} 命令 -h 查看该命令的说明和示例。", total)]
    if command.epilog:
        out.append("")
        for line in command.epilog.strip().split("\n"):
            if line.strip():
                out += wrap(line.rstrip(), total)
    return "\n".join(out) + "\n"


# -- errors ---------------------------------------------------------------------------------------


def _named(param: Any) -> str:
    if param is None:
        return "参数"
    if _is_argument(param):
        what = (getattr(param, "help", None) or "").strip().rstrip("。")
        return f"参数 {_metavar(param)}" + (f"（{what}）" if what else "")
    return "选项 " + "/".join(sorted(param.opts, key=lambda o: (o.startswith("--"), o)))


def _has_cjk(text: str) -> bool:
    return any(display_width(ch) == 2 for ch in text)


_ENGLISH = [  # click's own sentences, as the vendored click words them
    (re.compile(r"No such command '(?P<x>.*?)'\.?(?: Did you mean (?P<y>.*?)\?)?$"),
     lambda m: f"没有 {m['x']} 这个命令" + (f"；您要找的可能是 {m['y']}" if m["y"] else "")),
    (re.compile(r"Missing command\.?$"), lambda m: "缺少命令"),
    (re.compile(r"Got unexpected extra arguments?(?:\(s\))? \((?P<x>.*)\)$"), lambda m: f"多余的参数：{m['x']}"),
    (re.compile(r"Option '(?P<x>.*?)' requires (?:an argument|(?P<n>\d+) arguments)\.?$"),
     lambda m: f"选项 {m['x']} 后面缺少值" if not m["n"] else f"选项 {m['x']} 后面应有 {m['n']} 个值"),
    (re.compile(r"Option '(?P<x>.*?)' does not take a value\.?$"), lambda m: f"选项 {m['x']} 不带值"),
    (re.compile(r"No such option: (?P<x>\S+)$"), lambda m: f"没有 {m['x']} 这个选项"),
]


def reason(exc: Exception) -> str:
    """One Chinese line saying what is wrong with the command line."""
    kind = type(exc).__name__
    param = getattr(exc, "param", None)
    message = str(getattr(exc, "message", "") or "")
    if kind == "MissingParameter":
        return f"缺少{_named(param)}"
    if kind == "NoSuchOption":
        text = f"没有 {exc.option_name} 这个选项"  # type: ignore[attr-defined]
        near = getattr(exc, "possibilities", None)
        return text + (f"；您要找的可能是 {'、'.join(sorted(near))}" if near else "")
    if kind == "BadParameter":
        return f"{_named(param)}的值无效" + (f"：{message}" if _has_cjk(message) else "")
    if _has_cjk(message):
        return message
    for pattern, say in _ENGLISH:
        m = pattern.match(message)
        if m:
            return say(m)
    return f"命令行有误（{message}）" if message else "命令行有误"


def hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return "运行 perfxl -h 查看用法"
    if isinstance(ctx.command, TyperGroup) and type(exc).__name__ == "UsageError":
        names = "、".join(n for n, c in ctx.command.commands.items() if not c.hidden)
        return f"可用的命令：{names}；运行 {ctx.command_path} -h 查看说明"
    return f"用法 {usage(ctx.command, ctx)}；运行 {ctx.command_path} -h 查看说明和示例"


def show_error(exc: Exception) -> None:
    for line in (f"错误：{reason(exc)}", f"提示：{hint(exc)}"):
        print(clean(line), file=sys.stderr)


def is_usage_error(exc: BaseException) -> bool:
    """click's UsageError and its kinds (typer keeps click's classes in a private module)."""
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)


def _parse(parse: Any, ctx: Any, args: list[str]) -> list[str]:
    try:
        return parse(ctx, args)
    except Exception as exc:  # the parser's errors know no command: give them one, for the hint
        if is_usage_error(exc) and getattr(exc, "ctx", None) is None:
            exc.ctx = ctx  # type: ignore[attr-defined]
        raise


class Command(TyperCommand):
    """A command whose help is perfxl's Chinese page."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(self, ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse(super().parse_args, ctx, args)


class Group(TyperGroup):
    """The `perfxl` group: Chinese help, and click's usage errors printed in Chinese (exit 2)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(self, ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return _parse(super().parse_args, ctx, args)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        _chinese(self)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `perfxl` alone: the help page, as click does
                print(render_help(exc.ctx.command, exc.ctx), end="", file=sys.stderr)  # type: ignore[attr-defined]
                code = 2
            elif is_usage_error(exc):
                show_error(exc)
                code = 2
            elif type(exc).__name__ == "Abort":
                print("已中止。", file=sys.stderr)
                code = 1
            else:
                raise
            if not standalone_mode:
                raise
            sys.exit(code)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _chinese(group: TyperGroup) -> None:
    """Every command below the group gets the Chinese help, also those a sub-app (`perfxl form`)
    declared with typer's own classes: the subclasses add behaviour only, no state."""
    for cmd in group.commands.values():
        if type(cmd) is TyperCommand:
            cmd.__class__ = Command
        elif type(cmd) is TyperGroup:
            cmd.__class__ = Group
        if isinstance(cmd, TyperGroup):
            _chinese(cmd)


def new_app(name: str, help: str):
    """A typer app of perfxl's: help and usage errors in Chinese, -h as --help, no shell completion,
    no rich tracebacks (main() turns what escapes into one line)."""
    import typer

    return typer.Typer(name=name, cls=Group, help=help, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})
