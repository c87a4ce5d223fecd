"""End to end in Debian's headless Chromium: log in, upload, ask, stream, isolate.

The app runs under uvicorn on a free loopback port in a thread; Playwright
drives ``/usr/bin/chromium`` (never a downloaded browser). Set
``TENANT_RAG_SCREENSHOT=/tmp/chat.png`` to keep a screenshot of tenant A's
answer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tenant_rag.chat import KeyRing
from tenant_rag.local import LocalServer

from .conftest import ACME_KEY, GLOBEX_KEY, WRONG_KEY, make_backend

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOC = (
    "# Zephyr release notes\n\n"
    "The Zephyr project ships on Tuesdays. Zephyr builds are signed by the release bot.\n\n"
    "Support for Zephyr runs from the Lisbon office."
)
TIMEOUT_MS = 60_000


@pytest.fixture
def live_url(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[str]:
    """The backend served by uvicorn on 127.0.0.1:<free port>, in a thread."""
    backend = make_backend(shared_local_server, keyring)
    server = uvicorn.Server(
        uvicorn.Config(backend.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="chat-backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def page(live_url: str) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: run `make browser-deps` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            pg = context.new_page()
            pg.set_default_timeout(TIMEOUT_MS)
            pg.goto(live_url + "/")
            yield pg
        finally:
            browser.close()


def _login(page: object, key: str, tenant: str) -> None:
    from playwright.sync_api import expect

    page.fill("#key", key)  # type: ignore[attr-defined]
    page.click("#login")  # type: ignore[attr-defined]
    expect(page.locator("#whoami")).to_contain_text(f"Tenant: {tenant}")  # type: ignore[attr-defined]
    expect(page.locator("#docs li").first).to_be_visible()  # type: ignore[attr-defined]


def _ask(page: object, question: str) -> object:
    """Ask, wait for the stream to finish, return the answer element."""
    from playwright.sync_api import expect

    answers = page.locator(".msg.answer")  # type: ignore[attr-defined]
    before = answers.count()
    page.fill("#question", question)  # type: ignore[attr-defined]
    page.click("#ask")  # type: ignore[attr-defined]
    expect(answers).to_have_count(before + 1)
    answer = answers.nth(before)
    expect(answer).to_have_attribute("data-state", "done")
    return answer


def test_chat_page_end_to_end(page: object) -> None:
    from playwright.sync_api import expect

    pg = page
    # A wrong key is refused on the page, with the server's message.
    pg.fill("#key", WRONG_KEY)  # type: ignore[attr-defined]
    pg.click("#login")  # type: ignore[attr-defined]
    expect(pg.locator(".msg.error")).to_contain_text("invalid API key")  # type: ignore[attr-defined]

    # Tenant A: log in, upload, see it listed.
    _login(pg, ACME_KEY, "acme")
    expect(pg.locator("#docs")).to_contain_text("No documents yet.")  # type: ignore[attr-defined]
    pg.set_input_files(  # type: ignore[attr-defined]
        "#file", files=[{"name": "zephyr.md", "mimeType": "text/markdown", "buffer": DOC.encode()}]
    )
    pg.click("#upload")  # type: ignore[attr-defined]
    expect(pg.locator("#upload-status")).to_contain_text("Ingested: zephyr.md")  # type: ignore[attr-defined]
    expect(pg.locator('#docs li[data-doc-id="zephyr.md"]')).to_contain_text("1 chunk")  # type: ignore[attr-defined]

    # Count how often the answer text changes while it streams.
    pg.evaluate(  # type: ignore[attr-defined]
        """() => {
          window.__updates = 0;
          new MutationObserver((records) => {
            for (const r of records) {
              const t = r.target.nodeType === 1 ? r.target : r.target.parentElement;
              if (t && t.closest && t.closest('.answer-text')) window.__updates += 1;
            }
          }).observe(document.getElementById('messages'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    answer = _ask(pg, "When does the Zephyr project ship?")
    expect(answer.locator(".answer-text")).to_contain_text("Zephyr project ships on Tuesdays")  # type: ignore[attr-defined]
    expect(answer.locator('.source[data-doc-id="zephyr.md"]').first).to_be_visible()  # type: ignore[attr-defined]
    assert pg.evaluate("window.__updates") >= 2, "the answer should appear in several steps"  # type: ignore[attr-defined]
    shot = os.environ.get("TENANT_RAG_SCREENSHOT")
    if shot:
        pg.screenshot(path=shot, full_page=True)  # type: ignore[attr-defined]

    # Tenant B: cannot see A's document, in the list or in answers.
    pg.click("#logout")  # type: ignore[attr-defined]
    expect(pg.locator("#whoami")).to_have_text("Not logged in")  # type: ignore[attr-defined]
    _login(pg, GLOBEX_KEY, "globex")
    expect(pg.locator("#docs")).to_contain_text("No documents yet.")  # type: ignore[attr-defined]
    expect(pg.locator('#docs li[data-doc-id="zephyr.md"]')).to_have_count(0)  # type: ignore[attr-defined]
    answer_b = _ask(pg, "When does the Zephyr project ship?")
    expect(answer_b.locator(".sources")).to_contain_text("No sources")  # type: ignore[attr-defined]
    expect(answer_b.locator('.source[data-doc-id="zephyr.md"]')).to_have_count(0)  # type: ignore[attr-defined]
    text_b = answer_b.locator(".answer-text").inner_text()  # type: ignore[attr-defined]
    assert "Tuesdays" not in text_b and "Lisbon" not in text_b
