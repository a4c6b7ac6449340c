"""exgen: derivative exercise sheets and worked answer guidebooks.

The package is a one-way pipeline; each module is one stage:

    rules      the course's rule tables, as data
    functions  SymPy functions the tables need (sigma, log_k, ReLU)
    compose    random, difficulty-budgeted composition of rules into functions
    topics     registered problem generators (one per topic)
    steps      the rule-by-rule derivation engine
    tidy       the printed textbook form of an answer
    check      the numeric oracle every answer and every step must pass
    sheet      assembling a sheet: levels, dedupe, rejection, acceptance
    render     Jinja2 templates to .tex and the sheet.json contract
    compile    running TeX, safely
    output     atomic writes into the output folder
    cli        the thin click layer
"""

__version__ = "0.1.0"
