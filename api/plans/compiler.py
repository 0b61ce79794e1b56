"""Compiling a validated read document into a plan: one SQL statement per root field (plus one
COUNT when ``totalCount`` is asked for) and closures that shape the JSON response directly.

Supported: root ``ideas`` (without ``search``, ``awaitingResponse``, ``flagged``, ``hidden``
or ``merged``) and ``idea(id)``, with the idea's plain fields
(api/plans/fields.py), ``id``, ``counts``, ``hidden``, ``author`` (id and plain fields), the
viewer's vote, score and pledge, connection edges, cursors, page info and ``totalCount``,
aliases, fragments and ``__typename``. Anything else raises :class:`Unsupported` at compile
time, and anything unusual at run time (a bad id, cursor or page size, a database error) makes
the plan step aside, so the normal executor answers with its own errors, codes and paths.
Every statement carries the tenant predicate and the model's visibility rule
(engine/visibility.py). See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import SelectionNode
from tortoise import fields as tortoise_fields
from tortoise.models import Model

from api.plans import fields as decl
from api.types.ids import decode_id, encode_id
from engine import score_visibility, visibility
from engine.errors import DomainError, NotFound
from engine.models import Campaign, Idea, Member, Pledge, Score, Vote
from engine.pagination import decode_cursor, encode_cursor, page_size
from engine.ranking import ORDER_COLUMN, IdeaOrder
from engine.votes import VoteValue

Row = Any
Shaper = Callable[[Row], Any]


class Unsupported(Exception):
    """The document uses something plans do not compile: the normal executor runs it."""


class StepAside(Exception):
    """At run time: let the normal executor answer this request (it knows the right error)."""


@dataclass(frozen=True)
class Env:
    tenant_id: int
    member_id: int | None
    args: dict[str, Any] = field(default_factory=dict)


_TENANT = object()  # placeholder value for the tenant id in rule SQL


def _constant(value: Any) -> Callable[[Env], Any]:
    return lambda env: value


def _then(read: Shaper, convert: Callable[[Any], Any]) -> Shaper:
    return lambda row: convert(read(row))


def _gid(type_name: str) -> Callable[[Any], str]:
    # What encode_id (strawberry's GlobalID) writes, without building a GlobalID per row.
    prefix = f"{type_name}:".encode()
    assert encode_id(type_name, 42) == b64encode(prefix + b"42").decode()
    return lambda pk: b64encode(prefix + str(pk).encode()).decode()


_VOTE_NAMES = {v.value: v.name for v in VoteValue}


def _vote_name(value: Any) -> str:
    return _VOTE_NAMES[int(value or 0)]


def _score(value: Any) -> int | None:
    return int(value or 0) or None


def _quantity(value: Any) -> int:
    return int(value or 0)


class Sql:
    """A statement's text and the sources of its parameters, in placeholder order."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.slots: list[Callable[[Env], Any]] = []

    def param(self, value: Any) -> str:
        if value is _TENANT:
            self.slots.append(lambda env: env.tenant_id)
        elif callable(value):
            self.slots.append(value)
        else:
            self.slots.append(_constant(value))
        return f"${len(self.slots)}" if self.postgres else "?"

    def rule(self, rule: visibility.Rule, model: type[Model], alias: str) -> str:
        return rule.sql(model._meta.db_table, alias, self.param, tenant=_TENANT)

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
    """The selected columns; shapers read rows by position."""

    def __init__(self) -> None:
        self.columns: list[str] = []

    def add(self, alias: str, model: type[Model], name: str) -> Callable[[Row], Any]:
        expr = f'"{alias}"."{name}"'
        if expr not in self.columns:
            self.columns.append(expr)
        index = self.columns.index(expr)
        column = model._meta.fields_map[name]
        if type(column) in _NATIVE:
            return itemgetter(index)  # both drivers already return the Python value
        convert = column.to_python_value
        return lambda row: convert(row[index])


# ---- collecting fields (graphql-core's rules: response keys in first-seen order) --------------

INTERFACES = {"Idea": {"Node"}, "Member": {"Node"}}


def collect(
    nodes: Iterable[FieldNode], type_name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> dict[str, list[FieldNode]]:
    """The sub-fields of ``nodes`` (one response key each, field nodes merged)."""
    out: dict[str, list[FieldNode]] = {}
    visited: set[str] = set()
    for node in nodes:
        if node.selection_set is not None:
            _collect(node.selection_set.selections, type_name, fragments, out, visited)
    return out


def _applies(condition: Any, type_name: str) -> bool:
    if condition is None:
        return True
    name = condition.name.value
    return bool(name == type_name or name in INTERFACES.get(type_name, ()))


def _collect(
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
                _collect(selection.selection_set.selections, type_name, fragments, out, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in visited:
                continue
            visited.add(name)
            fragment = fragments[name]
            if fragment.directives:
                raise Unsupported("directives")
            if _applies(fragment.type_condition, type_name):
                _collect(fragment.selection_set.selections, type_name, fragments, out, visited)


def _leaf(nodes: list[FieldNode]) -> None:
    for node in nodes:
        if node.arguments or node.selection_set is not None:
            raise Unsupported(node.name.value)


def _object(shapers: list[tuple[str, Shaper]]) -> Shaper:
    def shape(row: Row) -> dict[str, Any]:
        return {key: fn(row) for key, fn in shapers}

    return shape


def _const(value: Any) -> Shaper:
    return lambda row: value


# ---- the idea and its author -------------------------------------------------------------------


@dataclass
class Joins:
    """Which joins an idea statement needs (found while compiling its selection)."""

    author: bool = False
    vote: bool = False
    score: bool = False
    pledge: bool = False
    campaign: bool = False


def _still_plain(type_name: str, declared: Mapping[str, decl.Plain]) -> dict[str, decl.Plain]:
    """The declared fields (by GraphQL name) whose Strawberry field still has no resolver of its
    own: a field that gained one (a rule that depends on the viewer, say) stops being compiled."""
    from api.types.idea import Idea as IdeaType
    from api.types.idea import IdeaCounts
    from api.types.member import Member as MemberType

    cls = {"Idea": IdeaType, "IdeaCounts": IdeaCounts, "Member": MemberType}[type_name]
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    plain = {f.python_name for f in definition.fields if f.base_resolver is None}
    return {decl.camel(k): v for k, v in declared.items() if k in plain}


class Compiler:
    def __init__(
        self,
        fragments: Mapping[str, FragmentDefinitionNode],
        audience: visibility.Audience,
    ) -> None:
        self.fragments = fragments
        self.audience = audience

    def plain(self, spec: decl.Plain, alias: str, model: type[Model], select: Select) -> Shaper:
        readers = [select.add(alias, model, c) for c in spec.columns]
        compute, serialize = spec.compute, spec.serialize
        if len(readers) == 1 and compute is decl.same:
            (read,) = readers
            return read if serialize is decl.same else _then(read, serialize)
        return lambda row: serialize(compute(*(read(row) for read in readers)))

    def member(self, nodes: list[FieldNode], select: Select) -> Shaper:
        by_camel = _still_plain("Member", decl.MEMBER)
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, "Member", self.fragments).items():
            name = children[0].name.value
            _leaf(children)
            if name == "__typename":
                shapers.append((key, _const("Member")))
            elif name == "id":
                read = select.add("a", Member, "id")
                shapers.append((key, _then(read, _gid("Member"))))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], "a", Member, select)))
            else:
                raise Unsupported(f"Member.{name}")  # private fields depend on the row
        return _object(shapers)

    def counts(self, nodes: list[FieldNode], select: Select, joins: Joins) -> Shaper:
        by_camel = _still_plain("IdeaCounts", decl.IDEA_COUNTS)
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, "IdeaCounts", self.fragments).items():
            name = children[0].name.value
            _leaf(children)
            if name == "__typename":
                shapers.append((key, _const("IdeaCounts")))
            elif name == "averageScore":
                shapers.append((key, self.average_score(select, joins)))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], "i", Idea, select)))
            else:
                raise Unsupported(f"IdeaCounts.{name}")
        return _object(shapers)

    def average_score(self, select: Select, joins: Joins) -> Shaper:
        """The contest rule of IdeaCounts.averageScore (engine.score_visibility) in SQL columns:
        the brand reads it; others once the campaign closed or after scoring the idea."""
        total = select.add("i", Idea, "score_sum")
        count = select.add("i", Idea, "score_count")

        def average(row: Row) -> float | None:
            n = count(row)
            return round(total(row) / n, 4) if n else None

        if visibility.sees_brand_fields(self.audience):
            return average
        joins.campaign = True
        status = select.add("c", Campaign, "status")
        closes = select.add("c", Campaign, "closes_at")
        scored: Shaper = _const(None)
        if self.audience.member_id is not None:
            joins.score = True
            scored = select.add("vs", Score, "value")

        def shown(row: Row) -> float | None:
            value = average(row)
            if value is None or scored(row):
                return value
            return value if score_visibility.closed(status(row), closes(row)) else None

        return shown

    def idea(self, nodes: list[FieldNode], select: Select, joins: Joins) -> Shaper:
        by_camel = _still_plain("Idea", decl.IDEA)
        member = self.audience.member_id is not None
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, "Idea", self.fragments).items():
            name = children[0].name.value
            if name == "author":
                if any(c.arguments for c in children):
                    raise Unsupported("author")
                joins.author = True
                shapers.append((key, self.member(children, select)))
                continue
            if name == "counts":
                shapers.append((key, self.counts(children, select, joins)))
                continue
            _leaf(children)
            if name == "__typename":
                shapers.append((key, _const("Idea")))
            elif name == "id":
                read = select.add("i", Idea, "id")
                shapers.append((key, _then(read, _gid("Idea"))))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], "i", Idea, select)))
            elif name == "hidden":
                if visibility.sees_brand_fields(self.audience):
                    shapers.append((key, self.plain(decl.column("hidden"), "i", Idea, select)))
                else:
                    shapers.append((key, _const(None)))
            elif name == "viewerVote":
                if not member:
                    shapers.append((key, _const(VoteValue.NONE.name)))
                else:
                    joins.vote = True
                    read = select.add("vv", Vote, "value")
                    shapers.append((key, _then(read, _vote_name)))
            elif name == "viewerScore":
                if not member:
                    shapers.append((key, _const(None)))
                else:
                    joins.score = True
                    read = select.add("vs", Score, "value")
                    shapers.append((key, _then(read, _score)))
            elif name == "viewerPledge":
                if not member:
                    shapers.append((key, _const(0)))
                else:
                    joins.pledge = True
                    read = select.add("vp", Pledge, "quantity")
                    shapers.append((key, _then(read, _quantity)))
            else:
                raise Unsupported(f"Idea.{name}")
        return _object(shapers)

    def from_clause(self, sql: Sql, joins: Joins) -> str:
        """FROM idea and the joins the selection needs, each with its tenant and rule."""
        text = '"idea" "i"'
        if joins.author:
            rule = sql.rule(visibility.member_rule(self.audience), Member, "a")
            text += f' LEFT JOIN "member" "a" ON "a"."id" = "i"."author_id" AND {rule}'
        if joins.campaign:
            text += (
                ' LEFT JOIN "campaign" "c" ON "c"."id" = "i"."campaign_id"'
                f' AND "c"."tenant_id" = {sql.param(_TENANT)}'
            )
        for needed, model, alias in (
            (joins.vote, Vote, "vv"),
            (joins.score, Score, "vs"),
            (joins.pledge, Pledge, "vp"),
        ):
            if needed:
                table = model._meta.db_table
                member = sql.param(lambda env: env.member_id)
                text += (
                    f' LEFT JOIN "{table}" "{alias}" ON "{alias}"."idea_id" = "i"."id"'
                    f' AND "{alias}"."member_id" = {member}'
                    f' AND "{alias}"."tenant_id" = {sql.param(_TENANT)}'
                )
        return text


# ---- root fields -------------------------------------------------------------------------------


def _node(shape: Shaper) -> Callable[[Row, str], Any]:
    return lambda row, cursor: shape(row)


class Root:
    key: str

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        raise NotImplementedError


def _arguments(schema: GraphQLSchema, name: str, node: FieldNode, variables: VariableValues) -> Any:
    query_type = schema.query_type
    assert query_type is not None
    try:
        return get_argument_values(query_type.fields[name], node, variables)
    except GraphQLError as exc:
        raise StepAside(str(exc)) from exc


async def _fetch(db: Any, sql: str, values: list[Any]) -> list[Any]:
    _, rows = await db.execute_query(sql, values)
    return list(rows)


class IdeaRoot(Root):
    """``idea(id)``: the idea rule (the brand sees hidden ideas; merged ones stay readable)."""

    def __init__(
        self, key: str, nodes: list[FieldNode], compiler: Compiler, schema: Any, postgres: bool
    ) -> None:
        self.key, self.node, self.schema = key, nodes[0], schema
        if any(n.arguments != nodes[0].arguments for n in nodes[1:]):
            raise Unsupported("differing arguments")
        select, joins = Select(), Joins()
        select.add("i", Idea, "id")  # a selection of constants alone still needs a column
        self.shape = compiler.idea(nodes, select, joins)
        sql = Sql(postgres)
        from_clause = compiler.from_clause(sql, joins)
        where = sql.rule(visibility.idea_rule(compiler.audience), Idea, "i")
        pk = sql.param(lambda env: env.args["pk"])
        self.sql = sql
        self.text = f'SELECT {", ".join(select.columns)} FROM {from_clause} WHERE {where} AND "i"."id" = {pk}'

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        args = _arguments(self.schema, "idea", self.node, variables)
        try:
            pk = decode_id(args["id"], "Idea", "id")
        except NotFound:
            return None  # as Query.idea answers a malformed or foreign id
        run_env = Env(env.tenant_id, env.member_id, {"pk": pk})
        rows = await _fetch(db, self.text, self.sql.values(run_env))
        return self.shape(rows[0]) if rows else None


@dataclass
class _Shape:
    sql: Sql
    text: str


class IdeasRoot(Root):
    """``ideas(...)``: the listing rule, keyset pages as engine/idea_list.py pages them."""

    def __init__(
        self, key: str, nodes: list[FieldNode], compiler: Compiler, schema: Any, postgres: bool
    ) -> None:
        self.key, self.node, self.schema, self.postgres = key, nodes[0], schema, postgres
        self.compiler = compiler
        if any(n.arguments != nodes[0].arguments for n in nodes[1:]):
            raise Unsupported("differing arguments")
        self.select, self.joins = Select(), Joins()
        self.cursor_readers: dict[str, Callable[[Row], Any]] = {}
        self.id_reader = self.select.add("i", Idea, "id")
        self.wants_total = False
        self.wants_cursors = False
        self.connection = self._connection(nodes)
        if self.wants_cursors:
            for column in sorted(set(ORDER_COLUMN.values())):
                self.cursor_readers[column] = self.select.add("i", Idea, column)
        self.shapes: dict[tuple[Any, ...], _Shape] = {}
        self.count_shapes: dict[tuple[Any, ...], _Shape] = {}

    # compile time

    def _connection(self, nodes: list[FieldNode]) -> Callable[[dict[str, Any]], Any]:
        parts: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
        for key, children in collect(nodes, "IdeaConnection", self.compiler.fragments).items():
            name = children[0].name.value
            if name == "__typename":
                _leaf(children)
                parts.append((key, lambda page: "IdeaConnection"))
            elif name == "totalCount":
                _leaf(children)
                self.wants_total = True
                parts.append((key, lambda page: page["total"]))
            elif name == "pageInfo":
                parts.append((key, self._page_info(children)))
                self.wants_cursors = True  # start and end cursors
            elif name == "edges":
                parts.append((key, self._edges(children)))
            else:
                raise Unsupported(f"IdeaConnection.{name}")
        return lambda page: {key: fn(page) for key, fn in parts}

    def _page_info(self, nodes: list[FieldNode]) -> Callable[[dict[str, Any]], Any]:
        names: dict[str, Callable[[dict[str, Any]], Any]] = {
            "__typename": lambda p: "PageInfo",
            "hasNextPage": lambda p: p["has_next"],
            "hasPreviousPage": lambda p: p["has_previous"],
            "startCursor": lambda p: p["cursors"][0] if p["cursors"] else None,
            "endCursor": lambda p: p["cursors"][-1] if p["cursors"] else None,
        }
        parts: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
        for key, children in collect(nodes, "PageInfo", self.compiler.fragments).items():
            _leaf(children)
            name = children[0].name.value
            if name not in names:
                raise Unsupported(f"PageInfo.{name}")
            parts.append((key, names[name]))
        return lambda page: {key: fn(page) for key, fn in parts}

    def _edges(self, nodes: list[FieldNode]) -> Callable[[dict[str, Any]], Any]:
        parts: list[tuple[str, Callable[[Row, str], Any]]] = []
        for key, children in collect(nodes, "IdeaEdge", self.compiler.fragments).items():
            name = children[0].name.value
            if name == "__typename":
                _leaf(children)
                parts.append((key, lambda row, cursor: "IdeaEdge"))
            elif name == "cursor":
                _leaf(children)
                self.wants_cursors = True
                parts.append((key, lambda row, cursor: cursor))
            elif name == "node":
                shape = self.compiler.idea(children, self.select, self.joins)
                parts.append((key, _node(shape)))
            else:
                raise Unsupported(f"IdeaEdge.{name}")

        def edges(page: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {key: fn(row, cursor) for key, fn in parts}
                for row, cursor in zip(page["rows"], page["cursors"], strict=True)
            ]

        return edges

    def _filters(self, sql: Sql, has_campaign: bool, statuses: int) -> str:
        where = sql.rule(visibility.listed_idea_rule(self.compiler.audience), Idea, "i")
        if has_campaign:
            where += f' AND "i"."campaign_id" = {sql.param(lambda env: env.args["campaign"])}'
        if statuses:
            marks = ", ".join(
                sql.param(lambda env, n=n: env.args["statuses"][n]) for n in range(statuses)
            )
            where += f' AND "i"."status" IN ({marks})'
        return where

    def _page_sql(self, column: str, has_campaign: bool, statuses: int, after: bool) -> _Shape:
        key = (column, has_campaign, statuses, after)
        found = self.shapes.get(key)
        if found is not None:
            return found
        sql = Sql(self.postgres)
        from_clause = self.compiler.from_clause(sql, self.joins)
        where = self._filters(sql, has_campaign, statuses)
        if after:
            a, b, c = (
                sql.param(lambda env: env.args["after_value"]),
                sql.param(lambda env: env.args["after_value"]),
                sql.param(lambda env: env.args["after_pk"]),
            )
            where += f' AND ("i"."{column}" < {a} OR ("i"."{column}" = {b} AND "i"."id" < {c}))'
        limit = sql.param(lambda env: env.args["size"] + 1)
        text = (
            f"SELECT {', '.join(self.select.columns)} FROM {from_clause} WHERE {where}"
            f' ORDER BY "i"."{column}" DESC, "i"."id" DESC LIMIT {limit}'
        )
        self.shapes[key] = found = _Shape(sql, text)
        return found

    def _count_sql(self, has_campaign: bool, statuses: int) -> _Shape:
        key = (has_campaign, statuses)
        found = self.count_shapes.get(key)
        if found is None:
            sql = Sql(self.postgres)
            where = self._filters(sql, has_campaign, statuses)
            text = f'SELECT COUNT(*) FROM "idea" "i" WHERE {where}'
            self.count_shapes[key] = found = _Shape(sql, text)
        return found

    # run time

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        args = _arguments(self.schema, "ideas", self.node, variables)
        if args.get("search") and str(args["search"]).strip():
            raise StepAside("search")  # its matching rules live in the ORM's icontains
        # Filters whose rules (and refusals) live in engine/idea_list.py: the executor answers.
        # Their defaults (false, null) are the plain list the plan's SQL already is.
        if args.get("flagged") is not None or any(
            args.get(name) for name in ("awaitingResponse", "hidden", "merged")
        ):
            raise StepAside("awaitingResponse, flagged, hidden or merged")
        try:
            campaign = args.get("campaignId")
            campaign_pk = decode_id(campaign, "Campaign", "campaignId") if campaign else None
            size = page_size(args.get("first"))
            after = args.get("after")
            after_value, after_pk = decode_cursor(after) if after else (None, None)
        except DomainError as exc:
            raise StepAside(str(exc)) from exc
        order = IdeaOrder(args["orderBy"])
        if order is IdeaOrder.DISCOVER:
            raise StepAside("DISCOVER")  # sampled per viewer and hour (engine/discovery.py)
        column = ORDER_COLUMN[order]
        statuses = [getattr(s, "value", s) for s in args.get("status") or ()]
        if after:
            after_value = Idea._meta.fields_map[column].to_db_value(after_value, Idea)
        run_env = Env(
            env.tenant_id,
            env.member_id,
            {
                "campaign": campaign_pk,
                "statuses": statuses,
                "size": size,
                "after_value": after_value,
                "after_pk": after_pk,
            },
        )
        shape = self._page_sql(column, campaign_pk is not None, len(statuses), bool(after))
        rows = await _fetch(db, shape.text, shape.sql.values(run_env))
        items = rows[:size]
        if self.wants_cursors:
            read_column = self.cursor_readers[column]
            cursors = [encode_cursor(read_column(row), self.id_reader(row)) for row in items]
        else:
            cursors = [""] * len(items)
        total = None
        if self.wants_total:
            count = self._count_sql(campaign_pk is not None, len(statuses))
            total = int((await _fetch(db, count.text, count.sql.values(run_env)))[0][0])
        page = {
            "rows": items,
            "cursors": cursors,
            "has_next": len(rows) > size,
            "has_previous": after is not None,
            "total": total,
        }
        return self.connection(page)


class TypenameRoot(Root):
    def __init__(self, key: str) -> None:
        self.key = key

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        return "Query"


ROOTS = {"idea": IdeaRoot, "ideas": IdeasRoot}


@dataclass
class Plan:
    operation: OperationDefinitionNode
    roots: list[Root]
    schema: GraphQLSchema

    async def run(self, raw_variables: Any, env: Env, db: Any) -> dict[str, Any]:
        if raw_variables is not None and not isinstance(raw_variables, dict):
            raise StepAside("variables")
        coerced = get_variable_values(
            self.schema, self.operation.variable_definitions or (), raw_variables or {}
        )
        if isinstance(coerced, list):
            raise StepAside("variables")
        return {root.key: await root.run(env, coerced, db) for root in self.roots}


def compile_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    audience: visibility.Audience,
    postgres: bool,
) -> Plan:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        raise Unsupported("operation")
    operation = operations[0]
    if operation.directives:
        raise Unsupported("directives")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    compiler = Compiler(fragments, audience)
    roots: list[Root] = []
    top: dict[str, list[FieldNode]] = {}
    _collect(operation.selection_set.selections, "Query", fragments, top, set())
    for key, nodes in top.items():
        name = nodes[0].name.value
        if name == "__typename":
            roots.append(TypenameRoot(key))
        elif name in ROOTS:
            roots.append(ROOTS[name](key, nodes, compiler, schema, postgres))
        else:
            raise Unsupported(f"Query.{name}")
    return Plan(operation, roots, schema)
