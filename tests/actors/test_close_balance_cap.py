"""SPEC 4.7 step 3 in the running engine: on spot, the full close sells at most the free base
balance, read from the exchange after the close's own cancellations — coins sold by hand on the
same account are a shortfall (Warning), sold as far as they go, and the rest is written off on
the retry instead of the close failing on "insufficient balance" forever."""

from decimal import Decimal as D

from actors.exchange.port import OrderRequest
from tests.actors.engine_kit import START_MS, SYMBOL, running, signal


def _base_free(kit) -> D:
    return D(kit.paper.state()["balances"]["LTC"]["free"])


async def test_close_is_capped_at_the_free_base_balance(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())  # DCA0 (20 % of 1000 USDT at 100) fills at once: 2 LTC
        [group] = kit.groups()
        assert D(group["open_qty"]) == 2 and _base_free(kit) == 0  # its TP order locks them
        # the account's owner cancels the TP and sells 0.4 LTC by hand
        tp = next(o for o in kit.orders("open") if o["side"] == "sell")
        await kit.paper.cancel_order(SYMBOL, tp["client_order_id"])
        await kit.paper.create_order(OrderRequest(
            client_order_id="manual-sale", symbol=SYMBOL, side="sell", type="market",
            quantity=D("0.4")))
        await kit.settle()
        await kit.send(signal("exit", ts_ms=START_MS + 1))

        sells = [o for o in kit.orders() if o["side"] == "sell"
                 and o["client_order_id"] != "manual-sale" and o["type"] == "market"]
        assert [(D(o["quantity"]), o["status"]) for o in sells] == [(D("1.6"), "filled")]
        shortfall = kit.journal("CloseShortfall")
        assert shortfall and '"available":"1.600"' in shortfall[0]["body"]
        # nothing left to sell: the retry writes the missing 0.4 off and the group closes
        await kit.settle(kit.core.config.risk_engine.evaluate_interval_sec + 2)
        [group] = kit.groups()
        assert (group["status"], group["close_reason"]) == ("closed", "exit_signal")
        assert kit.journal("LotWrittenOff")
        assert _base_free(kit) == 0 and kit.orders("open") == []


async def test_a_close_with_the_coins_held_sells_every_lot(tmp_path, autojump_clock):
    async with running(tmp_path / "e.db") as kit:
        await kit.send(signal())
        await kit.send(signal("exit", ts_ms=START_MS + 1))
        [group] = kit.groups()
        assert group["status"] == "closed"
        closes = [o for o in kit.orders() if o["type"] == "market"]
        assert [(D(o["quantity"]), o["status"]) for o in closes] == [(D("2"), "filled")]
        assert kit.journal("CloseShortfall") == [] and kit.journal("LotWrittenOff") == []
