#!/usr/bin/env bash
# Install estateflow into ./.venv with the pinned dependency set (constraints.txt).
# Idempotent: re-running after a successful install only checks a stamp.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "estateflow needs Python 3.11 or newer" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || { apt-get update -qq && apt-get install -y -qq python3-venv && "$PYTHON" -m venv .venv; }
fi

stamp=.venv/.estateflow-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  mkdir -p var
  if ! .venv/bin/python -m pip install -c constraints.txt -e ".[test]" > var/pip-install.log 2>&1; then
    cat var/pip-install.log >&2; echo "pip install failed (log: var/pip-install.log)" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

# The BPMN diagram viewer (bpmn-js) comes from the npm registry and is served as a
# static file; without npm the instance page lists the path taken as text instead.
viewer=app/static/vendor/bpmn-navigated-viewer.production.min.js
if [ ! -f "$viewer" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p var/npm app/static/vendor
  if (cd var/npm && npm install --silent --no-audit --no-fund --prefix . bpmn-js@18.31.1 >/dev/null 2>&1); then
    cp var/npm/node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js "$viewer"
    cp var/npm/node_modules/bpmn-js/dist/assets/diagram-js.css var/npm/node_modules/bpmn-js/dist/assets/bpmn-js.css app/static/vendor/ 2>/dev/null || true
  else
    echo "warning: npm could not install bpmn-js; diagrams will show as text" >&2
  fi
fi

# The dashboard charts (Apache ECharts) come from the npm registry and are served as a
# static file too (no CDN: it must work offline and in mainland China); without npm the
# dashboard shows its figures as tables and links only.
charts=app/static/vendor/echarts.min.js
if [ ! -f "$charts" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p var/npm app/static/vendor
  if (cd var/npm && npm install --silent --no-audit --no-fund --prefix . echarts@6.1.0 >/dev/null 2>&1); then
    cp var/npm/node_modules/echarts/dist/echarts.min.js "$charts"
  else
    echo "warning: npm could not install echarts; the dashboard shows tables without charts" >&2
  fi
fi

# The QR scanner's decoder (jsQR) for phones without the browser's BarcodeDetector, served as a
# static file (never a CDN); without it the check-in page still has the manual code field.
scanner=app/static/vendor/jsQR.js
if [ ! -f "$scanner" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p var/npm app/static/vendor
  if (cd var/npm && npm install --silent --no-audit --no-fund --prefix . jsqr@1.4.0 >/dev/null 2>&1); then
    cp var/npm/node_modules/jsqr/dist/jsQR.js "$scanner"
  else
    echo "warning: npm could not install jsqr; QR codes are typed in by hand where BarcodeDetector is missing" >&2
  fi
fi

# The JSON API's documentation page (/api/v1/docs) uses Swagger UI from the npm registry, served
# as static files (never a CDN); without it the page links the OpenAPI document only.
swagger=app/static/vendor/swagger-ui-bundle.js
if [ ! -f "$swagger" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p var/npm app/static/vendor
  if (cd var/npm && npm install --silent --no-audit --no-fund --prefix . swagger-ui-dist@5.35.0 >/dev/null 2>&1); then
    cp var/npm/node_modules/swagger-ui-dist/swagger-ui-bundle.js var/npm/node_modules/swagger-ui-dist/swagger-ui.css app/static/vendor/
  else
    echo "warning: npm could not install swagger-ui-dist; /api/v1/docs links the OpenAPI document only" >&2
  fi
fi

# The consultant studio's BPMN modeler (bpmn-js Modeler + properties panel + bpmnlint) is our
# own source in app/static/studio/modeler/, bundled with esbuild (from npm, like the packages)
# into app/static/vendor/studio-modeler.js and .css. Rebuilt whenever the sources or the pinned
# versions change (a stamp holds their hash), so an existing machine follows source edits;
# without npm the studio's process editor says the modeler is missing.
modeler_src=app/static/studio/modeler
modeler_out=app/static/vendor/studio-modeler.js
modeler_pkgs="bpmn-js@18.31.1 bpmn-js-properties-panel@5.65.3 @bpmn-io/properties-panel@3.55.0 bpmnlint@11.15.0 bpmn-js-bpmnlint@0.24.0 esbuild@0.28.2"
modeler_stamp=app/static/vendor/.studio-modeler.hash
modeler_want="$( (echo "$modeler_pkgs"; find "$modeler_src" -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$modeler_out" ] || [ ! -f "$modeler_stamp" ] || [ "$(cat "$modeler_stamp")" != "$modeler_want" ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p var/npm app/static/vendor
    # shellcheck disable=SC2086 # the package list is meant to split
    if (cd var/npm && npm install --silent --no-audit --no-fund --prefix . $modeler_pkgs >/dev/null 2>&1) \
      && NODE_PATH="$PWD/var/npm/node_modules" var/npm/node_modules/.bin/esbuild "$modeler_src/index.js" \
        --bundle --minify --format=iife --target=es2019 --log-level=error \
        --loader:.eot=empty --loader:.svg=empty --loader:.woff=dataurl --loader:.woff2=dataurl --loader:.ttf=dataurl \
        --outfile="$modeler_out"; then
      echo "$modeler_want" > "$modeler_stamp"
    else
      echo "warning: npm/esbuild could not build the studio modeler; the studio's process editor is unavailable" >&2
    fi
  else
    echo "warning: npm is missing; the studio's BPMN modeler (app/static/vendor/studio-modeler.js) is not built" >&2
  fi
fi
