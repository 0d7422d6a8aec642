#!/usr/bin/env python3
"""Exports small instances of the network families users bring to MedVox (MONAI and hand-written
PyTorch models) as ONNX files, with a seeded input and onnxruntime's output for each, into
Fixtures/onnx/networks/ (or OUT_DIR), plus manifest.json describing them.

Run it in the export venv (torch + monai + onnx + onnxscript; see Tools/setup-export.sh):

    .venv-export/bin/python Fixtures/onnx/export_networks.py [OUT_DIR] [--ort-python PY]

The export venv has no onnxruntime: once the files are written, the script runs
Fixtures/onnx/check_networks.py --write with the test oracles' Python (--ort-python, else
$MEDVOX_PYTHON, else .venv/bin/python3), which runs each model in onnxruntime and stores its
outputs (NAME.output.npy) and their scale in the manifest. Everything is seeded: re-running the
script on the same versions reproduces the files.

Manifest entries (manifest.json, a JSON object with "networks": [...]):
    file            NAME.onnx, relative to the manifest
    family          e.g. "monai.BasicUNet", "torch.PlainUNet3D"
    opset           the default-domain opset of the file
    exporter        "torchscript" (torch.onnx.export dynamo=False) or "dynamo"
    input_name, input, input_shape   the graph input, the .npy holding the seeded input, its shape
    dynamic_axes    {axis index (string): symbolic name} of the input; {} when every size is fixed
    external_data   files holding the weights beside the .onnx ([] when inline)
    outputs         [{"name", "file", "shape", "scale"}], scale = max |value| of onnxruntime's output
    tolerance       allowed |MedVox - onnxruntime| relative to the output's scale (atol = tolerance * scale)
"""
import argparse
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- hand-written PyTorch models

class PlainUNet3D(nn.Module):
    """nnU-Net's plain 3D U-Net: (conv 3x3x3, InstanceNorm, LeakyReLU) x2 per level, max pooling
    down, stride-2 ConvTranspose up, skip concatenation, 1x1x1 head."""

    def __init__(self, cin=1, classes=3, features=(4, 8, 16)):
        super().__init__()

        def block(a, b):
            return nn.Sequential(
                nn.Conv3d(a, b, 3, padding=1), nn.InstanceNorm3d(b, affine=True), nn.LeakyReLU(0.01),
                nn.Conv3d(b, b, 3, padding=1), nn.InstanceNorm3d(b, affine=True), nn.LeakyReLU(0.01))

        self.enc = nn.ModuleList()
        c = cin
        for f in features:
            self.enc.append(block(c, f))
            c = f
        self.ups = nn.ModuleList()
        self.dec = nn.ModuleList()
        for lo, hi in reversed(list(zip(features[:-1], features[1:]))):
            self.ups.append(nn.ConvTranspose3d(hi, lo, 2, stride=2))
            self.dec.append(block(2 * lo, lo))
        self.head = nn.Conv3d(features[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, e in enumerate(self.enc):
            if i > 0:
                x = F.max_pool3d(x, 2)
            x = e(x)
            skips.append(x)
        for up, dec, skip in zip(self.ups, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([skip, up(x)], 1))
        return self.head(x)


class Mixed2D(nn.Module):
    """A 2D network of the operators and attributes the U-Nets above do not use: grouped and
    dilated convolutions, asymmetric padding, LayerNorm over channels, PReLU, ELU, GELU, linear
    and nearest up-sampling, a residual sum and a softmax output."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        self.gconv = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))
        self.aconv = nn.Conv2d(8, 8, (4, 2))
        self.norm = nn.LayerNorm(8)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.head = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        h = self.prelu(self.conv1(x))
        h = F.gelu(self.gconv(h))
        h = self.aconv(self.pad(h))
        h = self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        h = F.elu(h)
        d = self.down(h)
        a = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)
        b = F.interpolate(d, scale_factor=2, mode="nearest")
        return torch.softmax(self.head(torch.cat([a + h, b], 1)), dim=1)


# ---------------------------------------------------------------- MONAI models (small instances)

def tiny_unetr():
    """MONAI UNETR with a 2-layer transformer (hidden 48, 2 heads, MLP 96, 32^3 image, patch 16,
    decoder features 2).
    UNETR reads the encoder's hidden states after layers 3, 6 and 9 of its 12; with 2 layers the
    skips read layers 1, 2 and 2 instead, everything else being MONAI's own code."""
    from monai.networks.nets import UNETR

    class TinyUNETR(UNETR):
        def forward(self, x_in):
            x, hidden = self.vit(x_in)
            enc1 = self.encoder1(x_in)
            enc2 = self.encoder2(self.proj_feat(hidden[0]))
            enc3 = self.encoder3(self.proj_feat(hidden[1]))
            enc4 = self.encoder4(self.proj_feat(hidden[1]))
            dec3 = self.decoder5(self.proj_feat(x), enc4)
            dec2 = self.decoder4(dec3, enc3)
            dec1 = self.decoder3(dec2, enc2)
            return self.out(self.decoder2(dec1, enc1))

    m = TinyUNETR(in_channels=1, out_channels=2, img_size=32, feature_size=2, hidden_size=48, mlp_dim=96,
                  num_heads=2, norm_name="instance")
    m.vit.blocks = m.vit.blocks[:2]
    return m


def monai_models():
    from monai.networks import nets
    return {
        "basicunet3d": lambda: nets.BasicUNet(spatial_dims=3, in_channels=1, out_channels=2,
                                              features=(4, 4, 8, 16, 32, 4)),
        "unet_res_prelu3d": lambda: nets.UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16),
                                              strides=(2, 2), num_res_units=2, act="PRELU", norm="INSTANCE"),
        "segresnet3d": lambda: nets.SegResNet(spatial_dims=3, init_filters=4, in_channels=1, out_channels=2,
                                              blocks_down=(1, 2, 2), blocks_up=(1, 1),
                                              norm=("GROUP", {"num_groups": 2})),
        "dynunet3d": lambda: nets.DynUNet(spatial_dims=3, in_channels=1, out_channels=3, kernel_size=[3, 3, 3, 3],
                                          strides=[1, 2, 2, 2], upsample_kernel_size=[2, 2, 2],
                                          filters=[4, 8, 16, 32], norm_name="instance", res_block=False),
        "attentionunet3d": lambda: nets.AttentionUnet(spatial_dims=3, in_channels=1, out_channels=2,
                                                      channels=(4, 8, 16), strides=(2, 2)),
        "unetr3d": tiny_unetr,
        "unet2d": lambda: nets.UNet(spatial_dims=2, in_channels=1, out_channels=3, channels=(4, 8, 16, 32),
                                    strides=(2, 2, 2), num_res_units=1, norm="BATCH"),
        "resnet3d": lambda: nets.ResNet(block="basic", layers=[1, 1, 1, 1], block_inplanes=[4, 8, 16, 32],
                                        spatial_dims=3, n_input_channels=1, num_classes=3),
    }


# ---------------------------------------------------------------- the fixture list

# name, family, factory key, opset, export input shape, run input shape (differs where the
# spatial axes are dynamic), dynamic, external data, exporter
SPATIAL3 = {2: "i", 3: "j", 4: "k"}
SPATIAL2 = {2: "i", 3: "j"}
FIXTURES = [
    ("basicunet3d_op17", "monai.BasicUNet", "basicunet3d", 17, (1, 1, 32, 32, 32), (1, 1, 32, 32, 32), {}, False, "torchscript"),
    ("basicunet3d_op13_dyn", "monai.BasicUNet", "basicunet3d", 13, (1, 1, 32, 32, 32), (1, 1, 32, 48, 32), SPATIAL3, False, "torchscript"),
    ("unet_res_prelu3d_op13_dyn", "monai.UNet(residual, PReLU)", "unet_res_prelu3d", 13, (1, 1, 16, 16, 16), (1, 1, 24, 16, 20), SPATIAL3, False, "torchscript"),
    ("segresnet3d_op21", "monai.SegResNet", "segresnet3d", 21, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, False, "torchscript"),
    ("segresnet3d_op17_dyn", "monai.SegResNet", "segresnet3d", 17, (1, 1, 16, 16, 16), (1, 1, 24, 16, 8), SPATIAL3, False, "torchscript"),
    ("dynunet3d_op17_dyn", "monai.DynUNet", "dynunet3d", 17, (1, 1, 16, 16, 16), (1, 1, 24, 32, 16), SPATIAL3, False, "torchscript"),
    ("dynunet3d_op21", "monai.DynUNet", "dynunet3d", 21, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, False, "torchscript"),
    ("attentionunet3d_op17", "monai.AttentionUnet", "attentionunet3d", 17, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, False, "torchscript"),
    ("unetr3d_op17", "monai.UNETR", "unetr3d", 17, (1, 1, 32, 32, 32), (1, 1, 32, 32, 32), {}, False, "torchscript"),
    ("unet2d_op13_dyn", "monai.UNet(2D)", "unet2d", 13, (1, 1, 32, 32), (1, 1, 48, 40), SPATIAL2, False, "torchscript"),
    ("resnet3d_op21_dyn", "monai.ResNet", "resnet3d", 21, (1, 1, 16, 16, 16), (1, 1, 20, 24, 16), SPATIAL3, False, "torchscript"),
    ("plainunet3d_op13", "torch.PlainUNet3D", "plainunet3d", 13, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, False, "torchscript"),
    ("plainunet3d_op17_dyn", "torch.PlainUNet3D", "plainunet3d", 17, (1, 1, 16, 16, 16), (1, 1, 24, 16, 32), SPATIAL3, False, "torchscript"),
    ("plainunet3d_op21_external", "torch.PlainUNet3D", "plainunet3d", 21, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, True, "torchscript"),
    ("plainunet3d_op18_dynamo", "torch.PlainUNet3D", "plainunet3d", 18, (1, 1, 16, 16, 16), (1, 1, 16, 16, 16), {}, False, "dynamo"),
    ("mixed2d_op17_dyn", "torch.Mixed2D", "mixed2d", 17, (1, 2, 32, 32), (1, 2, 24, 40), SPATIAL2, False, "torchscript"),
    ("mixed2d_op21", "torch.Mixed2D", "mixed2d", 21, (1, 2, 32, 32), (1, 2, 32, 32), {}, False, "torchscript"),
]


def factory(key):
    if key == "plainunet3d":
        return PlainUNet3D()
    if key == "mixed2d":
        return Mixed2D()
    return monai_models()[key]()


def seeded_model(key, seed):
    """The model with every parameter and buffer drawn from a seeded generator, so that outputs
    have a scale well above zero (initialisations that zero biases or set norms to identity would
    leave those paths untested), in evaluation mode."""
    torch.manual_seed(seed)
    m = factory(key)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in list(m.named_parameters()) + list(m.named_buffers()):
            if not p.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif name.endswith("running_mean") or name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() <= 1:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
    return m.eval()


def export(name, family, key, opset, export_shape, run_shape, dynamic, external, exporter, out, seed):
    model = seeded_model(key, seed)
    path = os.path.join(out, name + ".onnx")
    dummy = torch.randn(export_shape, generator=torch.Generator().manual_seed(seed))
    if exporter == "dynamo":
        torch.onnx.export(model, (dummy,), path, input_names=["input"], output_names=["output"],
                          opset_version=opset, dynamo=True, external_data=False)
    else:
        axes = {"input": {a: n for a, n in dynamic.items()}, "output": {a: n for a, n in dynamic.items()}} if dynamic else None
        if key == "resnet3d" and dynamic:
            axes["output"] = {}
        torch.onnx.export(model, (dummy,), path, input_names=["input"], output_names=["output"],
                          opset_version=opset, dynamic_axes=axes, dynamo=False, do_constant_folding=True)
    m = onnx.load(path)
    for f in os.listdir(out):
        if f.startswith(name + ".onnx.") or f.startswith(name + ".data"):
            os.remove(os.path.join(out, f))
    data_files = []
    if external:
        data_files = [name + ".weights.bin"]
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_files[0], size_threshold=0)
    else:
        onnx.save_model(m, path)
    actual_opset = next(o.version for o in onnx.load(path, load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))
    x = np.random.default_rng(seed).standard_normal(run_shape).astype(np.float32)
    np.save(os.path.join(out, name + ".input.npy"), x)
    return {
        "file": name + ".onnx", "family": family, "opset": int(actual_opset), "exporter": exporter,
        "input_name": "input", "input": name + ".input.npy", "input_shape": list(run_shape),
        "dynamic_axes": {str(a): n for a, n in dynamic.items()}, "external_data": data_files,
        "outputs": [{"name": "output", "file": name + ".output.npy"}], "tolerance": 1e-4,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.join(HERE, "networks"))
    ap.add_argument("--ort-python", default=os.environ.get("MEDVOX_PYTHON") or os.path.join(ROOT, ".venv/bin/python3"))
    ap.add_argument("--only", help="comma-separated fixture names to redo (default: all); the others stay in the manifest")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    manifest_path = os.path.join(args.out, "manifest.json")
    entries = []
    only = set(args.only.split(",")) if args.only else None
    for seed, spec in enumerate(FIXTURES):
        if only and spec[0] not in only:
            continue
        try:
            entries.append(export(*spec, args.out, seed))
            print(f"{spec[0]}: exported", file=sys.stderr)
        except Exception as e:  # a failing exporter (dynamo) is reported, not fatal
            if spec[8] != "dynamo":
                raise
            print(f"{spec[0]}: the dynamo exporter failed ({type(e).__name__}: {e}); left out", file=sys.stderr)
    if only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            kept = [e for e in json.load(f)["networks"] if e["file"][:-5] not in only]
        order = [spec[0] for spec in FIXTURES]
        entries = sorted(kept + entries, key=lambda e: order.index(e["file"][:-5]))
    manifest = {
        "generator": "Fixtures/onnx/export_networks.py",
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                     "monai": __import__("monai").__version__},
        "networks": entries,
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    subprocess.run([args.ort_python, os.path.join(HERE, "check_networks.py"), "--write", manifest_path], check=True)


if __name__ == "__main__":
    main()
