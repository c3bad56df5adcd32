"""``valueseg serve``: the web app on uvicorn, on 127.0.0.1 unless told otherwise.

A store without API keys is served on a loopback address only, where every caller is the
local admin; on any other address the server refuses to start until a key exists
(anyone who could reach it would otherwise read every customer).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.server_file import remove_server_file, write_server_file
from valueseg.store.web import active_keys

__all__ = ["is_loopback", "keys_required", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def keys_required(db: str | Path, host: str) -> bool:
    """Whether the server on ``host`` asks for keys: when the store has any, or the address
    is not loopback (refused when the store has none).

    Examples
    --------
    >>> keys_required(":memory:", "127.0.0.1")
    False
    >>> keys_required(":memory:", "0.0.0.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: Refusing to serve :memory: on 0.0.0.0 without API keys: ...
    """
    with Store(db) as store:
        keys = active_keys(store)
    if keys == 0 and not is_loopback(host):
        raise InputError(
            f"Refusing to serve {db} on {host} without API keys: anyone who can reach it "
            f"could read every customer. Create one first: valueseg keys create --role admin "
            f"--db {db}"
        )
    return keys > 0


def serve(
    db: str | Path, host: str = "127.0.0.1", port: int = 8000, *, access_log: bool = False
) -> None:
    """Run the web app over ``db`` on ``host:port`` until interrupted.

    ``access_log``: uvicorn's line per request (off by default: a shop's platform posting
    200 orders a second would get 200 lines a second, and writing them cost the event loop
    about a tenth of a millisecond a request; customer-level reads and posted orders are
    in the store's ``audit_log`` either way).

    While it runs, ``<db>.serve.json`` (mode 0600) names this process, its port and a
    local admin token, so the CLI's commands on the store go through the server
    (:mod:`valueseg.store.server_file`); it is removed when the server stops.
    """
    import uvicorn

    from valueseg.web.app import create_app
    from valueseg.web.deps import settle_heap

    required = keys_required(db, host)
    app = create_app(db, keys_required=required, local_token=None)
    settle_heap()  # what the app keeps from here on (valueseg.web.deps.settle_heap)
    info = write_server_file(db, host, port)
    app.state.web.local_token = info.token
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)
    finally:
        remove_server_file(db, info)
