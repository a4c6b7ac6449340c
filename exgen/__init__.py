"""exgen: derivative exercise sheets and worked answer guidebooks.

The package is a one-way pipeline; each module is one stage:

    rules      the course's rule tables, as data
    functions  SymPy functions the tables need (sigma, log_k, ReLU, softmax)
    compose    random, difficulty-budgeted composition; domains; Draft/Exercise
    topics/    registered problem generators (calculus.py, ml.py)
    steps      the rule-by-rule derivation engine
    forms      the textbook form of an answer and the one LaTeX printer
    check      the numeric oracle every answer and every step must pass
               (numeric.py evaluates expressions with mpmath for it)
    sheet      assembling sheets and parallel versions: levels, dedupe, the hang guard
    render     Jinja2 templates (templates/, package data) to .tex; sheet.json
    compile    running TeX, safely
    output     atomic writes into the output folder
    pipeline   `exgen make` and `exgen verify` end to end; rosters
    cli        the thin click layer (with config, roster, parsing and
               solving for the user's files and typed expressions)
"""

__version__ = "0.1.0"
