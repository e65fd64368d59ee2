"""Find what to change in one composed document: a walk that visits each node once.

A value can stand in several places: its definition, each `*alias` of it, and each mapping that
merges it in with `<<`. Most rules are the same everywhere (an image reference is rewritten
wherever it stands), but some depend on the place (a `repository` next to the upstream
`registry`, a name inside `imagePullSecrets`). The walk records what each place wants; a value
whose places disagree keeps its definition's answer and each alias that wants another value is
expanded in the text. What cannot be expanded (a `<<` merge, a shared list) is refused.
Turning a change into text is splice.py's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

from postrender.rewrite.compose import Mapping, Node, Scalar, Sequence
from postrender.rewrite.imageref import NAME_MAX
from postrender.rewrite.rules import DOCKERCONFIG_TYPE, Rules
from postrender.rewrite.yamlpath import Path

Span = tuple[int, int]
SlotKey = tuple[int, int | str]  # (id(parent), position), or (id(mapping), "<<key") via a merge


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


class Identity(NamedTuple):
    """What selects a document as a patch target: apiVersion, kind, name, namespace."""

    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None


def _value(mapping: Mapping, key: str) -> str | None:
    position = mapping.local(key)
    node = mapping.pairs[position][1] if position is not None else None
    return node.value if isinstance(node, Scalar) else None


def identity(root: Node | None) -> Identity:
    """The document's apiVersion, kind, metadata.name and metadata.namespace, where present."""
    if not isinstance(root, Mapping):
        return Identity(None, None, None, None)
    position = root.local("metadata")
    metadata = root.pairs[position][1] if position is not None else None
    name = namespace = None
    if isinstance(metadata, Mapping):
        name, namespace = _value(metadata, "name"), _value(metadata, "namespace")
    return Identity(_value(root, "apiVersion"), _value(root, "kind"), name, namespace)


class _Slot(NamedTuple):
    """One place of a scalar: `alias` is the `*alias` span there; `via` is set for a place a
    `<<` merge lends, and names the place in the text that holds the value."""

    key: SlotKey
    path: Path
    alias: Span | None
    via: SlotKey | None


class _Walk:
    def __init__(self, rules: Rules, strict: bool, mentions: Callable[[str], bool]):
        self.rules = rules
        self.strict = strict
        self.mentions = mentions  # could the value hold the upstream host at all
        self.requests: dict[SlotKey, str] = {}
        self.slots: dict[int, list[_Slot]] = {}
        self.slot_keys: set[SlotKey] = set()
        self.scalars: dict[int, Scalar] = {}
        self.dropped: set[SlotKey] = set()
        self.drops: list[Drop] = []
        self.secret_lists: dict[int, int] = {}  # id(list) -> its places under imagePullSecrets
        self.secret_entries: dict[int, int] = {}  # id(entry) -> its places in those lists
        self.renamed: list[tuple[Sequence | Mapping, Path]] = []  # what the rename edits
        self.orders: dict[int, list[Mapping]] = {}

    # --- places and requests ------------------------------------------------------------------

    def add_slot(self, node: Scalar, slot: _Slot) -> None:
        if slot.key in self.slot_keys:
            return
        self.slot_keys.add(slot.key)
        self.scalars[id(node)] = node
        self.slots.setdefault(id(node), []).append(slot)

    def request(self, node: Scalar, slot: _Slot, after: str) -> None:
        self.requests[slot.key] = after
        self.add_slot(node, slot)

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

    def lookup(self, node: Mapping, key: str, path: Path) -> tuple[Scalar, _Slot] | None:
        """The scalar value of `key` (a local pair, else a merged one) and its place here."""
        position = node.local(key)
        if position is not None:
            value = node.pairs[position][1]
            if not isinstance(value, Scalar):
                return None
            alias = node.aliases.get(position)
            return value, _Slot((id(node), position), (*path, key), alias, None)
        if not node.merges:
            return None
        for owner in self.merge_order(node)[1:]:
            position = owner.local(key)
            if position is not None:
                value = owner.pairs[position][1]
                if not isinstance(value, Scalar):
                    return None
                via = (id(owner), position)
                return value, _Slot((id(node), "<<" + key), (*path, key), None, via)
        return None

    # --- the walk -----------------------------------------------------------------------------

    def run(self, root: Node) -> None:
        if isinstance(root, Scalar):
            self.add_slot(root, _Slot((0, 0), (), None, None))
            return
        mentions = self.mentions
        seen = {id(root)}
        stack: list[tuple[Sequence | Mapping, Path]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            pending: list[tuple[Sequence | Mapping, Path]] = []
            steps: range | list[str | int]
            if isinstance(node, Sequence):
                steps, children = range(len(node.items)), node.items
            else:
                self.mapping_rules(node, path)
                steps = [key.value if isinstance(key, Scalar) else "?" for key, _ in node.pairs]
                children = [value for _, value in node.pairs]
            for position, child in enumerate(children):
                if isinstance(child, Scalar):
                    if child.refs > 1 or mentions(child.value):
                        slot = _Slot((id(node), position), (*path, steps[position]),
                                     node.aliases.get(position), None)
                        self.add_slot(child, slot)
                    continue
                step = steps[position]
                if step == "imagePullSecrets" and isinstance(child, Sequence):
                    self.image_pull_secrets(child, (*path, step))
                if id(child) not in seen:
                    seen.add(id(child))
                    pending.append((child, (*path, step)))
            stack.extend(reversed(pending))

    def mapping_rules(self, node: Mapping, path: Path) -> None:
        """The rules that read a mapping's own keys (merged ones included)."""
        if node.merges:
            self.merged_places(node, path)
        if node.local("registry") is not None or node.merges:
            self.split_form(node, path)
        if self.rules.secret is not None and (node.local("name") is not None or node.merges):
            self.pull_secret_env(node, path)

    def merged_places(self, node: Mapping, path: Path) -> None:
        """Every scalar a `<<` merge lends to `node` is one more place of that scalar."""
        own = {k.value for k, _ in node.pairs if isinstance(k, Scalar)}
        for owner in self.merge_order(node)[1:]:
            for position, (key_node, value) in enumerate(owner.pairs):
                if not isinstance(key_node, Scalar) or key_node.value in own:
                    continue
                own.add(key_node.value)
                if isinstance(value, Scalar):
                    slot = _Slot((id(node), "<<" + key_node.value), (*path, key_node.value),
                                 None, (id(owner), position))
                    self.add_slot(value, slot)

    def split_form(self, node: Mapping, path: Path) -> None:
        """`registry: U` + `repository: path` → `registry: HARBOR` + `repository: PROJECT/path`."""
        mirror = self.rules.mirror
        registry = self.lookup(node, "registry", path)
        if registry is None or registry[0].value.lower() != mirror.upstream:
            return
        repository = self.lookup(node, "repository", path)
        if repository is None or not repository[0].value:
            return
        target = f"{mirror.project}/{repository[0].value}"
        if len(target) > NAME_MAX:
            raise Refusal(repository[1].path, mirror.overlong_problem)
        self.request(*registry, mirror.harbor_host)
        self.request(*repository, target)

    def pull_secret_env(self, node: Mapping, path: Path) -> None:
        """An env var whose name says it carries pull-secret names (one, or a comma list)."""
        name = self.lookup(node, "name", path)
        if name is None or "PULL_SECRET" not in name[0].value.upper():
            return
        value = self.lookup(node, "value", path)
        if value is not None:  # names renamed, and any image reference in it moved as anywhere
            assert self.rules.secret is not None
            moved = self.free(value[0], value[1].path)
            self.request(*value, self.rules.secret.rename_list(moved))

    def image_pull_secrets(self, sequence: Sequence, path: Path) -> None:
        """Rename `{name: old}` and bare `old` entries; drop the duplicates that creates."""
        self.secret_lists[id(sequence)] = self.secret_lists.get(id(sequence), 0) + 1
        secret = self.rules.secret
        if secret is None or self.secret_lists[id(sequence)] > 1:
            return  # a second place of the same list: its entries are already decided
        entries: list[tuple[int, Scalar, _Slot]] = []
        for index, item in enumerate(sequence.items):
            item_path = (*path, index)
            if isinstance(item, Scalar):
                slot = _Slot((id(sequence), index), item_path, sequence.aliases.get(index), None)
                entries.append((index, item, slot))
            elif isinstance(item, Mapping):
                self.secret_entries[id(item)] = self.secret_entries.get(id(item), 0) + 1
                if (found := self.lookup(item, "name", item_path)) is not None:
                    entries.append((index, *found))
        if not any(node.value == secret.old for _, node, _ in entries):
            return
        self.renamed.append((sequence, path))
        seen_new = False
        for index, node, slot in entries:
            if node.value not in (secret.old, secret.new):
                continue
            if seen_new:
                self.dropped.add((id(sequence), index))
                self.drops.append(Drop(sequence, index, (*path, index), node.value))
                continue
            seen_new = True
            item = sequence.items[index]
            if isinstance(item, Mapping):
                self.renamed.append((item, (*path, index)))
            self.request(node, slot, secret.new)

    def docker_config(self, root: Mapping) -> None:
        """A chart-rendered dockerconfigjson Secret: move the upstream's `auths` key to Harbor."""
        if _value(root, "kind") != "Secret" or _value(root, "type") != DOCKERCONFIG_TYPE:
            return
        for section, move in (
            ("data", self.rules.move_auths_base64),
            ("stringData", self.rules.move_auths),
        ):
            position = root.local(section)
            mapping = root.pairs[position][1] if position is not None else None
            if isinstance(mapping, Mapping):
                found = self.lookup(mapping, ".dockerconfigjson", (section,))
                if found is not None:
                    self.request(*found, move(found[0].value))

    # --- deciding ----------------------------------------------------------------------------

    def check_shared_lists(self) -> None:
        """A renamed list or entry must be a pull-secret list or entry in every place it has."""
        for node, path in self.renamed:
            places = (self.secret_lists if isinstance(node, Sequence) else self.secret_entries)
            if places.get(id(node), 0) != node.refs:
                raise Refusal(path, "the pull-secret rename would also change this list or "
                              "entry where an alias uses it outside imagePullSecrets; write it "
                              "out there")

    def check_drops(self) -> None:
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

    def free(self, node: Scalar, path: Path) -> str:
        """The value wherever no rule of the place asks otherwise: image references moved."""
        if not self.mentions(node.value):
            return node.value
        mirror = self.rules.mirror
        after = mirror.rewrite(node.value)
        if after != node.value and mirror.overlong(after):
            raise Refusal(path, mirror.overlong_problem)
        return after

    def decide(self) -> Findings:
        self.check_shared_lists()
        self.check_drops()
        found = Findings([], self.drops, [])
        for ident, slots in self.slots.items():
            node = self.scalars[ident]
            free = self.free(node, slots[0].path)
            if len(slots) == 1 and node.refs == 1 and slots[0].via is None:
                self.place_single(node, slots[0], free, found)
                continue
            wants: dict[SlotKey, str] = {
                slot.key: self.requests.get(slot.key, free)
                for slot in slots
                if slot.via is None and slot.key not in self.dropped
            }
            for slot in slots:
                if slot.via is not None and slot.via not in self.dropped:
                    held = wants.get(slot.via, self.requests.get(slot.via, free))
                    if self.requests.get(slot.key, free) != held:
                        raise Refusal(slot.path, "a value merged in with `<<` would need one "
                                      "value here and another where it is defined; write the "
                                      "key out in this mapping")
            self.place_changes(node, slots, wants, found)
        return found

    def place_single(self, node: Scalar, slot: _Slot, free: str, found: Findings) -> None:
        """The common case: a value with one place."""
        if slot.key in self.dropped:
            return
        requested = self.requests.get(slot.key)
        after = free if requested is None else requested
        if after != node.value:
            how: Literal["mirror", "value"] = "mirror" if requested is None else "value"
            found.changes.append(Change(node, slot.path, node.value, after, how))
        if self.strict and self.mentions(after) and self.rules.mirror.mentions(after):
            found.leftovers.append(Leftover(slot.path, after))

    def place_changes(
        self, node: Scalar, slots: list[_Slot], wants: dict[SlotKey, str], found: Findings
    ) -> None:
        textual = [slot for slot in slots if slot.via is None]
        in_keys = node.refs - len(textual)  # places in mapping keys, which are never rewritten
        definition = next((slot for slot in textual if slot.alias is None), None)
        if definition is None:
            if not in_keys:
                return  # removed, with every alias of it (check_drops)
            held = node.value  # anchored on a key: each alias that wants more is expanded
        elif definition.key not in wants:
            return  # removed, with every alias of it (check_drops)
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
        for slot in textual:
            if slot.alias is not None and slot.key in wants and wants[slot.key] != held:
                want = wants[slot.key]
                expand = Change(node, slot.path, node.value, want, "expand", slot.alias)
                found.changes.append(expand)
        if self.strict:
            for slot in textual:
                value = wants.get(slot.key)
                if value is not None and self.mentions(value) and self.rules.mirror.mentions(value):
                    found.leftovers.append(Leftover(slot.path, value))
                    return


def locate(
    root: Node | None, rules: Rules, *, strict: bool = False, folded: bool = False
) -> Findings:
    """Everything to change in one document (and, with `strict`, what would still mention U).

    `folded`: the document may spell the upstream host in another case, so look for it in
    every case (host names are case-insensitive)."""
    upstream = rules.mirror.upstream
    mentions = (lambda v: upstream in v.lower()) if folded else (lambda v: upstream in v)
    walk = _Walk(rules, strict, mentions)
    if root is None:
        return Findings([], [], [])
    if isinstance(root, Mapping):
        walk.docker_config(root)
    walk.run(root)
    return walk.decide()
