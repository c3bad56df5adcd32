"""The pages: the login form and its cookie, each page by role, escaping, the order form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from markupsafe import escape

from tests.web.web_testing import Keys, TestClient
from valueseg.web.charts import OVERVIEW, RUN


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    """The module's client with no cookie before and after the test."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


def _login(client: TestClient, key: str, next_page: str = "/") -> Any:
    return client.post("/login", data={"key": key, "next": next_page}, follow_redirects=False)


def _segment(client: TestClient, keys: Keys) -> str:
    body = client.get("/v1/segments?lens=rfm", headers={"Authorization": f"Bearer {keys.admin}"})
    name: str = body.json()["lenses"][0]["segments"][0]["segment"]
    return name


def test_a_page_without_a_key_goes_to_the_login_form(browser: TestClient) -> None:
    response = browser.get("/segments", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/segments"
    form = browser.get("/login?next=/segments")
    assert form.status_code == 200 and 'name="key"' in form.text


def test_logging_in_sets_an_httponly_samesite_cookie(browser: TestClient, keys: Keys) -> None:
    response = _login(browser, keys.viewer, "/runs")
    assert response.status_code == 303 and response.headers["location"] == "/runs"
    cookie = response.headers["set-cookie"]
    assert "valueseg_key=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert browser.get("/runs").status_code == 200
    out = browser.post("/logout", follow_redirects=False)
    assert (
        out.status_code == 303 and browser.get("/runs", follow_redirects=False).status_code == 303
    )


def test_a_wrong_key_is_refused_on_the_form(browser: TestClient, keys: Keys) -> None:
    response = _login(browser, keys.revoked)
    assert response.status_code == 401 and "Unknown or revoked key" in response.text
    assert "set-cookie" not in response.headers


def test_login_never_redirects_off_the_site(browser: TestClient, keys: Keys) -> None:
    response = _login(browser, keys.viewer, "//evil.example/steal")
    assert response.headers["location"] == "/"


def test_every_page_renders_for_an_admin(browser: TestClient, keys: Keys) -> None:
    _login(browser, keys.admin)
    segment = quote(_segment(browser, keys))
    customer = "C0000005"
    for path, text in [
        ("/", "Overview"),
        ("/segments", "Behavioural clusters"),
        (f"/segments/rfm/{segment}?sort=churn_probability&order=asc", 'id="customers"'),
        (f"/customers?id={customer}", 'id="scores"'),
        ("/customers", "Customer lookup"),
        ("/runs", "succeeded"),
        ("/runs/1", "Learners"),
        ("/quality", "Loads"),
    ]:
        response = browser.get(path)
        assert response.status_code == 200, path
        assert text in response.text, path
        # no script and no outside address (the charts' SVG namespaces name, not fetch)
        text = re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", response.text)
        assert "<script" not in text and "http://" not in text, path
    css = browser.get("/static/style.css")
    assert css.headers["content-type"].startswith("text/css") and "body" in css.text


def test_the_pages_carry_the_reports_charts(
    browser: TestClient, keys: Keys, built_db: Path
) -> None:
    """The overview and a run's page show the report's sections with their readings and
    charts (inline SVG, the same as valueseg report draws); a viewer sees them. The
    expected sections are drawn from the store the app's copy was made of (the app holds
    its own file)."""
    from valueseg.report import section_charts

    expected = {s.key: s for s in section_charts(built_db, run_id=1, keys=OVERVIEW + RUN)}
    _login(browser, keys.viewer)
    for path, sections in (("/", OVERVIEW), ("/runs/1", RUN)):
        page = browser.get(path)
        assert page.status_code == 200, path
        for key in sections:
            assert f'id="report-{key}"' in page.text, (path, key)
            assert str(escape(expected[key].reading)) in page.text, (path, key)
        drawn = sum(len(expected[k].charts) for k in sections)
        assert drawn > 0 and page.text.count("<svg") == drawn, path
        assert "<script" not in page.text


def test_the_whole_report_of_a_run_is_served_to_an_analyst(browser: TestClient, keys: Keys):
    _login(browser, keys.viewer)
    refused = browser.get("/runs/1/report")
    assert refused.status_code == 403
    browser.cookies.clear()
    _login(browser, keys.analyst)
    report = browser.get("/runs/1/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.text.startswith("<!DOCTYPE html>") and 'id="predict"' in report.text
    assert browser.get("/runs/42/report").status_code == 404


def test_a_viewer_sees_aggregates_but_no_customer(browser: TestClient, keys: Keys) -> None:
    _login(browser, keys.viewer)
    segment = quote(_segment(browser, keys))
    page = browser.get(f"/segments/rfm/{segment}")
    assert page.status_code == 200 and 'id="customers"' not in page.text
    assert "need the analyst role" in page.text
    refused = browser.get("/customers?id=C0000005")
    assert refused.status_code == 403 and "needs the analyst role" in refused.text


def test_page_errors_are_pages(browser: TestClient, keys: Keys) -> None:
    _login(browser, keys.admin)
    missing = browser.get("/runs/42")
    assert missing.status_code == 404 and "Run 42 not found" in missing.text
    bad = browser.get("/segments/colour/x")
    assert bad.status_code == 422 and "Field &#39;lens&#39;" in bad.text
    unknown = browser.get("/customers?id=nobody")
    assert unknown.status_code == 200 and "Customer &#39;nobody&#39; not found" in unknown.text


def test_text_from_the_data_is_escaped(browser: TestClient, keys: Keys) -> None:
    hostile = "<script>alert(1)</script>"
    posted = browser.post(
        "/v1/events",
        json={"customer_id": hostile, "timestamp": "2025-01-02 10:00:00", "amount": 5.0},
        headers={"Authorization": f"Bearer {keys.admin}"},
    )
    assert posted.status_code == 200, posted.text
    _login(browser, keys.admin)
    page = browser.get("/customers", params={"id": hostile})
    assert page.status_code == 200
    assert hostile not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_an_admin_posts_an_order_from_the_customer_page(browser: TestClient, keys: Keys) -> None:
    _login(browser, keys.admin)
    form = browser.get("/customers?id=C0000005")
    assert 'id="post-order"' in form.text
    response = browser.post(
        "/customers/C0000005/orders",
        data={"timestamp": "2025-01-02 09:00:00", "amount": "300", "order_id": "PAGE-1"},
    )
    assert response.status_code == 200 and 'id="posted"' in response.text
    assert "PAGE-1" in response.text  # the order, now in the history
    again = browser.post(
        "/customers/C0000005/orders",
        data={"timestamp": "2025-01-02 09:00:00", "amount": "lots", "order_id": "PAGE-2"},
    )
    assert "Field &#39;amount&#39; must be a number" in again.text
    _login(browser, keys.analyst)
    assert 'id="post-order"' not in browser.get("/customers?id=C0000005").text
    refused = browser.post(
        "/customers/C0000005/orders", data={"timestamp": "2025-01-02", "amount": "1"}
    )
    assert refused.status_code == 403
