"""Gradients in vector form (topic `matrix-calculus`).

The student gives the general formula and its value at given numbers; the
key derives the formula by components (the sum form, d/dw_k of it for a
general k, then the matrix form) and evaluates it:

- easy: d(w^T x)/dw = x; d(x^T A x)/dx = (A + A^T) x for a 2 x 2 A;
- medium: x^T A x for a 3 x 3 A; d(w^T A w + b^T w)/dw = (A + A^T) w + b;
  d||X w - y||^2/dw = 2 X^T (X w - y) with a 2 x 2 X;
- hard: least squares with a 3 x 2 X; logistic regression over a batch of
  2 or 3 examples, dL/dw = X^T (sigma(X w) - y).

Every component of the gradient is a derivation tree (the engine's, or the
chain rule through the course's identity dl/dz = y_hat - y for the logistic
loss), and every row of the key is checked component by component: the
general rows for each k, the matrix form entry by entry, all against the
numeric derivative (`worked.check_worked`).
"""

import dataclasses
import functools
import random

import sympy as sp

from .. import built
from ..compose import Domain, Draft
from ..rules.activations import sigmoid
from ..rules.losses import binary_cross_entropy, sigmoid_cross_entropy_step, weighted_sum_step
from ..seeding import pick
from ..steps import Step, derive
from ..worked import (Apply, At, Equals, Gradient, InOrder, Partial, Product, Row, Transposed, Vector, Worked, array,
                      entry, total)
from . import topic as _register

topic = functools.partial(_register, family="ml")

I, J, K = (sp.Symbol(n, integer=True, positive=True) for n in "ijk")
ENTRIES = (-3, -2, -1, 1, 2, 3, 4)
SMALL = (-2, -1, 1, 2)
POINT = (-1, 0, 1, 2)


def _symbols(stem: str, n: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"{stem}{i}", real=True) for i in range(1, n + 1))


def _matrix(rng: random.Random, rows: int, columns: int, values=ENTRIES) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, columns, [pick(rng, values) for _ in range(rows * columns)])


def _column(values) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(len(values), 1, list(values))


def _row_vector(values) -> sp.Basic:
    """A column vector on one line, (1, -1)^T."""
    return Vector(*(sp.sympify(v) for v in values))


class _Gradient:
    """One exercise: the function in the variables, its key's rows, its trees."""

    def __init__(self, name: str, function: sp.Expr, variables: tuple, vector: str, arrays: dict,
                 point: tuple | None):
        self.name = sp.Symbol(name)
        self.function = function
        self.variables = variables
        self.vector = array(vector, vector=True)
        self.arrays = {sp.Symbol(vector): _column(variables), **arrays}
        self.point = point
        self.rows: list[Row] = []
        # The gradient as a column of expressions in the variables (from the matrix form; set by each kind).
        self.gradient: sp.ImmutableMatrix | None = None

    def sum_form(self, general, with_numbers) -> None:
        self.rows.append(Row((general, with_numbers), self.function, lhs=self.name, truth=self.function,
                             label="the sum form"))

    def component(self, general, rules=()) -> None:
        """d f / d w_k for a general k, checked for every k."""
        self.rows.append(Row((general,), self.gradient, lhs=Partial(self.name, entry(self.vector.args[0].name, K)),
                             of=self.function, wrt=self.variables, index=K, rules=rules,
                             label="component k"))

    def matrix_form(self, general, with_numbers) -> None:
        # Without a point (w^T x: the gradient is constant) this is the answer.
        self.rows.append(Row((general, with_numbers, self.gradient), self.gradient,
                             lhs=Gradient(self.name, self.vector), of=self.function, wrt=self.variables,
                             label="in matrix form", role="gradient" if self.point is None else "step"))

    def at_point(self, forms) -> tuple:
        """The gradient at the given point: its exact value per component."""
        at = dict(zip(self.variables, self.point))
        values = tuple(_at_point(g, at) for g in self.gradient)
        where = Equals(self.vector, _row_vector(self.point))
        self.rows.append(Row(tuple(forms) + (_column(values),), _column(values),
                             lhs=At(Gradient(self.name, self.vector), where), of=self.function,
                             wrt=self.variables, label="at the given point", role="gradient"))
        return values

    def trees(self) -> tuple[Step, ...]:
        return tuple(derive(self.function, v) for v in self.variables)

    def worked(self, answers: tuple) -> Worked:
        asked = (Gradient(self.name, self.vector),)
        if self.point is not None:
            asked += (At(Gradient(self.name, self.vector), Equals(self.vector, _row_vector(self.point))),)
        point = tuple(zip(self.variables, self.point)) if self.point is not None else ()
        return Worked((("Derivation", tuple(self.rows)),), point=point, arrays=tuple(self.arrays.items()),
                      answers=answers, asked=asked)


def _prompt(definition: str, data: list[tuple[str, sp.Basic]]) -> str:
    from ..forms import tex

    return r"%s, \quad %s" % (definition, r", \quad ".join(f"{name} = {tex(value)}" for name, value in data))


def _linear(rng: random.Random) -> Draft:
    """f(w) = w^T x: the gradient is x."""
    n = pick(rng, (2, 3))
    w = _symbols("w", n)
    x = _column([pick(rng, ENTRIES) for _ in range(n)])
    f = sp.Add(*(wk * xk for wk, xk in zip(w, x)))
    return _lazy(f, w, ("linear", n), None, lambda: _linear_key(f, w, x, n))


def _linear_key(f, w, x, n) -> Draft:
    g = _Gradient("f", f, w, "w", {sp.Symbol("x"): x}, None)
    g.gradient = x
    g.sum_form(total(Product(entry("w", J), entry("x", J)), J, 1, n), f)
    g.component(entry("x", K), rules=("weighted_sum",))
    g.matrix_form(array("x", vector=True), x)
    prompt = _prompt(r"f(\mathbf{w}) = \mathbf{w}^{T} \mathbf{x}", [(r"\mathbf{x}", _row_vector(list(x)))])
    return _draft(g, prompt, answers=tuple(x))


def _quadratic(rng: random.Random, n: int, linear: bool) -> Draft:
    """x^T A x (and + b^T x): the gradient is (A + A^T) x (+ b)."""
    stem = "w" if linear else "x"
    v = _symbols(stem, n)
    A = _matrix(rng, n, n)
    while A.is_symmetric() and rng.random() < 0.8:  # mostly A != A^T: the transpose then matters
        A = _matrix(rng, n, n)
    b = _column([pick(rng, SMALL) for _ in range(n)]) if linear else None
    vec = _column(v)
    f = sp.expand((vec.T * A * vec)[0] + ((b.T * vec)[0] if linear else 0))
    point = tuple(pick(rng, POINT) for _ in range(n))
    return _lazy(f, v, ("affine" if linear else "quadratic", n), point,
                 lambda: _quadratic_key(f, v, vec, A, b, point, stem, n, linear))


def _quadratic_key(f, v, vec, A, b, point, stem, n, linear) -> Draft:
    arrays = {sp.Symbol("A"): A, sp.Symbol("a"): A}
    if linear:
        arrays[sp.Symbol("b")] = b
    g = _Gradient("f", f, v, stem, arrays, point)
    S = A + A.T
    g.gradient = sp.ImmutableMatrix(S * vec + (b if linear else sp.zeros(n, 1)))
    quadratic = total(total(Product(entry("a", I, J), entry(stem, I), entry(stem, J)), J, 1, n), I, 1, n)
    sum_form = InOrder(quadratic, total(Product(entry("b", J), entry(stem, J)), J, 1, n)) if linear else quadratic
    g.sum_form(sum_form, f)
    # The product rule on each w_i w_j: the terms with i = k and those with j = k.
    by_k = [total(Product(entry("a", K, J), entry(stem, J)), J, 1, n),
            total(Product(entry("a", I, K), entry(stem, I)), I, 1, n)] + ([entry("b", K)] if linear else [])
    g.component(InOrder(*by_k), rules=("product",))
    Am, x = array("A"), array(stem, vector=True)
    general = Product(InOrder(Am, Transposed(Am)), x)
    numbers = Product(S, x)
    if linear:
        general, numbers = InOrder(general, array("b", vector=True)), InOrder(numbers, b)
    g.matrix_form(general, numbers)
    values = g.at_point((_at(numbers, stem, point, linear),))
    data = [("A", A)] + ([(r"\mathbf{b}", _row_vector(list(b)))] if linear else [])
    if linear:
        definition = r"f(\mathbf{w}) = \mathbf{w}^{T} A \mathbf{w} + \mathbf{b}^{T} \mathbf{w}"
    else:
        definition = r"f(\mathbf{x}) = \mathbf{x}^{T} A \mathbf{x}"
    return _draft(g, _prompt(definition, data), answers=values)


def _at(numbers, stem: str, point, linear: bool):
    """The matrix form with the point's numbers in place of the vector."""
    from ..worked import Array

    column = _column(point)
    return numbers.replace(lambda e: isinstance(e, Array) and e.args[0].name == stem, lambda e: column)


def _least_squares(rng: random.Random, m: int) -> Draft:
    """||X w - y||^2: the gradient is 2 X^T (X w - y)."""
    n = 2
    w = _symbols("w", n)
    X = _matrix(rng, m, n, SMALL + (3,))
    while X.rank() < n:
        X = _matrix(rng, m, n, SMALL + (3,))
    y = _column([pick(rng, SMALL) for _ in range(m)])
    wv = _column(w)
    residual = X * wv - y
    f = sp.Add(*(r ** 2 for r in residual))
    point = tuple(pick(rng, POINT) for _ in range(n))
    return _lazy(f, w, ("least-squares", m), point, lambda: _least_squares_key(f, w, X, y, residual, point, m, n))


def _least_squares_key(f, w, X, y, residual, point, m, n) -> Draft:
    squares = InOrder(*(sp.Pow(r, 2, evaluate=False) for r in residual))  # in the order of the examples
    arrays = {sp.Symbol("X"): X, sp.Symbol("x"): X, sp.Symbol("y"): y}
    g = _Gradient("f", f, w, "w", arrays, point)
    g.gradient = sp.ImmutableMatrix(2 * X.T * residual)
    inner = InOrder(total(Product(entry("x", I, J), entry("w", J)), J, 1, n), -entry("y", I))
    g.sum_form(total(sp.Pow(inner, 2, evaluate=False), I, 1, m), squares)
    g.component(total(Product(2, inner, entry("x", I, K)), I, 1, m), rules=("chain", "weighted_sum"))
    Xm, wm, ym = array("X"), array("w", vector=True), array("y", vector=True)
    g.matrix_form(Product(2, Transposed(Xm), InOrder(Product(Xm, wm), -ym)), Product(2, X.T, residual))
    at = {s: v for s, v in zip(w, point)}
    values = g.at_point((Product(2, X.T, residual.subs(at)),))
    prompt = _prompt(r"f(\mathbf{w}) = \left\| X \mathbf{w} - \mathbf{y} \right\|^{2}",
                     [("X", X), (r"\mathbf{y}", _row_vector(list(y)))])
    return _draft(g, prompt, answers=values)


def _logistic(rng: random.Random, m: int) -> Draft:
    """The logistic loss over a batch of m examples: the gradient is X^T (sigma(X w) - y)."""
    n = 2
    w = _symbols("w", n)
    X = _matrix(rng, m, n, SMALL)
    while len({tuple(X.row(i)) for i in range(m)}) < m:  # m different examples
        X = _matrix(rng, m, n, SMALL)
    labels = [rng.randint(0, 1) for _ in range(m)]
    if len(set(labels)) == 1:
        labels[rng.randrange(m)] ^= 1  # both classes in the batch
    linear = [built.total(built.product((x, wk)) for x, wk in zip(X.row(i), w)) for i in range(m)]
    losses = [binary_cross_entropy(sigmoid(z), label) for z, label in zip(linear, labels)]
    f = built.total(losses)
    point = tuple(pick(rng, (-1, 0, 1)) for _ in range(n))
    return _lazy(f, w, ("logistic", m), point, lambda: _logistic_key(f, w, X, labels, linear, losses, point, m, n))


def _logistic_key(f, w, X, labels, linear, losses, point, m, n) -> Draft:
    y = _column(labels)
    zs = _symbols("z", m)
    arrays = {sp.Symbol("X"): X, sp.Symbol("x"): X, sp.Symbol("y"): y}
    g = _Gradient("L", f, w, "w", arrays, point)
    residual = sp.ImmutableMatrix([sigmoid(z) - label for z, label in zip(linear, labels)])
    g.gradient = sp.ImmutableMatrix(X.T * residual)
    # The key: z_i = sum_j x_ij w_j, then l_i = -y_i ln sigma(z_i) - (1 - y_i) ln(1 - sigma(z_i)).
    g.arrays[sp.Symbol("z")] = sp.ImmutableMatrix(linear)
    g.rows.append(Row((total(Product(entry("x", I, J), entry("w", J)), J, 1, n), sp.ImmutableMatrix(linear)),
                      sp.ImmutableMatrix(linear), lhs=entry("z", I), index=I, label="each example"))
    yhat_i = sigmoid(entry("z", I))
    loss_i = InOrder(-Product(entry("y", I), sp.log(yhat_i, evaluate=False)),
                     -Product(InOrder(1, -entry("y", I)), sp.log(InOrder(1, -yhat_i), evaluate=False)))
    g.sum_form(total(loss_i, I, 1, m), f)
    g.component(total(Product(InOrder(yhat_i, -entry("y", I)), entry("x", I, K)), I, 1, m),
                rules=("sigmoid_cross_entropy", "weighted_sum"))
    Xm, wm, ym = array("X"), array("w", vector=True), array("y", vector=True)
    slot = sp.Symbol("u")
    g.matrix_form(Product(Transposed(Xm), InOrder(Apply(sigmoid(slot), Product(Xm, wm)), -ym)),
                  Product(X.T, residual))
    at = dict(zip(w, point))
    values = g.at_point((Product(X.T, residual.applyfunc(lambda e: _at_point(e, at))),))
    trees = tuple(_logistic_tree(f, losses, linear, labels, zs, wk) for wk in w)
    prompt = _prompt(r"L(\mathbf{w}) = -\sum_{i=1}^{%d} \left[ y_{i} \ln \sigma(\mathbf{x}_{i}^{T} \mathbf{w}) + "
                     r"(1 - y_{i}) \ln\left(1 - \sigma(\mathbf{x}_{i}^{T} \mathbf{w})\right) \right]" % m,
                     [(r"X = \begin{bmatrix} \mathbf{x}_{1}^{T} \\ \vdots \end{bmatrix}", X),
                      (r"\mathbf{y}", _row_vector(labels))])
    return _draft(g, prompt, answers=values, trees=trees)


def _at_point(expr: sp.Expr, at: dict) -> sp.Expr:
    """An entry at the point, sigma(0) written 1/2."""
    return expr.xreplace(at).replace(lambda e: isinstance(e, sigmoid) and e.args[0] == 0, lambda e: sp.Rational(1, 2))


def _logistic_tree(f, losses, linear, labels, zs, wk) -> Step:
    """dL/dw_k = sum_i (sigma(z_i) - y_i) x_ik: the sum rule over the examples,
    each by the chain rule through the identity dl/dz = y_hat - y."""
    chains = []
    for loss, z_expr, label, z in zip(losses, linear, labels, zs):
        outer = sigmoid_cross_entropy_step(z, label)
        rate = weighted_sum_step(z_expr, wk)
        result = built.product((built.substituted(outer.result, {z: z_expr}), rate.result))
        chains.append(Step("chain", loss, wk, result, parts=(("outer", outer.expr), ("inner", z_expr), ("u", z)),
                           substeps=(outer, rate), bindings=((z, z_expr),)))
    return Step("sum", f, wk, built.total(c.result for c in chains),
                parts=tuple((f"f_{i + 1}", c.expr) for i, c in enumerate(chains)), substeps=tuple(chains))


def _lazy(f, variables, outline: tuple, point, key) -> Draft:
    """The function first; `key` builds the rest once the sheet accepts the function (it draws nothing)."""
    given = tuple(zip(variables, (sp.Integer(v) for v in point))) if point is not None else ()
    outline = ("matrix-calculus",) + tuple(str(part) for part in outline)
    return Draft(f, wrt=variables, domain=Domain(), at_point=point is not None, given=given, outline=outline,
                 complete=lambda: dataclasses.replace(key(), outline=outline))


def _draft(g: _Gradient, prompt: str, answers: tuple, trees: tuple | None = None) -> Draft:
    trees = trees or g.trees()
    given = tuple(zip(g.variables, (sp.Integer(v) for v in g.point))) if g.point is not None else ()
    return Draft(g.function, wrt=g.variables, domain=Domain(), name=g.name.name, prompt=prompt,
                 preferred=tuple(g.gradient), steps=trees, at_point=g.point is not None, given=given,
                 worked=g.worked(tuple(sp.sympify(a) for a in answers)))


@topic("matrix-calculus", "Gradients in vector form: d(w^T x)/dw = x, d(x^T A x)/dx = (A + A^T) x, "
       "w^T A w + b^T w, d||Xw - y||^2/dw = 2 X^T (Xw - y), logistic regression over a batch X^T (sigma(Xw) - y)",
       ranges={"easy": (2, 4), "medium": (4, 12), "hard": (8, 24)}, by_level=True)
def _matrix_calculus(rng: random.Random, level: str):
    if level == "easy":
        return _linear(rng) if rng.random() < 0.4 else _quadratic(rng, 2, linear=False)
    if level == "medium":
        kind = pick(rng, ("quadratic", "affine", "least-squares"))
        if kind == "quadratic":
            return _quadratic(rng, 3, linear=False)
        if kind == "affine":
            return _quadratic(rng, 2, linear=True)
        return _least_squares(rng, 2)
    return _least_squares(rng, 3) if rng.random() < 0.4 else _logistic(rng, pick(rng, (2, 3)))
