"""Failures of the output folder's environment (no space, read-only, …), in a clerk's words: exit 2."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path


class OutputFolderError(Exception):
    """The output folder cannot be used or written: exit 2 with the path and the cause in Chinese."""

    def __init__(self, path: str, cause: str, hint: str = "") -> None:
        super().__init__(path, cause, hint)  # all three in args, so that it pickles across processes
        self.path, self.cause, self.hint = path, cause, hint
        self.incomplete = False  # set when a run had begun to write: the folder lacks results.json

    def __str__(self) -> str:
        return f"{self.path}：{self.cause}"


def describe(exc: OSError) -> str:
    """An operating-system error in words a clerk understands."""
    winerror = getattr(exc, "winerror", None)
    if winerror in (32, 33):  # ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: Excel holds the file open
        return "文件正被其他程序（如 Excel/WPS）打开，请关闭后重新运行"
    causes = {
        errno.ENOSPC: "磁盘空间不足",
        getattr(errno, "EDQUOT", -1): "磁盘配额已用完",  # not on Windows
        errno.EROFS: "所在磁盘为只读，无法写入",
        errno.ENOTDIR: "路径中的某一级是文件而不是文件夹",
        errno.EISDIR: "此处是文件夹，不是文件",
        errno.EACCES: "没有访问权限",
        errno.EPERM: "没有访问权限",
        errno.EEXIST: "此处已有同名的文件或文件夹",
        errno.ENOENT: "路径不存在",
        errno.ENAMETOOLONG: "路径过长",
        errno.EBUSY: "文件正被其他程序使用",
        errno.EIO: "磁盘读写出错",
        errno.ELOOP: "这是一个链接，perfxl 不通过链接写入",
    }
    return causes.get(exc.errno or 0, f"无法写入（{exc.strerror or type(exc).__name__}）")


@contextlib.contextmanager
def environment(path: Path | str, exact: bool = False) -> Iterator[None]:
    """Turn an OSError in the block into an OutputFolderError naming `path` (or, unless `exact`,
    the error's own file: a temporary file's name means nothing to a clerk)."""
    try:
        yield
    except OutputFolderError:
        raise
    except OSError as exc:
        raise OutputFolderError(str(path if exact else exc.filename or path), describe(exc)) from exc
