"""What a console user's role lets them do through the API (the API enforces it, not the page).

A console session acts with the secret key's reach, narrowed here in one place, before anything
executes: owners may do everything; moderators read everything and run the moderation mutations
(official responses, merges, flags, serial-vote restores); analysts only read. `apiKeys` and the
console team (`consoleUsers`, `consoleInvites`, and every mutation not listed for moderators) are
the owner's alone. See docs/architecture.md ("Console").
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from api.errors import forbidden
from engine.models.console import ConsoleRole

MODERATOR_MUTATIONS = frozenset(
    {"setIdeaStatus", "mergeIdea", "unmergeIdea", "resolveFlag", "restoreSerialVotes"}
)
OWNER_QUERIES = frozenset({"apiKeys", "consoleUsers", "consoleInvites"})


def refusal(role: ConsoleRole, operation: OperationType, fields: list[str]) -> str | None:
    """Why this role may not run these root fields, or None when it may."""
    if role == ConsoleRole.OWNER:
        return None
    if operation == OperationType.MUTATION:
        if role == ConsoleRole.ANALYST:
            return "analysts can read but not change anything"
        denied = [f for f in fields if f not in MODERATOR_MUTATIONS]
        if denied:
            return f"moderators cannot run {', '.join(denied)}"
        return None
    denied = [f for f in fields if f in OWNER_QUERIES]
    return f"only owners can read {', '.join(denied)}" if denied else None


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> list[str]:
    """Root field names, through fragments spread at the root (so none hides a mutation)."""
    names: list[str] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.append(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names.extend(_root_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                names.extend(_root_fields(fragments[name].selection_set, fragments, seen | {name}))
    return names


class ConsolePermissions(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        session = getattr(principal, "console", None)
        document = context.graphql_document
        if session is not None and document is not None:
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                if context.operation_name and (
                    definition.name is None or definition.name.value != context.operation_name
                ):
                    continue
                fields = _root_fields(definition.selection_set, _fragments(document))
                reason = refusal(session.user.role, definition.operation, fields)
                if reason is not None:
                    context.result = ExecutionResult(data=None, errors=[forbidden(reason)])
        yield
