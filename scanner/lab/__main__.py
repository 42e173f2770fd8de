"""`python -m scanner.lab`: the lab in a process of its own, driven over stdin and stdout.

Prints the lab's LabInfo as one JSON line once every server listens, runs until stdin
closes, stops the lab, and prints {"violations": [...]}: what the loopback guard refused.
See LabProcess in scanner/lab/lab.py, the side that starts it.
"""

from __future__ import annotations

import json
import sys

from scanner.lab import guard


def main() -> None:
    violations = guard.install("lab process")
    from scanner.lab.lab import Lab

    with Lab() as info:
        print(json.dumps(info.to_json()), flush=True)
        sys.stdin.read()
    print(json.dumps({"violations": violations}), flush=True)


if __name__ == "__main__":
    main()
