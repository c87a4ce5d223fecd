"""The chat page in Debian's headless Chromium, at phone (390x844) and desktop (1280x800) sizes.

The backend runs under uvicorn on a free loopback port in a thread; Playwright
drives ``/usr/bin/chromium`` (never a downloaded browser). Each size ends with
layout assertions on element boxes and a screenshot written to
``tests/artifacts/`` (``TENANT_RAG_TEST_ARTIFACTS`` overrides), checked as a
PNG of the viewport's size. ``TENANT_RAG_UPDATE_SCREENSHOTS=1`` also copies them
to ``docs/`` (the pair the README shows).
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tenant_rag.chat import KeyRing
from tenant_rag.local import LocalServer
from tenant_rag.models.extractive import NO_LLM_NOTICE

from .conftest import ACME_KEY, GLOBEX_KEY, WRONG_KEY, make_backend, serving

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TENANT_RAG_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
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
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
DOC = (
    "# Zephyr release notes\n\n"
    "The Zephyr project ships on Tuesdays. Zephyr builds are signed by the release bot.\n\n"
    "Support for Zephyr runs from the Lisbon office. The Zephyr office opens at nine.\n\n"
    + "\n\n".join(
        f"Zephyr appendix {n}: the release checklist item {n} is reviewed every sprint."
        for n in range(12)
    )
)
HOSTILE = (
    "Zephyr portal: <script>window.__xss=2</script> <img src=x onerror=window.__xss=1> "
    "[open the Zephyr portal](javascript:window.__xss=3) for the badge."
)
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: run `make browser-deps` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def live_url(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[str]:
    with serving(make_backend(shared_local_server, keyring).app) as url:
        yield url


class Page:
    """A Playwright page plus the console errors it logged (a CSP violation is one)."""

    def __init__(self, browser: Any, url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, device_scale_factor=1)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        self.pg = self.context.new_page()
        self.pg.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.pg.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.pg.on("pageerror", lambda e: self.errors.append(str(e)))
        self.pg.goto(url + "/")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(url: str, viewport: dict[str, int]) -> Page:
        page = Page(browser, url, viewport)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def login(pg: Any, key: str, tenant: str) -> None:
    pg.fill("#key", key)
    pg.click("#login")
    expect(pg.locator("#whoami")).to_contain_text(f"Tenant: {tenant}")
    expect(pg.locator("#docs li").first).to_be_visible()


def upload_with_input(pg: Any, name: str, text: str) -> None:
    pg.set_input_files(
        "#file", files=[{"name": name, "mimeType": "text/markdown", "buffer": text.encode()}]
    )
    item = pg.locator(".upload-item", has_text=name).first
    expect(item).to_have_attribute("data-state", "succeeded")
    expect(item.locator(".state")).to_contain_text(f"Ingested: {name}")
    expect(pg.locator(f'#docs li[data-doc-id="{name}"]')).to_be_visible()


def ask(pg: Any, question: str, state: str = "done") -> Any:
    answers = pg.locator(".msg.answer")
    before = answers.count()
    pg.fill("#question", question)
    pg.click("#ask")
    expect(answers).to_have_count(before + 1)
    answer = answers.nth(before)
    expect(answer).to_have_attribute("data-state", state)
    return answer


def box(pg: Any, selector: str) -> dict[str, float]:
    found = pg.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def newest_sources_in_view(pg: Any) -> None:
    """The last answer's sources list lies inside the visible part of the message list."""
    sources = box(pg, ".msg.answer:last-child .sources")
    messages = box(pg, "#messages")
    assert inside(sources, messages), (sources, messages)


def screenshot(pg: Any, name: str, viewport: dict[str, int]) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    pg.screenshot(path=str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (viewport["width"], viewport["height"])
    assert len(data) > 20_000, "the screenshot looks empty"
    if os.environ.get("TENANT_RAG_UPDATE_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / name)
    return path


def no_horizontal_overflow(pg: Any) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    viewport = pg.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px viewport"


def test_desktop_chat_end_to_end(open_page: Any, live_url: str) -> None:
    page = open_page(live_url, DESKTOP)
    pg = page.pg
    # A wrong key is refused on the page, with the server's message.
    pg.fill("#key", WRONG_KEY)
    pg.click("#login")
    expect(pg.locator(".msg.error")).to_contain_text("invalid API key")
    assert [e for e in page.errors if "401" not in e] == []  # the browser logs the refused /me
    page.errors.clear()

    login(pg, ACME_KEY, "acme")
    expect(pg.locator("#docs")).to_contain_text("No documents yet.")
    upload_with_input(pg, "zephyr.md", DOC)
    expect(pg.locator('#docs li[data-doc-id="zephyr.md"]')).to_contain_text("chunk")

    first = ask(pg, "When does the Zephyr project ship?")
    expect(first.locator(".answer-text")).to_contain_text("Zephyr project ships on Tuesdays")
    expect(first.locator(".answer-text ul li").first).to_be_visible()  # markdown, rendered
    expect(pg.locator("#notice")).to_have_text(NO_LLM_NOTICE)
    second = ask(pg, "Where does support for Zephyr run from?")
    expect(second.locator(".answer-text")).to_contain_text("Lisbon")
    assert pg.locator("#notice").count() == 1
    assert "No language model" not in pg.locator("#messages").inner_text()  # said once, above
    expect(second.locator('.source[data-doc-id="zephyr.md"]').first).to_be_visible()
    newest_sources_in_view(pg)

    # A source expands to its full passage.
    source = second.locator(".source").first
    passage = source.locator(".passage")
    expect(passage).to_be_hidden()
    source.locator("summary").click()
    expect(passage).to_be_visible()
    assert len(passage.inner_text()) > len(source.locator("summary").inner_text()) - 40

    # Copy puts the answer's text (markdown) on the clipboard.
    second.locator("button.copy").click()
    expect(second.locator("button.copy")).to_have_text("Copied")
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert "Lisbon" in copied and copied.lstrip().startswith(("The most relevant", "-"))

    # Layout: sidebar on the left, a wide chat column, nothing overflowing.
    aside, chat = box(pg, "aside"), box(pg, "section#chat")
    assert aside["x"] == 0 and 280 <= aside["width"] <= 320
    assert chat["x"] >= aside["width"] - 1 and chat["width"] >= 900
    assert pg.locator("#menu").is_hidden()
    no_horizontal_overflow(pg)
    screenshot(pg, "chat-desktop.png", DESKTOP)

    # A reload keeps the conversation (this tenant's, in localStorage) and the notice.
    pg.reload()
    expect(pg.locator("#whoami")).to_contain_text("Tenant: acme")
    expect(pg.locator(".msg.answer")).to_have_count(2)
    expect(pg.locator(".msg.question").nth(1)).to_have_text(
        "Where does support for Zephyr run from?"
    )
    expect(pg.locator(".msg.answer").nth(1).locator(".answer-text")).to_contain_text("Lisbon")
    expect(pg.locator("#notice")).to_be_visible()
    expect(pg.locator(".msg.answer").nth(1).locator(".source").first).to_be_visible()

    # Delete asks first: cancel keeps the document, confirming deletes it.
    row = pg.locator('#docs li[data-doc-id="zephyr.md"]')
    row.locator("button.delete").click()
    expect(pg.locator("#confirm-dialog")).to_be_visible()
    expect(pg.locator("#confirm-text")).to_contain_text("zephyr.md")
    pg.click("#confirm-cancel")
    expect(pg.locator("#confirm-dialog")).to_be_hidden()
    time.sleep(0.3)
    expect(row).to_be_visible()
    row.locator("button.delete").click()
    pg.click("#confirm-ok")
    expect(row).to_have_count(0)
    expect(pg.locator("#docs")).to_contain_text("No documents yet.")

    # New chat clears the conversation, here and after a reload.
    pg.click("#new-chat")
    expect(pg.locator(".msg.answer")).to_have_count(0)
    pg.reload()
    expect(pg.locator("#whoami")).to_contain_text("Tenant: acme")
    expect(pg.locator(".msg.answer")).to_have_count(0)

    # Another tenant sees neither acme's documents nor acme's conversation.
    upload_with_input(pg, "zephyr.md", DOC)
    ask(pg, "When does the Zephyr project ship?")
    pg.click("#logout")
    expect(pg.locator("#whoami")).to_have_text("Not logged in")
    login(pg, GLOBEX_KEY, "globex")
    expect(pg.locator("#docs")).to_contain_text("No documents yet.")
    expect(pg.locator(".msg.answer")).to_have_count(0)
    answer_b = ask(pg, "When does the Zephyr project ship?")
    expect(answer_b.locator(".sources")).to_contain_text("No sources")
    text_b = answer_b.locator(".answer-text").inner_text()
    assert "Tuesdays" not in text_b and "Lisbon" not in text_b
    assert page.errors == [], page.errors  # no CSP violation, no script error


def test_phone_layout_drag_and_drop_and_sources_in_view(open_page: Any, live_url: str) -> None:
    page = open_page(live_url, PHONE)
    pg = page.pg
    login(pg, ACME_KEY, "acme")
    # The sidebar is collapsed: off screen, the chat column takes the width.
    sidebar, chat = box(pg, "aside"), box(pg, "section#chat")
    assert sidebar["x"] + sidebar["width"] <= 0, sidebar
    assert chat["width"] >= PHONE["width"] - 2
    no_horizontal_overflow(pg)
    pg.click("#menu")
    expect(pg.locator("#menu")).to_have_attribute("aria-expanded", "true")
    pg.wait_for_function("() => document.querySelector('aside').getBoundingClientRect().left >= 0")
    assert inside(box(pg, "aside"), {"x": 0, "y": 0, **PHONE})

    # Drag and drop two files onto the drop zone: progress, then ingested.
    pg.evaluate(
        """([doc]) => {
          const dt = new DataTransfer();
          dt.items.add(new File([doc], "zephyr.md", {type: "text/markdown"}));
          dt.items.add(new File(["Zephyr mascots are foxes."], "mascot.md", {type: "text/markdown"}));
          const zone = document.getElementById("dropzone");
          zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        [DOC],
    )
    item = pg.locator(".upload-item").first
    expect(item.locator("progress")).to_be_visible()
    expect(item).to_have_attribute("data-state", "succeeded")
    expect(item.locator("progress")).to_have_attribute("value", "100")
    expect(pg.locator('#docs li[data-doc-id="mascot.md"]')).to_be_visible()
    expect(pg.locator('#docs li[data-doc-id="zephyr.md"]')).to_be_visible()
    pg.click("#backdrop", position={"x": 380, "y": 400})
    pg.wait_for_function("() => document.querySelector('aside').getBoundingClientRect().right <= 0")

    for question in (
        "When does the Zephyr project ship?",
        "Which Zephyr release checklist items are reviewed every sprint?",
        "Where does support for Zephyr run from?",
    ):
        answer = ask(pg, question)
        expect(answer.locator(".source").first).to_be_visible()
        newest_sources_in_view(pg)
    messages = box(pg, "#messages")
    assert messages["width"] >= PHONE["width"] - 2 and messages["height"] >= 400
    ask_box, question_box = box(pg, "#ask"), box(pg, "#question")
    assert inside(ask_box, {"x": 0, "y": 0, **PHONE}) and question_box["width"] >= 250
    no_horizontal_overflow(pg)
    screenshot(pg, "chat-phone.png", PHONE)
    assert page.errors == [], page.errors


def test_markup_in_documents_and_answers_stays_text(open_page: Any, live_url: str) -> None:
    page = open_page(live_url, DESKTOP)
    pg = page.pg
    login(pg, ACME_KEY, "acme")
    upload_with_input(pg, "hostile.md", HOSTILE)
    answer = ask(pg, "What colour is the Zephyr badge, and where is the Zephyr portal?")
    text = answer.locator(".answer-text")
    expect(text).to_contain_text("<script>window.__xss=2</script>")
    expect(text).to_contain_text("<img src=x onerror=window.__xss=1>")
    assert text.locator("img, script, iframe").count() == 0
    hrefs = [a.get_attribute("href") or "" for a in text.locator("a").all()]
    assert not any(h.lower().startswith("javascript") for h in hrefs), hrefs
    answer.locator(".source summary").first.click()
    expect(answer.locator(".passage").first).to_contain_text("<img src=x")
    assert answer.locator(".passage img, .passage script").count() == 0
    assert pg.evaluate("window.__xss") is None
    assert page.errors == [], page.errors


class SlowModel(GenericFakeChatModel):
    """Streams its answer a word every 0.15 s, so the test can press Stop mid-way."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for chunk in super()._stream(*args, **kwargs):
            time.sleep(0.15)
            yield chunk


def test_stop_while_streaming(
    open_page: Any, shared_local_server: LocalServer, keyring: KeyRing
) -> None:
    words = " ".join(f"word{n}" for n in range(200))
    llm = SlowModel(messages=iter([AIMessage(content=words), AIMessage(content="Second answer.")]))
    with serving(make_backend(shared_local_server, keyring, llm=llm).app) as url:
        page = open_page(url, DESKTOP)
        pg = page.pg
        login(pg, ACME_KEY, "acme")
        pg.fill("#question", "Tell me everything.")
        pg.click("#ask")
        answer = pg.locator(".msg.answer").first
        expect(answer.locator(".answer-text")).to_contain_text("word3")
        expect(pg.locator("#stop")).to_be_visible()
        pg.click("#stop")
        expect(answer).to_have_attribute("data-state", "stopped")
        expect(answer.locator(".stopped")).to_have_text("Stopped.")
        expect(pg.locator("#ask")).to_be_visible()
        assert "word150" not in answer.inner_text()
        second = ask(pg, "And now?")
        expect(second.locator(".answer-text")).to_have_text("Second answer.")
        assert page.errors == [], page.errors


def test_favicon_is_served(live_url: str) -> None:
    import httpx

    for path in ("/favicon.svg", "/favicon.ico"):
        resp = httpx.get(live_url + path)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("image/svg+xml")
        assert resp.text.startswith("<svg")
    assert '<link rel="icon" href="/favicon.svg"' in httpx.get(live_url + "/").text
