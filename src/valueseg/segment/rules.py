"""Short rules in words for each cluster: who is in it, said so a marketer can act on it.

Each cluster gets at most ``max_rules`` (2) rules of at most ``max_conditions`` (3)
conditions each, such as "last order more than 150 days ago and one order only". A rule is
a conjunction of conditions ``lo < column <= hi`` on the feature table in its own units;
a cluster's rules are OR-ed.

**How a cluster's rules are found** (one cluster against the rest). A rule is scored by
``precision × recall`` on that cluster (precision: of the customers the rule describes,
the share in the cluster; recall: of the cluster's members, the share the rule
describes), so it has to be both right and cover the cluster. Beam search (width 5) adds
one condition at a time, each on a threshold among the column's 2.5 %, 5 %, … 97.5 %
quantiles, rounded to two significant digits (whole per cents for shares; for counts of
things, values the data has). Of thresholds that score alike (a gap in the data) the
middle one is taken, as a tree would; for counts, the edge of the data ("one order only",
not "at most 3 orders" when nobody has 2 or 3). A condition is kept only if it raises the
score by at least ``min_gain`` (0.01), so a rule is as short as the data allow; two
conditions on one column make one range ("more than 30 and at most 90 days ago"). The
second rule is searched among the members the first one misses, scored by ``precision ×
recall`` of the two together, and kept only if it raises that by ``min_gain_second``
(0.02); then each rule is searched again beside
the other, which finds pairs the greedy order misses. The rules are learnt on at most
50,000 customers (a seeded sample), then measured on everyone. On ``make_shop(50_000)``
seeds 0-4 they place 0.836-0.872 of customers right (a surrogate tree of two leaves per
cluster placed 0.903-0.913 with rules of up to four OR-ed clauses of six conditions);
on CDNOW 0.904-0.916.

**Readable numbers.** Each threshold is then moved to the roundest number near it (one
significant digit, then a multiple of 5 or 2.5 of the next digit, then two digits: 150
before 155, 30 % before 32 %) that keeps the cluster's score within 1 % of its value.

**Undefined values.** A value that is undefined for a customer (the order-value spread
of a one-order customer, the time between orders of a one-order customer) meets no
condition on it, so a rule never says "or missing" and never describes a customer by a
number they do not have; a one-order customer is described by "one order only"
(``orders_total <= 1``). Nor does a condition stand in for "has a value": on a column
some customers have no value of, a condition must leave out at least 10 % of the rule's
customers who have one. Thresholds come from the data, so no rule says ``inf``.

**Fidelity.** Each customer is placed in the cluster whose matching rule is the most
precise (a customer matching no rule is not placed); the share placed in their own
cluster is the fidelity. Per cluster: the precision and recall of its rules, and of the
placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.segment._words import Kind, describe

__all__ = ["ClusterRules", "Condition", "Rule", "cluster_rules", "rule_columns"]

_IDS = {"customer_id", "run_id"}
_BTYD = {"frequency", "recency", "T", "monetary_value"}
#: Quantile levels of the candidate thresholds.
LEVELS = np.arange(1, 40) / 40
BEAM = 5
SAMPLE_ROWS = 50_000
#: A rounder threshold may cost at most this share of the cluster's score.
ROUNDING_LOSS = 0.01
_SHARE_TOLERANCE = 1e-9
#: On a column with missing values, a condition must leave out at least this share of
#: the rule's customers who have a value: else it says little more than "has a value"
#: ("gaps between orders vary by more than 0 days" for "three orders or more").
MIN_CUT = 0.1
#: Name endings of whole-number columns that measure (days, seconds), not count.
_MEASURES = ("_days", "_s", "_order")


@dataclass(frozen=True)
class Condition:
    """``lo < column <= hi`` (a bound of None is absent); false where the value is missing."""

    column: str
    lo: float | None
    hi: float | None
    kind: Kind = field(default_factory=Kind, compare=False)

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Whether each value meets the condition (a missing value never does)."""
        with np.errstate(invalid="ignore"):
            ok = ~np.isnan(values)
            if self.lo is not None:
                ok &= values > self.lo
            if self.hi is not None:
                ok &= values <= self.hi
        return ok

    def __str__(self) -> str:
        return describe(self.column, self.lo, self.hi, self.kind)

    def as_dict(self) -> dict[str, Any]:
        """``{"column", "above", "at_most"}``: the condition as data (JSON-ready)."""
        return {"column": self.column, "above": self.lo, "at_most": self.hi}


@dataclass(frozen=True)
class Rule:
    """Conditions that all hold, and how well they describe their cluster."""

    conditions: tuple[Condition, ...]
    precision: float = float("nan")
    recall: float = float("nan")
    customers: int = 0

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` the rule describes."""
        ok = np.ones(len(frame), dtype=bool)
        for c in self.conditions:
            ok &= c.holds(pd.to_numeric(frame[c.column], errors="coerce").to_numpy(float))
        return ok

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.conditions) or "all customers"


@dataclass
class ClusterRules:
    """The rules of each cluster and how faithful they are.

    Attributes
    ----------
    rules : dict of int to list of Rule
        Cluster → its rules (at most ``max_rules``; OR-ed), most customers first.
    per_cluster : DataFrame
        Index ``cluster``: ``size``, ``precision`` and ``recall`` of its rules (OR-ed),
        ``placed`` (customers placed there), ``placed_precision`` and ``placed_recall``.
    fidelity : float
        Share of customers the rules place in their own cluster.
    assigned : ndarray
        The cluster each customer is placed in (-1: no rule describes them).
    """

    rules: dict[int, list[Rule]]
    per_cluster: pd.DataFrame
    fidelity: float
    assigned: np.ndarray

    def text(self, cluster: int) -> str:
        """The cluster's rules, one per line, the second starting "or"."""
        lines = [str(r) for r in self.rules.get(cluster, [])]
        return "\n".join(line if i == 0 else f"or {line}" for i, line in enumerate(lines))

    def longest(self) -> tuple[int, int]:
        """``(rules, conditions)``: the most rules of a cluster, the most conditions of a rule."""
        rules = [len(r) for r in self.rules.values()] or [0]
        conditions = [len(r.conditions) for rs in self.rules.values() for r in rs] or [0]
        return max(rules), max(conditions)


def rule_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns except identifiers, customer attributes and the BTYD summary."""
    return [
        str(c)
        for c in frame.columns
        if str(c) not in _IDS
        and str(c) not in _BTYD
        and not str(c).startswith("attr_")
        and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]


def _round_sig(value: float, digits: int) -> float:
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - int(np.floor(np.log10(abs(value))))))


def _kind(name: str, values: np.ndarray) -> Kind:
    finite = values[~np.isnan(values)]
    if not finite.size:
        return Kind()
    lo, hi = float(finite.min()), float(finite.max())
    share = ("share" in name or "rate" in name) and lo >= -_SHARE_TOLERANCE
    share = share and hi <= 1 + _SHARE_TOLERANCE
    # whole numbers of things (orders, lines, sessions); days and seconds are measures
    count = bool(np.all(finite == np.round(finite))) and not name.endswith(_MEASURES)
    return Kind(share=share, count=count and not share, nonneg=lo >= 0)


def _candidates(values: np.ndarray, kind: Kind) -> np.ndarray:
    """Thresholds tried for one column: rounded quantiles strictly inside its range."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return np.empty(0)
    if kind.count:  # values the data has: "at most 2 orders" where some have 2
        q = np.quantile(finite, LEVELS, method="lower")
    elif kind.share:
        q = np.round(np.quantile(finite, LEVELS), 2)
    else:
        q = np.quantile(finite, LEVELS)
        q = np.array([_round_sig(v, 2) for v in q])
    if kind.nonneg and finite.min() == 0:
        q = np.append(q, 0.0)
    q = np.unique(q)
    return q[(q >= finite.min()) & (q < finite.max())]


def _nicer(value: float, kind: Kind) -> list[float]:
    """Rounder numbers near ``value``, roundest first."""
    if value == 0:
        return []
    if kind.share:
        steps = [0.1, 0.05, 0.01]
    else:
        e = 10.0 ** np.floor(np.log10(abs(value)))
        steps = [e, e / 2, e / 4, e / 10]
        if kind.count:
            steps = [s for s in steps if s >= 1 and float(s).is_integer()]
    out = []
    for step in steps:
        candidate = float(round(round(value / step) * step, 10))
        if candidate != value and candidate not in out and candidate != 0:
            out.append(candidate)
    return out


class _Search:
    """Presorted columns of the sample and their candidate thresholds."""

    def __init__(self, x: np.ndarray, names: list[str], kinds: list[Kind]) -> None:
        self.x, self.names, self.kinds = x, names, kinds
        self.order, self.valid, self.thresholds, self.pos = [], [], [], []
        for j in range(x.shape[1]):
            column = x[:, j]
            order = np.argsort(column, kind="stable")  # NaN last
            valid = int(np.count_nonzero(~np.isnan(column)))
            thresholds = _candidates(column, kinds[j])
            self.order.append(order)
            self.valid.append(valid)
            self.thresholds.append(thresholds)
            self.pos.append(np.searchsorted(column[order[:valid]], thresholds, side="right"))

    def counts(self, j: int, weight: np.ndarray) -> tuple[np.ndarray, int]:
        """Per threshold: the weight of rows ``<= t``; and the weight of rows with a value."""
        valid = self.valid[j]
        cum = np.concatenate([[0], np.cumsum(weight[self.order[j][:valid]])])
        return cum[self.pos[j]], int(cum[-1])


def _score(hits: np.ndarray | float, size: np.ndarray | float, members: int) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(size) > 0, np.square(hits) / (np.asarray(size) * members), 0.0)


def _top(score: np.ndarray, k: int, snap: int | None = None) -> list[int]:
    """Indices of the ``k`` best positive scores. Of thresholds that score alike (a gap in
    the data) the middle one, or with ``snap`` the first (0) or last (-1): a count reads
    best at the edge of the data ("one order only", not "at most 3 orders" when nobody
    has 2 or 3)."""
    out = []
    for value in np.unique(score[score > 0])[::-1][:k]:
        tied = np.flatnonzero(score == value)
        out.append(int(tied[len(tied) // 2] if snap is None else tied[snap]))
    return out


def _merge(conditions: tuple[Condition, ...], new: Condition) -> tuple[Condition, ...]:
    """Add ``new``; a second condition on a column narrows the first into a range."""
    for i, old in enumerate(conditions):
        if old.column == new.column:
            lo = max((b for b in (old.lo, new.lo) if b is not None), default=None)
            hi = min((b for b in (old.hi, new.hi) if b is not None), default=None)
            merged = Condition(old.column, lo, hi, old.kind)
            return (*conditions[:i], merged, *conditions[i + 1 :])
    return (*conditions, new)


def _mask(search: _Search, conditions: tuple[Condition, ...]) -> np.ndarray:
    ok = np.ones(len(search.x), dtype=bool)
    for c in conditions:
        ok &= c.holds(search.x[:, search.names.index(c.column)])
    return ok


@dataclass
class _Goal:
    """What a rule is scored on: one cluster, and the customers a first rule already has."""

    member: np.ndarray
    members: int
    base_hits: int = 0
    base_size: int = 0
    allowed: np.ndarray | None = None  # rows still open to the rule
    min_size: int = 1


def _extensions(
    search: _Search, goal: _Goal, conditions: tuple[Condition, ...], rows: np.ndarray
) -> list[tuple[float, tuple[Condition, ...]]]:
    """The best few one-condition extensions of a rule whose rows are ``rows``."""
    w = rows.astype(np.int64)
    m = (rows & goal.member).astype(np.int64)
    found: list[tuple[float, tuple[Condition, ...]]] = []
    for j, name in enumerate(search.names):
        thresholds = search.thresholds[j]
        if not thresholds.size:
            continue
        size_le, size_all = search.counts(j, w)
        hits_le, hits_all = search.counts(j, m)
        for below in (True, False):
            size = size_le if below else size_all - size_le
            hits = hits_le if below else hits_all - hits_le
            score = _score(goal.base_hits + hits, goal.base_size + size, goal.members)
            ok = (size >= goal.min_size) & (hits > 0)
            if search.valid[j] < len(search.x):  # a column some customers have no value of
                ok &= size <= (1 - MIN_CUT) * size_all
            score = np.where(ok, score, -1.0)
            snap = (0 if below else -1) if search.kinds[j].count else None
            for i in _top(score, BEAM, snap):
                t = float(thresholds[i])
                new = (
                    Condition(name, None, t, search.kinds[j])
                    if below
                    else Condition(name, t, None, search.kinds[j])
                )
                found.append((float(score[i]), _merge(conditions, new)))
    return found


def _best_rule(
    search: _Search, goal: _Goal, max_conditions: int, min_gain: float
) -> tuple[float, tuple[Condition, ...]]:
    """Beam search for the best rule of at most ``max_conditions`` conditions."""
    start = goal.allowed if goal.allowed is not None else np.ones(len(search.x), dtype=bool)
    best: tuple[float, tuple[Condition, ...]] = (-1.0, ())
    beam: list[tuple[float, tuple[Condition, ...]]] = [(-1.0, ())]
    for _ in range(max_conditions):
        grown: dict[frozenset[Condition], tuple[float, tuple[Condition, ...]]] = {}
        for parent_score, conditions in beam:
            rows = start & _mask(search, conditions)
            for score, rule in _extensions(search, goal, conditions, rows):
                if parent_score >= 0 and score < parent_score + min_gain:
                    continue
                key = frozenset(rule)
                if key not in grown or grown[key][0] < score:
                    grown[key] = (score, rule)
        if not grown:
            break
        beam = sorted(grown.values(), key=lambda item: -item[0])[:BEAM]
        if beam[0][0] >= best[0] + (min_gain if best[1] else 0.0):
            best = beam[0]
    return best


def _union_score(search: _Search, member: np.ndarray, rules: list[tuple[Condition, ...]]) -> float:
    rows = np.zeros(len(search.x), dtype=bool)
    for conditions in rules:
        rows |= _mask(search, conditions)
    return float(_score(int((rows & member).sum()), int(rows.sum()), int(member.sum())))


def _rounder(
    search: _Search, member: np.ndarray, rules: list[tuple[Condition, ...]]
) -> list[tuple[Condition, ...]]:
    """Each threshold moved to the roundest number that keeps the score (module docstring)."""
    floor = _union_score(search, member, rules) * (1 - ROUNDING_LOSS)
    rules = list(rules)
    for r, conditions in enumerate(rules):
        for i, c in enumerate(conditions):
            for bound in ("lo", "hi"):
                value = getattr(c, bound)
                if value is None:
                    continue
                for nicer in _nicer(value, c.kind):
                    lo, hi = (nicer, c.hi) if bound == "lo" else (c.lo, nicer)
                    if lo is not None and hi is not None and lo >= hi:
                        continue
                    moved = Condition(c.column, lo, hi, c.kind)
                    trial = (*conditions[:i], moved, *conditions[i + 1 :])
                    candidate = [*rules[:r], trial, *rules[r + 1 :]]
                    if _union_score(search, member, candidate) >= floor:
                        c, conditions, rules = moved, trial, candidate
                        break
    return rules


def _beside(
    search: _Search,
    goal: _Goal,
    others: list[tuple[Condition, ...]],
    max_conditions: int,
    min_gain: float,
) -> tuple[float, tuple[Condition, ...]]:
    """The best rule to OR with ``others`` (scored on all of them together)."""
    covered = np.zeros(len(search.x), dtype=bool)
    for conditions in others:
        covered |= _mask(search, conditions)
    beside = _Goal(
        goal.member,
        goal.members,
        int((covered & goal.member).sum()),
        int(covered.sum()),
        ~covered,
        goal.min_size,
    )
    return _best_rule(search, beside, max_conditions, min_gain)


def _cluster_rules(
    search: _Search,
    member: np.ndarray,
    max_rules: int,
    max_conditions: int,
    min_gain: float,
    min_gain_second: float,
    min_size: int,
) -> list[tuple[Condition, ...]]:
    """A cluster's rules: the best one, then each next one beside those found; then each
    rule searched again beside the others (the first, found alone, is often not the best
    partner of the second: "at most 7 orders" alone, "one order only" beside "orders more
    than 100 days apart")."""
    goal = _Goal(member, int(member.sum()), min_size=min_size)
    score, first = _best_rule(search, goal, max_conditions, min_gain)
    if not first:
        return []
    rules = [first]
    while len(rules) < max_rules:
        more, extra = _beside(search, goal, rules, max_conditions, min_gain)
        if not extra or more < score + min_gain_second:
            break
        rules.append(extra)
        score = more
    for i in range(len(rules) if len(rules) > 1 else 0):
        others = rules[:i] + rules[i + 1 :]
        better, again = _beside(search, goal, others, max_conditions, min_gain)
        if again and better > score:
            rules[i], score = again, better
    return _rounder(search, member, rules)


def _measure(
    frame: pd.DataFrame, labels: np.ndarray, found: dict[int, list[tuple[Condition, ...]]]
) -> tuple[dict[int, list[Rule]], pd.DataFrame, np.ndarray]:
    """Rules with their precision and recall on everyone; the placement of each customer."""
    clusters = np.unique(labels)
    rules: dict[int, list[Rule]] = {}
    best_precision = np.full(len(frame), -1.0)
    assigned = np.full(len(frame), -1, dtype=np.int64)
    per = pd.DataFrame(index=pd.Index(clusters, name="cluster"))
    per["size"] = pd.Series(labels).value_counts()
    precision, recall = {}, {}
    for cluster in clusters:
        member = labels == cluster
        union = np.zeros(len(frame), dtype=bool)
        measured = []
        for conditions in found.get(int(cluster), []):
            rows = Rule(conditions).holds(frame)
            hits, size = int((rows & member).sum()), int(rows.sum())
            share = hits / int(member.sum())
            measured.append(Rule(conditions, hits / max(size, 1), share, size))
            union |= rows
        for rule in measured:
            rows = rule.holds(frame)
            better = rows & (rule.precision > best_precision)
            assigned[better], best_precision[better] = cluster, rule.precision
        measured.sort(key=lambda r: -r.customers)
        rules[int(cluster)] = measured
        hits = int((union & member).sum())
        precision[cluster] = hits / union.sum() if union.any() else np.nan
        recall[cluster] = hits / int(member.sum())
    per["precision"], per["recall"] = pd.Series(precision), pd.Series(recall)
    per["placed"] = pd.Series(assigned).value_counts().reindex(per.index, fill_value=0)
    right = pd.Series(assigned[assigned == labels]).value_counts().reindex(per.index, fill_value=0)
    per["placed_precision"] = right / per["placed"].where(per["placed"] > 0)
    per["placed_recall"] = right / per["size"]
    return rules, per, assigned


def cluster_rules(
    frame: pd.DataFrame,
    labels: object,
    *,
    columns: list[str] | None = None,
    max_rules: int = 2,
    max_conditions: int = 3,
    min_gain: float = 0.01,
    min_gain_second: float = 0.02,
    min_share: float = 0.005,
    random_state: int | None = 0,
) -> ClusterRules:
    """Short rules per cluster, in words, with their precision, recall and fidelity.

    Parameters
    ----------
    frame : DataFrame
        One row per customer (the feature table).
    labels : array-like of int
        Cluster of each row (-1, HDBSCAN's noise, gets no rules).
    columns : list of str, optional
        Features the rules may use; default :func:`rule_columns`.
    max_rules : int, default 2
        Rules per cluster (OR-ed).
    max_conditions : int, default 3
        Conditions per rule (AND-ed; a range on one column is one condition).
    min_gain : float, default 0.01
        Smallest rise of ``precision × recall`` for which a condition is added.
    min_gain_second : float, default 0.02
        Smallest rise of ``precision × recall`` for which a second rule is added.
    min_share : float, default 0.005
        A rule describes at least this share of the customers.
    random_state : int or None, default 0
        Seed of the sample the rules are learnt on (above 50,000 customers).

    Returns
    -------
    ClusterRules

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "days_since_last_order": [400.0, 380, 350, 20, 15, 30, 10, 25],
    ...     "orders_total": [1, 2, 1, 8, 9, 12, 7, 10]})
    >>> result = cluster_rules(frame, [1, 1, 1, 0, 0, 0, 0, 0])
    >>> result.text(1), result.text(0), result.fidelity
    ('last order more than 200 days ago', 'last order at most 200 days ago', 1.0)
    """
    labels = np.asarray(labels)
    if len(labels) != len(frame):
        raise InputError(
            f"cluster_rules got {len(labels):,} labels for {len(frame):,} customers; "
            "pass one label per row."
        )
    columns = columns if columns is not None else rule_columns(frame)
    x = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    keep = ~np.all(np.isnan(x), axis=0)
    x, columns = x[:, keep], [c for c, k in zip(columns, keep, strict=True) if k]
    rows = np.arange(len(x))
    if len(x) > SAMPLE_ROWS:
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(len(x), SAMPLE_ROWS, replace=False))
    kinds = [_kind(c, x[:, j]) for j, c in enumerate(columns)]
    search = _Search(x[rows], columns, kinds)
    sample_labels = labels[rows]
    min_size = max(1, int(np.ceil(min_share * len(rows))))
    found = {
        int(c): _cluster_rules(
            search,
            sample_labels == c,
            max_rules,
            max_conditions,
            min_gain,
            min_gain_second,
            min_size,
        )
        for c in np.unique(labels)
        if c >= 0
    }
    rules, per, assigned = _measure(frame, labels, found)
    return ClusterRules(rules, per, float((assigned == labels).mean()), assigned)
