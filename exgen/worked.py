"""Worked computations: key lines that are not one derivation tree.

A backpropagation exercise is worked at given numbers (a table of forward
values, then the backward pass unit by unit); a gradient in vector form is
derived by components (the sum form, the matrix form, the numbers). A topic
describes such a key as a `Worked`: sections of `Row`s, every part a SymPy
object, no LaTeX. A row states one thing, a value or a derivative, and shows
it in successive forms (the definition, the numbers put in, the exact value).

Display heads print as a key writes them and mean (`concrete`) what they
stand for: `Number` (1.3 rather than 13/10), `Dot` (a product factor by
factor, with dots), `InOrder` (a sum in the order written), `Partial` and
`Gradient` (left-hand sides), `Entry` and `Total` (a_kj and a sum over an
index, for a general component k), `Product` (side by side, in order:
v h, 2 X^T (X w - y)), `Array` and `Transposed` (matrix forms), `Apply` (sigma applied entrywise).

`check_worked` checks every form of every row before anything is printed:
at the given numbers (the named quantities of earlier rows put in) each
form must equal the row's value, and the value must equal its `truth` (the
quantity evaluated directly from the data) or the numeric derivative of
`of` by `wrt`. A row whose forms still hold the variables (a gradient as a
function of w) is checked at random points instead, and a row with a
general index k for every k. Nothing here uses the step engine.

To add a display head: subclass `Shown`, give it `_latex` and `concrete`.
"""

import functools
import operator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import mpmath
import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .check import DIGITS, MIN_POINTS, TOLERANCE, Verdict, derivative_agrees, numeric_function, sample_points

# ---------------------------------------------------------------------------
# Display heads
# ---------------------------------------------------------------------------


class Shown(sp.Function):
    """A form as a key writes it; `concrete(env)` is what it stands for,
    with the named quantities and arrays of `env` put in."""

    def concrete(self, env: "Env"):
        raise NotImplementedError(type(self).__name__)

    def _sympystr(self, printer):
        return "%s(%s)" % (type(self).__name__, ", ".join(printer._print(a) for a in self.args))


class Number(Shown):
    """A non-negative terminating decimal printed as one: 1.3, 0.25."""

    nargs = 1

    def concrete(self, env):
        return self.args[0]

    def _latex(self, printer, exp=None):
        body = decimal_text(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _eval_evalf(self, prec):
        return self.args[0]._eval_evalf(prec)

    def _eval_is_real(self):
        return True

    def _eval_is_positive(self):
        return self.args[0].is_positive


def decimal_text(value: sp.Rational) -> str:
    """13/10 as "1.3" (the value must be a terminating decimal)."""
    places = _places(value)
    text = format(Decimal(int(value.p)) / Decimal(int(value.q)), f".{places}f")
    return text


def _places(value: sp.Rational) -> int | None:
    """Decimal places of a terminating decimal (None: it does not terminate in 6)."""
    q = int(value.q)
    for places in range(0, 7):
        if 10 ** places % q == 0:
            return places
    return None


def shown(expr: sp.Basic) -> sp.Basic:
    """`expr` with every terminating non-integer rational printed as a decimal
    (0.5 x + 1.25, sigma(-0.3), 1.5 tanh(0.1)); other fractions stay fractions."""
    if not isinstance(expr, sp.Basic) or isinstance(expr, Shown):
        return expr
    if not any(not r.is_Integer and _places(r) is not None for r in expr.atoms(sp.Rational)):
        return expr
    return _shown(expr)


def _shown(expr: sp.Basic) -> sp.Basic:
    if isinstance(expr, Shown) or not expr.args and not expr.is_Rational:
        return expr
    if expr.is_Rational:
        if expr.is_Integer or _places(expr) is None:
            return expr
        return Number(expr) if expr > 0 else -Number(-expr)
    if expr.is_Mul:
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient.is_Rational and not coefficient.is_Integer and _places(coefficient) is not None:
            # A decimal coefficient leads its product: 1.5 tanh(0.1), not tanh(0.1) 1.5.
            body = Product(Number(abs(coefficient)), _shown(rest))
            return -body if coefficient < 0 else body
    args = tuple(_shown(a) for a in expr.args)
    # Rebuilt as it was: evaluating would ask SymPy's costly questions of the numbers inside.
    return expr.func(*args, evaluate=False) if isinstance(expr, (sp.Add, sp.Mul, sp.Pow, sp.Function)) else expr.func(*args)


def number(value) -> sp.Expr:
    """One given number as printed: an integer, or a decimal."""
    value = sp.Rational(value)
    return shown(value) if not value.is_Integer else value


class Dot(Shown):
    """A product shown factor by factor, in this order: 0.5 \\cdot (-1.5)."""

    precedence = PRECEDENCE["Mul"]

    def concrete(self, env):
        return _combined(operator.mul, sp.Mul, [concrete(a, env) for a in self.args])

    def _latex(self, printer, exp=None):
        body = _dotted(printer, self.args, bracket_first=False)
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


def _dotted(printer, factors, bracket_first: bool) -> str:
    """Factors joined by dots; sums bracketed, and negative factors (but the
    first, unless `bracket_first`: a term after a plus sign)."""
    out = []
    for i, factor in enumerate(factors):
        printed = printer._print(factor)
        negative = printed.lstrip().startswith("-")
        if _is_sum(factor) or (negative and (i > 0 or bracket_first)):
            printed = r"\left(%s\right)" % printed
        out.append(printed)
    return r" \cdot ".join(out)


def _combined(op, head, values: list):
    """Matrices combined by `op`; numbers and expressions as one unevaluated
    `head` (evaluating would ask SymPy's costly questions of long numbers)."""
    if any(isinstance(v, sp.MatrixBase) for v in values):
        return functools.reduce(op, values)
    return values[0] if len(values) == 1 else head(*values, evaluate=False)


def _is_sum(expr) -> bool:
    return isinstance(expr, InOrder) or (isinstance(expr, sp.Expr) and not isinstance(expr, Shown) and expr.is_Add)


class InOrder(Shown):
    """A sum shown term by term in this order: 0.75 + (-1) \\cdot 2 + 0.3."""

    precedence = PRECEDENCE["Add"]

    def concrete(self, env):
        return _combined(operator.add, sp.Add, [concrete(a, env) for a in self.args])

    def _latex(self, printer, exp=None):
        out = ""
        for i, term in enumerate(self.args):
            if isinstance(term, Dot):
                printed = _dotted(printer, term.args, bracket_first=i > 0)
                out += printed if i == 0 else " + " + printed
            elif i > 0 and not isinstance(term, Shown) and term.could_extract_minus_sign():
                out += " - " + printer._print(-term)
            else:
                printed = printer._print(term)
                if i > 0 and printed.lstrip().startswith("-"):
                    printed = r"\left(%s\right)" % printed
                out += printed if i == 0 else " + " + printed
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)


class Built(Shown):
    """A number printed in the order its terms and factors were built. SymPy's
    printer orders the terms of a number by evaluating each (a fifth of a
    second for one softmax gradient's exact value); the topic built it as a
    student writes it (2 tanh 0.5 - 1.5 tanh 0.2 + 0.1)."""

    nargs = 1

    def concrete(self, env):
        return concrete(self.args[0], env)

    def _latex(self, printer, exp=None):
        from .forms import tex_as_built

        body = tex_as_built(self.args[0])
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


class Ratio(Shown):
    """numerator / denominator as a fraction, whatever the signs inside
    (e^{-0.4} / (e^{-0.4} + e^{2.2}), which SymPy would turn over)."""

    nargs = 2

    def concrete(self, env):
        numerator, denominator = (concrete(a, env) for a in self.args)
        return sp.Mul(numerator, sp.Pow(denominator, -1, evaluate=False), evaluate=False)

    def _latex(self, printer, exp=None):
        numerator, denominator = self.args
        return r"\frac{%s}{%s}" % (printer._print(numerator), printer._print(denominator))


class Partial(Shown):
    """The left-hand side d of / d wrt (a partial derivative)."""

    nargs = 2

    def _latex(self, printer, exp=None):
        of, wrt = self.args
        return r"\frac{\partial %s}{\partial %s}" % (printer._print(of), printer._print(wrt))


class Gradient(Shown):
    """The left-hand side: the gradient of `of` with respect to the vector `by`."""

    nargs = 2

    def _latex(self, printer, exp=None):
        of, by = self.args
        return r"\nabla_{%s} %s" % (printer._print(by), printer._print(of))


class At(Shown):
    """A left-hand side evaluated at a point: grad f |_{x = (1, -1)^T}."""

    nargs = 2

    def _latex(self, printer, exp=None):
        what, where = self.args
        return r"\left. %s \right|_{%s}" % (printer._print(what), printer._print(where))


class Equals(Shown):
    """a = b, where a form names a value (x = (1, -1)^T)."""

    nargs = 2

    def _latex(self, printer, exp=None):
        left, right = self.args
        return r"%s = %s" % (printer._print(left), printer._print(right))


class Vector(Shown):
    """A column vector written on one line: (1, -1)^T."""

    def concrete(self, env):
        return sp.ImmutableMatrix(len(self.args), 1, [concrete(a, env) for a in self.args])

    def _latex(self, printer, exp=None):
        return r"\left(%s\right)^{T}" % ", ".join(printer._print(a) for a in self.args)


class Array(Shown):
    """A matrix or vector by name (X, A; bold for a vector: w, x, y);
    `env` gives its entries."""

    nargs = 2  # (the name as a Symbol, 1 for a vector, 0 for a matrix)

    def concrete(self, env):
        return env.arrays[self.args[0]]

    def _latex(self, printer, exp=None):
        name, vector = self.args
        body = r"\mathbf{%s}" % name.name if vector else name.name
        return body if exp is None else r"%s^{%s}" % (body, exp)


def array(name: str, vector: bool = False) -> Array:
    return Array(sp.Symbol(name), sp.Integer(1 if vector else 0))


class Transposed(Shown):
    nargs = 1

    def concrete(self, env):
        return concrete(self.args[0], env).T

    def _latex(self, printer, exp=None):
        inner = self.args[0]
        printed = printer._print(inner)
        if not isinstance(inner, (Array, sp.MatrixBase)):
            printed = r"\left(%s\right)" % printed
        return r"%s^{T}" % printed


class Product(Shown):
    """A product written side by side in this order: v h, 2 X^T (X w - y)."""

    precedence = PRECEDENCE["Mul"]

    def concrete(self, env):
        return _combined(operator.mul, sp.Mul, [concrete(a, env) for a in self.args])

    def _latex(self, printer, exp=None):
        out = ""
        for factor in self.args:
            printed = printer._print(factor)
            if isinstance(factor, InOrder) or (isinstance(factor, sp.Expr) and factor.is_Add) or (
                    out and printed.lstrip().startswith("-")):  # 1.5 (-0.4 ...), never 1.5 - 0.4 ...
                printed = r"\left(%s\right)" % printed
            # A number after a factor takes a dot: 0.5 \cdot 1.5, never 0.5 1.5 (read as one number).
            glue = r" \cdot " if out and printed.lstrip()[:1] in "0123456789." else " "
            out = out + glue + printed if out else printed
        return out


class Apply(Shown):
    """A function of the rule tables applied entrywise: sigma(X w)."""

    nargs = 2  # (an application of the function to a placeholder, the argument)

    def concrete(self, env):
        template, argument = self.args
        (slot,) = template.free_symbols
        value = concrete(argument, env)
        if isinstance(value, sp.MatrixBase):
            return value.applyfunc(lambda entry: template.xreplace({slot: entry}))
        return template.xreplace({slot: value})

    def _latex(self, printer, exp=None):
        template, argument = self.args
        (slot,) = template.free_symbols
        printed = printer._print(template)
        return printed.replace(printer._print(slot), printer._print(argument), 1)


class Entry(Shown):
    """a_{kj}: an entry of a named matrix or vector at (general) indices."""

    def concrete(self, env):
        name, *indices = self.args
        array_ = env.arrays[name]
        at = [int(concrete(i, env)) - 1 for i in indices]
        if len(at) == 1:
            return array_[at[0]]
        return array_[at[0], at[1]]

    def _latex(self, printer, exp=None):
        name, *indices = self.args
        body = r"%s_{%s}" % (name.name, "".join(printer._print(i) for i in indices))
        return body if exp is None else r"%s^{%s}" % (body, exp)


def entry(name: str, *indices) -> Entry:
    return Entry(sp.Symbol(name), *(sp.sympify(i) for i in indices))


class Total(Shown):
    """sum_{index = low}^{high} body (a sum over a general index)."""

    nargs = 4

    def concrete(self, env):
        body, index, low, high = self.args
        terms = [concrete(body, env.with_value(index, sp.Integer(i))) for i in range(int(low), int(high) + 1)]
        return _combined(operator.add, sp.Add, terms)

    def _latex(self, printer, exp=None):
        body, index, low, high = self.args
        printed = printer._print(body)
        if isinstance(body, InOrder) or (isinstance(body, sp.Expr) and body.is_Add):
            printed = r"\left(%s\right)" % printed
        out = r"\sum_{%s=%s}^{%s} %s" % (printer._print(index), printer._print(low), printer._print(high), printed)
        return out if exp is None else r"\left(%s\right)^{%s}" % (out, exp)


def total(body, index: sp.Symbol, low: int, high: int) -> Total:
    return Total(body, index, sp.Integer(low), sp.Integer(high))


@dataclass(frozen=True)
class Env:
    """What a form's names stand for: named quantities (symbol -> value) and arrays (name -> Matrix)."""

    values: tuple = ()
    array_items: tuple = ()

    @functools.cached_property
    def mapping(self) -> dict:
        return dict(self.values)

    @functools.cached_property
    def arrays(self) -> dict:
        return dict(self.array_items)

    def with_value(self, symbol, value) -> "Env":
        return Env(self.values + ((symbol, value),), self.array_items)


def concrete(expr, env: Env):
    """What a displayed form stands for: display heads replaced by their
    meaning, named quantities by their values (a number, an expression in
    the variables, or an explicit Matrix)."""
    if isinstance(expr, Shown):
        return expr.concrete(env)
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: concrete(e, env))
    if not isinstance(expr, sp.Basic) or not expr.args:
        return env.mapping.get(expr, expr) if isinstance(expr, sp.Basic) else expr
    if not expr.atoms(Shown):
        return expr.xreplace(env.mapping) if env.mapping else expr
    args = [concrete(a, env) for a in expr.args]
    if expr.is_Add:
        return _combined(operator.add, sp.Add, args)
    if expr.is_Mul:
        return _combined(operator.mul, sp.Mul, args)
    if any(isinstance(a, sp.MatrixBase) for a in args):
        raise ValueError(f"{type(expr).__name__} of a matrix")
    return expr.func(*args, evaluate=False) if isinstance(expr, (sp.Pow, sp.Function)) else expr.func(*args)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a worked computation: [name =] [lhs =] forms[0] = forms[1] = ...

    name: the symbol the row defines (z_1, delta_o), used by later rows;
    lhs: what it is, shown after the name (d L / d o); forms: display
    objects. The claim checked: every form equals `value`, and `value`
    equals `truth` (an expression in the variables, evaluated directly) or
    the derivative of `of` by `wrt` (one variable, or each component of a
    gradient: `value` is then a column Matrix). Where `index` is given, the
    forms hold a general index k and are checked for k = 1, ..., n, the
    value being the column of the n instances.
    role: how a writer groups the row ("forward", "delta", "gradient",
    "answer", "step"); label: a few plain words naming it (the unit, the
    component); rules: the registry rules it applies (named in its phrase);
    exact: whether `value` is short enough to print as the last form."""

    forms: tuple
    value: sp.Basic
    name: sp.Symbol | None = None
    lhs: sp.Basic | None = None
    truth: sp.Basic | None = None
    of: sp.Expr | None = None
    wrt: tuple = ()
    index: sp.Symbol | None = None
    role: str = "step"
    label: str = ""
    rules: tuple[str, ...] = ()
    approximate: bool = True  # a number: printed to the sheet's decimal places when it asks for them


@dataclass(frozen=True)
class Worked:
    """A key worked at given numbers, in titled sections of rows.

    point: the given values of the variables (the network's weights);
    arrays: named matrices and vectors of the display forms; answers: the
    exact value of each derivative asked, in the exercise's `wrt` order
    (what sheet.json's check lists); asked: what the exercise asks for, as
    display objects (z_1, h_1, L, d L / d w_11, ...)."""

    sections: tuple[tuple[str, tuple[Row, ...]], ...]
    point: tuple = ()
    arrays: tuple = ()
    answers: tuple = ()
    asked: tuple = ()

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for _, rows in self.sections for row in rows)


# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------


def check_worked(worked: Worked, variables, domain, rng) -> Verdict:
    """Every form of every row against the row's value, and every value
    against its truth or derivative (see the module docstring). Numerically,
    at 30 digits: nothing is substituted symbolically (SymPy would evaluate
    e^{o} of a long exact value, asking costly questions of it)."""
    env = Env((), tuple(worked.arrays))
    with mpmath.workdps(DIGITS):
        numbers = {s: _mp(v) for s, v in worked.point}
    symbolic: dict = {}  # named values that hold the variables (a gradient as a function of w)
    derived: set = set()  # (function, variable, derivative) already checked at these points
    points = None
    for row in worked.rows:
        value = _components(concrete(row.value, env))
        # A form with the general index: one instance per component of the value.
        forms = [tuple(concrete(form, env.with_value(row.index, sp.Integer(k))) for k in range(1, len(value) + 1))
                 if row.index is not None and form.has(row.index) else _components(concrete(form, env))
                 for form in row.forms]
        if symbolic:
            forms = [tuple(_symbolic(c, symbolic) for c in form) for form in forms]
            value = tuple(_symbolic(c, symbolic) for c in value)
        # At the given numbers where they determine everything; else at random points
        # (a gradient as a function of w, or the constant gradient of w^T x, which has no point).
        varies = any(_free(c, variables) for c in value) or (
            row.of is not None and any(s not in numbers for s in row.of.free_symbols))
        if varies and points is None:
            points = sample_points(domain, variables, rng, MIN_POINTS)
        at = [{**numbers, **point} for point in points] if varies else [numbers]
        verdict = _row_agrees(row, forms, value, at, derived)
        if not verdict.ok:
            where = row.label or sp.sstr(row.name if row.name is not None else row.lhs)
            return Verdict(False, f"worked row {where}: {verdict.detail}")
        if row.name is not None:
            if varies:
                symbolic[row.name] = value[0] if len(value) == 1 else sp.ImmutableMatrix(value)
            elif len(value) == 1:
                numbers[row.name] = _evaluate(value[0], numbers)
    return Verdict(True)


def _mp(value):
    return mpmath.mpf(value.p) / value.q if isinstance(value, sp.Rational) else _evaluate(sp.sympify(value), {})


def _symbolic(expr, values: dict):
    return expr.xreplace(values) if isinstance(expr, sp.Basic) and expr.free_symbols & set(values) else expr


def _components(value) -> tuple:
    if isinstance(value, sp.MatrixBase):
        return tuple(value)
    return (value,)


def _free(expr, variables) -> bool:
    return isinstance(expr, sp.Basic) and bool(expr.free_symbols & set(variables))


def _row_agrees(row: Row, forms, value, at: list[dict], derived: set) -> Verdict:
    for form in forms:
        if len(form) != len(value):
            return Verdict(False, f"a form has {len(form)} components, the value {len(value)}")
    if row.of is not None and len(at) > 1:
        # A derivative as a function of the variables, at the random points: the oracle's own check
        # (floats first, mpmath where they cannot decide); each (function, variable, derivative) once.
        for claimed, wrt in zip(value, row.wrt, strict=True):
            key = (row.of, wrt, claimed)
            if key not in derived:
                verdict = derivative_agrees(row.of, wrt, claimed, at)
                if not verdict.ok:
                    return Verdict(False, f"the value is not the derivative by {wrt}: {verdict.detail}")
                derived.add(key)
    for where in at:
        values = [_evaluate(sp.sympify(v), where) for v in value]
        for form in forms:
            for got, want in zip(form, values):
                if not _close_values(_evaluate(sp.sympify(got), where), want):
                    return Verdict(False, f"the form {sp.sstr(got)} is not the value")
        if row.truth is not None:
            for got, want in zip(values, _components(row.truth), strict=True):
                if not _close_values(got, _evaluate(sp.sympify(want), where)):
                    return Verdict(False, f"the value is not the direct evaluation {sp.sstr(want)}")
        if row.of is not None and len(at) == 1:
            for got, wrt in zip(values, row.wrt, strict=True):
                if not _derivative_agrees(row.of, wrt, got, where):
                    return Verdict(False, f"the value is not the derivative by {wrt}")
    return Verdict(True)


def _evaluate(expr, where: dict):
    """expr at 30 digits, its free symbols taking their values from `where` (None: undefined)."""
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    if any(s not in where for s in symbols):
        return None
    fn = numeric_function(symbols, expr)
    if fn is None:
        return None
    with mpmath.workdps(DIGITS):
        try:
            value = fn(*(where[s] for s in symbols))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return None
        if isinstance(value, (mpmath.mpc, complex)):
            if abs(value.imag) > 1e-20:
                return None
            value = value.real
        return mpmath.mpf(value)


def _close_values(a, b) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= TOLERANCE * max(1, abs(a), abs(b))


def _derivative_agrees(of: sp.Expr, wrt: sp.Symbol, claimed, where: dict) -> bool:
    """d of / d wrt equals `claimed` (a number) where every symbol has the value `where` gives it."""
    symbols = sorted(of.free_symbols | {wrt}, key=lambda s: s.name)
    if any(s not in where for s in symbols):
        return False
    fn = numeric_function(tuple(symbols), of)
    if fn is None:
        return False
    args = [where[s] for s in symbols]
    index = symbols.index(wrt)
    with mpmath.workdps(DIGITS):
        def along(t):
            shifted = list(args)
            shifted[index] = t
            return fn(*shifted)
        try:
            want = mpmath.diff(along, args[index])
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return False
    return _close_values(claimed, mpmath.mpf(want))


_AS_BUILT = StrPrinter({"order": "none"})


def plain_as_built(expr: sp.Basic) -> str:
    """The check string of an exact value, its terms and factors in the order
    they were built (SymPy's default order evaluates each term to sort it)."""
    return _AS_BUILT.doprint(expr)


# ---------------------------------------------------------------------------
# Decimals
# ---------------------------------------------------------------------------


def approximate(value: sp.Basic, places: int) -> str:
    """The exact number `value` rounded to `places` decimals ("-0.0412"),
    from its value at 30 digits; checked to lie within half a unit of the
    last place of it."""
    with mpmath.workdps(DIGITS + 10):
        exact = _evaluate(sp.sympify(value), {})
        if exact is None:
            raise ValueError(f"{sp.sstr(value)} has no real value")
        text = mpmath.nstr(exact, DIGITS + 5, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    rounded = Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.0000"
    out = format(rounded, "f")
    with mpmath.workdps(DIGITS):
        if abs(mpmath.mpf(out) - exact) > mpmath.mpf(10) ** -places / 2 * (1 + mpmath.mpf(10) ** -20):
            raise AssertionError(f"{out} is not {sp.sstr(value)} to {places} places")
    return out


# ---------------------------------------------------------------------------
# The key as a narration (narrate.py's lines, printed by writers.py)
# ---------------------------------------------------------------------------


def row_label(row: Row) -> str:
    """A row's words: its unit or component, and the rules its step applies
    (the weighted sum of a gradient's dz/dw goes without saying)."""
    from .rules import RULES

    rules = [RULES[name].title for name in row.rules if name != "weighted_sum" or row.role != "gradient"]
    label = row.label[:1].upper() + row.label[1:] if row.label else ""
    if label and rules:
        return "%s (%s)" % (label, "; ".join(rules))
    return label


def row_name(row: Row) -> sp.Basic:
    """What a row's left side states: z_1, dL/dw, delta_o = dL/do."""
    if row.name is not None and row.lhs is not None:
        return Equals(row.name, row.lhs)
    return row.name if row.name is not None else row.lhs


def row_approximation(row: Row, decimals: int) -> tuple[str, ...]:
    """The row's value to `decimals` places (one per entry of a matrix),
    unless it is already printed exactly or holds variables."""
    value = row.value
    if not decimals or not row.approximate or not isinstance(value, sp.Basic) or value.free_symbols:
        return ()
    entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
    if all(e.is_Rational and (e * 10 ** decimals).is_Integer for e in entries):
        return ()
    return tuple(approximate(e, decimals) for e in entries)


def narration(worked: Worked, policy: str, variables: tuple, name: str, count: int, decimals: int = 0):
    """A worked key as format-neutral lines (`narrate.Line`, notation
    "value": the row's own left side), so the writers print it like any key.

    worked and full print every row (a worked computation has no folded
    steps to unfold): each section's title, the forward rows under it, each
    backward row with its unit and rules, the derivatives asked boxed where
    they are found. answers: only those, each on its own (`_answer`). Every
    row was checked by `check_worked` when the problem was accepted and the
    lines show the rows' forms; an answer's exact value, the one form not
    taken from a row, is checked against the row's value (`_exact`)."""
    from .narrate import POLICIES, Line, Narration

    if policy not in POLICIES:
        raise ValueError(f"unknown key policy {policy!r}")
    lines = []
    target = 0
    named = {row.name for row in worked.rows if row.name is not None}
    for title, rows in worked.sections:
        if policy != "answers" and title and len(worked.sections) > 1:
            lines.append(Line("worked", None, None, label=title))
        for row in rows:
            final = row.role == "gradient"
            if policy == "answers" and not final:
                continue
            forms, approx = row.forms, row_approximation(row, decimals)
            if policy == "answers":
                forms, approx = _answer(row, worked, named, decimals)
            label = row_label(row) if policy != "answers" and row.role != "forward" else ""
            lines.append(Line("worked", None, None, forms, notation="value", name=row_name(row),
                              target=target if final else -1, final=final, titled=bool(label), label=label,
                              approx=approx))
            target += final
    return Narration(policy, tuple(lines), (), tuple(variables), count, name)


# How wide (writers.width units) an exact value may print in the table of answers.
ANSWER_WIDTH = 48
# The places an answer too long to print exactly is given to, if the sheet asks for none.
ANSWER_PLACES = 4


def _answer(row: Row, worked: Worked, named: set, decimals: int) -> tuple[tuple, tuple[str, ...]]:
    """(forms, approximation) of a derivative asked in the table of answers,
    which defines nothing: the row's last form if it names no value of an
    earlier row (delta_z, y_hat), else the exact value if it is short, else
    (no form) the value to the sheet's decimal places, or ANSWER_PLACES."""
    from .forms import tex
    from .writers import width

    last = row.forms[-1]
    if not (getattr(last, "free_symbols", set()) & named):
        return (last,), row_approximation(row, decimals)
    exact = _exact(row, worked)
    if width(tex(exact)) <= ANSWER_WIDTH:
        return (exact,), row_approximation(row, decimals)
    approx = row_approximation(row, decimals or ANSWER_PLACES)
    return ((), approx) if approx else ((exact,), ())


def _exact(row: Row, worked: Worked) -> sp.Basic:
    """A row's exact value as a key prints it (decimals as decimals, a number
    in the order it was built), checked against the value `check_worked`
    confirmed (the display must mean it)."""
    form = shown(row.value)
    if isinstance(form, sp.Expr) and not form.free_symbols:
        form = Built(form)
    printed = _evaluate(concrete(form, Env((), tuple(worked.arrays))), {})
    if not _close_values(printed, _evaluate(row.value, {})):
        raise AssertionError(f"the exact value of {sp.sstr(row.value)} prints as something else")
    return form


# ---------------------------------------------------------------------------
# Multiple choice
# ---------------------------------------------------------------------------

# The places a worked problem's options are printed to, if the sheet asks for none.
CHOICE_PLACES = 4


def choice_decimals(answers, decimals: int = 0) -> tuple[str, ...] | None:
    """A worked problem's option as it is printed: each value to the sheet's
    decimal places (CHOICE_PLACES without --decimals), as the student finds
    it by hand; None where an answer holds variables (the gradient x of
    w^T x is printed as it is)."""
    if any(not isinstance(a, sp.Basic) or a.free_symbols for a in answers):
        return None
    places = decimals or CHOICE_PLACES
    # A short exact number as it is (1, -2.7); any other to the places, rounded.
    return tuple(decimal_text(a) if a.is_Rational and (_places(a) or 0) <= places and _places(a) is not None
                 else approximate(a, places) for a in answers)
