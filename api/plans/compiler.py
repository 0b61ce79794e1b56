"""Compiling a validated read document into a plan: one SQL statement per root field (plus one
COUNT when ``totalCount`` is asked for) and closures that shape the JSON response directly.

Supported: root ``ideas`` (without ``search``, ``awaitingResponse``, ``flagged``, ``hidden``
or ``merged``) and ``idea(id)``, with the idea's plain fields
(api/plans/fields.py), ``id``, ``counts``, ``hidden``, ``author`` (id and plain fields), the
viewer's vote, score and pledge, connection edges, cursors, page info and ``totalCount``,
aliases, fragments and ``__typename``; below ``idea(id)`` also its official responses and its
comment thread with the comments' authors (api/plans/threads.py), one statement each; and a
mutation of one member action (``vote``, ``scoreIdea``, ``pledge``: api/plans/actions.py), which
calls the resolver's engine function instead of a statement. Anything else raises
:class:`Unsupported` at compile time, and anything unusual at run time (a bad id, cursor or page size, a database error) makes
the plan step aside, so the normal executor answers with its own errors, codes and paths.
Every statement carries the tenant predicate and the model's visibility rule
(engine/visibility.py). See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from tortoise.models import Model

from api.plans import fields as decl
from api.plans.shapes import (
    TENANT,
    ConnectionShape,
    Env,
    Row,
    Select,
    Shaper,
    Sql,
    StepAside,
    Unsupported,
    collect,
    collect_into,
    const,
    fetch,
    gid,
    leaf,
    obj,
    same_arguments,
    still_plain,
    then,
)
from api.types.ids import decode_id
from engine import score_visibility, visibility
from engine.errors import DomainError, NotFound
from engine.models import Campaign, Idea, Member, Pledge, Score, Vote
from engine.pagination import decode_cursor, encode_cursor, page_size
from engine.ranking import ORDER_COLUMN, IdeaOrder
from engine.votes import VoteValue

__all__ = ["Env", "Plan", "StepAside", "Unsupported", "compile_plan"]

_VOTE_NAMES = {v.value: v.name for v in VoteValue}


def _vote_name(value: Any) -> str:
    return _VOTE_NAMES[int(value or 0)]


def _score(value: Any) -> int | None:
    return int(value or 0) or None


def _quantity(value: Any) -> int:
    return int(value or 0)


# ---- the idea and its author -------------------------------------------------------------------


@dataclass
class Joins:
    """Which joins an idea statement needs (found while compiling its selection)."""

    author: bool = False
    campaign: bool = False


class Child(Protocol):
    """A list below a single idea (api/plans/threads.py: its responses, its comments): one
    statement of its own, run once the idea's row was found, answered under ``key``."""

    key: str

    def prepare(self, variables: VariableValues) -> Any:
        """Arguments checked before any statement runs (StepAside: the executor answers)."""

    async def run(self, env: Env, prepared: Any, idea_id: int, db: Any) -> Any: ...


class Compiler:
    def __init__(
        self,
        fragments: Mapping[str, FragmentDefinitionNode],
        audience: visibility.Audience,
        schema: GraphQLSchema,
        postgres: bool,
    ) -> None:
        self.fragments = fragments
        self.audience = audience
        self.schema = schema
        self.postgres = postgres

    def plain(self, spec: decl.Plain, alias: str, model: type[Model], select: Select) -> Shaper:
        readers = [select.add(alias, model, c) for c in spec.columns]
        compute, serialize = spec.compute, spec.serialize
        if len(readers) == 1 and compute is decl.same:
            (read,) = readers
            return read if serialize is decl.same else then(read, serialize)
        return lambda row: serialize(compute(*(read(row) for read in readers)))

    def plain_object(
        self,
        nodes: list[FieldNode],
        type_name: str,
        declared: Mapping[str, decl.Plain],
        alias: str,
        model: type[Model],
        select: Select,
    ) -> Shaper:
        """An object of declared plain fields, ``id`` and ``__typename`` only."""
        by_camel = still_plain(type_name, declared)
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, type_name, self.fragments).items():
            name = children[0].name.value
            leaf(children)
            if name == "__typename":
                shapers.append((key, const(type_name)))
            elif name == "id" and "id" in model._meta.fields_map:
                shapers.append((key, then(select.add(alias, model, "id"), gid(type_name))))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], alias, model, select)))
            else:
                raise Unsupported(f"{type_name}.{name}")  # e.g. private fields depend on the row
        return obj(shapers)

    def member(self, nodes: list[FieldNode], select: Select, alias: str = "a") -> Shaper:
        if any(n.arguments for n in nodes):
            raise Unsupported("author")
        return self.plain_object(nodes, "Member", decl.MEMBER, alias, Member, select)

    def counts(self, nodes: list[FieldNode], select: Select, joins: Joins) -> Shaper:
        by_camel = still_plain("IdeaCounts", decl.IDEA_COUNTS)
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, "IdeaCounts", self.fragments).items():
            name = children[0].name.value
            leaf(children)
            if name == "__typename":
                shapers.append((key, const("IdeaCounts")))
            elif name == "averageScore":
                shapers.append((key, self.average_score(select, joins)))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], "i", Idea, select)))
            else:
                raise Unsupported(f"IdeaCounts.{name}")
        return obj(shapers)

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
        scored: Shaper = const(None)
        if self.audience.member_id is not None:
            scored = select.viewer(Score, "value", '"i"."id"')

        def shown(row: Row) -> float | None:
            value = average(row)
            if value is None or scored(row):
                return value
            return value if score_visibility.closed(status(row), closes(row)) else None

        return shown

    def idea(
        self,
        nodes: list[FieldNode],
        select: Select,
        joins: Joins,
        children: list[Child] | None = None,
    ) -> Shaper:
        """An idea's selection; ``children`` collects its lists (responses, comments) when the
        idea is a single one (``idea(id)``), and they are not compiled inside lists."""
        from api.plans import threads

        by_camel = still_plain("Idea", decl.IDEA)
        member = self.audience.member_id is not None
        shapers: list[tuple[str, Shaper]] = []
        for key, nodes_of_key in collect(nodes, "Idea", self.fragments).items():
            name = nodes_of_key[0].name.value
            if name == "author":
                joins.author = True
                shapers.append((key, self.member(nodes_of_key, select)))
                continue
            if name == "counts":
                shapers.append((key, self.counts(nodes_of_key, select, joins)))
                continue
            if name in ("responses", "comments"):
                if children is None:
                    raise Unsupported(f"Idea.{name} in a list")
                kind = threads.Responses if name == "responses" else threads.Comments
                children.append(kind(key, nodes_of_key, self))
                shapers.append((key, const(None)))  # keeps the key's place in the answer
                continue
            leaf(nodes_of_key)
            if name == "__typename":
                shapers.append((key, const("Idea")))
            elif name == "id":
                shapers.append((key, then(select.add("i", Idea, "id"), gid("Idea"))))
            elif name in by_camel:
                shapers.append((key, self.plain(by_camel[name], "i", Idea, select)))
            elif name == "hidden":
                if visibility.sees_brand_fields(self.audience):
                    shapers.append((key, self.plain(decl.column("hidden"), "i", Idea, select)))
                else:
                    shapers.append((key, const(None)))
            elif name == "viewerVote":
                if not member:
                    shapers.append((key, const(VoteValue.NONE.name)))
                else:
                    read = select.viewer(Vote, "value", '"i"."id"')
                    shapers.append((key, then(read, _vote_name)))
            elif name == "viewerScore":
                if not member:
                    shapers.append((key, const(None)))
                else:
                    read = select.viewer(Score, "value", '"i"."id"')
                    shapers.append((key, then(read, _score)))
            elif name == "viewerPledge":
                if not member:
                    shapers.append((key, const(0)))
                else:
                    read = select.viewer(Pledge, "quantity", '"i"."id"')
                    shapers.append((key, then(read, _quantity)))
            else:
                raise Unsupported(f"Idea.{name}")
        return obj(shapers)

    def from_clause(self, sql: Sql, joins: Joins) -> str:
        """FROM idea and the joins the selection needs, each with its tenant and rule."""
        text = '"idea" "i"'
        if joins.author:
            text += self.author_join(sql, "a", '"i"."author_id"')
        if joins.campaign:
            text += (
                ' LEFT JOIN "campaign" "c" ON "c"."id" = "i"."campaign_id"'
                f' AND "c"."tenant_id" = {sql.param(TENANT)}'
            )
        return text

    def author_join(self, sql: Sql, alias: str, on: str) -> str:
        rule = sql.rule(visibility.member_rule(self.audience), Member, alias)
        return f' LEFT JOIN "member" "{alias}" ON "{alias}"."id" = {on} AND {rule}'

    def arguments(self, parent: Any, name: str, node: FieldNode, variables: VariableValues) -> Any:
        """A field's coerced arguments; the executor reports anything wrong with them."""
        try:
            return get_argument_values(parent.fields[name], node, variables)
        except GraphQLError as exc:
            raise StepAside(str(exc)) from exc


# ---- root fields -------------------------------------------------------------------------------


class Root:
    key: str

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        raise NotImplementedError


class PreparedRoot(Root):
    """A root whose arguments are worked out from the variables alone (coerced, ids and cursors
    decoded, the statement's shape chosen): :class:`Plan` keeps that per distinct variables, so
    a repeated read only binds the tenant and member and runs its statements."""

    def prepare(self, variables: VariableValues) -> Any:
        """What :meth:`run_prepared` needs; StepAside when the executor must answer. Only reads
        the variables: the result is shared by every request with the same ones."""
        raise NotImplementedError

    async def run_prepared(self, env: Env, prepared: Any, db: Any) -> Any:
        raise NotImplementedError

    async def run(self, env: Env, variables: VariableValues, db: Any) -> Any:
        return await self.run_prepared(env, self.prepare(variables), db)


@dataclass
class _Shape:
    sql: Sql
    text: str


class IdeaRoot(PreparedRoot):
    """``idea(id)``: the idea rule (the brand sees hidden ideas; merged ones stay readable), then
    one statement per list below it (responses, comments): a fixed number per document."""

    def __init__(self, key: str, nodes: list[FieldNode], compiler: Compiler) -> None:
        self.key, self.compiler = key, compiler
        self.node = same_arguments(nodes)
        select, joins = Select(), Joins()
        select.add("i", Idea, "id")  # a selection of constants alone still needs a column
        self.children: list[Child] = []
        self.shape = compiler.idea(nodes, select, joins, self.children)
        sql = Sql(compiler.postgres)
        columns = select.text(sql)
        from_clause = compiler.from_clause(sql, joins)
        where = sql.rule(visibility.idea_rule(compiler.audience), Idea, "i")
        pk = sql.param(lambda env: env.args["pk"])
        self.sql = sql
        self.text = f'SELECT {columns} FROM {from_clause} WHERE {where} AND "i"."id" = {pk}'

    def prepare(self, variables: VariableValues) -> tuple[int | None, list[Any]]:
        query_type = self.compiler.schema.query_type
        args = self.compiler.arguments(query_type, "idea", self.node, variables)
        prepared = [child.prepare(variables) for child in self.children]
        try:
            pk = decode_id(args["id"], "Idea", "id")
        except NotFound:
            return None, prepared  # as Query.idea answers a malformed or foreign id
        return pk, prepared

    async def run_prepared(self, env: Env, ready: Any, db: Any) -> Any:
        pk, prepared = ready
        if pk is None:
            return None
        run_env = Env(env.tenant_id, env.member_id, {"pk": pk})
        rows = await fetch(db, self.text, self.sql.values(run_env))
        if not rows:
            return None
        answer = self.shape(rows[0])
        for child, ready in zip(self.children, prepared, strict=True):
            answer[child.key] = await child.run(env, ready, pk, db)
        return answer


class IdeasRoot(PreparedRoot):
    """``ideas(...)``: the listing rule, keyset pages as engine/idea_list.py pages them."""

    def __init__(self, key: str, nodes: list[FieldNode], compiler: Compiler) -> None:
        self.key, self.compiler = key, compiler
        self.node = same_arguments(nodes)
        self.select, self.joins = Select(), Joins()
        self.cursor_readers: dict[str, Callable[[Row], Any]] = {}
        self.id_reader = self.select.add("i", Idea, "id")
        self.connection = ConnectionShape(
            nodes,
            "Idea",
            compiler.fragments,
            lambda children: compiler.idea(children, self.select, self.joins),
        )
        if self.connection.wants_cursors:
            for column in sorted(set(ORDER_COLUMN.values())):
                self.cursor_readers[column] = self.select.add("i", Idea, column)
        self.shapes: dict[tuple[Any, ...], _Shape] = {}
        self.count_shapes: dict[tuple[Any, ...], _Shape] = {}

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

    def _page_sql(
        self, column: str, has_campaign: bool, statuses: int, after: bool, limit: int
    ) -> _Shape:
        # The page size is written as a number, not bound: PostgreSQL plans a bound LIMIT as a
        # tenth of the table and would replan the statement on every execution.
        key = (column, has_campaign, statuses, after, limit)
        found = self.shapes.get(key)
        if found is not None:
            return found
        sql = Sql(self.compiler.postgres)
        columns = self.select.text(sql)
        from_clause = self.compiler.from_clause(sql, self.joins)
        where = self._filters(sql, has_campaign, statuses)
        if after:
            value = sql.param(lambda env: env.args["after_value"])
            pk = sql.param(lambda env: env.args["after_pk"])
            where += (
                f' AND ("i"."{column}" < {value} OR ("i"."{column}" = {value} AND "i"."id" < {pk}))'
            )
        text = (
            f"SELECT {columns} FROM {from_clause} WHERE {where}"
            f' ORDER BY "i"."{column}" DESC, "i"."id" DESC LIMIT {int(limit)}'
        )
        self.shapes[key] = found = _Shape(sql, text)
        return found

    def _count_sql(self, has_campaign: bool, statuses: int) -> _Shape:
        key = (has_campaign, statuses)
        found = self.count_shapes.get(key)
        if found is None:
            sql = Sql(self.compiler.postgres)
            where = self._filters(sql, has_campaign, statuses)
            text = f'SELECT COUNT(*) FROM "idea" "i" WHERE {where}'
            self.count_shapes[key] = found = _Shape(sql, text)
        return found

    def prepare(self, variables: VariableValues) -> tuple[_Shape, _Shape | None, dict[str, Any]]:
        query_type = self.compiler.schema.query_type
        args = self.compiler.arguments(query_type, "ideas", self.node, variables)
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
        has_campaign = campaign_pk is not None
        shape = self._page_sql(column, has_campaign, len(statuses), bool(after), size + 1)
        count = (
            self._count_sql(has_campaign, len(statuses)) if self.connection.wants_total else None
        )
        run_args = {
            "campaign": campaign_pk,
            "statuses": statuses,
            "after_value": after_value,
            "after_pk": after_pk,
            "column": column,
            "size": size,
            "after": after is not None,
        }
        return shape, count, run_args

    async def run_prepared(self, env: Env, prepared: Any, db: Any) -> Any:
        shape, count, args = prepared
        run_env = Env(env.tenant_id, env.member_id, args)
        size = args["size"]
        rows = await fetch(db, shape.text, shape.sql.values(run_env))
        items = rows[:size]
        if self.connection.wants_cursors:
            read_column = self.cursor_readers[args["column"]]
            cursors = [encode_cursor(read_column(row), self.id_reader(row)) for row in items]
        else:
            cursors = [""] * len(items)
        total = None
        if count is not None:
            total = int((await fetch(db, count.text, count.sql.values(run_env)))[0][0])
        page = {
            "rows": items,
            "cursors": cursors,
            "has_next": len(rows) > size,
            "has_previous": args["after"],
            "total": total,
        }
        return self.connection.shape(page)


class TypenameRoot(PreparedRoot):
    def __init__(self, key: str, type_name: str = "Query") -> None:
        self.key, self.type_name = key, type_name

    def prepare(self, variables: VariableValues) -> None:
        return None

    async def run_prepared(self, env: Env, prepared: Any, db: Any) -> Any:
        return self.type_name


ROOTS: dict[str, Callable[[str, list[FieldNode], Compiler], Root]] = {
    "idea": IdeaRoot,
    "ideas": IdeasRoot,
}


@dataclass
class Plan:
    operation: OperationDefinitionNode
    roots: list[Root]
    schema: GraphQLSchema
    # A member action (api/plans/actions.py): only a POST may run it, as the executor allows.
    mutation: bool = False
    # Per distinct variables (their JSON): what each PreparedRoot worked out from them.
    prepared: OrderedDict[bytes, list[Any]] = field(default_factory=OrderedDict)

    # Distinct variables remembered per plan: a widget asks for a few campaigns and pages; a
    # member action's are an idea and a value each (its members vote on many ideas), and what
    # it keeps per entry is small.
    PREPARED = 64
    PREPARED_ACTIONS = 1024

    def _coerce(self, raw_variables: Any) -> VariableValues:
        if raw_variables is not None and not isinstance(raw_variables, dict):
            raise StepAside("variables")
        coerced = get_variable_values(
            self.schema, self.operation.variable_definitions or (), raw_variables or {}
        )
        if isinstance(coerced, list):
            raise StepAside("variables")
        return coerced

    async def run(self, raw_variables: Any, env: Env, db: Any) -> dict[str, Any]:
        if not all(isinstance(r, PreparedRoot) for r in self.roots):
            coerced = self._coerce(raw_variables)
            return {root.key: await root.run(env, coerced, db) for root in self.roots}
        try:
            memo = orjson.dumps(raw_variables)
        except TypeError:
            memo = None
        ready = self.prepared.get(memo) if memo is not None else None
        if ready is None:
            # Every root is prepared before any runs: a member action that steps aside does so
            # before it calls anything.
            coerced = self._coerce(raw_variables)
            ready = [root.prepare(coerced) for root in self.roots]  # type: ignore[attr-defined]
            if memo is not None:
                self.prepared[memo] = ready
                if len(self.prepared) > (self.PREPARED_ACTIONS if self.mutation else self.PREPARED):
                    self.prepared.popitem(last=False)
        else:
            self.prepared.move_to_end(memo)  # type: ignore[arg-type]
        return {
            root.key: await root.run_prepared(env, prepared, db)  # type: ignore[attr-defined]
            for root, prepared in zip(self.roots, ready, strict=True)
        }


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
    if len(operations) != 1 or operations[0].operation not in (
        OperationType.QUERY,
        OperationType.MUTATION,
    ):
        raise Unsupported("operation")
    operation = operations[0]
    mutation = operation.operation == OperationType.MUTATION
    if operation.directives:
        raise Unsupported("directives")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    compiler = Compiler(fragments, audience, schema, postgres)
    roots: list[Root] = []
    top: dict[str, list[FieldNode]] = {}
    root_type = "Mutation" if mutation else "Query"
    collect_into(operation.selection_set.selections, root_type, fragments, top, set())
    compiled = _mutation_roots() if mutation else ROOTS
    for key, nodes in top.items():
        name = nodes[0].name.value
        if name == "__typename":
            roots.append(TypenameRoot(key, root_type))
        elif name in compiled:
            roots.append(compiled[name](key, nodes, compiler))
        else:
            raise Unsupported(f"{root_type}.{name}")
    if mutation and sum(not isinstance(r, TypenameRoot) for r in roots) != 1:
        raise Unsupported("a mutation plan runs one action")
    return Plan(operation, roots, schema, mutation)


def _mutation_roots() -> dict[str, Callable[[str, list[FieldNode], Compiler], Root]]:
    from api.plans.actions import ACTION_ROOTS  # it builds on this module

    return ACTION_ROOTS
