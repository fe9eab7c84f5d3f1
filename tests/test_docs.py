"""The documentation site builds strictly, covers every public name and setting, and its
tutorial runs.

- ``mkdocs build --strict`` (broken links, missing references and pages fail it);
- every name in each public module's ``__all__`` has an entry in the built inventory;
- every setting appears exactly once in ``.env.example`` and once on the settings page;
- the tutorial's bots (``docs/snippets/tutorial``, included into its pages) run offline.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "snippets" / "tutorial"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(DOCS))

from reference_data import (  # noqa: E402
    env_example_comments,
    public_modules,
    settings_classes,
    variables,
)

pytestmark = pytest.mark.timeout(300)
"""The site build takes ~12 s on a quiet machine and over the suite's 60 s default at load 10."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def inventory(site: Path) -> set[str]:
    from mkdocstrings import Inventory

    with (site / "objects.inv").open("rb") as file:
        return set(Inventory.parse_sphinx(file))


def test_every_public_name_has_a_reference_entry(site: Path) -> None:
    documented = inventory(site)
    missing = [
        f"{module}.{name}"
        for module in public_modules()
        for name in importlib.import_module(module).__all__
        if f"{module}.{name}" not in documented
    ]
    assert not missing, f"no reference entry for {missing}"


def test_every_setting_is_listed_once_in_env_example_and_on_the_settings_page(
    site: Path,
) -> None:
    read = {variable for cls in settings_classes() for variable, _ in variables(cls)}
    listed = env_example_comments()
    assert sorted(v for v, seen in listed.items() if len(seen) > 1) == []
    assert sorted(read - set(listed)) == [], ".env.example lacks these"
    assert sorted(set(listed) - read) == [], ".env.example lists what nothing reads"
    page = (site / "reference" / "settings" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr>\s*<td><code>([A-Z0-9_]+)</code></td>", page)
    assert sorted(rows) == sorted(read)


def test_included_code_is_shown_not_the_include_line(site: Path) -> None:
    """Each ``--8<--`` include is replaced by the file it names (ruff's Markdown formatting
    once turned the marker into ``--8 < --``, which snippets no longer recognised)."""
    sources = sorted(DOCS.rglob("*.md"))
    including = [page for page in sources if "--8<--" in page.read_text(encoding="utf-8")]
    assert including, "no page includes code"
    for page in sources:
        assert "--8 <" not in page.read_text(encoding="utf-8"), page
    for page in including:
        stem = page.relative_to(DOCS).with_suffix("")
        built = (
            site / stem / "index.html" if stem.name != "index" else site / stem.with_suffix(".html")
        )
        html = built.read_text(encoding="utf-8")
        assert "--8&lt;--" not in html and "--8" not in html, built
        assert "import" in html, f"{built} shows no included code"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, text: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/messages",
        data=json.dumps({"text": text, "conversation_id": "me"}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.load(response))


def test_tutorial_step_1_answers_over_http(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HTTP_PORT": str(port),
        "AGENT_RUNNER_DATA_DIR": str(tmp_path),
    }
    bot = subprocess.Popen(
        [str(BIN / "agent-runner"), "run", str(TUTORIAL / "bot_http.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = post(port, "hello")
                break
            except OSError:
                assert bot.poll() is None, bot.communicate()[0]
                assert time.monotonic() < deadline, "the tutorial bot never listened"
                time.sleep(0.2)
        second = post(port, "how are you?")
    finally:
        bot.terminate()
        output = bot.communicate(timeout=60)[0]
    assert first["replies"] == [{"text": "You said 'hello'. Nice to meet you!"}], output
    assert second["replies"] == [{"text": "You said 'how are you?'. Before that: 'hello'."}], output
    assert bot.returncode == 0, output


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "bot_discord.py",
            [
                "bot: You said 'hello bot!'. Nice to meet you!",
                "bot: You said 'how are you?'. Before that: 'hello bot!'.",
            ],
        ),
        ("bot_model.py", [re.compile(r"bot: You rolled \[\d,\d\]\.")]),
    ],
)
def test_tutorial_steps_run_offline(snippet: str, expected: list[str | re.Pattern[str]]) -> None:
    done = subprocess.run(
        [sys.executable, str(TUTORIAL / snippet), "--fake"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(expected), done.stdout
    for line, want in zip(lines, expected, strict=True):
        assert want.fullmatch(line) if isinstance(want, re.Pattern) else line == want


def test_the_site_renders_in_chromium_with_a_working_search(site: Path, tmp_path: Path) -> None:
    """The built site, served over HTTP, in a real headless Chromium: no console errors (no
    request leaves the machine: system fonts, no CDN), the navigation leads to the tutorial,
    and the offline search finds a public name."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import chromium, console_errors

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with chromium() as browser:
            browser.get(base)
            assert browser.find_element(By.TAG_NAME, "h1").text == "agent-runner"
            browser.save_screenshot(str(tmp_path / "index.png"))
            browser.find_element(By.LINK_TEXT, "A bot over HTTP").click()
            WebDriverWait(browser, 10).until(lambda b: "tutorial/http" in b.current_url)
            assert browser.find_element(By.TAG_NAME, "h1").text == "A bot over HTTP"
            assert "agent-runner run bot.py" in browser.find_element(By.TAG_NAME, "article").text
            browser.execute_script("document.querySelector('.md-search__input').focus()")
            browser.find_element(By.CSS_SELECTOR, ".md-search__input").send_keys("DeliveryKey")
            WebDriverWait(browser, 20).until(
                lambda b: b.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
            )
            browser.save_screenshot(str(tmp_path / "search.png"))
            assert console_errors(browser) == []
    finally:
        server.shutdown()
        server.server_close()
