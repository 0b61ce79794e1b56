"""Query cost limits measured in one memoised pass over the document, before anything expensive runs.

Why not Strawberry's ``QueryDepthLimiter`` / ``MaxAliasesLimiter``: both re-walk a fragment at every
spread, so a document whose fragments each spread the previous one twice costs 2^levels (a 1.6 kB
document pinned a core for good). Here every fragment definition is measured once and its figures are
reused at each spread, so the cost of checking is linear in the document's size whatever its shape;
what a document *would* expand to is computed as a number, never walked. See docs/architecture.md
("Query limits").

Figures per operation, each against a setting:
- depth: nesting of fields with selections (introspection fields such as ``__schema`` are not counted, as before);
- aliases: aliased fields in the expanded operation;
- complexity: fields in the expanded operation, where a field taking ``first``/``last`` multiplies
  its children by that page size (a variable counts as the largest page);
- fragments and spreads: how many the document holds (bounds the work of every later rule).
A document over a limit fails validation with ``extensions.code`` ``QUERY_TOO_COMPLEX``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.language import DocumentNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.errors import Code
from engine.pagination import MAX_PAGE_SIZE
from engine.settings import Settings

_PAGE_ARGUMENTS = ("first", "last")
# How often one response name may appear in one selection set (inline fragments flattened). Real
# clients repeat a field a few times (`id` under several type conditions); hundreds of copies only
# serve to make the overlapping-fields rule compare every pair.
MAX_REPEATED_FIELD = 25


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_complexity: int
    max_fragments: int
    max_spreads: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_complexity=settings.max_query_complexity,
            max_fragments=settings.max_fragments,
            max_spreads=settings.max_fragment_spreads,
        )


@dataclass(frozen=True)
class Cost:
    """What a selection set expands to: nesting depth, aliased fields and weighted field count."""

    depth: int = 0
    aliases: int = 0
    complexity: int = 0


_ZERO = Cost()


class _Measure:
    """Measures selection sets, each fragment definition once (memoised by name)."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], cap: int) -> None:
        self.fragments = fragments
        self.memo: dict[str, Cost] = {}
        self.in_progress: set[str] = set()
        # Figures beyond the cap are all "too much": saturating keeps the integers small.
        self.cap = cap

    def fragment(self, name: str) -> Cost:
        cached = self.memo.get(name)
        if cached is not None:
            return cached
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            # Unknown fragments and cycles are reported by graphql-core's own rules.
            return _ZERO
        self.in_progress.add(name)
        try:
            cost = self.selection_set(definition.selection_set)
        finally:
            self.in_progress.discard(name)
        self.memo[name] = cost
        return cost

    def selection_set(self, selection_set: SelectionSetNode | None) -> Cost:
        if selection_set is None:
            return _ZERO
        depth = aliases = complexity = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                child = self.field(selection)
            elif isinstance(selection, FragmentSpreadNode):
                child = self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                child = self.selection_set(selection.selection_set)
            else:  # pragma: no cover - the grammar has no other selection
                continue
            depth = max(depth, child.depth)
            aliases = min(aliases + child.aliases, self.cap)
            complexity = min(complexity + child.complexity, self.cap)
        return Cost(depth, aliases, complexity)

    def field(self, node: FieldNode) -> Cost:
        if node.name.value.startswith("__"):
            return _ZERO  # introspection: bounded by the schema itself
        inner = self.selection_set(node.selection_set)
        multiplier = _page_size(node) if node.selection_set is not None else 1
        return Cost(
            # Leaves add no depth, as with the limiter this replaces: `{ a { b } }` has depth 1.
            depth=inner.depth + 1 if node.selection_set is not None else 0,
            aliases=min(inner.aliases + (1 if node.alias else 0), self.cap),
            complexity=min(1 + inner.complexity * multiplier, self.cap),
        )


def _page_size(node: FieldNode) -> int:
    for argument in node.arguments or ():
        if argument.name.value in _PAGE_ARGUMENTS:
            value = argument.value
            if isinstance(value, IntValueNode):
                try:
                    return max(1, min(int(value.value), MAX_PAGE_SIZE))
                except ValueError:
                    return MAX_PAGE_SIZE
            if isinstance(value, VariableNode):
                return MAX_PAGE_SIZE
    return 1


def measure(document: DocumentNode, limits: Limits) -> list[str]:
    """The limits a document breaks, as messages (empty when it is within all of them)."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments[definition.name.value] = definition
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    if len(fragments) > limits.max_fragments:
        return [f"the document has {len(fragments)} fragments; at most {limits.max_fragments}"]
    spreads, repeated = _scan(document)
    if spreads > limits.max_spreads:
        return [f"the document has {spreads} fragment spreads; at most {limits.max_spreads}"]
    if repeated is not None:
        return [
            f"the field '{repeated}' is selected more than {MAX_REPEATED_FIELD} times in one place"
        ]
    cap = 1 + max(limits.max_depth, limits.max_aliases, limits.max_complexity)
    measured = _Measure(fragments, cap)
    problems: list[str] = []
    for operation in operations:
        name = f"'{operation.name.value}'" if operation.name else "the operation"
        cost = measured.selection_set(operation.selection_set)
        if cost.depth > limits.max_depth:
            problems.append(f"{name} exceeds maximum operation depth of {limits.max_depth}")
        if cost.aliases > limits.max_aliases:
            problems.append(f"{name} uses too many aliases; at most {limits.max_aliases}")
        if cost.complexity > limits.max_complexity:
            problems.append(
                f"{name} selects too many fields once fragments and pages are expanded "
                f"(more than {limits.max_complexity})"
            )
    if not problems and (repeated := _repeated_through_fragments(document, fragments)):
        problems.append(
            f"the field '{repeated}' is selected more than {MAX_REPEATED_FIELD} times in one "
            "place (fragments included)"
        )
    return problems


def _scan(document: DocumentNode) -> tuple[int, str | None]:
    """Spread nodes in the text (each counted once, not expanded), and a response name repeated
    beyond MAX_REPEATED_FIELD in one selection set, if any. Iterative: no recursion limit to hit."""
    spreads = 0
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        selection_set = stack.pop()
        names: dict[str, int] = {}
        flat: list[SelectionSetNode] = [selection_set]
        while flat:
            for selection in flat.pop().selections:
                if isinstance(selection, FragmentSpreadNode):
                    spreads += 1
                elif isinstance(selection, InlineFragmentNode):
                    flat.append(selection.selection_set)
                elif isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    names[key] = names.get(key, 0) + 1
                    if names[key] > MAX_REPEATED_FIELD:
                        return spreads, key
                    if selection.selection_set is not None:
                        stack.append(selection.selection_set)
    return spreads, None


def _repeated_through_fragments(
    document: DocumentNode, fragments: dict[str, FragmentDefinitionNode]
) -> str | None:
    """Like _scan's repeated-field bound, but with fragment spreads flattened: graphql-core's
    overlapping-fields rule compares the fields a selection set reaches through its spreads too,
    so 16 fragments of 24 ``viewer { id }`` each, spread side by side, took it 2.4 s. Each
    fragment's top-level names are counted once (memoised), so this stays linear."""
    memo: dict[str, dict[str, int]] = {}

    def flat(selection_set: SelectionSetNode, visiting: frozenset[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        stack = [selection_set]
        while stack:
            for selection in stack.pop().selections:
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    counts[key] = counts.get(key, 0) + 1
                elif isinstance(selection, InlineFragmentNode):
                    stack.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visiting or name not in fragments:
                        continue  # cycles and unknown fragments are graphql-core's to report
                    if name not in memo:
                        memo[name] = flat(fragments[name].selection_set, visiting | {name})
                    for key, count in memo[name].items():
                        counts[key] = counts.get(key, 0) + min(count, MAX_REPEATED_FIELD + 1)
        return counts

    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        selection_set = stack.pop()
        for key, count in flat(selection_set, frozenset()).items():
            if count > MAX_REPEATED_FIELD:
                return key
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return None


def limited_validation(limits: Limits, maxsize: int = 1000) -> type[SchemaExtension]:
    """The validation step: limits first, and graphql-core's rules only for documents within them.

    Replaces Strawberry's ``ValidationCache`` (same bounded LRU keyed on the parsed document and the
    rules). Measuring first matters: graphql-core's ``OverlappingFieldsCanBeMergedRule`` is
    quadratic in repeated fields, so a document over the limits must not reach it at all.
    """

    @lru_cache(maxsize=maxsize)
    def validate(
        schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        problems = measure(document, limits)
        if problems:
            code = {"code": Code.QUERY_TOO_COMPLEX.value}
            return [GraphQLError(message, extensions=code) for message in problems]
        return validate_document(schema, document, rules)

    class LimitedValidation(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            assert context.graphql_document is not None
            context.pre_execution_errors = validate(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            yield

    return LimitedValidation
