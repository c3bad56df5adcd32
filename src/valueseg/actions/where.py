"""The ``--where`` filter: a small grammar over an allow-list of columns.

A filter is comparisons joined by ``and``, ``or`` and ``not``, with parentheses::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" filter ")" | comparison
    comparison := COLUMN OP VALUE | COLUMN ["not"] "in" LIST
    OP         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    LIST       := "[" VALUE ("," VALUE)* "]" | "(" VALUE ("," VALUE)* ")"
    VALUE      := NUMBER | 'text in single quotes'

for example ``value_tier in ['Top 1%', 'Top 5%'] and churn_probability > 0.5``. A quote
inside a string is written twice (``'Can''t Lose Them'``); keywords are case-insensitive;
a date column compares with a date written as text (``'2025-03-01'``).

The tokenizer and the recursive-descent parser are written by hand: nothing of the text is
ever pasted into SQL. :attr:`Where.sql` holds only allow-listed column names, fixed
operators and ``?`` placeholders; the values travel in :attr:`Where.params`. The same tree
is evaluated on a pandas frame (:meth:`Where.mask`) with SQL's three-valued logic, so a
missing value never satisfies a comparison, nor its negation; or on a few rows, one by one
(:meth:`Where.mask_rows`: real-time scoring's, where a frame costs more than the test).
Filters longer than :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH`
are refused.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import numpy as np
import pandas as pd

from valueseg.errors import InputError, did_you_mean

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Where", "parse_where"]

#: Longest filter read, in characters.
MAX_LENGTH: Final = 2_000
#: Deepest nesting of parentheses and ``not``.
MAX_DEPTH: Final = 32
#: A column's kind: what its values compare with.
Kind = Literal["number", "text", "date"]
Value = float | int | str | dt.date

_EXAMPLE = "value_tier = 'Top 5%' and churn_probability > 0.5"
_OPS: Final = {
    "=": "=",
    "==": "=",
    "!=": "<>",
    "<>": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_KEYWORDS: Final = frozenset({"and", "or", "not", "in"})
_TOKEN: Final = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|<>|[=<>])"
    r"|(?P<punct>[()\[\],])"
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number | ident | op | punct | string | end
    text: str
    pos: int  # 1-based character position
    value: Value | None = None


@dataclass(frozen=True)
class _Compare:
    column: str
    op: str  # SQL operator
    value: Value


@dataclass(frozen=True)
class _In:
    column: str
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class _Not:
    item: _Node


@dataclass(frozen=True)
class _Bool:
    op: str  # AND | OR
    items: tuple[_Node, ...]


_Node = _Compare | _In | _Not | _Bool


def _fail(name: str, message: str) -> InputError:
    return InputError(f"{name}: {message}")


def _tokens(text: str, name: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            literal, end = _string(text, i, name)
            out.append(_Token("string", text[i:end], i + 1, literal))
            i = end
            continue
        hit = _TOKEN.match(text, i)
        if hit is None:
            raise _fail(name, _unexpected(char, i + 1))
        kind = hit.lastgroup or ""
        if kind != "space":
            value: Value | None = None
            if kind == "number":
                value = _number(hit.group())
            out.append(_Token(kind, hit.group(), i + 1, value))
        i = hit.end()
    out.append(_Token("end", "", len(text) + 1))
    return out


def _string(text: str, start: int, name: str) -> tuple[str, int]:
    """The string literal opening at ``start`` and the index after its closing quote."""
    parts, i = [], start + 1
    while True:
        close = text.find("'", i)
        if close < 0:
            raise _fail(
                name,
                f"unterminated string starting at position {start + 1}; close it with '. "
                "A quote inside a string is written twice: 'Can''t Lose Them'.",
            )
        parts.append(text[i:close])
        if text.startswith("''", close):
            parts.append("'")
            i = close + 2
            continue
        return "".join(parts), close + 1


def _unexpected(char: str, pos: int) -> str:
    hint = f"A filter is comparisons joined by and/or, e.g. {_EXAMPLE}"
    if char == '"':
        hint = f"Text takes single quotes, e.g. {_EXAMPLE}"
    elif char == "-":
        hint = "Comments are not read. " + hint
    return f"unexpected character {char!r} at position {pos}. {hint}"


def _number(text: str) -> float | int:
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _show(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, tokens: list[_Token], columns: Mapping[str, Kind], name: str) -> None:
        self.tokens, self.columns, self.name = tokens, columns, name
        self.i = 0
        self.used: list[str] = []

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "ident" and token.text.lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("punct", "op"):
            raise self.error(token, what)

    def error(self, token: _Token, what: str) -> InputError:
        return _fail(self.name, f"expected {what} at position {token.pos}, got {_show(token)}.")

    def parse(self) -> _Node:
        node = self.disjunction(0)
        end = self.peek()
        if end.kind != "end":
            raise self.error(end, "'and', 'or' or the end of the filter")
        return node

    def disjunction(self, depth: int) -> _Node:
        items = [self.conjunction(depth)]
        while self.keyword("or"):
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else _Bool("OR", tuple(items))

    def conjunction(self, depth: int) -> _Node:
        items = [self.negation(depth)]
        while self.keyword("and"):
            items.append(self.negation(depth))
        return items[0] if len(items) == 1 else _Bool("AND", tuple(items))

    def negation(self, depth: int) -> _Node:
        token = self.peek()
        if depth >= MAX_DEPTH:
            raise _fail(
                self.name,
                f"nested more than {MAX_DEPTH} deep at position {token.pos}; "
                "write the filter with fewer parentheses and 'not'.",
            )
        if self.keyword("not"):
            return _Not(self.negation(depth + 1))
        if token.kind == "punct" and token.text == "(":
            self.take()
            node = self.disjunction(depth + 1)
            self.expect(")", "')'")
            return node
        return self.comparison()

    def comparison(self) -> _Node:
        column, kind = self.column()
        negated = self.keyword("not")
        if self.keyword("in"):
            return _In(column, self.values(kind), negated)
        token = self.take()
        if negated or token.kind != "op":
            raise self.error(token, "a comparison (=, !=, <, <=, >, >=) or 'in'")
        return _Compare(column, _OPS[token.text], self.value(kind))

    def column(self) -> tuple[str, Kind]:
        token = self.take()
        if token.kind != "ident" or token.text.lower() in _KEYWORDS:
            raise self.error(token, "a column name")
        name = token.text.lower()
        if name not in self.columns:
            hint = did_you_mean(name, self.columns)
            extra = f" Did you mean {hint!r}?" if hint else ""
            raise _fail(
                self.name,
                f"unknown column {token.text!r} at position {token.pos}.{extra} "
                f"Columns: {', '.join(sorted(self.columns))}.",
            )
        self.used.append(name)
        return name, self.columns[name]

    def values(self, kind: Kind) -> tuple[Value, ...]:
        opening = self.take()
        if opening.text not in ("[", "(") or opening.kind != "punct":
            raise self.error(opening, "a list after 'in', e.g. ['Top 1%', 'Top 5%']")
        closing = "]" if opening.text == "[" else ")"
        items = [self.value(kind)]
        while self.peek().text == "," and self.peek().kind == "punct":
            self.take()
            items.append(self.value(kind))
        self.expect(closing, f"',' or {closing!r}")
        return tuple(items)

    def value(self, kind: Kind) -> Value:
        token = self.take()
        if token.kind not in ("number", "string"):
            raise self.error(token, "a value (a number or text in single quotes)")
        assert token.value is not None
        return _typed(token, kind, self.name)


def _typed(token: _Token, kind: Kind, name: str) -> Value:
    """The literal as the column's kind compares with it."""
    value = token.value
    assert value is not None
    if kind == "number" and token.kind != "number":
        raise _fail(name, f"expected a number at position {token.pos}, got {token.text!r}.")
    if kind == "text" and token.kind != "string":
        raise _fail(
            name,
            f"expected text in single quotes at position {token.pos}, got {token.text!r} "
            f"(write '{token.text}').",
        )
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise _fail(
                name,
                f"expected a date such as '2025-03-01' at position {token.pos}, "
                f"got {token.text!r}.",
            ) from None
    return value


@dataclass(frozen=True)
class Where:
    """A parsed filter: its SQL fragment with parameters, and its columns.

    Attributes
    ----------
    text : str
        The filter as written.
    sql : str
        A boolean SQL expression over the columns, with ``?`` for every value.
    params : list
        The values, in the order of the ``?``.
    columns : tuple of str
        The columns the filter reads, in order of appearance, once each.
    """

    text: str
    sql: str
    params: list[Value]
    columns: tuple[str, ...]
    _tree: _Node = field(repr=False, compare=False)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``frame`` the filter keeps (a column it lacks counts as missing).

        Examples
        --------
        >>> w = parse_where("x > 1 and not t = 'a'", {"x": "number", "t": "text"})
        >>> w.mask(pd.DataFrame({"x": [2, 2, None], "t": ["a", "b", "b"]})).tolist()
        [False, True, False]
        """
        value, _known = _evaluate(self._tree, frame)
        return value

    def mask_rows(
        self, rows: Sequence[Mapping[str, Any]], columns: Collection[str]
    ) -> np.ndarray | None:
        """:meth:`mask` of the frame of ``rows`` (with the columns ``columns``: a row
        without one has it missing), evaluated row by row. None when a value is not of
        its condition's kind (a number for a text condition, text for a number or date
        one): :meth:`mask` converts those as pandas does, and the caller asks it.

        Examples
        --------
        >>> w = parse_where("x > 1 and not t = 'a'", {"x": "number", "t": "text"})
        >>> w.mask_rows([{"x": 2, "t": "a"}, {"x": 2.0, "t": "b"}, {"t": "b"}], {"x", "t"})
        array([False,  True, False])
        >>> w.mask_rows([{"x": "2", "t": "b"}], {"x", "t"}) is None
        True
        """
        out = np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            got = _test(self._tree, row, columns)
            if got is None:
                return None
            out[i] = got[0]
        return out


def parse_where(text: str, columns: Mapping[str, Kind], *, name: str = "--where") -> Where:
    """Parse a filter over the allow-listed ``columns``.

    Parameters
    ----------
    text : str
        The filter, e.g. ``value_tier = 'Top 5%' and churn_probability > 0.5``.
    columns : mapping of str to {"number", "text", "date"}
        The columns a filter may name (lower case), with what their values compare with.
    name : str, default "--where"
        How messages name the filter (a flag, or a playbook rule).

    Returns
    -------
    Where

    Raises
    ------
    InputError
        On anything outside the grammar, naming the position and what was expected.

    Examples
    --------
    >>> w = parse_where("tier in ['Top 1%', 'Top 5%'] and p > 0.5",
    ...                 {"tier": "text", "p": "number"})
    >>> w.sql, w.params
    ('("tier" IN (?, ?) AND "p" > ?)', ['Top 1%', 'Top 5%', 0.5])
    >>> parse_where("p > 0.5; DROP TABLE runs", {"p": "number"})
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: --where: unexpected character ';' at position 8. A filter is \
comparisons joined by and/or, e.g. value_tier = 'Top 5%' and churn_probability > 0.5
    """
    if len(text) > MAX_LENGTH:
        raise _fail(
            name,
            f"the filter is {len(text):,} characters long; at most {MAX_LENGTH:,} are read. "
            "Shorten it, or export a segment or an action instead.",
        )
    if not text.strip():
        raise _fail(name, f"the filter is empty. Expected e.g. {_EXAMPLE}")
    parser = _Parser(_tokens(text, name), columns, name)
    tree = parser.parse()
    params: list[Value] = []
    sql = _sql(tree, params)
    return Where(text, sql, params, tuple(dict.fromkeys(parser.used)), tree)


def _sql(node: _Node, params: list[Value]) -> str:
    if isinstance(node, _Compare):
        params.append(node.value)
        return f'"{node.column}" {node.op} ?'
    if isinstance(node, _In):
        params.extend(node.values)
        marks = ", ".join("?" for _ in node.values)
        return f'"{node.column}" {"NOT IN" if node.negated else "IN"} ({marks})'
    if isinstance(node, _Not):
        return f"(NOT {_sql(node.item, params)})"
    return "(" + f" {node.op} ".join(_sql(item, params) for item in node.items) + ")"


def _evaluate(node: _Node, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(true, known)``: where the node is true, and where it is not NULL (SQL logic)."""
    if isinstance(node, _Compare | _In):
        return _leaf(node, frame)
    if isinstance(node, _Not):
        return _negate(*_evaluate(node.item, frame))
    return _combine(node.op, [_evaluate(item, frame) for item in node.items])


_Truth = TypeVar("_Truth", np.ndarray, np.bool_)


def _negate(value: _Truth, known: _Truth) -> tuple[_Truth, _Truth]:
    """SQL's NOT of ``(true, known)``: arrays (a frame), or numpy booleans (a row)."""
    return known & ~value, known


def _combine(op: str, parts: Sequence[tuple[_Truth, _Truth]]) -> tuple[_Truth, _Truth]:
    """SQL's AND or OR of ``(true, known)`` pairs, as :func:`_negate`."""
    value, known = parts[0]
    for v, k in parts[1:]:
        if op == "AND":  # false wins over unknown
            known = (known & k) | (known & ~value) | (k & ~v)
            value = value & v
        else:  # true wins over unknown
            known = (known & k) | value | v
            value = value | v
    return value, known


def _leaf(node: _Compare | _In, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    first = node.value if isinstance(node, _Compare) else node.values[0]
    if node.column not in frame.columns:
        empty = np.zeros(len(frame), dtype=bool)
        return empty, empty.copy()
    series = _as_kind(frame[node.column], first)
    known = series.notna().to_numpy(dtype=bool)
    if isinstance(node, _In):
        values = [_scalar(v) for v in node.values]
        hit = series.isin(values).to_numpy(dtype=bool) & known
        return (known & ~hit if node.negated else hit), known
    right = _scalar(node.value)
    ops = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
    result = getattr(series, ops[node.op])(right)
    return result.fillna(False).to_numpy(dtype=bool) & known, known


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _test(
    node: _Node, row: Mapping[str, Any], columns: Collection[str]
) -> tuple[np.bool_, np.bool_] | None:
    """:func:`_evaluate` of one row: ``(true, known)``; None for a value not of its
    condition's kind."""
    if isinstance(node, _Compare | _In):
        return _test_leaf(node, row, columns)
    if isinstance(node, _Not):
        got = _test(node.item, row, columns)
        return None if got is None else _negate(*got)
    parts = []
    for item in node.items:
        got = _test(item, row, columns)
        if got is None:
            return None
        parts.append(got)
    return _combine(node.op, parts)


def _test_leaf(
    node: _Compare | _In, row: Mapping[str, Any], columns: Collection[str]
) -> tuple[np.bool_, np.bool_] | None:
    if node.column not in columns:
        return np.False_, np.False_
    first = node.value if isinstance(node, _Compare) else node.values[0]
    x = _row_value(row.get(node.column), first)
    if x is _ODD:
        return None
    if x is None:
        return np.False_, np.False_
    if isinstance(node, _In):
        hit = x in [_scalar(v) for v in node.values]
        return np.bool_(hit != node.negated), np.True_
    return np.bool_(_COMPARE[node.op](x, _scalar(node.value))), np.True_


#: A value not of its condition's kind (:func:`_row_value`).
_ODD: Final = object()


def _row_value(value: Any, sample: Value) -> Any:
    """``value`` as :func:`_as_kind` converts it (None: missing), or :data:`_ODD` where
    that would take pandas' conversions (text to a number, a number to text...)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(sample, str):
        return value if isinstance(value, str) else _ODD
    if isinstance(sample, dt.date):
        return pd.Timestamp(value) if isinstance(value, dt.date) else _ODD
    if isinstance(value, bool | int | float | np.integer | np.floating) and not isinstance(
        value, np.datetime64 | np.timedelta64
    ):
        number = float(value)
        return None if math.isnan(number) else number
    return _ODD


def _as_kind(series: pd.Series, sample: Value) -> pd.Series:
    if isinstance(sample, str):
        return series.astype("string")
    if isinstance(sample, dt.date):
        return pd.to_datetime(series, errors="coerce")
    return pd.to_numeric(series, errors="coerce").astype(float)


def _scalar(value: Value) -> Value | pd.Timestamp:
    return pd.Timestamp(value) if isinstance(value, dt.date) else value
