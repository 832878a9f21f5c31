#!/usr/bin/env bash
# Installs the Debian packages bootfs builds, tests and demos with, if any
# are missing. A no-op (one dpkg-query) when everything is present. Go
# itself is assumed present.
set -euo pipefail

packages=(
	postgresql fuse3 tftpd-hpa tftp-hpa nginx-light qemu-system-x86 ipxe-qemu
	dnsmasq-base pxelinux syslinux-common grub-efi-amd64-signed grub-efi-amd64-bin shim-signed ovmf
	busybox-static cpio curl iproute2 xz-utils
	lintian man-db systemd prometheus
	chromium # test/console drives it headless with chromedp
)

# One dpkg-query for all; it prints nothing for packages it has never heard of.
installed=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' "${packages[@]}" 2>/dev/null || true) "
missing=()
for pkg in "${packages[@]}"; do
	[[ $installed == *" $pkg=installed "* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
