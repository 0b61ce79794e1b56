"""Compiled mutation plans for a member's action on an idea (``vote``, ``scoreIdea``, ``pledge``).

A validated mutation document whose one action field asks for what the payload holds without a
statement of its own (``idea`` with its plain fields, ``id``, ``counts``, ``hidden``, the
action's own viewer field and ``__typename``; ``userErrors``) is answered by calling the one
:class:`~api.mutations.interactions.MemberAction` its resolver calls and shaping the JSON from
the outcome directly. The idea's selection is compiled by the read plans' own
:meth:`~api.plans.compiler.Compiler.idea`, so every field is decided by the same declaration
(api/plans/fields.py) and the same visibility rule as a read; the outcome's idea row stands in
for the statement's row. Fields that would need a statement (``author``, ``campaign``,
``averageScore``, another kind's viewer field) make the document unsupported: the executor runs
it. See docs/architecture.md, "Read path".

At run time the plan steps aside before calling anything when the variables or the input do not
coerce or the caller holds no member token. Once the action ran, a ``DomainError`` is its
``userErrors``, as in the resolver. An outage (or a conflict left after the last retry) is
answered SERVICE_UNAVAILABLE at once, as the executor would, without running the action a second
time. Any other exception (the member deleted since the token was cached) left nothing written
(the unit of work rolled back), so the executor answers the request with its own error and code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import FieldNode
from graphql.execution.values import VariableValues

from api.mutations.base import attempt
from api.mutations.interactions import ACTIONS, MemberAction, payload_idea
from api.plans.compiler import Compiler, Joins, PreparedRoot, Root
from api.plans.shapes import (
    Env,
    Select,
    StepAside,
    Unsupported,
    collect,
    leaf,
    leaves,
    same_arguments,
)
from api.types.common import UserError
from engine import visibility
from engine.counters import Outcome
from engine.models import Idea, Pledge, Score, Vote

_VIEWER_MODELS = {"viewerVote": Vote, "viewerScore": Score, "viewerPledge": Pledge}
_VIEWER_COLUMNS = {"viewerVote": "value", "viewerScore": "value", "viewerPledge": "quantity"}


def _user_errors(nodes: list[FieldNode], compiler: Compiler) -> Callable[[list[UserError]], Any]:
    names: dict[str, Callable[[UserError], Any]] = {
        "__typename": lambda e: "UserError",
        "field": lambda e: e.field,
        "code": lambda e: e.code.name,  # UserErrorCode serializes by name
        "message": lambda e: e.message,
    }
    shape = leaves(nodes, "UserError", names, compiler.fragments)
    return lambda errors: [shape(e) for e in errors]


class _IdeaShape:
    """The payload's idea: the read plans' idea shaper over a row built from the outcome."""

    def __init__(self, nodes: list[FieldNode], action: MemberAction, compiler: Compiler) -> None:
        select, joins = Select(), Joins()
        self.shape = compiler.idea(nodes, select, joins)
        if joins.author or joins.campaign:
            raise Unsupported("Idea fields that need a statement")
        own = select.viewer_key(
            _VIEWER_MODELS[action.viewer], _VIEWER_COLUMNS[action.viewer], '"i"."id"'
        )
        self.readers: list[Callable[[Outcome], Any]] = []
        for key in select.expressions():
            if key == own:
                self.readers.append(lambda outcome: outcome.value)
                continue
            column = Select.column_of(key, "i")
            if column is None or column not in Idea._meta.fields_map:
                raise Unsupported(key)  # another kind's viewer field: the executor loads it
            self.readers.append(_attribute(column))

    def __call__(self, outcome: Outcome) -> Any:
        return self.shape(tuple(read(outcome) for read in self.readers))


def _attribute(column: str) -> Callable[[Outcome], Any]:
    return lambda outcome: getattr(outcome.idea, column)


class ActionRoot(PreparedRoot):
    """``vote`` / ``scoreIdea`` / ``pledge``: the action's one call, its payload shaped. Its
    input (the idea's id and the value) is worked out from the variables alone, so the plan keeps
    it per distinct variables (``Plan.prepared``); the member comes from the request."""

    def __init__(self, key: str, nodes: list[FieldNode], compiler: Compiler) -> None:
        audience = compiler.audience
        if audience.role != visibility.Role.MEMBER or audience.member_id is None:
            raise Unsupported("member actions compile for members only")
        self.key, self.compiler = key, compiler
        self.node = same_arguments(nodes)
        self.name = self.node.name.value
        self.action = ACTIONS[self.name]
        parts: list[tuple[str, Callable[[Outcome | None, list[UserError]], Any]]] = []
        for field_key, children in collect(nodes, "IdeaActionPayload", compiler.fragments).items():
            name = children[0].name.value
            if name == "__typename":
                leaf(children)
                parts.append((field_key, lambda outcome, errors: "IdeaActionPayload"))
            elif name == "idea":
                if any(n.arguments for n in children):
                    raise Unsupported("idea arguments")
                idea = _IdeaShape(children, self.action, compiler)
                parts.append((field_key, lambda outcome, errors, idea=idea: _shown(idea, outcome)))  # type: ignore[misc]
            elif name == "userErrors":
                if any(n.arguments for n in children):
                    raise Unsupported("userErrors arguments")
                shape = _user_errors(children, compiler)
                parts.append((field_key, lambda outcome, errors, shape=shape: shape(errors)))  # type: ignore[misc]
            else:
                raise Unsupported(f"IdeaActionPayload.{name}")
        self.parts = parts

    def prepare(self, variables: VariableValues) -> tuple[Any, Any]:
        mutation_type = self.compiler.schema.mutation_type
        args = self.compiler.arguments(mutation_type, self.name, self.node, variables)
        data = args.get("input")
        if not isinstance(data, dict):
            raise StepAside("input")
        return data["ideaId"], data[self.action.value_input]

    async def run_prepared(self, env: Env, prepared: tuple[Any, Any], db: Any) -> Any:
        member = env.member_id
        if member is None:
            raise StepAside("input")
        action = self.action
        idea_id, value = prepared
        outcome, errors = await attempt(lambda: action.call(member, idea_id, value))
        return {key: fn(outcome, errors) for key, fn in self.parts}


def _shown(idea: _IdeaShape, outcome: Outcome | None) -> Any:
    if outcome is None or payload_idea(outcome) is None:
        return None
    return idea(outcome)


ACTION_ROOTS: dict[str, Callable[[str, list[FieldNode], Compiler], Root]] = {
    name: ActionRoot for name in ACTIONS
}
