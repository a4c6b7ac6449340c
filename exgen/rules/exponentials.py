"""Exponentials: e^x (and e^f by the chain rule) and a^x."""

import sympy as sp

from ..numeric import float_exp, mp_exp
from ..registry import RULES, Draw, FunctionRule, Mistake, Numeric, Rule
from ..steps import Step, chain_through

RULES.register(FunctionRule(
    name="exp", title="Exponential rule", function="e^{x}", derivative="e^{x}",
    inverses=("ln", "log_k"), inverse_reach="terms",
    head=sp.exp, rate=lambda u: sp.exp(u), numeric=Numeric(float_exp, mp_exp),
    names=(("exp", sp.exp),), draw=Draw(build=lambda rng, u: sp.exp(u), positive_valued=True),
    mistakes=(Mistake("exp-power-rule", "the power rule used on an exponential: (e^u)' taken as u e^(u - 1)",
                      lambda expr, inner, wrt: inner * sp.exp(inner - 1), whole=True),)))


def _exponential(expr, wrt, ctx):
    """d/dx a^x = a^x ln a; a^f by the chain rule."""
    base, exponent = expr.as_base_exp()
    if base.has(wrt) or not exponent.has(wrt):
        return None
    if exponent == wrt:
        return Step("exponential", expr, wrt, expr * sp.log(base), parts=(("a", base),))
    return chain_through(expr, wrt, ctx, lambda u: base**u, exponent)


RULES.register(Rule(name="exponential", title="Exponential rule, base a", function="a^{x}",
                    derivative=r"a^{x} \ln a", heads=(sp.Pow,), apply=_exponential, mistakes=(
                        Mistake("exponential-no-ln", "(a^x)' taken as a^x, without the factor ln a",
                                lambda step: step.expr),
                        Mistake("exponential-power-rule", "the power rule used on an exponential: (a^x)' taken "
                                "as x a^(x - 1)", lambda step: step.wrt * dict(step.parts)["a"] ** (step.wrt - 1)),
                    )))
