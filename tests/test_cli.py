"""The command line through typer's CliRunner: exit codes, outputs, help texts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perfxl.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "returns-2020"
SAMPLE = "440800001_中共湛江市委组织部本级.xlsx"
runner = CliRunner()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "output"
    result = runner.invoke(app, ["run", str(EXAMPLES), "--out", str(out)])
    return result, out


def test_run_completes_and_writes_every_output(sample_run):
    result, out = sample_run
    assert result.exit_code == 0, result.output
    assert (out / "summary.xlsx").is_file()
    assert (out / "results.json").is_file()
    assert (out / "reports" / SAMPLE.replace(".xlsx", ".md")).is_file()
    assert "已审核" in result.output and "错误" in result.output


def test_sample_unit_gives_exactly_the_spec_result(sample_run):
    _, out = sample_run
    data = json.loads((out / "results.json").read_text("utf-8"))
    assert list(data) == ["rubric", "year", "deadline", "files", "not_submitted", "findings"]
    (entry,) = [f for f in data["files"] if f["file"] == SAMPLE]
    assert entry["status"] == "reviewed"
    assert entry["self_total"] == 100 and entry["reviewed_total"] == 100
    assert entry["self_grade"] == entry["reviewed_grade"] == "优秀"
    assert [(f["code"], f["severity"]) for f in entry["findings"]] == [("full-marks-despite-problems", "warning")]


def test_rerun_into_the_same_folder_changes_nothing(sample_run):
    _, out = sample_run
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["run", str(EXAMPLES), "--out", str(out)])
    assert result.exit_code == 0
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_check_exits_1_on_errors_and_0_without(tmp_path):
    bad = runner.invoke(app, ["check", str(EXAMPLES / "440800002_湛江市统计局本级.xlsx")])
    assert bad.exit_code == 1
    assert "balance-mismatch" in bad.output and "相差 10.00" in bad.output
    good = runner.invoke(app, ["check", str(EXAMPLES / SAMPLE)])
    assert good.exit_code == 0
    assert "full-marks-despite-problems" in good.output


@pytest.mark.parametrize("args, reason", [
    (["run", str(EXAMPLES), "--out", str(EXAMPLES / "out")], "位于输入文件夹"),
    (["run", str(EXAMPLES), "--rubric", "no-such-rubric"], "找不到指标体系"),
    (["run", "no-such-folder"], "找不到文件夹"),
    (["check", str(EXAMPLES), "--deadline", "2021-13-01"], "截止日期"),
    (["template", "-o", "x.pdf"], ".xlsx"),
])
def test_usage_errors_exit_2_with_reason_and_hint(args, reason):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert reason in result.output
    assert "提示：" in result.output
    assert "Traceback" not in result.output


def test_output_inside_input_is_refused_before_anything_is_written():
    runner.invoke(app, ["run", str(EXAMPLES), "--out", str(EXAMPLES / "out")])
    assert not (EXAMPLES / "out").exists()


@pytest.mark.parametrize("command", ["template", "check", "run"])
def test_every_command_help_ends_with_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    lines = [line.strip() for line in result.output.strip().splitlines() if line.strip()]
    options_end = max(i for i, line in enumerate(lines) if line.startswith("-h, --help"))
    after = lines[options_end + 1:]  # what follows the options
    assert after and after[0].startswith("示例：perfxl " + command), after
    assert all(line.lstrip("示例：　").startswith("perfxl " + command) for line in after), after


def test_template_command_writes_the_workbook(tmp_path):
    out = tmp_path / "模板.xlsx"
    result = runner.invoke(app, ["template", "-o", str(out)])
    assert result.exit_code == 0
    import openpyxl

    assert openpyxl.load_workbook(out).sheetnames == ["填报说明", "基础数据表", "评分表", "_meta"]


def test_python_dash_m_and_version():
    done = subprocess.run([sys.executable, "-m", "perfxl", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("perfxl ")


def test_help_does_not_import_pandas_or_openpyxl():
    code = "import sys; from perfxl.cli import app; print(sorted(m for m in ('pandas','openpyxl') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_two_fresh_runs_give_byte_identical_outputs(tmp_path):
    """No timestamps, durations or absolute paths in any output (spec §6)."""
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name / "output"
        assert runner.invoke(app, ["run", str(EXAMPLES), "--out", str(out)]).exit_code == 0
        # .perfxl/ is the run's cache, not an output: it records when each output was written
        outputs.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*")
                        if p.is_file() and ".perfxl" not in p.parts})
    assert outputs[0].keys() == outputs[1].keys()
    assert {p for p in outputs[0] if outputs[0][p] != outputs[1][p]} == set()
    assert str(tmp_path) not in outputs[0][Path("results.json")].decode("utf-8")


def test_an_internal_error_ends_with_a_message_not_a_traceback(tmp_path, monkeypatch):
    import perfxl.run.job

    def broken(*args, **kwargs):
        raise RuntimeError("模拟的内部错误")

    monkeypatch.setattr(perfxl.run.job, "write_all", broken)
    monkeypatch.setattr(sys, "argv", ["perfxl", "run", str(EXAMPLES), "--out", str(tmp_path / "o")])
    from perfxl.cli import main

    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 3


def test_internal_error_message_is_plain_chinese(tmp_path, monkeypatch, capsys):
    import perfxl.run.job

    monkeypatch.setattr(perfxl.run.job, "write_all", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    monkeypatch.setattr(sys, "argv", ["perfxl", "run", str(EXAMPLES), "--out", str(tmp_path / "o")])
    from perfxl.cli import main

    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert "perfxl 内部错误" in err and "Traceback" not in err


def test_a_gbk_console_gets_every_result_even_for_names_it_cannot_show(tmp_path):
    """Bureau PCs run a GBK console; a file name with an emoji must not end the command."""
    import os
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(EXAMPLES / "440800002_湛江市统计局本级.xlsx", folder / "单位😀.xlsx")
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}
    done = subprocess.run([sys.executable, "-m", "perfxl", "check", str(folder)], capture_output=True, env=env)
    assert done.returncode == 1  # the balance error, reported
    out = done.stdout.decode("gbk")
    assert "balance-mismatch" in out and "单位?.xlsx" in out
    assert "内部错误" not in done.stderr.decode("gbk")
