"""Queue operations (SPEC 6.2, 6.5, 2.6 applied to queued entries): V11, A44, A45."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from engine.errors import InvalidInput
from engine.queue import (
    ActionRefused,
    DuplicateIgnored,
    EntriesDropped,
    EntryQueued,
    EntryRemoved,
    EntryReplaced,
    EntrySuperseded,
    QueuedSignal,
    QueueFullRejected,
    QueueState,
    drop_on_exit,
    enqueue,
    find,
    remove,
)
from engine.signals import candle_index


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def sig(symbol="ETHUSDT", tf=15, side="long", ts="2025-11-10T12:03:10", ref="2000", ep="12"):
    return QueuedSignal(
        exchange="binance",
        symbol=symbol,
        timeframe=tf,
        side=side,
        intent="signal",
        payload=f'{{"symbol": "{symbol}"}}',
        reference_price=D(ref),
        order_size=D("1000"),
        size_type="quote",
        signal_timestamp_ms=ms(ts),
        expected_profit=D(ep),
    )


def put(state, s, *, reason="pool_full", now=0, live=None, replace=True, limit=0):
    return enqueue(
        state, s, reason=reason, now_ms=now, live_side=live,
        queue_replace_same_symbol=replace, queue_limit=limit,
    )


@pytest.mark.parametrize(
    "ts, tf, index",
    [
        ("2025-11-10T12:03:10", 15, 1958640),
        ("2025-11-10T12:14:59", 15, 1958640),
        ("2025-11-10T12:15:00", 15, 1958641),
        ("2025-11-10T00:00:00", 10080, 2914),
        ("2025-11-16T23:59:59", 10080, 2914),
        ("2025-11-17T00:00:00", 10080, 2915),
        ("2025-11-10T00:00:00", 43200, (2025 - 1970) * 12 + 10),
        ("2025-11-30T23:59:59", 43200, (2025 - 1970) * 12 + 10),
    ],
)
def test_candle_index_d14(ts, tf, index):
    assert candle_index(ms(ts), tf) == index


def test_candle_index_refuses_zero_timeframe():
    with pytest.raises(InvalidInput) as exc:
        candle_index(0, 0)
    assert exc.value.field == "timeframe"


def test_insert_fresh_entry():
    step = put(QueueState(), sig(), now=1000)
    (ev,) = step.events
    assert isinstance(ev, EntryQueued)
    e = ev.entry
    assert (e.id, e.replacement_count, e.queued_at_ms, e.updated_at_ms) == (1, 0, 1000, 1000)
    assert e.key == ("binance", "ETHUSDT", 15) and e.reason == "pool_full"
    assert step.state.next_id == 2 and step.state.entries == (e,)


def test_v11_replaced_four_times_keeps_queued_at():
    state = put(QueueState(), sig(ts="2025-11-10T12:03:10"), now=1000).state
    for i, (ts, ref) in enumerate(
        [("12:16:00", "1990"), ("12:31:00", "1980"), ("12:46:00", "1975"), ("13:01:00", "1970")],
        start=1,
    ):
        step = put(state, sig(ts=f"2025-11-10T{ts}", ref=ref, ep="7"), now=1000 + i,
                   reason="engine_paused")
        assert isinstance(step.events[0], EntryReplaced)
        state = step.state
    (e,) = state.entries
    assert e.replacement_count == 4
    assert e.queued_at_ms == 1000 and e.updated_at_ms == 1004
    assert e.reference_price == D("1970") and e.expected_profit == D("7")
    assert e.reason == "engine_paused" and e.signal_timestamp_ms == ms("2025-11-10T13:01:00")
    assert state.next_id == 2


@pytest.mark.parametrize(
    "ts, why",
    [("2025-11-10T12:14:59", "same_candle"), ("2025-11-10T11:58:00", "stale")],
)
def test_same_candle_rule_applies_before_replacement(ts, why):
    state = put(QueueState(), sig(), now=1).state
    step = put(state, sig(ts=ts, ref="1"), now=2)
    assert step.events == (DuplicateIgnored(entry_id=1, why=why),)
    assert step.state is state


def test_replacement_disabled_ignores_newer_signal():
    state = put(QueueState(), sig(), now=1).state
    step = put(state, sig(ts="2025-11-10T12:16:00"), now=2, replace=False)
    assert step.events == (DuplicateIgnored(entry_id=1, why="replace_disabled"),)
    assert step.state is state


def test_opposite_side_supersedes_when_no_group_live():
    state = put(QueueState(), sig(side="long"), now=1).state
    step = put(state, sig(side="short", ts="2025-11-10T12:30:00"), now=5, reason="pool_full")
    assert step.events[0] == EntrySuperseded(entry_id=1, by_side="short")
    new = step.events[1].entry
    assert (new.id, new.side, new.replacement_count, new.queued_at_ms) == (2, "short", 0, 5)
    assert [e.id for e in step.state.entries] == [2]


def test_opposite_side_kept_when_group_live():
    state = put(QueueState(), sig(side="short"), now=1, live="long", reason="opposite_side").state
    step = put(state, sig(side="long", ts="2025-11-10T12:30:00"), now=2, live="long",
               reason="group_closing")
    assert [type(ev) for ev in step.events] == [EntryQueued]
    assert sorted(e.side for e in step.state.entries) == ["long", "short"]


def test_queue_limit_rejects_new_but_allows_replacement():
    state = QueueState()
    for sym in ("AAAUSDT", "BBBUSDT"):
        state = put(state, sig(symbol=sym), limit=2).state
    step = put(state, sig(symbol="CCCUSDT"), limit=2)
    assert step.events == (
        QueueFullRejected(exchange="binance", symbol="CCCUSDT", timeframe=15, side="long",
                          queue_limit=2),
    )
    assert step.state is state
    step = put(state, sig(symbol="AAAUSDT", ts="2025-11-10T12:30:00"), limit=2)
    assert isinstance(step.events[0], EntryReplaced)
    # superseding removes one entry first, so it fits under the limit
    step = put(state, sig(symbol="AAAUSDT", side="short", ts="2025-11-10T12:30:00"), limit=2)
    assert [type(ev) for ev in step.events] == [EntrySuperseded, EntryQueued]


def test_drop_on_exit():
    state = QueueState()
    state = put(state, sig(side="short"), live="long", reason="opposite_side").state
    state = put(state, sig(symbol="BTCUSDT")).state
    state = put(state, sig(tf=60)).state
    key = ("binance", "ETHUSDT", 15)
    kept = drop_on_exit(state, key, drop_on_exit=False)
    assert kept.state is state and kept.events == ()
    step = drop_on_exit(state, key, drop_on_exit=True)
    assert step.events == (EntriesDropped(entry_ids=(1,)),)
    assert [e.id for e in step.state.entries] == [2, 3]
    assert drop_on_exit(step.state, key, drop_on_exit=True).events == ()


def test_remove_logs_user_and_refuses_unknown():
    state = put(QueueState(), sig()).state
    step = remove(state, 1, user="alice")
    assert step.events == (EntryRemoved(entry_id=1, user="alice"),)
    assert step.state.entries == () and find(step.state, 1) is None
    step = remove(state, 99, user="alice")
    assert step.events == (ActionRefused(entry_id=99, action="remove", reason="not_found"),)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(reason="bogus"), "reason"),
        (dict(limit=-1), "execution_pool.queue_limit"),
    ],
)
def test_enqueue_refuses_impossible_settings(kwargs, field):
    with pytest.raises(InvalidInput) as exc:
        put(QueueState(), sig(), **kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize("field, value", [("reference_price", D(0)), ("entry_legs", 0)])
def test_enqueue_refuses_impossible_signal(field, value):
    import msgspec

    bad = msgspec.structs.replace(sig(), **{field: value})
    with pytest.raises(InvalidInput) as exc:
        put(QueueState(), bad)
    assert exc.value.field == field
