"""What every local stand-in of an outside service (the WeChat API, the SMS provider) shares:
serving a handler on 127.0.0.1 in a thread, its URL, stopping it, and answering JSON."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalHttpFake:
    """Mixin: ``self._serve(Handler)`` in ``__enter__``; ``url`` and ``__exit__`` come with it."""

    _server: ThreadingHTTPServer | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self._server is not None, "use the fake as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes,
          content_type: str = "application/json; charset=utf-8") -> None:
    """Send one complete answer."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
