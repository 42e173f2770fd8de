"""Hello building and parsing, registry data, named DH groups: no network needed."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from scanner.lab import tls_responder
from scanner.probes.tls import wire
from scanner.standards import data
from scanner.standards import tls_registry as reg
from scanner.standards.dh import known_primes, name_prime, shared_groups


@pytest.mark.parametrize("n", range(0, 200, 3))
def test_hellos_avoid_the_256_to_511_byte_range(n):
    suites = list(reg.suites())[:n]
    _, hs = wire.client_hello(wire.Hello(("TLSv1.2",), suites, [0x001D, 0x0017], server_name="a.vlaanderen.test"))
    assert not 256 <= len(hs) <= 511


def test_tls13_hello_carries_versions_groups_and_shares():
    h = wire.Hello(("TLSv1.3", "TLSv1.2"), [0x1301, 0xC02F], [0x11EC, 0x001D], {0x001D: b"\x01" * 32}, "x.test")
    record, hs = wire.client_hello(h)
    assert record[0] == wire.HANDSHAKE and hs[0] == 1
    parsed = tls_responder._parse_client_hello(hs[4:])
    assert parsed["supported_versions"] == [0x0304, 0x0303]
    assert parsed["groups"] == [0x11EC, 0x001D] and parsed["shares"] == {0x001D: b"\x01" * 32}
    assert parsed["suites"] == [0x1301, 0xC02F]


@pytest.mark.parametrize("host, sni", [
    ("www.vlaanderen.test", "www.vlaanderen.test"), ("www.vlaanderen.test.", "www.vlaanderen.test"),
    ("192.0.2.7", None), ("2001:db8::1", None), ("[2001:db8::1]", None), ("fe80::1%eth0", None),
])
def test_server_name_drops_the_trailing_dot_and_address_literals(host, sni):
    assert wire.server_name(host) == sni


def test_a_host_name_the_idna_codec_refuses_still_goes_out():
    _, hs = wire.client_hello(wire.Hello(("TLSv1.2",), [0xC02F], server_name="a" * 70 + ".test"))
    assert ("a" * 70).encode() in hs


def test_hello_retry_request_is_recognised():
    raw = tls_responder._server_hello(0x0303, wire.HRR_RANDOM, b"", 0x1302,
                                      [(wire.EXT_SUPPORTED_VERSIONS, b"\x03\x04"), (wire.EXT_KEY_SHARE, b"\x11\xec")])
    sh = wire.parse_server_hello(raw[9:])
    assert sh.hrr and sh.version == "TLSv1.3" and reg.group_name(sh.group) == "X25519MLKEM768"


def test_truncated_or_odd_server_hellos_are_garbage():
    with pytest.raises(wire.WireError):
        wire.parse_server_hello(b"\x03\x03" + b"\x00" * 10)
    with pytest.raises(wire.WireError):
        wire.parse_server_hello(b"\x07\x07" + b"\x00" * 32 + b"\x00" + b"\x13\x01\x00")


def test_unknown_code_points_follow_one_rule():
    assert reg.suite_name(0xCC13) == "UNKNOWN_0xCC13"
    assert reg.group_name(0xABCD) == "UNKNOWN_0xABCD"
    assert reg.sslv2_name(0x080080) == "UNKNOWN_0x080080"
    assert reg.suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def test_cipher_suite_data_file_is_derived_from_the_iana_file():
    script = Path(__file__).resolve().parent.parent / "scripts" / "derive_tls_suites.py"
    spec = importlib.util.spec_from_file_location("derive_tls_suites", script)
    derive_suites = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive_suites)
    assert derive_suites.render() == data("tls", "cipher-suites.csv").read_text(encoding="utf-8")


def test_suite_properties():
    s = reg.suites_by_name()
    assert s["TLS_RSA_WITH_AES_128_GCM_SHA256"].aead and not s["TLS_RSA_WITH_AES_128_GCM_SHA256"].fs
    assert s["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"].fs and not s["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"].aead
    assert s["TLS_AES_128_GCM_SHA256"].tls13 and s["TLS_RSA_WITH_3DES_EDE_CBC_SHA"].bits == 112
    assert s["TLS_DH_anon_WITH_AES_128_CBC_SHA"].auth == "anon"


def _probably_prime(n: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    a = random.Random(7).randrange(2, n - 2)
    x = pow(a, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = pow(x, 2, n)
        if x == n - 1:
            return True
    return False


def test_well_known_dh_primes_are_computed_right():
    primes = {p: n for p, n in known_primes().items() if n.startswith(("ffdhe", "modp"))}
    assert len(primes) == 13
    for p, name in primes.items():
        assert p.bit_length() == int(name.removeprefix("ffdhe").removeprefix("modp"))
        if p.bit_length() <= 4096:
            assert _probably_prime(p), name
    ffdhe2048 = next(p for p, n in primes.items() if n == "ffdhe2048")
    assert hex(ffdhe2048).startswith("0xffffffffffffffffadf85458a2bb4a9a")  # RFC 7919 A.1
    assert name_prime(ffdhe2048 + 2) is None


def test_shared_dh_primes_from_data_are_primes_of_their_stated_size():
    groups = shared_groups()
    assert {"rfc5114-1024-160", "rfc5114-2048-224", "rfc5114-2048-256", "nginx-1024"} <= set(groups)
    for name, group in groups.items():
        p = int("".join(group["prime"]), 16)
        assert f"{p.bit_length()}-bit" in group["title"] or str(p.bit_length()) in name, name
        assert _probably_prime(p), name
        assert name_prime(p) == name
