"""Reverse-mode differentiation: order a graph's nodes, then push gradients from root to leaves.

Calling backward() twice is allowed: each call recomputes the grad of every non-leaf node from
scratch and *adds* d(root)/d(leaf) to each leaf's grad, like PyTorch's `.grad` (with
retain_graph=True). Two calls therefore double the leaves' grads; zero them between steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.value import Value


def backpropagate(root: Value, order: Sequence[Value] | None = None) -> None:
    """Set every node's grad to d(root)/d(node), adding to the leaves' grads.

    `order` may list the graph's non-leaf nodes children-first, e.g. in creation order when the
    caller recorded them; it then replaces the topological sort.
    """
    if order is None:
        order = topological_order(root)
    for v in order:
        v.grad = 0.0
    root.grad += 1.0
    for v in reversed(order):
        # chain rule: d root/d child += d root/d v * d v/d child, with d v/d child = scale * local
        g = v.grad * v._scale
        if g:  # a zero gradient (a dead relu, say) adds nothing below
            # Not zip(strict=...): node() pairs them up, and parsing a keyword argument here
            # would cost a tenth of the whole backward pass.
            for child, d in zip(v._children, v._local):  # noqa: B905
                child.grad += d * g


def topological_order(root: Value) -> list[Value]:
    """The non-leaf nodes below root, children before parents (iterative DFS, so no depth limit)."""
    if not root._children:
        return []
    order: list[Value] = []
    expanded: set[Value] = set()
    finished: set[Value] = set()
    stack = [root]
    while stack:
        v = stack[-1]
        if v not in expanded:
            # Push the children and come back to v once they are all finished. A child that is
            # already expanded is finished too: otherwise it would be v's ancestor (a cycle).
            expanded.add(v)
            for c in v._children:
                if c._children and c not in expanded:  # leaves need no place in the order
                    stack.append(c)
        else:
            stack.pop()
            if v not in finished:  # v may sit on the stack more than once
                finished.add(v)
                order.append(v)
    return order
