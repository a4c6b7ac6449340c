"""The rules of a network's backward pass: a unit's weighted sum, the squared
error, and the course's single-step identities for a loss on top of its
activation (sigmoid with binary cross-entropy, softmax with cross-entropy:
dL/dz = y_hat - y).

None is tried on an expression's head (`exgen solve` and the calculus
topics never meet them); the network topics call them by name through the
step builders below, which compute each result from the rule's formula.
"""

import sympy as sp

from ..built import difference, power, product, total
from ..errors import UnsupportedExpression
from ..registry import RULES, Rule
from ..steps import Step
from .activations import sigmoid
from .vectors import softmax


def weighted_sum_step(expr: sp.Expr, wrt: sp.Symbol) -> Step:
    """d/dw_k (sum_j w_j x_j + b) = x_k; by the bias, 1; by an input x_k, w_k."""
    hits = [term for term in sp.Add.make_args(expr) if term.has(wrt)]
    if len(hits) != 1:
        raise UnsupportedExpression(f"{sp.sstr(expr)} is not a weighted sum of {wrt}")
    factors = sp.Mul.make_args(hits[0])
    rest = [f for f in factors if f != wrt]
    if len(rest) != len(factors) - 1 or any(f.has(wrt) for f in rest):
        raise UnsupportedExpression(f"{sp.sstr(expr)} is not a weighted sum of {wrt}")
    rate = product(rest)
    return Step("weighted_sum", expr, wrt, rate, parts=(("k", rate),))


def squared_error(yhat: sp.Expr, y: sp.Expr) -> sp.Expr:
    """(1/2)(y_hat - y)^2, as written."""
    return product((sp.Rational(1, 2), power(difference(yhat, y), 2)))


def squared_error_step(yhat: sp.Symbol, y: sp.Expr) -> Step:
    """d/dy_hat (1/2)(y_hat - y)^2 = y_hat - y."""
    return Step("squared_error", squared_error(yhat, y), yhat, difference(yhat, y), parts=(("y", y),))


def binary_cross_entropy(yhat: sp.Expr, y: sp.Expr) -> sp.Expr:
    """-y ln y_hat - (1 - y) ln(1 - y_hat), as written (a label 0 or 1 leaves one term)."""
    return total((product((-1, y, _ln(yhat))), product((-1, difference(1, y), _ln(difference(1, yhat))))))


def _ln(u: sp.Expr) -> sp.Expr:
    return sp.log(u, evaluate=False)


def sigmoid_cross_entropy_step(z: sp.Symbol, y: sp.Expr) -> Step:
    """d/dz [-y ln sigma(z) - (1 - y) ln(1 - sigma(z))] = sigma(z) - y."""
    return Step("sigmoid_cross_entropy", binary_cross_entropy(sigmoid(z), y), z, difference(sigmoid(z), y),
                parts=(("y", y),))


def cross_entropy(logits: tuple, labels: tuple) -> sp.Expr:
    """-sum_i y_i ln sigma(z_i), as written (one term for a one-hot label)."""
    return total(product((-1, y, _ln(softmax(i + 1, *logits)))) for i, y in enumerate(labels))


def softmax_cross_entropy_step(logits: tuple, labels: tuple, k: int) -> Step:
    """d/dz_k [-sum_i y_i ln sigma(z_i)] = sigma(z_k) - y_k, for labels summing to 1."""
    if sum(labels) != 1:
        raise UnsupportedExpression("the softmax cross-entropy rule needs labels that sum to 1")
    return Step("softmax_cross_entropy", cross_entropy(logits, labels), logits[k - 1],
                difference(softmax(k, *logits), labels[k - 1]), parts=(("k", sp.Integer(k)),))


RULES.register(Rule(
    name="weighted_sum", title="Weighted sum rule",
    function=r"z = \sum_{j} w_{j} x_{j} + b",
    derivative=r"\frac{\partial z}{\partial w_{k}} = x_{k}, \ \frac{\partial z}{\partial b} = 1"))
RULES.register(Rule(
    name="squared_error", title="Squared error",
    function=r"L = \frac{1}{2}\left(\hat{y} - y\right)^{2}",
    derivative=r"\frac{\partial L}{\partial \hat{y}} = \hat{y} - y"))
RULES.register(Rule(
    name="sigmoid_cross_entropy", title="Sigmoid, cross-entropy",
    function=r"L = -y \ln \hat{y} - (1 - y) \ln(1 - \hat{y})",
    derivative=r"\frac{\partial L}{\partial z} = \hat{y} - y \ \left(\hat{y} = \sigma(z)\right)"))
RULES.register(Rule(
    name="softmax_cross_entropy", title="Softmax, cross-entropy",
    function=r"L = -\sum_{i} y_{i} \ln \hat{y}_{i}, \ \hat{y} = \sigma(z)",
    derivative=r"\frac{\partial L}{\partial z_{i}} = \hat{y}_{i} - y_{i} \ \left(\textstyle\sum_i y_i = 1\right)"))
