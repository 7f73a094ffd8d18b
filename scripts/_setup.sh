# Sourced by scripts/serve and scripts/test: make sure .venv at the repository root exists
# and holds the pinned development requirements; rebuild it when they change.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1 || echo missing)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

stamp="$VENV/.requirements.sha256"
wanted=$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Setting up $VENV (first run, or the requirements changed)..." >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt) >&2
  echo "$wanted" > "$stamp"
fi
# Node tools of the tests, each pinned by its package-lock.json and installed again when
# the lock file changes: Redocly CLI, the second linter of /openapi.json
# (tests/test_openapi_clients.py), ical.js, a reader of the iCalendar feed
# (tests/test_ics_recurring.py), axe-core, the accessibility checker the page's browser
# tests inject (tests/test_page_accessibility.py), and oidc-provider, the OpenID provider
# the sign-in tests run on 127.0.0.1 (tests/oidc.py).
for tool_dir in "$ROOT/tools/openapi-lint" "$ROOT/tools/ical-check" "$ROOT/tools/axe" \
  "$ROOT/tools/oidc-provider"; do
  tool_stamp="$tool_dir/node_modules/.lock.sha256"
  tool_wanted=$(sha256sum "$tool_dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$tool_stamp" 2>/dev/null)" != "$tool_wanted" ]; then
    if command -v npm >/dev/null 2>&1; then
      echo "Installing $(basename "$tool_dir")'s tools into $tool_dir/node_modules (npm ci)..." >&2
      (cd "$tool_dir" && npm ci --no-audit --no-fund --loglevel=error >&2) && echo "$tool_wanted" > "$tool_stamp"
    else
      echo "warning: npm not found; tests of $(basename "$tool_dir") need Node.js 20.19+ and npm (apt-get install nodejs npm)" >&2
    fi
  fi
done
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
