"""``POST /v1/runs``: a run in the background, one write at a time, reads from the last
finished run meanwhile, progress at ``GET /v1/runs/{id}``, and the real-time scorer moving
to the new run when it finishes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.web_testing import TestClient
from valueseg import pipeline
from valueseg.store import Store
from valueseg.web import create_app

#: The parameters of the web suite's own run: the fastest that still clusters.
FAST = {"learners": "lr", "recommender": "popularity", "clusters": "3"}


def _error(response: Any, status: int, code: str, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code and error["field"] == field
    return str(error["message"])


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Runs stop as they start writing until ``gate`` is set; ``reached`` says they got there."""
    real = pipeline.run
    reached, gate = threading.Event(), threading.Event()

    def run(db: Any, *, progress: Any, **keywords: Any) -> Any:
        def say(message: str) -> None:
            progress(message)
            if message == "writing":
                reached.set()
                assert gate.wait(300)

        return real(db, progress=say, **keywords)

    monkeypatch.setattr(pipeline, "run", run)
    yield reached, gate
    gate.set()


def test_a_run_in_the_background_while_reads_answer_from_the_last_one(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    held: tuple[threading.Event, threading.Event],
) -> None:
    admin = headers["admin"]
    reached, gate = held
    state = client.app.state.web  # type: ignore[attr-defined]
    segments = client.get("/v1/segments", headers=admin).json()
    segment = segments["lenses"][0]["segments"][0]["segment"]
    some = client.get(f"/v1/segments/rfm/{segment}/customers?size=1", headers=admin).json()
    customer = client.get(f"/v1/customers/{some['customers'][0]['customer_id']}", headers=admin)
    assert segments["run_id"] == 1 and customer.json()["run_id"] == 1

    started = client.post("/v1/runs", json=FAST, headers=admin)
    assert started.status_code == 202, started.text
    assert started.json()["run_id"] == 2 and started.json()["status"] == "running"
    assert reached.wait(300)

    # the run is in progress: its row says so, and every read answers from run 1
    detail = client.get("/v1/runs/2", headers=headers["viewer"]).json()
    assert detail["status"] == "running" and detail["job"]["status"] == "running"
    said = [p["message"] for p in detail["job"]["progress"]]
    assert said[0] == "computing features on duckdb" and said[-1] == "writing"
    assert client.get("/v1/segments", headers=admin).json() == segments
    again = client.get(customer.request.url.path, headers=admin)
    assert again.status_code == 200 and again.json()["scores"] == customer.json()["scores"]
    assert client.get("/", headers=admin).status_code == 200
    # and every other write is refused at once, naming the run
    message = _error(client.post("/v1/runs", json=FAST, headers=admin), 409, "conflict")
    assert message.startswith("The store is busy: run 2 is writing to it")
    order = {"customer_id": "C0000001", "timestamp": "2025-01-02T10:00:00", "amount": 10.0,
             "order_id": "DURING-RUN"}  # fmt: skip
    _error(client.post("/v1/events", json=order, headers=admin), 409, "conflict")

    gate.set()
    assert state.job.done.wait(300)
    detail = client.get("/v1/runs/2", headers=admin).json()
    assert detail["status"] == "succeeded" and detail["job"]["status"] == "succeeded"
    assert detail["job"]["progress"][-1]["message"] == "finished; loading its estimators"
    assert client.get("/v1/segments", headers=admin).json()["run_id"] == 2
    assert state.loaded_runs() == [2]  # the real-time scorer moved to the new run
    scored = client.post("/v1/events", json=order, headers=admin)
    assert scored.status_code == 200 and scored.json()["run_id"] == 2
    assert client.get("/v1/runs/1", headers=admin).json()["job"] is None


@pytest.mark.parametrize("role", ["none", "revoked", "viewer", "analyst"])
def test_only_an_admin_starts_a_run(
    client: TestClient, headers: dict[str, dict[str, str]], role: str
) -> None:
    response = client.post("/v1/runs", json=FAST, headers=headers[role])
    if role in ("none", "revoked"):
        _error(response, 401, "unauthorized")
    else:
        message = _error(response, 403, "forbidden")
        assert message.startswith(f"This needs the admin role; the key given is {role}.")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"freq": "X"}, "freq", "Unknown freq 'X'. Expected one of: D, W, M, h."),
        ({"seed": -1}, "seed", "seed must be from 0 to 4,294,967,295. Got -1."),
        ({"clusters": "9-3"}, "clusters", "clusters '9-3' must be LOW-HIGH with 2 <= LOW"),
        ({"learners": "lr,boost"}, "learners", "Unknown learner 'boost' in learners."),
        ({"as_of": "05/01/2024"}, "as_of", "as_of '05/01/2024' is not a date."),
        ({"engine": "pandas"}, "engine", "Unknown engine 'pandas'. Expected one of: duckdb"),
        ({"seed": "x"}, "seed", "Field 'seed': Input should be a valid integer"),
        ({"nightly": True}, "nightly", "Field 'nightly': Extra inputs are not permitted."),
        ({"as_of": "1990-01-01"}, "as_of", "No orders before as_of 1990-01-01"),
    ],
)  # fmt: skip
def test_a_bad_parameter_is_refused_naming_its_field(
    client: TestClient,
    headers: dict[str, dict[str, str]],
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    runs = len(client.get("/v1/runs", headers=headers["admin"]).json())
    response = client.post("/v1/runs", json=body, headers=headers["admin"])
    assert message in _error(response, 422, "invalid", field)
    assert len(client.get("/v1/runs", headers=headers["admin"]).json()) == runs


def test_a_store_without_orders_is_told_to_load_some(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store(db).close()
    with TestClient(create_app(db, keys_required=False)) as client:
        message = _error(client.post("/v1/runs", json=FAST), 400, "bad_request")
    assert message == (
        f"Store {db} holds no transactions. Load orders first: valueseg ingest FILE --db {db}"
    )
