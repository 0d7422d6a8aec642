#!/usr/bin/env python3
"""Oracle for MedVox's DICOM Segmentation writer (called by Tests/MedVoxIOTests/DICOMSegTests.swift).

  dicomseg_oracle.py SEG.dcm SOURCE_FOLDER
      Reads SEG.dcm with pydicom and highdicom and the source series with pydicom; prints JSON:
        segments: [{number, label, algorithm}]
        frames: number of frames
        pixels: {SOPInstanceUID: {segment number: [flat indices row*cols+col of set pixels]}}
            (highdicom's get_pixels_by_source_instance, i.e. each segment mapped back onto
            the source slice it references)
        position_mismatch: frames whose PlanePosition differs from the referenced source image's
            ImagePositionPatient (by more than 1e-3 mm) or whose orientation differs
        study_matches, frame_of_reference_matches, referenced_series: checks on the references
        patient: the PatientName and PatientID strings
  dicomseg_oracle.py SEG.dcm SOURCE_FOLDER MASK.nii.gz CARD.json
      also checks the SEG against the NIfTI mask independently of MedVox's reader: each source
      image (pydicom) is matched to the mask slice k whose world position (nibabel affine, RAS
      turned to LPS) equals its ImagePositionPatient, and each segment's pixels there (highdicom)
      must equal mask[:, :, k].T == the card's value for the segment's label. Adds
      nifti_mismatch: ["UID segment", ...] and matched_slices.
"""
import json
import os
import sys

import highdicom as hd
import numpy as np
import pydicom


def main(seg_path, folder):
    raw = pydicom.dcmread(seg_path)
    seg = hd.seg.segread(seg_path)
    # Source images: key "UID" for single-frame files, "UID#F" (1-based) for frames of enhanced
    # multi-frame files, with their ImagePositionPatient / ImageOrientationPatient.
    sources = {}
    first = None
    for name in sorted(os.listdir(folder)):
        ds = pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)
        first = first or ds
        if "PerFrameFunctionalGroupsSequence" in ds:
            shared = ds.SharedFunctionalGroupsSequence[0]
            for f, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):
                pp = fg.PlanePositionSequence[0] if "PlanePositionSequence" in fg else shared.PlanePositionSequence[0]
                po = fg.PlaneOrientationSequence[0] if "PlaneOrientationSequence" in fg else shared.PlaneOrientationSequence[0]
                sources[f"{ds.SOPInstanceUID}#{f + 1}"] = (pp.ImagePositionPatient, po.ImageOrientationPatient)
        else:
            sources[ds.SOPInstanceUID] = (ds.ImagePositionPatient, ds.ImageOrientationPatient)

    def key(fg):
        ref = fg.DerivationImageSequence[0].SourceImageSequence[0]
        uid = ref.ReferencedSOPInstanceUID
        return f"{uid}#{int(ref.ReferencedFrameNumber)}" if "ReferencedFrameNumber" in ref else uid

    iop = [float(v) for v in raw.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient]
    mismatch = []
    for n, fg in enumerate(raw.PerFrameFunctionalGroupsSequence):
        src = sources.get(key(fg))
        pos = [float(v) for v in fg.PlanePositionSequence[0].ImagePositionPatient]
        if src is None or np.abs(np.array(pos) - np.array([float(v) for v in src[0]])).max() > 1e-3 \
                or np.abs(np.array(iop) - np.array([float(v) for v in src[1]])).max() > 1e-4:
            mismatch.append(n)
    numbers = [int(s.SegmentNumber) for s in raw.SegmentSequence]
    referenced = sorted({key(fg) for fg in raw.PerFrameFunctionalGroupsSequence})
    pixels = {}
    for k in referenced:
        if "#" in k:
            uid, f = k.split("#")
            arr = seg.get_pixels_by_source_frame(uid, [int(f)], segment_numbers=numbers)
        else:
            arr = seg.get_pixels_by_source_instance([k], segment_numbers=numbers)  # (1, rows, cols, segments)
        pixels[k] = {str(num): np.flatnonzero(arr[0, :, :, i]).tolist() for i, num in enumerate(numbers)}
    out = {
        "segments": [{"number": int(s.SegmentNumber), "label": str(s.SegmentLabel), "algorithm": str(s.SegmentAlgorithmName)}
                     for s in raw.SegmentSequence],
        "frames": int(raw.NumberOfFrames),
        "pixels": pixels,
        "position_mismatch": mismatch,
        "study_matches": raw.StudyInstanceUID == first.StudyInstanceUID,
        "frame_of_reference_matches": raw.FrameOfReferenceUID == first.FrameOfReferenceUID,
        "referenced_series": [str(s.SeriesInstanceUID) for s in raw.ReferencedSeriesSequence],
        "source_series": str(first.SeriesInstanceUID),
        "patient": [str(raw.PatientName), str(raw.PatientID)],
        "source_patient": [str(first.get("PatientName", "")), str(first.get("PatientID", ""))],
    }
    if len(sys.argv) > 4:
        import nibabel as nib
        img = nib.load(sys.argv[3])
        data = np.asarray(img.dataobj).astype(np.int64)
        card = json.load(open(sys.argv[4]))
        values = {l["name"]: int(l["value"]) for l in card["labels"]}
        lps = np.diag([-1.0, -1.0, 1.0]) @ img.affine[:3, :]
        mismatch, matched = [], 0
        for uid, src in sources.items():
            ipp = np.array([float(v) for v in src[0]])
            ks = [k for k in range(data.shape[2]) if np.abs(lps @ [0, 0, k, 1] - ipp).max() < 1e-3]
            if len(ks) != 1:
                mismatch.append(f"{uid} no slice")
                continue
            matched += 1
            k = ks[0]
            for s in raw.SegmentSequence:
                expected = np.flatnonzero(data[:, :, k].T == values[str(s.SegmentLabel)]).tolist()
                got = pixels.get(uid, {}).get(str(int(s.SegmentNumber)), [])
                if expected != got:
                    mismatch.append(f"{uid} {int(s.SegmentNumber)}")
        out["nifti_mismatch"] = mismatch
        out["matched_slices"] = matched
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
