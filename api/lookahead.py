"""Looking ahead at the selection: which fields a list's items will be asked for.

List resolvers use it to load authors and the viewer's votes, scores and pledges once per page,
before the items' fields run, so those fields can answer synchronously (no Task per item in
graphql-core's executor). See docs/architecture.md, "Read path".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.language import SelectionNode

from api.context import Info


def _flatten(
    selections: Iterable[SelectionNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _flatten(selection.selection_set.selections, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _flatten(fragment.selection_set.selections, fragments)


def _children(
    nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for node in nodes:
        if node.selection_set is not None:
            yield from _flatten(node.selection_set.selections, fragments)


def selected(info: Info, *path: str) -> frozenset[str]:
    """Names of the fields selected below ``path`` (e.g. "edges", "node") of the current field,
    across aliases and fragments. @skip/@include are not evaluated: at worst a page loads a
    little more than it needed."""
    raw = info._raw_info
    fragments = raw.fragments
    nodes: list[FieldNode] = list(raw.field_nodes)
    for step in path:
        nodes = [child for child in _children(nodes, fragments) if child.name.value == step]
    return frozenset(child.name.value for child in _children(nodes, fragments))
