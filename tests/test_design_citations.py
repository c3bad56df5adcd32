"""The design notes the code cites live in the repository, and the sections cited exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CITATION = re.compile(r"(\S*)design\.md §(\d+)")


def _citations() -> list[tuple[str, str, str]]:
    found = []
    for folder in ("src", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for prefix, section in _CITATION.findall(path.read_text("utf-8")):
                found.append((str(path.relative_to(ROOT)), prefix, section))
    return found


def test_the_code_cites_the_design_record_in_docs_and_its_sections_exist():
    sections = set(
        re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "design.md").read_text("utf-8"), re.M)
    )
    citations = _citations()
    assert citations  # the code does cite it
    wrong = [(f, p) for f, p, _ in citations if not p.lstrip("(`").endswith("docs/")]
    assert wrong == [], "cite it as docs/design.md §N"
    missing = [(f, s) for f, _, s in citations if s not in sections]
    assert missing == []
