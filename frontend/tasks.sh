#!/usr/bin/env bash
# The web UI's build and test steps, for the Makefile (`make frontend`, `make frontend-test`,
# `make test`) and scripts/run (`make run`). Works on a fresh clone: installs what is missing.
#
#   frontend/tasks.sh deps       npm ci when node_modules is missing or older than package-lock.json
#   frontend/tasks.sh build      deps, then `npm run build` (type check + vite) unless dist/ is newer
#                                than every source; FRONTEND_FORCE_BUILD=1 always builds
#   frontend/tasks.sh chromium   installs Debian's `chromium` when missing (apt-get; sudo unless root)
#   frontend/tasks.sh test       deps, build, chromium, then Vitest and Playwright (the end-to-end
#                                tests start their own stack: target/debug/e2e_stack must be built)
#
# Needs Node.js 20.19+ with npm. Playwright never downloads a browser here: it drives
# /usr/bin/chromium (CHROMIUM_PATH overrides).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

log() { printf 'frontend: %s\n' "$*" >&2; }
die() {
    printf 'frontend: error: %s\n' "$*" >&2
    exit 1
}

check_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
        die "node and npm are needed (Node.js 20.19 or newer; e.g. https://nodejs.org or NodeSource's Debian packages)"
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || die "Node.js $(node --version) is too old: 20.19 or newer is needed"
}

deps() {
    check_node
    # npm writes node_modules/.package-lock.json on every install: older than the lock file means
    # someone changed the dependencies since.
    if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
        log "installing dependencies (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error
    fi
}

build() {
    deps
    if [[ "${FRONTEND_FORCE_BUILD:-0}" != 1 && -f dist/index.html ]] &&
        [[ -z "$(find src public index.html package.json package-lock.json vite.config.ts tsconfig.json -newer dist/index.html -print -quit 2>/dev/null)" ]]; then
        log "dist/ is up to date"
        return 0
    fi
    log "building (npm run build)"
    npm run --silent build
}

chromium() {
    local browser=${CHROMIUM_PATH:-/usr/bin/chromium}
    [[ -x "$browser" ]] && return 0
    [[ -n "${CHROMIUM_PATH:-}" ]] && die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
    local sudo=""
    (($(id -u) == 0)) || sudo=sudo
    log "installing Debian's chromium for the end-to-end tests (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium; then
        log "install failed; refreshing the package lists and retrying"
        $sudo apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
    fi
}

run_tests() {
    build
    chromium
    log "unit tests (vitest)"
    npx vitest run
    log "end-to-end tests (playwright, headless chromium, a stack of their own)"
    npx playwright test
}

case "${1:-}" in
    deps) deps ;;
    build) build ;;
    chromium) chromium ;;
    test) run_tests ;;
    *)
        sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
