#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Installs what dmapipe needs from Debian 12's packages.
#   .ci/deps.sh main   build the library and the tool, run the main job
#   .ci/deps.sh all    everything the test suites need, the real-kernel VM
#                      lane and the benchmark baselines included
# Idempotent: packages already installed are not fetched again.
set -eu

mode=${1:-all}

# Building libdmapipe, the tool, and the optional parts (json-c: dmapipe-bench
# reads fio's JSON results with it).
BUILD_PACKAGES="build-essential meson ninja-build pkg-config linux-libc-dev libdrm-dev \
libudev-dev libv4l-dev liburing-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
libjson-c-dev"
# dmapipe rtsp/srt (tools/cmd-rtsp.c) serve through gst-rtsp-server.
BUILD_PACKAGES="$BUILD_PACKAGES libgstrtspserver-1.0-dev"

# Host test suites: sanitizers (clang's runtime for libFuzzer), valgrind,
# C++ for the header test, GStreamer's shm elements as the benchmark baseline,
# fio as the storage baseline of the recorder's benchmark;
# the kernel suite's checkpatch (linux-source-6.12), sparse and dkms;
# the api suite's abidiff (abigail-tools: the ABI of 0.1, docs/ABI.md);
# the package suite's Debian tools (debhelper with dh-dkms, lintian,
# debootstrap for its clean chroot) and the tool suite's man, bash
# completion, zsh and systemd-analyze.
TEST_PACKAGES="clang libclang-rt-14-dev g++ valgrind python3 gstreamer1.0-tools \
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
linux-source-6.12 sparse dkms fio abigail-tools \
debhelper dh-dkms lintian debootstrap man-db bash-completion zsh systemd"

# `dmapipe pipewire` (docs/PIPEWIRE.md): libpipewire to build it; to test
# it, the daemon and pw-cli/pw-link (pipewire, pipewire-bin) and
# GStreamer's pipewiresrc as the consumer.
BUILD_PACKAGES="$BUILD_PACKAGES libpipewire-0.3-dev"
TEST_PACKAGES="$TEST_PACKAGES pipewire pipewire-bin gstreamer1.0-pipewire"

# The network tests and benchmark (tests/net/): the RTSP server's
# plugins (rtpmanager, rtp), x264enc, avdec_h264 to decode in the clients,
# ip/tc for network namespaces, veth and netem.
TEST_PACKAGES="$TEST_PACKAGES gstreamer1.0-rtsp gstreamer1.0-plugins-ugly gstreamer1.0-libav \
iproute2"

# The real-kernel lane (tests/vm): QEMU, a static busybox for the initramfs,
# Debian 12's stock kernel (6.1) and the 6.12 kernel from bookworm-security,
# their headers (for the lane's test module and dmapipe's modules), kmod,
# v4l-utils, e2fsprogs (the kernel tests' scratch ext4 for O_DIRECT), dmsetup
# (the stall tests put dm-delay and dm-flakey under that ext4), and the
# 6.1 kernel's source (with TEST_PACKAGES' linux-source-6.12: vicodec and
# v4l2-mem2mem are built from them for the encoder tests).
VM_PACKAGES="qemu-system-x86 busybox-static linux-image-amd64 linux-image-6.12-amd64 \
linux-headers-amd64 linux-headers-6.12-amd64 kmod xz-utils cpio v4l-utils e2fsprogs \
dmsetup linux-source-6.1"

# GPU import (tests/egl-import.c, docs/PROTOCOL.md section 13 rule 7): EGL,
# GLES2 and GBM to build the consumer; Mesa's EGL and DRI drivers
# (kms_swrast, llvmpipe) to run it on vgem in the lane.
TEST_PACKAGES="$TEST_PACKAGES libegl-dev libgles-dev libgbm-dev libegl-mesa0 libgl1-mesa-dri"
# The same import through GStreamer (tests/gst/test-gst-glupload.sh):
# glupload, gleffects and gldownload, headless on GBM over vgem.
TEST_PACKAGES="$TEST_PACKAGES gstreamer1.0-gl"

case "$mode" in
main) want="$BUILD_PACKAGES" ;;
all) want="$BUILD_PACKAGES $TEST_PACKAGES $VM_PACKAGES" ;;
*) echo "usage: $0 main|all" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all $(echo $want | wc -w) packages already installed"
	exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
