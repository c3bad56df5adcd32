"""The web app and JSON API over a store (docs/web.md): ``create_app`` and ``serve``."""

from __future__ import annotations

from valueseg.web.app import create_app

__all__ = ["create_app"]
