"""The segment page's export button (a plain form onto ``GET /v1/export``) and its
design-an-experiment form (``design_experiment`` on the segment, recorded as the CLI
records it), by role."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from tests.web.web_testing import Keys, TestClient
from valueseg.actions.privacy import KEY_VARIABLE
from valueseg.store.web import request_store


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    client.cookies.clear()
    yield client
    client.cookies.clear()


def _login(client: TestClient, key: str) -> None:
    response = client.post("/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303


def _query(client: TestClient, sql: str, args: list[Any] | None = None) -> list[Any]:
    store = request_store(client.app.state.web.root)  # type: ignore[attr-defined]
    try:
        return store.con.execute(sql, args or []).fetchall()
    finally:
        store.close()


@pytest.fixture(scope="module")
def segment(client: TestClient) -> tuple[str, int]:
    """The largest RFM segment of run 1 and its size."""
    name, size = _query(
        client, "SELECT rfm_segment, count(*) FROM customer_scores WHERE run_id = 1 "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )[0]  # fmt: skip
    return str(name), int(size)


def test_the_export_button_downloads_the_segments_audience(
    browser: TestClient, keys: Keys, segment: tuple[str, int]
) -> None:
    name, size = segment
    _login(browser, keys.admin)
    page = browser.get(f"/segments/rfm/{quote(name)}")
    assert '<form method="get" action="/v1/export" id="export-form">' in page.text
    assert f'<input type="hidden" name="segment" value="{name}">' in page.text
    download = browser.get("/v1/export", params={"segment": name, "format": "csv"})  # the form
    assert download.status_code == 200, download.text
    assert "attachment" in download.headers["content-disposition"]
    frame = pd.read_csv(io.BytesIO(download.content))
    assert len(frame) == size and set(frame["rfm_segment"]) == {name}


def test_the_page_says_who_may_export(
    browser: TestClient, keys: Keys, segment: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/segments/rfm/{quote(segment[0])}"
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    _login(browser, keys.analyst)
    page = browser.get(path).text
    assert 'id="export-refused"' in page and 'id="export-form"' not in page
    assert "VALUESEG_PSEUDONYM_KEY is not set" in page and 'id="design-form"' not in page
    monkeypatch.setenv(KEY_VARIABLE, "k" * 32)
    page = browser.get(path).text
    assert 'id="export-form"' in page and "Customer ids are pseudonymised" in page
    _login(browser, keys.viewer)
    page = browser.get(path).text
    assert "Audiences are customer level: they need the analyst role." in page
    assert 'id="export-form"' not in page and 'id="design-form"' not in page


def test_an_admin_designs_an_experiment_on_the_segment(
    browser: TestClient, keys: Keys, segment: tuple[str, int]
) -> None:
    name, size = segment
    _login(browser, keys.admin)
    path = f"/segments/rfm/{quote(name)}/experiment"
    zero = browser.post(path, data={"name": "page-recall", "mde": "0.05"})
    assert "gives a conversion baseline of 0%" in zero.text  # Hibernating: none bought lately
    assert "Pass &#39;Baseline&#39;, e.g. &#39;Baseline&#39; 0.05." in zero.text
    page = browser.post(path, data={"name": "page-recall", "mde": "0.05", "baseline": "0.1"})
    assert page.status_code == 200 and 'id="design"' in page.text, page.text
    stored = _query(browser, "SELECT experiment_id, segment, design FROM experiments "
                    "WHERE name = 'page-recall'")  # fmt: skip
    assert len(stored) == 1 and stored[0][1] == name
    design = json.loads(stored[0][2])
    assert design["audience_size"] == size and design["control"] + design["treatment"] == size
    assert f'<td class="num" id="needed-control">{design["needed_control"]}</td>' in page.text
    verdict = "large enough" if design["feasible"] else "too small"
    assert f'<b id="feasible">{verdict}</b>' in page.text
    logged = _query(browser, "SELECT role, target FROM audit_log "
                    "WHERE action = 'design_experiment'")  # fmt: skip
    assert logged == [("admin", name)]

    again = browser.post(path, data={"name": "page-recall", "mde": "0.05"})
    assert 'id="design-error"' in again.text
    assert f"An experiment named &#39;page-recall&#39; exists (id {stored[0][0]})." in again.text
    wrong = browser.post(path, data={"name": "page-2", "mde": "lots"})
    assert "Field &#39;mde&#39; must be a number. Got &#39;lots&#39;." in wrong.text
    assert len(_query(browser, "SELECT * FROM experiments")) == 1


def test_only_an_admin_designs(browser: TestClient, keys: Keys, segment: tuple[str, int]) -> None:
    _login(browser, keys.analyst)
    refused = browser.post(
        f"/segments/rfm/{quote(segment[0])}/experiment", data={"name": "x", "mde": "0.05"}
    )
    assert refused.status_code == 403 and "needs the admin role" in refused.text
    assert _query(browser, "SELECT count(*) FROM experiments WHERE name = 'x'") == [(0,)]
