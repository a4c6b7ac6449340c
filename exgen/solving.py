"""`exgen solve`: the derivation of any supported expression, checked.

The same engine, oracle and narration as the sheets: each tree is checked
node by node at random points of the expression's domain, then every line
of its key at the level asked for (worked by default), before anything is
printed.
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
from .narrate import DEFAULT_POLICY, Narration, Subject, narrate, verify
from .parsing import canonical_name, parse_user_expression
from .render import step_json
from .seeding import rng_for
from .steps import Step, finish, multivariable_chain, solve, stages
from .textprint import text
from .writers import json_lines, latex_text, text_narration

SOLVE_SECONDS = 10.0


@dataclass(frozen=True)
class Solved:
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    wrt: tuple[sp.Symbol, ...]
    trees: tuple[Step, ...]
    single: bool
    # The checked narration at the level asked for (worked, full, answers).
    key: Narration
    # z = f(x, y) with x = x(t), y = y(t): the function before substitution and each path.
    paths: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    outer: sp.Expr | None = None
    # A higher derivative: the variables of each derivative asked, in order, and
    # per derivative the derivations of its earlier stages (f' before f'').
    order: int = 1
    orders: tuple[tuple[sp.Symbol, ...], ...] = ()
    earlier: tuple[tuple[Step, ...], ...] = ()

    @property
    def partial(self) -> bool:
        return len(self.variables) > 1

    @property
    def stage_trees(self) -> tuple:
        """The earlier stages the key tells first, each with its variables (f', (x,))."""
        return _distinct_stages(self.earlier, self.orders)

    def asked(self, target: int, at=()) -> str:
        """How the key names the derivative asked (LaTeX): f'(x), f''(x), dz/dt,
        or a partial (d^2 f / dy dx); an earlier stage of a higher derivative first."""
        told = self.stage_trees
        if target < len(told):
            by = told[target][1]
        else:
            target -= len(told)
            by = self.orders[target] if self.orders else (self.wrt[target],)
        w, n = by[-1], len(by)
        if self.paths:
            return r"\frac{dz}{d%s}" % tex(w)
        if self.partial:
            if n == 1:
                return r"\frac{\partial f}{\partial %s}" % tex(w)
            denominator = r"\partial %s^{%d}" % (tex(w), n) if len(set(by)) == 1 else \
                r" \, ".join(r"\partial %s" % tex(v) for v in reversed(by))
            return r"\frac{\partial^{%d} f}{%s}" % (n, denominator)
        return r"f%s(%s)" % ("'" * n, tex(w))

    def as_json(self) -> dict:
        answers = [sp.sstr(t.result) for t in self.trees]
        latexes = [tex(t.result) for t in self.trees]
        steps = [step_json(t, self.partial) for t in self.trees]
        # A higher derivative: `steps` is each derivative's last stage, `earlier_steps` the stages before it;
        # its `lines` tell the earlier stages first.
        earlier = [[step_json(s, self.partial) for s in stages] for stages in self.earlier]
        told = len(self.stage_trees)
        lines = [json_lines(self.key, k, self.asked) for k in range(told + len(self.trees))]
        lines = [[line for stage in lines[:told] for line in stage] + target for target in lines[told:]]
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
            "key": self.key.policy,
            "lines": lines[0] if one else lines,
            "steps": steps[0] if one else steps,
            **({"earlier_steps": earlier[0] if one else earlier} if earlier else {}),
        }

    def _asked_text(self, target: int, at=()) -> str | None:
        """The plain-text name of a higher derivative's stages (f'', d2f/dydx);
        the writer names first derivatives itself."""
        told = self.stage_trees
        if not told:
            return None
        by = told[target][1] if target < len(told) else self.orders[target - len(told)]
        point = ", ".join(text(a) for _, a in at)
        if not self.partial:
            return "f%s(%s)" % ("'" * len(by), point or text(by[-1]))
        if len(by) == 1:
            return f"∂f/∂{text(by[0])}"
        return f"∂{'²' if len(by) == 2 else '³'}f/" + "".join(f"∂{text(v)}" for v in reversed(by))

    def as_text(self) -> str:
        if self.paths:
            given = ", ".join(f"{text(x)} = {text(x_t)}" for x, x_t in self.paths)
            head = f"z = f({', '.join(text(x) for x, _ in self.paths)}) = {text(self.outer)}, {given}"
            constants = sorted(self.outer.free_symbols - {x for x, _ in self.paths}, key=lambda s: s.name)
            if constants:
                head += f" ({', '.join(text(c) for c in constants)} constant)"
        else:
            head = f"f({', '.join(text(v) for v in self.variables)}) = {text(self.expr)}"
        asked = self._asked_text if self.stage_trees else None
        return head + "\n" + text_narration(self.key, asked) + "\n"

    def as_latex(self) -> str:
        return latex_text(self.key, self.asked)


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


def solve_expression(typed: str, wrt_text: str | None = None, lets: tuple[str, ...] = (),
                     level: str = DEFAULT_POLICY, order: int = 1) -> Solved:
    """The derivation of what the user typed, checked, narrated at `level`;
    with `order` 2 or 3 the second or third derivative (the Hessian with
    several variables and order 2), stage by stage."""
    if not 1 <= order <= MAX_ORDER:
        raise ExgenError(f"--order must be 1, 2 or 3, got {order}")
    expr, variables = parse_user_expression(typed)
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
            told = _distinct_stages(earlier, orders)
            subject = Subject(tuple(t for t, _ in told) + trees, every, "z" if paths else "f", stages=len(told))
            key = narrate(subject, level)
            if level != "answers":  # the answers are the trees' results, checked above
                verdict = verify(key, subject, points)
                if not verdict.ok:
                    raise ExgenError(f"exgen could not confirm every line of this derivation numerically, so "
                                     f"it is not printed ({verdict.detail})")
    except BudgetExceeded:
        raise ExgenError(f"deriving {typed!r} took longer than {SOLVE_SECONDS:g} s; try a smaller expression") from None
    single = single and not (order > 1 and len(wrt) > 1)
    return Solved(expr, every, wrt, trees, single, key, paths, outer, order, orders, earlier)


def _distinct_stages(earlier, orders) -> tuple:
    """A higher derivative's earlier stages, each once, with the variables taken
    up to it (the Hessian's f_xx and f_xy share f_x)."""
    found: dict = {}
    for stages, by in zip(earlier, orders):
        for position, tree in enumerate(stages):
            found.setdefault((tree.expr, tree.wrt), (tree, by[:position + 1]))
    return tuple(found.values())
