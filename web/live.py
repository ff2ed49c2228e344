"""The live push ``GET /api/ws`` (SPEC 11.1): a WebSocket that first carries a snapshot of every
topic, then the topics that changed, at most every ``ui.realtime_update_ms``.

Message: ``{"topic", "kind": "snapshot"|"delta", "ts", "data"}`` (a delta carries the topic's
whole new payload, the same as its REST endpoint). A session is required (the ``/api/``
guard does not run for WebSockets, so it is checked here): without one the handshake is
answered 401, and a session that ends (logout, expiry) closes the connection (1008) before
anything more is sent. The hub runs in the app's own nursery while the app serves; at shutdown the
handle closes it (``accepting = False``), which ends every connection so that hypercorn
does not wait for them.
"""

from __future__ import annotations

import trio
from quart import Blueprint, current_app, websocket

from actors.handle import HubClosed
from web.auth import COOKIE
from web.common import engine, error_response

bp = Blueprint("live", __name__)
GOING_AWAY = 1001
POLICY_VIOLATION = 1008


@bp.before_app_serving
async def start_hub() -> None:
    current_app.nursery.start_soon(engine().hub.run)


@bp.after_app_serving
async def stop_hub() -> None:
    engine().hub.close()


async def _discard_client_messages() -> None:
    """The client has nothing to say; reading keeps its frames from piling up."""
    while True:
        await websocket.receive()


@bp.websocket("/api/ws")
async def live():
    handle = engine()
    token = websocket.cookies.get(COOKIE)
    if handle.users.session(token) is None:
        return error_response(401, "unauthorized", "login required (no session or session"
                              " expired)")
    try:
        subscriber = handle.live_subscribe()
    except HubClosed:
        return error_response(503, "shutting_down", "the engine is stopping")
    await websocket.accept()
    with subscriber:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_discard_client_messages)
            try:
                while True:
                    messages = await subscriber.receive()
                    if handle.users.session(token) is None:  # logged out or expired meanwhile
                        await websocket.close(POLICY_VIOLATION, "session ended")
                        break
                    for message in messages:
                        await websocket.send(message.decode())
            except HubClosed:
                await websocket.close(GOING_AWAY, "engine stopping")
            nursery.cancel_scope.cancel()
    return None
