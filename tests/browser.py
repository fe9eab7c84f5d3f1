"""A real headless Chromium for page tests: Debian's ``chromium`` and ``chromium-driver``
driven by Selenium (``scripts/ensure-test-services`` installs them; nothing downloads a
browser). Under CI=true a host without them fails the test; elsewhere it skips."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.distributed._servers import unavailable

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


@contextmanager
def chromium(width: int = 1300, height: int = 1000) -> Iterator[WebDriver]:
    """A headless Chromium session with the browser console log kept (``get_log("browser")``)."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        unavailable("chromium and chromium-driver are not installed (apt-get install them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=str(driver)), options=options)
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()


def console_errors(session: WebDriver) -> list[str]:
    """The page's console messages at level SEVERE (errors, failed loads) since the last call."""
    return [entry["message"] for entry in session.get_log("browser") if entry["level"] == "SEVERE"]
