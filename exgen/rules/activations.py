"""Activation functions of the machine-learning documents: tanh, sigma,
ReLU (the guidebook's section 4), and the activations courses teach next:
softplus, leaky ReLU, ELU and SiLU (swish).

ReLU and its relatives are piecewise; the documents take ReLU'(0) = 0 (the
derivative 0 for x <= 0), and leaky ReLU and ELU follow the same convention.
"""

import math

import mpmath
import sympy as sp

from ..numeric import float_exp, mp_exp
from ..registry import CourseFunction, Draw, FunctionRule, Mistake, Numeric, RULES, Text
from .printing import bracketed

ACTIVATION = ("activation",)


class sigmoid(CourseFunction):
    """sigma(u) = 1 / (1 + e^{-u})."""

    nargs = 1


class ReLU(CourseFunction):
    """ReLU(u) = max(0, u)."""

    nargs = 1


class LeakyReLU(CourseFunction):
    """LeakyReLU_a(u) = u for u > 0, a u otherwise (0 < a < 1)."""

    nargs = 2

    @classmethod
    def eval(cls, u, a):
        if a.is_Number and not 0 < a < 1:
            raise ValueError(f"leaky_relu(u, {a}): the slope on the negative side must lie between 0 and 1")
        return None


class ELU(CourseFunction):
    """ELU(u) = u for u > 0, e^u - 1 otherwise (alpha = 1)."""

    nargs = 1


class SiLU(CourseFunction):
    """SiLU(u) = u sigma(u) (swish)."""

    nargs = 1


class softplus(CourseFunction):
    """softplus(u) = ln(1 + e^u), a smooth ReLU."""

    nargs = 1


def _float_sigmoid(u: float) -> float:
    return 1.0 / (1.0 + float_exp(-u))


def _mp_sigmoid(u):
    return mpmath.mpf(1) / (1 + mp_exp(-u))


def _float_softplus(u: float) -> float:
    # ln(1 + e^u) without overflow for large u: u + ln(1 + e^-u).
    return u + math.log1p(math.exp(-u)) if u > 0 else math.log1p(math.exp(u))


def leaky_relu_of(u, a=sp.Rational(1, 100)):
    """`leaky_relu(u)` as typed (slope 0.01), or `leaky_relu(u, a)`."""
    return LeakyReLU(u, sp.Rational(str(a)) if isinstance(a, (float, sp.Float)) else a)


def _slope_latex(printer, expr, exp=None):
    u, a = expr.args
    slope = str(float(a)) if a.is_Rational and a.q in (2, 4, 5, 10, 20, 25, 50, 100) else printer._print(a)
    body = r"\operatorname{LeakyReLU}_{%s}\left(%s\right)" % (slope, printer._print(u))
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _piecewise_rate(below):
    """1 for u > 0, `below(u)` for u <= 0 (the documents' ReLU convention at 0)."""
    return lambda u, *parameters: sp.Piecewise((below(u, *parameters), u <= 0), (1, True))


RULES.register(FunctionRule(
    name="tanh", title="tanh rule", function=r"\tanh x", derivative=r"1 - \tanh^{2} x",
    # Written with e^u: a logarithm among its argument's terms cancels (sigma(ln x) = x/(1 + x)).
    inverses=("ln", "log_k"), inverse_reach="terms",
    text=Text("tanh", "prefix"), head=sp.tanh, rate=lambda u: 1 - sp.tanh(u) ** 2, numeric=Numeric(math.tanh, mpmath.tanh),
    names=(("tanh", sp.tanh),), draw=Draw(build=lambda rng, u: sp.tanh(u), pools=ACTIVATION),
    mistakes=(Mistake("tanh-plus", "tanh' taken as 1 + tanh^2 instead of 1 - tanh^2",
                      lambda step: 1 + sp.tanh(step.wrt) ** 2),)))
RULES.register(FunctionRule(
    name="sigmoid", title="Sigmoid rule", function=r"\sigma(x) = \frac{1}{1+e^{-x}}",
    # Written with e^u: a logarithm among its argument's terms cancels (sigma(ln x) = x/(1 + x)).
    inverses=("ln", "log_k"), inverse_reach="terms",
    derivative=r"\sigma(x)\left(1 - \sigma(x)\right)",
    text=Text("σ", "after"), head=sigmoid, rate=lambda u: sigmoid(u) * (1 - sigmoid(u)), elementary=lambda u: 1 / (1 + sp.exp(-u)),
    numeric=Numeric(_float_sigmoid, _mp_sigmoid), names=(("sigmoid", sigmoid), ("sigma", sigmoid)),
    latex=bracketed(r"\sigma"), plain=lambda printer, e: "(1/(1 + exp(-(%s))))" % printer._print(e.args[0]),
    complement_first=True, draw=Draw(build=lambda rng, u: sigmoid(u), pools=ACTIVATION),
    mistakes=(Mistake("sigmoid-itself", "sigma' taken as sigma itself, not sigma(1 - sigma)",
                      lambda step: sigmoid(step.wrt)),)))
RULES.register(FunctionRule(
    name="relu", title="ReLU rule", function=r"\operatorname{ReLU}(x) = \max(0, x)",
    derivative=r"\begin{cases} 1, & x > 0 \\ 0, & x \leq 0 \end{cases}",
    text=Text("ReLU", "after"), head=ReLU, rate=_piecewise_rate(lambda u: 0), elementary=lambda u: sp.Max(0, u),
    numeric=Numeric(lambda u: max(0.0, u), lambda u: max(mpmath.mpf(0), u)),
    names=(("relu", ReLU), ("ReLU", ReLU)), latex=bracketed(r"\operatorname{ReLU}"),
    plain=lambda printer, e: "Max(0, %s)" % printer._print(e.args[0]),
    draw=Draw(build=lambda rng, u: ReLU(u), pools=ACTIVATION), mistakes=(
        Mistake("relu-itself", "ReLU' taken as ReLU itself: u for u > 0 instead of 1",
                lambda step: sp.Piecewise((0, step.wrt <= 0), (step.wrt, True))),
        Mistake("relu-cases-swapped", "the cases of ReLU' swapped: 1 for u <= 0 and 0 for u > 0",
                lambda step: sp.Piecewise((1, step.wrt <= 0), (0, True))),
    )))
RULES.register(FunctionRule(
    name="softplus", title="Softplus rule", function=r"\operatorname{softplus}(x) = \ln\left(1 + e^{x}\right)",
    # Written with e^u: a logarithm among its argument's terms cancels (sigma(ln x) = x/(1 + x)).
    inverses=("ln", "log_k"), inverse_reach="terms",
    derivative=r"\sigma(x)", text=Text("softplus", "after"), head=softplus, rate=lambda u: sigmoid(u),
    elementary=lambda u: sp.log(1 + sp.exp(u)),
    numeric=Numeric(_float_softplus, lambda u: mpmath.log(1 + mp_exp(u))),
    names=(("softplus", softplus),), latex=bracketed(r"\operatorname{softplus}"),
    draw=Draw(build=lambda rng, u: softplus(u), pools=ACTIVATION, topics=("activations",)),
    mistakes=(Mistake("softplus-no-inner", "softplus' taken as 1/(1 + e^u): the ln rule without the factor e^u",
                      lambda step: 1 / (1 + sp.exp(step.wrt))),)))
RULES.register(FunctionRule(
    name="leaky_relu", title="Leaky ReLU rule",
    function=r"\operatorname{LeakyReLU}_{a}(x) = \begin{cases} x, & x > 0 \\ a x, & x \leq 0 \end{cases}",
    derivative=r"\begin{cases} 1, & x > 0 \\ a, & x \leq 0 \end{cases}",
    text=Text("LeakyReLU", "after", head=lambda e: "LeakyReLU_" + str(e.args[1]),
                                argument=lambda e: e.args[0]), head=LeakyReLU, rate=_piecewise_rate(lambda u, a: a),
    elementary=lambda u, a: sp.Piecewise((u, u > 0), (a * u, True)),
    numeric=Numeric(lambda u, a: u if u > 0 else a * u, lambda u, a: u if u > 0 else a * u),
    names=(("leaky_relu", leaky_relu_of),), latex=_slope_latex, parameters=(("a", 1),),
    draw=Draw(build=lambda rng, u: LeakyReLU(u, sp.Rational(1, 10)), pools=ACTIVATION, topics=("activations",)),
    mistakes=(Mistake("leaky-slope-dropped", "leaky ReLU' taken as ReLU': 0 instead of the slope a for u <= 0",
                      lambda step: sp.Piecewise((0, step.wrt <= 0), (1, True))),)))
RULES.register(FunctionRule(
    name="elu", title="ELU rule",
    function=r"\operatorname{ELU}(x) = \begin{cases} x, & x > 0 \\ e^{x} - 1, & x \leq 0 \end{cases}",
    derivative=r"\begin{cases} 1, & x > 0 \\ e^{x}, & x \leq 0 \end{cases}",
    text=Text("ELU", "after"), head=ELU, rate=_piecewise_rate(lambda u: sp.exp(u)),
    elementary=lambda u: sp.Piecewise((u, u > 0), (sp.exp(u) - 1, True)),
    numeric=Numeric(lambda u: u if u > 0 else math.expm1(u), lambda u: u if u > 0 else mpmath.expm1(u)),
    names=(("elu", ELU),), latex=bracketed(r"\operatorname{ELU}"),
    draw=Draw(build=lambda rng, u: ELU(u), pools=ACTIVATION, topics=("activations",)),
    mistakes=(Mistake("elu-minus-one", "ELU' for u <= 0 taken as e^u - 1 (the function) instead of e^u",
                      lambda step: sp.Piecewise((sp.exp(step.wrt) - 1, step.wrt <= 0), (1, True))),)))
RULES.register(FunctionRule(
    name="silu", title="SiLU (swish) rule", function=r"\operatorname{SiLU}(x) = x\,\sigma(x)",
    # Written with e^u: a logarithm among its argument's terms cancels (sigma(ln x) = x/(1 + x)).
    inverses=("ln", "log_k"), inverse_reach="terms",
    derivative=r"\sigma(x)\left(1 + x\left(1 - \sigma(x)\right)\right)",
    text=Text("SiLU", "after"), head=SiLU, rate=lambda u: sigmoid(u) * (1 + u * (1 - sigmoid(u))),
    elementary=lambda u: u / (1 + sp.exp(-u)),
    numeric=Numeric(lambda u: u * _float_sigmoid(u), lambda u: u * _mp_sigmoid(u)),
    names=(("silu", SiLU), ("swish", SiLU)), latex=bracketed(r"\operatorname{SiLU}"),
    draw=Draw(build=lambda rng, u: SiLU(u), pools=ACTIVATION, topics=("activations",)),
    mistakes=(Mistake("silu-one-term", "SiLU' taken as sigma(u): the product rule's second term u sigma'(u) "
                      "forgotten", lambda step: sigmoid(step.wrt)),)))
