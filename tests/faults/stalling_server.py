"""A model server that accepts a request and then never answers (or answers headers and then nothing): slow, for real
over a socket, so the client's own timeout is what ends the wait."""

from __future__ import annotations

import contextlib
import socket
import threading

STREAM_HEADERS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


class StallingServer:
    """mode "silent": reads the request, sends nothing; "headers": sends a streaming response's headers, then
    nothing. `requested` is set once a request has arrived."""

    def __init__(self, *, mode: str = "silent") -> None:
        self.mode = mode
        self.requested = threading.Event()
        self.requests = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(client)  # kept open, unanswered, until close()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            client.recv(65536)
            self.requests += 1
            self.requested.set()
            if self.mode == "headers":
                client.sendall(STREAM_HEADERS)

    def close(self) -> None:
        self._listener.close()
        for client in self._held:
            with contextlib.suppress(OSError):
                client.close()
