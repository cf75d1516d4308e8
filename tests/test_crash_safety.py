"""A 300-file run killed with SIGKILL at several points, then run to completion (spec §11).

After each kill: no process of the killed run is left, and the next run may take the folder.
After each completed run: exit 0, every output (outside .perfxl/) byte-identical to a clean run's
into a fresh folder, nothing set aside under 保留/ (perfxl recognised all it had written), and no
temporary or journal file left. The runs alternate between two deadlines, so that a killed run
leaves the folder half old batch, half new: the hardest case for telling perfxl's files apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import good_values
from typer.testing import CliRunner

from perfxl.cli import app
from perfxl.write.fill import fill_workbook
from perfxl.write.folder import KEEP

pytestmark = pytest.mark.slow

UNITS = 300
#: two option sets that change every output: filed 2021-06-04, so the second makes every unit late
DEADLINES = ("2021-06-20", "2021-06-01")
#: one filled workbook per kind of result, copied under distinct unit codes
VARIANTS = ({}, {"carryover_end": Decimal("42.53")}, {"satisfaction": 0.5}, {"phone": None},
            {"text_problems": "个别项目支出进度偏慢。"})


def _copy_as(src: Path, dest: Path, code: str) -> None:
    """The same workbook under another unit code: the code's one inline string is rewritten (a
    workbook is a zip of XML parts; only the 基础数据表 part changes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if b"<t>T001</t>" in data:
                assert data.count(b"<t>T001</t>") == 1
                data = data.replace(b"<t>T001</t>", f"<t>{code}</t>".encode())
            zout.writestr(info, data)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, template_path) -> Path:
    """300 returns in 10 district folders: five kinds of result, each unit its own code."""
    root = tmp_path_factory.mktemp("crash")
    bases = []
    for n, changes in enumerate(VARIANTS):
        vals = {**good_values(), **changes}
        fill_workbook(template_path, vals, root / f"base{n}.xlsx")
        bases.append(root / f"base{n}.xlsx")
    folder = root / "in"
    for i in range(UNITS):
        district = folder / f"区县{i % 10:02d}"
        district.mkdir(parents=True, exist_ok=True)
        _copy_as(bases[i % len(bases)], district / f"U{i:04d}.xlsx", f"U{i:04d}")
    return folder


def outputs(root: Path) -> dict[str, bytes]:
    """Every file outside .perfxl/, by POSIX relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != ".perfxl"}


def command(inbox: Path, out: Path, deadline: str) -> list[str]:
    return [sys.executable, "-m", "perfxl", "run", str(inbox), "--out", str(out), "--deadline", deadline]


def complete(inbox: Path, out: Path, deadline: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command(inbox, out, deadline), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def clean(inbox, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Each deadline's outputs from a clean run into a fresh folder."""
    runs = {}
    for deadline in DEADLINES:
        out = tmp_path_factory.mktemp("clean") / "out"
        complete(inbox, out, deadline)
        runs[deadline] = outputs(out)
    return runs


def test_the_copies_are_read_as_300_distinct_units(clean):
    """The cheap copies must be honest returns: read, scored, each its own unit and outputs."""
    files = json.loads(clean[DEADLINES[0]]["results.json"])["files"]
    assert len(files) == UNITS
    assert sorted(f["unit_code"] for f in files) == [f"U{i:04d}" for i in range(UNITS)]
    assert {f["status"] for f in files} == {"reviewed", "error"}
    reports = [rel for rel in clean[DEADLINES[0]] if rel.startswith("reports/") and rel.endswith(".md")]
    assert len(reports) == UNITS
    assert sum(rel.startswith("feedback/") for rel in clean[DEADLINES[0]]) >= UNITS // 2
    changed = {rel for rel in clean[DEADLINES[0]] if clean[DEADLINES[0]][rel] != clean[DEADLINES[1]].get(rel)}
    assert len(changed) > UNITS, "the two deadlines must change most outputs, or a kill mixes nothing"


# -- processes --------------------------------------------------------------------------------


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live, non-zombie process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            table[int(entry.name)] = int(fields[1])
    return table


def _descendants(pid: int) -> set[int]:
    table = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def _mentioning(text: str) -> set[int]:
    """Live processes whose command line mentions `text`."""
    found = set()
    for pid in _parents():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline:
            found.add(pid)
    return found


def _describe(pid: int) -> str:
    """pid, state, parent and command line, for a failure message."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return f"{pid} (gone)"
    state, parent = stat[stat.rindex(")") + 2:].split()[:2]
    return f"{pid} {state} parent {parent}: {cmdline[:120]}"


def _survivors(pids: set[int], out: Path, grace: float = 10.0) -> set[int]:
    """Those of `pids` (and any process naming `out`) still alive after `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        alive = (pids & set(_parents())) | _mentioning(str(out))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


# -- kill points ----------------------------------------------------------------------------------


def after(seconds: float) -> Callable[[Path, float], bool]:
    return lambda out, started: time.monotonic() - started >= seconds


def written(prefix: str) -> Callable[[Path, float], bool]:
    """An output below `prefix` written by this run (the deadlines alternate: every output changes)."""
    def check(out: Path, started: float) -> bool:
        since = time.time() - (time.monotonic() - started)
        try:
            return any(p.is_file() and p.stat().st_mtime >= since for p in out.glob(prefix))
        except OSError:
            return False
    return check


def temporary(out: Path, started: float) -> bool:
    """A temporary file of the run exists (killed mid-write)."""
    return any((out / ".perfxl" / "tmp").glob("*")) if (out / ".perfxl" / "tmp").is_dir() else False


def kill_at(inbox: Path, out: Path, deadline: str, when: Callable[[Path, float], bool], name: str) -> None:
    """Start a run, kill -9 it when `when` holds, and check that none of its processes stays."""
    log = out.parent / f"killed-{name}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command(inbox, out, deadline), stdout=sink, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        while not when(out, started):
            assert proc.poll() is None, f"the run ended before the kill point {name}: {log.read_text('utf-8')}"
            assert time.monotonic() - started < 120, f"kill point {name} never came"
            time.sleep(0.01)
        family = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run had ended before the kill point {name}"
    left = _survivors(family, out)
    described = [_describe(pid) for pid in sorted(left)]
    for pid in left:  # do not let them disturb the next run; the assertion below reports them
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the run killed at {name} still alive 10 s later: {described}"


def check_complete(inbox: Path, out: Path, deadline: str, expected: dict[str, bytes]) -> None:
    done = complete(inbox, out, deadline)
    assert "另一个 perfxl" not in done.stderr  # the dead run's lock was taken over
    assert not (out / KEEP).exists(), f"perfxl set its own files aside: {sorted(p.name for p in (out / KEEP).rglob('*'))}"
    assert KEEP not in done.stdout
    got = outputs(out)
    assert sorted(got) == sorted(expected)
    assert [rel for rel in got if got[rel] != expected[rel]] == []
    assert not list((out / ".perfxl").glob("tmp/*")), "temporary files left"
    assert not list((out / ".perfxl").glob("journal/*")), "journals left"


def test_a_run_killed_anywhere_is_recovered_byte_for_byte(inbox, clean, tmp_path):
    out = tmp_path / "out"
    a, b = DEADLINES
    steps = [  # (deadline, kill points): each step ends with a run to completion under its deadline
        (a, [("0.3s", after(0.3)), ("reports-appear", written("reports/*.md"))]),
        (b, [("1s", after(1.0)), ("feedback-written", written("feedback/*.xlsx"))]),
        # summary.xlsx first: an output whose content a killed run already wrote is not written again
        (a, [("summary-written", written("summary.xlsx")), ("2s", after(2.0)), ("mid-write", temporary)]),
    ]
    for deadline, kills in steps:
        for name, when in kills:
            kill_at(inbox, out, deadline, when, name)
        check_complete(inbox, out, deadline, clean[deadline])


def test_a_second_run_during_a_real_one_is_refused_and_the_killed_ones_lock_is_taken_over(inbox, clean, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen(command(inbox, out, DEADLINES[0]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while not written("reports/*.md")(out, started):
            assert first.poll() is None and time.monotonic() - started < 120
            time.sleep(0.01)
        second = CliRunner().invoke(app, ["run", str(inbox), "--out", str(out), "--deadline", DEADLINES[0]])
        assert first.poll() is None, "the first run ended before the second was refused: the test proves nothing"
        assert second.exit_code == 2, second.output
        assert f"进程 {first.pid}" in second.output
        assert "Traceback" not in second.output
        family = _descendants(first.pid)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    assert not _survivors(family, out)
    check_complete(inbox, out, DEADLINES[0], clean[DEADLINES[0]])
