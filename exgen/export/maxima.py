"""SymPy -> Maxima: exgen's expressions as STACK's Maxima reads them.

`log` is ln, `%e` is e, powers are `^`, every product has its `*`; the
course's own functions are written in their elementary form first (sigma(u)
as 1/(1+exp(-u)), log_k u as log(u)/log(k), sqrt u as sqrt(u)). Every power
is bracketed on both sides, so no precedence rule of Maxima's is relied on.
An expression Maxima would read otherwise (a piecewise derivative, an
arbitrary f(x)) is refused with `NotMaxima`; that problem is then not
exported as a STACK question.
"""

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from ..registry import to_elementary


class NotMaxima(ValueError):
    """The expression has no faithful Maxima form here."""


class MaximaPrinter(StrPrinter):
    def _print_Pow(self, expr, rational=False):
        base, exponent = expr.as_base_exp()
        if exponent == sp.S.Half:
            return "sqrt(%s)" % self._print(base)
        if exponent == -1:
            return "1/(%s)" % self._print(base)
        return "(%s)^(%s)" % (self._print(base), self._print(exponent))

    def _print_Rational(self, expr):
        return "(%d/%d)" % (expr.p, expr.q)

    def _print_Exp1(self, expr):
        return "%e"

    def _print_Pi(self, expr):
        return "%pi"

    def _print_exp(self, expr):
        return "exp(%s)" % self._print(expr.args[0])

    def _print_Abs(self, expr):
        return "abs(%s)" % self._print(expr.args[0])

    def _print_Max(self, expr):
        return "max(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Float(self, expr):
        raise NotMaxima("a float (STACK compares floats badly: keep answers exact)")

    def _unsupported(self, expr):
        raise NotMaxima(f"no Maxima form for {type(expr).__name__}")

    _print_Piecewise = _print_Derivative = _print_Subs = _print_Heaviside = _print_sign = _unsupported
    _print_Matrix = _print_ImmutableDenseMatrix = _unsupported
    _print_Infinity = _print_NegativeInfinity = _print_ComplexInfinity = _print_NaN = _unsupported

    def _print_Function(self, expr):
        if isinstance(expr, AppliedUndef):
            raise NotMaxima("an arbitrary function")
        return super()._print_Function(expr)


_PRINTER = MaximaPrinter()


def maxima(expr: sp.Expr) -> str:
    """`expr` as Maxima source (raises NotMaxima where there is none)."""
    return _PRINTER.doprint(to_elementary(sp.sympify(expr)))
