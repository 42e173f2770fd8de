"""One CPU worker process (`python -m scanner.probes.cpu_worker FD`), started by scanner/probes/cpu.py.

It reads (function, arguments) pairs from the socket it is handed, runs each and answers
("ok", result) or ("error", text), until the socket closes. It imports nothing of its own,
so it starts fast; a function's module is imported when the first call names it.
"""

from __future__ import annotations

import pickle
import socket
import sys
import traceback
from multiprocessing.connection import Connection


def serve(conn: Connection) -> None:
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            func, args = pickle.loads(message)
            answer = ("ok", func(*args))
        except Exception as exc:  # noqa: BLE001 - the caller reports it as this input's error
            answer = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        conn.send(answer)


if __name__ == "__main__":
    sock = socket.socket(fileno=int(sys.argv[1]))
    serve(Connection(sock.detach()))
