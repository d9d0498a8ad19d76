#!/usr/bin/env bash
# The README's first command: bash scripts/demo.sh
#
# Starts a lab of 3 computers in miniature on this machine (systemd-nspawn guests behind ipmi_sim
# BMCs, PXE into a deploy environment) and a vlab manager for it, with its HTTP API, status page
# and a demo user; prints where everything is. Ctrl-C stops the manager and takes the lab down.
#
# Works on a fresh Debian 12 machine, as root, with only Node.js and npm installed: installs the
# Debian packages and pnpm it needs, then the workspace, and builds it. Idempotent: each run
# starts a fresh lab (the demo user's key stays). Settings: VLAB_DEMO_DIR (/var/lib/vlab-demo),
# VLAB_DEMO_LISTEN (127.0.0.1:8080), VLAB_DEMO_COMPUTERS (3).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/machine-setup.sh
source scripts/lib/machine-setup.sh

if ((EUID != 0)); then
  echo "scripts/demo.sh runs as root: the lab's computers are network namespaces, loop devices and nspawn guests" >&2
  exit 1
fi

section "system packages"
install_system_packages "${DEMO_PACKAGES[@]}"

section "node and pnpm"
check_node
ensure_pnpm

section "install and build"
pnpm install --frozen-lockfile
pnpm run build

section "demo"
cd apps/manager
# exec: Ctrl-C reaches the demo itself, which takes the lab down before it exits.
exec node --import tsx scripts/demo/demo.ts
