#!/bin/sh
# Installs what amphi needs from Debian's packages and fetches Debian's
# kernel into the build tree. Idempotent: a second run changes nothing and
# takes about a second. Usage: deps.sh BUILD_DIR
set -eu

build=${1:?usage: deps.sh BUILD_DIR}
# Packages: compilers and headers, the userland, the worlds we boot in, the
# libraries the host tool and tests link, kmod for depmod, LXD (its daemon
# is started by hand, by the tests), uidmap for unprivileged containers,
# libvirt's daemon, QEMU driver and clients (virsh, virt-xml-validate) for
# vm/domain.xml: without recommends they pull neither systemd nor a bridge;
# socat, which the tests use to relay a container's amphi.sock to rsyslog;
# dnsmasq-base and nftables, what LXC's lxc-net runs to make lxcbr0 (its
# DHCP server and its rules; the tests run it in namespaces of their own);
# mmdebstrap for the Debian packages a recipe asks for, squashfs-tools for
# the VM's read-only root image; libjsmn-dev, the JSON tokenizer (one header)
# that PID 1's guest agent reads requests with.
packages="musl-tools linux-libc-dev busybox-static lxc qemu-system-x86 \
libarchive-dev libcmocka-dev python3-pytest kmod pkg-config xz-utils gcc make \
clang libclang-rt-14-dev rsyslog lxd uidmap \
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients socat dnsmasq-base nftables \
mmdebstrap squashfs-tools libjsmn-dev"

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$missing; run 'sudo make deps' or install them with apt-get"
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >"$build/apt.log" 2>&1 || {
		say "install failed; refreshing the package lists and trying again"
		apt-get update >>"$build/apt.log" 2>&1 || true
		apt-get install -y --no-install-recommends $missing >>"$build/apt.log" 2>&1 ||
			die "apt-get install$missing failed; see $build/apt.log"
	}
fi

# Unprivileged containers: root needs subordinate uid and gid ranges for
# lxc.idmap (and LXD maps its containers from them). Added once; a range
# root already has is kept as it is.
for f in /etc/subuid /etc/subgid; do
	if ! grep -q '^root:' "$f" 2>/dev/null; then
		[ "$(id -u)" = 0 ] || die "root has no range in $f; run 'sudo make deps' or add 'root:100000:65536' to it"
		say "adding root:100000:65536 to $f"
		echo 'root:100000:65536' >>"$f"
	fi
done

# The kernel: the package linux-image-amd64 points at, unpacked (never
# installed: no update-initramfs), with modules.dep made by depmod.
kdir="$build/kernel"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on; run 'apt-get update' and try again"
kver=${pkg#linux-image-}
if [ ! -f "$kdir/$kver/.complete" ]; then
	say "fetching kernel $pkg"
	rm -rf "$kdir/$kver" "$kdir/download"
	mkdir -p "$kdir/download" "$kdir/$kver"
	(cd "$kdir/download" && apt-get download "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed; check the network and 'apt-get update'"
	dpkg-deb -x "$kdir"/download/*.deb "$kdir/$kver/root"
	depmod -b "$kdir/$kver/root" "$kver"
	cp "$kdir/$kver/root/boot/vmlinuz-$kver" "$kdir/$kver/vmlinuz"
	rm -rf "$kdir/download"
	touch "$kdir/$kver/.complete"
fi
ln -sfn "$kver" "$kdir/current"
touch "$build/.deps"
