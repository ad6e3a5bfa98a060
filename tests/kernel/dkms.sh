#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dkms.sh KERNEL_SRC WORK_DIR KVER...
#
# `dkms add` + `dkms build` of kernel/dkms.conf for each KVER, with the
# source tree, the dkms tree and the module signing key all private to
# WORK_DIR: the system's dkms state is not touched.
set -eu

src=$1 work=$2
shift 2

command -v dkms >/dev/null || { echo "SKIP: dkms not found (apt-get install dkms)"; exit 77; }
[ $# -gt 0 ] || { echo "SKIP: no kernel headers in /lib/modules/*/build"; exit 77; }

name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"$/\1/p' "$src/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$src/dkms.conf")
[ -n "$name" ] && [ -n "$version" ] || { echo "FAIL: no PACKAGE_NAME/VERSION in dkms.conf"; exit 1; }

rm -rf "$work"
mkdir -p "$work/source/$name-$version" "$work/tree" "$work/keys"
(cd "$src" && tar -cf - --exclude=meson.build --exclude=kmod-build .) |
	(cd "$work/source/$name-$version" && tar -xf -)
# read by dkms instead of its defaults in /var/lib/dkms
export mok_signing_key="$work/keys/mok.key" mok_certificate="$work/keys/mok.pub"
dkms_args="--sourcetree $work/source --dkmstree $work/tree"

# shellcheck disable=SC2086
dkms add -m "$name" -v "$version" $dkms_args
status=0
for kver in "$@"; do
	# shellcheck disable=SC2086
	if ! dkms build -m "$name" -v "$version" -k "$kver" $dkms_args; then
		cat "$work/tree/$name/$version/build/make.log" 2>/dev/null || true
		echo "FAIL: dkms build for $kver"
		status=1
		continue
	fi
	modules=$(sed -n 's/^modules=(\(.*\))$/\1/p' "$src/dkms.conf")
	for m in $modules; do
		ko=$(ls "$work/tree/$name/$version/$kver"/*/module/"$m".ko* 2>/dev/null | head -n 1)
		if [ -z "$ko" ]; then
			echo "FAIL: $kver: dkms built no $m.ko"
			status=1
		else
			echo "ok $kver: $ko"
		fi
	done
done
exit $status
