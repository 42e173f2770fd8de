"""Lab SMTP server: greets, answers EHLO, and upgrades to TLS on STARTTLS when configured to.

After STARTTLS the TLS is Python's (`tls`: a context, or a factory for a fresh one per
connection) or, for servers Python's ssl cannot be, a handler that gets the raw stream
(`after_starttls`: the scripted responder, or a relay to openssl s_server).

As a relay (`relay=True`: the receiver of Bolwerk's e-mail notifications in the tests) it
also takes AUTH PLAIN, MAIL, RCPT and DATA, and keeps each message it accepted in
`messages` (sender, recipients, the raw message, the user who logged in, whether the
session was encrypted). A message is capped at MAX_MESSAGE bytes.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.lab.listener import Handler, Listener

COMMAND_TIMEOUT = 10.0
MAX_MESSAGE = 1 << 20


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    user: str | None
    encrypted: bool


@dataclass
class _Session:
    secure: bool = False
    user: str | None = None
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)


class SmtpServer(Listener):
    def __init__(self, ip: str, hostname: str, tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None,
                 after_starttls: Handler | None = None, relay: bool = False,
                 users: dict[str, str] | None = None) -> None:
        super().__init__(ip, self._client)  # the listener is plain: TLS starts on STARTTLS
        self.hostname, self.starttls = hostname, tls  # starttls None: no STARTTLS offered
        self.after_starttls = after_starttls
        self.relay, self.users = relay, users or {}
        self.messages: list[Received] = []

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session()

        async def send(text: str) -> None:
            writer.write(text.encode("ascii"))
            await writer.drain()

        await send(f"220 {self.hostname} ESMTP Bolwerk lab\r\n")
        while line := await asyncio.wait_for(reader.readline(), COMMAND_TIMEOUT):
            verb, _, arg = line.decode("ascii", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                extensions = ["SIZE 10240000", "8BITMIME"]
                if self.starttls is not None and not session.secure:
                    extensions.append("STARTTLS")
                if self.relay and self.users:
                    extensions.append("AUTH PLAIN")
                lines = [self.hostname, *extensions]
                await send("".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n")
            elif verb == "STARTTLS" and self.starttls is not None and not session.secure:
                await send("220 2.0.0 Ready to start TLS\r\n")
                if self.after_starttls is not None:
                    await self.after_starttls(reader, writer)
                    return
                await writer.start_tls(self.starttls() if callable(self.starttls) else self.starttls)
                session.secure = True
            elif verb == "QUIT":
                await send("221 2.0.0 Bye\r\n")
                return
            elif self.relay and verb in ("AUTH", "MAIL", "RCPT", "DATA", "RSET", "NOOP"):
                await send(await self._relay(verb, arg, session, reader, send))
            else:
                await send("502 5.5.1 Command not implemented\r\n")

    async def _relay(self, verb: str, arg: str, session: _Session, reader: asyncio.StreamReader, send) -> str:
        """The relay's answer to one command (DATA first says 354 and reads the message)."""
        if verb == "NOOP":
            return "250 2.0.0 OK\r\n"
        if verb == "RSET":
            session.mail_from, session.rcpt_to = None, []
            return "250 2.0.0 OK\r\n"
        if verb == "AUTH":
            mechanism, _, initial = arg.partition(" ")
            try:
                _, user, password = base64.b64decode(initial).decode().split("\0")
            except ValueError:
                return "501 5.5.2 AUTH PLAIN with an initial response only\r\n"
            if mechanism.upper() != "PLAIN" or self.users.get(user) != password:
                return "535 5.7.8 Authentication credentials invalid\r\n"
            session.user = user
            return "235 2.7.0 Authentication successful\r\n"
        if self.users and session.user is None:
            return "530 5.7.0 Authentication required\r\n"
        if verb == "MAIL":
            session.mail_from, session.rcpt_to = arg.partition(":")[2].split(">")[0].strip().lstrip("<"), []
            return "250 2.1.0 OK\r\n"
        if verb == "RCPT":
            if session.mail_from is None:
                return "503 5.5.1 MAIL first\r\n"
            session.rcpt_to.append(arg.partition(":")[2].strip().strip("<>"))
            return "250 2.1.5 OK\r\n"
        if not session.rcpt_to:  # DATA
            return "503 5.5.1 RCPT first\r\n"
        await send("354 End data with <CR><LF>.<CR><LF>\r\n")
        data = await self._data(reader)
        self.messages.append(Received(session.mail_from or "", session.rcpt_to, data, session.user, session.secure))
        session.mail_from, session.rcpt_to = None, []
        return "250 2.0.0 Queued\r\n"

    async def _data(self, reader: asyncio.StreamReader) -> bytes:
        """After DATA's 354: the message up to the line holding a single dot (bounded)."""
        lines = []
        size = 0
        while True:
            line = await asyncio.wait_for(reader.readline(), COMMAND_TIMEOUT)
            if not line or line == b".\r\n":
                break
            size += len(line)
            if size <= MAX_MESSAGE:
                lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)
