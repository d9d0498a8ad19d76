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
# Two lanes at once, each running its packages' suites one at a time: the VM lane (the testlab
# and provisioner-libvirt: libvirtd, of which the machine runs one, and QEMU guests under TCG,
# about an hour with the conformance kit over libvirt) and every other package (about 50
# minutes). In sequence they would take nearly two hours, past CI's 90-minute lab budget; the
# lanes share nothing but the machine (labs allocate their networks under a machine-wide lock;
# the VM network has its own prefix). `pnpm test` runs everything in one lane. `--only`: the
# build above is done, and two turbos replaying it at once would rewrite dist/ under a running test.
test_lane() {
  TURBO_TELEMETRY_DISABLED=1 pnpm exec turbo run test --only --concurrency=1 "$@"
}
test_lane --filter=@vlab/testlab --filter=@vlab/provisioner-libvirt &
vm_lane=$!
status=0
test_lane --filter='!@vlab/testlab' --filter='!@vlab/provisioner-libvirt' || status=$?
wait "$vm_lane" || status=$?
if [[ $status -ne 0 ]]; then
  echo "scripts/test.sh: the tests failed (see above)" >&2
  exit "$status"
fi

section "done"
echo "scripts/test.sh: all steps passed"
