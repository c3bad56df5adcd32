"""No file of the project points outside the repository (a clone must have all it reads).

The tests once read the CDNOW and donations data from a folder next to the checkout, so a
fresh clone errored; the data now ship in ``valueseg.datasets``. This test keeps it so.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "build", "dist", ".tmp", "valueseg-demo"}

# Built from pieces so that this file does not match itself.
_DOTDOT, _SEP = "..", "[/\\\\]+"
_S, _D = "sha" + "red", "da" + "ta"  # the folder names, for the planted examples
_PATTERNS = {
    "a parent-relative path to the shared folder": re.escape(_DOTDOT) + _SEP + "shared",
    "the shared data folder": "shared" + _SEP + "data",
    "a path built from 'shared' and 'data'": "[\"']shared[\"']\\s*[/,]\\s*[\"']data[\"']",
    "an absolute path of this machine": "|".join(
        re.escape(str(p)) + _SEP
        for p in dict.fromkeys((ROOT.parent, Path("/" + "work")))
        if p.parent != p  # not the file system's root, which every URL's "//" would match
    ),
}
_NEEDLES = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(_PATTERNS.values())))


def offences(text: str) -> list[tuple[int, str]]:
    """``(line number, what)`` for each line of ``text`` that points outside the repo."""
    found = []
    names = list(_PATTERNS)
    for number, line in enumerate(text.splitlines(), start=1):
        for hit in _NEEDLES.finditer(line):
            index = int(next(k for k, v in hit.groupdict().items() if v is not None)[1:])
            found.append((number, names[index]))
    return found


def project_files(root: Path = ROOT) -> Iterator[Path]:
    """Files git tracks or would track (not ignored); a walk when there is no git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith("_cache")]
            yield from (Path(folder) / name for name in names)
        return
    yield from (root / name for name in listed.split("\0") if name)


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):  # deleted but not yet staged
        return None
    if b"\0" in data[:8192]:
        return None  # binary: compressed data, images
    return data.decode("utf-8", errors="replace")


def test_no_file_points_outside_the_repository() -> None:
    problems = []
    files = list(project_files())
    assert any(p.name == "pyproject.toml" for p in files)  # the listing found the project
    for path in files:
        text = _text(path)
        for number, what in offences(text or ""):
            problems.append(f"{path.relative_to(ROOT)}:{number}: {what}")
    assert not problems, "Files refer to paths outside the repository:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    [
        f'SHARED = Path(__file__).resolve().parents[2] / "{_S}" / "{_D}"',
        f"pd.read_csv('{_DOTDOT}/{_S}/{_D}/donations.csv')",
        f"see {_DOTDOT}\\{_S}\\README.md",
        f"rows = read('{_S}/{_D}/CDNOW_master.txt')",
        "open('/" + "work/main/src/x.py')",
        f"data_dir = os.path.join('{_S}', '{_D}')",
        f"cd {ROOT.parent}/elsewhere",
    ],
)
def test_a_planted_outside_reference_is_found(line: str) -> None:
    assert offences(f"ok\n{line}\n") != []
    assert offences(f"ok\n{line}\n")[0][0] == 2


@pytest.mark.parametrize(
    "line",
    [
        "from valueseg.datasets import load_cdnow",
        "src/valueseg/datasets/data/CDNOW_master.txt.gz",
        "the shared database is closed before a fork",
        "tmp_path / 'data'",
    ],
)
def test_paths_inside_the_repository_are_fine(line: str) -> None:
    assert offences(line) == []


def test_without_git_the_files_are_walked_leaving_out_environments(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    for skipped in (".venv", ".mypy_cache", "__pycache__"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "b.py").write_text("x = 2\n")
    assert [p.relative_to(tmp_path).as_posix() for p in project_files(tmp_path)] == ["src/a.py"]
