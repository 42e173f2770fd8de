"""HTTP header value classes the standards define, from `data/http/headers.toml`.

Referrer-Policy (W3C), X-Frame-Options (RFC 7034), COOP/COEP (HTML) and CORP (Fetch), and the
HSTS preload list's submission rules. The HTTP checks
rate headers by these classes; their own weights and heuristics stay with the checks.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scanner.standards import read_toml


@cache
def header_classes() -> dict[str, Any]:
    """{"referrer_policy": {...}, "frame_options": {...}, "cross_origin": {...}, "hsts_preload": {...}}."""
    return read_toml("http", "headers.toml")
