import MedVoxCore
import MedVoxIO

/// A three-plane preview (axial, coronal, sagittal through the centre) of `image` with `mask`
/// drawn over it in label colours, radiological convention, for `--preview`.
public func segmentationPreview(image: Volume, mask: Volume) throws -> RasterImage {
    try SliceRenderer(volume: image.frames > 1 ? image.frame(0) : image, overlay: mask).threePlane().raster
}
