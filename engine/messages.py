"""Messages between the actors, grouped by direction (ARCHITECTURE.md "Messages and flow").

Every message is a frozen, keyword-only, tagged msgspec Struct; money is Decimal. A message is
also a journal body: ``Store.journal(..., kind=<class name>, body=message)``.
"""

import msgspec

from engine.config import Config
from engine.signals import Signal

# --- intake → engine core (events: the webhook answered 2xx after journaling) -----------------


class SignalAccepted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """A webhook stored in the inbox (state ``accepted``) and journaled before its 200.

    ``inbox_id`` increases with arrival order; a consumer that first read the backlog with
    ``Inbox.pending()`` skips ids it has already taken."""

    inbox_id: int
    received_ms: int
    source_ip: str | None
    signal: Signal


# --- web (admin Apply) → root and services (commands: the new running configuration) -------


class ConfigChanged(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Apply adopted ``config`` as the running configuration (SPEC 10.1).

    ``changed`` lists the dotted keys that differ from the configuration running before (each
    service restarts when its keys changed); ``restart_required`` those active only after the
    process restarts. When the receiver lags, consecutive messages are merged: the newest
    ``config`` with the union of the keys."""

    version_id: int
    config: Config
    changed: tuple[str, ...]
    restart_required: tuple[str, ...]
    user: str | None
    applied_ms: int
