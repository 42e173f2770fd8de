"""Stapled OCSP, SCT lists, and the raw hello readers (TLS 1.2 in clear, TLS 1.3 decrypted)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import struct
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from scanner.lab.ca import DAY, LabCA, _name, new_key, sct_list
from scanner.lab.stapling import first_flight12, first_flight13, parse_hello
from scanner.probes.certificate.flight import MAX_FLIGHT, FlightParser, client_hello
from scanner.probes.certificate.hello import read_flight
from scanner.probes.certificate.ocsp import judge_ocsp
from scanner.probes.certificate.sct import embedded_scts, parse_sct_list
from scanner.probes.certificate.tls13 import Tls13FlightParser, client_hello13, key_shares
from scanner.probes.context import ProbeContext
from scanner.probes.net import PortMap
from scanner.probes.tls import keys as tls_keys
from tests.conftest import probe_context


@pytest.fixture(scope="module")
def ca():
    return LabCA()


@pytest.fixture(scope="module")
def issued(ca):
    return ca.issue(["www.example.test"])


# -- OCSP ------------------------------------------------------------------------------------

def test_ocsp_good_and_revoked(ca, issued):
    good = judge_ocsp(ca.ocsp_response(issued.cert, "good"), issued.cert, ca.intermediate, ca.now)
    assert good["valid"] and good["status"] == "good" and good["problem"] is None and good["next_update"]
    revoked = judge_ocsp(ca.ocsp_response(issued.cert, "revoked"), issued.cert, ca.intermediate, ca.now)
    assert revoked["valid"] and revoked["status"] == "revoked" and revoked["revocation_reason"] == "key_compromise"
    unknown = judge_ocsp(ca.ocsp_response(issued.cert, "unknown"), issued.cert, ca.intermediate, ca.now)
    assert unknown["valid"] and unknown["status"] == "unknown"


def test_ocsp_problems(ca, issued):
    other = ca.issue(["other.example.test"])
    wrong_cert = judge_ocsp(ca.ocsp_response(other.cert, "revoked"), issued.cert, ca.intermediate, ca.now)
    assert not wrong_cert["valid"] and "serial" in wrong_cert["problem"]
    stale = judge_ocsp(ca.ocsp_response(issued.cert, "good", this_update_days=-10, next_update_days=-3),
                       issued.cert, ca.intermediate, ca.now)
    assert not stale["valid"] and "stale" in stale["problem"]
    future = judge_ocsp(ca.ocsp_response(issued.cert, "good", this_update_days=2), issued.cert, ca.intermediate,
                        ca.now)
    assert not future["valid"] and "future" in future["problem"]
    stranger = LabCA(ca.now)  # same names, other keys: its signature must not verify
    forged = judge_ocsp(stranger.ocsp_response(issued.cert, "good"), issued.cert, ca.intermediate, ca.now)
    assert not forged["valid"]
    no_issuer = judge_ocsp(ca.ocsp_response(issued.cert, "good"), issued.cert, None, ca.now)
    assert not no_issuer["valid"] and "issuer" in no_issuer["problem"]


def test_ocsp_delegated_responder(ca, issued):
    key = new_key()
    responder = (x509.CertificateBuilder().subject_name(_name("Bolwerk Lab OCSP")).issuer_name(ca.intermediate.subject)
                 .public_key(key.public_key()).serial_number(99).not_valid_before(ca.now - DAY)
                 .not_valid_after(ca.now + 30 * DAY)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
                 .sign(ca.inter_key, hashes.SHA256()))
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=issued.cert, issuer=ca.intermediate, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=ca.now - DAY, next_update=ca.now + DAY, revocation_time=None, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME, responder).certificates([responder])
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    assert judge_ocsp(der, issued.cert, ca.intermediate, ca.now)["valid"]


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x0a\x01\x00", b"junk" * 10])
def test_ocsp_garbage(ca, issued, garbage):
    out = judge_ocsp(garbage, issued.cert, ca.intermediate, ca.now)
    assert out["stapled"] and not out["valid"] and out["problem"]


def test_ocsp_unsuccessful(ca, issued):
    der = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER).public_bytes(
        serialization.Encoding.DER)
    out = judge_ocsp(der, issued.cert, ca.intermediate, ca.now)
    assert out["response_status"] == "try_later" and not out["valid"]


# -- SCTs ------------------------------------------------------------------------------------

def test_sct_list_round_trip():
    when = datetime(2026, 11, 1, tzinfo=UTC)
    scts, problem = parse_sct_list(sct_list(3, when))
    assert problem is None and len(scts) == 3
    assert scts[0]["timestamp"] == "2026-11-01T00:00:00Z" and len({s["log_id"] for s in scts}) == 3


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x10abc", b"\x00\x04\x00\x02ab", sct_list(2, datetime.now(UTC))[:-3]])
def test_sct_list_malformed(data):
    scts, problem = parse_sct_list(data)
    assert problem


def test_embedded_scts(ca):
    assert len(embedded_scts(ca.issue(["a.example.test"]).cert)[0]) == 2
    assert len(embedded_scts(ca.issue(["a.example.test"], days_after=300).cert)[0]) == 3
    assert embedded_scts(ca.issue(["a.example.test"], scts=0).cert) == ([], None)


# -- the TLS 1.2 reader ------------------------------------------------------------------------

def _feed_all(parser, data: bytes, step: int = 7) -> bool:
    for pos in range(0, len(data), step):
        if parser.feed(data[pos:pos + step]):
            return True
    return False


def test_tls12_flight_with_staple_and_scts(ca, issued):
    hello = parse_hello(client_hello("www.example.test"))
    assert hello is not None and 5 in hello.extensions and 18 in hello.extensions and not hello.offers_tls13()
    staple, scts = ca.ocsp_response(issued.cert, "good"), sct_list(2, ca.now)
    parser = FlightParser()
    assert _feed_all(parser, first_flight12(hello.suites, issued.ders(), staple, scts))
    flight = parser.flight
    assert flight.error is None and flight.done and flight.version == 0x0303
    assert flight.certificates == issued.ders() and flight.ocsp == staple
    assert flight.status_acknowledged and flight.sct_extension == scts


def test_tls12_flight_without_staple(issued):
    parser = FlightParser()
    assert parser.feed(first_flight12([0xC02B], issued.ders(), None, None))
    assert parser.flight.done and parser.flight.ocsp is None and not parser.flight.status_acknowledged


@pytest.mark.parametrize(("data", "words"), [
    (b"\x15\x03\x03\x00\x02\x02\x46", "protocol_version"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a TLS record"),
    (b"\x17\x03\x03\x00\x01\x00", "record type 23"),
    (b"\x16\x03\x03\x00\x05\x0b\x00\x00\x09\xff", None),  # incomplete: waits for more
    (b"\x16\x03\x03\x00\x05\x0b\x00\x00\x01\xff", "malformed"),
    (b"\x16\x03\x03\x00\x08\x0b\x00\x00\x04\x00\x00\x09\x00", "malformed"),
    (b"\x16\x03\x03\x00\x04\x63\x00\x00\x00", "unexpected handshake message 99"),
])
def test_tls12_reader_refuses_nonsense(data, words):
    parser = FlightParser()
    finished = parser.feed(data)
    if words is None:
        assert not finished and parser.flight.error is None
    else:
        assert finished and words in parser.flight.error


def test_tls12_reader_caps_bytes_and_records():
    endless = b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff"  # a Certificate message that claims 16 MiB
    parser = FlightParser()
    parser.feed(endless)
    record = b"\x16\x03\x03\x40\x00" + b"\x00" * 0x4000
    finished = False
    for _ in range(MAX_FLIGHT // len(record) + 2):
        finished = parser.feed(record)
        if finished:
            break
    assert finished and "exceeds" in parser.flight.error
    tiny = FlightParser()
    assert _feed_all(tiny, endless + b"\x16\x03\x03\x00\x01\x00" * 600, step=600)
    assert "too many" in tiny.flight.error


# -- the TLS 1.3 reader ------------------------------------------------------------------------

def test_key_schedule_matches_rfc8448():
    """RFC 8448 §3 (simple 1-RTT): its ClientHello, ServerHello and ECDHE secret give its server IV."""
    ch = bytes.fromhex(
        "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000"
        "910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000"
        "003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304"
        "000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001")
    sh = bytes.fromhex(
        "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d"
        "0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304")
    shared = bytes.fromhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
    assert hashlib.sha256(ch + sh).hexdigest() == "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"
    assert tls_keys.HandshakeDecrypter(0x1301, shared, ch + sh).iv.hex() == "5d313eb2671276ee13000b30"


def test_tls13_flight_round_trip(ca, issued):
    shares = key_shares()
    record = client_hello13("www.example.test", shares)
    hello = parse_hello(record)
    assert hello.offers_tls13() and hello.x25519_share() is not None
    staple, scts = ca.ocsp_response(issued.cert, "good"), sct_list(2, ca.now)
    parser = Tls13FlightParser(record, shares)
    assert _feed_all(parser, first_flight13(record, hello, issued.ders(), staple, scts), step=1000)
    flight = parser.flight
    assert flight.error is None and flight.version == 0x0304
    assert flight.certificates == issued.ders() and flight.ocsp == staple and flight.sct_extension == scts


def test_tls13_reader_with_tampered_records(ca, issued):
    shares = key_shares()
    record = client_hello13("www.example.test", shares)
    data = bytearray(first_flight13(record, parse_hello(record), issued.ders(), None, None))
    data[-5] ^= 0xFF  # flip a bit in the encrypted Certificate record
    parser = Tls13FlightParser(record, shares)
    assert _feed_all(parser, bytes(data), step=4096) and "decrypt" in parser.flight.error


def test_tls13_reader_refuses_retry_and_downgrade(issued):
    shares = key_shares()
    record = client_hello13("www.example.test", shares)
    retry = (b"\x03\x03" + bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
             + b"\x00\x13\x01\x00\x00\x06\x00\x2b\x00\x02\x03\x04")
    parser = Tls13FlightParser(record, shares)
    assert parser.feed(b"\x16\x03\x03" + struct.pack("!H", len(retry) + 4) + b"\x02" + len(retry).to_bytes(3, "big")
                       + retry)
    assert "HelloRetryRequest" in parser.flight.error
    downgrade = Tls13FlightParser(record, shares)
    assert downgrade.feed(first_flight12([0xC02B], issued.ders(), None, None))
    assert "did not choose TLS 1.3" in downgrade.flight.error


# -- bounded network reads -----------------------------------------------------------------------

async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _ctx(port: int) -> ProbeContext:
    ports = PortMap()
    ports.add("127.0.0.1", 443, port)
    return probe_context("127.0.0.1:9", port_map=ports, io_timeout=0.2, connect_timeout=1.0)


@pytest.mark.parametrize("behaviour", ["trickle", "silence", "garbage", "close"])
def test_read_flight_never_hangs(behaviour):
    async def handler(reader, writer):
        try:
            await reader.read(4096)
            if behaviour == "trickle":
                for _ in range(100):
                    writer.write(b"\x16")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            elif behaviour == "silence":
                await asyncio.sleep(5)
            elif behaviour == "garbage":
                writer.write(b"\xff" * 100)
        except ConnectionError:
            pass
        finally:
            writer.close()  # also when cancelled at the end of the test

    async def main():
        server, port = await _serve(handler)
        async with server:  # both hellos at once: the silent and trickling cases end at the deadline
            return await asyncio.gather(*(read_flight(_ctx(port), "www.example.test", "127.0.0.1", 443, tls13)
                                          for tls13 in (False, True)))

    for flight in asyncio.run(main()):
        assert flight.error and not flight.certificates
        assert flight.error.startswith(("TLS 1.2 hello", "TLS 1.3 hello"))


def test_expired_response_is_computed_at_scan_time(ca, issued):
    later = ca.now + dt.timedelta(days=10)
    out = judge_ocsp(ca.ocsp_response(issued.cert, "good"), issued.cert, ca.intermediate, later)
    assert not out["valid"] and "stale" in out["problem"]


def test_random_server_flights_never_raise(issued):
    rnd = random.Random(7)
    good = first_flight12([0xC02B], issued.ders(), None, None)
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 6)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        shares = key_shares() if rnd.random() < 0.2 else None
        parser = Tls13FlightParser(client_hello13("x.example.test", shares), shares) if shares else FlightParser()
        _feed_all(parser, bytes(data), step=rnd.randint(1, 3000))
        assert parser.flight.error is None or isinstance(parser.flight.error, str)
