"""The checked problem as HTML for learning platforms: math as MathJax's
`\\( ... \\)`, prose escaped.

The worked solution is the guidebook's derivation (render's lines), printed
one line per paragraph; the LaTeX that only lays out a PDF page (shrinking
a long row to the line, breaking it over two rows) is left out. When the
answer key's narration moves to format-neutral lines, this is the one place
that prints them as HTML.
"""

import html
import re

from ..forms import tex
from ..render import problem_context

_FITTED = re.compile(r"\\resizebox\{\\ifdim\\width>[0-9.]+\\linewidth [0-9.]+\\linewidth\\else\\width\\fi\}\{!\}"
                     r"\{\$\\displaystyle (.*?)\$\}", re.S)
_CENTRED = re.compile(r"\\intertext\{\\centering (.*)\}$", re.S)


def unlaid(latex: str) -> str:
    """Math without the PDF's layout commands."""
    latex = _CENTRED.sub(r"\1", latex)
    latex = _FITTED.sub(r"\1", latex)
    return latex.replace(r"\\ &\quad", " ")


def math(latex: str) -> str:
    return r"\(%s\)" % html.escape(unlaid(latex), quote=False)


def prose(text: str) -> str:
    """Text mode with $...$ inline math (a line's phrase)."""
    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(math(p[1:-1]) if p.startswith("$") and p.endswith("$") else html.escape(p, quote=False)
                   for p in parts)


def question_html(problem, extra: str = "") -> str:
    context = problem_context(problem)
    out = "<p>%s" % math(r"\displaystyle " + context["prompt"])
    if context["domain"]:
        out += " for %s" % math(context["domain"])
    if context["note"]:
        out += " " + prose(context["note"])
    out += "</p><p>Find %s.%s</p>" % (math(context["questions"]), extra)
    return out


def worked_html(problem) -> str:
    """The worked solution, one paragraph per line, then the answer."""
    context = problem_context(problem)
    out = []
    for solution in context["solutions"]:
        for line in solution["lines"]:
            rows = " = ".join(unlaid(r) for r in line["rhs"])
            out.append("<p>%s<br>%s</p>" % (prose(line["phrase"]), math("%s = %s" % (unlaid(line["lhs"]), rows))))
        out.append("<p><b>%s</b></p>" % math(solution["answer"]))
    return "".join(out)


def answer_html(latex: str) -> str:
    return math(latex)


__all__ = ["answer_html", "math", "prose", "question_html", "tex", "unlaid", "worked_html"]
