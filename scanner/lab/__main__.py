"""`python -m scanner.lab [--scale N [--web nginx] | --later]`: the lab in a process of its own, driven over stdin and stdout.

Prints the lab's LabInfo as one JSON line once every server listens, runs until stdin
closes, stops the lab, and prints {"violations": [...], "served": {...}}: what the loopback
guard refused and, for the generated estate of `--scale N` endpoints (scanner/lab/scale.py),
how many connections and DNS questions its servers answered. See LabProcess in
scanner/lab/lab.py, the side that starts it.
"""

from __future__ import annotations

import argparse
import json
import sys

from scanner.lab import guard


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scanner.lab")
    parser.add_argument("--scale", type=int, default=0, help="serve a generated estate of N endpoints instead")
    parser.add_argument("--web", choices=("python", "nginx"), default="python",
                        help="the scale estate's web server (nginx: one nginx process, when installed)")
    parser.add_argument("--later", action="store_true", help="serve the estate as it stands a week later")
    args = parser.parse_args()
    violations = guard.install("lab process")
    from scanner.lab.lab import Lab
    from scanner.lab.scale import ScaleLab

    lab = ScaleLab(args.scale, args.web) if args.scale else Lab(later=args.later)
    with lab as info:
        print(json.dumps(info.to_json()), flush=True)
        sys.stdin.read()
        served = lab.served() if args.scale else {}
    print(json.dumps({"violations": violations, "served": served}), flush=True)


if __name__ == "__main__":
    main()
