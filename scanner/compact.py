"""How the store keeps facts small: what repeats is kept once, everything is compressed.

Facts repeat across an estate: the intermediate certificate of every chain, the suite
list of every endpoint on one address, a header profile, the mail facts of a domain that
several services share, a zone's name-server facts. `pack` replaces every object or list
of at least `MIN_SHARED` bytes (as compact JSON) by a reference to its content digest,
innermost first, so an object shared anywhere is stored once (`blobs`, by digest) however
many endpoints or runs refer to it; `unpack` puts them back. Stored text is zlib-compressed
JSON. Nothing here knows what the facts mean: a probe added later is compacted the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

MIN_SHARED = 512  # bytes of compact JSON from which an object is kept once, by digest
REF = "\x00"  # a reference is {REF: digest}: no probe writes a key holding a NUL character
LEVEL = 6


_DIGITS = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))  # a digit "1", anything else "0"
_LONG_NUMBER = b"1" * 19  # 19 digits in a row: maybe an integer beyond 64 bits, which orjson reads as a float


def dumps(obj: Any) -> str:
    """Compact JSON, keys sorted, as json.dumps writes it (bar floats under 1e-4: 0.00001 for
    1e-05). By orjson, several times faster than json's C encoder: the store and the reports
    encode every finding and fact; json takes what orjson refuses (an integer beyond 64 bits,
    a key that is not a string)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """JSON text as json.loads reads it, by orjson (about twice as fast) where that gives the
    same: not where 19 digits stand in a row (orjson reads an integer beyond 64 bits as a float;
    a finding id of 20 hex digits is sometimes all digits, so ~3% of texts go to json), nor
    for a text orjson refuses (NaN, which json.dumps writes)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def compress(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"), LEVEL)


def decompress(data: bytes | str) -> str:
    """Stored text: compressed bytes, or plain JSON text as runs before schema 3 kept it."""
    return data if isinstance(data, str) else zlib.decompress(data).decode("utf-8")


def stored(data: bytes | str) -> Any:
    """What a stored text (as `decompress` takes it) holds: read from its bytes, never decoded to text."""
    return loads(data if isinstance(data, str) else zlib.decompress(data))


def pack(obj: Any, blobs: dict[str, str]) -> bytes:
    """`obj` with every large object replaced by a reference; the referenced texts go into `blobs`."""
    return compress(dumps(_share(obj, blobs, top=True)))


def _share(obj: Any, blobs: dict[str, str], top: bool = False) -> Any:
    if isinstance(obj, dict):
        out: Any = {k: _share(v, blobs) for k, v in obj.items()}
    elif isinstance(obj, list):
        out = [_share(v, blobs) for v in obj]
    else:
        return obj
    if top:
        return out
    text = dumps(out)
    if len(text) < MIN_SHARED:
        return out
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    blobs[digest] = text
    return {REF: digest}


def unpack(data: bytes | str, blob: Callable[[str], str]) -> Any:
    """What `pack` packed, every reference expanded (`blob` gives a digest's text)."""
    return _expand(stored(data), blob)


_REFERENCE = re.compile(r'\{"\\u0000":"([0-9a-f]{32})"\}')


def references(text: str) -> set[str]:
    """The digests a packed text refers to (what `pack` wrote as {REF: digest})."""
    return set(_REFERENCE.findall(text))


class Packed(Mapping[str, Any]):
    """Packed facts read a section at a time: only the sections a reader asks for are expanded,
    so a report that wants one corner of the facts (a certificate's key) pays for that corner."""

    def __init__(self, data: bytes | str, blob: Callable[[str], str]) -> None:
        self.top: dict[str, Any] = stored(data)  # as stored: shared objects {REF: digest}
        self.blob = blob  # a digest's text

    @classmethod
    def of(cls, top: dict[str, Any], blob: Callable[[str], str]) -> Packed:
        """Packed facts of an object read from other packed facts (its references as stored)."""
        packed = cls.__new__(cls)
        packed.top, packed.blob = top, blob
        return packed

    def __getitem__(self, key: str) -> Any:
        return _expand(self.top[key], self.blob)

    def __iter__(self) -> Iterator[str]:
        return iter(self.top)

    def __len__(self) -> int:
        return len(self.top)


def pick(facts: Mapping[str, Any], *path: str | int) -> Any:
    """facts[path[0]][path[1]]..., None where the path leads nowhere. Of `Packed` facts only the
    objects on the way are read and the one at the end expanded: a report that wants a leaf
    certificate's key does not expand the whole chain."""
    if isinstance(facts, Packed):
        return _expand(_walk(facts.top, facts.blob, path), facts.blob)
    return _walk(facts, None, path)


def pick_each(facts: Mapping[str, Any], *path: str | int) -> list[Any]:
    """The items of the list at `path` ([] where there is none), each an object `pick` reads:
    of `Packed` facts each object stays packed, so that a reader of one corner of each (an MX
    host's leaf key) does not expand them whole."""
    if not isinstance(facts, Packed):
        found = _walk(facts, None, path)
        return found if isinstance(found, list) else []
    blob = facts.blob
    found = _resolved(_walk(facts.top, blob, path), blob)
    if not isinstance(found, list):
        return []
    return [Packed.of(item, blob) if isinstance(item := _resolved(x, blob), dict) else _expand(item, blob)
            for x in found]


def _walk(obj: Any, blob: Callable[[str], str] | None, path: tuple[str | int, ...]) -> Any:
    """The object at `path` in `obj`, references on the way read (with `blob`); None where there is none."""
    for step in path:
        if blob:
            obj = _resolved(obj, blob)
        if isinstance(obj, Mapping) and isinstance(step, str):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and -len(obj) <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def _resolved(obj: Any, blob: Callable[[str], str]) -> Any:
    """`obj`, or what it refers to (its own references left in place)."""
    while (digest := reference(obj)) is not None:
        obj = loads(blob(digest))
    return obj


def reference(obj: Any) -> str | None:
    """The digest an object of packed facts stands for, None when it is not a reference."""
    return obj[REF] if type(obj) is dict and len(obj) == 1 and REF in obj else None


def _expand(obj: Any, blob: Callable[[str], str]) -> Any:
    if isinstance(obj, dict):
        if (digest := reference(obj)) is not None:
            return _expand(loads(blob(digest)), blob)
        return {k: _expand(v, blob) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_expand(v, blob) for v in obj]
    return obj


class Recent:
    """A bounded set of recently seen keys (least recently seen forgotten first)."""

    def __init__(self, size: int) -> None:
        self.size, self._keys = size, OrderedDict()

    def __contains__(self, key: object) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        return False

    def add(self, key: Any, value: Any = None) -> None:
        self._keys[key] = value
        self._keys.move_to_end(key)
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def get(self, key: Any) -> Any:
        try:
            self._keys.move_to_end(key)
        except KeyError:
            return None
        return self._keys[key]
