"""Semantic validation of a decoded Config: ranges, enums, ladders and cross-field rules (10.2, 3.4).

Checks that need the file system or the time-zone database (readable files, writable data
directory, IANA names) live in ``actors/settings/config_store.py``; this module is pure.
"""

import ipaddress
import re
from decimal import Decimal

from typing import Any

from engine.config.decode import BAD, Problem, join
from engine.config.model import (
    EXCHANGE_NAMES,
    PLATFORMS,
    SELECTION_RULES,
    Config,
    GridOverride,
    GridStrategyConfig,
    Ladder,
)

_TOLERANCE = Decimal("0.01")
_SYMBOL = re.compile(r"^[A-Za-z0-9]+$")
_PYRAMID_KEY = re.compile(r"^[0-9]$")
_GRID_KEY_MESSAGE = 'key must look like "<exchange>:<SYMBOL>:<minutes or *>", e.g. "binance:BTCUSDT:60"'
_PRECISION_KEY_MESSAGE = 'key must look like "<exchange>:<SYMBOL>", e.g. "binance:BTCUSDT"'


def _related(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


class Checker:
    """Collects semantic problems, dropping those about values that already failed to decode."""

    def __init__(self, bad: set[str], partial: dict[str, Any]):
        self.bad = bad
        self.partial = partial
        self.problems: list[Problem] = []

    def ok(self, *paths: str) -> bool:
        return not any(_related(p, b) for p in paths for b in self.bad)

    def add(self, path: str, message: str) -> None:
        if self.ok(path):
            self.always(path, message)

    def always(self, path: str, message: str) -> None:
        """For facts that hold whatever failed inside ``path`` (its key, its length)."""
        self.problems.append(Problem(path=path, message=message))

    def at_least(self, path: str, value: int | Decimal, low: int | Decimal) -> None:
        if value < low:
            self.add(path, f"must be >= {low}, got {value}")

    def between(self, path: str, value: int | Decimal, low: int | Decimal, high: int | Decimal) -> None:
        if not low <= value <= high:
            self.add(path, f"must be between {low} and {high}, got {value}")

    def above(self, path: str, value: Decimal, low: Decimal | int = 0) -> None:
        if value <= low:
            self.add(path, f"must be > {low}, got {value}")

    def not_empty(self, path: str, value: str) -> None:
        if not value.strip():
            self.add(path, "must not be empty")

    def get(self, path: str, value: Any) -> Any:
        """The decoded value at ``path``, or its good items when some failed to decode."""
        return self.partial.get(path, value)

    def ladder(self, levels: Ladder | None, path: str, max_legs: int | None) -> None:
        """SPEC 3.4: 1..max legs; weights > 0 summing to 100 ± 0.01; tp > 0; gaps in (−100, 0],
        non-increasing."""
        levels = self.get(path, levels)
        if levels is None or levels is BAD:
            return
        if not levels:
            self.add(path, "a ladder needs at least one leg")
            return
        if max_legs is not None and len(levels) > max_legs:
            self.always(path, f"has {len(levels)} legs, more than max_dca_per_pyramid ({max_legs})")
        previous: Decimal | None = None
        for i, lv in enumerate(levels):
            leg = join(path, i)
            if lv is BAD:
                previous = None
                continue
            self.above(join(leg, "weight_percent"), lv.weight_percent)
            self.above(join(leg, "tp_percent"), lv.tp_percent)
            if not Decimal(-100) < lv.gap_percent <= 0:
                self.add(join(leg, "gap_percent"), f"must satisfy -100 < gap <= 0, got {lv.gap_percent}")
            elif previous is not None and lv.gap_percent > previous:
                self.add(
                    join(leg, "gap_percent"),
                    f"gaps must not increase: {lv.gap_percent} is above the previous leg's {previous}",
                )
            previous = lv.gap_percent
        total = sum((lv.weight_percent for lv in levels if lv is not BAD), Decimal(0))
        if abs(total - 100) > _TOLERANCE:
            self.add(path, f"weights sum to {total}, expected 100 (±0.01)")

    def limit(self, grid: GridStrategyConfig, name: str) -> int | None:
        """A grid limit usable for cross-checks: None when it is itself unreadable or invalid."""
        value = getattr(grid, name)
        return value if self.ok(f"grid_strategy.{name}") and 1 <= value <= 10 else None

    def pyramid_ladders(
        self, ladders: dict[str, Ladder] | None, path: str, grid: GridStrategyConfig
    ) -> None:
        ladders = self.get(path, ladders)
        if ladders is None or ladders is BAD:
            return
        max_legs = self.limit(grid, "max_dca_per_pyramid")
        max_pyramids = self.limit(grid, "max_pyramids_per_group")
        for key, levels in ladders.items():
            if not _PYRAMID_KEY.match(key):
                self.always(join(path, key), 'keys must be pyramid indexes "0" to "9"')
                continue
            if max_pyramids is not None and int(key) >= max_pyramids:
                self.always(
                    join(path, key),
                    f"pyramid index {key} is not below max_pyramids_per_group ({max_pyramids})",
                )
            self.ladder(levels, join(path, key), max_legs)


def check(cfg: Config, bad: set[str], partial: dict[str, Any]) -> list[Problem]:
    """Every semantic problem of ``cfg``; ``bad`` = paths whose values failed to decode,
    ``partial`` = arrays and tables of which only some items decoded."""
    c = Checker(bad, partial)
    _app(c, cfg)
    _exchange(c, cfg)
    _pool_queue_risk(c, cfg)
    _grid(c, cfg.grid_strategy)
    _precision(c, cfg)
    _logging_security_ui(c, cfg)
    _notifications(c, cfg.notifications)
    return c.problems


def _notifications(c: Checker, n: Any) -> None:
    c.between("notifications.batch_sec", n.batch_sec, 1, 3600)
    c.between("notifications.timeout_sec", n.timeout_sec, 1, 60)
    c.between("notifications.queue_limit", n.queue_limit, 10, 100_000)


def _app(c: Checker, cfg: Config) -> None:
    app = cfg.app
    c.not_empty("app.data_dir", app.data_dir)
    c.not_empty("app.timezone", app.timezone)
    try:
        ipaddress.ip_address(app.http_host)
    except ValueError:
        c.add("app.http_host", f"must be an IP address, got {app.http_host!r}")
    c.between("app.http_port", app.http_port, 1, 65535)
    if app.public_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", app.public_url):
        c.add("app.public_url", "must be empty or look like https://host[:port][/path], got "
              f"{app.public_url!r}")
    if bool(app.tls_cert_file) != bool(app.tls_key_file) and c.ok("app.tls_key_file"):
        c.add("app.tls_cert_file", "tls_cert_file and tls_key_file must both be set or both be empty")
    if not app.quote_currencies:
        c.add("app.quote_currencies", "must list at least one quote currency")
    for i, quote in enumerate(app.quote_currencies):
        c.not_empty(join("app.quote_currencies", i), quote)
    c.at_least("app.capital_base_usd", app.capital_base_usd, 0)


def _exchange(c: Checker, cfg: Config) -> None:
    ex, paper = cfg.exchange, cfg.exchange.paper
    if ex.name == "paper" and ex.market_type != "spot" and c.ok("exchange.name"):
        c.add("exchange.market_type", f"the paper exchange supports only spot, got {ex.market_type!r}")
    c.at_least("exchange.precision_refresh_sec", ex.precision_refresh_sec, 10)
    c.between("exchange.order_poll_sec", ex.order_poll_sec, Decimal("0.5"), 60)
    c.between("exchange.price_poll_sec", ex.price_poll_sec, Decimal("0.5"), 60)
    c.between("exchange.protective_wait_alert_sec", ex.protective_wait_alert_sec,
              Decimal("0.1"), 600)
    if paper.feed == "csv" and not paper.csv_files:
        c.add("exchange.paper.csv_files", 'feed = "csv" needs at least one symbol = "file.csv" entry')
    for symbol, file in paper.csv_files.items():
        c.not_empty(join("exchange.paper.csv_files", symbol), file)
    c.at_least("exchange.paper.replay_interval_ms", paper.replay_interval_ms, 0)
    _paper_live(c, paper)
    for asset, amount in paper.start_balances.items():
        c.at_least(join("exchange.paper.start_balances", asset), amount, 0)
    c.between("exchange.paper.maker_fee_percent", paper.maker_fee_percent, 0, 5)
    c.between("exchange.paper.taker_fee_percent", paper.taker_fee_percent, 0, 5)
    if not 0 < paper.partial_fill_ratio <= 1:
        c.add(
            "exchange.paper.partial_fill_ratio",
            f"must satisfy 0 < ratio <= 1, got {paper.partial_fill_ratio}",
        )


def _paper_live(c: Checker, paper: Any) -> None:
    """``feed = "live"``: public prices in real time, so the clock is the wall clock."""
    live = paper.live
    if paper.feed == "live" and paper.clock == "feed":
        c.add("exchange.paper.clock", 'feed = "live" runs on wall time: set clock = "wall"')
    c.between("exchange.paper.live.poll_sec", live.poll_sec, Decimal("0.5"), 60)
    c.between("exchange.paper.live.stale_sec", live.stale_sec, 5, 3600)
    for key, url, schemes in (("rest_url", live.rest_url, ("http://", "https://")),
                              ("ws_url", live.ws_url, ("ws://", "wss://"))):
        if url and not url.startswith(schemes):
            c.add(f"exchange.paper.live.{key}",
                  f"must start with {' or '.join(schemes)} (or be empty), got {url!r}")


def _pool_queue_risk(c: Checker, cfg: Config) -> None:
    c.at_least("execution_pool.max_open_groups", cfg.execution_pool.max_open_groups, 1)
    c.at_least("execution_pool.queue_limit", cfg.execution_pool.queue_limit, 0)
    seen: set[str] = set()
    for i, rule in enumerate(cfg.waiting_rule.selection_priority):
        path = join("waiting_rule.selection_priority", i)
        if rule not in SELECTION_RULES:
            c.add(path, f"must be one of {', '.join(SELECTION_RULES)}; got {rule!r}")
        elif rule in seen:
            c.add(path, f"{rule!r} is listed twice")
        seen.add(rule)
    r = cfg.risk_engine
    c.at_least("risk_engine.post_full_wait_minutes", r.post_full_wait_minutes, 0)
    if r.loss_threshold_percent >= 0:
        c.add("risk_engine.loss_threshold_percent", f"must be < 0, got {r.loss_threshold_percent}")
    c.at_least("risk_engine.age_threshold_minutes", r.age_threshold_minutes, 0)
    c.between("risk_engine.max_winners_to_combine", r.max_winners_to_combine, 1, 10)
    c.at_least("risk_engine.min_close_notional", r.min_close_notional, 0)
    c.between("risk_engine.offset_slippage_percent", r.offset_slippage_percent, 0, 5)
    c.between("risk_engine.evaluate_interval_sec", r.evaluate_interval_sec, 1, 3600)
    if not 0 < r.max_slippage_percent < 100:
        message = f"must satisfy 0 < x < 100, got {r.max_slippage_percent}"
        c.add("risk_engine.max_slippage_percent", message)


def _grid(c: Checker, g: GridStrategyConfig) -> None:
    c.between("grid_strategy.max_pyramids_per_group", g.max_pyramids_per_group, 1, 10)
    c.between("grid_strategy.max_dca_per_pyramid", g.max_dca_per_pyramid, 1, 10)
    _grid_values(
        c, "grid_strategy", g.tp_percent, g.capital_per_pyramid_usd, g.cancel_dca_beyond_percent
    )
    c.ladder(g.dca_levels, "grid_strategy.dca_levels", c.limit(g, "max_dca_per_pyramid"))
    c.pyramid_ladders(g.pyramid_specific_levels, "grid_strategy.pyramid_specific_levels", g)
    overrides = c.get("grid_strategy.overrides", g.overrides)
    for key, override in overrides.items():
        if override is not BAD:
            _override(c, join("grid_strategy.overrides", key), key, override, g)
    _no_case_duplicates(c, "grid_strategy.overrides", overrides)


def _grid_values(
    c: Checker, path: str, tp: Decimal | None, capital: Decimal | None, cancel: Decimal | None
) -> None:
    if tp is not None:
        c.above(join(path, "tp_percent"), tp)
    if capital is not None:
        c.at_least(join(path, "capital_per_pyramid_usd"), capital, 0)
    if cancel is not None:
        c.at_least(join(path, "cancel_dca_beyond_percent"), cancel, 0)


def _override(c: Checker, path: str, key: str, o: GridOverride, g: GridStrategyConfig) -> None:
    parts = key.split(":")
    if (
        len(parts) != 3
        or parts[0].lower() not in EXCHANGE_NAMES
        or not _SYMBOL.match(parts[1])
        or not (parts[2] == "*" or (parts[2].isdigit() and int(parts[2]) > 0))
    ):
        c.always(path, _GRID_KEY_MESSAGE)
    _grid_values(c, path, o.tp_percent, o.capital_per_pyramid_usd, o.cancel_dca_beyond_percent)
    c.ladder(o.dca_levels, join(path, "dca_levels"), c.limit(g, "max_dca_per_pyramid"))
    c.pyramid_ladders(o.pyramid_specific_levels, join(path, "pyramid_specific_levels"), g)


def _no_case_duplicates(c: Checker, path: str, table: dict[str, object]) -> None:
    seen: dict[str, str] = {}
    for key in table:
        folded = key.lower()
        if folded in seen:
            c.always(join(path, key), f"same key as {seen[folded]!r} (keys are case-insensitive)")
        seen[folded] = key


def _precision(c: Checker, cfg: Config) -> None:
    p = cfg.precision
    overrides = c.get("precision.overrides", p.overrides)
    rules = [("precision.fallback_rules", p.fallback_rules)]
    rules += [(join("precision.overrides", k), v) for k, v in overrides.items() if v is not BAD]
    for path, r in rules:
        for name in ("tick_size", "step_size", "min_qty", "min_notional"):
            c.above(join(path, name), getattr(r, name))
    for key in overrides:
        parts = key.split(":")
        if len(parts) != 2 or parts[0].lower() not in EXCHANGE_NAMES or not _SYMBOL.match(parts[1]):
            c.always(join("precision.overrides", key), _PRECISION_KEY_MESSAGE)
    _no_case_duplicates(c, "precision.overrides", overrides)


def _logging_security_ui(c: Checker, cfg: Config) -> None:
    c.at_least("logging.keep_days", cfg.logging.keep_days, 1)
    c.at_least("logging.max_file_mb", cfg.logging.max_file_mb, 1)
    s = cfg.security
    for i, entry in enumerate(s.webhook_ip_allowlist):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            message = f"not an IP address or CIDR range: {entry!r}"
            c.add(join("security.webhook_ip_allowlist", i), message)
    c.not_empty("security.secrets_file", s.secrets_file)
    if s.secrets_file.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", s.secrets_file):
        c.add("security.secrets_file", "must be a path relative to app.data_dir")
    c.between("security.session_timeout_minutes", s.session_timeout_minutes, 5, 10080)
    c.between("ui.realtime_update_ms", cfg.ui.realtime_update_ms, 100, 10000)
    c.between("ui.font_size", cfg.ui.font_size, 10, 24)
    c.between("ui.chart_history_days", cfg.ui.chart_history_days, 1, 3650)
    seen: set[str] = set()
    for i, platform in enumerate(cfg.packaging.target_platforms):
        path = join("packaging.target_platforms", i)
        if platform not in PLATFORMS:
            c.add(path, f"must be one of {', '.join(PLATFORMS)}; got {platform!r}")
        elif platform in seen:
            c.add(path, f"{platform!r} is listed twice")
        seen.add(platform)
