"""Plain Unicode for the terminal: the course's notation without LaTeX.

`text(expr)` prints sigma(3x + 1) as σ(3x + 1), Max(0, x) as ReLU, log as ln,
log(u, 3) as log₃(u), x**2 as x², products side by side (2x sin(3x)),
fractions as a/b with the parentheses a reader needs, and a piecewise
result as "1 if x > 0, 0 if x ≤ 0".

Everything this printer knows about particular functions is their rule's
`text` (registry.Text): a function rule without one prints as
name(argument), which is still readable.
"""

import functools
from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from .forms import RememberingPrinter
from .registry import RULES, Text


# Heads that are not functions of the rule tables: narrate.py's sigma(z_i) for
# a general index. The functions of the tables print as their rule's `text` says.
OTHER_HEADS: dict[str, Text] = {
    "GeneralSoftmax": Text("σ", "after"),
}


def _function_text(expr) -> Text | None:
    rule = RULES.function_for(type(expr))
    if rule is not None and rule.text is not None:
        return rule.text
    return OTHER_HEADS.get(type(expr).__name__)


# Symbol names of the ML topics as the course writes them.
SYMBOL_TEXT = {"yhat": "ŷ"}

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789ijk", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₖ")
_RELATIONS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


def subscript(text: str) -> str | None:
    translated = text.translate(_SUBSCRIPT)
    return translated if all(ch not in "0123456789ijk" for ch in translated) else None


class TextPrinter(RememberingPrinter, StrPrinter):
    """SymPy's str printer with the course's notation (see the module docstring)."""

    # No class defines this, so exgen's own heads (sigma, log_k, the shown
    # product) print through the methods here, not their check-string forms.
    printmethod = "_exgen_text"

    def _print_Symbol(self, expr):
        name = expr.name
        stem = name.rstrip("0123456789")
        digits = name[len(stem):]
        if "_" in stem:
            stem, _, index = stem.partition("_")
            digits = index + digits
        stem = SYMBOL_TEXT.get(stem, stem)
        if not digits:
            return stem
        return stem + (subscript(digits) or "_" + digits)

    _print_Dummy = _print_Symbol

    def _print_Exp1(self, expr):
        return "e"

    def _print_Pi(self, expr):
        return "π"

    def _print_Rational(self, expr):
        return "%d/%d" % (expr.p, expr.q)

    def _print_Add(self, expr, order=None):
        terms = list(expr.as_ordered_terms())
        # A leading positive term where there is one: ŷ - y, not -y + ŷ.
        for i, term in enumerate(terms):
            if not term.could_extract_minus_sign():
                terms = [term] + terms[:i] + terms[i + 1:]
                break
        out = ""
        for i, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            body = self._print(-term if negative else term)
            if self._needs_brackets_in_sum(-term if negative else term):
                body = "(%s)" % body
            if i == 0:
                out = ("-" + body) if negative else body
            else:
                out += (" - " if negative else " + ") + body
        return out

    @staticmethod
    def _needs_brackets_in_sum(term) -> bool:
        return isinstance(term, sp.Piecewise)

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign():
            return "-" + self._factor(-expr, PRECEDENCE["Mul"])
        numerator, denominator = [], []
        for factor in _course_order(expr.as_ordered_factors()):
            if factor.is_Rational and not factor.is_Integer:
                if factor.p != 1:
                    numerator.append(sp.Integer(factor.p))
                denominator.append(sp.Integer(factor.q))
            elif factor.is_Pow and factor.exp.is_Rational and factor.exp.is_negative:
                denominator.append(factor.base ** -factor.exp)
            else:
                numerator.append(factor)
        top = self._juxtaposed(numerator) if numerator else "1"
        if not denominator:
            return top
        below = self._juxtaposed(denominator)
        if len(denominator) > 1 or denominator[0].is_Mul:
            below = "(%s)" % below
        return "%s/%s" % (top, below)

    def _juxtaposed(self, factors) -> str:
        """Factors side by side: 2x, 3x² sin x, 3 cos(3x), (x + 1)(x - 1), 2 · 3^x."""
        out = ""
        for i, factor in enumerate(factors):
            printed = self._factor(factor, PRECEDENCE["Mul"])
            if i:
                before = factors[i - 1]
                if before.is_Number and printed.startswith("("):
                    pass
                elif before.is_Number and printed[0].isdigit():
                    out += " · "
                elif (before.is_Number or _letter(before)) and _sticks_to_number(factor):
                    pass
                elif not (printed.startswith("(") and (out.endswith(")") or before.is_Symbol)):
                    out += " "
            out += printed
        return out

    def _factor(self, expr, level) -> str:
        printed = self._print(expr)
        if expr.is_Add or isinstance(expr, sp.Piecewise) or (
                precedence(expr) < level and not expr.is_Mul) or (
                expr.is_Mul and expr.could_extract_minus_sign()):
            return "(%s)" % printed
        return printed

    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.as_base_exp()
        if base is sp.E:
            return self._exponential(exponent)
        if exponent.is_Rational and exponent.is_negative:
            below = self._print(base ** -exponent)
            if (base ** -exponent).is_Add or (base ** -exponent).is_Mul:
                below = "(%s)" % below
            return "1/%s" % below
        if exponent == sp.S.Half:
            return "√%s" % self._radicand(base)
        return self._powered(base, exponent)

    def _radicand(self, base) -> str:
        printed = self._print(base)
        return printed if base.is_Symbol or base.is_Integer else "(%s)" % printed

    def _powered(self, base, exponent) -> str:
        if isinstance(base, sp.Function) and not isinstance(base, AppliedUndef):
            row = _function_text(base)
            if row is not None and row.power == "prefix" and exponent.is_Integer:
                return self._print_Function(base, power=str(exponent).translate(_SUPERSCRIPT))
        printed = self._print(base)
        if not (base.is_Symbol or (base.is_Integer and base >= 0)):
            row = _function_text(base) if isinstance(base, sp.Function) else None
            if not (row is not None and row.power == "after"):
                printed = "(%s)" % printed
        if exponent.is_Integer:
            return printed + str(exponent).translate(_SUPERSCRIPT)
        shown = self._print(exponent)
        return "%s^%s" % (printed, shown if exponent.is_Symbol else "(%s)" % shown)

    def _exponential(self, exponent) -> str:
        if exponent.is_Integer:
            return "e" + str(exponent).translate(_SUPERSCRIPT)
        shown = self._print(exponent)
        return "e^" + (shown if exponent.is_Symbol else "(%s)" % shown)

    def _print_exp(self, expr):
        return self._exponential(expr.args[0])

    def _argument(self, arg, bare_symbol: bool = True) -> str:
        printed = self._print(arg)
        bare = arg.is_Symbol or (arg.is_Integer and arg > 0)
        return " " + printed if bare_symbol and bare else "(%s)" % printed

    def _print_Function(self, expr, power: str = ""):
        if isinstance(expr, AppliedUndef):
            return "%s%s(%s)" % (expr.func.__name__, power, ", ".join(self._print(a) for a in expr.args))
        row = _function_text(expr)
        if row is None:
            return "%s%s(%s)" % (type(expr).__name__, power, ", ".join(self._print(a) for a in expr.args))
        head = row.head(expr) if row.head else row.name
        if row.argument is None and len(expr.args) != 1:  # logsumexp(z1, z2, z3)
            return "%s%s(%s)" % (head, power, ", ".join(self._print(a) for a in expr.args))
        (arg,) = (row.argument(expr),) if row.argument else expr.args
        # ln x and sin x without brackets, as printed textbooks do; σ(x) and ReLU(x) with.
        return head + power + self._argument(arg, bare_symbol=row.power != "after")

    def _print_Max(self, expr):
        return "max(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Derivative(self, expr):
        inner = expr.expr
        if isinstance(inner, AppliedUndef) and len(inner.args) == 1 and expr.derivative_count == 1:
            return "%s'(%s)" % (inner.func.__name__, self._print(inner.args[0]))
        return "d/d%s %s" % (self._print(expr.variables[0]), self._print(inner))

    def _print_Relational(self, expr):
        return "%s %s %s" % (self._print(expr.lhs), _RELATIONS[expr.rel_op], self._print(expr.rhs))

    def _print_Piecewise(self, expr):
        pieces = []
        previous = []
        for value, condition in expr.args:
            if condition is sp.true:
                # "otherwise" spelt out where one condition came before: x ≤ 0 -> x > 0.
                if len(previous) == 1 and isinstance(previous[0], sp.core.relational.Relational):
                    condition = previous[0].negated
                else:
                    pieces.append("%s otherwise" % self._print(value))
                    continue
            previous.append(condition)
            pieces.append("%s if %s" % (self._print(value), self._print(condition)))
        return ", ".join(pieces)

    def _print_Tuple(self, expr):
        return "(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Limit(self, expr):
        body, variable, point = expr.args[:3]
        return "lim(%s→%s) %s" % (self._print(variable), self._print(point), self._factor(body, PRECEDENCE["Mul"]))

    def _print_KroneckerDelta(self, expr):
        i, j = expr.args
        return "δ" + (subscript(self._print(i) + self._print(j)) or "_%s%s" % (i, j))

    def _print_Indexed(self, expr):
        index = "".join(self._print(i) for i in expr.indices)
        stem = SYMBOL_TEXT.get(expr.base.name, expr.base.name)
        return stem + (subscript(index) or "_" + index)

    def _print_Sum(self, expr):
        body, (index, _, _) = expr.args[0], expr.args[1]
        return "Σ%s %s" % (subscript(self._print(index)) or "_" + self._print(index),
                           self._factor(body, PRECEDENCE["Mul"]))

    def _print_Dot(self, expr):
        """A product shown factor by factor (narrate.Dot): a · b."""
        out = []
        for i, factor in enumerate(expr.args):
            if i == 0 and factor == -1:
                out.append("-")
                continue
            printed = self._print(factor)
            if factor.is_Add or isinstance(factor, sp.Piecewise) or type(factor).__name__ in ("Dot", "InOrder") or (
                    i and factor.could_extract_minus_sign()):
                printed = "(%s)" % printed
            out.append(printed)
        if out[0] == "-":
            return "-" + " · ".join(out[1:])
        return " · ".join(out)

    def _print_InOrder(self, expr):
        """A sum shown term by term in this order (narrate.InOrder)."""
        out = self._print(expr.args[0])
        for term in expr.args[1:]:
            if type(term).__name__ == "Dot" and term.args[0] == -1:
                rest = term.func(*term.args[1:]) if len(term.args) > 2 else term.args[1]
                out += " - " + ("(%s)" % self._print(rest) if rest.is_Add else self._print(rest))
            elif term.could_extract_minus_sign():
                out += " - " + self._print(-term)
            else:
                out += " + " + self._print(term)
        return out

    def _print_ImmutableDenseMatrix(self, expr):
        return "[%s]" % "; ".join(", ".join(self._print(e) for e in expr.row(i)) for i in range(expr.rows))

    _print_MutableDenseMatrix = _print_ImmutableDenseMatrix


def _letter(factor) -> bool:
    """A variable or its power: xy, x²y are written without a space."""
    base = factor.base if factor.is_Pow else factor
    return base.is_Symbol


def _sticks_to_number(factor) -> bool:
    """2x, 3x², 2e^x, 4ŷ: a number written against a variable or its power."""
    base = factor.base if factor.is_Pow else factor
    return base.is_Symbol or base is sp.E or isinstance(factor, sp.exp)


def _course_order(factors: list) -> list:
    """σ(u)(1 - σ(u)) in the documents' order: each sigma beside its 1 - sigma."""
    for s in [f for f in factors if type(f).__name__ in ("sigmoid", "softmax")]:
        if 1 - s in factors:
            rest = [f for f in factors if f != s and f != 1 - s]
            return rest + [s, 1 - s]
    return factors


_PRINTER = TextPrinter()


@functools.lru_cache(maxsize=4096)
def text(expr) -> str:
    """`expr` in the course's notation, as plain Unicode."""
    return _PRINTER.doprint(expr)
