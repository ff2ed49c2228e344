#!/bin/sh
# Re-fetch the console's browser libraries into web/static/vendor/ and pin their hashes.
#
#   ops/vendor_ui.sh           fetch the pinned versions with `npm pack`, copy only the browser
#                              ES module builds (+ each LICENSE), rewrite SHA256SUMS and VERSIONS
#   ops/vendor_ui.sh --check   verify the committed files against SHA256SUMS (no network, no npm)
#
# node/npm are needed only to run this script; the engine serves the committed files as they are.
# To upgrade a library: change its version below, run the script, review the diff, and check the
# import map in web/static/index.html (its CSP hash is computed by web/console.py at start).
set -eu

PREACT=11.2.0
HTM=3.1.1
UPLOT=1.6.32

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENDOR="$ROOT/web/static/vendor"

if [ "${1:-}" = "--check" ]; then
    cd "$VENDOR"
    sha256sum --check --strict --quiet SHA256SUMS
    # every vendored file must be listed: an unlisted one would ship unchecked
    listed=$(awk '{print $2}' SHA256SUMS | sort)
    present=$(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort)
    if [ "$listed" != "$present" ]; then
        echo "vendor files differ from SHA256SUMS:" >&2
        diff -u /dev/fd/3 /dev/fd/4 3<<EOF 4<<EOF2 >&2 || true
$listed
EOF
$present
EOF2
        exit 1
    fi
    echo "web/static/vendor: all files match SHA256SUMS"
    exit 0
fi

command -v npm >/dev/null || { echo "npm not found: install node/npm to re-vendor" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# npm pack checks each tarball against the registry's integrity hash
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" >/dev/null
for pkg in "preact-$PREACT" "htm-$HTM" "uplot-$UPLOT"; do
    mkdir "$pkg"
    tar xzf "$pkg.tgz" -C "$pkg"
done

rm -rf "$VENDOR"
mkdir -p "$VENDOR/preact" "$VENDOR/htm" "$VENDOR/uplot"
cp "preact-$PREACT/package/dist/preact.mjs" "$VENDOR/preact/preact.mjs"
cp "preact-$PREACT/package/hooks/dist/hooks.mjs" "$VENDOR/preact/hooks.mjs"
cp "preact-$PREACT/package/LICENSE" "$VENDOR/preact/LICENSE"
cp "htm-$HTM/package/dist/htm.mjs" "$VENDOR/htm/htm.mjs"
cp "htm-$HTM/package/LICENSE" "$VENDOR/htm/LICENSE"
cp "uplot-$UPLOT/package/dist/uPlot.esm.js" "$VENDOR/uplot/uPlot.esm.js"
cp "uplot-$UPLOT/package/dist/uPlot.min.css" "$VENDOR/uplot/uPlot.min.css"
cp "uplot-$UPLOT/package/LICENSE" "$VENDOR/uplot/LICENSE"
printf 'preact %s\nhtm %s\nuplot %s\n' "$PREACT" "$HTM" "$UPLOT" > "$VENDOR/VERSIONS"

cd "$VENDOR"
find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > SHA256SUMS
echo "vendored preact $PREACT, htm $HTM, uplot $UPLOT into web/static/vendor (SHA256SUMS rewritten)"
