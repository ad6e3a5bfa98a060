#!/bin/sh
# SPDX-License-Identifier: MIT
#
# `dmapipe info --json` in the VM lane lists what the lane loaded
# ($DMAPIPE_VM_FEATURES), and nothing it did not: vivid's two capture nodes
# (device 0 single-planar, device 1 multi-planar) with YUYV and dma-buf
# export (proved by --probe-export) and import, vgem's render node, the
# system heap, udmabuf, dmapipe.ko with its ABI version, dmapipe_vcap as a
# capture device, vkms as a KMS device with its connectors and the formats
# of its planes (and vgem's card not as one). Odd cases tried: the same listing as an unprivileged user
# (every node it cannot open carries an error, the JSON stays valid and the
# exit status 0), and the human table with -v.
#
# Usage: test-info-devices.sh PATH-TO-dmapipe

set -u

DMAPIPE=${1:?usage: test-info-devices.sh PATH-TO-dmapipe}
if [ -z "${DMAPIPE_VM:-}" ]; then
	echo "SKIP: checks what the VM lane loaded; run through tests/vm/lane"
	exit 77
fi

# shellcheck source=testlib.sh
TAG=info-devices
. "$(dirname "$0")/testlib.sh"

"$DMAPIPE" info --json --probe-export >"$DIR/info.json" 2>"$DIR/info.log" ||
	fail "info --json --probe-export"

FEATURES=" ${DMAPIPE_VM_FEATURES:-} " python3 - "$DIR/info.json" <<'EOF' || fail "info --json does not match the loaded features"
import json, os, sys

d = json.load(open(sys.argv[1]))
feat = os.environ["FEATURES"].split()
dev = d["devices"]
errors = []

def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        errors.append(what)

for key in ("v4l2", "drm", "dma_heaps", "kms"):
    expect(isinstance(dev[key], list), "devices.%s is a list" % key)

v4l2 = dev["v4l2"]
for v in v4l2:
    for key in ("name", "path", "role", "driver", "card", "bus_info", "error", "busy",
                "multiplanar", "dmabuf_export", "dmabuf_import", "queues"):
        expect(key in v, "%s has %s" % (v["path"], key))

def names(queue):
    return {f["v4l2"] for f in queue["formats"]} | {f["drm"] for f in queue["formats"] if f["drm"]}

if "vivid" in feat:
    caps = [v for v in v4l2 if v["driver"] == "vivid" and v["role"] == "capture"]
    outs = [v for v in v4l2 if v["driver"] == "vivid" and v["role"] == "output"]
    expect(len(caps) == 2, "two vivid capture nodes (%d)" % len(caps))
    expect(len(outs) == 2, "two vivid output nodes (%d)" % len(outs))
    for i, v in enumerate(caps):
        q = v["queues"][0] if v["queues"] else {"formats": [], "type": None}
        expect(v["error"] is None, "%s: no error (%s)" % (v["path"], v["error"]))
        expect(v["multiplanar"] == (i == 1), "%s: multiplanar is %s" % (v["path"], i == 1))
        expect(q["type"] == ("video-capture-mplane" if i == 1 else "video-capture"),
               "%s: queue type %s" % (v["path"], q["type"]))
        expect("YUYV" in names(q), "%s: YUYV among %s" % (v["path"], sorted(names(q))))
        expect(v["dmabuf_export"] and q["export_probed"], "%s: export proved" % v["path"])
        expect(v["dmabuf_import"], "%s: import" % v["path"])
        expect(v["card"].startswith("vivid") and v["bus_info"].startswith("platform:vivid"),
               "%s: card %s, bus %s" % (v["path"], v["card"], v["bus_info"]))

vgem = [g for g in dev["drm"] if g["driver"] == "vgem"]
expect(len(vgem) == (1 if "vgem" in feat else 0), "vgem render nodes: %d" % len(vgem))
# without libdrm the dumb-buffer check is not built (nor the drm allocator)
drm_built = not any(a["name"] == "drm" and "not built" in a["description"]
                    for a in d["allocators"])
for g in vgem:
    expect(g["name"].startswith("renderD") and g["prime_export"] and g["prime_import"],
           "vgem: %s, PRIME import and export" % g["path"])
    expect(g["dumb_buffers"] == drm_built, "vgem: dumb buffers on %s: %s (%s)" %
           (g["card"], g["dumb_buffers"], g["dumb_error"]))

heaps = [h["name"] for h in dev["dma_heaps"]]
expect(("system" in heaps) == ("dmaheap" in feat), "system heap: %s" % heaps)

u = dev["udmabuf"]
expect((u is not None) == ("udmabuf" in feat), "udmabuf: %s" % u)
if u:
    expect(u["path"] == "/dev/udmabuf" and u["error"] is None and u["size_limit_mb"] > 0,
           "udmabuf: usable, size limit %s MiB" % u["size_limit_mb"])

k = dev["dmapipe"]
expect((k is not None) == ("dmapipe" in feat), "dmapipe.ko: %s" % k)
if k:
    expect(k["error"] is None and k["abi_version"] >= 1 and "alloc" in k["features"],
           "dmapipe.ko ABI %s" % k.get("abi_version"))
    expect(d["dmapipe_module"]["abi_version"] == k["abi_version"], "dmapipe_module kept")

vcap = [v for v in v4l2 if v["driver"] == "dmapipe_vcap"]
expect(bool(vcap) == ("dmapipe_vcap" in feat), "dmapipe_vcap nodes: %d" % len(vcap))
for v in vcap:
    expect(v["role"] == "capture" and "YUYV" in names(v["queues"][0]) and
           v["dmabuf_export"] and v["dmabuf_import"], "%s: dmapipe_vcap capture" % v["path"])

kms = dev["kms"]
vkms = [k for k in kms if k["driver"] == "vkms"]
expect(len(vkms) == (1 if "vkms" in feat else 0), "vkms KMS devices: %d" % len(vkms))
expect(not any(k["driver"] == "vgem" for k in kms), "vgem's card is no KMS device")
for k in vkms:
    conns = {c["name"]: c for c in k["connectors"]}
    v1 = conns.get("Virtual-1", {})
    expect(k["error"] is None and k["atomic"] and k["prime_import"] and k["crtcs"] == 1,
           "%s: atomic, imports dma-bufs, one CRTC" % k["path"])
    expect(v1.get("connected") and v1.get("preferred_mode") ==
           {"width": 1024, "height": 768, "refresh": 60},
           "%s: Virtual-1 connected at 1024x768@60 (%s)" % (k["path"], v1))
    expect(conns.get("Writeback-1", {}).get("writeback"), "%s: Writeback-1" % k["path"])
    primary = [p for p in k["planes"] if p["type"] == "primary"]
    fmts = {f["name"]: f["modifiers"] for p in primary for f in p["formats"]}
    expect(len(primary) == 1 and "linear" in fmts.get("XRGB8888", []) and primary[0]["in_fence"],
           "%s: a primary plane taking XRGB8888 linear, with fences (%s)" % (k["path"], fmts))

sys.exit(1 if errors else 0)
EOF
ok "info --json lists what the lane loaded"

"$DMAPIPE" info -v >"$DIR/info-v.log" 2>&1 || fail "info -v"
case " ${DMAPIPE_VM_FEATURES:-} " in
*" vivid "*)
	grep -q "vivid .*capture\|capture .*vivid" "$DIR/info-v.log" ||
		fail "info -v: no vivid capture line"
	grep -q "video-capture-mplane queue" "$DIR/info-v.log" ||
		fail "info -v: no multi-planar queue details"
	;;
esac
case " ${DMAPIPE_VM_FEATURES:-} " in
*" vkms "*)
	grep -q "^KMS devices (displays):$" "$DIR/info-v.log" &&
		grep -q "connector Virtual-1 *connected *1024x768@60" "$DIR/info-v.log" &&
		grep -q "plane .*primary .*XRGB8888 (linear)" "$DIR/info-v.log" ||
		fail "info -v: no vkms KMS device with Virtual-1 and a primary plane"
	;;
esac
ok "info -v"
# kept on the host (OUT/tests/info-devices/) for people to read
if [ -n "${DMAPIPE_VM_ARTIFACTS:-}" ]; then
	cp "$DIR/info.json" "$DIR/info-v.log" "$DMAPIPE_VM_ARTIFACTS/"
	"$DMAPIPE" info >"$DMAPIPE_VM_ARTIFACTS/info.txt" 2>&1
fi

# Unprivileged: devtmpfs nodes are root's (0600), so most cannot be opened.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$DMAPIPE" info --json >"$DIR/nobody.json" 2>"$DIR/nobody.log" ||
		fail "info --json as nobody exited $?"
	python3 - "$DIR/nobody.json" <<'EOF' || fail "info --json as nobody"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["devices"]["v4l2"]
denied = [x for x in v if x["error"] and "Permission denied" in x["error"]]
print("%d of %d V4L2 nodes denied" % (len(denied), len(v)))
sys.exit(0 if not v or denied else 1)
EOF
	ok "info --json as an unprivileged user stays valid, errors per device"
else
	echo "# not root or no setpriv: the unprivileged case is not tried"
fi
