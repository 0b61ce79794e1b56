"""The building blocks of compiled read plans: statements with their parameters, selected columns,
graphql-core's field collection, and the shaper of a Relay connection.

See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.language import SelectionNode
from tortoise import fields as tortoise_fields
from tortoise.models import Model

from api.plans.fields import Plain, camel
from api.types.ids import encode_id
from engine import visibility

Row = Any
Shaper = Callable[[Row], Any]
Page = dict[str, Any]


class Unsupported(Exception):
    """The document uses something plans do not compile: the normal executor runs it."""


class StepAside(Exception):
    """At run time: let the normal executor answer this request (it knows the right error)."""


@dataclass(frozen=True)
class Env:
    tenant_id: int
    member_id: int | None
    args: dict[str, Any] = field(default_factory=dict)


# Placeholder values for the parameters every statement shares: bound once per statement.
TENANT = object()
MEMBER = object()


def _constant(value: Any) -> Callable[[Env], Any]:
    return lambda env: value


def _tenant(env: Env) -> int:
    return env.tenant_id


def _member(env: Env) -> int | None:
    return env.member_id


class Sql:
    """A statement's parameters: numbered placeholders ($n, or ?n on SQLite), so a parameter may
    be written anywhere in the text and the tenant and member ids are bound once."""

    def __init__(self, postgres: bool) -> None:
        self.mark = "$" if postgres else "?"
        self.slots: list[Callable[[Env], Any]] = []
        self._shared: dict[Any, str] = {}

    def param(self, value: Any) -> str:
        if value is TENANT or value is MEMBER:
            share: Any = value
        elif callable(value):
            share = None
        else:
            share = (type(value), value)
        if share is not None and share in self._shared:
            return self._shared[share]
        if value is TENANT:
            self.slots.append(_tenant)
        elif value is MEMBER:
            self.slots.append(_member)
        elif callable(value):
            self.slots.append(value)
        else:
            self.slots.append(_constant(value))
        mark = f"{self.mark}{len(self.slots)}"
        if share is not None:
            self._shared[share] = mark
        return mark

    def rule(self, rule: visibility.Rule, model: type[Model], alias: str) -> str:
        return rule.sql(model._meta.db_table, alias, self.param, tenant=TENANT)

    def values(self, env: Env) -> list[Any]:
        return [slot(env) for slot in self.slots]


# Columns whose to_python_value returns what asyncpg and sqlite3 already give (exact types: an
# enum field subclasses CharField and does convert).
_NATIVE = {
    tortoise_fields.IntField,
    tortoise_fields.BigIntField,
    tortoise_fields.SmallIntField,
    tortoise_fields.CharField,
    tortoise_fields.TextField,
}


class Select:
    """The selected expressions; shapers read rows by position. An expression is a column or a
    scalar subquery rendered per statement (its parameters belong to that statement)."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._render: list[Callable[[Sql], str]] = []

    def _index(self, key: str, render: Callable[[Sql], str]) -> int:
        if key not in self._keys:
            self._keys.append(key)
            self._render.append(render)
        return self._keys.index(key)

    def add(self, alias: str, model: type[Model], name: str) -> Callable[[Row], Any]:
        expr = f'"{alias}"."{name}"'
        index = self._index(expr, lambda sql: expr)
        column = model._meta.fields_map[name]
        if type(column) in _NATIVE:
            return itemgetter(index)  # both drivers already return the Python value
        convert = column.to_python_value
        return lambda row: convert(row[index])

    def viewer(self, model: type[Model], name: str, on: str) -> Callable[[Row], Any]:
        """The viewing member's own row of ``model`` for the idea ``on`` points at, as a scalar
        subquery: one index probe per row (a join here lets a generic plan read every row of a
        busy member)."""
        table = model._meta.db_table
        alias = f"v_{table}"

        def render(sql: Sql) -> str:
            return (
                f'(SELECT "{alias}"."{name}" FROM "{table}" "{alias}"'
                f' WHERE "{alias}"."idea_id" = {on} AND "{alias}"."member_id" = {sql.param(MEMBER)}'
                f' AND "{alias}"."tenant_id" = {sql.param(TENANT)})'
            )

        return itemgetter(self._index(self.viewer_key(model, name, on), render))

    @staticmethod
    def viewer_key(model: type[Model], name: str, on: str) -> str:
        return f"viewer:{model._meta.db_table}.{name}:{on}"

    def expressions(self) -> list[str]:
        """The selected expressions' keys, in row order (a mutation plan builds its row from
        them: api/plans/actions.py)."""
        return list(self._keys)

    @staticmethod
    def column_of(key: str, alias: str) -> str | None:
        """The column a key of :meth:`add` names under ``alias``; None for anything else."""
        prefix = f'"{alias}"."'
        if key.startswith(prefix) and key.endswith('"'):
            return key[len(prefix) : -1]
        return None

    def text(self, sql: Sql) -> str:
        return ", ".join(render(sql) for render in self._render)


def still_plain(type_name: str, declared: Mapping[str, Plain]) -> dict[str, Plain]:
    """The declared fields (by GraphQL name) whose Strawberry field still has no resolver of its
    own: a field that gained one (a rule that depends on the viewer, say) stops being compiled."""
    from api.types.comment import Comment as CommentType
    from api.types.idea import Idea as IdeaType
    from api.types.idea import IdeaCounts, OfficialResponse
    from api.types.member import Member as MemberType

    cls = {
        "Idea": IdeaType,
        "IdeaCounts": IdeaCounts,
        "Member": MemberType,
        "Comment": CommentType,
        "OfficialResponse": OfficialResponse,
    }[type_name]
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    plain = {f.python_name for f in definition.fields if f.base_resolver is None}
    return {camel(k): v for k, v in declared.items() if k in plain}


# ---- collecting fields (graphql-core's rules: response keys in first-seen order) --------------

INTERFACES = {"Idea": {"Node"}, "Member": {"Node"}, "Comment": {"Node"}}


def collect(
    nodes: Iterable[FieldNode], type_name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> dict[str, list[FieldNode]]:
    """The sub-fields of ``nodes`` (one response key each, field nodes merged)."""
    out: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()
    for node in nodes:
        if node.selection_set is not None:
            collect_into(node.selection_set.selections, type_name, fragments, out, visited)
    return out


def _applies(condition: Any, type_name: str) -> bool:
    if condition is None:
        return True
    name = condition.name.value
    return bool(name == type_name or name in INTERFACES.get(type_name, ()))


def collect_into(
    selections: Iterable[SelectionNode],
    type_name: str,
    fragments: Mapping[str, FragmentDefinitionNode],
    out: dict[str, list[FieldNode]],
    visited: set[str],
) -> None:
    for selection in selections:
        if selection.directives:
            raise Unsupported("directives")
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            out.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            if _applies(selection.type_condition, type_name):
                collect_into(selection.selection_set.selections, type_name, fragments, out, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in visited:
                continue
            visited.add(name)
            fragment = fragments[name]
            if fragment.directives:
                raise Unsupported("directives")
            if _applies(fragment.type_condition, type_name):
                collect_into(fragment.selection_set.selections, type_name, fragments, out, visited)


def leaves(
    nodes: list[FieldNode],
    type_name: str,
    names: dict[str, Callable[[Any], Any]],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Callable[[Any], dict[str, Any]]:
    """The shaper of an object of plain fields only, each read from the value by ``names``; a
    field not in ``names`` makes the document unsupported."""
    parts: list[tuple[str, Callable[[Any], Any]]] = []
    for key, children in collect(nodes, type_name, fragments).items():
        leaf(children)
        name = children[0].name.value
        if name not in names:
            raise Unsupported(f"{type_name}.{name}")
        parts.append((key, names[name]))
    return lambda value: {key: fn(value) for key, fn in parts}


def leaf(nodes: list[FieldNode]) -> None:
    for node in nodes:
        if node.arguments or node.selection_set is not None:
            raise Unsupported(node.name.value)


def same_arguments(nodes: list[FieldNode]) -> FieldNode:
    if any(n.arguments != nodes[0].arguments for n in nodes[1:]):
        raise Unsupported("differing arguments")
    return nodes[0]


def obj(shapers: list[tuple[str, Shaper]]) -> Shaper:
    def shape(row: Row) -> dict[str, Any]:
        return {key: fn(row) for key, fn in shapers}

    return shape


def const(value: Any) -> Shaper:
    return lambda row: value


def then(read: Shaper, convert: Callable[[Any], Any]) -> Shaper:
    return lambda row: convert(read(row))


def gid(type_name: str) -> Callable[[Any], str]:
    # What encode_id (strawberry's GlobalID) writes, without building a GlobalID per row.
    prefix = f"{type_name}:".encode()
    assert encode_id(type_name, 42) == b64encode(prefix + b"42").decode()
    return lambda pk: b64encode(prefix + str(pk).encode()).decode()


# ---- connections -------------------------------------------------------------------------------


class ConnectionShape:
    """A Relay connection's selection (``edges``, ``cursor``, ``node``, ``pageInfo``,
    ``totalCount``) as a function of a page: ``{"rows", "cursors", "has_next", "has_previous",
    "total"}``. ``node`` compiles the node's selection."""

    def __init__(
        self,
        nodes: list[FieldNode],
        type_name: str,
        fragments: Mapping[str, FragmentDefinitionNode],
        node: Callable[[list[FieldNode]], Shaper],
    ) -> None:
        self.type_name = type_name
        self.fragments = fragments
        self.wants_total = False
        self.wants_cursors = False
        self._node = node
        parts: list[tuple[str, Callable[[Page], Any]]] = []
        for key, children in collect(nodes, f"{type_name}Connection", fragments).items():
            name = children[0].name.value
            if name == "__typename":
                leaf(children)
                parts.append((key, _page_const(f"{type_name}Connection")))
            elif name == "totalCount":
                leaf(children)
                self.wants_total = True
                parts.append((key, itemgetter("total")))
            elif name == "pageInfo":
                parts.append((key, self._page_info(children)))
                self.wants_cursors = True  # start and end cursors
            elif name == "edges":
                parts.append((key, self._edges(children)))
            else:
                raise Unsupported(f"{type_name}Connection.{name}")
        self.shape: Callable[[Page], Any] = lambda page: {key: fn(page) for key, fn in parts}

    def _page_info(self, nodes: list[FieldNode]) -> Callable[[Page], Any]:
        names: dict[str, Callable[[Page], Any]] = {
            "__typename": _page_const("PageInfo"),
            "hasNextPage": itemgetter("has_next"),
            "hasPreviousPage": itemgetter("has_previous"),
            "startCursor": lambda p: p["cursors"][0] if p["cursors"] else None,
            "endCursor": lambda p: p["cursors"][-1] if p["cursors"] else None,
        }
        return leaves(nodes, "PageInfo", names, self.fragments)

    def _edges(self, nodes: list[FieldNode]) -> Callable[[Page], Any]:
        edge = f"{self.type_name}Edge"
        parts: list[tuple[str, Callable[[Row, str], Any]]] = []
        for key, children in collect(nodes, edge, self.fragments).items():
            name = children[0].name.value
            if name == "__typename":
                leaf(children)
                parts.append((key, lambda row, cursor: edge))
            elif name == "cursor":
                leaf(children)
                self.wants_cursors = True
                parts.append((key, lambda row, cursor: cursor))
            elif name == "node":
                shape = self._node(children)
                parts.append((key, lambda row, cursor, shape=shape: shape(row)))  # type: ignore[misc]
            else:
                raise Unsupported(f"{edge}.{name}")

        def edges(page: Page) -> list[dict[str, Any]]:
            return [
                {key: fn(row, cursor) for key, fn in parts}
                for row, cursor in zip(page["rows"], page["cursors"], strict=True)
            ]

        return edges


def _page_const(value: str) -> Callable[[Page], str]:
    return lambda page: value


async def fetch(db: Any, sql: str, values: list[Any]) -> list[Any]:
    _, rows = await db.execute_query(sql, values)
    return list(rows)
