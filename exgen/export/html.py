"""The checked problem as HTML for learning platforms: math as MathJax's
`\\( ... \\)`, prose escaped.

The worked solution is the answer key's narration (`narrate.py`) as the
LaTeX writer prints its lines (`writers.py`, the guidebook's blocks): each
block's phrase a paragraph, each of its rows a line of math, the answer
boxed once, as in the PDF.
"""

import html
import re

from ..forms import tex
from ..render import problem_context


def unlaid(latex: str) -> str:
    """Math without the PDF's alignment marks (a row continues after `&`)."""
    return latex.replace("&", " ")


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
    """The worked solution: each block's phrase, then its rows, one per line."""
    out = []
    for block in problem_context(problem)["blocks"]:
        rows = "<br>".join(math("%s %s" % (row["left"], row["right"])) for row in block["rows"])
        out.append("<p>%s%s%s</p>" % (prose(block["phrase"]), "<br>" if block["phrase"] and rows else "", rows))
    return "".join(out)


def answer_html(latex: str) -> str:
    return math(latex)


__all__ = ["answer_html", "math", "prose", "question_html", "tex", "unlaid", "worked_html"]
