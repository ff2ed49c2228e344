"""Connections end when they should: ``Connection: close`` at once, an idle keep-alive after
``app.http_keep_alive_sec``.

Why they did not (hypercorn 0.18, quart-trio 0.12): hypercorn finishes an HTTP/1.1 exchange
inside the application's last ``send`` — the protocol marks the stream closed, hands the app
its ``http.disconnect``, then either closes the socket (``Connection: close``, or a request it
cannot recycle) or starts the keep-alive idle timer. quart-trio's request nursery ends as soon
as it sees that ``http.disconnect``, cancelling the task still inside ``send``: the first
checkpoint of the close (or of starting the idle timer) raises ``Cancelled``, hypercorn swallows
it, and the connection stays open with no timer — for ever, holding a file descriptor. Plain
hypercorn apps and the webhook lane (answered in front of Quart) never cancel themselves, so
they closed.

The fix: every ``send`` of the application runs shielded from the application's own
cancellation. Hypercorn already shields the socket write itself; what this adds is only its
bookkeeping after the last message (close, or arm the idle timer), which does not block.
"""

from __future__ import annotations

from typing import Any

import trio


class ShieldedSend:
    """ASGI: the wrapped app's ``send`` calls cannot be cut short by its own cancellation."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return

        async def shielded(message: dict) -> None:
            with trio.CancelScope(shield=True):
                await send(message)

        await self.app(scope, receive, shielded)
