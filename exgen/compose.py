"""Random composition of the rule tables into functions to differentiate.

Difficulty is a budget of rule applications split across sub-expressions
(the idea of mathematics_dataset's `SampleArgs.split`): `term(rng, budget)`
builds an expression whose derivation needs about `budget` rule applications.
It is only a target: the sheet measures the real count on the derivation
tree and redraws candidates outside the requested level.

Every draw takes an explicit `random.Random` and chooses only from tuples, so
a seed determines the result on every machine and PYTHONHASHSEED.
"""

import math
import random
from dataclasses import dataclass

import mpmath
import sympy as sp

from .functions import log_base, to_elementary
from .numeric import FLOAT, compiled, numeric_callable

X = sp.Symbol("x", real=True)

POSITIVE_GRID = (0.01, 0.05, 0.1) + tuple(0.125 * i for i in range(1, 49))
REAL_GRID = tuple(0.125 * i for i in range(-32, 33))


UNIT_GRID = tuple(0.02 * i for i in range(1, 50))


@dataclass(frozen=True)
class Domain:
    """Where a problem's function is defined: all reals, every variable > 0,
    or (probabilities) every variable in (0, 1)."""

    positive: bool = False
    unit: bool = False
    names: tuple[str, ...] = ()  # the variables the printed condition is about (default: all)

    @property
    def sample_interval(self) -> tuple[float, float]:
        if self.unit:
            return (0.05, 0.95)
        return (0.2, 3.0) if self.positive else (-2.5, 2.5)

    @property
    def grid(self) -> tuple[float, ...]:
        if self.unit:
            return UNIT_GRID
        return POSITIVE_GRID if self.positive else REAL_GRID

    def statement(self, variables: tuple[sp.Symbol, ...]) -> str:
        """The condition printed beside the problem, in LaTeX (empty for all reals)."""
        from .forms import tex

        if self.names:
            variables = tuple(v for v in variables if v.name in self.names)
        if self.unit:
            return ", ".join(f"0 < {tex(v)} < 1" for v in variables)
        if not self.positive:
            return ""
        return ", ".join(f"{tex(v)} > 0" for v in variables)


@dataclass(frozen=True)
class Draft:
    """What a topic draws: a function, what to differentiate it by, how to show it.

    `preferred` holds the course's form of each answer (sigma(1 - sigma),
    (y_hat - y)/(y_hat (1 - y_hat) ln 2), ...) where no cheap tidy reaches it;
    it is checked numerically like every other result.
    """

    expr: sp.Expr
    wrt: tuple[sp.Symbol, ...] = (X,)
    domain: Domain | None = None
    name: str = "f"
    preferred: tuple[sp.Expr, ...] = ()
    note: str = ""
    prompt: str = ""  # LaTeX shown instead of "f(x) = ..." (e.g. a definition with a sum)
    steps: tuple = ()  # derivation trees built by the topic itself (else the engine derives)
    at_point: bool = False  # the problem gives values (logits) and asks for exact values there
    # A vector function (name, component) ...: the problem asks for its Jacobian,
    # and `steps`/`preferred` hold one entry per (component, variable), row by row.
    components: tuple[tuple[str, sp.Expr], ...] = ()
    point_values: tuple = ()  # what "evaluate at a point" draws each variable from (default: by domain)
    via: tuple = ()  # per answer, a form shown (and checked) between the rules' result and `preferred`


@dataclass(frozen=True)
class Exercise:
    """A function to differentiate: what composition hands to the solver."""

    topic: str
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    wrt: tuple[sp.Symbol, ...]
    domain: Domain
    name: str = "f"
    note: str = ""
    prompt: str = ""
    components: tuple[tuple[str, sp.Expr], ...] = ()
    point_values: tuple = ()
    # The topic gives the values (logits): the same function at another point is another problem.
    at_point: bool = False

    @property
    def targets(self) -> tuple[tuple[str, sp.Expr, sp.Symbol], ...]:
        """(name, function, variable) of each derivative asked: a Jacobian row by row."""
        if not self.components:
            return tuple((self.name, self.expr, w) for w in self.wrt)
        return tuple((name, c, w) for name, c in self.components for w in self.wrt)


def pick(rng: random.Random, options: tuple):
    return options[rng.randrange(len(options))]


def coefficient(rng: random.Random, low: int = 2, high: int = 6, signed: bool = True) -> sp.Integer:
    value = rng.randint(low, high)
    return sp.Integer(-value if signed and rng.random() < 0.3 else value)


INTEGER_EXPONENTS = (2, 3, 4, 5)
NEGATIVE_EXPONENTS = (-1, -2, -3)
FRACTIONAL_EXPONENTS = (sp.Rational(1, 2), sp.Rational(3, 2), sp.Rational(-1, 2),
                        sp.Rational(1, 3), sp.Rational(2, 3), sp.Rational(5, 2))
LOG_BASES = (2, 3, 10)


def power(rng: random.Random, x: sp.Symbol = X) -> sp.Expr:
    """x^n with n integer (mostly), negative or fractional."""
    kind = pick(rng, ("int", "int", "int", "neg", "frac"))
    if kind == "int":
        return x ** pick(rng, INTEGER_EXPONENTS)
    if kind == "neg":
        return x ** pick(rng, NEGATIVE_EXPONENTS)
    return x ** pick(rng, FRACTIONAL_EXPONENTS)


def leaf(rng: random.Random, x: sp.Symbol = X, positive: bool = False) -> sp.Expr:
    """A basic function of the rule tables (one rule application)."""
    if positive:
        return pick(rng, (power, power, lambda r, v: sp.exp(v)))(rng, x)
    return pick(rng, (
        power, power,
        lambda r, v: sp.exp(v),
        lambda r, v: sp.log(v),
        lambda r, v: sp.sin(v),
        lambda r, v: sp.cos(v),
        lambda r, v: log_base(v, pick(r, LOG_BASES)),
    ))(rng, x)


def inner(rng: random.Random, x: sp.Symbol = X, positive: bool = False) -> sp.Expr:
    """A small inner function for a chain: kx, kx + b, x^2 + c, x^n."""
    k = coefficient(rng, 2, 5, signed=not positive)
    shape = pick(rng, ("kx", "kx+b", "x^2+c", "x^n"))
    if shape == "kx":
        return k * x
    if shape == "kx+b":
        return k * x + coefficient(rng, 1, 5, signed=not positive)
    if shape == "x^2+c":
        return x**2 + coefficient(rng, 1, 5, signed=False)
    return x ** pick(rng, (2, 3))


OUTERS = ("exp", "ln", "sin", "cos", "power", "sqrt", "log_k")
NEEDS_POSITIVE = ("ln", "sqrt", "log_k")


def apply_outer(rng: random.Random, name: str, u: sp.Expr) -> sp.Expr:
    if name == "exp":
        return sp.exp(u)
    if name == "ln":
        return sp.log(u)
    if name == "sin":
        return sp.sin(u)
    if name == "cos":
        return sp.cos(u)
    if name == "sqrt":
        return sp.sqrt(u)
    if name == "log_k":
        return log_base(u, pick(rng, LOG_BASES))
    return u ** pick(rng, (2, 3, 4, -1, -2))


def term(rng: random.Random, budget: int, x: sp.Symbol = X, positive: bool = False) -> sp.Expr:
    """An expression whose derivation needs about `budget` rule applications."""
    if budget <= 1:
        return leaf(rng, x, positive)
    if budget == 2:
        return coefficient(rng, signed=not positive) * leaf(rng, x, positive)
    if budget <= 5:
        shapes = ("chain", "chain", "sum", "product")
    else:
        shapes = ("chain", "sum", "product", "product")
    shape = "chain" if positive else pick(rng, shapes)
    if shape == "chain":
        outer = pick(rng, ("exp", "power") if positive else OUTERS)
        inner_budget = budget - 2
        needs_positive = positive or outer in NEEDS_POSITIVE
        inner_expr = (inner(rng, x, positive=needs_positive) if inner_budget <= 3
                      else term(rng, inner_budget, x, positive=needs_positive))
        return apply_outer(rng, outer, inner_expr)
    left = rng.randint(1, budget - 2)
    right = budget - 1 - left
    if shape == "sum":
        return term(rng, left, x) + term(rng, right, x)
    return term(rng, left, x) * term(rng, right, x)


def _critical_parts(expr: sp.Expr):
    """(sub-expression, requirement) pairs that decide where `expr` is defined."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.log):
            yield node.args[0], "positive"
        elif isinstance(node, log_base):
            yield node.args[0], "positive"
        elif node.is_Pow and node.base.free_symbols:
            if not node.exp.is_integer:
                yield node.base, "positive"
            elif node.exp.is_negative:
                yield node.base, "nonzero"


def _holds_on(part: sp.Expr, requirement: str, variables, grid) -> bool:
    """Is `part` positive (or nonzero) everywhere on the grid of a domain?

    In floats first, where only a clear yes counts (every value, and every
    dip between grid points, at least 1e-3 from zero: no machine's rounding
    in the last digit tips that); anything closer is decided by mpmath with
    the thresholds below, as it always was."""
    elementary = to_elementary(part)
    fast = compiled(variables, elementary, FLOAT)
    if fast is not None and _holds(_float_values(fast, len(variables)), requirement, grid, 1e-3, 1e-3):
        return True
    return _holds(_mp_values(numeric_callable(variables, elementary), len(variables)), requirement, grid, 1e-9, 1e-6)


def _float_values(fn, arity: int):
    def value_at(t):
        try:
            v = fn(*([float(t)] * arity))
        except (ArithmeticError, ValueError, TypeError):
            return None
        return v if isinstance(v, float) and math.isfinite(v) else None
    return value_at


def _mp_values(fn, arity: int):
    def value_at(t):
        try:
            v = fn(*([mpmath.mpf(t)] * arity))
        except (ZeroDivisionError, ValueError, OverflowError, MemoryError):
            return None  # MemoryError: e^(e^(10^12)) has no place in memory, let alone on a sheet
        if isinstance(v, (mpmath.mpc, complex)) or not mpmath.isfinite(v):
            return None
        return v
    return value_at


def _holds(value_at, requirement: str, grid, least_positive: float, least_size: float) -> bool:
    values = [value_at(t) for t in grid]
    if any(v is None for v in values):
        return False
    if requirement == "positive" and min(values) <= least_positive:
        return False
    if any(abs(v) < least_size or a * b < 0 for v, a, b in zip(values, values, values[1:])):
        return False
    # A zero the grid steps over without a sign change (a touching zero such
    # as (sin x - 1)^2) shows as a local minimum of |part|: refine each one.
    for i in range(1, len(grid) - 1):
        if abs(values[i]) <= abs(values[i - 1]) and abs(values[i]) <= abs(values[i + 1]):
            low, high = grid[i - 1], grid[i + 1]
            for _ in range(40):
                a, b = low + (high - low) / 3, high - (high - low) / 3
                va, vb = value_at(a), value_at(b)
                if va is None or vb is None:
                    return False
                if abs(va) < abs(vb):
                    high = b
                else:
                    low = a
            v = value_at((low + high) / 2)
            if v is None or abs(v) < least_size:
                return False
    return True


def choose_domain(expr: sp.Expr, variables: tuple[sp.Symbol, ...],
                  candidates: tuple[Domain, ...] = (Domain(), Domain(positive=True))) -> Domain | None:
    """The first candidate domain (by default all reals, then x > 0) on which
    every logarithm, root and denominator of `expr` is defined, else None."""
    parts = sorted(set(_critical_parts(expr)), key=lambda p: (sp.default_sort_key(p[0]), p[1]))
    for domain in candidates:
        if all(_holds_on(part, req, variables, domain.grid) for part, req in parts):
            return domain
    return None
