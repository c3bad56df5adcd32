"""run_demo, the library function behind ``valueseg demo``: its choice of shop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from valueseg.demo import DEMO_DATA, run_demo
from valueseg.errors import InputError


def test_the_demo_offers_the_generated_and_the_cdnow_shop() -> None:
    assert list(DEMO_DATA) == ["synth", "cdnow"]


@pytest.mark.parametrize("data", ["CDNOW", "cdnow_master", ""])
def test_run_demo_refuses_an_unknown_shop_before_writing(tmp_path: Path, data: str) -> None:
    msg = f"The 'data' parameter of run_demo must be 'synth' or 'cdnow'. Got {data!r}."
    with pytest.raises(InputError, match=re.escape(msg)):
        run_demo(out=tmp_path / "demo", data=data)
    assert not (tmp_path / "demo").exists()
