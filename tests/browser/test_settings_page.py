"""The Settings page in a real browser (Debian's Chromium) against the real engine process
(SPEC 11.5 F): Apply changes the dashboard's pool; the ladder editor's weight sum blocks Save
and the Live Preview shows the legs once fixed; a secret comes back only masked; a broken
import replaces nothing; a downloaded backup restores with ``engine restore``; an operator
changes nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.engine_process import (
    ADMIN, ADMIN_PASSWORD, OPERATOR, OPERATOR_PASSWORD, ROOT, EngineProcess, wait_for,
)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
WAIT = 30_000  # ms: generous, the suite shares two cores


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    return {"executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture
def engine(tmp_path) -> Iterator[EngineProcess]:
    # a data directory relative to engine.toml, so a restored archive lands beside its config
    proc = EngineProcess(tmp_path, {"app.data_dir": "data"}).start()
    try:
        yield proc
    finally:
        proc.stop()


def open_settings(page: Page, engine: EngineProcess, user: str = ADMIN,
                  password: str = ADMIN_PASSWORD) -> None:
    page.goto(engine.url + "/settings")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("[data-section='Theme & UI']").wait_for(timeout=WAIT)


def test_pool_size_applied_changes_the_dashboard(page: Page, engine: EngineProcess):
    open_settings(page, engine)
    page.get_by_label("Max open groups").fill("3")
    expect(page.locator("[data-test=settings-state]")).to_contain_text(
        "differs from the running configuration", timeout=WAIT)  # auto-saved
    page.get_by_role("button", name="Apply & Restart Engine").click()
    applied = page.locator("[data-test=applied]")
    expect(applied).to_contain_text("Took effect now", timeout=WAIT)
    expect(applied).to_contain_text("execution_pool.max_open_groups")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("[data-test=pool] .stat-value")).to_have_text("0 / 3", timeout=WAIT)
    assert "max_open_groups = 3" in (engine.dir / "engine.toml").read_text()


def test_weights_short_of_100_block_save_and_the_fixed_ladder_is_previewed(
        page: Page, engine: EngineProcess):
    engine.price("BTCUSDT", "60000.00")
    open_settings(page, engine)
    before = (engine.dir / "engine.toml").read_text()
    page.get_by_label("Remove DCA4").click()
    page.get_by_label("Remove DCA3").click()
    for leg, weight in ((0, "40"), (1, "30"), (2, "20")):
        page.get_by_label(f"Ladder DCA{leg} Weight %").fill(weight)
    expect(page.locator("[data-test=weight-sum]")).to_contain_text("90")
    expect(page.locator("[data-test=validation]")).to_contain_text(
        "grid_strategy.dca_levels: weights sum to 90, expected 100", timeout=WAIT)
    expect(page.locator("[data-ladder='grid_strategy.dca_levels'] .field-errors")).to_contain_text(
        "weights sum to 90")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    assert (engine.dir / "engine.toml").read_text() == before  # nothing saved while invalid
    page.get_by_label("Ladder DCA2 Weight %").fill("30")
    expect(page.locator("[data-test=weight-sum]")).to_contain_text("100 %")
    rows = page.locator("[data-test=ladder-preview] tbody tr")
    expect(rows).to_have_count(3, timeout=WAIT)
    expect(rows.nth(0)).to_contain_text("60,000.00")
    expect(rows.nth(1)).to_contain_text("59,700.00")  # 60000 × (1 − 0.5 %)
    expect(page.locator(".ladder-preview")).to_contain_text("(current price)")


def test_a_secret_comes_back_only_masked(page: Page, engine: EngineProcess):
    secret = "brand-new-api-key-XYZ789"
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if r.url.startswith(
        engine.url + "/api/") and "json" in (r.headers.get("content-type") or "") else None)
    open_settings(page, engine)
    hook = page.get_by_label("New Webhook secret")
    hook.fill("too-short")
    hook.press("Enter")
    expect(page.locator(".notices")).to_contain_text(
        "security.webhook_secret: must be at least 16 characters", timeout=WAIT)
    key = page.get_by_label("New API key")
    key.fill(secret)
    key.press("Enter")
    masked = page.locator("[data-key='exchange.api_key'] [data-test=masked]")
    expect(masked).to_have_text("****XYZ789", timeout=WAIT)
    expect(key).to_have_value("")  # write-only: the input is cleared
    page.reload()
    page.locator("[data-section='Security']").wait_for(timeout=WAIT)
    expect(masked).to_have_text("****XYZ789", timeout=WAIT)
    assert secret not in page.content()
    for path in ("/api/secrets", "/api/config", "/api/config/export", "/api/logs?limit=500",
                 "/api/config/versions", "/api/status"):
        bodies.append(engine.admin.get(path).text)
    assert len(bodies) > 10 and all(secret not in body for body in bodies)
    logs = "".join(p.read_text() for p in (engine.dir / "data" / "logs").glob("*.jsonl"))
    assert "secret_changed" in logs and secret not in logs + engine.output()


def test_a_broken_import_lists_every_problem_and_replaces_nothing(page: Page, engine: EngineProcess,
                                                                  tmp_path):
    config = engine.dir / "engine.toml"
    before = config.read_bytes()
    broken = tmp_path / "broken.toml"
    broken.write_text(before.decode().replace("max_open_groups = 10", 'max_open_groups = "ten"')
                      .replace("keep_days = 30", "keep_days = 0\nkeep_dayz = 5")
                      .replace("[security]\n", '[security]\nwebhook_secret = "clear-0123456789"\n'))
    open_settings(page, engine)
    page.get_by_label("Import a configuration file").set_input_files(str(broken))
    problems = page.locator("[data-test=import-problems]")
    expect(problems).to_contain_text("Nothing was replaced", timeout=WAIT)
    for path in ("execution_pool.max_open_groups", "logging.keep_days", "logging.keep_dayz",
                 "security.webhook_secret"):
        expect(problems).to_contain_text(path)
    assert "clear-0123456789" not in page.content()
    assert config.read_bytes() == before


def test_a_downloaded_backup_restores_into_a_fresh_data_directory(page: Page,
                                                                  engine: EngineProcess,
                                                                  tmp_path):
    engine.price("LTCUSDT", "100.00")
    engine.webhook("LTCUSDT", "100")
    wait_for(lambda: engine.get("/api/groups?status=open")["groups"], what="an open group")
    open_settings(page, engine)
    with page.expect_download(timeout=WAIT) as info:
        page.locator("[data-test=backup-link]").click()
    download = info.value
    assert download.suggested_filename.startswith("engine-backup-")
    assert download.suggested_filename.endswith("Z.tar.gz")
    archive = tmp_path / download.suggested_filename
    download.save_as(archive)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    done = subprocess.run([sys.executable, "-m", "ops.cli", "restore", str(archive), "--config",
                           str(fresh / "engine.toml")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    restored = sqlite3.connect(fresh / "data" / "engine.db")
    try:
        groups = restored.execute("SELECT symbol, status FROM position_groups").fetchall()
    finally:
        restored.close()
    assert [symbol for symbol, _ in groups] == ["LTCUSDT"]
    assert not (fresh / "data" / "secrets.enc").exists()


def test_an_operator_sees_the_page_and_can_change_nothing(page: Page, engine: EngineProcess):
    engine.add_operator()
    before = (engine.dir / "engine.toml").read_bytes()
    open_settings(page, engine, OPERATOR, OPERATOR_PASSWORD)
    expect(page.locator(".readonly-note")).to_be_visible()
    sections = page.locator("[data-section]")
    expect(sections).to_have_count(10)
    page.locator("[data-ladder='grid_strategy.dca_levels']").wait_for(timeout=WAIT)
    editable = page.locator("main input:enabled, main select:enabled, main textarea:enabled, "
                            "main button:enabled")
    assert editable.count() == 0, editable.evaluate_all("els => els.map(e => e.outerHTML)")
    assert page.locator("[data-test=users]").count() == 0
    assert page.locator("[data-test=masked]").count() == 0
    expect(page.locator("[data-key='security.webhook_secret']")).to_contain_text("admins only")
    assert (engine.dir / "engine.toml").read_bytes() == before
    viewer = engine.login(OPERATOR, OPERATOR_PASSWORD)
    r = viewer.put("/api/config", json={"changes": {"execution_pool.max_open_groups": 2}})
    assert r.status_code == 403 and json.loads(r.text)["error"] == "forbidden"
    viewer.close()


def test_priority_rules_move_by_keyboard_and_by_drag(page: Page, engine: EngineProcess):
    open_settings(page, engine)
    rules = page.locator("ol.priority li")
    expect(rules.first).to_have_attribute("data-rule", "pyramid_continuation", timeout=WAIT)
    rules.first.focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(rules.nth(1)).to_have_attribute("data-rule", "pyramid_continuation")
    page.locator("li[data-rule='fifo']").drag_to(rules.first)
    expect(rules.first).to_have_attribute("data-rule", "fifo")
    wait_for(lambda: 'selection_priority = ["fifo", "highest_loss_percent", "pyramid_continuation"'
             in (engine.dir / "engine.toml").read_text(), what="the new order saved")
