"""Shared by the segmentation benchmarks: MedVox's U-Net weights as numpy arrays, written and read
through safetensors (plain numpy, no extra package), and a model card for them.

Parameter names follow Sources/MedVoxNN/Models/UNet.swift: encoders.L.{conv1,norm1,conv2,norm2}.{weight,bias},
ups.K.{weight,bias} (ConvTranspose, [Cin, Cout, 2, 2, 2]), decoders.K.*, head.{weight,bias}; ups/decoders
run from the deepest level up (K = 0 is the deepest).
"""
import hashlib
import json
import struct

import numpy as np


def random_unet(features=(16, 32, 64, 128, 256), classes=4, in_channels=1, seed=0):
    """He-normal convolution weights, small random biases, instance-norm scales in [0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    w = {}

    def conv(name, cout, cin, k):
        fan_in = cin * k ** 3
        w[name + ".weight"] = (rng.standard_normal((cout, cin, k, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        w[name + ".bias"] = (rng.standard_normal(cout) * 0.05).astype(np.float32)

    def norm(name, c):
        w[name + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        w[name + ".bias"] = (rng.standard_normal(c) * 0.1).astype(np.float32)

    def block(name, cin, cout):
        conv(name + ".conv1", cout, cin, 3)
        norm(name + ".norm1", cout)
        conv(name + ".conv2", cout, cout, 3)
        norm(name + ".norm2", cout)

    cin = in_channels
    for i, f in enumerate(features):
        block(f"encoders.{i}", cin, f)
        cin = f
    for k, level in enumerate(reversed(range(len(features) - 1))):
        fin, fout = features[level + 1], features[level]
        w[f"ups.{k}.weight"] = (rng.standard_normal((fin, fout, 2, 2, 2)) * np.sqrt(2.0 / (fin * 8))).astype(np.float32)
        w[f"ups.{k}.bias"] = (rng.standard_normal(fout) * 0.05).astype(np.float32)
        block(f"decoders.{k}", 2 * fout, fout)
    conv("head", classes, features[0], 1)
    return w


def write_safetensors(tensors, path):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(e["shape"])
    return out


def write_model(folder, name, weights, features, classes, steps, patch=(96, 96, 96)):
    """Writes NAME.safetensors and its card NAME.json into folder; returns the card path."""
    st = f"{folder}/{name}.safetensors"
    write_safetensors(weights, st)
    sha = hashlib.sha256(open(st, "rb").read()).hexdigest()
    card = {
        "schemaVersion": 1, "name": name, "version": "0.0.0", "task": "segmentation",
        "description": "random weights, for benchmarks",
        "architecture": {"kind": "unet", "spatialRank": 3, "inChannels": 1, "classes": classes, "features": list(features)},
        "labels": [{"value": i, "name": f"class{i}"} for i in range(classes)],
        "input": {"modality": "MR", "spacing": [1, 1, 1], "patchSize": list(patch)},
        "preprocessing": {"version": 1, "steps": steps},
        "postprocessing": {"largestForeground": False},
        "weights": {"file": f"{name}.safetensors", "sha256": sha},
    }
    path = f"{folder}/{name}.json"
    with open(path, "w") as f:
        json.dump(card, f, indent=1)
    return path


def gaussian_weights(patch, sigma_scale=1.0 / 8):
    """The importance map of Sources/MedVoxInference/SlidingWindow.swift, as a (D, H, W) array
    for a patch given in (i, j, k) order."""
    axes = []
    for n in patch:
        c = (n - 1) / 2
        s = n * sigma_scale
        axes.append(np.exp(-0.5 * ((np.arange(n) - c) / s) ** 2))
    w = (axes[2][:, None, None] * axes[1][None, :, None] * axes[0][None, None, :]).astype(np.float32)
    w /= w.max()
    w[w == 0] = w[w > 0].min()
    return w


def cpu_load(seconds=1.0):
    """Fraction of CPU time not idle over `seconds`, from /proc/stat."""
    import time

    def read():
        v = list(map(int, open("/proc/stat").readline().split()[1:]))
        return sum(v), v[3] + v[4]
    t0, i0 = read()
    time.sleep(seconds)
    t1, i1 = read()
    return 1 - (i1 - i0) / max(1, t1 - t0)
