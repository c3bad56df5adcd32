"""The next-best action of every customer, by the playbook (``customer_actions`` rows).

Rules are tried by their action's priority (lower first), then in the order of the
playbook; each customer gets the action of the first rule they meet, and the rule that
chose it, as text. The frame comes out by priority, then by value at stake (largest
first), so the first rows of an action are the customers a capped campaign reaches first.

**Value at stake** is what the shop stands to lose if it does nothing: predicted 365-day
CLV × churn probability. Where the churn learner gave no probability but the value
models gave P(alive), it is CLV × (1 − P(alive)); without a predicted CLV it is missing.
The frame's ``attrs["notes"]`` says how many customers got each, which rules met no one,
and which columns the rules read that the scores lack.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from valueseg.actions.playbooks import Playbook, Rule, load_playbooks
from valueseg.actions.where import Where
from valueseg.errors import InputError

__all__ = [
    "ACTION_FRAME_COLUMNS",
    "first_rules",
    "first_rules_of_rows",
    "next_best_actions",
    "value_at_stake",
]

#: The columns of :func:`next_best_actions` (table ``customer_actions`` less ``run_id``).
ACTION_FRAME_COLUMNS = ("customer_id", "action", "priority", "value_at_stake", "rule")


def _numbers(scores: pd.DataFrame, column: str) -> np.ndarray:
    if column not in scores.columns:
        return np.full(len(scores), np.nan)
    return pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype=float)


def value_at_stake(scores: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Predicted CLV × churn probability, else CLV × (1 − P(alive)); and what was used.

    Examples
    --------
    >>> scores = pd.DataFrame({"predicted_clv_365d": [100.0, 100.0, None],
    ...                        "churn_probability": [0.5, None, 0.5],
    ...                        "p_alive": [0.9, 0.8, 0.1]})
    >>> value, notes = value_at_stake(scores)
    >>> value.round(2).tolist()
    [50.0, 20.0, nan]
    >>> notes[0]
    'value at stake: predicted_clv_365d × churn_probability for 1 customers'
    """
    clv = _numbers(scores, "predicted_clv_365d")
    churn = _numbers(scores, "churn_probability")
    alive = _numbers(scores, "p_alive")
    by_churn = clv * churn
    by_alive = clv * (1.0 - alive)
    value = np.where(np.isnan(by_churn), by_alive, by_churn)
    counts = {
        "predicted_clv_365d × churn_probability": int((~np.isnan(by_churn)).sum()),
        "predicted_clv_365d × (1 − p_alive) (no churn probability)": int(
            (np.isnan(by_churn) & ~np.isnan(by_alive)).sum()
        ),
        "missing (no predicted CLV, or neither churn probability nor P(alive))": int(
            np.isnan(value).sum()
        ),
    }
    notes = [f"value at stake: {what} for {n:,} customers" for what, n in counts.items() if n]
    return value, notes


def _absent(rule: Rule, columns: Collection[str]) -> tuple[set[str], bool]:
    """The columns ``rule`` reads that the scores lack, and whether that leaves it meeting
    no customer (a segment, tier or cluster condition on a column that is not there)."""
    named = (
        ("rfm_segment", rule.rfm_segments),
        ("value_tier", rule.value_tiers),
        ("segment", rule.clusters),
    )
    for column, names in named:
        if names and column not in columns:
            return {column}, True
    if rule.when is None:
        return set(), False
    return {c for c in rule.when.columns if c not in columns}, False


#: The segment columns rules name segments of.
_NAMED = ("rfm_segment", "value_tier", "segment")


#: Rows up to which a rule's segment conditions are checked row by row (real-time
#: scoring's few rows: pandas' ``isin`` cost a tenth of a millisecond a condition).
FEW_ROWS: Final = 32


def _texts(scores: pd.DataFrame) -> dict[str, pd.Series | list[str | None]]:
    """The segment columns as text, converted once for all the rules: a Series, or for
    :data:`FEW_ROWS` rows or fewer a list (a missing value: None)."""
    texts: dict[str, pd.Series | list[str | None]] = {}
    few = len(scores) <= FEW_ROWS
    for column in _NAMED:
        if column in scores.columns:
            values = scores[column]
            texts[column] = (
                [None if pd.isna(v) else str(v) for v in values.tolist()]
                if few
                else values.astype("string")
            )
    return texts


def _among(text: pd.Series | list[str | None], names: tuple[str, ...]) -> np.ndarray:
    """Whether each value is one of ``names`` (a missing one never is)."""
    if isinstance(text, list):
        wanted = set(names)
        return np.array([v in wanted for v in text], dtype=bool)
    return text.isin(names).fillna(False).to_numpy(bool)


def _matching(text: pd.Series | list[str | None], rule: Rule) -> np.ndarray:
    """Whether each value matches one of the rule's cluster patterns (a missing one never
    does)."""
    if isinstance(text, list):
        return np.array([v is not None and rule.matches_cluster(v) for v in text], dtype=bool)
    hits = {n for n in text.dropna().unique() if rule.matches_cluster(str(n))}
    return text.isin(hits).fillna(False).to_numpy(bool)


def _rule_mask(
    rule: Rule,
    size: int,
    columns: Collection[str],
    texts: Mapping[str, pd.Series | list[str | None]],
    recommended: np.ndarray | None,
    absent: set[str],
    when: Callable[[Where], np.ndarray | None],
) -> np.ndarray | None:
    """Which of ``size`` customers (their scores' ``columns``) meet every condition of
    ``rule``; ``texts``: the segment columns as text (:func:`_texts`), ``recommended``:
    which customers the run recommended anything (None: no recommendations given),
    ``when``: the rule's filter tested on the scores (None: it cannot be here)."""
    missing, nobody = _absent(rule, columns)
    absent |= missing
    mask = np.full(size, not nobody, dtype=bool)
    if nobody:
        return mask
    for column, names in (("rfm_segment", rule.rfm_segments), ("value_tier", rule.value_tiers)):
        if names:
            mask &= _among(texts[column], names)
    if rule.clusters:
        mask &= _matching(texts["segment"], rule)
    if rule.when is not None:
        met = when(rule.when)
        if met is None:
            return None
        mask &= met
    if rule.needs_recommendations:
        if recommended is None:
            return np.zeros(size, dtype=bool)
        mask &= recommended
    return mask


def next_best_actions(
    scores: pd.DataFrame,
    playbook: Playbook | None = None,
    *,
    recommendations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One action per customer: the first rule of the playbook each customer meets.

    Parameters
    ----------
    scores : DataFrame
        One row per customer: ``customer_id`` and any ``customer_scores`` columns.
    playbook : Playbook, optional
        Default: the packaged one (:func:`load_playbooks`).
    recommendations : DataFrame, optional
        ``customer_id, …`` of the run's recommendations; rules with
        ``needs_recommendations`` meet no one without it.

    Returns
    -------
    DataFrame
        ``customer_id, action, priority, value_at_stake, rule``, by priority then value at
        stake (largest first); ``attrs["notes"]`` says what was used and what was missing.
        A customer no rule meets (a playbook without a catch-all) gets no row.

    Examples
    --------
    >>> scores = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...                        "rfm_segment": ["Hibernating", "New Customers", "Champions"],
    ...                        "value_tier": ["Rest", "Rest", "Top 1%"],
    ...                        "predicted_clv_365d": [10.0, 50.0, 900.0],
    ...                        "churn_probability": [0.9, 0.2, 0.7]})
    >>> next_best_actions(scores)[["customer_id", "action"]].values.tolist()
    [['c', 'churn-recall'], ['b', 'welcome-series'], ['a', 'win-back']]
    """
    if "customer_id" not in scores.columns:
        raise InputError(
            "next_best_actions needs a customer_id column in the scores. Got: "
            f"{', '.join(map(str, scores.columns))}."
        )
    ids = scores["customer_id"].astype(str)
    if ids.duplicated().any():
        raise InputError(
            f"The scores hold customer {ids[ids.duplicated()].iloc[0]!r} more than once; "
            "pass one row per customer."
        )
    book = playbook if playbook is not None else load_playbooks()
    value, notes = value_at_stake(scores)
    recommended = None
    if recommendations is not None:
        given = set(recommendations["customer_id"].astype(str))
        recommended = ids.isin(given).to_numpy(bool)
    chosen, rules, absent = first_rules(scores, book, recommended)
    for i, rule in enumerate(rules):
        if not (chosen == i).any():
            notes.append(f"rule {rule.name!r} ({rule.action}) met no customer")
    notes += _missing_notes(absent, rules, recommendations is None)
    return _frame(ids, value, chosen, rules, book, notes)


def first_rules(
    scores: pd.DataFrame, playbook: Playbook, recommended: np.ndarray | None
) -> tuple[np.ndarray, list[Rule], set[str]]:
    """The rule each customer meets first: its index in ``playbook.ordered_rules()`` per
    row of ``scores`` (-1: none), those rules, and the columns the rules read that the
    scores lack. ``recommended``: per row, whether the run recommended the customer
    anything (None: no recommendations given). :func:`next_best_actions` without its
    frame, for real-time scoring's few rows."""
    found = _first(
        len(scores), scores.columns, _texts(scores), playbook, recommended, lambda w: w.mask(scores)
    )
    assert found is not None  # a frame's filter always gives a mask
    return found


def first_rules_of_rows(
    rows: Sequence[Mapping[str, Any]], playbook: Playbook, recommended: np.ndarray | None
) -> tuple[np.ndarray, list[Rule]] | None:
    """:func:`first_rules` of the frame of ``rows`` (one dict of scores per customer; a
    row without a column has it missing), tested row by row: real-time scoring's few
    rows, where building the frame and testing its columns cost more than the rules.
    None where a value is not of the kind its rule compares it as (text, a number, a
    date): :func:`first_rules` converts those as pandas does, and the caller asks it.

    Examples
    --------
    >>> from valueseg.actions.playbooks import load_playbooks
    >>> rows = [{"customer_id": "a", "rfm_segment": "Hibernating", "value_tier": "Rest",
    ...          "predicted_clv_365d": 10.0, "churn_probability": 0.9}]
    >>> chosen, rules = first_rules_of_rows(rows, load_playbooks(), None)
    >>> rules[int(chosen[0])].action
    'win-back'
    """
    columns = {c for row in rows for c in row}
    texts: dict[str, pd.Series | list[str | None]] = {}
    for column in _NAMED:
        values = [row.get(column) for row in rows]
        if any(v is not None and not isinstance(v, str) for v in values):
            return None  # a segment that is not text: the frame's conversion
        texts[column] = values
    found = _first(
        len(rows), columns, texts, playbook, recommended, lambda w: w.mask_rows(rows, columns)
    )
    return None if found is None else found[:2]


def _first(
    size: int,
    columns: Collection[str],
    texts: Mapping[str, pd.Series | list[str | None]],
    playbook: Playbook,
    recommended: np.ndarray | None,
    when: Callable[[Where], np.ndarray | None],
) -> tuple[np.ndarray, list[Rule], set[str]] | None:
    """:func:`first_rules` of scores given by their size, columns, segment texts and a
    way to test a filter on them (None: a filter that cannot be tested that way)."""
    chosen = np.full(size, -1)
    rules = playbook.ordered_rules()
    absent: set[str] = set()
    for i, rule in enumerate(rules):
        if (chosen >= 0).all():  # every customer placed (one, in real time): no rule meets
            absent |= _absent(rule, columns)[0]  # anyone more; only its notes
            continue
        hit = _rule_mask(rule, size, columns, texts, recommended, absent, when)
        if hit is None:
            return None
        chosen[hit & (chosen < 0)] = i
    return chosen, rules, absent


def _missing_notes(absent: set[str], rules: list[Rule], no_recs: bool) -> list[str]:
    notes = [
        f"the scores have no column {c}: rules reading it meet no customer" for c in sorted(absent)
    ]
    if no_recs and any(r.needs_recommendations for r in rules):
        notes.append("no recommendations given: rules that need them meet no customer")
    return notes


def _frame(
    ids: pd.Series,
    value: np.ndarray,
    chosen: np.ndarray,
    rules: list[Rule],
    book: Playbook,
    notes: list[str],
) -> pd.DataFrame:
    placed = chosen >= 0
    unplaced = int((~placed).sum())
    if unplaced:
        notes.append(f"{unplaced:,} customers met no rule and have no action (no catch-all)")
    picked = chosen[placed]
    actions = np.array([r.action for r in rules] + [""], dtype=object)
    texts = np.array([r.text for r in rules] + [""], dtype=object)
    priority = np.array([book.actions[r.action].priority for r in rules] + [0], dtype=int)
    frame = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[placed],
            "action": actions[picked],
            "priority": priority[picked],
            "value_at_stake": value[placed],
            "rule": texts[picked],
        },
        columns=list(ACTION_FRAME_COLUMNS),
    )
    frame = frame.sort_values(
        ["priority", "value_at_stake", "customer_id"],
        ascending=[True, False, True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)
    frame.attrs["notes"] = notes
    return frame
