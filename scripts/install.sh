#!/usr/bin/env bash
# Installs everything exgen and its tests need on a Debian machine, as root:
# TeX Live from Debian's packages when pdflatex is missing (plus lmodern for
# Type 1 fonts, poppler-utils for the tests' pdftotext and maxima, the CAS
# the tests read every exported STACK answer with), then exgen with its test
# extras into ./.venv. Safe to run again: it installs only what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
command -v pdflatex >/dev/null || need+=(texlive-latex-base texlive-latex-recommended)
kpsewhich lmodern.sty >/dev/null 2>&1 || need+=(lmodern)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v maxima >/dev/null || need+=(maxima)  # the tests only: exgen itself never runs it

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install.sh: missing Debian packages: ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
    echo "install.sh: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "install.sh: pip failed; the whole log is in $log" >&2
    exit 1
fi
echo "install.sh: ready; run .venv/bin/exgen --help"
