"""Logarithms: ln x = 1/x and log_k x = 1/(x ln k), and of a function by the chain rule."""

import math

import mpmath
import sympy as sp

from ..registry import CourseFunction, Draw, FunctionRule, Mistake, Numeric, RULES, Text
from ..seeding import pick
from ..textprint import subscript

LOG_BASES = (2, 3, 10)


class log_base(CourseFunction):
    """log_k(u) = ln(u) / ln(k).

    SymPy's log(u, k) evaluates at once to log(u)/log(k) and its LaTeX drops
    the base, so the course's log_k needs its own function.
    """

    nargs = 2

    @classmethod
    def eval(cls, u, k):
        if k.is_Number and (k <= 0 or k == 1):
            raise ValueError(f"log(u, {k}) has no meaning: a logarithm's base must be positive and not 1")
        if u.is_Number and k.is_Number:  # a constant: log_2 8 is 3, log_2 1 is 0
            return sp.log(u) / sp.log(k)
        return None

    def _eval_is_real(self):
        return None  # log_k of a negative number is not real


def log_any_base(u, k=None, **kwargs):
    """`log(u)` is ln u; `log(u, k)` is the course's log_k u."""
    if k is None:
        return sp.log(u, **kwargs)
    return log_base(u, k, **kwargs)


def _log_base_latex(printer, expr, exp=None):
    u, k = expr.args
    if u.is_Symbol and printer._settings.get("fold_func_brackets", True):
        body = r"\log_{%s} %s" % (printer._print(k), printer._print(u))
    else:
        body = r"\log_{%s}\left(%s\right)" % (printer._print(k), printer._print(u))
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


_log_base_latex.folds = True  # \log_{k} x: bracketless (see forms._folds)


def _float_log(value: float) -> float:
    return math.log(value)  # ValueError at or below 0: mpmath decides


RULES.register(FunctionRule(
    name="ln", title="Natural logarithm rule", function=r"\ln x", derivative=r"\frac{1}{x}",
    inverses=("exp", "exponential"), inverse_reach="factors",
    text=Text("ln"), head=sp.log, rate=lambda u: 1 / u, condition=lambda u: ((u, "positive"),),
    numeric=Numeric(_float_log, mpmath.log), names=(("ln", sp.log),),
    draw=Draw(build=lambda rng, u: sp.log(u)),
    mistakes=(Mistake("ln-reciprocal", "(ln f)' taken as 1/f, without the factor f'",
                      lambda expr, inner, wrt: 1 / inner, whole=True),)))

RULES.register(FunctionRule(
    name="log_k", title="Logarithm rule, base k", function=r"\log_{k} x", derivative=r"\frac{1}{x \ln k}",
    inverses=("exp", "exponential"), inverse_reach="factors",
    text=Text("log", head=lambda e: "log" + (subscript(str(e.args[1])) or "_%s" % e.args[1]),
                                argument=lambda e: e.args[0]), head=log_base, rate=lambda u, k: 1 / (u * sp.log(k)), condition=lambda u, k: ((u, "positive"),),
    elementary=lambda u, k: sp.log(u) / sp.log(k),
    numeric=Numeric(lambda u, k: math.log(u) / math.log(k), lambda u, k: mpmath.log(u) / mpmath.log(k)),
    names=(("log", log_any_base),), latex=_log_base_latex, plain=lambda printer, e: "log(%s, %s)" % tuple(printer._print(a) for a in e.args),
    parameters=(("k", 1),), draw=Draw(build=lambda rng, u: log_base(u, pick(rng, LOG_BASES))),
    mistakes=(Mistake("log-without-ln-k", "log_k without ln k: (log_k u)' taken as 1/u", lambda step: 1 / step.wrt),)))
