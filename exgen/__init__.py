"""exgen: derivative exercise sheets and worked answer guidebooks.

The package is a one-way pipeline; each module is one stage:

    registry   the rule registry: every rule one object (rules/: one module per family)
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

# 0.2.0: the rule registry and its new functions and topics, sheets of more
# variety, outside-in keys: a sheet made by 0.1.0 is not remade byte for byte
# (`exgen verify` says which version made it).
__version__ = "0.2.0"
