"""Random composition of the rule tables into functions to differentiate.

Difficulty is a budget of rule applications split across sub-expressions
(the idea of mathematics_dataset's `SampleArgs.split`): `term(rng, budget)`
builds an expression whose derivation needs about `budget` rule applications.
It is only a target: the sheet measures the real count on the derivation
tree and redraws candidates outside the requested level.

Every draw takes an explicit `random.Random` and chooses only from tuples, so
a seed determines the result on every machine and PYTHONHASHSEED.
"""

import functools
import math
import random
from dataclasses import dataclass

import mpmath
import sympy as sp

from .numeric import FLOAT, compiled, numeric_callable
from .registry import RULES, Rule, to_elementary
from .seeding import pick

X = sp.Symbol("x", real=True)

POSITIVE_GRID = (0.01, 0.05, 0.1) + tuple(0.125 * i for i in range(1, 49))
REAL_GRID = tuple(0.125 * i for i in range(-32, 33))


UNIT_GRID = tuple(0.02 * i for i in range(1, 50))


@dataclass(frozen=True)
class Domain:
    """Where a problem's function is defined: all reals, every variable > 0,
    (probabilities) every variable in (0, 1), or every variable within
    `bound` of 0 (tan 3x for |x| < 1/2, arcsin 2x for |x| < 1/2)."""

    positive: bool = False
    unit: bool = False
    names: tuple[str, ...] = ()  # the variables the printed condition is about (default: all)
    bound: sp.Rational | None = None

    @property
    def sample_interval(self) -> tuple[float, float]:
        if self.unit:
            return (0.05, 0.95)
        if self.bound is not None:
            return (-0.9 * float(self.bound), 0.9 * float(self.bound))
        return (0.2, 3.0) if self.positive else (-2.5, 2.5)

    @property
    def grid(self) -> tuple[float, ...]:
        if self.unit:
            return UNIT_GRID
        if self.bound is not None:  # strictly inside, where a sample point may fall
            return tuple(float(self.bound) * i / 32 for i in range(-29, 30))
        return POSITIVE_GRID if self.positive else REAL_GRID

    @property
    def friendly_points(self) -> tuple:
        """Values a worked example evaluates at: small integers, or simple fractions."""
        if self.unit:
            return (sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(3, 4))
        if self.bound is not None:
            b = sp.Rational(self.bound)
            return (-b / 2, -b / 4, b / 4, b / 2)
        return (1, 2, 3, 4) if self.positive else (-2, -1, 1, 2)

    def statement(self, variables: tuple[sp.Symbol, ...]) -> str:
        """The condition printed beside the problem, in LaTeX (empty for all reals)."""
        from .forms import tex

        if self.names:
            variables = tuple(v for v in variables if v.name in self.names)
        if self.unit:
            return ", ".join(f"0 < {tex(v)} < 1" for v in variables)
        if self.bound is not None:
            return ", ".join(r"\left|%s\right| < %s" % (tex(v), tex(sp.Rational(self.bound))) for v in variables)
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
    # 2 or 3: a higher derivative (one variable), or with several `wrt` the Hessian (order 2).
    order: int = 1
    # The values the problem gives its variables (a network's weights): "at a point" is this point.
    given: tuple = ()
    # A key worked at those values by the topic itself (a `worked.Worked`: a
    # forward pass and a backward pass), checked and printed instead of the trees.
    worked: object = None
    # What a reader sees first, where the topic knows better than the first
    # tree's rules (a network: its layers, activations and loss).
    outline: tuple = ()
    # The topic's own "same problem with other numbers" (a network's layers,
    # activations, loss and labels), where `sheet.shape` of its function would
    # cost more than the problem (it rebuilds the whole tree).
    shape: str = ""
    # () -> the whole Draft: a topic whose trees and key are costly hands the
    # sheet the function first and builds the rest only once the function is
    # accepted (not a repeat, not the same shape or outline as the sheets' others).
    complete: object = None


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
    order: int = 1
    given: tuple = ()
    worked: object = None
    outline: tuple = ()
    shape: str = ""
    # The domain as printed, where it differs from `domain`'s own statement:
    # the function's whole domain as a textbook writes it (x != 0, x > -1),
    # while `domain` is where the oracle samples (inside it).
    stated: str | None = None

    @property
    def statement(self) -> str:
        """The condition printed beside the problem (LaTeX; empty for all reals)."""
        return self.stated if self.stated is not None else self.domain.statement(self.variables)

    @property
    def targets(self) -> tuple[tuple[str, sp.Expr, sp.Symbol], ...]:
        """(name, function, variable) of each derivative asked: a Jacobian row
        by row; for a higher derivative the variable of its last stage (the
        Hessian row by row)."""
        if not self.components:
            return tuple((self.name, self.expr, by[-1]) for by in self.orders)
        return tuple((name, c, w) for name, c in self.components for w in self.wrt)

    @property
    def orders(self) -> tuple[tuple[sp.Symbol, ...], ...]:
        """The variables of each derivative asked, in the order they are taken:
        (x,), or (x, x) for f'', or (x, y) for the Hessian's entry f_xy."""
        if self.order == 1:
            return tuple((w,) for w in self.wrt)
        if len(self.wrt) == 1:
            return (self.wrt * self.order,)
        return tuple((a, b) for a in self.wrt for b in self.wrt)


def coefficient(rng: random.Random, low: int = 2, high: int = 6, signed: bool = True) -> sp.Integer:
    value = rng.randint(low, high)
    return sp.Integer(-value if signed and rng.random() < 0.3 else value)


def outer_rules(pool: str = "calculus", positive: bool = False) -> tuple[Rule, ...]:
    """The rules drawn as outer functions in `pool`, each repeated by its
    weight; with `positive`, only those positive for a positive argument."""
    return _drawn(pool, False, positive)


def leaf_rules(pool: str = "calculus", positive: bool = False) -> tuple[Rule, ...]:
    """As `outer_rules`, for the basic functions of x in sums and products."""
    return _drawn(pool, True, positive)


_pools: dict = {}


def _drawn(pool: str, leaf: bool, positive: bool) -> tuple[Rule, ...]:
    key = (RULES.version, pool, leaf, positive)
    found = _pools.get(key)
    if found is None:
        rules = [r for r in RULES.drawn(pool) if (r.draw.leaf or not leaf)
                 and (r.draw.positive_valued or not positive)]
        found = _pools[key] = tuple(r for r in rules for _ in range(r.draw.weight))
        if not found:
            raise ValueError(f"no rule is drawn in the pool {pool!r}")
    return found


def needs_positive(rule: Rule) -> bool:
    """Must the argument itself be positive (ln u, sqrt u, log_k u)?"""
    condition = getattr(rule, "condition", None)
    if condition is None:
        return False
    parameters = tuple(sp.Symbol(f"_p{i}") for i in range(len(rule.parameters)))
    return any(part == _U and requirement == "positive" for part, requirement in condition(_U, *parameters))


_U = sp.Symbol("_u")


def apply_outer(rng: random.Random, rule: Rule, u: sp.Expr) -> sp.Expr:
    """The rule's function of `u`, its parameters drawn from `rng`."""
    return rule.draw.build(rng, u)


def power(rng: random.Random, x: sp.Symbol = X) -> sp.Expr:
    """x^n with n integer (mostly), negative or fractional (the power rule's draw)."""
    return RULES["power"].draw.as_leaf(rng, x)


def leaf(rng: random.Random, x: sp.Symbol = X, positive: bool = False, pool: str = "calculus") -> sp.Expr:
    """A basic function of the rule tables applied to x (one rule application)."""
    return pick(rng, leaf_rules(pool, positive)).draw.as_leaf(rng, x)


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
        outer = pick(rng, outer_rules(positive=positive))
        inner_budget = budget - 2
        needs = positive or needs_positive(outer)
        for _ in range(REDRAWS):  # an inverse pair (sqrt of a square, ln of e^u) is redrawn here, cheaply
            inner_expr = (inner(rng, x, positive=needs) if inner_budget <= 3
                          else term(rng, inner_budget, x, positive=needs))
            composed = apply_outer(rng, outer, inner_expr)
            if not disguise(composed):
                break
        return composed
    left = rng.randint(1, budget - 2)
    right = budget - 1 - left
    if shape == "sum":
        return term(rng, left, x) + term(rng, right, x)
    return term(rng, left, x) * term(rng, right, x)


# Inner functions the composer draws before it keeps a disguised one (the
# sheet refuses it then, as it refuses one a topic wrote).
REDRAWS = 3


def disguise(expr: sp.Expr) -> str | None:
    """An inverse pair anywhere in the tree (ln e^u, log_k e^u, e^(k ln x),
    e^(ln x / u)): a simpler problem in disguise. The registry says which
    rules undo each other; the pair counts where the inner function is a
    term or factor of the outer's argument (ln(e^u v) = u + ln v too)."""
    for node in sp.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_Integer:
            rule, argument = RULES["power"], node.base  # (sqrt u)^2 is u
        else:
            rule = RULES.function_for(type(node))
            argument = node.args[rule.argument] if rule is not None else None
        if rule is None or not rule.inverses:
            continue
        terms = sp.Add.make_args(argument) if rule.inverse_reach == "terms" else (argument,)
        for term in terms:
            for factor in sp.Mul.make_args(term) if rule.inverse_reach != "direct" else (term,):
                if factor.is_Pow and factor.base.is_Number and factor.exp.free_symbols:
                    inner = "exponential"  # a^u
                elif factor.is_Pow and factor.exp.is_Integer and abs(factor.exp) > 1:
                    inner = "power"  # sqrt(u^2) is |u|
                else:
                    base = factor.base if factor.is_Pow else factor
                    found = RULES.function_for(type(base))
                    inner = found.name if found is not None else None
                if inner in rule.inverses:
                    return f"{rule.name} of {inner}"
    return None



def _critical_parts(expr: sp.Expr):
    """(sub-expression, requirement) pairs that decide where `expr` is defined,
    as each head's rule states them (an unknown head is an error)."""
    for node in sp.preorder_traversal(expr):
        yield from RULES.conditions(node)


def _sorted_parts(expr: sp.Expr) -> tuple:
    """`_critical_parts` once each, in a fixed order (not the hash seed's)."""
    return _parts(RULES.version, expr)


# Remembered: a candidate's domain, textbook domain and edges read the same
# parts. Keyed by the registry's version, whose rules state the conditions.
@functools.lru_cache(maxsize=1024)
def _parts(version: int, expr: sp.Expr) -> tuple:
    return tuple(sorted(set(_critical_parts(expr)), key=lambda p: (sp.default_sort_key(p[0]), p[1])))


def forget() -> None:
    """Drop the remembered conditions and their tests (see `forms.forget`)."""
    _parts.cache_clear()
    _holds_on.cache_clear()


# Remembered (by the registry's version too): the same parts (x, x^2 + 1)
# recur in candidate after candidate.
@functools.lru_cache(maxsize=4096)
def _holds_on(version: int, part: sp.Expr, requirement: str, variables, grid) -> bool:
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


# All reals, then x > 0, then narrower and narrower intervals around 0 (tan 3x, arcsin 2x).
DOMAINS = (Domain(), Domain(positive=True), Domain(bound=sp.Integer(1)), Domain(bound=sp.Rational(1, 2)),
           Domain(bound=sp.Rational(1, 4)))


def choose_domain(expr: sp.Expr, variables: tuple[sp.Symbol, ...],
                  candidates: tuple[Domain, ...] = DOMAINS) -> Domain | None:
    """The first candidate domain (by default all reals, then x > 0, then
    |x| < 1, 1/2, 1/4) on which every condition of `expr`'s rules holds (a
    logarithm's argument positive, a denominator nonzero, ...), else None."""
    parts = _sorted_parts(expr)
    for domain in candidates:
        if all(_holds_on(RULES.version, part, req, variables, domain.grid) for part, req in parts):
            return domain
    return None


def textbook_domain(expr: sp.Expr, x: sp.Symbol) -> str | None:
    """The whole domain of a function of x as a textbook states it, in LaTeX:
    "" for all reals, "x > -1", "x \\neq 0", "x > 0, x \\neq 1", "|x| < 1/3";
    None where a condition is not a rational function of x (cos u != 0 for
    tan u) or the domain is not one of those forms. A sign chart of each
    condition's numerator and denominator, not SymPy's inequality solver
    (tens of milliseconds a problem)."""
    domain = sp.S.Reals
    for part, requirement in _sorted_parts(expr):
        allowed = _where_holds(part, requirement, x)
        if allowed is None:
            return None
        domain = domain.intersect(allowed)
    return _describe(domain, x)


def _where_holds(part: sp.Expr, requirement: str, x: sp.Symbol):
    """The set of x where `part` is positive (or nonzero), or None."""
    part = to_elementary(part)
    while True:
        if part.is_positive or _bounded_above_zero(part):  # e^u, u^2 + 1, cos x + 3
            return sp.S.Reals
        if part.is_Mul:
            factors = [f for f in part.args if not f.is_positive]
            if requirement == "nonzero":
                sets = [_where_holds(f, "nonzero", x) for f in factors]
                return None if any(s is None for s in sets) else sp.Intersection(*sets)
            if len(factors) != 1:
                return None
            part = factors[0]
        elif part.is_Pow and part.exp.is_Rational and part.exp > 0:
            if not part.exp.is_Integer:
                part = part.base  # u^(1/4) is positive where u is (and its own condition says u > 0)
            elif part.exp.is_even:
                part, requirement = part.base, "nonzero"  # u^2 > 0 where u != 0
            else:
                part = part.base
        elif isinstance(part, sp.log):
            part = part.args[0] - 1  # ln u > 0 where u > 1, ln u != 0 where u != 1
        elif part.is_Add and len(part.args) == 2 and part.args[0].is_Number and part.args[0] < 0:
            # h(u) - c with h increasing and c > 0: compare u with h's inverse at c (sqrt(u) - 1: u - 1).
            c, h = -part.args[0], part.args[1]
            if h.is_Pow and h.exp.is_Rational and h.exp > 0 and not h.exp.is_Integer:
                part = h.base - c ** (1 / h.exp)
            elif isinstance(h, sp.exp):
                part = h.args[0] - sp.log(c)
            elif isinstance(h, sp.log):
                part = h.args[0] - sp.exp(c)
            else:
                break
        else:
            break
    numerator, denominator = sp.fraction(sp.together(part))
    roots = []
    for poly in (numerator, denominator):
        if not poly.free_symbols <= {x} or not poly.is_polynomial(x):
            return None
        found = sp.Poly(poly, x).real_roots() if poly.has(x) else []
        if any(not r.is_Rational for r in found):
            return None
        roots += found
    denominator_roots = set(sp.Poly(denominator, x).real_roots()) if denominator.has(x) else set()
    cuts = sorted(set(roots))
    if requirement == "nonzero":
        return sp.S.Reals - sp.FiniteSet(*cuts)
    # Positive: the open intervals between the cuts where the part is positive.
    edges = [-sp.oo] + cuts + [sp.oo]
    pieces = []
    for low, high in zip(edges, edges[1:]):
        probe = (low + high) / 2 if low.is_finite and high.is_finite else (
            high - 1 if low is -sp.oo and high.is_finite else low + 1 if high is sp.oo and low.is_finite else 0)
        if part.xreplace({x: probe}) > 0:
            pieces.append(sp.Interval.open(low, high))
    return sp.Union(*pieces) - sp.FiniteSet(*denominator_roots) if pieces else sp.S.EmptySet


def _bounded_above_zero(part: sp.Expr) -> bool:
    """Positive for every real x by interval bounds: sin and cos in [-1, 1],
    e^u above 0 (cos x + 3, e^x + 1)."""
    try:
        bounds = part.replace(lambda e: isinstance(e, (sp.sin, sp.cos)), lambda e: sp.AccumBounds(-1, 1)).replace(
            lambda e: isinstance(e, sp.exp), lambda e: sp.AccumBounds(0, sp.oo))
    except (TypeError, ValueError):
        # SymPy cannot bound it (cos(e^(3x^5 + sin x)): a cosine of symbolic
        # bounds raises "input failed to evaluate"): not known positive.
        return False
    if bounds.free_symbols:
        return False
    low = bounds.min if isinstance(bounds, sp.AccumBounds) else bounds
    return bool(low.is_positive)


def _describe(domain, x: sp.Symbol) -> str | None:
    from .forms import tex

    if domain == sp.S.Reals:
        return ""
    hull = sp.Interval(domain.inf, domain.sup, True, True)
    holes = hull - domain
    if not isinstance(holes, sp.FiniteSet) and holes != sp.S.EmptySet:
        return None
    v = tex(x)
    low, high = domain.inf, domain.sup
    if low == -sp.oo and high == sp.oo:
        bounds = []
    elif high == sp.oo:
        bounds = [f"{v} > {tex(low)}"]
    elif low == -sp.oo:
        bounds = [f"{v} < {tex(high)}"]
    elif low == -high:
        bounds = [r"\left|%s\right| < %s" % (v, tex(high))]
    else:
        bounds = [f"{tex(low)} < {v} < {tex(high)}"]
    holes = sorted(holes) if holes != sp.S.EmptySet else []
    return ", ".join(bounds + [r"%s \neq %s" % (v, tex(h)) for h in holes])


def edge_on_a_grid(expr: sp.Expr, x: sp.Symbol) -> sp.Rational | None:
    """A point where `expr` is defined but its derivative is not (the edge of
    sqrt(3x + 3) at x = -1, of arcsin(4x) at 1/4) that is a decimal with two
    places between 0.05 and 2.95 from 0: a checker sampling at k/100 there (as
    the reference checker does, whatever domain the sheet states) would find
    no derivative. None if there is none."""
    for part, requirement in _sorted_parts(expr):
        if requirement != "positive":
            continue
        numerator = sp.fraction(sp.together(to_elementary(part)))[0]
        if not (numerator.free_symbols <= {x} and numerator.is_polynomial(x) and numerator.has(x)):
            continue
        for root in sp.Poly(numerator, x).real_roots():
            if not (root.is_Rational and 100 % root.q == 0 and sp.Rational(1, 20) <= abs(root) <= sp.Rational(59, 20)):
                continue
            value = _mp_values(numeric_callable((x,), to_elementary(expr)), 1)(root)
            if value is not None:
                return root
    return None
