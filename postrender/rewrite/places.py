"""The places of each scalar, which places share it, and the one answer each place gets.

A value can stand in several places: its definition, each `*alias` of it, and each mapping that
merges it in with `<<`. The place rules (place_rules.py) ask for a value at a place; a value
whose places disagree keeps its definition's answer and each alias that wants another value is
expanded in the text. What cannot be expanded (a `<<` merge, a shared list) is refused. Nothing
here knows images or secrets; turning a change into text is splice.py's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

from postrender.rewrite.compose import Mapping, Node, Scalar, Sequence
from postrender.rewrite.yamlpath import Path

Span = tuple[int, int]
PlaceKey = tuple[int, int | str]  # (id(parent), position), or (id(mapping), "<<key") via a merge


class Change(NamedTuple):
    """Give scalar `node` the value `after` at its definition, or (`alias`) expand that alias.

    `how` tells splice how the source may be edited: "mirror" may rewrite the source text in
    place, "value" writes the value, "expand" writes the value where the alias stood."""

    node: Scalar
    path: Path
    before: str
    after: str
    how: Literal["mirror", "value", "expand"]
    alias: Span | None = None


class Drop(NamedTuple):
    """Remove item `position` of `sequence`: a duplicate pull secret the rename created."""

    sequence: Sequence
    position: int
    path: Path
    before: str


class Leftover(NamedTuple):
    """An upstream mention the rules leave in place (what --strict reports)."""

    path: Path
    value: str


class Findings(NamedTuple):
    """What one document needs: the changes, the removals, and (for --strict) what remains."""

    changes: list[Change]
    drops: list[Drop]
    leftovers: list[Leftover]


class Refusal(Exception):
    """A change that would be right in one place of a shared value and wrong in another."""

    def __init__(self, path: Path, problem: str):
        super().__init__(problem)
        self.path = path
        self.problem = problem


class Place(NamedTuple):
    """One place of a scalar: `alias` is the `*alias` span there; `via` is set for a place a
    `<<` merge lends, and names the place in the text that holds the value."""

    key: PlaceKey
    path: Path
    alias: Span | None
    via: PlaceKey | None


# Keys whose value is a Kubernetes object's name, and maps of label values: a DNS name there is
# a name, never a pull, and `HARBOR/PROJECT`'s slash would make the API server refuse it.
_NAME_KEYS = frozenset({"name", "generateName", "namespace", "serviceAccountName", "secretName",
                        "claimName", "nodeName", "hostname", "subdomain"})
_LABEL_MAPS = frozenset({"labels", "matchLabels"})


def is_a_name(path: Path, value: str) -> bool:
    """Is `value` (no slash: no image) at `path` an object's name or a label's value?"""
    return "/" not in value and bool(path) and (
        path[-1] in _NAME_KEYS or (len(path) > 1 and path[-2] in _LABEL_MAPS))


def own_value(mapping: Mapping, key: str) -> str | None:
    """The scalar value of `key` among the mapping's own pairs (None: absent or not a scalar)."""
    position = mapping.local(key)
    node = mapping.pairs[position][1] if position is not None else None
    return node.value if isinstance(node, Scalar) else None


class Places:
    """Every place of each scalar worth deciding, and what the rules asked for at each."""

    def __init__(self) -> None:
        self.requests: dict[PlaceKey, str] = {}
        self.places: dict[int, list[Place]] = {}  # id(scalar) -> its places, in walk order
        self.known: set[PlaceKey] = set()
        self.scalars: dict[int, Scalar] = {}
        self.dropped: set[PlaceKey] = set()
        self.drops: list[Drop] = []
        self.claims: dict[int, int] = {}  # id(collection) -> the places a rule has claimed
        self.edited: list[tuple[Sequence | Mapping, Path, str]] = []  # with the refusal's text
        self.orders: dict[int, list[Mapping]] = {}

    # --- what the walk and the rules record ----------------------------------------------------

    def note(self, node: Scalar, place: Place) -> None:
        """`place` is one more place of `node` (a place is noted once, the first time)."""
        if place.key in self.known:
            return
        self.known.add(place.key)
        self.scalars[id(node)] = node
        self.places.setdefault(id(node), []).append(place)

    def request(self, node: Scalar, place: Place, after: str) -> None:
        """A rule asks for `after` at this place of `node`, whatever it would be elsewhere."""
        self.requests[place.key] = after
        self.note(node, place)

    def drop(self, sequence: Sequence, position: int, path: Path, before: str) -> None:
        """A rule removes item `position` of `sequence` (refused if an alias still needs it)."""
        self.dropped.add((id(sequence), position))
        self.drops.append(Drop(sequence, position, path, before))

    def claim(self, collection: Sequence | Mapping) -> int:
        """One more place of `collection` where a rule reads it; how many so far."""
        count = self.claims.get(id(collection), 0) + 1
        self.claims[id(collection)] = count
        return count

    def edit(self, collection: Sequence | Mapping, path: Path, problem: str) -> None:
        """A rule edits `collection`: refused with `problem` unless it claimed every place."""
        self.edited.append((collection, path, problem))

    # --- reading a mapping, `<<` merges included ------------------------------------------------

    def merge_order(self, node: Mapping) -> list[Mapping]:
        """`node`, then the mappings it merges in precedence order, each once (no recursion)."""
        order = self.orders.get(id(node))
        if order is not None:
            return order
        order, seen, stack = [], set(), [node]
        while stack:
            mapping = stack.pop()
            if id(mapping) in seen:
                continue
            seen.add(id(mapping))
            order.append(mapping)
            sources: list[Node] = []
            for merged in mapping.merges:
                sources.extend(merged.items if isinstance(merged, Sequence) else [merged])
            stack.extend(reversed([s for s in sources if isinstance(s, Mapping)]))
        self.orders[id(node)] = order
        return order

    def lookup(self, node: Mapping, key: str, path: Path) -> tuple[Scalar, Place] | None:
        """The scalar value of `key` (a local pair, else a merged one) and its place here."""
        position = node.local(key)
        if position is not None:
            value = node.pairs[position][1]
            if not isinstance(value, Scalar):
                return None
            alias = node.aliases.get(position)
            return value, Place((id(node), position), (*path, key), alias, None)
        if not node.merges:
            return None
        for owner in self.merge_order(node)[1:]:
            position = owner.local(key)
            if position is not None:
                value = owner.pairs[position][1]
                if not isinstance(value, Scalar):
                    return None
                via = (id(owner), position)
                return value, Place((id(node), "<<" + key), (*path, key), None, via)
        return None

    def note_merged(self, node: Mapping, path: Path) -> None:
        """Every scalar a `<<` merge lends to `node` is one more place of that scalar."""
        own = {k.value for k, _ in node.pairs if isinstance(k, Scalar)}
        for owner in self.merge_order(node)[1:]:
            for position, (key_node, value) in enumerate(owner.pairs):
                if not isinstance(key_node, Scalar) or key_node.value in own:
                    continue
                own.add(key_node.value)
                if isinstance(value, Scalar):
                    place = Place((id(node), "<<" + key_node.value), (*path, key_node.value),
                                  None, (id(owner), position))
                    self.note(value, place)

    # --- deciding ----------------------------------------------------------------------------

    def decide(
        self, free: Callable[[Scalar, Path], str], remains: Callable[[str], bool] | None
    ) -> Findings:
        """The changes: each place gets what a rule asked there, else `free` (the value wherever
        no rule asks otherwise); with `remains`, the places whose value still mentions U."""
        self._check_edits()
        self._check_drops()
        found = Findings([], self.drops, [])
        for ident, places in self.places.items():
            node = self.scalars[ident]
            if len(places) == 1 and node.refs == 1 and places[0].via is None:
                self._single(node, places[0], free(node, places[0].path), found, remains)
                continue
            # what the value rules make of it can differ by place: a name stays a name
            frees = {place.key: free(node, place.path) for place in places}
            wants: dict[PlaceKey, str] = {
                place.key: self.requests.get(place.key, frees[place.key])
                for place in places
                if place.via is None and place.key not in self.dropped
            }
            for place in places:
                if place.via is not None and place.via not in self.dropped:
                    held = wants.get(place.via, self.requests.get(place.via, frees[place.key]))
                    if self.requests.get(place.key, frees[place.key]) != held:
                        raise Refusal(place.path, "a value merged in with `<<` would need one "
                                      "value here and another where it is defined; write the "
                                      "key out in this mapping")
            self._shared(node, places, wants, found, remains)
        return found

    def _check_edits(self) -> None:
        """An edited list or entry must be claimed by the rule in every place it has."""
        for node, path, problem in self.edited:
            if self.claims.get(id(node), 0) != node.refs:
                raise Refusal(path, problem)

    def _check_drops(self) -> None:
        """Removing an anchored entry is only safe if every alias of it goes too."""
        removed: dict[int, int] = {}
        for drop in self.drops:
            item = drop.sequence.items[drop.position]
            removed[id(item)] = removed.get(id(item), 0) + 1
        for drop in self.drops:
            item = drop.sequence.items[drop.position]
            if drop.position not in drop.sequence.aliases and item.refs > removed[id(item)]:
                raise Refusal(drop.path, f"removing this duplicate pull secret would leave "
                              f"its alias *{item.anchor} undefined")

    def _single(
        self,
        node: Scalar,
        place: Place,
        free: str,
        found: Findings,
        remains: Callable[[str], bool] | None,
    ) -> None:
        """The common case: a value with one place."""
        if place.key in self.dropped:
            return
        requested = self.requests.get(place.key)
        after = free if requested is None else requested
        if after != node.value:
            how: Literal["mirror", "value"] = "mirror" if requested is None else "value"
            found.changes.append(Change(node, place.path, node.value, after, how))
        if remains is not None and remains(after) and not is_a_name(place.path, after):
            found.leftovers.append(Leftover(place.path, after))

    def _shared(
        self,
        node: Scalar,
        places: list[Place],
        wants: dict[PlaceKey, str],
        found: Findings,
        remains: Callable[[str], bool] | None,
    ) -> None:
        """A value with several places: the definition holds one answer, aliases expand."""
        textual = [place for place in places if place.via is None]
        in_keys = node.refs - len(textual)  # places in mapping keys, which are never rewritten
        definition = next((place for place in textual if place.alias is None), None)
        if definition is None:
            if not in_keys:
                return  # removed, with every alias of it (_check_drops)
            held = node.value  # anchored on a key: each alias that wants more is expanded
        elif definition.key not in wants:
            return  # removed, with every alias of it (_check_drops)
        else:
            held = wants[definition.key]
            if held != node.value:
                if in_keys:
                    raise Refusal(definition.path, "changing this value would also change the "
                                  f"mapping key its alias *{node.anchor} stands for; write the "
                                  "key out")
                how: Literal["mirror", "value"] = (
                    "value" if definition.key in self.requests else "mirror"
                )
                found.changes.append(Change(node, definition.path, node.value, held, how))
        for place in textual:
            if place.alias is not None and place.key in wants and wants[place.key] != held:
                want = wants[place.key]
                expand = Change(node, place.path, node.value, want, "expand", place.alias)
                found.changes.append(expand)
        if remains is not None:
            for place in textual:
                value = wants.get(place.key)
                if value is not None and remains(value) and not is_a_name(place.path, value):
                    found.leftovers.append(Leftover(place.path, value))
                    return
