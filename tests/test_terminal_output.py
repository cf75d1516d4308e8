"""What perfxl prints never carries a file's escape sequences to the clerk's terminal."""

from __future__ import annotations

from typer.testing import CliRunner

from perfxl.cli import app

# a file name may hold any byte but / and NUL; a cell may hold U+202E (XML refuses ESC itself)
HOSTILE_FILE = "坏名字\x1b]0;已被接管\x07\x1b[2J.xlsx"
HOSTILE_NAME = "测试局\u202egpj.exe"


def test_unit_and_file_names_are_printed_without_escape_sequences(tmp_path, make_return):
    make_return(f"in/{HOSTILE_FILE}", unit_code="E1", unit_name=HOSTILE_NAME, carryover_end=99)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "测试局" in result.output and "gpj.exe" in result.output  # the name is still shown …
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in result.output  # … without what would act on the terminal


def test_check_prints_file_names_without_escape_sequences(tmp_path, make_return):
    path = make_return(f"in/{HOSTILE_FILE}", unit_code="E2", carryover_end=99)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1  # the balance is off
    assert "balance-mismatch" in result.output and "坏名字" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
