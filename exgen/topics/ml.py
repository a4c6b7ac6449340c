"""Machine-learning topics of the course documents.

Activations (sigmoid, tanh, ReLU), partial derivatives, the multivariable
chain rule, linear functions w^T x + w_0, binary cross-entropy, logistic
regression, softmax and multiclass cross-entropy. Where the documents write
an answer in a particular form (sigma(1 - sigma), (y_hat - y)/(y_hat
(1 - y_hat)), y_hat_i - y_i, ...), the topic builds that form as the
`preferred` answer; the oracle checks it like any other step.
"""

import functools
import random

import sympy as sp

from .. import compose
from ..compose import X, Domain, Draft, coefficient, pick
from ..registry import RULES
from ..rules.activations import ReLU, sigmoid
from ..rules.logarithms import LOG_BASES, log_base
from ..rules.vectors import softmax
from ..rules.combination import product_step
from ..steps import chain_step, derive, first_principles, multivariable_chain
from . import topic as _register
from .calculus import _function_family, drilled_by

topic = functools.partial(_register, family="ml")

Y = sp.Symbol("y", real=True)
Z = sp.Symbol("z", real=True)
T = sp.Symbol("t", real=True)
YHAT = sp.Symbol("yhat", real=True)


def _symbols(stem: str, first: int, last: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"{stem}{i}", real=True) for i in range(first, last + 1))


topic("sigmoid", "Sigmoid sigma(x) = 1/(1+e^-x): sigma' = sigma(1 - sigma), and sigma of an inner function",
      uses=("sigmoid",))(_function_family(sigmoid, False))
topic("tanh", "tanh: tanh' = 1 - tanh^2, and tanh of an inner function", uses=("tanh",))(
    _function_family(sp.tanh, False))


@topic("relu", "ReLU(x) = max(0, x): derivative 1 for x > 0 and 0 for x <= 0, and ReLU of an inner function",
       levels=("easy", "medium"), uses=("relu",))
def _relu(rng: random.Random, budget: int):
    if budget == 1:
        inner = X
    elif budget == 2:
        return coefficient(rng, 2, 5, signed=False) * ReLU(X)
    elif budget == 3:
        inner = coefficient(rng, 2, 5) * X
    else:
        # kx + b, or x^2 - c whose kinks +-sqrt(c) are irrational.
        inner = _kinked_inner(rng) if rng.random() < 0.6 else X**2 - pick(rng, (2, 3, 5, 6, 7))
    scale = pick(rng, (1, 1, 2, 3)) if budget > 3 else 1
    # The documents' convention: ReLU'(u) = 1 for u > 0, 0 for u <= 0.
    rate = scale * derive(inner, X).result
    return Draft(scale * ReLU(inner), preferred=(sp.Piecewise((rate, inner > 0), (0, True)),))


# Inner functions whose kink (a piecewise activation's) is never a decimal with
# two places, so a checker sampling at k/100 cannot land on it.
def _kinked_inner(rng: random.Random) -> sp.Expr:
    return pick(rng, (3, 7, -3)) * X + pick(rng, (1, 2, -1, -2))


@topic("activations", "Activations after sigma, tanh and ReLU: softplus (derivative sigma), leaky ReLU, "
       "ELU and SiLU/swish u sigma(u), and of an inner function", levels=("easy", "medium"),
       uses=("softplus", "leaky_relu", "elu", "silu"))
def _activations(rng: random.Random, budget: int):
    # SiLU's derivative, sigma(u)(1 + u(1 - sigma(u))) u', is as long as a
    # printed answer may be: SiLU is asked at easy, the others above it too.
    rules = drilled_by("activations")
    rule = pick(rng, rules if budget <= 3 else tuple(r for r in rules if r.name != "silu"))
    make = lambda u: rule.draw.build(rng, u)  # noqa: E731
    if budget == 1:
        return make(X)
    if budget == 2:
        return coefficient(rng, 2, 5, signed=False) * make(X)
    if budget == 3:
        return make(coefficient(rng, 2, 5) * X)
    # Medium (4-5 rules a student applies): the activation of an inner function
    # alone is a two-rule chain, so something else is asked with it. A
    # piecewise activation's or SiLU's derivative is long, so those are added
    # to a second term; softplus (derivative sigma) is also multiplied by x^2
    # or given a two-term polynomial inside.
    linear = _kinked_inner(rng) if rule.name in ("leaky_relu", "elu") else \
        coefficient(rng, 2, 5) * X + coefficient(rng, 1, 3)
    shapes = ("sum", "product", "quadratic") if rule.name == "softplus" else ("sum",)
    shape = pick(rng, shapes)
    if shape == "product":
        return X**2 * make(linear)
    if shape == "quadratic":
        return make(coefficient(rng, 1, 3, signed=False) * X**2 + coefficient(rng, 1, 5) * X)
    k = coefficient(rng, 2, 4, signed=False)
    other = pick(rng, (k * X**2, k * X**3, sp.exp(k * X), sp.sin(k * X), sp.cos(k * X)))
    return make(linear) + other


def _monomial(rng: random.Random, variables) -> sp.Expr:
    term = coefficient(rng, 1, 5)
    for v in variables:
        term *= v ** rng.randint(0 if len(variables) > 1 else 1, 3)
    return term if term.free_symbols else term * variables[0]


_RICH = ("monomial", "exp", "sin", "cos", "ln", "product")


def _partial_term(rng: random.Random, variables, rich: bool, shapes: tuple[str, ...] = _RICH) -> sp.Expr:
    if not rich:
        return _monomial(rng, variables)
    a, b = rng.sample(list(variables), 2)
    shape = pick(rng, shapes)
    k = coefficient(rng, 2, 4, signed=False)
    if shape == "exp":
        return sp.exp(k * a * b) if rng.random() < 0.5 else a * sp.exp(k * b)
    if shape == "sin":
        return sp.sin(a * b)
    if shape == "cos":
        return a * sp.cos(k * b)
    if shape == "ln":
        return sp.log(a**2 + b**2 + 1)
    if shape == "product":
        return a**2 * sp.exp(b)
    return _monomial(rng, variables)


@topic("partial", "Partial derivatives of f(x, y) or f(x, y, z), holding the other variables constant",
       ranges={"easy": (2, 4), "medium": (5, 10), "hard": (11, 20)},
       budgets={"easy": (2, 8), "medium": (9, 16), "hard": (17, 28)})
def _partial(rng: random.Random, budget: int):
    count = 3 if budget >= 17 else 2
    variables = (X, Y, Z)[:count]
    terms = 2 if budget <= 8 else 3
    expr = sp.Add(*(_partial_term(rng, variables, rich=budget > 8 and i < 2) for i in range(terms)))
    return Draft(expr, wrt=tuple(v for v in variables if expr.has(v)))


_HARD_CHAIN = ("exp", "sin", "ln")
_PATHS = (
    lambda rng: sp.cos(T), lambda rng: sp.sin(T), lambda rng: sp.exp(T),
    lambda rng: T**2, lambda rng: coefficient(rng, 2, 4) * T + coefficient(rng, 1, 3),
    lambda rng: T**3,
)


@topic("multivariable-chain", "Multivariable chain rule: z = f(x, y), x = x(t), y = y(t), dz/dt = f_x x' + f_y y'",
       uses=("multivariable_chain",), ranges={"easy": (2, 5), "medium": (6, 9), "hard": (10, 16)},
       budgets={"easy": (5, 9), "medium": (10, 13), "hard": (14, 24)})
def _multivariable_chain(rng: random.Random, budget: int):
    if budget <= 9:
        f = coefficient(rng, 1, 4, signed=False) * X * Y
        if rng.random() < 0.5:
            f += X**2
    elif budget <= 13:
        f = _monomial(rng, (X, Y)) + _monomial(rng, (X, Y))
    else:
        # The terms whose chain rule takes a hard problem's 10 or more rules (a cos(kb) or a^2 e^b
        # with two paths takes 6 to 9, a medium problem's count).
        f = _partial_term(rng, (X, Y), rich=True, shapes=_HARD_CHAIN)
        if rng.random() < 0.5:
            f += _monomial(rng, (X, Y))
    while True:
        paths = rng.sample(list(_PATHS), 2)
        inner = ((X, paths[0](rng)), (Y, paths[1](rng)))
        # x = sin t and y = cos t make ln(x^2 + y^2 + 1) the constant ln 2: a problem in disguise.
        if not (f.has(sp.log) and {path for _, path in inner} == {sp.sin(T), sp.cos(T)}):
            break
    tree = multivariable_chain(f, inner, T)
    prompt = r"z = f(x, y) = %s, \quad x = %s, \quad y = %s" % tuple(
        _tex(e) for e in (f, inner[0][1], inner[1][1]))
    return Draft(tree.expr, wrt=(T,), name="z", prompt=prompt, steps=(tree,))


def _tex(expr):
    from ..forms import tex

    return tex(expr)


@topic("linear", "Linear functions f(w) = w^T x + w_0: df/dw_k = x_k for 1 <= k <= n and 1 for the bias; "
       "then the squared error (w^T x + w_0 - t)^2 by the chain rule",
       ranges={"easy": (3, 4), "medium": (5, 7), "hard": (8, 10)}, by_level=True)
def _linear(rng: random.Random, level: str):
    n = {"easy": rng.randint(2, 3), "medium": 2, "hard": 3}[level]
    w = _symbols("w", 0, n)
    x = tuple(coefficient(rng, 1, 5) for _ in range(n))
    linear = sp.Add(*(wk * xk for wk, xk in zip(w[1:], x))) + w[0]
    vector = r"\mathbf{x} = \left(%s\right)" % ", ".join(_tex(v) for v in x)
    if level == "easy":
        prompt = r"f(\mathbf{w}) = \mathbf{w}^{T} \mathbf{x} + w_{0} = %s, \quad %s" % (_tex(linear), vector)
        return Draft(linear, wrt=w, prompt=prompt, note=r"(the bias $w_0$ has $x_0 = 1$)")
    # The linear function inside a squared error: the chain rule gives 2 (w^T x + w_0 - t) x_k.
    target = coefficient(rng, 1, 5)
    expr = (linear - target) ** 2
    prompt = (r"L(\mathbf{w}) = \left(\mathbf{w}^{T} \mathbf{x} + w_{0} - t\right)^{2} = %s, \quad %s, \quad t = %s"
              % (_tex(expr), vector, _tex(target)))
    features = (1,) + x
    # Kept unevaluated: SymPy would multiply the number into the sum.
    preferred = tuple(sp.Mul(2 * xk, linear - target, evaluate=False) for xk in features)
    return Draft(expr, wrt=w, name="L", prompt=prompt, preferred=preferred,
                 note=r"(the bias $w_0$ has $x_0 = 1$)")


def _bce(yhat: sp.Expr, label: sp.Expr, base: int | None) -> sp.Expr:
    log = sp.log if base is None else (lambda u: log_base(u, base))
    return -label * log(yhat) - (1 - label) * log(1 - yhat)


def _bce_latex(label: str, base: int | None) -> str:
    log = r"\ln" if base is None else r"\log_{%d}" % base
    return r"L(\hat{y}) = -%s %s \hat{y} - (1 - %s) %s (1 - \hat{y})" % (label, log, label, log)


@topic("binary-cross-entropy",
       "Binary cross-entropy L = -y log y_hat - (1-y) log(1-y_hat): dL/dy_hat = (y_hat - y)/(y_hat (1 - y_hat)), "
       "ln or log_2", levels=("easy", "medium"), ranges={"easy": (1, 2), "medium": (3, 5)},
       budgets={"easy": (2, 8), "medium": (9, 16)})
def _binary_cross_entropy(rng: random.Random, budget: int):
    base = pick(rng, (None, None, 2, 3, 5, 10))
    if budget <= 8:
        label = sp.Integer(rng.randint(0, 1))
        expr = _bce(YHAT, label, base)
        prompt = r"L(\hat{y}) = %s \quad (y = %d)" % (_tex(expr), label)
    else:
        label = Y
        expr = _bce(YHAT, Y, base)
        prompt = _bce_latex("y", base)
    if label != Y:  # a concrete label: the plain tidy form (-1/y_hat) is the textbook one
        return Draft(expr, wrt=(YHAT,), domain=Domain(unit=True, names=("yhat",)), name="L", prompt=prompt)
    scale = 1 if base is None else 1 / sp.log(base)
    preferred = (YHAT - Y) / (YHAT * (1 - YHAT)) * scale
    return Draft(expr, wrt=(YHAT,), domain=Domain(unit=True, names=("yhat",)), name="L", prompt=prompt,
                 preferred=(preferred,), note=r"(the label $y$ is a constant)")


@topic("logistic-regression",
       "Logistic regression: dL/dw_k for L = binary cross-entropy of sigma(w^T x), by the chain rule; ln and log_2",
       uses=("sigmoid",), ranges={"easy": (5, 9), "medium": (5, 9), "hard": (5, 9)},
       budgets={"easy": (1, 15), "medium": (16, 16), "hard": (17, 30)})
def _logistic_regression(rng: random.Random, budget: int):
    n = 1 if budget <= 15 else 2 if budget <= 16 else 3
    w = _symbols("w", 0, n)
    x = tuple(coefficient(rng, 1, 4) for _ in range(n))  # one training example's features
    z = sp.Add(*(wk * xk for wk, xk in zip(w[1:], x))) + w[0]
    base = 2 if rng.random() < 0.5 else None
    expr = _bce(sigmoid(z), Y, base)
    k = rng.randint(0, n)
    # The cheat-sheet's route: dL/dy_hat * dy_hat/dz * dz/dw_k, so the chain
    # is split at y_hat = sigma(z) rather than inside each logarithm.
    tree = chain_step(expr, w[k], lambda u: _bce(u, Y, base), sigmoid(z))
    scale = 1 if base is None else 1 / sp.log(base)
    x_k = 1 if k == 0 else x[k - 1]
    preferred = (sigmoid(z) - Y) * x_k * scale
    log = r"\ln" if base is None else r"\log_{2}"
    prompt = (r"L = -y %s \hat{y} - (1 - y) %s (1 - \hat{y}), \quad \hat{y} = \sigma(z), \quad z = %s"
              % (log, log, _tex(z)))
    # sigma(z) lies in (0, 1) for every z, so both logarithms are defined everywhere.
    return Draft(expr, wrt=(w[k],), domain=Domain(), name="L", prompt=prompt, preferred=(preferred,),
                 steps=(tree,), note=r"(find $\partial L / \partial w_{%d}$; the label $y$ is a constant)" % k)


def _softmax_prompt(K: int) -> str:
    return r"\sigma(z_i) = \frac{e^{z_i}}{\sum_{j=1}^{%d} e^{z_j}}" % K


@topic("softmax", "Softmax Jacobian d sigma(z_i)/d z_j = sigma(z_i)(delta_ij - sigma(z_j)), for K = 2..4; "
       "hard: the whole 4 x 4 Jacobian at given logits",
       ranges={"easy": (3, 5), "medium": (3, 5), "hard": (15, 30)}, by_level=True)
def _softmax(rng: random.Random, level: str):
    K = {"easy": 2, "medium": 3, "hard": 4}[level]
    z = _symbols("z", 1, K)
    i = rng.randint(1, K)
    if level == "hard":
        return _softmax_jacobian(z, i, pick(rng, tuple(j for j in range(1, K + 1) if j != i)))
    expr = _softmax_elementary(i, z)
    component = softmax(i, *z)
    j = rng.randint(1, K)
    preferred = (component * ((1 if j == i else 0) - softmax(j, *z)),)
    prompt = r"%s, \quad K = %d, \quad \sigma(z_{%d}) = %s" % (_softmax_prompt(K), K, i, _tex(expr))
    # Above easy the logits are given: exact values in terms of e, as in an exam.
    return Draft(expr, wrt=(z[j - 1],), domain=Domain(), name=r"\sigma(z_{%d})" % i, prompt=prompt,
                 preferred=preferred, note=r"(write the answer with $\sigma(z_j)$)" if level == "easy" else "",
                 at_point=level != "easy")


def _softmax_elementary(i: int, z) -> sp.Expr:
    return sp.exp(z[i - 1]) / sp.Add(*(sp.exp(zj) for zj in z))


def _softmax_jacobian(z, row: int, column: int) -> Draft:
    """The whole Jacobian at given logits. A diagonal entry (row, row) and an
    off-diagonal one (row, column) are derived in full from e^{z_i} / sum_j
    e^{z_j} (the quotient rule; off the diagonal the numerator is a constant);
    the other entries follow from the softmax rule those two derivations
    establish. Every entry is its own checked tree, and sheet.json holds the
    K x K Matrix."""
    K = len(z)
    components = tuple((r"\sigma(z_{%d})" % i, softmax(i, *z)) for i in range(1, K + 1))
    trees, preferred = [], []
    for i in range(1, K + 1):
        for j in range(1, K + 1):
            entry = softmax(i, *z) * ((1 if i == j else 0) - softmax(j, *z))
            in_full = i == row and j in (row, column)
            trees.append(derive(_softmax_elementary(i, z) if in_full else softmax(i, *z), z[j - 1]))
            preferred.append(entry)
    prompt = r"%s, \quad K = %d" % (_softmax_prompt(K), K)
    name = r"J = \left(\frac{\partial \sigma(z_i)}{\partial z_j}\right)_{i, j = 1}^{%d}" % K
    # Logits 0, 1 and 2 keep the 16 exact values short enough for a 4 x 4 matrix.
    return Draft(_softmax_elementary(row, z), wrt=z, domain=Domain(), name=name, prompt=prompt,
                 preferred=tuple(preferred), steps=tuple(trees), components=components, at_point=True,
                 point_values=(0, 1, 2),
                 note=r"(derive $\partial \sigma(z_{%d})/\partial z_{%d}$ and $\partial \sigma(z_{%d})/\partial "
                      r"z_{%d}$ in full, then fill in the matrix)" % (row, min(row, column), row, max(row, column)))


@topic("cross-entropy",
       "Multiclass cross-entropy with softmax: dL/dy_hat_i = -y_i/y_hat_i, and dL/dz_i = y_hat_i - y_i by the "
       "multivariate chain rule, for a one-hot y", uses=("multivariable_chain", "ln"),
       ranges={"easy": (1, 2), "medium": (4, 8), "hard": (15, 30)}, by_level=True)
def _cross_entropy(rng: random.Random, level: str):
    K = 4 if level == "hard" else 3
    z = _symbols("z", 1, K)
    yhat = _symbols("yhat", 1, K)
    hot = rng.randint(1, K)
    labels = tuple(1 if j == hot else 0 for j in range(1, K + 1))
    loss = -sp.log(yhat[hot - 1])
    y_text = r"\mathbf{y} = (%s)" % ", ".join(str(v) for v in labels)
    if level == "easy":
        # The rule itself: with a one-hot y only the hot class's term is left, dL/dy_hat_c = -1/y_hat_c.
        prompt = r"L = -\sum_{i=1}^{%d} y_i \ln \hat{y}_i, \quad %s" % (K, y_text)
        return Draft(loss, wrt=(yhat[hot - 1],), domain=Domain(unit=True, names=(yhat[hot - 1].name,)),
                     name="L", prompt=prompt)
    inner = tuple((yhat[j], softmax(j + 1, *z)) for j in range(K))
    targets = range(1, K + 1) if K == 4 else (rng.randint(1, K),)
    trees = tuple(multivariable_chain(loss, inner, z[i - 1]) for i in targets)
    preferred = tuple(softmax(i, *z) - labels[i - 1] for i in targets)
    prompt = (r"L = -\sum_{i=1}^{%d} y_i \ln \hat{y}_i, \quad \hat{y}_i = \sigma(z_i) = \frac{e^{z_i}}{\sum_j e^{z_j}},"
              r" \quad %s" % (K, y_text))
    return Draft(trees[0].expr, wrt=tuple(z[i - 1] for i in targets), domain=Domain(), name="L",
                 prompt=prompt, preferred=preferred, steps=trees, at_point=level == "hard",
                 note=r"(use the multivariate chain rule $\frac{\partial L}{\partial z_i} = \sum_j "
                      r"\frac{\partial L}{\partial \hat{y}_j} \frac{\partial \hat{y}_j}{\partial z_i}$)")


F = sp.Function("f")
G = sp.Function("g")


def _row_by_chain(rng: random.Random, scaled: bool = False):
    """A cheat-sheet row with f, derived from its simple version by the chain
    rule; `scaled` puts k f(x) inside, a chain of two levels."""
    f = F(X) if not scaled else coefficient(rng, 2, 5, signed=False) * F(X)
    k = coefficient(rng, 2, 5, signed=False)
    first_row = 1 if scaled else 0  # k (k' f) is only the constant multiple rule twice
    base = pick(rng, LOG_BASES)  # drawn once: the outer function must be the same on every call
    # Each row with the simple rule it is derived from, stated in the prompt
    # (the sheet prints no cheat-sheet): the rule's own table row.
    rows = (
        (lambda u: k * u, "linear"),
        (lambda u: sp.exp(u), "exp"),
        (lambda u: sp.log(u), "ln"),
        (lambda u: u**k, "power"),
        (lambda u: log_base(u, base), "log_k"),
        (lambda u: sp.sin(u), "sin"),
    )
    outer, rule_name = pick(rng, rows[first_row:])
    expr = outer(f)
    tree = chain_step(expr, X, outer, f)
    simple = RULES[rule_name]
    prompt = r"y = %s" % _tex(expr)
    return Draft(expr, domain=Domain(), name="y", prompt=prompt, steps=(tree,),
                 note=r"Derive $y'$ from the rule $\frac{d}{dx}\left[%s\right] = %s$ and the chain rule "
                      r"($f$ is any differentiable function of $x$)." % (simple.function, simple.derivative))


@topic("derivation",
       "Derivations the documents pose: f-rows of the cheat-sheet by the chain rule, the quotient rule from the "
       "product and power rules, sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2",
       ranges={"easy": (2, 3), "medium": (3, 6), "hard": (3, 12)}, by_level=True)
def _derivation(rng: random.Random, level: str):
    if level == "easy":
        return _row_by_chain(rng)
    choice = rng.random()
    if level == "medium" and choice < 0.4:
        return _row_by_chain(rng, scaled=True)
    if level == "medium" and choice < 0.7:
        f, g = F(X), G(X)
        expr = f / g
        tree = product_step(expr, X, f, 1 / g)
        preferred = (g * sp.Derivative(f, X) - f * sp.Derivative(g, X)) / g**2
        return Draft(expr, domain=Domain(), name="y", prompt=r"y = \frac{f(x)}{g(x)} = f(x) \left(g(x)\right)^{-1}",
                     steps=(tree,), preferred=(preferred,),
                     note=r"Derive the quotient rule from the product and power rules.")
    if level == "medium":
        expr = 1 / (1 + sp.exp(-X))
        return Draft(expr, domain=Domain(), name=r"\sigma(x)", prompt=r"\sigma(x) = %s" % _tex(expr),
                     preferred=(sigmoid(X) * (1 - sigmoid(X)),),
                     note=r"Show that $\sigma'(x) = \sigma(x)\left(1 - \sigma(x)\right)$.")
    return pick(rng, _HARD_DERIVATIONS)(rng)


def _tanh_from_exponentials(rng: random.Random) -> Draft:
    k = pick(rng, (1, 2, 3, 4))
    u = k * X
    expr = (sp.exp(u) - sp.exp(-u)) / (sp.exp(u) + sp.exp(-u))
    name = r"\tanh(%s)" % _tex(u)
    answer = _times(k, 1 - sp.tanh(u) ** 2)
    return Draft(expr, domain=Domain(), name=name, prompt=r"%s = %s" % (name, _tex(expr)),
                 preferred=(answer,), note=r"Show that the derivative is $%s$." % _tex(answer))


def _times(k: int, factor: sp.Expr) -> sp.Expr:
    """k (1 - s) as the documents write it: SymPy would distribute k over the sum."""
    return factor if k == 1 else sp.Mul(k, factor, evaluate=False)


def _scaled_sigmoid(rng: random.Random) -> Draft:
    k = coefficient(rng, 2, 6, signed=False)
    expr = 1 / (1 + sp.exp(-k * X))
    return Draft(expr, domain=Domain(), name="y", prompt=r"y = \sigma(%s) = %s" % (_tex(k * X), _tex(expr)),
                 preferred=(k * sigmoid(k * X) * (1 - sigmoid(k * X)),),
                 note=r"Show that $y' = %s\,\sigma(%s)\left(1 - \sigma(%s)\right)$." % (k, _tex(k * X), _tex(k * X)))


def _log_sigmoid(rng: random.Random) -> Draft:
    """The two halves of the logistic loss: ln sigma(kx) and ln(1 - sigma(kx))."""
    k = pick(rng, (1, 2, 3, 4, 5))
    s = sigmoid(k * X)
    if rng.random() < 0.5:
        expr, answer = sp.log(s), _times(k, 1 - s)
    else:
        expr, answer = sp.log(1 - s), -k * s
    return Draft(expr, domain=Domain(), name="y", prompt=r"y = %s" % _tex(expr), preferred=(answer,),
                 note=r"Show that $y' = %s$ (a step of the logistic loss)." % _tex(answer))


def _swish(rng: random.Random) -> Draft:
    """The SiLU (swish) activation x sigma(kx), by the product rule and the sigmoid rule."""
    k = pick(rng, (1, 2, 3))
    s = sigmoid(k * X)
    answer = s + k * X * s * (1 - s)
    return Draft(X * s, domain=Domain(), name="y", prompt=r"y = %s \quad \text{(the SiLU activation)}" % _tex(X * s),
                 preferred=(answer,), note=r"Show that $y' = %s$." % _tex(answer))


_HARD_DERIVATIONS = (lambda rng: _softmax_in_general(), _tanh_from_exponentials, _scaled_sigmoid, _log_sigmoid,
                     _swish)


Z_I, Z_J = sp.Symbol("z_i", real=True), sp.Symbol("z_j", real=True)
REST = sp.Symbol("R", real=True)


def _softmax_in_general() -> Draft:
    """d sigma(z_i)/d z_j = sigma(z_i)(delta_ij - sigma(z_j)) for any K: the
    denominator is e^{z_i} + e^{z_j} + R, where R (the other K - 2 terms) is a
    positive constant for both derivatives, so the two cases j = i and j != i
    are two partial derivatives of one function, each checked numerically."""
    total = sp.exp(Z_I) + sp.exp(Z_J) + REST
    expr = sp.exp(Z_I) / total
    # The same function written as softmax components; e^{ln R} = R.
    sigma_i, sigma_j = softmax(1, Z_I, Z_J, sp.log(REST)), softmax(2, Z_I, Z_J, sp.log(REST))
    # The step the exercise is about: the quotient split into two factors e^{z}/S.
    share_i, share_j = sp.exp(Z_I) / total, sp.exp(Z_J) / total
    via = (sp.Mul(share_i, 1 - share_i, evaluate=False), sp.Mul(-1, share_i, share_j, evaluate=False))
    prompt = r"\sigma(z_i) = \frac{e^{z_i}}{\sum_{k=1}^{K} e^{z_k}} = \frac{e^{z_i}}{e^{z_i} + e^{z_j} + R}"
    return Draft(expr, wrt=(Z_I, Z_J), domain=Domain(positive=True, names=("R",)), name=r"\sigma(z_i)",
                 prompt=prompt, preferred=(sigma_i * (1 - sigma_i), -sigma_i * sigma_j), via=via,
                 note=r"where $R = \sum_{k \ne i, j} e^{z_k}$ depends on neither $z_i$ nor $z_j$. Show that "
                      r"$\frac{\partial \sigma(z_i)}{\partial z_j} = \sigma(z_i)\left(\delta_{ij} - "
                      r"\sigma(z_j)\right)$ for any $K$: differentiate by $z_i$ (the case $j = i$) and by $z_j$ "
                      r"($j \ne i$).")


@topic("first-principles", "First principles: f'(x) from the limit definition, for small polynomials and 1/x",
       uses=("first_principles",), ranges={"easy": (1, 1), "medium": (1, 1), "hard": (1, 1)}, by_level=True)
def _first_principles(rng: random.Random, level: str):
    if level == "easy":
        expr = coefficient(rng, 1, 5) * X**2 + coefficient(rng, 1, 5) * X
    elif level == "medium":
        expr = pick(rng, (X**3, coefficient(rng, 2, 4, signed=False) / X,
                          X**2 + coefficient(rng, 1, 5) * X + coefficient(rng, 1, 5)))
    else:
        expr = pick(rng, (coefficient(rng, 2, 3, signed=False) * X**3 - X, 1 / (X + coefficient(rng, 1, 3, signed=False)),
                          X**4))
    return Draft(expr, steps=(first_principles(expr, X),),
                 note=r"Use the definition $f'(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}$.")


@topic("activation-second-derivative",
       "Second derivatives of activations: sigma'' = sigma(1 - sigma)(1 - 2 sigma), tanh'' = -2 tanh (1 - tanh^2), "
       "softplus'' = sigma(1 - sigma), of kx and kx + b", levels=("easy", "medium"),
       ranges={"easy": (2, 8), "medium": (4, 8)}, by_level=True)
def _activation_second_derivative(rng: random.Random, level: str):
    from ..rules.activations import softplus

    # A positive slope: tanh(-2x) is -tanh(2x) at once, a problem printed with its sign outside.
    if level == "easy":
        u = pick(rng, (1, 2, 3, 4)) * X
    else:
        u = coefficient(rng, 2, 4, signed=False) * X + pick(rng, (1, -1, 2, -2))
    k = u.coeff(X)
    c = pick(rng, (1, 1, 2, 3)) if level == "easy" else 1  # a scaled activation, c sigma(kx)
    kind = pick(rng, ("sigmoid", "sigmoid", "tanh", "tanh", "softplus"))
    if kind == "sigmoid":
        s = sigmoid(u)
        expr, answer = c * s, sp.Mul(c * k**2, s, 1 - s, 1 - 2 * s, evaluate=False)
    elif kind == "tanh":
        t = sp.tanh(u)
        expr, answer = c * t, sp.Mul(-2 * c * k**2, t, 1 - t**2, evaluate=False)
    else:
        s = sigmoid(u)
        expr, answer = c * softplus(u), c * k**2 * s * (1 - s)
    return Draft(expr, domain=Domain(), preferred=(answer,), order=2,
                 note=r"(write the answer with $%s$ itself, as the course's identities do)"
                      % (r"\sigma" if kind != "tanh" else r"\tanh"))


@topic("hessian", "The Hessian of f(x, y): the 2 x 2 matrix of second partial derivatives f_xx, f_xy, f_yx, f_yy",
       ranges={"easy": (2, 12), "medium": (6, 24), "hard": (10, 45)}, by_level=True)
def _hessian(rng: random.Random, level: str):
    variables = (X, Y)
    if level == "easy":
        expr = _monomial(rng, variables) + _monomial(rng, variables)
    elif level == "medium":
        expr = _partial_term(rng, variables, rich=True) + _monomial(rng, variables)
    else:
        expr = _partial_term(rng, variables, rich=True) + _partial_term(rng, variables, rich=True)
    if not (expr.has(X) and expr.has(Y)):
        expr += X * Y
    return Draft(expr, wrt=variables, order=2)
