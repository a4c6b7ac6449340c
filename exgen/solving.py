"""`exgen solve`: the derivation of any supported expression, checked.

The same engine and oracle as the sheets: each tree is checked node by node
at random points of the expression's domain before anything is printed.
"""

from dataclasses import dataclass

import sympy as sp

from .budget import time_budget
from .check import check_tree, sample_points
from .compose import Domain, choose_domain
from .errors import BudgetExceeded, ExgenError
from .forms import tex
from .parsing import VARIABLE, parse_user_expression
from .render import solution_latex, solution_text, step_json
from .seeding import rng_for
from .steps import Step, solve

SOLVE_SECONDS = 10.0


@dataclass(frozen=True)
class Solved:
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    wrt: tuple[sp.Symbol, ...]
    trees: tuple[Step, ...]
    single: bool

    def as_json(self) -> dict:
        answers = [sp.sstr(t.result) for t in self.trees]
        latexes = [tex(t.result) for t in self.trees]
        steps = [step_json(t) for t in self.trees]
        one = self.single
        return {
            "expr": sp.sstr(self.expr),
            "variables": [v.name for v in self.variables],
            "wrt": self.wrt[0].name if one else [w.name for w in self.wrt],
            "answer": answers[0] if one else answers,
            "answer_latex": latexes[0] if one else latexes,
            "steps": steps[0] if one else steps,
        }

    def as_text(self) -> str:
        blocks = []
        for w, tree in zip(self.wrt, self.trees):
            head = f"d/d{w.name} {sp.sstr(self.expr)}"
            blocks.append("\n".join([head] + solution_text(tree) + [f"answer: {sp.sstr(tree.result)}"]))
        return "\n\n".join(blocks)

    def as_latex(self) -> str:
        return "".join(solution_latex(t, partial=len(self.variables) > 1) for t in self.trees)


def _wrt(text: str | None, variables: tuple[sp.Symbol, ...]) -> tuple[tuple[sp.Symbol, ...], bool]:
    if text is None:
        if len(variables) == 1:
            return variables, True
        if not variables:
            return (sp.Symbol("x", real=True),), True
        names = ",".join(v.name for v in variables)
        raise ExgenError(f"the expression has several variables; choose with --wrt (e.g. --wrt {names})")
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ExgenError("--wrt is empty; give a variable name such as x")
    for name in names:
        if not VARIABLE.match(name):
            raise ExgenError(f"--wrt {name!r} is not a variable name; use names such as x, y, z1")
    return tuple(sp.Symbol(n, real=True) for n in names), len(names) == 1 and "," not in text


def solve_expression(text: str, wrt_text: str | None = None) -> Solved:
    expr, variables = parse_user_expression(text)
    wrt, single = _wrt(wrt_text, variables)
    every = tuple(sorted(set(variables) | set(wrt), key=lambda s: s.name))
    try:
        with time_budget(SOLVE_SECONDS):
            trees = tuple(solve(expr, w) for w in wrt)
            domain = choose_domain(expr, every) or Domain(positive=True)
            points = sample_points(domain, every, rng_for("solve", sp.sstr(expr)), n=6)
            for tree in trees:
                verdict = check_tree(tree, points)
                if not verdict.ok:
                    raise ExgenError(f"exgen could not confirm this derivation numerically, so it is not "
                                     f"printed ({verdict.detail})")
    except BudgetExceeded:
        raise ExgenError(f"deriving {text!r} took longer than {SOLVE_SECONDS:g} s; try a smaller expression") from None
    return Solved(expr, every, wrt, trees, single)
