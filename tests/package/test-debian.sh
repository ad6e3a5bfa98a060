#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-debian.sh SRCDIR WORKDIR CACHEDIR
#
# The Debian packages, end to end (docs/PACKAGING.md):
#   1. dpkg-buildpackage -b from a clean copy of the tree (the files git
#      knows, committed or not: no build directory), DEB_BUILD_OPTIONS=nocheck;
#   2. lintian: no error (warnings are printed);
#   3. dmapipe-dkms: dkms.conf and the sources in /usr/src/dmapipe-VERSION,
#      and `dkms build` of that tree against the first kernel whose headers
#      the host has (private dkms tree, nothing of the host's touched);
#   4. a clean Debian 12 chroot (debootstrap --variant=minbase bookworm from
#      the mirror the host uses, cached as a tarball in CACHEDIR), the
#      packages installed with apt, dependencies from the mirror; there,
#      from the installed files only: dmapipe demo on memfd buffers,
#      gst-inspect-1.0 dmapipesrc, man dmapipe-serve, the dmapipe user.
# Exits 77 (with the reason) when not root, when a tool is missing
# (.ci/deps.sh all installs them), or when the mirror cannot be reached.
set -u

src=$1 work=$2 cache=$3

skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
for t in dpkg-buildpackage dh dh_dkms lintian debootstrap unshare chroot; do
	command -v $t >/dev/null || skip "$t not found (.ci/deps.sh all)"
done

version=$(sed -n "s/^ *version: '\([^']*\)',*$/\1/p" "$src/meson.build" | head -n 1)
[ -n "$version" ] || fail "no project version in meson.build"
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "$deb_version" = "$version" ] ||
	fail "debian/changelog says $deb_version, meson.build $version"
dkms_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$src/kernel/dkms.conf")
[ "$dkms_version" = "$version" ] || fail "kernel/dkms.conf says $dkms_version, meson.build $version"

rm -rf "$work"
mkdir -p "$work/src/dmapipe" "$cache"

# ---- 1. build
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -xf - -C "$work/src/dmapipe"
else
	(cd "$src" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$work/src/dmapipe"
fi
echo "building the packages (log: $work/build.log)"
if ! (cd "$work/src/dmapipe" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
	tail -n 40 "$work/build.log"
	fail "dpkg-buildpackage"
fi
debs=$(cd "$work/src" && ls ./*.deb | grep -v dbgsym)
echo "built:" $debs
for p in libdmapipe0 libdmapipe-dev dmapipe gstreamer1.0-dmapipe dmapipe-net dmapipe-dkms; do
	ls "$work/src/${p}_${version}_"*.deb >/dev/null 2>&1 || fail "no package $p"
done

# ---- 2. lintian
lintian --suppress-tags-from-file /dev/null "$work/src/dmapipe_${version}_$(dpkg --print-architecture).changes" \
	>"$work/lintian.log" 2>&1
grep -v '^N:' "$work/lintian.log" | grep '^[EWIP]:' || true
if grep -q '^E:' "$work/lintian.log"; then
	fail "lintian reports errors"
fi
echo "ok lintian: $(grep -c '^E:' "$work/lintian.log") errors, $(grep -c '^W:' "$work/lintian.log") warnings"

# ---- 3. the DKMS package
dkms_deb=$(ls "$work/src/dmapipe-dkms_${version}_all.deb")
mkdir "$work/dkms-root"
dpkg-deb -x "$dkms_deb" "$work/dkms-root"
tree=$work/dkms-root/usr/src/dmapipe-$version
[ -f "$tree/dkms.conf" ] || fail "dmapipe-dkms has no /usr/src/dmapipe-$version/dkms.conf"
for f in Kbuild Makefile uapi/dmapipe.h; do
	[ -f "$tree/$f" ] || fail "dmapipe-dkms lacks /usr/src/dmapipe-$version/$f"
done
for f in $(cd "$src/kernel" && ls ./*.c ./*.h); do
	cmp -s "$src/kernel/$f" "$tree/$f" || fail "dmapipe-dkms: $f differs from kernel/$f or is missing"
done
echo "ok dmapipe-dkms holds dkms.conf and the sources in /usr/src/dmapipe-$version"
kver=$(for d in /lib/modules/*/build; do [ -f "$d/Makefile" ] && basename "${d%/build}"; done | head -n 1)
if [ -n "$kver" ] && command -v dkms >/dev/null; then
	mkdir -p "$work/dkms/tree" "$work/dkms/keys"
	export mok_signing_key="$work/dkms/keys/mok.key" mok_certificate="$work/dkms/keys/mok.pub"
	args="--sourcetree $work/dkms-root/usr/src --dkmstree $work/dkms/tree"
	# shellcheck disable=SC2086
	if dkms add -m dmapipe -v "$version" $args >"$work/dkms.log" 2>&1 &&
		dkms build -m dmapipe -v "$version" -k "$kver" $args >>"$work/dkms.log" 2>&1; then
		echo "ok dkms build of the packaged tree for $kver"
	else
		cat "$work/dkms.log" "$work/dkms/tree/dmapipe/$version/build/make.log" 2>/dev/null | tail -n 30
		fail "dkms build of the packaged tree for $kver"
	fi
else
	echo "note: no kernel headers or no dkms on the host: the packaged tree was not built"
fi

# ---- 4. a clean bookworm chroot
# The host's mirror for bookworm: deb822 sources first, then one-line ones.
mirror=$(awk '
	/^URIs:/ { uri = $2 }
	/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") found = uri }
	/^$/ { uri = "" }
	END { print found }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

# What the checks need that the packages do not pull in; part of the cache
# key, so changing the list makes a new tarball.
base_packages="man-db gstreamer1.0-tools"
key=$(echo "bookworm minbase $mirror $base_packages" | md5sum | cut -c1-12)
tarball=$cache/bookworm-minbase-$key.tar
root=$work/root
mkdir "$root"

# in_chroot CMD: runs CMD in the chroot with /proc, a minimal /dev (no
# device that could give dma-bufs: the memfd fallback is what runs) and
# the host's resolver, in a private mount namespace (undone at exit).
in_chroot() {
	unshare --mount --propagation private sh -c '
		root=$1
		shift
		mount -t proc proc "$root/proc"
		mount -t tmpfs -o mode=0755 dev "$root/dev"
		for n in null zero full random urandom tty; do
			touch "$root/dev/$n"
			mount --bind "/dev/$n" "$root/dev/$n"
		done
		mkdir -p "$root/dev/shm" "$root/dev/pts"
		mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
		ln -s /proc/self/fd "$root/dev/fd"
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

if [ -f "$tarball" ]; then
	echo "chroot: from the cached $tarball"
	tar -xf "$tarball" -C "$root"
else
	echo "chroot: debootstrap --variant=minbase bookworm $mirror (cached afterwards in $tarball)"
	if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
		tail -n 5 "$work/debootstrap.log"
		skip "debootstrap could not make a bookworm chroot from $mirror (no network?)"
	fi
	# shellcheck disable=SC2086
	if ! in_chroot sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $base_packages" \
		>"$work/base.log" 2>&1; then
		tail -n 20 "$work/base.log"
		skip "the chroot could not install $base_packages from $mirror (no network?)"
	fi
	in_chroot apt-get clean
	tar -cf "$tarball.tmp" -C "$root" . && mv "$tarball.tmp" "$tarball"
fi

mkdir "$root/tmp/debs"
for d in $debs; do
	case $d in *dmapipe-dkms*) continue ;; esac
	cp "$work/src/$d" "$root/tmp/debs/"
done
echo "chroot: apt-get install" $(cd "$root/tmp/debs" && ls)
if ! in_chroot sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends /tmp/debs/*.deb' \
	>"$work/install.log" 2>&1; then
	tail -n 30 "$work/install.log"
	if grep -q 'Could not resolve\|Failed to fetch\|Temporary failure' "$work/install.log"; then
		skip "apt in the chroot cannot reach $mirror"
	fi
	fail "apt-get install of the packages in the chroot"
fi
echo "ok the packages install in a clean bookworm, dependencies from $mirror"

status=0
check() {
	what=$1
	shift
	if out=$(in_chroot "$@" 2>&1); then
		echo "ok $what"
	else
		echo "FAIL: $what:"
		printf '%s\n' "$out" | tail -n 30
		status=1
	fi
	last=$out
}

check "dmapipe --version from the package" sh -c 'dmapipe --version | grep -q "^dmapipe '"$version"'"'
check "dmapipe demo --size 640x480 --frames 30" dmapipe demo --size 640x480 --frames 30
printf '%s\n' "$last" | sed 's/^/    /'
check "gst-inspect-1.0 dmapipesrc finds the installed plugin" \
	sh -c 'gst-inspect-1.0 dmapipesrc | grep -q "Filename .*/gstreamer-1.0/libgstdmapipe.so$"'
check "gst-inspect-1.0 dmapipesink" gst-inspect-1.0 dmapipesink
check "man dmapipe-serve renders" sh -c \
	'MANWIDTH=80 man dmapipe-serve 2>/tmp/man.err | grep -q -- "--reacquire" && ! [ -s /tmp/man.err ]'
check "the dmapipe user exists (sysusers.d)" getent passwd dmapipe
check "completions, udev rule and unit are where bash, zsh, udev and systemd read them" \
	sh -c 'test -f /usr/share/bash-completion/completions/dmapipe &&
		test -f /usr/share/zsh/vendor-completions/_dmapipe &&
		test -f /lib/udev/rules.d/70-dmapipe.rules &&
		test -f /lib/systemd/system/dmapipe-serve@.service &&
		test -f /etc/dmapipe/serve.conf'
check "pkg-config finds the -dev package's dmapipe.pc" \
	sh -c 'test -f /usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/pkgconfig/dmapipe.pc'
[ $status -eq 0 ] && echo "all checks passed in the chroot"
exit $status
