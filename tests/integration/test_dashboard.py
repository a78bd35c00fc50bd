"""The dashboard in a real headless Chromium, over a real worker: the key prompt, an incident the
test produced in the list with its root cause and delivery, and its chart drawn with the band,
the anomaly marker and the forecast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.integration.browser import LAUNCH_ARGS, chromium_path
from tests.integration.harness import (
    README_CONFIG,
    EngineProcess,
    point,
    produce_aiokafka,
    wait_until,
)
from tests.integration.receivers import Receiver

ADMIN_KEY = "dashboard-admin-key-0123456789"
READ_KEY = "dashboard-read-key-0123456789"
T0 = 1795766400.0
NORMAL = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 101.5, 98.5]
ENTITY = "checkout-7"
# A generous deadline for what the page polls (incidents every 3 s, the chart every 5 s).
WAIT_MS = 60_000


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _svg_box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not drawn"
    return box


def test_the_dashboard_shows_the_incident_and_charts_it(
    spawn: Any, bootstrap: str, names: dict[str, str], tmp_path: Path
) -> None:
    browser_path = chromium_path()
    with Receiver(default=204) as hook:
        engine: EngineProcess = spawn(
            env={
                "ANOMALY_ADMIN_KEY": ADMIN_KEY,
                "ANOMALY_READ_KEY": READ_KEY,
                "ANOMALY_WEBHOOK_URL": hook.url + "/hook",
            }
        )
        config = {"configs": [{**README_CONFIG["configs"][0], "alert_channels": ["webhook"]}]}
        applied = httpx.post(
            engine.url + "/anomaly/config", json=config, headers=_headers(ADMIN_KEY), timeout=30
        )
        assert applied.status_code == 200, applied.text
        silence = {
            "matchers": {"entity": "~batch-.*"},
            "ends_at": T0 + 86400 * 365,
            "comment": "nightly batch",
        }
        created = httpx.post(
            engine.url + "/anomaly/silences", json=silence, headers=_headers(ADMIN_KEY), timeout=30
        )
        assert created.status_code == 201, created.text

        normal = 24
        messages = [
            (ENTITY.encode(), point("metrics-v1", ENTITY, T0 + 10 * i, [NORMAL[i % 8], 5.0]))
            for i in range(normal)
        ]
        messages.append(
            (ENTITY.encode(), point("metrics-v1", ENTITY, T0 + 10 * normal, [160.0, 5.0]))
        )
        produce_aiokafka(bootstrap, names["metrics_topic"], messages)

        def delivered() -> dict[str, Any] | None:
            response = httpx.get(
                engine.url + "/anomaly/alerts",
                params={"entity": ENTITY},
                headers=_headers(READ_KEY),
            )
            alerts = response.json()["alerts"]
            if alerts and alerts[0]["deliveries"].get("webhook", {}).get("open"):
                return alerts[0]  # type: ignore[no-any-return]
            return None

        incident = wait_until(delivered, 30, "the incident, delivered to the webhook")
        summary = incident["summary"]
        assert "160 vs 100±5" in summary

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(engine.url + "/ui/")

                # Keys are configured: the page asks for one, and keeps it.
                page.get_by_label("API key").fill(READ_KEY)
                page.get_by_role("button", name="Use this key").click()

                row = page.locator(f'#incidents tbody tr[data-entity="{ENTITY}"]')
                row.wait_for(timeout=WAIT_MS)
                assert row.get_attribute("data-incident-id") == incident["incident_id"]
                assert row.locator("td.summary").inner_text() == summary
                assert "critical" in row.locator(".severity").inner_text()
                assert (
                    row.locator('[data-channel="webhook"]')
                    .inner_text()
                    .startswith("webhook: delivered")
                )
                page.locator('#configs tbody tr[data-model-id="metrics-v1"]').wait_for()
                assert "nightly batch" in page.locator("#silences tbody").inner_text()
                stats = page.locator('#stats tbody tr[data-model-id="metrics-v1"] td')
                assert stats.first.inner_text() == str(normal + 1)  # points scored

                row.get_by_role("button").click()
                drawn = page.locator(f'#chart[data-state="drawn"][data-entity="{ENTITY}"]')
                try:  # the chart asks the entity's owner every 5 s; a loaded machine is slow
                    drawn.wait_for(timeout=WAIT_MS)
                except PlaywrightTimeout:
                    raise AssertionError(
                        "the chart was not drawn; it shows: " + page.locator("#chart").inner_text()
                    ) from None
                chart = 'svg[data-feature="feature_0"]'
                assert page.locator(chart).get_attribute("data-points") == str(normal + 1)
                assert page.locator(f'{chart} path[data-role="series"]').get_attribute("d")
                band = _svg_box(page, f'{chart} path[data-role="band"]')
                alerts = page.locator(f'{chart} circle[data-role="anomaly"][data-alert="true"]')
                assert alerts.count() == 1
                assert float(alerts.get_attribute("data-ts") or 0) == T0 + 10 * normal
                marker = _svg_box(page, f'{chart} circle[data-role="anomaly"]')
                assert marker["y"] + marker["height"] < band["y"], (
                    "the spike is drawn above the band"
                )
                assert marker["x"] > band["x"] + band["width"] * 0.9, "the spike is the last point"
                incident_line = page.locator(
                    f'{chart} line[data-role="incident"][data-incident-id="{incident["incident_id"]}"]'
                )
                assert incident_line.count() == 1
                forecast = page.locator(f'{chart} path[data-role="forecast"]')
                assert forecast.get_attribute("data-steps") == "20"
                assert _svg_box(page, f'{chart} path[data-role="forecast"]')["x"] >= marker["x"]
                assert page.locator('svg[data-kind="score"]').count() == 1

                screenshot = tmp_path / "dashboard.png"
                page.screenshot(path=str(screenshot), full_page=True)
                assert screenshot.stat().st_size > 10_000

                # The key was kept: a reload shows the incidents without asking again.
                page.reload()
                row.wait_for(timeout=WAIT_MS)
                assert page.locator("#key-form").is_hidden()
                assert errors == []
            finally:
                browser.close()
