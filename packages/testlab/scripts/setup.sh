#!/usr/bin/env bash
# Installs the Debian packages @vlab/testlab needs, when missing, and checks the machine:
#   bash packages/testlab/scripts/setup.sh
# Idempotent; needs root (or sudo) for apt-get. The lab itself runs as root.
set -euo pipefail

PACKAGES=(
  systemd-container # systemd-nspawn boots the computers
  debootstrap       # builds the base image
  openipmi          # ipmi_sim, one BMC per computer
  ipmitool          # talks RMCP+ to the BMCs
  openssh-server    # (the guests bring their own; the test suites' sshd peers use the host's)
  openssh-client    # ssh, ssh-keygen
  iproute2          # ip netns, veth, bridge
  zstd              # image streams
  e2fsprogs         # mkfs.ext4 -d
  util-linux        # flock, losetup, mount
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "testlab setup: all Debian packages present"
else
  echo "testlab setup: installing ${missing[*]}"
  sudo=()
  if ((EUID != 0)); then sudo=(sudo); fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

problems=()
if ((EUID != 0)); then problems+=("run the lab as root: it creates network namespaces, loop mounts and cgroups"); fi
[[ -e /proc/self/ns/net ]] || problems+=("the kernel has no network namespaces (CONFIG_NET_NS)")
[[ -e /dev/loop-control ]] || modprobe loop 2>/dev/null || problems+=("no loop devices: modprobe loop")
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || problems+=("no overlayfs: modprobe overlay")
if ((${#problems[@]} > 0)); then
  printf 'testlab setup: this machine cannot run the lab:\n' >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "testlab setup: ready (kernel $(uname -r), cgroups $([[ -e /sys/fs/cgroup/cgroup.controllers ]] && echo unified || echo v1/hybrid))"
