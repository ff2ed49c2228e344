"""What a new user sees before anything works: the webhook warning in /api/status (no secret,
one too short — then every webhook is refused), and a paper exchange "waiting for prices"
instead of "degraded" before its first price."""

from actors.settings.secrets import SecretStore
from tests.web.conftest import PAYLOAD, running_engine
from tests.web.runtime_kit import LTC, engine_with_core, eventually, get_json


async def test_status_names_the_missing_secret_and_the_command(tmp_path):
    async with running_engine(tmp_path) as eng:
        client = await eng.login()
        assert (await get_json(client, "/api/status"))["webhook_warning"] is None
        eng.handle.secrets.delete("security.webhook_secret")
        warning = (await get_json(client, "/api/status"))["webhook_warning"]
        assert warning["code"] == "webhook_secret_missing" and warning["refused"] is True
        command = f"engine secrets set security.webhook_secret --config {eng.config_path}"
        assert warning["command"] == command and f"`{command}`" in warning["message"]
        assert (await eng.webhook(PAYLOAD)).status_code == 401


async def test_a_too_short_secret_from_the_environment_stops_the_intake(tmp_path):
    async with running_engine(tmp_path) as eng:
        cfg = eng.handle.config
        eng.handle.secrets = SecretStore(eng.data_dir, cfg.security, machine_id="test-machine",
                                         use_keyring=False,
                                         env={"ENGINE_WEBHOOK_SECRET": "short"})
        client = await eng.login()
        warning = (await get_json(client, "/api/status"))["webhook_warning"]
        assert warning["code"] == "webhook_secret_too_short" and warning["refused"]
        assert "ENGINE_WEBHOOK_SECRET is shorter than 16 characters" in warning["message"]
        # even the right (short) secret is refused: a guessable secret protects nothing
        r = await eng.webhook({**PAYLOAD, "secret": "short"})
        assert r.status_code == 503 and r.json() == {"status": "unavailable"}
        assert eng.store.query("SELECT count(*) AS n FROM inbox")[0]["n"] == 0
        refused = [e for e in eng.events() if e["event"] == "webhook_secret_too_short"]
        assert refused and "shorter than 16 characters" in refused[0]["message"]


async def test_the_paper_exchange_waits_for_prices_before_its_first_price(tmp_path):
    async with engine_with_core(tmp_path) as eng:
        admin = await eng.login()

        async def connection() -> str:
            dash = await get_json(admin, "/api/dashboard")
            return dash["system"]["exchange"]["connection"]

        assert await connection() == "waiting_for_prices"
        r = await admin.post("/api/paper/price", json={"symbol": LTC, "price": "100.00"})
        assert r.status_code == 200, r.text

        async def connected() -> bool:
            return await connection() == "connected"

        await eventually(connected)
