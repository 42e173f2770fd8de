"""The network guard itself: anything but loopback is refused, loudly."""

import socket

import pytest

from tests import conftest


def test_tcp_connect_to_a_public_address_is_refused():
    before = len(conftest.violations)
    with socket.socket() as s, pytest.raises(PermissionError, match="network guard"):
        s.connect(("192.0.2.1", 443))
    assert len(conftest.violations) == before + 1
    del conftest.violations[before:]  # this attempt was the test's own


def test_udp_send_to_a_public_resolver_is_refused():
    before = len(conftest.violations)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(PermissionError):
        s.sendto(b"x", ("198.51.100.53", 53))
    del conftest.violations[before:]


def test_name_lookup_of_a_real_name_is_refused():
    before = len(conftest.violations)
    with pytest.raises(PermissionError):
        socket.getaddrinfo("vlaanderen.be", 443)
    del conftest.violations[before:]


def test_ipv4_mapped_public_address_is_refused():
    before = len(conftest.violations)
    with socket.socket(socket.AF_INET6) as s, pytest.raises(PermissionError):
        s.connect(("::ffff:192.0.2.1", 443, 0, 0))
    del conftest.violations[before:]


def test_loopback_is_allowed():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname(), timeout=2):
            pass
