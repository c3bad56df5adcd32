"""Guard the dependency set measured to work together (see pyproject.toml)."""

from __future__ import annotations

import duckdb
import ibis
import pandas as pd
import sqlglot


def _major_minor(version: str) -> tuple[int, int]:
    major, minor, *_ = version.split(".")
    return int(major), int(minor)


def test_pinned_versions():
    assert _major_minor(duckdb.__version__) < (2, 0)
    assert _major_minor(ibis.__version__)[0] == 12
    assert _major_minor(sqlglot.__version__)[0] == 29


def test_the_ibis_duckdb_features_we_rely_on_work():
    # The calls measured to break with duckdb 2.0: create_table from an expression and
    # from pandas, batch streaming, and two results in a row.
    con = ibis.duckdb.connect()
    frame = pd.DataFrame({"a": [1, 2, 3]})
    t = con.create_table("t", frame)
    u = con.create_table("u", t.mutate(b=t.a * 2))
    batches = list(u.to_pyarrow_batches())
    assert sum(b.num_rows for b in batches) == 3
    assert u.b.sum().execute() == 12
    assert u.count().execute() == 3


def test_the_typed_names_of_the_package_are_its_lazy_exports():
    # valueseg/__init__.py lists its exports twice (lazily for import time, and under
    # TYPE_CHECKING for type checkers): the two lists must name the same objects.
    import ast
    from pathlib import Path

    import valueseg

    tree = ast.parse(Path(valueseg.__file__).read_text("utf-8"))
    typed = {
        alias.asname or alias.name: node.module
        for block in tree.body
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == valueseg._EXPORTS
