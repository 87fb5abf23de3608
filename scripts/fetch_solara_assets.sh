#!/usr/bin/env bash
# Put the front-end files that Solara (the browser view, `run.py viz`) loads into the folder it
# reads them from, so the page works with no internet. Solara asks for them under /_solara/cdn/
# and looks first in its proxy cache folder, <folder>/<package>@<version>/<files>, exactly as in
# the URL; else it fetches them from a public CDN at page load, which many networks cannot reach.
# Every package comes from the npm registry (`npm pack`) and is unpacked into that folder.
#
#   bash scripts/fetch_solara_assets.sh [PYTHON]     # default PYTHON: .venv/bin/python
#
# The folder is the one that PYTHON's Solara uses: <sys.prefix>/share/solara/cdn, or
# $SOLARA_ASSETS_PROXY_CACHE_DIR when set. Packages already there are skipped, so a second run
# takes about a second. Each package is unpacked beside its place and moved in when complete.
set -euo pipefail
cd "$(dirname "$0")/.."

py=${1:-.venv/bin/python}
# The set that solara 1.64 and Mesa 3.5's components request (../shared/notes/solara-offline.md).
# A name may carry a version range (vega@5): the folder is named as the URL names it.
PACKAGES=(
    "@widgetti/solara-vuetify-app@10.1.1"
    "@widgetti/solara-vuetify3-app@5.2.0"
    "@widgetti/vue-grid-layout@2.3.13-alpha.2"
    "requirejs@2.3.6"
    "font-awesome@4.5.0"
    "mermaid@10.8.0"
    "katex@0.16.9"
    "vega@5"
    "vega-lite@5"
    "vega-embed@6"
)

fail() { echo "fetch_solara_assets: $*" >&2; exit 1; }

[ -x "$py" ] || fail "no Python at $py (run scripts/setup.sh first)"
cache=$("$py" -c 'from solara.server.settings import assets; print(assets.proxy_cache_dir)') \
    || fail "cannot import solara with $py"

missing=()
for spec in "${PACKAGES[@]}"; do
    [ -f "$cache/$spec/package.json" ] || missing+=("$spec")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "fetch_solara_assets: all ${#PACKAGES[@]} front-end packages present in $cache"
    exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm is needed to fetch ${missing[*]} (install Node.js and npm, e.g. apt-get install npm)"
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch_solara_assets: fetching ${#missing[@]} package(s) from the npm registry into $cache"
for spec in "${missing[@]}"; do
    dl="$work/dl"
    rm -rf "$dl" && mkdir -p "$dl"
    # --ignore-scripts: only the published files are wanted; nothing is built or run.
    (cd "$dl" && npm pack --silent --ignore-scripts "$spec" >/dev/null 2>"$work/npm.err") \
        || { cat "$work/npm.err" >&2; fail "npm pack $spec failed"; }
    tgz=$(ls "$dl"/*.tgz 2>/dev/null | head -n 1)
    [ -n "$tgz" ] || fail "npm pack $spec gave no archive"
    dest="$cache/$spec"
    mkdir -p "$(dirname "$dest")"
    staging=$(mktemp -d "$(dirname "$dest")/.staging.XXXXXX")
    tar -xzf "$tgz" -C "$staging" --strip-components=1 --no-same-owner
    [ -f "$staging/package.json" ] || { rm -rf "$staging"; fail "$spec: archive has no package.json"; }
    chmod -R a+rX "$staging"
    rm -rf "$dest"
    mv "$staging" "$dest"
    echo "  $spec"
done
echo "fetch_solara_assets: done"
