"""End to end: the real app served by `streamlit run Home.py`, every page loaded in headless Chromium.

Every page is also photographed, and the picture checked to show something (not a blank page). With
LLM_LAB_SCREENSHOTS=<folder> the pictures are kept there as JPEG: README's screenshots are made this way
(`LLM_LAB_SCREENSHOTS=docs/screenshots python -m pytest tests/test_browser.py`).

Needs Debian's chromium (scripts/test.sh installs it when it can); skipped with the reason otherwise.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = {"": "LLM Lab", "transformer": "Transformer", "pretraining": "Pretraining", "fine_tuning": "Fine-tuning",
         "inference": "Inference", "multimodal": "Multimodal", "agents": "Agents", "rag": "RAG"}

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def check_and_keep(png: bytes, name: str, keep: str | None) -> None:
    """The screenshot shows a page (many distinct colours, not one flat fill); kept as a small JPEG if asked."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    colours = picture.resize((200, 200)).getcolors(maxcolors=200 * 200)
    assert colours is not None and len(colours) > 50, f"{name}: the screenshot looks blank"
    if keep:
        os.makedirs(keep, exist_ok=True)
        picture.thumbnail((1100, 2000))
        picture.save(os.path.join(keep, f"{name}.jpg"), "JPEG", quality=70, optimize=True)


def test_every_page_loads_without_error(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console_errors = []
            page.on("pageerror", lambda err: console_errors.append(str(err)))
            for path, title in PAGES.items():
                page.goto(f"{server}/{path}", timeout=120_000)
                page.wait_for_selector("h1", timeout=120_000)
                # Wait until the script has finished running (the status widget disappears).
                deadline = time.time() + 120
                while time.time() < deadline:
                    time.sleep(1.0)
                    if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                        break
                h1 = " ".join(page.locator("h1").all_inner_texts())
                assert title in h1, (path, h1)
                exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
                assert not exceptions, (path, exceptions)
                check_and_keep(page.screenshot(), path or "home", os.environ.get("LLM_LAB_SCREENSHOTS"))
            assert not console_errors, console_errors
        finally:
            browser.close()
