"""Name well-known finite-field Diffie-Hellman groups from the prime a server sends.

The RFC 7919 (ffdhe) and RFC 2409/3526 (MODP) primes are defined by formulas over e
and pi; we compute them exactly instead of pasting kilobytes of hex, and the test suite
checks they are prime. RFC 5114's fixed groups and the built-in defaults of common server
software have no formula: they are data (`data/tls/dh-primes.toml`). Every named prime is
shared by many servers, which is what makes a 1024-bit one worth precomputing (Logjam).
A server using its own prime is reported by size only.
"""

from __future__ import annotations

from functools import cache

from scanner.standards import read_toml

# bits -> X, from RFC 7919 appendix A and RFC 2409 / RFC 3526
_FFDHE = {2048: 560316, 3072: 2625351, 4096: 5736041, 6144: 15705020, 8192: 10965728}
_MODP = {768: 149686, 1024: 129093, 1536: 741804, 2048: 124476, 3072: 1690314, 4096: 240904,
         6144: 929484, 8192: 4743158}
_GUARD = 64


def _e_fixed(bits: int) -> int:
    """floor(e * 2**bits), exactly (the guard bits absorb the truncation of each term)."""
    one = 1 << (bits + _GUARD)
    total, term, k = 0, one, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> _GUARD


def _arctan_inv(x: int, one: int) -> int:
    total, power, n, sign = 0, one // x, 1, 1
    while power:
        total += sign * (power // n)
        power //= x * x
        n += 2
        sign = -sign
    return total


def _pi_fixed(bits: int) -> int:
    """floor(pi * 2**bits) by Machin's formula."""
    one = 1 << (bits + _GUARD)
    return (4 * (4 * _arctan_inv(5, one) - _arctan_inv(239, one))) >> _GUARD


def _formula(bits: int, constant: int, x: int, ffdhe: bool) -> int:
    inner = constant + x
    if ffdhe:
        return 2**bits - 2 ** (bits - 64) + inner * 2**64 - 1
    return 2**bits - 2 ** (bits - 64) - 1 + inner * 2**64


@cache
def known_primes() -> dict[int, str]:
    """prime -> group name for every well-known group."""
    out: dict[int, str] = {}
    for bits, x in _FFDHE.items():
        out[_formula(bits, _e_fixed(bits - 130), x, True)] = f"ffdhe{bits}"
    for bits, x in _MODP.items():
        out[_formula(bits, _pi_fixed(bits - 130), x, False)] = f"modp{bits}"
    for name, group in shared_groups().items():
        out[int("".join(group["prime"]), 16)] = name
    return out


@cache
def shared_groups() -> dict[str, dict]:
    """RFC 5114 groups and software defaults: name -> {title, prime (hex lines)}."""
    return read_toml("tls", "dh-primes.toml")["group"]


def name_prime(p: int) -> str | None:
    return known_primes().get(p)


def prime_for(name: str) -> int:
    """The prime of a well-known group by name (the lab uses it to configure servers)."""
    for p, n in known_primes().items():
        if n == name:
            return p
    raise KeyError(name)
