"""The status page in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium; nothing is downloaded): no console errors, charts drawn, numbers equal to
/api/status after a known load. A screenshot lands in the test's tmp folder."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_runner.observability import AdminSettings

from .support import free_port, get, running

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and os.environ.get("CI") != "true",
    reason="needs chromium and chromium-driver (scripts/ensure-test-services installs them)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, "chromium and chromium-driver are required under CI"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _painted(driver: Any, canvas_id: str) -> int:
    """Pixels of the canvas that are neither white nor transparent."""
    return int(
        driver.execute_script(
            """
            const c = document.getElementById(arguments[0]);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
              if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) n++;
            }
            return n;
            """,
            canvas_id,
        )
    )


async def _load(driver: Any, url: str) -> None:
    def load() -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(url)
        WebDriverWait(driver, 20).until(
            lambda d: d.execute_script("return document.body.dataset.loaded") == "true"
        )

    await asyncio.to_thread(load)


async def test_the_status_page_renders_live_numbers(browser: Any, tmp_path: Path) -> None:
    async def agent(message: Any, context: Any) -> str:
        if message.text == "fail":
            raise RuntimeError("a known failure")
        return f"echo {message.text}"

    admin = AdminSettings(port=free_port(), token="page-token")
    async with running(agent, admin=admin) as (runtime, chat, url):
        for n in range(6):
            await chat.push(f"hello {n}", conversation_id=f"c{n % 3}")
        await chat.push("fail", conversation_id="c9")
        await chat.wait_for_replies(7)
        headers = {"Authorization": "Bearer page-token"}
        _, body = await get(f"{url}/api/status", headers=headers)
        status = json.loads(body)
        assert status["messages"]["handled"] == 7

        await _load(browser, f"{url}/?token=page-token")
        texts = await asyncio.to_thread(
            lambda: {
                key: browser.find_element("id", key).text
                for key in ("handled", "received", "failed", "active", "badge")
            }
        )
        assert texts["handled"] == "7"
        assert texts["received"] == str(int(status["messages"]["received"]))
        assert texts["active"] == str(status["active_conversations"]) == "4"
        assert texts["badge"] == "ready"
        recent = await asyncio.to_thread(lambda: browser.find_element("id", "recent").text)
        assert "hello" not in recent and "[redacted" in recent  # text is not shown by default
        for canvas in ("chart-throughput", "chart-latency", "chart-errors"):
            assert await asyncio.to_thread(_painted, browser, canvas) > 50, canvas
        logs = await asyncio.to_thread(browser.get_log, "browser")
        assert [e for e in logs if e["level"] == "SEVERE"] == []
        shot = tmp_path / "status.png"
        await asyncio.to_thread(browser.save_screenshot, str(shot))
        assert shot.stat().st_size > 10_000
        copy = os.environ.get("AGENT_RUNNER_STATUS_SCREENSHOT")
        if copy:
            shutil.copy(shot, copy)

        await chat.push("one more", conversation_id="c1")  # it updates live
        await chat.wait_for_replies(8)
        await asyncio.to_thread(
            lambda: (
                __import__("selenium.webdriver.support.ui", fromlist=["x"])
                .WebDriverWait(browser, 10)
                .until(lambda d: d.find_element("id", "handled").text == "8")
            )
        )


async def test_the_page_needs_the_token(browser: Any) -> None:
    admin = AdminSettings(port=free_port(), token="page-token")
    async with running(admin=admin) as (_, _, url):
        status, _ = await get(f"{url}/")
        assert status == 401
