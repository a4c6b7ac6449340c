"""Wrong derivations: a problem's step tree with one rule node replaced by
one of its rule's mistakes (`Mistake`, kept on the rule object in
`exgen/rules/`).

A mistake changes one node's result (the product rule's node gives f'g'
instead of fg' + gf'); every node above it is recomputed from its substeps
by its own rule's `combine` (the rule's formula), so the wrong answer is the
one a student who makes exactly that mistake, and no other, writes down. A
function's `whole` mistake (the power rule on e^u, (ln f)' = 1/f) is made on
the chain node whose outer function it belongs to, or on f(x) itself.

To add a mistake, give the rule a `Mistake` in its module of `exgen/rules/`;
nothing here names a rule.
"""

from dataclasses import dataclass, replace
from typing import Iterator

import sympy as sp

from .registry import RULES, FunctionRule, Mistake
from .steps import Step


@dataclass(frozen=True)
class Wrong:
    """A derivation tree as a student making `mistake` at the node `path`
    (indices into substeps from the root) derives it."""

    mistake: Mistake
    path: tuple[int, ...]
    tree: Step

    @property
    def result(self) -> sp.Expr:
        return self.tree.result


def nodes(step: Step, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Step]]:
    """Every node with its path, outermost first (pre-order)."""
    yield path, step
    for i, sub in enumerate(step.substeps):
        yield from nodes(sub, path + (i,))


def with_result(tree: Step, path: tuple[int, ...], result: sp.Expr) -> Step | None:
    """`tree` with the node at `path` giving `result`, and every node above
    it recombined by its rule's formula (None where a rule on the way has no
    `combine`)."""
    if not path:
        return replace(tree, result=result)
    rule = RULES[tree.rule]
    if rule.combine is None:
        return None
    index = path[0]
    child = with_result(tree.substeps[index], path[1:], result)
    if child is None:
        return None
    substeps = tree.substeps[:index] + (child,) + tree.substeps[index + 1:]
    return replace(tree, substeps=substeps, result=rule.combine(tree, [s.result for s in substeps]))


def _node_mistakes(step: Step, outer_of_chain: bool) -> Iterator[tuple[Mistake, sp.Expr | None]]:
    """(mistake, the node's wrong result) for every mistake this node invites."""
    rule = RULES[step.rule]
    for mistake in rule.mistakes:
        if not mistake.whole:
            yield mistake, mistake.wrong(step)
    # A function's mistakes on the whole f(g(x)): at its chain node, or at f(x) itself.
    if step.rule == "chain":
        parts = dict(step.parts)
        outer = RULES.function_for(type(parts["outer"]))
        if outer is not None:
            for mistake in outer.mistakes:
                if mistake.whole:
                    yield mistake, mistake.wrong(step.expr, parts["inner"], step.wrt)
    elif (isinstance(rule, FunctionRule) and not outer_of_chain and step.expr.args
          and step.expr.args[rule.argument] == step.wrt):
        for mistake in rule.mistakes:
            if mistake.whole:
                yield mistake, mistake.wrong(step.expr, step.wrt, step.wrt)


def _at(tree: Step, path: tuple[int, ...]) -> Step:
    for index in path:
        tree = tree.substeps[index]
    return tree


def variants(tree: Step) -> Iterator[Wrong]:
    """Every wrong tree one catalogued mistake makes of `tree`, outermost node
    first; a mistake whose result is the right one at that node is left out."""
    for path, node in nodes(tree):
        outer_of_chain = bool(path) and path[-1] == 0 and _at(tree, path[:-1]).rule == "chain"
        for mistake, result in _node_mistakes(node, outer_of_chain):
            if result is None or result == node.result:
                continue
            wrong = with_result(tree, path, sp.sympify(result))
            if wrong is not None:
                yield Wrong(mistake, path, wrong)
