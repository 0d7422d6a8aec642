#!/usr/bin/env python3
"""`medvox segment` against the user's alternative, MONAI + PyTorch on the CPU, on the MNI template.

Pipeline on both sides (issue 6): load, reorient to RAS, resample to 1 mm, z-score, sliding window
96³ with overlap 0.5 and Gaussian blending, U-Net with features 16-256 and 4 classes, argmax, save.
The network is MedVox's U-Net built from MONAI's BasicUNet blocks (TwoConv, Down, UpCat with
transposed-convolution up-sampling, instance norm, leaky ReLU 0.01); it differs from BasicUNet only
in the last decoder level (16 instead of 32 channels, as nnU-Net) and the ReLU slope. Both sides load
the SAME weights: written once to safetensors (Tools/bench/unet_weights.py, random, seeded) and
mapped onto MONAI's parameter names here.

1. Timing: each side end to end in its own process (MONAI's time excludes `import torch`; its
   process time is shown too), medians over --repeat, peak RSS from wait4. MedVox runs with the
   card's 96³ windows (same tiling work as MONAI) and with --window largest.
2. Equality where the tiling is the same: the preprocessed template padded/cropped to 192x240x192
   (where MONAI's and MedVox's window starts coincide: 0, 48, 96, ...), MONAI given MedVox's Gaussian
   as roi_weight_map; the probabilities must agree within 1e-4.

    .venv/bin/python3 Tools/bench/segment_vs_monai.py --repeat 1
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_weights import cpu_load, gaussian_weights, random_unet, read_safetensors, write_model  # noqa: E402

FEATURES = (16, 32, 64, 128, 256)
CLASSES = 4
STEPS = [{"op": "reorient", "orientation": "RAS"}, {"op": "resample", "spacing": [1, 1, 1], "interpolation": "linear"},
         {"op": "zscore"}]


def monai_net(weights):
    import torch
    from monai.networks.nets.basic_unet import Down, TwoConv, UpCat

    act = ("LeakyReLU", {"negative_slope": 0.01, "inplace": True})
    norm = ("instance", {"affine": True})

    class UNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            f = FEATURES
            self.encoders = torch.nn.ModuleList(
                [TwoConv(3, 1, f[0], act, norm, True, 0.0)] + [Down(3, f[l - 1], f[l], act, norm, True, 0.0) for l in range(1, len(f))])
            self.decoders = torch.nn.ModuleList(
                [UpCat(3, f[l + 1], f[l], f[l], act, norm, True, 0.0, upsample="deconv", halves=True) for l in reversed(range(len(f) - 1))])
            self.head = torch.nn.Conv3d(f[0], CLASSES, 1)

        def forward(self, x):
            skips = []
            for e in self.encoders:
                x = e(x)
                skips.append(x)
            for k, d in enumerate(self.decoders):
                x = d(x, skips[len(FEATURES) - 2 - k])
            return self.head(x)

    net = UNet()

    def block(ours, theirs, out):
        for i in (1, 2):
            out[f"{theirs}.conv_{i - 1}.conv.weight"] = weights[f"{ours}.conv{i}.weight"]
            out[f"{theirs}.conv_{i - 1}.conv.bias"] = weights[f"{ours}.conv{i}.bias"]
            out[f"{theirs}.conv_{i - 1}.adn.N.weight"] = weights[f"{ours}.norm{i}.weight"]
            out[f"{theirs}.conv_{i - 1}.adn.N.bias"] = weights[f"{ours}.norm{i}.bias"]

    state = {}
    for l in range(len(FEATURES)):
        block(f"encoders.{l}", "encoders.0" if l == 0 else f"encoders.{l}.convs", state)
    for k in range(len(FEATURES) - 1):
        state[f"decoders.{k}.upsample.deconv.weight"] = weights[f"ups.{k}.weight"]
        state[f"decoders.{k}.upsample.deconv.bias"] = weights[f"ups.{k}.bias"]
        block(f"decoders.{k}", f"decoders.{k}.convs", state)
    state["head.weight"] = weights["head.weight"]
    state["head.bias"] = weights["head.bias"]
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return net.eval()


def monai_pipeline(args):
    """Child process: the MONAI pipeline end to end; prints JSON timings."""
    t_import = time.perf_counter()
    import torch
    from monai.inferers import sliding_window_inference
    from monai.transforms import Compose, EnsureChannelFirst, LoadImage, NormalizeIntensity, Orientation, SaveImage, Spacing

    torch.set_num_threads(args.threads)
    weights = read_safetensors(args.weights)
    t0 = time.perf_counter()
    net = monai_net(weights)
    pre = Compose([LoadImage(image_only=True), EnsureChannelFirst(), Orientation(axcodes="RAS"),
                   Spacing(pixdim=(1.0, 1.0, 1.0), mode="bilinear"), NormalizeIntensity()])
    img = pre(args.input)
    with torch.no_grad():
        logits = sliding_window_inference(img[None], roi_size=(96, 96, 96), sw_batch_size=1, predictor=net,
                                          overlap=0.5, mode="gaussian", sigma_scale=0.125)
    mask = torch.argmax(logits, dim=1).to(torch.uint8)
    mask.meta = img.meta if hasattr(img, "meta") else {}
    out = os.path.join(args.out, "monai_mask.nii.gz")
    nib.save(nib.Nifti1Image(mask[0].numpy(), img.affine.numpy() if hasattr(img, "affine") else np.eye(4)), out)
    t1 = time.perf_counter()
    print(json.dumps({"pipeline": t1 - t0, "import": t0 - t_import, "torch": torch.__version__}))


def monai_same_tiling(args):
    """Child process: MONAI's sliding window on a preprocessed array with MedVox's Gaussian."""
    import torch
    from monai.inferers import sliding_window_inference

    torch.set_num_threads(args.threads)
    net = monai_net(read_safetensors(args.weights))
    img = np.asarray(nib.load(args.input).dataobj, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 1, 0)))[None, None]
    w = torch.from_numpy(gaussian_weights((96, 96, 96)))
    with torch.no_grad():
        logits = sliding_window_inference(x, roi_size=(96, 96, 96), sw_batch_size=1, predictor=net, overlap=0.5,
                                          mode="gaussian", roi_weight_map=w)
    p = torch.softmax(logits, dim=1)[0].numpy()
    np.save(os.path.join(args.out, "monai_prob.npy"), p)


def run_measured(cmd):
    """Runs cmd; returns (stdout, wall seconds, peak RSS of that process in MB)."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}): {err}")
    return out, wall, ru.ru_maxrss / 1024


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medvox", default=os.path.join(root, ".build", "release", "medvox"))
    ap.add_argument("--template", default=os.path.join(root, "Data", "mni", "t1.nii.gz"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(root, ".bench", "monai"))
    ap.add_argument("--max-memory", default="8G", help="medvox --max-memory for --window largest")
    ap.add_argument("--skip-equality", action="store_true")
    ap.add_argument("--child", choices=["pipeline", "tiling"])
    ap.add_argument("--weights")
    ap.add_argument("--input")
    a = ap.parse_args()
    if a.child == "pipeline":
        return monai_pipeline(a)
    if a.child == "tiling":
        return monai_same_tiling(a)
    os.makedirs(a.out, exist_ok=True)
    card = write_model(a.out, "bench-unet", random_unet(FEATURES, CLASSES, seed=0), FEATURES, CLASSES, STEPS)
    weights = os.path.join(a.out, "bench-unet.safetensors")
    me = [sys.executable, os.path.abspath(__file__), "--out", a.out, "--weights", weights, "--threads", str(a.threads)]

    rows = {}
    loads = []
    for _ in range(a.repeat):
        loads.append(cpu_load(0.5))
        out, wall, rss = run_measured(me + ["--child", "pipeline", "--input", a.template])
        j = json.loads(out.strip().splitlines()[-1])
        rows.setdefault("monai", []).append((j["pipeline"], wall, rss, f"torch {j['torch']}"))
        for name, extra in [("medvox (96³ windows)", []), ("medvox (--window largest)", ["--window", "largest", "--max-memory", a.max_memory])]:
            loads.append(cpu_load(0.5))
            out, wall, rss = run_measured([a.medvox, "segment", a.template, "-o", os.path.join(a.out, "medvox_mask.nii.gz"),
                                           "--model", card, "--threads", str(a.threads), "--quiet"] + extra)
            m = re.search(r"(\d+) window\(s\) of (\S+)", out)
            rows.setdefault(name, []).append((wall, wall, rss, f"{m.group(1)} windows of {m.group(2)}"))
    print(f"MNI template {nib.load(a.template).shape}, U-Net features {FEATURES}, {CLASSES} classes, {a.threads} threads")
    print(f"machine busy (non-idle CPU share before each run): median {statistics.median(loads):.0%}, max {max(loads):.0%}")
    base = statistics.median(r[0] for r in rows["monai"])
    for name, r in rows.items():
        t = statistics.median(x[0] for x in r)
        print(f"{name:28s} pipeline {t:7.2f} s  process {statistics.median(x[1] for x in r):7.2f} s  "
              f"peak RSS {max(x[2] for x in r):6.0f} MB  speed-up vs MONAI {base / t:5.2f}x  ({r[0][3]})")
    a_mask = np.asarray(nib.load(os.path.join(a.out, "monai_mask.nii.gz")).dataobj)
    b_mask = np.asarray(nib.load(os.path.join(a.out, "medvox_mask.nii.gz")).dataobj)
    if a_mask.shape == b_mask.shape:
        print(f"argmax agreement MONAI vs medvox (--window largest, last run): {np.mean(a_mask == b_mask):.4f}")

    if a.skip_equality:
        return
    # Same tiling: z-scored template cropped/padded to 192x240x192, no preprocessing on either side.
    t1 = nib.load(a.template)
    img = np.asarray(t1.dataobj, dtype=np.float32)
    img = (img - img.mean()) / img.std()
    target = (192, 240, 192)
    out_img = np.zeros(target, np.float32)
    src = [slice(max(0, (s - t) // 2), max(0, (s - t) // 2) + min(s, t)) for s, t in zip(img.shape, target)]
    dst = [slice(max(0, (t - s) // 2), max(0, (t - s) // 2) + min(s, t)) for s, t in zip(img.shape, target)]
    out_img[tuple(dst)] = img[tuple(src)]
    inp = os.path.join(a.out, "tiling_input.nii.gz")
    nib.save(nib.Nifti1Image(out_img, t1.affine), inp)
    card2 = write_model(a.out, "bench-unet-raw", read_safetensors(weights), FEATURES, CLASSES, [])
    run_measured(me + ["--child", "tiling", "--input", inp])
    probs = os.path.join(a.out, "medvox_prob.nii.gz")
    out, _, _ = run_measured([a.medvox, "segment", inp, "-o", os.path.join(a.out, "tiling_mask.nii.gz"), "--model", card2,
                              "--probabilities", probs, "--no-postprocess", "--threads", str(a.threads), "--quiet"])
    m = re.search(r"(\d+) window\(s\) of (\S+)", out)
    p_medvox = np.asarray(nib.load(probs).dataobj, dtype=np.float32).transpose(3, 2, 1, 0)
    p_monai = np.load(os.path.join(a.out, "monai_prob.npy"))
    diff = float(np.abs(p_medvox - p_monai).max())
    print(f"same tiling ({m.group(1)} windows of {m.group(2)} on 192x240x192): max |p_medvox - p_monai| = {diff:.2e} "
          f"({'OK' if diff <= 1e-4 else 'FAIL'}: tolerance 1e-4)")


if __name__ == "__main__":
    main()
