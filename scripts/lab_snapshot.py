"""Snapshot every output of a full lab scan, normalised, to prove a refactoring changed nothing.

Scans every lab service (test-only ones included) with the default policy, writes the
JSON result, NDJSON, SARIF, JUnit, CSV, Markdown and the dashboard (nl and en), and
normalises what legitimately differs between two runs of the lab: times, run ids, the
lab's temporary folder, and values drawn at random when the lab starts (certificate
serials, fingerprints and keys, DNSSEC key tags, signature sizes). Each random value is
replaced by its order of first appearance, so a value shared by two places stays shared.

    python scripts/lab_snapshot.py write before/     # on the old code
    python scripts/lab_snapshot.py write after/      # on the new code
    python scripts/lab_snapshot.py compare before/ after/
    python scripts/lab_snapshot.py normalise before/ # again, after a change of this script

Loopback only: it starts the embedded lab under the tests' network guard.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
HEX = re.compile(r"(?<![0-9a-zA-Z])[0-9a-fA-F]{16,}(?![0-9a-zA-Z])")
LAB_DIR = re.compile(r"/tmp/bolwerk-lab-[^/\"'<\s]+")
DNS_KEY_TAG = re.compile(r"\b(DS|DNSKEY|RRSIG|key tag|tag) (\d+)\b")
RANDOM_INTS = {"key_tag", "tag", "size"}  # sizes vary with DER-encoded ECDSA signatures


class Normaliser:
    def __init__(self) -> None:
        self.seen: dict[Any, int] = {}

    def token(self, kind: str, value: Any) -> str:
        return f"<{kind}{self.seen.setdefault((kind, value), len(self.seen))}>"

    def text(self, s: str) -> str:
        s = LAB_DIR.sub("<lab>", s)
        s = RUN_ID.sub("<run>", s)
        s = TIME.sub("<time>", s)
        s = HEX.sub(lambda m: self.token("hex", m.group(0).lower()), s)
        return DNS_KEY_TAG.sub(lambda m: f"{m.group(1)} {self.token('tag', int(m.group(2)))}", s)

    def json(self, obj: Any, key: str = "") -> Any:
        if isinstance(obj, dict):
            return {self.text(k): self.json(v, k) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.json(v) for v in obj]
        if isinstance(obj, str):
            return self.text(obj)
        if key in RANDOM_INTS and isinstance(obj, int) and not isinstance(obj, bool):
            return self.token(key, obj) if key != "size" else "<size>"
        return obj


def scan(out: Path, contract: str | None = None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import lab_options  # the tests' lab options: one definition

    from reports.outputs import Outputs, write_run
    from scanner.cli import run_scan
    from scanner.inventory import load_inventory
    from scanner.lab import Lab, guard

    guard.install("lab snapshot")
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with Lab() as info, tempfile.TemporaryDirectory() as tmp:
        scanned = run_scan(load_inventory(info.inventory_all), lab_options(info), None, Path(tmp) / "h.db")
        files = {"sarif": raw / "result.sarif", "junit": raw / "junit.xml", "csv": raw / "findings.csv",
                 "markdown": raw / "summary.md", "ndjson": raw / "findings.ndjson"}
        options = {"json": {"contract": contract}} if contract else {}
        write_run(scanned.store, scanned.run_id, Outputs(files, raw / "out", "nl", options=options))
        scanned.store.close()
    normalise_tree(raw, out / "normalised")


def normalise_tree(raw: Path, dest: Path) -> None:
    norm = Normaliser()
    seed_from_facts(norm, raw / "out" / "results.json")
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        rel = path.relative_to(raw)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".json", ".sarif"):
            body = json.dumps(norm.json(json.loads(text)), indent=1, sort_keys=True, ensure_ascii=False)
        elif path.suffix == ".ndjson":
            body = "\n".join(json.dumps(norm.json(json.loads(line)), sort_keys=True, ensure_ascii=False)
                             for line in text.splitlines())
        else:
            body = norm.text(text)
        target.write_text(body + "\n", encoding="utf-8")


def seed_from_facts(norm: Normaliser, result_file: Path) -> None:
    """Number the random values in the order the facts hold them, before any output is read:
    a value that an output adds elsewhere (new evidence, say) then keeps the number it has in
    the facts, and adding it does not renumber every value after it."""
    from reports.hoist import expand  # a v1.1 result's facts are read as v1 has them

    if not result_file.is_file():
        return
    for svc in expand(json.loads(result_file.read_text(encoding="utf-8")))["services"]:
        for item in svc["endpoints"] + svc["mail_domains"]:
            norm.json(item["facts"])


def _without(obj: Any, keys: set[str]) -> Any:
    if isinstance(obj, dict):
        return {k: _without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_without(v, keys) for v in obj]
    return obj


def _lines(path: Path, ignore: set[str]) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if ignore and path.suffix in (".json", ".sarif"):
        text = json.dumps(_without(json.loads(text), ignore), indent=1, sort_keys=True, ensure_ascii=False)
    elif ignore and path.suffix == ".ndjson":
        text = "\n".join(json.dumps(_without(json.loads(line), ignore), sort_keys=True, ensure_ascii=False)
                         for line in text.splitlines())
    return text.splitlines()


def compare(a: Path, b: Path, context: int = 3, limit: int = 400, ignore: set[str] = frozenset()) -> int:
    a, b = a / "normalised", b / "normalised"
    files = sorted({p.relative_to(a) for p in a.rglob("*") if p.is_file()}
                   | {p.relative_to(b) for p in b.rglob("*") if p.is_file()})
    differing = 0
    shown = 0
    for rel in files:
        fa, fb = a / rel, b / rel
        la, lb = _lines(fa, ignore), _lines(fb, ignore)
        if la == lb:
            continue
        differing += 1
        for line in difflib.unified_diff(la, lb, f"a/{rel}", f"b/{rel}", n=context, lineterm=""):
            if shown < limit:
                print(line)
            shown += 1
    print(f"{len(files)} files compared, {differing} differ", file=sys.stderr)
    return 1 if differing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("dir", type=Path)
    w.add_argument("--json-schema", dest="contract", help="the contract of results.json (default: the default's)")
    n = sub.add_parser("normalise", help="normalise DIR/raw again into DIR/normalised")
    n.add_argument("dir", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument("--limit", type=int, default=400, help="diff lines shown at most")
    c.add_argument("--ignore-keys", default="", help="comma-separated JSON keys left out on both sides "
                   "(fields a change adds on purpose)")
    args = parser.parse_args()
    if args.cmd == "write":
        scan(args.dir, args.contract)
    elif args.cmd == "normalise":
        normalise_tree(args.dir / "raw", args.dir / "normalised")
    else:
        ignore = {k for k in args.ignore_keys.split(",") if k}
        sys.exit(compare(args.a, args.b, limit=args.limit, ignore=ignore))


if __name__ == "__main__":
    main()
