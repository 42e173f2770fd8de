"""The user's files, in and out: read within a size bound, checked writable before a scan.

Every failure is one `InputError` naming the file, so a wrong path, a binary file or a
50 MB one-line inventory costs one line on stderr and exit code 2, never a traceback,
an exhausted memory or a scan whose results cannot be written.
"""

from __future__ import annotations

import os
from pathlib import Path

from scanner.model import InputError

MIB = 1024 * 1024
# Bounds of what Bolwerk reads from the user: generous for real estates (an inventory of
# 100,000 endpoints is about 15 MiB of TOML), far below what would exhaust memory.
INVENTORY_LIMIT = 32 * MIB
POLICY_LIMIT = 4 * MIB
BASELINE_LIMIT = 256 * MIB
TRUST_ANCHOR_LIMIT = 1 * MIB
CA_BUNDLE_LIMIT = 64 * MIB
PORT_MAP_LIMIT = 16 * MIB


def read_bytes(path: Path | str, what: str, limit: int) -> bytes:
    """The whole file, refused when larger than `limit` (read at most one byte beyond it)."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > limit:  # a regular file: refused unread
                raise InputError(str(path), f"{what} is larger than {limit // MIB} MiB")
            data = fh.read(limit + 1)  # a pipe or a device: read no more than needed to tell
    except IsADirectoryError:
        raise InputError(str(path), f"{what}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(str(path), f"{what} is larger than {limit // MIB} MiB")
    return data


def read_text(path: Path | str, what: str, limit: int, encoding: str = "utf-8") -> str:
    """The file as text (`utf-8-sig` drops a byte-order mark), bounded as `read_bytes`."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}", f"{what} is not UTF-8 text (byte {exc.start})") from None


def check_writable(path: Path | str, what: str, *, create_parents: bool = True) -> None:
    """Refuse, before any work, an output Bolwerk could not write later; creates nothing.

    An existing file must be writable; a new one needs a writable directory: its parent,
    or with `create_parents` (reports make the folders they need) the nearest existing
    ancestor.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(str(path), f"{what}: is a directory, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InputError(str(path), f"{what}: not writable")
        return
    folder = path.parent
    while create_parents and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        raise InputError(str(path), f"{what}: the directory {folder} does not exist")
    if not folder.is_dir():
        raise InputError(str(path), f"{what}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(str(path), f"{what}: the directory {folder} is not writable")


def check_writable_folder(path: Path | str, what: str) -> None:
    """A folder Bolwerk will write into (created with its parents when missing)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(str(path), f"{what}: is a file, not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(str(path), f"{what}: not writable")
        return
    check_writable(path, what)
