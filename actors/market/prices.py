"""Market data: the latest price per symbol, coalesced, and who wants to hear about it.

Owns: the newest ``(price, received_ms)`` per symbol and the price subscriptions of group actors, each with its "one notification pending" flag.
Receives: ``on_price(PriceUpdate)`` from the stream actor (exchange ticker stream, REST price
polling, the paper exchange's feed); ``fresh_prices(symbols, max_age_ms)`` from whoever needs
prices no older than a bound (SPEC 6.3 / 7.6: at most 10 s old).
Sends: ``PriceChanged`` to each subscriber through its non-blocking ``notify`` — only for prices
outside the subscriber's quiet band (``quiet_between``: prices that cannot change its decision
are not offered) and at most ONE
pending per subscription: further prices only update the stored value, and the subscriber reads
the newest one with ``PriceSubscription.take()``, which also clears the flag. So a price burst
adds at most one message to a group inbox and can never overflow it.
Age is measured from when the engine received a price (engine clock), not from the exchange's
stamp: a replayed CSV feed carries old candle times, and a price is as fresh as our knowledge of
it. Newest wins by arrival; a REST answer never overwrites a price that arrived while it was in
flight.
Fails how: ``notify`` raising (e.g. ``trio.WouldBlock`` from an inbox sized too small) is a bug
and propagates to the caller. A failed REST fetch in ``fresh_prices`` is logged; those symbols
are simply missing from the result (the caller treats them as "no fresh price").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

from actors.exchange.port import ExchangeError, ExchangePort, PriceUpdate
from engine.group.messages import PriceChanged
from engine.group.price_watch import Band, inside

log = logging.getLogger("engine.system")

FRESH_PRICE_MS = 10_000  # SPEC 6.3 / 7.6: prices used for decisions are at most 10 s old
Notify = Callable[[PriceChanged], None]


class PriceSubscription:
    """One subscriber's view of one symbol. Created by ``MarketData.subscribe``."""

    def __init__(self, market: MarketData, symbol: str, notify: Notify):
        self.symbol = symbol
        self._market = market
        self._notify = notify
        self.pending = False  # a PriceChanged is in the subscriber's inbox, not yet taken
        self._quiet: Band | None = None  # prices strictly inside decide nothing for it
        self.received_ms: int | None = None  # when the price ``take`` returned arrived

    def take(self) -> Decimal | None:
        """The newest price (possibly newer than the message that woke the subscriber); clears
        the pending flag so the next price notifies again."""
        self.pending = False
        latest = self._market.price(self.symbol)
        self.received_ms = None if latest is None else latest[1]
        return None if latest is None else latest[0]

    def close(self) -> None:
        self._market._unsubscribe(self)

    def quiet_between(self, band: Band | None) -> None:
        """The subscriber's quiet band (``engine.group.price_watch``): prices inside it are not
        offered. The newest price is offered at once if the new band leaves it outside (the
        subscriber's triggers moved past a price it was not woken for)."""
        self._quiet = band
        latest = self._market.price(self.symbol)
        if latest is not None:
            self._offer(latest[0])

    def _offer(self, price: Decimal) -> None:
        if self.pending or inside(self._quiet, price):
            return
        self.pending = True
        self._notify(PriceChanged(price=price))


class MarketData:
    def __init__(self, *, port: ExchangePort, clock_ms: Callable[[], int]):
        self._port = port
        self._clock_ms = clock_ms
        self._latest: dict[str, tuple[Decimal, int]] = {}
        self._subs: dict[str, list[PriceSubscription]] = {}
        self.updates = 0  # prices accepted (for status / tests)

    # -- prices ---------------------------------------------------------------------------

    def on_price(self, update: PriceUpdate) -> None:
        """Store the price as the newest one, then wake the subscribers."""
        self._store(update.symbol, update.price, self._clock_ms())

    def _store(self, symbol: str, price: Decimal, received_ms: int) -> None:
        self._latest[symbol] = (price, received_ms)
        self.updates += 1
        for sub in self._subs.get(symbol, ()):
            sub._offer(price)

    def price(self, symbol: str) -> tuple[Decimal, int] | None:
        return self._latest.get(symbol)

    def prices(self) -> dict[str, tuple[Decimal, int]]:
        return dict(self._latest)

    async def fresh_prices(self, symbols: Iterable[str],
                           max_age_ms: int = FRESH_PRICE_MS) -> dict[str, tuple[Decimal, int]]:
        """Prices no older than ``max_age_ms``; stale or unknown ones are fetched in one bulk
        REST call first. A symbol the exchange could not price is absent from the result."""
        wanted = list(dict.fromkeys(symbols))
        now = self._clock_ms()
        stale = [s for s in wanted if not self._is_fresh(s, now, max_age_ms)]
        if stale:
            before = {s: self._latest.get(s) for s in stale}
            try:
                fetched = await self._port.fetch_prices(stale)
            except ExchangeError as e:
                log.warning("price fetch failed", extra={"event": "price_fetch_failed", "data": {
                    "symbols": stale, "error": str(e)}})
                fetched = {}
            fetched_at = self._clock_ms()
            for symbol, price in fetched.items():
                if symbol in before and self._latest.get(symbol) is before[symbol]:
                    self._store(symbol, price, fetched_at)  # nothing newer arrived meanwhile
            now = fetched_at
        out = {}
        for symbol in wanted:
            if self._is_fresh(symbol, now, max_age_ms):
                out[symbol] = self._latest[symbol]
        return out

    def _is_fresh(self, symbol: str, now: int, max_age_ms: int) -> bool:
        latest = self._latest.get(symbol)
        return latest is not None and now - latest[1] <= max_age_ms

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, symbol: str, notify: Notify) -> PriceSubscription:
        """``notify`` must not block (e.g. ``inbox_send.send_nowait``). If a price is already
        known the subscriber is notified at once, so it never waits for the next tick."""
        sub = PriceSubscription(self, symbol, notify)
        self._subs.setdefault(symbol, []).append(sub)
        latest = self._latest.get(symbol)
        if latest is not None:
            sub._offer(latest[0])
        return sub

    def _unsubscribe(self, sub: PriceSubscription) -> None:
        subs = self._subs.get(sub.symbol, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subs.pop(sub.symbol, None)

    def symbols(self) -> set[str]:
        """Symbols somebody listens to (the stream actor subscribes to at least these)."""
        return set(self._subs)
