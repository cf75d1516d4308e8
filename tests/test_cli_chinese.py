"""Help and usage text in Chinese, including what typer and click would print themselves, and
option help never cut with "…" (issue 11)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.main import get_command
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.cli.usage import wrap
from perfxl.ooxml.refs import display_width

runner = CliRunner()
ENGLISH = re.compile(r"Usage|Options|Arguments|Commands|Error|Show this message|required|default|Try |Missing|Invalid")


def _commands(cmd=None, path=()):
    """Every command path of the app: (), ("run",), ("form", "export") …"""
    cmd = cmd or get_command(app)
    yield path
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands())


def _help_texts(cmd=None) -> list[str]:
    """The help text of every option and argument of every command."""
    cmd = cmd or get_command(app)
    texts = [p.help for p in cmd.params if getattr(p, "help", None)]
    for sub in getattr(cmd, "commands", {}).values():
        texts += _help_texts(sub)
    return texts


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "perfxl")
def test_help_is_chinese_and_fits_the_terminal_whole(path, columns):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("用法：perfxl")
    assert not ENGLISH.search(out), out
    assert "…" not in out.replace("[参数]…", "").replace("路径…", "") and "..." not in out
    assert "显示帮助并退出" in out
    assert max(display_width(line) for line in out.splitlines()) <= columns - 1
    flat = _flat(out)
    cmd = get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    for param in cmd.params:  # every help text is there in full, only wrapped
        if getattr(param, "help", None) and param.name != "help":
            assert _flat(param.help) in flat, param.help


def test_options_and_arguments_say_required_and_default_in_chinese():
    out = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).output
    assert "[必填]" in out and "[默认：output]" in out and "参数：" in out and "选项：" in out
    out = runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).output
    assert "命令：" in out and "run" in out


def test_every_help_text_exists():
    assert all(text.strip() for text in _help_texts())


@pytest.mark.parametrize(("args", "reason"), [
    (["run"], "错误：缺少参数 文件夹"),
    (["check"], "错误：缺少参数 路径"),
    (["template"], "错误：缺少选项 -o/--out"),
    (["run", "x", "--jobs", "0"], "错误：并行进程数 --jobs 0 无效"),
    (["run", "x", "--jobs", "abc"], "错误：并行进程数 --jobs abc 无效"),
    (["run", "x", "--jobs"], "错误：选项 --jobs 后面缺少值"),
    (["run", "x", "--year", "二〇二〇"], "错误：评价年度 二〇二〇 无效"),
    (["run", "x", "--nosuch"], "错误：没有 --nosuch 这个选项"),
    (["run", "x", "y"], "错误：多余的参数：y"),
    (["run", "x", "--docx=1"], "错误：选项 --docx 不带值"),
    (["nosuch"], "错误：没有 nosuch 这个命令"),
])
def test_usage_errors_are_chinese_with_a_hint_and_exit_2(args, reason):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(reason), result.output
    assert lines[1].startswith("提示：")
    assert not ENGLISH.search(result.output), result.output
    assert "Traceback" not in result.output


def test_perfxl_alone_shows_the_chinese_help_and_exits_2():
    result = runner.invoke(app, [])
    assert result.exit_code == 2
    assert result.output.startswith("用法：perfxl") and not ENGLISH.search(result.output)


@pytest.mark.parametrize("columns", ["80", "100"])
def test_the_installed_command_prints_chinese(columns):
    """The real entry point, in a process of its own, as a clerk's terminal runs it."""
    env = {**os.environ, "COLUMNS": columns}
    shown = subprocess.run([sys.executable, "-m", "perfxl", "run", "--help"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("用法：")
    assert shown.stdout.splitlines()[0].endswith("perfxl run [选项] 文件夹")
    assert not ENGLISH.search(shown.stdout) and "…" not in shown.stdout
    assert max(display_width(line) for line in shown.stdout.splitlines()) < int(columns)
    wrong = subprocess.run([sys.executable, "-m", "perfxl", "run", "x", "--jobs", "0"], capture_output=True,
                           text=True, env=env)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("错误：") and "提示：" in wrong.stderr and not ENGLISH.search(wrong.stderr)
    missing = subprocess.run([sys.executable, "-m", "perfxl", "run"], capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("错误：缺少参数")


@given(st.text(alphabet=st.sampled_from(list("部门整体支出，。（）：、abc-_/ .x1")), max_size=200),
       st.integers(min_value=4, max_value=60))
def test_wrap_keeps_every_character_and_every_line_within_the_limit(text, limit):
    text = text.replace("\n", "")
    lines = wrap(text, limit)
    assert _flat("".join(lines)) == _flat(text)
    assert all(display_width(line) <= limit for line in lines)


def test_wrap_keeps_closing_punctuation_off_the_start_of_a_line():
    lines = wrap("同时生成 Word 版自评报告（reports/*.docx，公文样式）。", 44)
    assert not any(line.startswith(("）", "。", "，")) for line in lines)
    assert "reports/*.docx" in "".join(lines)  # a path is never broken
