"""Basic rules: constant, x, kx, kf, x^n, the square root and |x|.

The cheat-sheet's section 1.1 and the guidebook's Table 1. The square root
is its own rule, (sqrt u)' = u' / (2 sqrt u), as textbooks teach it; x^(1/2)
typed as a power stays the power rule.
"""

import functools
import math

import mpmath
import sympy as sp

from ..registry import CourseFunction, Draw, FunctionRule, Mistake, Numeric, RULES, Rule, Text
from ..seeding import pick
from ..steps import Step, chain_through, derive


def _constant(expr, wrt, ctx):
    return None if expr.has(wrt) else Step("constant", expr, wrt, sp.Integer(0))


def _identity(expr, wrt, ctx):
    return Step("identity", expr, wrt, sp.Integer(1)) if expr == wrt else None


RULES.register(Rule(name="constant", title="Constant rule", function="k", derivative="0",
                    first=True, apply=_constant))
RULES.register(Rule(name="identity", title="Identity rule", function="x", derivative="1",
                    first=True, apply=_identity))


@functools.lru_cache(maxsize=4096)
def split_coefficient(expr: sp.Mul, wrt: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """k and f of a product k f, k free of the variable (read by several rules)."""
    return expr.as_independent(wrt, as_Add=False)


def _linear(expr, wrt, ctx):
    """d/dx kx = k."""
    k, rest = split_coefficient(expr, wrt)
    if k == 1 or rest != wrt:
        return None
    return Step("linear", expr, wrt, k, parts=(("k", k),))


def _constant_multiple(expr, wrt, ctx):
    """d/dx kf = k f'."""
    k, rest = split_coefficient(expr, wrt)
    if k == 1:
        return None
    sub = derive(rest, wrt, ctx)
    return Step("constant_multiple", expr, wrt, k * sub.result, parts=(("k", k), ("f", rest)), substeps=(sub,))


def _weight_kept(step):
    """d(w^T x)/dw_k taken as w_k: a linear layer's weight (w0, w1, ...) kept."""
    return step.wrt if step.wrt.name.rstrip("0123456789") == "w" else None


RULES.register(Rule(name="linear", title="Linear rule", function="kx", derivative="k",
                    heads=(sp.Mul,), apply=_linear, mistakes=(
                        Mistake("linear-weight", "d(w^T x)/dw_k taken as w_k: the weight kept instead of its "
                                "input x_k", _weight_kept),)))
RULES.register(Rule(name="constant_multiple", title="Constant multiple rule", function="kf", derivative=r"k f'",
                    heads=(sp.Mul,), apply=_constant_multiple,
                    combine=lambda step, results: dict(step.parts)["k"] * results[0], mistakes=(
                        Mistake("constant-dropped", "the constant factor k dropped: (kf)' taken as f'",
                                lambda step: step.substeps[0].result),)))


# The exponents the composer draws for x^n: integers mostly, negative and fractional ones too.
INTEGER_EXPONENTS = (2, 3, 4, 5)
NEGATIVE_EXPONENTS = (-1, -2, -3)
FRACTIONAL_EXPONENTS = (sp.Rational(1, 2), sp.Rational(3, 2), sp.Rational(-1, 2),
                        sp.Rational(1, 3), sp.Rational(2, 3), sp.Rational(5, 2))
OUTER_EXPONENTS = (2, 3, 4, -1, -2)


def power_of(rng, x):
    """x^n with n integer (mostly), negative or fractional."""
    kind = pick(rng, ("int", "int", "int", "neg", "frac"))
    if kind == "int":
        return x ** pick(rng, INTEGER_EXPONENTS)
    if kind == "neg":
        return x ** pick(rng, NEGATIVE_EXPONENTS)
    return x ** pick(rng, FRACTIONAL_EXPONENTS)


def _power(expr, wrt, ctx):
    """d/dx x^n = n x^{n-1}; a power of another function by the chain rule."""
    base, exponent = expr.as_base_exp()
    if exponent.has(wrt):
        return None
    if base == wrt:
        return Step("power", expr, wrt, exponent * wrt ** (exponent - 1), parts=(("n", exponent),))
    return chain_through(expr, wrt, ctx, lambda u: u**exponent, base)


def _power_conditions(expr):
    """A root needs a positive base (exgen works in the reals), 1/u a nonzero one."""
    base, exponent = expr.as_base_exp()
    if not base.free_symbols:
        return ()
    if not exponent.is_integer:
        return ((base, "positive"),)
    return ((base, "nonzero"),) if exponent.is_negative else ()


def _not_lowered(step):
    n = dict(step.parts)["n"]
    return n * step.wrt**n


def _negative_sign(step):
    n = dict(step.parts)["n"]
    return -n * step.wrt ** (n - 1) if n.is_negative else None


RULES.register(Rule(name="power", title="Power rule", function="x^{n}", derivative="n x^{n-1}",
                    heads=(sp.Pow,), apply=_power, domain=_power_conditions, inverses=("sqrt",), mistakes=(
                        Mistake("exponent-not-lowered", "the exponent not lowered: (x^n)' taken as n x^n",
                                _not_lowered),
                        Mistake("negative-power-sign", "the sign of (1/x^k)' lost: the minus of the negative "
                                "exponent dropped", _negative_sign),
                    ),
                    draw=Draw(build=lambda rng, u: u ** pick(rng, OUTER_EXPONENTS), leaf_build=power_of,
                              weight=2, positive_valued=True)))


class Sqrt(CourseFunction):
    """The square root as a function of its own: sqrt(u), not u^(1/2)."""

    nargs = 1


def _sqrt_latex(printer, expr, exp=None):
    body = r"\sqrt{%s}" % printer._print(expr.args[0])
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _float_sqrt(value: float) -> float:
    return math.sqrt(value)  # ValueError below 0: mpmath decides (and finds it complex)


RULES.register(FunctionRule(
    name="sqrt", title="Square root rule", function=r"\sqrt{x}", derivative=r"\frac{1}{2\sqrt{x}}",
    inverses=("power", "exp", "sqrt"), inverse_reach="factors",  # sqrt(sqrt u) is u^(1/4)
    text=Text("√", "after"), head=Sqrt, rate=lambda u: 1 / (2 * Sqrt(u)), condition=lambda u: ((u, "positive"),),
    elementary=lambda u: sp.sqrt(u), numeric=Numeric(_float_sqrt, mpmath.sqrt),
    names=(("sqrt", Sqrt),), latex=_sqrt_latex, plain=lambda printer, e: "sqrt(%s)" % printer._print(e.args[0]),
    mistakes=(Mistake("sqrt-no-half", "the 1/2 of the square root rule forgotten: (sqrt u)' taken as 1/sqrt u",
                      lambda step: 1 / Sqrt(step.wrt)),),
    draw=Draw(build=lambda rng, u: Sqrt(u), positive_valued=True, leaf=False)))


def _abs_latex(printer, expr, exp=None):
    body = r"\left|%s\right|" % printer._print(expr.args[0])
    return body if exp is None else r"%s^{%s}" % (body, exp)


RULES.register(FunctionRule(
    name="abs", title="Absolute value rule", function=r"|x|", derivative=r"\operatorname{sign} x \quad (x \ne 0)",
    text=Text("abs", "after"), head=sp.Abs, rate=lambda u: sp.sign(u), condition=lambda u: ((u, "nonzero"),),
    numeric=Numeric(abs, abs), names=(("abs", sp.Abs), ("Abs", sp.Abs)), latex=_abs_latex,
    draw=Draw(build=lambda rng, u: sp.Abs(u), leaf=False, weight=0)))
