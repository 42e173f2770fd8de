"""Language tags (BCP 47, RFC 5646 §2.1): is a tag well-formed? Pure, linear in the tag.

Well-formed is the grammar alone (§2.2.9): a tag like "nl-BE" or "sr-Latn-RS" passes, "nl_BE",
"nl-" or "en-a" do not. Whether each subtag is registered (validity) is not checked: that
needs the IANA registry, and a reader of security.txt only needs to recognise the tag.
"""

from __future__ import annotations

from functools import cache

from scanner.standards import read_toml


@cache
def _grandfathered() -> frozenset[str]:
    table = read_toml("lang", "bcp47.toml")
    return frozenset(t.lower() for t in table["irregular"] + table["regular"])


def _alpha(s: str, lo: int, hi: int) -> bool:
    return lo <= len(s) <= hi and s.isascii() and s.isalpha()


def _alnum(s: str, lo: int, hi: int) -> bool:
    return lo <= len(s) <= hi and s.isascii() and s.isalnum()


def _privateuse(subtags: list[str]) -> bool:
    """`x` 1*("-" (1*8alphanum)), given the subtags from the x on."""
    return len(subtags) > 1 and all(_alnum(s, 1, 8) for s in subtags[1:])


def well_formed(tag: str) -> bool:
    """RFC 5646 §2.1 Language-Tag = langtag / privateuse / grandfathered."""
    low = tag.lower()
    if low in _grandfathered():
        return True
    subtags = low.split("-")
    if subtags[0] == "x":
        return _privateuse(subtags)
    # language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA; extlang = 3ALPHA *2("-" 3ALPHA)
    if not _alpha(subtags[0], 2, 8):
        return False
    i = 1
    if len(subtags[0]) <= 3:
        for _ in range(3):
            if i < len(subtags) and _alpha(subtags[i], 3, 3):
                i += 1
    if i < len(subtags) and _alpha(subtags[i], 4, 4):  # script
        i += 1
    if i < len(subtags) and (_alpha(subtags[i], 2, 2) or (len(subtags[i]) == 3 and subtags[i].isdigit())):
        i += 1  # region
    # variant = 5*8alphanum / (DIGIT 3alphanum)
    while i < len(subtags) and (_alnum(subtags[i], 5, 8) or (len(subtags[i]) == 4 and subtags[i][0].isdigit()
                                                             and _alnum(subtags[i], 4, 4))):
        i += 1
    seen: set[str] = set()
    # extension = singleton 1*("-" (2*8alphanum)); a singleton at most once (§2.2.6)
    while i < len(subtags) and len(subtags[i]) == 1 and subtags[i] != "x" and _alnum(subtags[i], 1, 1):
        if subtags[i] in seen:
            return False
        seen.add(subtags[i])
        i += 1
        start = i
        while i < len(subtags) and _alnum(subtags[i], 2, 8):
            i += 1
        if i == start:
            return False
    if i < len(subtags) and subtags[i] == "x":
        return _privateuse(subtags[i:])
    return i == len(subtags)
