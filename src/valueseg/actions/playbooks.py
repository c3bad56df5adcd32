"""Playbooks as data: which action each kind of customer gets (``playbooks.toml``).

The packaged ``playbooks.toml`` next to this module maps RFM segments, value tiers,
behavioural clusters (by name pattern) and conditions on the scores to actions: a goal, a
channel, an offer, a priority and a contact cap per month. Its default actions are a churn
recall for valuable customers at risk, a VIP programme, a welcome series for new one-time
buyers, a win-back (a discount of at most 15 %), a cross-sell with the customer's own
recommendations, and a newsletter for everyone else.

A user's file extends it (an action or a rule of the same name replaces the packaged one,
new ones are added) or replaces it. Every rule's condition is parsed once, when the file
is loaded, with the ``--where`` grammar (:mod:`valueseg.actions.where`) over the score
columns; a bad one is refused naming the file, the rule and the fix.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from valueseg.actions.columns import SCORE_COLUMNS
from valueseg.actions.where import Where, parse_where
from valueseg.errors import InputError, SourceNotFoundError, did_you_mean

__all__ = ["Action", "Playbook", "Rule", "load_playbooks"]

_DEFAULT: Final = "playbooks.toml"
_ACTION_KEYS: Final = {
    "goal": str,
    "channel": str,
    "offer": str,
    "priority": int,
    "contact_cap_per_month": int,
    "discount_pct": float,
}
_RULE_KEYS: Final = (
    "name",
    "action",
    "rfm_segments",
    "value_tiers",
    "clusters",
    "when",
    "needs_recommendations",
)


@dataclass(frozen=True)
class Action:
    """What to do: goal, channel, offer, priority (lower first), contacts a month, discount."""

    name: str
    goal: str
    channel: str
    offer: str
    priority: int
    contact_cap_per_month: int
    discount_pct: float = 0.0


@dataclass(frozen=True)
class Rule:
    """Who gets an action: every condition named must hold (none named: everyone)."""

    name: str
    action: str
    rfm_segments: tuple[str, ...] = ()
    value_tiers: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    when: Where | None = None
    needs_recommendations: bool = False

    @property
    def text(self) -> str:
        """The rule as a person reads it: its name, then its conditions.

        Examples
        --------
        >>> Rule("gone", "win-back", rfm_segments=("Hibernating",), clusters=("*lapsed*",)).text
        "gone: rfm_segment in ['Hibernating'] and segment like '*lapsed*'"
        """
        parts = []
        if self.rfm_segments:
            parts.append(f"rfm_segment in {_quoted(self.rfm_segments)}")
        if self.value_tiers:
            parts.append(f"value_tier in {_quoted(self.value_tiers)}")
        if self.clusters:
            likes = " or ".join(f"segment like {_quote(p)}" for p in self.clusters)
            parts.append(likes if len(self.clusters) == 1 else f"({likes})")
        if self.when is not None:
            parts.append(self.when.text if not parts else f"({self.when.text})")
        if self.needs_recommendations:
            parts.append("has recommendations")
        return f"{self.name}: {' and '.join(parts) or 'everyone'}"

    def matches_cluster(self, name: str) -> bool:
        """Whether a cluster name matches one of the rule's patterns (case-insensitive)."""
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in self.clusters)


@dataclass(frozen=True)
class Playbook:
    """Actions by name and the rules that give them, in the order they are tried."""

    actions: Mapping[str, Action]
    rules: tuple[Rule, ...]
    source: str

    def ordered_rules(self) -> list[Rule]:
        """The rules by their action's priority, then in file order."""
        order = {id(rule): i for i, rule in enumerate(self.rules)}
        return sorted(self.rules, key=lambda r: (self.actions[r.action].priority, order[id(r)]))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_quote(i) for i in items) + "]"


def load_playbooks(
    path: str | Path | None = None, *, mode: Literal["extend", "replace"] = "extend"
) -> Playbook:
    """The packaged playbook, extended or replaced by a user's file.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file laid out like the packaged ``playbooks.toml``.
    mode : {"extend", "replace"}, default "extend"
        ``extend``: the file's actions and rules replace the packaged ones of the same
        name and add the others; ``replace``: the file stands alone.

    Returns
    -------
    Playbook

    Raises
    ------
    InputError
        A file that is not TOML, or an action or rule that cannot be used, named with the
        file, the rule and the fix.

    Examples
    --------
    >>> book = load_playbooks()
    >>> [r.action for r in book.ordered_rules()][:3]
    ['churn-recall', 'churn-recall', 'churn-recall']
    >>> book.actions["win-back"].discount_pct <= 15
    True
    """
    if mode not in ("extend", "replace"):
        raise InputError(f"Unknown playbooks mode {mode!r}. Expected extend or replace.")
    text = resources.files("valueseg.actions").joinpath(_DEFAULT).read_text("utf-8")
    base = _parse(text, f"the packaged {_DEFAULT}")
    if path is None:
        return _build(base, f"the packaged {_DEFAULT}")
    file = Path(path)
    if not file.is_file():
        raise SourceNotFoundError(
            f"Playbook file {file} not found. Pass a TOML file laid out like the packaged "
            f"{_DEFAULT} (docs/actions.md)."
        )
    own = _parse(file.read_text("utf-8"), str(file))
    if mode == "replace":
        return _build(own, str(file))
    actions = {**base["actions"], **own["actions"]}
    rules = {r["name"]: r for r in base["rules"]}
    rules.update({r["name"]: r for r in own["rules"]})
    return _build({"actions": actions, "rules": list(rules.values())}, f"{_DEFAULT} + {file}")


def _parse(text: str, source: str) -> dict[str, Any]:
    """The raw tables of a playbook file: ``actions`` by name and a list of ``rules``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"Playbook file {source} is not valid TOML: {exc}. Fix that line; the packaged "
            f"{_DEFAULT} shows the layout."
        ) from None
    unknown = sorted(set(data) - {"actions", "rule"})
    if unknown:
        raise InputError(
            f"Playbook file {source} has unknown table {unknown[0]!r}. Expected [actions.NAME] "
            "tables and [[rule]] entries."
        )
    actions, rules = data.get("actions", {}), data.get("rule", [])
    if not isinstance(actions, dict) or not isinstance(rules, list):
        raise InputError(
            f"Playbook file {source}: write actions as [actions.NAME] tables and rules as "
            "[[rule]] entries."
        )
    for name, table in actions.items():
        _check_keys(table, set(_ACTION_KEYS), f"Playbook file {source}: action {name!r}")
    named = []
    for i, rule in enumerate(rules, start=1):
        _check_keys(rule, set(_RULE_KEYS), f"Playbook file {source}: rule {i}")
        if not isinstance(rule.get("name"), str) or not rule["name"].strip():
            raise InputError(f'Playbook file {source}: rule {i} has no name. Add name = "…" to it.')
        named.append(rule)
    return {"actions": actions, "rules": named}


def _check_keys(table: object, allowed: set[str], subject: str) -> None:
    if not isinstance(table, dict):
        raise InputError(f"{subject} must be a table of keys. Got {table!r}.")
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            extra = f" Did you mean {hint!r}?" if hint else ""
            raise InputError(
                f"{subject} has unknown key {key!r}.{extra} Keys: {', '.join(sorted(allowed))}."
            )


def _build(raw: dict[str, Any], source: str) -> Playbook:
    actions = {name: _action(name, table, source) for name, table in raw["actions"].items()}
    rules = tuple(_rule(table, actions, source) for table in raw["rules"])
    if not rules:
        raise InputError(f"Playbook {source} has no [[rule]]; add at least one.")
    return Playbook(actions, rules, source)


def _action(name: str, table: dict[str, Any], source: str) -> Action:
    subject = f"Playbook {source}: action {name!r}"
    missing = [k for k in _ACTION_KEYS if k not in table and k != "discount_pct"]
    if missing:
        raise InputError(f"{subject} lacks {', '.join(missing)}. Add them to [actions.{name}].")
    values: dict[str, Any] = {}
    words = {str: "text", int: "a whole number", float: "a number"}
    for key, kind in _ACTION_KEYS.items():
        value: Any = table.get(key, 0.0)
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            raise InputError(f"{subject}: {key} must be {words[kind]}. Got {value!r}.")
        values[key] = float(value) if kind is float else value
    for key in ("priority", "contact_cap_per_month"):
        if values[key] < 0:
            raise InputError(f"{subject}: {key} must be 0 or more. Got {values[key]}.")
    if not 0 <= values["discount_pct"] <= 100:
        raise InputError(
            f"{subject}: discount_pct must be a per cent in [0, 100]. Got {values['discount_pct']}."
        )
    return Action(name=name, **values)


def _strings(rule: dict[str, Any], key: str, subject: str) -> tuple[str, ...]:
    value = rule.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f'{subject}: {key} must be a list of names, e.g. ["At Risk"].')
    return tuple(value)


def _rule(rule: dict[str, Any], actions: Mapping[str, Action], source: str) -> Rule:
    subject = f"Playbook {source}: rule {rule['name']!r}"
    action = rule.get("action")
    if action not in actions:
        hint = did_you_mean(str(action), actions)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise InputError(
            f"{subject} names action {action!r}, which no [actions.NAME] defines.{extra} "
            f"Actions: {', '.join(sorted(actions))}."
        )
    when = rule.get("when")
    if when is not None and not isinstance(when, str):
        raise InputError(f'{subject}: when must be text, e.g. when = "p_alive < 0.5".')
    needs = rule.get("needs_recommendations", False)
    if not isinstance(needs, bool):
        raise InputError(f"{subject}: needs_recommendations must be true or false.")
    return Rule(
        name=rule["name"],
        action=str(action),
        rfm_segments=_strings(rule, "rfm_segments", subject),
        value_tiers=_strings(rule, "value_tiers", subject),
        clusters=_strings(rule, "clusters", subject),
        when=None if when is None else parse_where(when, SCORE_COLUMNS, name=f"{subject}, when"),
        needs_recommendations=needs,
    )
