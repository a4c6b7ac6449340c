"""SymPy functions the course's rule tables need and SymPy lacks.

Each prints as the documents write it (`\\sigma`, `\\log_{k}`,
`\\operatorname{ReLU}`) and as plain SymPy names in `str()` (the sheet.json
`check` strings), so a reader without exgen can parse every answer.
"""

import sympy as sp


class sigmoid(sp.Function):
    """sigma(u) = 1 / (1 + e^{-u}); d/du sigma(u) = sigma(u) (1 - sigma(u))."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _sympystr(self, printer):
        return "(1/(1 + exp(-(%s))))" % printer._print(self.args[0])


class ReLU(sp.Function):
    """ReLU(u) = max(0, u); its derivative is 1 for u > 0 and 0 for u <= 0."""

    nargs = 1

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.Piecewise((0, u <= 0), (1, True))

    def _eval_rewrite_as_Max(self, arg, **kwargs):
        return sp.Max(0, arg)

    def _eval_evalf(self, prec):
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _sympystr(self, printer):
        return "Max(0, %s)" % printer._print(self.args[0])


class log_base(sp.Function):
    """log_k(u) = ln(u) / ln(k); d/du log_k(u) = 1 / (u ln k).

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

    def fdiff(self, argindex=1):
        u, k = self.args
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return 1 / (u * sp.log(k))

    def _eval_rewrite_as_log(self, u, k, **kwargs):
        return sp.log(u) / sp.log(k)

    def _eval_evalf(self, prec):
        return self.rewrite(sp.log)._eval_evalf(prec)

    def _eval_is_real(self):
        return None

    def _latex(self, printer, exp=None):
        u, k = self.args
        if u.is_Symbol:
            body = r"\log_{%s} %s" % (printer._print(k), printer._print(u))
        else:
            body = r"\log_{%s}\left(%s\right)" % (printer._print(k), printer._print(u))
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _sympystr(self, printer):
        u, k = self.args
        return "log(%s, %s)" % (printer._print(u), printer._print(k))


class softmax(sp.Function):
    """softmax(i, z_1, ..., z_K) = e^{z_i} / sum_j e^{z_j}, the course's sigma(z_i).

    d sigma(z_i) / d z_j = sigma(z_i) (delta_ij - sigma(z_j)).
    """

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def logits(self) -> tuple:
        return self.args[1:]

    def fdiff(self, argindex=1):
        if argindex == 1:
            raise sp.ArgumentIndexError(self, argindex)
        j = argindex - 1
        delta = 1 if j == self.index else 0
        return self * (delta - softmax(j, *self.logits))

    def elementary(self):
        zs = self.logits
        return sp.exp(zs[self.index - 1]) / sp.Add(*(sp.exp(z) for z in zs))

    def _eval_evalf(self, prec):
        return self.elementary()._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.logits[self.index - 1])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _sympystr(self, printer):
        return "(%s)" % printer._print(self.elementary())


def softmax_of(i, *logits, **kwargs):
    """`softmax(i, z1, ..., zK)` as typed: the i-th component (1-based)."""
    if len(logits) < 2 or not (sp.sympify(i).is_Integer and 1 <= int(i) <= len(logits)):
        raise ValueError("softmax(i, z1, ..., zK) needs K >= 2 logits and a component number i between 1 and K")
    return softmax(sp.Integer(i), *logits)


# Names an instructor may type in `exgen solve`, beside SymPy's own.
PARSE_NAMES = {
    "sigmoid": sigmoid,
    "sigma": sigmoid,
    "relu": ReLU,
    "ReLU": ReLU,
    "softmax": softmax_of,
}


def log_any_base(u, k=None, **kwargs):
    """`log(u)` is ln u; `log(u, k)` is the course's log_k u."""
    if k is None:
        return sp.log(u, **kwargs)
    return log_base(u, k, **kwargs)


def to_elementary(expr: sp.Expr) -> sp.Expr:
    """The same expression in SymPy's own functions only (for numeric work)."""
    if not expr.has(sigmoid, ReLU, log_base, softmax):
        return expr
    return expr.replace(
        lambda e: isinstance(e, (sigmoid, ReLU, log_base, softmax)),
        lambda e: {
            sigmoid: lambda: 1 / (1 + sp.exp(-e.args[0])),
            ReLU: lambda: sp.Max(0, e.args[0]),
            log_base: lambda: sp.log(e.args[0]) / sp.log(e.args[1]),
            softmax: lambda: e.elementary(),
        }[type(e)](),
    )
