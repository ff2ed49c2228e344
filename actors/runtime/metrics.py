"""Prometheus metrics of the running engine, served at ``GET /metrics`` (web/metrics.py).

Owns: a prometheus-client registry. Fed on the way by three small hooks — ``webhook`` (called by
the webhook lane after each answer), ``order_sent`` and ``watch_stream`` (``MonitoredPort``'s
observer: every order placement and every pushed fill) — and read at scrape time for the rest:
the running core (pool, queue, prices, rate budget, exchange health), the store (orders by
state, open groups, risk actions, reconciliation findings) and the process (RSS, CPU).
Receives: the hook calls above; ``scrape()`` from the web route; ``authorised(header)``.
Sends: nothing.
Fails how: the hooks never raise into the trading path (they only count); a scrape-time read
that fails (the database busy past its timeout) raises to the route, which answers 500 and
logs it. Latencies measured by the hooks: ack = webhook arrival → answer sent; signal → first
order = an accepted webhook → the first entry/exit/reduce order sent for its symbol within
``PENDING_S``; fill → TP order = a fill pushed by the exchange stream → the TP order of that leg
(fills found by REST catch-up are not timed).
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from actors.exchange.port import OrderUpdate
from engine.orders import Purpose, decode_cid

TOKEN_SECRET = "app.metrics_token"
PENDING_S = 60.0  # a signal that sent no order by then (queued, ignored) is not timed
PENDING_MAX = 1_000  # per symbol: a flood of signals that send nothing stays bounded
SIGNAL_PURPOSES = frozenset("exd")  # entry, exit, reduce: the orders a signal causes
LATENCY_BUCKETS = (.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1., 2.5, 5., 10.)
OPEN = "status NOT IN ('closed', 'failed')"
CONNECTED = {"connected": 1, "waiting_for_prices": 1, "degraded": 0.5}


class EngineMetrics:
    def __init__(self, *, store: Any, core: Callable[[], Any], config: Callable[[], Any],
                 secrets: Any, clock: Callable[[], float] = time.perf_counter):
        self.store, self._core, self._config, self._secrets = store, core, config, secrets
        self._clock = clock
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._webhooks = Counter("engine_webhooks", "Webhooks answered, by outcome",
                                 ["outcome"], registry=registry)
        self._by_outcome: dict[str, Any] = {}
        self._ack = Histogram("engine_webhook_ack_seconds", "Webhook arrival to answer sent",
                              buckets=LATENCY_BUCKETS, registry=registry)
        self._signal_to_order = Histogram(
            "engine_signal_to_first_order_seconds",
            "Accepted webhook to the first order sent for its symbol",
            buckets=LATENCY_BUCKETS, registry=registry)
        self._fill_to_tp = Histogram(
            "engine_fill_to_tp_order_seconds", "Pushed entry fill to its take-profit order sent",
            buckets=LATENCY_BUCKETS, registry=registry)
        self._pending: dict[str, deque[float]] = {}  # symbol -> accepted-webhook start times
        self._fills: dict[tuple[int, int | None, int | None], float] = {}
        self._reconcile_seq = 0
        self._findings: dict[str, int] = {}
        ProcessCollector(registry=registry)
        registry.register(_Scraped(self))

    # --- hooks (hot path: count, never raise) -------------------------------------------
    def webhook(self, outcome: str, started: float, facts: dict[str, Any] | None) -> None:
        """One webhook answered; ``started`` is its ``perf_counter`` at arrival, ``facts`` what
        the lane noted for ``/api/status`` (the symbol of an accepted one)."""
        now = self._clock()
        child = self._by_outcome.get(outcome)
        if child is None:
            child = self._by_outcome[outcome] = self._webhooks.labels(outcome)
        child.inc()
        self._ack.observe(now - started)
        if outcome == "accepted" and facts is not None and facts.get("symbol"):
            waiting = self._pending.get(facts["symbol"])
            if waiting is None:
                waiting = self._pending[facts["symbol"]] = deque(maxlen=PENDING_MAX)
            waiting.append(started)

    def order_sent(self, request: Any) -> None:
        """``MonitoredPort.create_order`` is about to send ``request``."""
        parts = decode_cid(request.client_order_id)
        if parts is None or parts.attempt:
            return  # not ours, or a retry: only the first send is timed
        now = self._clock()
        if parts.purpose in SIGNAL_PURPOSES:
            waiting = self._pending.get(request.symbol)
            while waiting:
                started = waiting.popleft()
                if now - started <= PENDING_S:
                    self._signal_to_order.observe(now - started)
                    break
        elif parts.purpose == Purpose.TAKE_PROFIT:
            filled = self._fills.pop((parts.group_id, parts.pyramid, parts.leg), None)
            if filled is not None:
                self._fill_to_tp.observe(now - filled)

    async def watch_stream(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The port's stream, noting when each entry fill arrived."""
        try:
            async for event in events:
                if type(event) is OrderUpdate and event.trade is not None:
                    self._fill_seen(event.order.client_order_id)
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    def _fill_seen(self, cid: str) -> None:
        parts = decode_cid(cid)
        if parts is not None and parts.purpose == Purpose.ENTRY:
            if len(self._fills) > 10_000:  # legs whose TP never came: forget the oldest
                self._fills.pop(next(iter(self._fills)))
            self._fills[(parts.group_id, parts.pyramid, parts.leg)] = self._clock()

    # --- the endpoint ------------------------------------------------------------------------
    def enabled(self) -> bool:
        return bool(self._config().app.metrics_enabled)

    def authorised(self, authorization: str | None) -> bool:
        """``Authorization: Bearer <app.metrics_token>``; no token stored = nobody."""
        token = self._secrets.get(TOKEN_SECRET)
        if not token or not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8"))

    def scrape(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- scrape-time readings ----------------------------------------------------------------
    def findings(self) -> dict[str, int]:
        """Reconciliation findings summed over the journal's ``Reconciled`` reports (read
        incrementally: only reports after the last one seen)."""
        rows = self.store.query("SELECT seq, body FROM journal WHERE kind = 'Reconciled' AND"
                                " seq > ? ORDER BY seq", (self._reconcile_seq,))
        for row in rows:
            report = msgspec.json.decode(row["body"])
            for name, count in report.items():
                if name != "kind" and isinstance(count, int) and count:
                    self._findings[name] = self._findings.get(name, 0) + count
            self._reconcile_seq = row["seq"]
        return self._findings


class _Scraped:
    """The families read when Prometheus scrapes (nothing of this costs a webhook)."""

    def __init__(self, metrics: EngineMetrics):
        self.m = metrics

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: not checked for duplicates at registration

    def collect(self) -> Iterator[Metric]:
        store = self.m.store
        yield _labelled(GaugeMetricFamily, "engine_orders", "Orders by state", "state", {
            r["state"]: r["n"] for r in store.query(
                "SELECT state, count(*) AS n FROM orders GROUP BY state")})
        open_groups = store.query(f"SELECT count(*) AS n FROM position_groups WHERE {OPEN}")
        yield GaugeMetricFamily("engine_open_groups", "Groups not closed or failed",
                                value=open_groups[0]["n"])
        yield _labelled(CounterMetricFamily, "engine_risk_actions", "Risk Engine actions, by"
                        " outcome", "outcome", {r["outcome"]: r["n"] for r in store.query(
                            "SELECT outcome, count(*) AS n FROM risk_actions GROUP BY outcome")})
        yield _labelled(CounterMetricFamily, "engine_reconcile_findings", "Reconciliation"
                        " findings, by kind", "finding", self.m.findings())
        core = self.m._core()
        if core is not None:
            yield from _core_families(core)


def _labelled(family: type, name: str, doc: str, label: str,
              values: dict[str, float]) -> Metric:
    metric = family(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        metric.add_metric([str(key)], value)
    return metric


def _core_families(core: Any) -> Iterator[Metric]:
    supervisor = core.supervisor
    yield GaugeMetricFamily("engine_pool_used", "Execution pool slots held",
                            value=supervisor.used())
    yield GaugeMetricFamily("engine_pool_max", "Execution pool size (max_open_groups)",
                            value=core.config.execution_pool.max_open_groups)
    yield GaugeMetricFamily("engine_queue_length", "Signals waiting in the queue",
                            value=len(core.queue.entries))
    now_ms = core.clock.now_ms()
    ages = GaugeMetricFamily("engine_price_age_seconds", "Age of the newest price, per symbol",
                             labels=["symbol"])
    for symbol, (_price, at_ms) in sorted(core.market.prices().items()):
        ages.add_metric([symbol], max(0, now_ms - at_ms) / 1000)
    yield ages
    health = core.health
    if health is not None:
        yield _labelled(CounterMetricFamily, "engine_exchange_errors", "Failed exchange calls,"
                        " by error kind", "kind", dict(health.errors))
        yield GaugeMetricFamily("engine_exchange_connected", "1 connected (or waiting for a"
                                " first price), 0.5 degraded, 0 disconnected",
                                value=CONNECTED.get(health.status(), 0))
    limiter = getattr(core.port, "limiter", None)
    if limiter is not None:
        import trio

        used = GaugeMetricFamily("engine_rate_limit_used_ratio", "Share of the exchange's rate"
                                 " budget used, per window", labels=["kind", "window_s"])
        for window in limiter.budget.usage(trio.current_time()):
            if window["limit"]:
                used.add_metric([window["kind"], f"{window['window_s']:g}"],
                                window["used"] / window["limit"])
        yield used
