"""Time one whole process tree: wall seconds, CPU seconds of every process in it, peak memory.

    launcher = Launcher()
    m = launcher.measure([sys.executable, "-m", "perfxl", "check", folder])
    m.wall, m.cpu, m.cpu_main, m.rss_largest, m.rss_tree, m.orphans

CPU. `os.wait4` gives the child's ru_utime + ru_stime, which on Linux include the children the
child *waited for* (reaped), and their own reaped children, recursively; a descendant nobody
reaped is not in it. perfxl's workers are children of multiprocessing's forkserver, not of
perfxl: the forkserver reaps them (so their CPU is in the forkserver's figure), but perfxl never
waits for the forkserver, which exits only after perfxl did (when its lifeline pipe closes). It
is then an orphan, so its CPU and that of every worker would be lost: on a 50-file `perfxl run`
the main child's own figure was 1.8 s of 2.8 s. The measuring process therefore makes itself a
child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): orphans of the measured tree are
re-parented to it, it reaps them after the main child, and `cpu` is the sum of the main child's
rusage and every orphan's (`cpu_main` is the main child's alone, `orphans` how many there were:
2 for perfxl, the forkserver and multiprocessing's resource tracker). Without prctl (not Linux)
`cpu` is `cpu_main` and may miss the workers.

Memory. ru_maxrss of wait4 is the largest peak of any single process of the reaped tree, not
the tree's sum (a worker's peak and the parent's peak at different moments). `rss_tree` is
sampled: every `interval` s the RSS of every process in the tree is summed, from
/proc/<pid>/task/*/children and /proc/<pid>/statm (a few small reads; psutil, which scans every
process of the machine to find children, only where /proc has no children files). Summed RSS
counts pages shared between processes (the forkserver's imports in each forked worker) once per
process, so it over-states what the tree takes from the machine; a peak shorter than the
interval can be missed. `pss_tree` sums the proportional set size instead (a shared page split
between the processes sharing it, /proc/<pid>/smaps_rollup): what the tree really takes, but
sampled only every PSS_EVERY s (sooner while the RSS sum grows), because reading it walks each
process's page tables; a process of less than ~0.1 s gets only its first sample.

The launcher. A process started by fork or vfork and exec carries its parent's resident size
into its own ru_maxrss (Linux keeps the old address space's high-water mark at exec): spawned
from the benchmark, which holds openpyxl and generated packages, even `/bin/true` shows 50+ MiB.
So commands are measured by `Launcher`, a fresh slim interpreter (`python -I -S measure.py
--serve`: os, signal, time and ctypes only, no threads) that spawns, samples and reaps them and
answers one line per command; every peak has a floor of the launcher's own size (~9 MiB).

Wall: from the spawn to the main child's exit (what the user waits for; SIGCHLD wakes the
sampling loop at once); orphans still ending after it are reaped, not timed.
"""

from __future__ import annotations

import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
FIELDS = ("wall", "cpu", "cpu_main", "rss_largest", "rss_tree", "pss_tree", "orphans", "status")
PSS_EVERY = 0.5  # s between two PSS sums: smaps_rollup walks the page tables, ~5 ms for 100 MiB
PSS_SOONER = (0.1, 1.05)  # ... or sooner, 0.1 s after the last, once the RSS sum grew by 5 % since it
_SUBREAPER: list[bool] = []


class Measure:
    """wall: s to the main child's exit; cpu: user + system s of the main child and every orphan
    reaped after it; cpu_main: the main child's (with the children it reaped); rss_largest: MiB,
    ru_maxrss, the largest single process; rss_tree: MiB, the largest sampled sum over the tree;
    pss_tree: MiB, the largest sampled sum of PSS (0 where /proc has no smaps_rollup);
    orphans: processes of the tree reaped after the main child; status: its exit code."""

    __slots__ = FIELDS

    def __init__(self, *values: float) -> None:
        for name, value in zip(FIELDS, values, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return "Measure(" + ", ".join(f"{n}={getattr(self, n):.3f}" for n in FIELDS) + ")"


def subreaper() -> bool:
    """Make this process a child subreaper (once); whether it is one."""
    if not _SUBREAPER:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _SUBREAPER.append(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
        except (OSError, AttributeError, ImportError):
            _SUBREAPER.append(False)
    return _SUBREAPER[0]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss_proc(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss(pid)
        todo.extend(_children(pid))
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _tree_pss(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss(pid)
        todo.extend(_children(pid))
    return total


def _tree_rss_psutil(root: int) -> int:
    import psutil

    total = 0
    try:
        root_proc = psutil.Process(root)
        procs = [root_proc, *root_proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree_rss_method() -> str:
    if os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return "/proc/<pid>/task/*/children and statm"
    try:
        import psutil  # noqa: F401
    except ImportError:
        return "none: no /proc children files and no psutil, so the tree is its main process"
    return "psutil"


def _tree_rss():
    method = tree_rss_method()
    return _tree_rss_proc if method.startswith("/proc") else _tree_rss_psutil if method == "psutil" else _rss


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def reap_leftovers(timeout: float = 10.0) -> tuple[int, float, int]:
    """Reap every child this process has left (orphans re-parented to it), waiting up to
    `timeout` s for them to end: (how many, their CPU s, their largest ru_maxrss KiB)."""
    count, cpu, maxrss = 0, 0.0, 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count, cpu, maxrss
        if pid == 0:
            if time.monotonic() > deadline:
                return count, cpu, maxrss
            time.sleep(0.01)
            continue
        count, cpu, maxrss = count + 1, cpu + _cpu(usage), max(maxrss, usage.ru_maxrss)


def measure(cmd: list[str], *, interval: float = 0.05, ok: tuple[int, ...] = (0, 1)) -> Measure:
    """Run `cmd` (stdin and stdout /dev/null, stderr kept for the error) and measure its whole
    process tree here; an exit code outside `ok` is a RuntimeError naming the command."""
    subreaper()
    reap_leftovers(timeout=5.0)  # nothing of an earlier command may be counted in this one
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    errpath = f"/tmp/perfxl-bench-{os.getpid()}.stderr"
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    tree = _tree_rss()
    pss = _tree_pss if os.path.exists(f"/proc/{os.getpid()}/smaps_rollup") else None
    peak = pss_peak = pss_rss = 0
    pss_at = 0.0
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=actions, setsigmask=(), setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            break
        now_rss = tree(pid)
        peak = max(peak, now_rss)
        since = time.perf_counter() - pss_at
        if pss is not None and (since >= PSS_EVERY or (since >= PSS_SOONER[0] and now_rss >= pss_rss * PSS_SOONER[1])):
            pss_peak, pss_rss, pss_at = max(pss_peak, pss(pid)), now_rss, time.perf_counter()
        signal.sigtimedwait([signal.SIGCHLD], interval)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    orphans, orphan_cpu, orphan_rss = reap_leftovers()
    if code not in ok:
        with open(errpath, "rb") as fh:
            tail = fh.read().decode("utf-8", "replace")[-2000:]
        os.unlink(errpath)
        raise RuntimeError(f"exit {code}: {' '.join(cmd)}\n{tail}")
    os.unlink(errpath)
    largest = max(usage.ru_maxrss, orphan_rss) * 1024 / MIB
    tree_peak = max(peak / MIB, largest)
    return Measure(wall, _cpu(usage) + orphan_cpu, _cpu(usage), largest, tree_peak, pss_peak / MIB, orphans, code)


class Launcher:
    """A slim process that measures commands for its parent (see the module docstring)."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.subreaper = self._ask("subreaper") == "1"

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().rstrip("\n") or "error the launcher ended"

    def measure(self, cmd: list[str], *, interval: float = 0.05, ok: tuple[int, ...] = (0, 1)) -> Measure:
        args = "\x1f".join(str(c).replace("\n", "\x1e") for c in cmd)  # one line a request
        request = f"{interval}\t{','.join(map(str, ok))}\t{args}"
        kind, _, rest = self._ask(request).partition(" ")
        if kind != "ok":
            raise RuntimeError(rest.replace("\x1e", "\n"))
        values = rest.split()
        return Measure(*map(float, values[:-2]), int(values[-2]), int(values[-1]))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def serve() -> None:
    """The launcher's loop: one request a line on stdin ("subreaper", or interval TAB exit codes
    TAB the command's arguments joined by \\x1f, their newlines as \\x1e), one answer a line on stdout."""
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line == "subreaper":
            answer = "1" if subreaper() else "0"
        else:
            try:
                interval, ok, cmd = line.split("\t", 2)
                args = [c.replace("\x1e", "\n") for c in cmd.split("\x1f")]
                m = measure(args, interval=float(interval), ok=tuple(int(c) for c in ok.split(",")))
                answer = "ok " + " ".join(str(getattr(m, n)) for n in FIELDS)
            except (RuntimeError, OSError, ValueError) as exc:
                answer = "error " + str(exc).replace("\n", "\x1e")
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()
    reap_leftovers(timeout=2.0)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve()
