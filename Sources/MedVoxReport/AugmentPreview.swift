import MedVoxCore
import MedVoxIO
import MedVoxTransforms

/// The picture of `medvox augment --preview`: what a pipeline's random draws look like.
public enum AugmentPreview {
    /// A grid, three columns wide, of middle axial slices: the input, then `count` draws of
    /// `pipeline` with seeds `seed`, `seed + 1`, … (the first draw is `first`, already made).
    /// One intensity window (automatic, from the input) for every tile; the first label map is
    /// drawn over each at 30% opacity.
    public static func grid(_ sample: Sample, pipeline: AugmentPipeline, seed: UInt64, count: Int, first: Sample) throws -> RGBImage {
        let window = DisplayWindow.automatic(sample.image.voxels)
        var tiles = [try SliceRenderer(volume: sample.image, window: window, overlay: sample.labels.first, overlayAlpha: 0.3).slice(.axial)]
        for d in 0..<count {
            let s = d == 0 ? first : try pipeline.apply(to: sample, seed: seed &+ UInt64(d)).0
            tiles.append(try SliceRenderer(volume: s.image, window: window, overlay: s.labels.first, overlayAlpha: 0.3).slice(.axial))
        }
        return Figure.grid(tiles, columns: 3)
    }
}
