"""Standards as data: the published tables Bolwerk applies, and the pure functions over them.

IANA registries, NCSC-NL and Mozilla TLS classifications, CA/B Forum rules, DNSSEC
algorithms, CAA, takeover fingerprints, HTTP header value classes, and the grammars of the
mail records (SPF, DMARC, MTA-STS, TLS-RPT, DKIM keys: parsers that return every syntax
error with its position, `grammar.Issue`). Probes
use them to name what they saw, checks to rate it; neither owns them, so judgement never
sits on top of collection. Nothing here does I/O beyond reading the packaged tables under
`data/` (one root, read through importlib.resources so an installed wheel finds them), and
each table cites its source so a reviewer can diff it against the published standard.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any


def data(*parts: str) -> Traversable:
    """A file or folder under the one data root, e.g. `data("tls", "groups.csv")`."""
    return resources.files(__name__).joinpath("data", *parts)


def read_toml(*parts: str) -> dict[str, Any]:
    return tomllib.loads(data(*parts).read_text(encoding="utf-8"))
