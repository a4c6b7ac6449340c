"""Rules that combine derivatives: sum, difference, product, quotient, the
chain rule, logarithmic differentiation, the multivariable chain rule, and
the rows the derivations of the documents start from (an arbitrary f(x), the
definition of the derivative) or end with (simplifying).

The chain rule's mechanics are the engine's (`steps.chain_through`), since
every function rule uses them; its table row is here.
"""

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import UnsupportedExpression
from ..registry import RULES, Rule
from ..steps import Context, Step, chain_through, derive
from .basic import split_coefficient


def _terms(expr):
    return expr.as_ordered_terms()


def _sum_step(name, expr, wrt, ctx):
    terms = _terms(expr)
    subs = tuple(derive(t, wrt, ctx) for t in terms)
    return Step(name, expr, wrt, sp.Add(*(s.result for s in subs)),
                parts=tuple((f"f_{i + 1}", t) for i, t in enumerate(terms)), substeps=subs)


def _subtracts(expr) -> bool:
    return any(t.could_extract_minus_sign() for t in _terms(expr)[1:])


def _difference(expr, wrt, ctx):
    """d/dx (f - g) = f' - g'."""
    return _sum_step("difference", expr, wrt, ctx) if _subtracts(expr) else None


def _sum(expr, wrt, ctx):
    """d/dx (f + g) = f' + g'."""
    return None if _subtracts(expr) else _sum_step("sum", expr, wrt, ctx)


RULES.register(Rule(name="sum", title="Sum rule", function="f + g", derivative="f' + g'",
                    heads=(sp.Add,), apply=_sum))
RULES.register(Rule(name="difference", title="Difference rule", function="f - g", derivative="f' - g'",
                    heads=(sp.Add,), apply=_difference))


def _is_denominator(factor: sp.Expr) -> bool:
    return factor.is_Pow and factor.exp.is_Rational and factor.exp.is_negative


def _product_factors(expr, wrt):
    k, rest = split_coefficient(expr, wrt)
    return None if k != 1 else sp.Mul.make_args(rest)


def _fraction(factors):
    """(numerator factors, denominator factors) of a product."""
    return [f for f in factors if not _is_denominator(f)], [f for f in factors if _is_denominator(f)]


def _quotient(expr, wrt, ctx):
    """d/dx f/g = (g f' - f g') / g^2."""
    factors = _product_factors(expr, wrt)
    if factors is None:
        return None
    numerator, denominator = _fraction(factors)
    if not (numerator and denominator):
        return None
    f = sp.Mul(*numerator)
    g = sp.Mul(*(d.base ** -d.exp for d in denominator))
    df, dg = derive(f, wrt, ctx), derive(g, wrt, ctx)
    result = (g * df.result - f * dg.result) / g**2
    return Step("quotient", expr, wrt, result, parts=(("f", f), ("g", g)), substeps=(df, dg))


def product_step(expr: sp.Expr, wrt: sp.Symbol, f: sp.Expr, g: sp.Expr, ctx: Context | None = None) -> Step:
    """d/dx (f g) = f g' + g f', on a split chosen by the caller (the quotient
    rule derived as f * g^-1 is a product, not a quotient)."""
    df, dg = derive(f, wrt, ctx), derive(g, wrt, ctx)
    return Step("product", expr, wrt, f * dg.result + g * df.result,
                parts=(("f", f), ("g", g)), substeps=(df, dg))


def _product(expr, wrt, ctx):
    """d/dx (f g) = f g' + g f'."""
    factors = _product_factors(expr, wrt)
    if factors is None or all(_fraction(factors)):
        return None  # a quotient
    return product_step(expr, wrt, factors[0], sp.Mul(*factors[1:]), ctx)


RULES.register(Rule(name="product", title="Product rule", function="f g", derivative="f g' + g f'",
                    heads=(sp.Mul,), apply=_product))
RULES.register(Rule(name="quotient", title="Quotient rule", function=r"\frac{f}{g}",
                    derivative=r"\frac{g f' - f g'}{g^{2}}", heads=(sp.Mul,), apply=_quotient))
RULES.register(Rule(name="chain", title="Chain rule", function="f(g(x))", derivative="f'(g(x)) \\, g'(x)"))


def _log_differentiation(expr, wrt, ctx):
    """f^g with both depending on x: f^g = e^{g ln f}, so (f^g)' = f^g (g ln f)'."""
    base, exponent = expr.as_base_exp()
    if not (base.has(wrt) and exponent.has(wrt)):
        return None
    sub = derive(exponent * sp.log(base), wrt, ctx)
    return Step("log_differentiation", expr, wrt, expr * sub.result,
                parts=(("f", base), ("g", exponent)), substeps=(sub,))


RULES.register(Rule(name="log_differentiation", title="Logarithmic differentiation", function="f^{g}",
                    derivative=r"f^{g} \left(g' \ln f + \frac{g f'}{f}\right)",
                    heads=(sp.Pow,), apply=_log_differentiation))
RULES.register(Rule(
    name="multivariable_chain", title="Multivariable chain rule", function=r"z = f(x(t), y(t))",
    derivative=r"\frac{dz}{dt} = \frac{\partial f}{\partial x} \frac{dx}{dt} + \frac{\partial f}{\partial y} "
               r"\frac{dy}{dt}"))


def _arbitrary(expr, wrt, ctx):
    """An arbitrary function f(x) of the general rules: its derivative is f'(x);
    f(g(x)) by the chain rule, f'(g(x)) g'(x)."""
    if len(expr.args) != 1:
        raise UnsupportedExpression(f"no rule for {sp.sstr(expr)}: arbitrary functions take one argument")
    (arg,) = expr.args
    if arg == wrt:
        return Step("function", expr, wrt, sp.Derivative(expr, wrt))
    return chain_through(expr, wrt, ctx, expr.func, arg)


RULES.register(Rule(name="function", title="Derivative of an arbitrary function", function="f(x)",
                    derivative="f'(x)", heads=(AppliedUndef,), apply=_arbitrary,
                    domain=lambda expr: ()))  # a general f is taken to be defined everywhere
RULES.register(Rule(name="first_principles", title="Definition of the derivative", function="f(x)",
                    derivative=r"\lim_{h \to 0} \frac{f(x+h) - f(x)}{h}"))
RULES.register(Rule(name="simplify", title="Simplify", counted=False))
