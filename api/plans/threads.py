"""The lists of an idea's page, compiled below ``idea(id)``: its official responses (every one,
oldest first) and its comment thread (a keyset page, oldest first, with each comment's author).

Each is one statement run after the idea's own (plus a COUNT for ``totalCount``), with the tenant
predicate and the model's visibility rule (engine/visibility.py: responses follow their idea;
the thread leaves hidden comments out). Erased members need nothing here: erasure rewrote their
rows (engine/privacy.py). See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import FieldNode
from graphql.execution.values import VariableValues

from api.plans import fields as decl
from api.plans.shapes import (
    ConnectionShape,
    Env,
    Row,
    Select,
    Shaper,
    Sql,
    StepAside,
    Unsupported,
    collect,
    const,
    fetch,
    gid,
    leaf,
    obj,
    same_arguments,
    still_plain,
    then,
)
from engine import visibility
from engine.errors import DomainError
from engine.models import Comment, IdeaStatusChange
from engine.pagination import decode_cursor, encode_cursor, page_size

if TYPE_CHECKING:
    from api.plans.compiler import Compiler

_IDEA = lambda env: env.args["idea"]  # noqa: E731  # the idea whose lists these are


class Responses:
    """``Idea.responses``: every official response, oldest first (as the status_changes loader)."""

    def __init__(self, key: str, nodes: list[FieldNode], compiler: Compiler) -> None:
        self.key = key
        if any(n.arguments for n in nodes):
            raise Unsupported("responses arguments")
        select = Select()
        select.add("r", IdeaStatusChange, "id")
        self.shape: Shaper = compiler.plain_object(
            nodes, "OfficialResponse", decl.RESPONSE, "r", IdeaStatusChange, select
        )
        sql = Sql(compiler.postgres)
        columns = select.text(sql)
        rule = sql.rule(visibility.response_rule(compiler.audience), IdeaStatusChange, "r")
        self.sql = sql
        self.text = (
            f'SELECT {columns} FROM "idea_status_change" "r" WHERE {rule}'
            f' AND "r"."idea_id" = {sql.param(_IDEA)} ORDER BY "r"."id"'
        )

    def prepare(self, variables: VariableValues) -> Any:
        return None

    async def run(self, env: Env, prepared: Any, idea_id: int, db: Any) -> Any:
        run_env = Env(env.tenant_id, env.member_id, {"idea": idea_id})
        rows = await fetch(db, self.text, self.sql.values(run_env))
        return [self.shape(row) for row in rows]


class Comments:
    """``Idea.comments(first, after)``: the thread's keyset page by id, oldest first, as
    engine.pagination.id_page pages it, with the authors joined."""

    def __init__(self, key: str, nodes: list[FieldNode], compiler: Compiler) -> None:
        self.key, self.compiler = key, compiler
        self.node = same_arguments(nodes)
        self.select = Select()
        self.id_reader = self.select.add("c", Comment, "id")
        self.author = False
        self.connection = ConnectionShape(nodes, "Comment", compiler.fragments, self._comment)
        self.pages: dict[tuple[bool, int], tuple[Sql, str]] = {}
        sql = Sql(compiler.postgres)
        self.count = (sql, f'SELECT COUNT(*) FROM "comment" "c" WHERE {self._where(sql)}')

    def _comment(self, nodes: list[FieldNode]) -> Shaper:
        by_camel = still_plain("Comment", decl.COMMENT)
        shapers: list[tuple[str, Shaper]] = []
        for key, children in collect(nodes, "Comment", self.compiler.fragments).items():
            name = children[0].name.value
            if name == "author":
                self.author = True
                shapers.append((key, self.compiler.member(children, self.select, "ca")))
                continue
            leaf(children)
            if name == "__typename":
                shapers.append((key, const("Comment")))
            elif name == "id":
                shapers.append((key, then(self.id_reader, gid("Comment"))))
            elif name == "parentId":
                shapers.append((key, self._parent_id()))
            elif name in by_camel:
                plain = self.compiler.plain(by_camel[name], "c", Comment, self.select)
                shapers.append((key, plain))
            else:
                raise Unsupported(f"Comment.{name}")
        return obj(shapers)

    def _parent_id(self) -> Shaper:
        parent, to_gid = self.select.add("c", Comment, "parent_id"), gid("Comment")

        def parent_id(row: Row) -> str | None:
            pk = parent(row)
            return None if pk is None else to_gid(pk)

        return parent_id

    def _where(self, sql: Sql) -> str:
        rule = sql.rule(visibility.listed_comment_rule(self.compiler.audience), Comment, "c")
        return f'{rule} AND "c"."idea_id" = {sql.param(_IDEA)}'

    def _page(self, after: bool, limit: int) -> tuple[Sql, str]:
        found = self.pages.get((after, limit))
        if found is None:
            sql = Sql(self.compiler.postgres)
            columns = self.select.text(sql)
            joins = ""
            if self.author:
                joins = self.compiler.author_join(sql, "ca", '"c"."author_id"')
            where = self._where(sql)
            if after:
                where += f' AND "c"."id" > {sql.param(lambda env: env.args["after"])}'
            # A written LIMIT, as for ideas (api/plans/compiler.py, IdeasRoot._page_sql).
            text = (
                f'SELECT {columns} FROM "comment" "c"{joins} WHERE {where}'
                f' ORDER BY "c"."id" LIMIT {int(limit)}'
            )
            self.pages[(after, limit)] = found = (sql, text)
        return found

    def prepare(self, variables: VariableValues) -> tuple[int, int | None, bool]:
        idea_type = self.compiler.schema.get_type("Idea")
        args = self.compiler.arguments(idea_type, "comments", self.node, variables)
        try:
            size = page_size(args.get("first"))
            after = args.get("after")
            after_pk = decode_cursor(after)[1] if after else None
        except DomainError as exc:
            raise StepAside(str(exc)) from exc
        return size, after_pk, after is not None

    async def run(self, env: Env, prepared: Any, idea_id: int, db: Any) -> Any:
        size, after_pk, has_previous = prepared
        run_env = Env(env.tenant_id, env.member_id, {"idea": idea_id, "after": after_pk})
        sql, text = self._page(after_pk is not None, size + 1)
        rows = await fetch(db, text, sql.values(run_env))
        items = rows[:size]
        if self.connection.wants_cursors:
            cursors = [encode_cursor(pk, pk) for pk in map(self.id_reader, items)]
        else:
            cursors = [""] * len(items)
        total = None
        if self.connection.wants_total:
            count_sql, count_text = self.count
            total = int((await fetch(db, count_text, count_sql.values(run_env)))[0][0])
        page = {
            "rows": items,
            "cursors": cursors,
            "has_next": len(rows) > size,
            "has_previous": has_previous,
            "total": total,
        }
        return self.connection.shape(page)
