"""Lab SMTP server: greets, answers EHLO, and upgrades to TLS on STARTTLS when configured to."""

from __future__ import annotations

import asyncio
import ssl


class SmtpServer:
    def __init__(self, ip: str, hostname: str, tls: ssl.SSLContext | None) -> None:
        self.ip, self.hostname, self.tls = ip, hostname, tls  # tls None: no STARTTLS offered
        self.port = 0
        self.sessions = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, self.ip, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except TimeoutError:
                pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        secure = False

        async def send(text: str) -> None:
            writer.write(text.encode("ascii"))
            await writer.drain()

        try:
            await send(f"220 {self.hostname} ESMTP Bolwerk lab\r\n")
            while True:
                line = await asyncio.wait_for(reader.readline(), 10)
                if not line:
                    break
                verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    extensions = ["SIZE 10240000", "8BITMIME"]
                    if self.tls is not None and not secure:
                        extensions.append("STARTTLS")
                    lines = [self.hostname, *extensions]
                    await send("".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n")
                elif verb == "STARTTLS" and self.tls is not None and not secure:
                    await send("220 2.0.0 Ready to start TLS\r\n")
                    await writer.start_tls(self.tls)
                    secure = True
                elif verb == "QUIT":
                    await send("221 2.0.0 Bye\r\n")
                    break
                else:
                    await send("502 5.5.1 Command not implemented\r\n")
        except (TimeoutError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
