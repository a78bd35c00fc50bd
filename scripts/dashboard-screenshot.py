"""Regenerate docs/dashboard.png, the README's picture: run `anomaly-engine demo` on a free port,
wait for its incidents, open the dashboard in headless Chromium, chart web-2's spike, screenshot.

    .venv/bin/python scripts/dashboard-screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.worker.kafka.broker import free_port  # noqa: E402
from tests.integration.browser import LAUNCH_ARGS, chromium_path  # noqa: E402

MODELS = {"demo-metrics", "demo-logs", "demo-behavior"}


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANOMALY_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    with tempfile.TemporaryDirectory() as data:
        env.update(
            ANOMALY_API_PORT=str(port),
            ANOMALY_DATA_DIR=data,
            ANOMALY_EMBEDDED_BROKER_PORT="0",
            ANOMALY_LOG_LEVEL="warn",
        )
        demo = subprocess.Popen(
            [sys.executable, "-m", "app", "demo"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    alerts = httpx.get(url + "/anomaly/alerts", timeout=2).json()["alerts"]
                except (httpx.HTTPError, ValueError):
                    alerts = []
                if {a["model_id"] for a in alerts} >= MODELS:
                    break
                time.sleep(0.5)
            else:
                raise SystemExit("the demo opened no incident of every model within 90 s")
            time.sleep(8)  # a few live points after the spike
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=LAUNCH_ARGS
                )
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(url + "/ui/")
                row = page.locator('#incidents tbody tr[data-entity="web-2"]').first
                row.wait_for()
                row.get_by_role("button").click()
                page.locator('#chart[data-state="drawn"][data-entity="web-2"]').wait_for()
                page.locator('#stats tbody tr[data-model-id="demo-metrics"]').wait_for()
                page.screenshot(path=str(output), full_page=True)
                browser.close()
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(30)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
