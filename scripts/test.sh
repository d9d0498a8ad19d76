#!/usr/bin/env bash
# The project's test command (see README "Quick start"): bash scripts/test.sh
#
# Works on a fresh Debian 12 machine, as root, with only Node.js and npm installed.
# Idempotent: re-running it only re-does what is missing (turbo replays cached tasks).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)
# shellcheck source=lib/machine-setup.sh
source scripts/lib/machine-setup.sh

section "system packages"
install_system_packages

section "node and pnpm"
check_node
ensure_pnpm

section "install (frozen lockfile)"
pnpm install --frozen-lockfile

section "lint"
pnpm run lint

section "build"
pnpm run build

section "typecheck"
pnpm run typecheck

section "api reports"
pnpm run api

section "release independence"
# A @vlab/core minor must move no other package (README, "Versions"); runs on temporary copies.
pnpm exec tsx scripts/check-release-independence.ts

section "new-module scaffold"
# pnpm new-module writes modules that install offline, type-check and pass the kit; runs on a
# temporary copy of the workspace.
pnpm exec tsx scripts/check-new-module.ts

section "docs"
pnpm run docs
if git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "checking that docs/ and packages/*/api are up to date"
  git -C "$REPO_ROOT" diff --exit-code -- docs 'packages/*/api'
  untracked=$(git -C "$REPO_ROOT" ls-files --others --exclude-standard -- docs 'packages/*/api')
  if [[ -n "$untracked" ]]; then
    printf 'generated files not in git (commit them):\n%s\n' "$untracked" >&2
    exit 1
  fi
else
  echo "not inside a git work tree (or no git): skipping the docs/API drift check"
fi

section "test"
pnpm run test

section "done"
echo "scripts/test.sh: all steps passed"
