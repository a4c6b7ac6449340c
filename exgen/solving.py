"""`exgen solve`: the derivation of any supported expression, checked.

The same engine and oracle as the sheets: each tree is checked node by node
at random points of the expression's domain before anything is printed.
"""

import math
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from .budget import time_budget
from .check import check_tree, higher_derivative_agrees, magnitude_at, numeric_form, sample_points
from .compose import choose_domain
from .errors import BudgetExceeded, ExgenError
from .forms import tex
from .parsing import canonical_name, parse_user_expression
from .render import solution_latex, solution_text, step_json
from .seeding import rng_for
from .steps import Step, finish, multivariable_chain, solve, stages

SOLVE_SECONDS = 10.0


@dataclass(frozen=True)
class Solved:
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    wrt: tuple[sp.Symbol, ...]
    trees: tuple[Step, ...]
    single: bool
    # z = f(x, y) with x = x(t), y = y(t): the function before substitution and each path.
    paths: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    outer: sp.Expr | None = None
    # A higher derivative: the variables of each derivative asked, in order, and
    # per derivative the derivations of its earlier stages (f' before f'').
    order: int = 1
    orders: tuple[tuple[sp.Symbol, ...], ...] = ()
    earlier: tuple[tuple[Step, ...], ...] = ()

    def as_json(self) -> dict:
        answers = [sp.sstr(t.result) for t in self.trees]
        latexes = [tex(t.result) for t in self.trees]
        partial = len(self.variables) > 1
        steps = [step_json(t, partial) for t in self.trees]
        # A higher derivative: `steps` is each derivative's last stage, `earlier_steps` the stages before it.
        earlier = [[step_json(s, partial) for s in stages] for stages in self.earlier]
        one = self.single
        chain = {"function": sp.sstr(self.outer), "paths": {x.name: sp.sstr(x_t) for x, x_t in self.paths}}
        if self.order > 1 and not one:  # the Hessian, row by row
            width = len(self.wrt)
            answers = "Matrix([%s])" % ", ".join(
                "[%s]" % ", ".join(answers[i:i + width]) for i in range(0, len(answers), width))
        return {
            **({"chain": chain} if self.paths else {}),
            "expr": sp.sstr(self.expr),
            "variables": [v.name for v in self.variables],
            "wrt": self.wrt[0].name if one else [w.name for w in self.wrt],
            **({"order": self.order} if self.order > 1 else {}),
            "answer": answers[0] if one else answers,
            "answer_latex": latexes[0] if one else latexes,
            "steps": steps[0] if one else steps,
            **({"earlier_steps": earlier[0] if one else earlier} if earlier else {}),
        }

    def _asked(self):
        """(variables in order, every tree of that derivative) per derivative asked."""
        orders = self.orders or tuple((w,) for w in self.wrt)
        earlier = self.earlier or ((),) * len(self.trees)
        return zip(orders, (stages + (tree,) for stages, tree in zip(earlier, self.trees)))

    def as_text(self) -> str:
        blocks = []
        for by, trees in self._asked():
            w = by[-1]
            if len(by) > 1:
                head = f"d{len(by)}/{''.join('d' + v.name for v in reversed(by))} {sp.sstr(self.expr)}"
                lines = [f"stage {i + 1}: " + sp.sstr(t.expr) + f" by {t.wrt.name}" for i, t in enumerate(trees)]
                body = []
                for line, tree in zip(lines, trees):
                    body += [line] + solution_text(tree)
                blocks.append("\n".join([head] + body + [f"answer: {sp.sstr(trees[-1].result)}"]))
                continue
            tree = trees[-1]
            head = f"d/d{w.name} {sp.sstr(self.expr)}"
            if self.paths:
                given = ", ".join(f"{x.name} = {sp.sstr(x_t)}" for x, x_t in self.paths)
                head = f"d/d{w.name} f({', '.join(x.name for x, _ in self.paths)}) for f = {sp.sstr(self.outer)}, {given}"
                constants = sorted(self.outer.free_symbols - {x for x, _ in self.paths}, key=lambda s: s.name)
                if constants:
                    head += f" ({', '.join(c.name for c in constants)} constant)"
            blocks.append("\n".join([head] + solution_text(tree) + [f"answer: {sp.sstr(tree.result)}"]))
        return "\n\n".join(blocks)

    def as_latex(self) -> str:
        return "".join(solution_latex(t, partial=len(self.variables) > 1)
                       for _, trees in self._asked() for t in trees)


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
        if canonical_name(name) is None:
            raise ExgenError(f"--wrt {name!r} is not a variable name; use names such as x, y, z1, w_k, yhat")
    # y_hat and yhat, z_1 and z1 name one variable, as in the expression.
    return tuple(sp.Symbol(canonical_name(n), real=True) for n in names), len(names) == 1 and "," not in text


def _paths(lets: tuple[str, ...], outer: sp.Expr) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """x = x(t) for each `--let x=...`, checked against the outer function."""
    paths = []
    for let in lets:
        name, sign, body = let.partition("=")
        name = canonical_name(name.strip())  # y_hat is yhat, as in the expression
        if not sign or name is None:
            raise ExgenError(f"--let {let!r}: write a variable, '=' and its expression, e.g. --let \"x=cos(t)\"")
        symbol = sp.Symbol(name, real=True)
        if symbol not in outer.free_symbols:
            raise ExgenError(f"--let {let!r}: the expression has no variable {name}")
        if any(symbol == x for x, _ in paths):
            raise ExgenError(f"--let gives {name} twice")
        if not body.strip():
            raise ExgenError(f"--let {let!r}: the expression after '=' is empty, e.g. --let \"{name}=cos(t)\"")
        path, _ = parse_user_expression(body)
        paths.append((symbol, path))
    return tuple(paths)


def _chain_variable(wrt_text: str | None, outer: sp.Expr, paths) -> sp.Symbol:
    """The t of dz/dt: named by --wrt, or the one variable the paths depend on."""
    given = {x for x, _ in paths}
    inner = sorted(set().union(*(x_t.free_symbols for _, x_t in paths)) - given, key=lambda s: s.name)
    if wrt_text is not None:
        chosen, _ = _wrt(wrt_text, ())
        if len(chosen) != 1:
            raise ExgenError("with --let, --wrt names the one variable of the total derivative, such as t")
        (t,) = chosen
        if t not in inner:
            raise ExgenError(f"--wrt {t.name}: no --let expression depends on {t.name}; the variable of dz/dt "
                             f"must be one they use ({', '.join(s.name for s in inner) or 'they use none'})")
    elif len(inner) == 1:
        t = inner[0]
    elif not inner:
        raise ExgenError("the --let expressions are constants; give each as a function of a variable, "
                         "e.g. --let \"x=cos(t)\"")
    else:
        names = ", ".join(s.name for s in inner)
        raise ExgenError(f"choose the variable of dz/dt with --wrt (the --let expressions use: {names})")
    if t in outer.free_symbols:
        raise ExgenError(f"the expression uses {t.name} directly; with --let, give it as a function of the "
                         f"--let variables only (z = f(x, y), x = x({t.name}), y = y({t.name}))")
    if any(path.free_symbols & given for _, path in paths):
        raise ExgenError("a --let expression uses another --let variable; write each in terms of "
                         f"{t.name} directly")
    return t


# Wider and wider boxes around 0, for a function defined only somewhere else (sqrt(x - 5), ln(-x)).
_BOXES = (3.0, 10.0, 30.0, 100.0, 1000.0)


def _defined_points(expr: sp.Expr, variables, rng, n: int = 6) -> list:
    """Random points where `expr` has a finite real value: a typed expression
    need not be defined for all reals or for x > 0."""
    points = []
    for half_width in _BOXES:
        for _ in range(60):
            point = {v: mpmath.mpf(round(rng.uniform(-half_width, half_width), 3)) for v in variables}
            if magnitude_at(expr, variables, point) < math.inf:
                points.append(point)
                if len(points) == n:
                    return points
    if not points:
        raise ExgenError(f"{sp.sstr(expr)} has no real value at any point exgen tried (every variable between "
                         f"-{_BOXES[-1]:g} and {_BOXES[-1]:g}); it is not a real function there")
    return points


MAX_ORDER = 3


def solve_expression(text: str, wrt_text: str | None = None, lets: tuple[str, ...] = (), order: int = 1) -> Solved:
    if not 1 <= order <= MAX_ORDER:
        raise ExgenError(f"--order must be 1, 2 or 3, got {order}")
    expr, variables = parse_user_expression(text)
    outer, paths = None, ()
    if lets:
        outer, paths = expr, _paths(lets, expr)
        t = _chain_variable(wrt_text, outer, paths)
        expr = outer.subs(dict(paths))
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ExgenError("with these --let expressions the function is undefined (it divides by zero or "
                             "takes the logarithm of 0)")
        variables = tuple(sorted(expr.free_symbols | {t}, key=lambda s: s.name))
        wrt, single = (t,), True
    else:
        wrt, single = _wrt(wrt_text, variables)
    if order > 1 and paths:
        raise ExgenError("--order works on one expression; leave out --let")
    if order > 2 and len(wrt) > 1:
        raise ExgenError("with several --wrt variables, --order 2 gives the Hessian; higher orders need one variable")
    orders = ((wrt * order,) if len(wrt) == 1 else tuple((a, b) for a in wrt for b in wrt)) if order > 1 else ()
    every = tuple(sorted(set(variables) | set(wrt), key=lambda s: s.name))
    earlier = ()
    try:
        with time_budget(SOLVE_SECONDS):
            if paths:
                trees = (finish(multivariable_chain(outer, paths, wrt[0])),)
            elif orders:
                staged = [stages(expr, by) for by in orders]
                earlier = tuple(s[:-1] for s in staged)
                trees = tuple(finish(s[-1]) for s in staged)
            else:
                trees = tuple(solve(expr, w) for w in wrt)
            rng = rng_for("solve", sp.sstr(expr))
            # Arbitrary functions f(x), g(x) are checked as the oracle's concrete
            # functions, so the points are chosen where those are defined.
            domain = choose_domain(numeric_form(expr) if expr.has(AppliedUndef) else expr, every)
            points = sample_points(domain, every, rng, n=6) if domain else _defined_points(expr, every, rng)
            for tree in tuple(t for s in earlier for t in s) + trees:
                verdict = check_tree(tree, points)
                if not verdict.ok:
                    raise ExgenError(f"exgen could not confirm this derivation numerically, so it is not "
                                     f"printed ({verdict.detail})")
            for by, tree in zip(orders, trees):  # against the function itself, not only the stages
                verdict = higher_derivative_agrees(expr, by, tree.result, points)
                if not verdict.ok:
                    raise ExgenError(f"exgen could not confirm this derivative numerically, so it is not "
                                     f"printed ({verdict.detail})")
    except BudgetExceeded:
        raise ExgenError(f"deriving {text!r} took longer than {SOLVE_SECONDS:g} s; try a smaller expression") from None
    single = single and not (order > 1 and len(wrt) > 1)
    return Solved(expr, every, wrt, trees, single, paths, outer, order, orders, earlier)
