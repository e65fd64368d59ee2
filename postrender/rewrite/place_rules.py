"""The product's rules of place: what a value becomes, by what it is and where it stands.

Each rule is one small function in one of the tables at the end, which the walk (locate.py)
iterates; a new rule is one function, one table entry and one row in
tests/rewrite/place_rules_test.py. Rules read nodes and ask for values through `Scope.places`
(places.py), which settles what shared values and aliases get; the string work is rules.py's.

- a value rule says what a value becomes wherever it stands, `(value, path, scope) -> value`,
  applied in order to each value `Scope.mentions` lets through (those that name the upstream
  host, or the upstream secret when it is renamed); a place rule's request at a place
  overrides it. Image references, a registry host alone, and text that is itself a JSON or
  YAML document (searched with these same rules) are value rules;
- a document rule reads the whole document (its kind and type) before the walk;
- a mapping rule reads a mapping's own and merged keys, called where the mapping holds its
  trigger key or merges anything in, before the walk reads the mapping's values;
- a key rule reads the collection under its key, at each place that collection stands there.
"""

from __future__ import annotations

from collections.abc import Callable

from postrender.rewrite import splice
from postrender.rewrite.compose import Mapping, Scalar, Sequence, embedded
from postrender.rewrite.imageref import NAME_MAX
from postrender.rewrite.places import Place, Places, Refusal, is_a_name, own_value
from postrender.rewrite.rules import DOCKERCONFIG_TYPE, Rules
from postrender.rewrite.yamlpath import Path


class Scope:
    """What the rules of one document share: the string rules, the places, and which values
    could hold the upstream host at all (any letter case, if the document spells it so).
    A plain class: a NamedTuple costs several times as much to define at start-up."""

    __slots__ = ("depth", "mentions", "places", "rules")

    def __init__(
        self, rules: Rules, places: Places, mentions: Callable[[str], bool], depth: int = 0
    ):
        self.rules = rules
        self.places = places
        self.mentions = mentions
        self.depth = depth  # how many text values this document is nested in

    def free(self, node: Scalar, path: Path) -> str:
        """The value wherever no place rule asks otherwise: the value rules applied."""
        value = node.value
        if not self.mentions(value):
            return value
        for rule in VALUE_RULES:
            value = rule(value, path, self)
        return value


# --- value rules --------------------------------------------------------------------------------


def image_references(value: str, path: Path, scope: Scope) -> str:
    """`U/path[:tag][@digest]` → `HARBOR/PROJECT/path…` wherever a reference is embedded."""
    mirror = scope.rules.mirror
    after = mirror.rewrite(value)
    if after != value and mirror.overlong(after):
        raise Refusal(path, mirror.overlong_problem)
    return after


def registry_alone(value: str, path: Path, scope: Scope) -> str:
    """A value that is the upstream host alone → `HARBOR/PROJECT`: operators take the registry
    as a setting of its own (`…_CONTAINERREGISTRY: U`) and put it before every image they make
    at run time. A `registry:` beside a `repository:` gets Harbor's host instead, as the
    split-form rule asks there. A name or label that happens to be the host stays."""
    if is_a_name(path, value):
        return value
    return scope.rules.mirror.registry_alone(value) or value


def documents_in_text(value: str, path: Path, scope: Scope) -> str:
    """Text that is itself JSON or YAML (a sidecar injector's values in a ConfigMap, manifests
    an operator applies, `---` between them) is searched like a stream, every place rule
    applying inside each document (its pull secrets renamed, a registry host alone or beside a
    repository moved), and edited in place. Only text that still names the upstream host or
    secret after the rules above is parsed; nesting stops at TEXT_DEPTH."""
    rules = scope.rules
    if scope.depth >= TEXT_DEPTH or not (
        rules.mirror.upstream in value.lower()
        or (rules.secret is not None and rules.secret.old in value)
    ):
        return value
    from postrender.rewrite.locate import locate  # the walk that calls these rules
    from postrender.rewrite.stream import split_documents

    pieces = []
    for start, end in split_documents(value):
        piece = value[start:end]
        root = embedded(piece)
        if root is not None:
            try:
                found = locate(root, rules, folded=True, depth=scope.depth + 1)
            except Refusal as refusal:
                raise Refusal((*path, *refusal.path), refusal.problem) from None
            piece = splice.findings(piece, found, rules.mirror)
        pieces.append(piece)
    return "".join(pieces)


# --- document rules -----------------------------------------------------------------------------


def dockerconfigjson_auths(root: Mapping, scope: Scope) -> None:
    """A chart-rendered dockerconfigjson Secret: move the upstream's `auths` key to Harbor."""
    if own_value(root, "kind") != "Secret" or own_value(root, "type") != DOCKERCONFIG_TYPE:
        return
    rules = scope.rules
    for section, move in (("data", rules.move_auths_base64), ("stringData", rules.move_auths)):
        position = root.local(section)
        mapping = root.pairs[position][1] if position is not None else None
        if isinstance(mapping, Mapping):
            found = scope.places.lookup(mapping, ".dockerconfigjson", (section,))
            if found is not None:
                scope.places.request(*found, move(found[0].value))


# --- mapping rules ------------------------------------------------------------------------------


def registry_and_repository(node: Mapping, path: Path, scope: Scope) -> None:
    """`registry: U` + `repository: path` → `registry: HARBOR` + `repository: PROJECT/path`."""
    mirror, places = scope.rules.mirror, scope.places
    registry = places.lookup(node, "registry", path)
    if registry is None or registry[0].value.lower() != mirror.upstream:
        return
    repository = places.lookup(node, "repository", path)
    if repository is None or not repository[0].value:
        return
    target = f"{mirror.project}/{repository[0].value}"
    if len(target) > NAME_MAX:
        raise Refusal(repository[1].path, mirror.overlong_problem)
    places.request(*registry, mirror.harbor_host)
    places.request(*repository, target)


def pull_secret_env(node: Mapping, path: Path, scope: Scope) -> None:
    """An env var whose name says it carries pull-secret names (one, or a comma list)."""
    secret = scope.rules.secret
    if secret is None:
        return
    name = scope.places.lookup(node, "name", path)
    if name is None or "PULL_SECRET" not in name[0].value.upper():
        return
    value = scope.places.lookup(node, "value", path)
    if value is not None:  # names renamed, and any image reference in it moved as anywhere
        moved = scope.free(value[0], value[1].path)
        scope.places.request(*value, secret.rename_list(moved))


# --- key rules ----------------------------------------------------------------------------------

_SHARED_SECRETS = (
    "the pull-secret rename would also change this list or entry where an alias uses it "
    "outside imagePullSecrets; write it out there"
)


def image_pull_secrets(node: Sequence | Mapping, path: Path, scope: Scope) -> None:
    """Rename `{name: old}` and bare `old` entries; drop the duplicates that creates."""
    if not isinstance(node, Sequence):
        return
    places, secret = scope.places, scope.rules.secret
    if places.claim(node) > 1 or secret is None:
        return  # a second place of the same list: its entries are already decided
    entries: list[tuple[int, Scalar, Place]] = []
    for index, item in enumerate(node.items):
        item_path = (*path, index)
        if isinstance(item, Scalar):
            place = Place((id(node), index), item_path, node.aliases.get(index), None)
            entries.append((index, item, place))
        elif isinstance(item, Mapping):
            places.claim(item)
            if (found := places.lookup(item, "name", item_path)) is not None:
                entries.append((index, *found))
    if not any(entry.value == secret.old for _, entry, _ in entries):
        return
    places.edit(node, path, _SHARED_SECRETS)
    seen_new = False
    for index, entry, place in entries:
        if entry.value not in (secret.old, secret.new):
            continue
        if seen_new:
            places.drop(node, index, (*path, index), entry.value)
            continue
        seen_new = True
        item = node.items[index]
        if isinstance(item, Mapping):
            places.edit(item, (*path, index), _SHARED_SECRETS)
        places.request(entry, place, secret.new)


# --- the tables the walk iterates ---------------------------------------------------------------

ValueRule = Callable[[str, Path, Scope], str]
DocumentRule = Callable[[Mapping, Scope], None]
MappingRule = Callable[[Mapping, Path, Scope], None]
KeyRule = Callable[[Sequence | Mapping, Path, Scope], None]

VALUE_RULES: tuple[ValueRule, ...] = (image_references, registry_alone, documents_in_text)
TEXT_DEPTH = 3  # JSON in a ConfigMap value, YAML inside that, and one more
DOCUMENT_RULES: tuple[DocumentRule, ...] = (dockerconfigjson_auths,)
MAPPING_RULES: tuple[tuple[str, MappingRule], ...] = (  # (trigger key, rule)
    ("registry", registry_and_repository),
    ("name", pull_secret_env),
)
KEY_RULES: dict[str, KeyRule] = {"imagePullSecrets": image_pull_secrets}
