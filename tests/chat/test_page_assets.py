"""The chat page's vendored libraries: unchanged, licensed, inlined and allowed by hash only."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from tenant_rag.chat.routes.health import _page

from .conftest import Backend

STATIC = Path(__file__).resolve().parents[2] / "tenant_rag" / "chat" / "static"
VENDOR = STATIC / "vendor"


def test_vendored_files_match_their_recorded_hashes_and_have_licences() -> None:
    readme = (VENDOR / "README.md").read_text()
    recorded = dict(re.findall(r"\| `([\w.]+\.js)` \| `([0-9a-f]{64})` \|", readme))
    assert set(recorded) == {"marked.umd.js", "purify.min.js"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (VENDOR / "marked.LICENSE.txt").read_text()
    assert "Apache License" in (VENDOR / "dompurify.LICENSE.txt").read_text()


def test_page_inlines_the_libraries_and_its_csp_allows_exactly_its_scripts(
    backend: Backend,
) -> None:
    resp = backend.client.get("/")
    html, csp = resp.text, resp.headers["content-security-policy"]
    assert "data-vendor" not in html
    assert (VENDOR / "purify.min.js").read_text() in html
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 3
    allowed = set(re.findall(r"'sha256-([^']+)'", csp.split("script-src", 1)[1].split(";")[0]))
    digests = {base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts}
    assert allowed == digests
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert html == _page()[0]


def test_the_page_sets_html_in_one_place_only() -> None:
    """Everything is textContent except the sanitised markdown of answers."""
    page = (STATIC / "index.html").read_text()
    assert page.count("innerHTML") == 1
    assert "target.innerHTML = DOMPurify.sanitize(marked.parse(text), SAFE);" in page
    assert "insertAdjacentHTML" not in page and "outerHTML" not in page
    assert re.search(r"\son[a-z]+=", page.split("<script>", 1)[0]) is None  # no inline handlers
