"""Functions of a vector of logits: softmax (the course's sigma(z_i), with the
Jacobian rule of the cheat-sheet) and log-sum-exp (whose gradient is the
softmax)."""

import sympy as sp

from ..errors import UnsupportedExpression
from ..registry import CourseFunction, FunctionRule, Mistake, RULES, Text
from ..steps import Step


class softmax(CourseFunction):
    """softmax(i, z_1, ..., z_K) = e^{z_i} / sum_j e^{z_j}, the course's sigma(z_i)."""

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def logits(self) -> tuple:
        return self.args[1:]

    def elementary(self):
        zs = self.logits
        return sp.exp(zs[self.index - 1]) / sp.Add(*(sp.exp(z) for z in zs))


class logsumexp(CourseFunction):
    """logsumexp(z_1, ..., z_K) = ln(e^{z_1} + ... + e^{z_K})."""


def softmax_of(i, *logits, **kwargs):
    """`softmax(i, z1, ..., zK)` as typed: the i-th component (1-based)."""
    if len(logits) < 2 or not (sp.sympify(i).is_Integer and 1 <= int(i) <= len(logits)):
        raise ValueError("softmax(i, z1, ..., zK) needs K >= 2 logits and a component number i between 1 and K")
    return softmax(sp.Integer(i), *logits)


def logsumexp_of(*logits, **kwargs):
    if len(logits) < 2:
        raise ValueError("logsumexp(z1, ..., zK) needs K >= 2 logits")
    return logsumexp(*logits)


def _plain_logit(expr, logits, wrt):
    if wrt not in logits or any(z.has(wrt) for z in logits if z != wrt):
        raise UnsupportedExpression(
            f"no rule for {sp.sstr(expr)} with respect to {wrt}: the {expr.func.__name__} rule needs plain logits")
    return logits.index(wrt) + 1


def _softmax(expr, wrt, ctx):
    """d sigma(z_i) / d z_j = sigma(z_i) (delta_ij - sigma(z_j))."""
    logits = expr.logits
    j = _plain_logit(expr, logits, wrt)
    delta = 1 if j == expr.index else 0
    return Step("softmax", expr, wrt, expr * (delta - softmax(j, *logits)),
                parts=(("i", sp.Integer(expr.index)), ("j", sp.Integer(j))))


def _logsumexp(expr, wrt, ctx):
    """d/dz_j ln(sum_k e^{z_k}) = e^{z_j} / sum_k e^{z_k} = sigma(z_j)."""
    j = _plain_logit(expr, expr.args, wrt)
    return Step("logsumexp", expr, wrt, softmax(j, *expr.args), parts=(("j", sp.Integer(j)),))


def _off_diagonal_dropped(step):
    parts = dict(step.parts)
    return sp.Integer(0) if parts["i"] != parts["j"] else None


def _softmax_latex(printer, expr, exp=None):
    body = r"\sigma\left(%s\right)" % printer._print(expr.logits[expr.index - 1])
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _logsumexp_latex(printer, expr, exp=None):
    body = r"\operatorname{LSE}\left(%s\right)" % ", ".join(printer._print(z) for z in expr.args)
    return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


RULES.register(FunctionRule(
    name="softmax", title="Softmax rule", function=r"\sigma(z_i) = \frac{e^{z_i}}{\sum_{j=1}^{K} e^{z_j}}",
    derivative=r"\frac{\partial \sigma(z_i)}{\partial z_j} = \sigma(z_i)\left(\delta_{ij} - \sigma(z_j)\right)",
    text=Text("σ", "after", argument=lambda e: e.logits[e.index - 1]), head=softmax, apply=_softmax, elementary=lambda i, *zs: softmax(i, *zs).elementary(),
    names=(("softmax", softmax_of),), latex=_softmax_latex, parameters=(("i", 0),), complement_first=True,
    mistakes=(Mistake("softmax-no-off-diagonal", "the softmax Jacobian without its off-diagonal term: "
                      "d sigma(z_i)/d z_j taken as 0 for i != j", _off_diagonal_dropped),)))
RULES.register(FunctionRule(
    name="logsumexp", title="Log-sum-exp rule",
    function=r"\operatorname{LSE}(z) = \ln \sum_{k=1}^{K} e^{z_k}",
    derivative=r"\frac{\partial \operatorname{LSE}}{\partial z_j} = \sigma(z_j)",
    text=Text("LSE", "after"), head=logsumexp, apply=_logsumexp, elementary=lambda *zs: sp.log(sp.Add(*(sp.exp(z) for z in zs))),
    names=(("logsumexp", logsumexp_of),), latex=_logsumexp_latex))
