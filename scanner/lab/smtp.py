"""Lab SMTP server: greets, answers EHLO, and upgrades to TLS on STARTTLS when configured to.

After STARTTLS the TLS is Python's (`tls`: a context, or a factory for a fresh one per
connection) or, for servers Python's ssl cannot be, a handler that gets the raw stream
(`after_starttls`: the scripted responder, or a relay to openssl s_server).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from scanner.lab.listener import Handler, Listener

COMMAND_TIMEOUT = 10.0


class SmtpServer(Listener):
    def __init__(self, ip: str, hostname: str, tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None,
                 after_starttls: Handler | None = None) -> None:
        super().__init__(ip, self._client)  # the listener is plain: TLS starts on STARTTLS
        self.hostname, self.starttls = hostname, tls  # starttls None: no STARTTLS offered
        self.after_starttls = after_starttls

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = False

        async def send(text: str) -> None:
            writer.write(text.encode("ascii"))
            await writer.drain()

        await send(f"220 {self.hostname} ESMTP Bolwerk lab\r\n")
        while line := await asyncio.wait_for(reader.readline(), COMMAND_TIMEOUT):
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                extensions = ["SIZE 10240000", "8BITMIME"]
                if self.starttls is not None and not secure:
                    extensions.append("STARTTLS")
                lines = [self.hostname, *extensions]
                await send("".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n")
            elif verb == "STARTTLS" and self.starttls is not None and not secure:
                await send("220 2.0.0 Ready to start TLS\r\n")
                if self.after_starttls is not None:
                    await self.after_starttls(reader, writer)
                    return
                await writer.start_tls(self.starttls() if callable(self.starttls) else self.starttls)
                secure = True
            elif verb == "QUIT":
                await send("221 2.0.0 Bye\r\n")
                return
            else:
                await send("502 5.5.1 Command not implemented\r\n")
