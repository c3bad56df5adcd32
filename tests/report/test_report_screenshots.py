"""The report as a person sees it: headless Chromium opens the file and takes a screenshot
of every section (kept under the test's tmp folder as artefacts).

Runs only where Chromium is installed at /usr/bin/chromium and the ``playwright`` package
is importable; it never downloads a browser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import valueseg as vs
from valueseg.report import write_report

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (never downloaded)"
)


def test_a_screenshot_of_every_section(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shop = vs.make_shop(800, random_state=1)
    db = tmp_path / "shop.duckdb"
    vs.ingest(shop.transactions, db=db)
    vs.run(db, learners="lr", clusters="3")
    result = write_report(db, out=tmp_path / "report.html")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(result.path.resolve().as_uri())
            for section in result.sections:
                node = page.locator(f"section#{section.key}")
                assert node.locator("h2").inner_text() == section.title
                node.screenshot(path=str(shots / f"{section.key}.png"))
                for chart in section.charts:  # every chart is laid out with a size
                    box = page.locator(f"#{section.key}-{chart} svg").bounding_box()
                    assert box is not None and box["width"] > 200 and box["height"] > 100
        finally:
            browser.close()
    taken = sorted(p.stem for p in shots.glob("*.png"))
    assert taken == sorted(s.key for s in result.sections)
