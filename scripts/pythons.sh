# The Pythons PixelFlow supports (pyproject's requires-python) and where to find each on this machine.
# shellcheck shell=bash
PYTHONS="3.11 3.12 3.13"

# find_python X.Y: the path of a working pythonX.Y (on PATH, or one of pyenv's versions), or nothing.
find_python() {
  local v=$1 candidate
  for candidate in "$(command -v "python$v" 2>/dev/null)" \
      $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -V -r); do
    [ -n "$candidate" ] && "$candidate" -c 'import sys, venv' >/dev/null 2>&1 && { echo "$candidate"; return; }
  done
}
