#!/usr/bin/env python3
"""Wraps each fuzz-found decoder input (<name>.bin: 4 descriptor bytes + one frame, see
Fuzz/Sources/FuzzSupport/FuzzFrame.swift) into a DICOM file (<name>.dcm) with the transfer syntax
of its decoder, using the codecs fixture of that syntax as the template. Needs pydicom."""
import os
import pydicom
from pydicom.encaps import encapsulate

here = os.path.dirname(os.path.abspath(__file__))
templates = {"jpeg2000-htj2k": "htj2k_lossless_rgb8.dcm", "jpeg2000-siz": "j2k_lossless_mono16.dcm"}
for name in sorted(os.listdir(here)):
    if not name.endswith(".bin"):
        continue
    template = next(t for prefix, t in templates.items() if name.startswith(prefix))
    d = pydicom.dcmread(os.path.join(here, "..", "dicom", "codecs", template))
    b = open(os.path.join(here, name), "rb").read()
    d.Rows, d.Columns = b[0] + 1, b[1] + 1
    d.PixelData = encapsulate([b[4:]])
    d.save_as(os.path.join(here, name[:-4] + ".dcm"))
