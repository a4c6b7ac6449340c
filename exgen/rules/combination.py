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
from ..forms import tidy
from ..registry import RULES, Mistake, Rule
from ..steps import Context, Step, chain_through, derive, substituted
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


def _added(step, results):
    return sp.Add(*results)


def _sign_dropped(step):
    """Every subtracted term's derivative added as if its minus sign were not there."""
    terms = [term for _, term in step.parts]
    if not any(t.could_extract_minus_sign() for t in terms[1:]):
        return None
    return sp.Add(*(-s.result if i and t.could_extract_minus_sign() else s.result
                    for i, (t, s) in enumerate(zip(terms, step.substeps))))


RULES.register(Rule(name="sum", title="Sum rule", function="f + g", derivative="f' + g'",
                    heads=(sp.Add,), apply=_sum, combine=_added))
RULES.register(Rule(name="difference", title="Difference rule", function="f - g", derivative="f' - g'",
                    heads=(sp.Add,), apply=_difference, combine=_added, mistakes=(
                        Mistake("difference-sign", "the minus sign of a subtracted term was dropped: (f - g)' "
                                "taken as f' + g'", _sign_dropped),)))


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


def _fg(step):
    parts = dict(step.parts)
    return parts["f"], parts["g"], step.substeps[0].result, step.substeps[1].result


def _product_combined(step, results):
    f, g, _, _ = _fg(step)
    df, dg = results
    return f * dg + g * df


def _quotient_combined(step, results):
    f, g, _, _ = _fg(step)
    df, dg = results
    return (g * df - f * dg) / g**2


def _product_mistake(formula):
    def wrong(step):
        f, g, df, dg = _fg(step)
        return formula(f, g, df, dg)
    return wrong


RULES.register(Rule(name="product", title="Product rule", function="f g", derivative="f g' + g f'",
                    heads=(sp.Mul,), apply=_product, combine=_product_combined, mistakes=(
                        Mistake("product-f'g'", "the product rule taken as (fg)' = f'g'",
                                _product_mistake(lambda f, g, df, dg: df * dg)),
                        Mistake("product-one-term", "only one term of the product rule: f'g, without fg'",
                                _product_mistake(lambda f, g, df, dg: g * df)),
                    )))
RULES.register(Rule(name="quotient", title="Quotient rule", function=r"\frac{f}{g}",
                    derivative=r"\frac{g f' - f g'}{g^{2}}", heads=(sp.Mul,), apply=_quotient,
                    combine=_quotient_combined, mistakes=(
                        Mistake("quotient-plus", "a + instead of a - in the quotient rule: (gf' + fg')/g^2",
                                _product_mistake(lambda f, g, df, dg: (g * df + f * dg) / g**2)),
                        Mistake("quotient-order", "the quotient rule's numerator the wrong way round: "
                                "(fg' - gf')/g^2", _product_mistake(lambda f, g, df, dg: (f * dg - g * df) / g**2)),
                        Mistake("quotient-no-square", "the denominator of the quotient rule not squared: "
                                "(gf' - fg')/g", _product_mistake(lambda f, g, df, dg: (g * df - f * dg) / g)),
                        Mistake("quotient-f-squared", "f^2 instead of g^2 below the quotient rule: (gf' - fg')/f^2",
                                _product_mistake(lambda f, g, df, dg: (g * df - f * dg) / f**2)),
                    )))


def _chain_parts(step):
    parts = dict(step.parts)
    return parts["u"], parts["inner"], step.substeps[0].result, step.substeps[1].result


def _chain_combined(step, results):
    u, inner, _, _ = _chain_parts(step)
    outer, rate = results
    return substituted(outer, u, inner) * rate


def _no_inner(step):
    u, inner, outer, rate = _chain_parts(step)
    return substituted(outer, u, inner)


def _outer_at_rate(step):
    u, inner, outer, rate = _chain_parts(step)
    return substituted(outer, u, rate) * rate


RULES.register(Rule(name="chain", title="Chain rule", function="f(g(x))", derivative="f'(g(x)) \\, g'(x)",
                    combine=_chain_combined, mistakes=(
                        Mistake("chain-no-inner", "the chain rule without the inner derivative: f'(g(x)) "
                                "without the factor g'(x)", _no_inner),
                        Mistake("chain-wrong-inner", "the outer derivative taken at the inner derivative: "
                                "f'(g'(x)) g'(x) instead of f'(g(x)) g'(x)", _outer_at_rate),
                    )))


def _log_differentiation(expr, wrt, ctx):
    """f^g with both depending on x: f^g = e^{g ln f}, so (f^g)' = f^g (g ln f)'."""
    base, exponent = expr.as_base_exp()
    if not (base.has(wrt) and exponent.has(wrt)):
        return None
    sub = derive(exponent * sp.log(base), wrt, ctx)
    return Step("log_differentiation", expr, wrt, expr * sub.result,
                parts=(("f", base), ("g", exponent)), substeps=(sub,))


def _multivariable_combined(step, results):
    paths = len(step.bindings)
    substitution = dict(step.bindings)
    return sp.Add(*(p.xreplace(substitution) * r for p, r in zip(results[:paths], results[paths:])))


def _one_path(step):
    (x, _), substitution = step.bindings[0], dict(step.bindings)
    return step.substeps[0].result.xreplace(substitution) * step.substeps[len(step.bindings)].result


def _reversed(step):
    """A loss's gradient with its sign reversed (y - y_hat for y_hat - y)."""
    return -step.result if dict(step.parts)["f"].has(sp.log) else None


RULES.register(Rule(name="log_differentiation", title="Logarithmic differentiation", function="f^{g}",
                    derivative=r"f^{g} \left(g' \ln f + \frac{g f'}{f}\right)",
                    heads=(sp.Pow,), apply=_log_differentiation,
                    combine=lambda step, results: step.expr * results[0]))
RULES.register(Rule(
    name="multivariable_chain", title="Multivariable chain rule", function=r"z = f(x(t), y(t))",
    derivative=r"\frac{dz}{dt} = \frac{\partial f}{\partial x} \frac{dx}{dt} + \frac{\partial f}{\partial y} "
               r"\frac{dy}{dt}", combine=_multivariable_combined, mistakes=(
                   Mistake("gradient-reversed", "the cross-entropy gradient reversed: y - y_hat instead of "
                           "y_hat - y", _reversed),
                   Mistake("multivariable-one-path", "only the first path of the multivariable chain rule: "
                           "f_x x'(t), without the other variables' terms", _one_path),
               )))


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
RULES.register(Rule(name="simplify", title="Simplify", counted=False,
                    combine=lambda step, results: tidy(results[0])))
