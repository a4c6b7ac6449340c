"""Single-variable topics: the basic rules, sums, products, quotients, chains."""

import random
from typing import Callable

import sympy as sp

from .. import compose
from ..compose import X, Draft, coefficient, needs_positive, pick
from ..registry import RULES
from ..rules.basic import Sqrt
from ..rules.logarithms import LOG_BASES, log_base
from . import topic


def _power_term(rng: random.Random) -> sp.Expr:
    # One term in six is a square root, the rule textbooks teach beside x^n.
    base = Sqrt(X) if rng.random() < 1 / 6 else compose.power(rng)
    return coefficient(rng, 1, 6) * base


@topic("power", "Power, linear and constant rules: x^n (integer, negative, fractional), sqrt x, kx, k, "
       "and their sums", levels=("easy", "medium"), uses=("power", "sqrt"))
def _power(rng, budget):
    if budget <= 2:
        return compose.power(rng) if budget == 1 else _power_term(rng)
    terms = min(3, max(2, (budget - 1) // 2 + rng.randint(0, 1)))
    parts = [_power_term(rng) for _ in range(terms)]
    if rng.random() < 0.5:
        parts.append(coefficient(rng, 1, 9))
    return sp.Add(*parts)


def _function_family(make: Callable[[sp.Expr], sp.Expr], positive_inner: bool):
    """Easy: f(x), k f(x), f(kx); medium: f(inner), x^n f(kx); hard: f of a
    composed term, x^n f(inner). (Budgets on the builder's scale, see topics.BUDGETS.)"""
    def build(rng, budget):
        if budget == 1:
            return make(X)
        if budget == 2:
            return coefficient(rng) * make(X)
        if budget == 3:
            return make(coefficient(rng, 2, 5, signed=not positive_inner) * X)
        if budget <= 8:
            if rng.random() < 0.5:
                return compose.power(rng) * make(coefficient(rng, 2, 5, signed=not positive_inner) * X)
            return make(compose.inner(rng, positive=positive_inner))
        if rng.random() < 0.5:
            # x^n f(inner) alone is a medium problem's four or five rules: a second term makes it hard.
            return (compose.power(rng) * make(compose.inner(rng, positive=positive_inner))
                    + compose.term(rng, max(1, budget - 11)))
        return make(compose.term(rng, budget - 5, positive=positive_inner))
    return build


def drilled_by(name: str) -> tuple:
    """The function rules a topic drills (their `draw.topics` name it)."""
    return tuple(r for r in RULES.functions() if r.draw is not None and name in r.draw.topics)


def _family_of(name: str):
    """A topic over every function rule registered for it (trig: sin, cos, tan):
    each problem draws one of them, as `_function_family` builds it."""
    def build(rng, budget):
        rule = pick(rng, drilled_by(name))
        return _function_family(lambda u: rule.draw.build(rng, u), needs_positive(rule))(rng, budget)
    return build


topic("exp", "Exponential rules: e^x, e^f (chain rule)", uses=("exp",))(_function_family(sp.exp, False))
topic("ln", "Natural logarithm: ln x and ln f = f'/f, on x > 0 where needed", uses=("ln",))(_function_family(sp.log, True))
topic("log", "Logarithm to base k: log_k x = 1/(x ln k) and log_k f", uses=("log_k",))(
    lambda rng, budget: _function_family(lambda u: log_base(u, pick(rng, LOG_BASES)), True)(rng, budget))
topic("trig", "Trigonometric functions: sin x, cos x, tan x and their chains (tan on an interval around 0)",
      uses=("sin", "cos", "tan"))(_family_of("trig"))


@topic("sum", "Sum and difference rules over basic functions", root=("sum", "difference"))
def _sum(rng, budget):
    if budget <= 3:
        return compose.leaf(rng) + compose.leaf(rng) * pick(rng, (1, -1))
    left = rng.randint(1, budget - 2)
    return compose.term(rng, left) + compose.term(rng, budget - 1 - left) * pick(rng, (1, -1))


# Hard budgets below the default: larger products ran over the printable length
# of an answer four times in five (measured per 120 candidates; they cost a tidy each).
@topic("product", "Product rule f g, with basic and composed factors", root=("product",),
       budgets={"hard": (8, 11)})
def _product(rng, budget):
    if budget <= 3:
        return compose.power(rng) * compose.leaf(rng)
    left = rng.randint(1, max(1, min(3, budget - 2)))
    return compose.term(rng, left) * compose.term(rng, budget - 1 - left)


_DENOMINATORS = (
    lambda rng: X**2 + coefficient(rng, 1, 4, signed=False),
    lambda rng: X + coefficient(rng, 1, 4, signed=False),
    lambda rng: sp.exp(X) + coefficient(rng, 1, 3, signed=False),
    lambda rng: sp.cos(X) + coefficient(rng, 2, 3, signed=False),
    lambda rng: compose.power(rng),
    lambda rng: X**2 + X + coefficient(rng, 1, 3, signed=False),
)


@topic("quotient", "Quotient rule f/g (denominator non-zero on the stated domain)",
       levels=("medium", "hard"), root=("quotient",), budgets={"hard": (7, 10)})
def _quotient(rng, budget):
    numerator = compose.term(rng, max(1, budget - 5)) if budget > 6 else pick(
        rng, (lambda: X, lambda: compose.leaf(rng), lambda: _power_term(rng)))()
    return numerator / pick(rng, _DENOMINATORS)(rng)


@topic("chain", "Chain rule, two and three levels: f(g(x)), f(g(p(x)))", root=("chain",),
       budgets={"hard": (7, 10)})
def _chain(rng, budget):
    outer = pick(rng, compose.outer_rules())
    positive = needs_positive(outer)
    if budget <= 4:
        return compose.apply_outer(rng, outer, coefficient(rng, 2, 5, signed=not positive) * X)
    if budget <= 6:
        return compose.apply_outer(rng, outer, compose.inner(rng, positive=positive))
    middle = pick(rng, compose.outer_rules(positive=positive))
    middle_positive = needs_positive(middle) or positive
    # Three levels; above the smallest hard budget the innermost function grows
    # with it, so hard chains spread over the whole hard range.
    innermost = (compose.inner(rng, positive=middle_positive) if budget <= 8
                 else compose.term(rng, budget - 5, positive=middle_positive))
    return compose.apply_outer(rng, outer, compose.apply_outer(rng, middle, innermost))


# Inner functions that stay inside (-1, 1) on an interval around 0, for arcsin
# and arccos (the domain chooser finds the interval: |x| < 1/4 for 3x). Where
# |u| = 1 is never a decimal with two places (3x: 1/3; 2x^2: 1/sqrt 2), so a
# checker sampling at k/100 cannot land on the edge, where u'/sqrt(1 - u^2)
# is infinite.
_UNIT_INNERS = (
    lambda rng: pick(rng, (3, -3)) * X,
    lambda rng: X / pick(rng, (3, -3)),  # |x| < 3: its edge outside a checker's sampling range
    lambda rng: pick(rng, (2, 3)) * X**2,
    lambda rng: 2 * X**3,
    lambda rng: X**2 / 2,
)


@topic("inverse-trig", "Inverse trigonometric functions: arcsin x, arccos x = -1/sqrt(1 - x^2), "
       "arctan x = 1/(1 + x^2), and their chains", uses=("asin", "acos", "atan"))
def _inverse_trig(rng, budget):
    rules = drilled_by("inverse-trig")
    # arcsin and arccos need |u| < 1 (a condition); only arctan is drawn of x itself.
    rule = pick(rng, rules if budget > 2 else tuple(r for r in rules if r.condition is None))
    make = lambda u: rule.draw.build(rng, u)  # noqa: E731
    if rule.condition is None:
        return _function_family(make, False)(rng, budget)
    inner = pick(rng, _UNIT_INNERS[:2] if budget <= 3 else _UNIT_INNERS)(rng)
    if budget <= 4:
        return make(inner)
    if budget <= 6:
        return coefficient(rng, 2, 4) * make(inner)
    if budget <= 8:
        return compose.power(rng) * make(inner)
    return compose.power(rng) * make(inner) + compose.term(rng, budget - 7)


# f'' of calculus compositions, by level: what the first derivative leaves to
# differentiate again (a power, a product, a chain).
_SECOND = {
    "easy": (
        lambda rng: coefficient(rng, 1, 4) * X ** pick(rng, (3, 4, 5)) + coefficient(rng, 1, 5) * X**2,
        lambda rng: sp.exp(coefficient(rng, 2, 4) * X),
        lambda rng: pick(rng, (sp.sin, sp.cos))(coefficient(rng, 2, 4, signed=False) * X),
        lambda rng: coefficient(rng, 2, 5) * sp.log(X),
        lambda rng: coefficient(rng, 1, 4) * X ** pick(rng, (sp.Rational(3, 2), sp.Rational(5, 2), -1, -2)),
        lambda rng: coefficient(rng, 2, 5) * sp.exp(pick(rng, (1, -1, 2, -2, 3)) * X),
    ),
    "medium": (
        lambda rng: (coefficient(rng, 2, 4) * X + coefficient(rng, 1, 3)) ** pick(rng, (3, 4, 5)),
        lambda rng: sp.log(X**2 + coefficient(rng, 1, 4, signed=False)),
        lambda rng: X * sp.exp(coefficient(rng, 2, 3) * X),
        lambda rng: sp.exp(coefficient(rng, 1, 3, signed=False) * X**2),
        lambda rng: X**2 * sp.log(X),
        lambda rng: sp.tan(X),
        lambda rng: Sqrt(coefficient(rng, 2, 4, signed=False) * X + coefficient(rng, 1, 3, signed=False)),
        lambda rng: sp.atan(coefficient(rng, 2, 3, signed=False) * X),
    ),
    "hard": (
        lambda rng: X ** pick(rng, (2, 3)) * sp.exp(coefficient(rng, 2, 3) * X),
        lambda rng: sp.exp(pick(rng, (sp.sin, sp.cos))(pick(rng, (1, 2)) * X)),
        lambda rng: X**2 * pick(rng, (sp.sin, sp.cos))(coefficient(rng, 2, 3, signed=False) * X),
        lambda rng: X / (X**2 + coefficient(rng, 1, 4, signed=False)),
        lambda rng: sp.log(pick(rng, (sp.cos(X) + 2, X**2 + X + 1, sp.exp(X) + 1))),
        lambda rng: sp.atan(coefficient(rng, 1, 3, signed=False) * X**2),
        lambda rng: sp.exp(pick(rng, (1, -1, 2)) * X) * pick(rng, (sp.sin, sp.cos))(pick(rng, (1, 2, 3)) * X),
        lambda rng: X ** pick(rng, (2, 3)) * sp.log(X),
        lambda rng: sp.exp(-X**2 / pick(rng, (1, 2))),
    ),
}


@topic("second-derivative", "Second derivatives f'': differentiate, tidy f', differentiate again "
       "(powers, products and chains of the calculus rules)",
       ranges={"easy": (2, 3), "medium": (4, 7), "hard": (6, 16)}, by_level=True)
def _second_derivative(rng, level):
    return Draft(pick(rng, _SECOND[level])(rng), order=2)
