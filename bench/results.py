"""What every bench script shares: loopback only, the machine's description, and RESULTS.md.

Each script calls `loopback_only()` before it starts the lab (the tests' guard: any
connect, send or lookup beyond 127.0.0.0/8 and ::1 is refused), prints its figures, and
with `--write` replaces its own section of bench/RESULTS.md with the same text: the
method (written by the script, so it says what the script did), the command, the table
and the reading of it.
"""

from __future__ import annotations

import os
import platform
import ssl
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from a checkout
    sys.path.insert(0, str(ROOT))

from scanner.lab import guard  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
_violations: list[str] | None = None


def loopback_only() -> None:
    global _violations
    if _violations is None:
        _violations = guard.install("bench")


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {' '.join(ssl.OPENSSL_VERSION.split()[:2])}"


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def publish(title: str, method: str, command: str, body: list[str], write: bool) -> None:
    """Print the section; with `write`, replace (or add) it in bench/RESULTS.md."""
    if _violations:
        raise SystemExit("bench: refusing to publish, non-loopback destinations were attempted: "
                         + ", ".join(_violations[:5]))
    paragraph = textwrap.fill(f"**Method.** {method} Machine: {machine()}.", 92, break_on_hyphens=False)
    text = "\n".join([title, "", paragraph, "", f"    {command}", "", *body, ""])
    print(text)
    if not write:
        return
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"  # + sections
    if title in current:
        head, _, rest = current.partition(title)
        tail = rest.split("\n## ", 1)
        current = head + text + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(current, encoding="utf-8")
    print(f"bench: wrote {title!r} to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
