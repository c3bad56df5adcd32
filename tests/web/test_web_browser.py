"""A real browser on the real server: headless Chromium (Debian's, never a downloaded one)
logs in, opens the overview and a segment, exports the segment's audience, opens a
customer, posts an order and sees the customer's segment change.

Screenshots go to ``$VALUESEG_ARTEFACTS/browser`` when that is set (CI keeps them), else
to the test's temporary folder. Skipped, with the reason, where /usr/bin/chromium or the
playwright package is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.web.web_testing import Keys
from valueseg.web import create_app

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(web_db: tuple[Path, Keys]) -> Iterator[str]:
    """uvicorn serving the module's store on a free loopback port, in a thread."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(web_db[0]), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start in 20 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    root = os.environ.get("VALUESEG_ARTEFACTS")
    folder = Path(root) / "browser" if root else tmp_path / "browser"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def test_a_marketer_walks_through_the_app(server: str, keys: Keys, shots: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.goto(server + "/")
            assert "/login" in page.url
            page.fill("#key", keys.admin)
            page.click("#login")
            page.wait_for_selector("text=Overview")
            page.screenshot(path=str(shots / "1-overview.png"), full_page=True)
            page.click("table a >> nth=0")  # the first segment of the first lens
            page.wait_for_selector("#customers")
            page.screenshot(path=str(shots / "2-segment.png"), full_page=True)
            segment = page.input_value("#export-form input[name=segment]")
            with page.expect_download() as download:
                page.click("#export")  # the segment's audience, as a file
            download.value.save_as(shots / "audience.csv")
            audience = pd.read_csv(shots / "audience.csv")
            assert len(audience) > 0 and set(audience["rfm_segment"]) == {segment}
            page.click("#customers a >> nth=0")
            page.wait_for_selector("#scores")
            customer = page.input_value("#customer-id")
            page.screenshot(path=str(shots / "3-customer.png"), full_page=True)
            page.fill("#order-time", "2025-01-02 10:00:00")
            page.fill("#order-amount", "350")
            page.fill("#order-id", "BROWSER-1")
            page.click("#post-order")
            page.wait_for_selector("#posted")
            page.screenshot(path=str(shots / "4-order-posted.png"), full_page=True)
            assert "BROWSER-1" in page.inner_text("#orders")
            # the largest RFM segment here is Hibernating (R 1-2): an order today moves R to 5
            assert page.locator("#posted tr.changed").count() >= 1
            assert page.input_value("#customer-id") == customer
        finally:
            browser.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-overview.png", "2-segment.png", "3-customer.png", "4-order-posted.png",
        "audience.csv",
    ]  # fmt: skip
