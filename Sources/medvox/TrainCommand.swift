import Foundation
import MedVoxCore
import MedVoxTraining

/// `medvox train`: trains a segmentation or classification model and writes NAME.safetensors + NAME.json.
struct TrainCommand: Command {
    static let spec = CommandSpec(
        """
        train: train a segmentation or classification model (writes NAME.safetensors and the card NAME.json)
          --task segment|classify   what the model does (required)
          --data DIR|CSV            segment: folder with imagesTr/ and labelsTr/; classify: CSV of path,label
          --pairs CSV               segment: CSV of image,label paths instead of --data
          --synth-from LABELS       segment from label maps alone (file or folder), SynthSeg-style synthesis
          --artefacts-from IMAGE    classify scan quality: clean/motion/ghosting/spike/noise/bias synthesised on IMAGE
          --head-from LABELS        with --artefacts-from: brain labels (0-3) on IMAGE's grid; artefacts on whole heads synthesised around them
          --head-pool N             head label maps drawn for training with --head-from (default 24)
          --output STEM             output path without extension, e.g. Models/brain-tissue (required; -o)
          --labels NAMES            comma-separated label or class names (default: label0,… or the CSV's classes)
          --classes N               number of labels (segment; default: count of --labels)
          --dims 2|3                2D (slice by slice) or 3D network (default 3)
          --spacing MM              voxel spacing the network sees, e.g. 2 or 2,2,2 (default 2)
          --patch I,J,K             patch size (2D: I,J) (default 64,64,64 / 96,96)
          --shape I,J,K             classify: fixed input shape after resampling (default 48,64,56)
          --features LIST           U-Net features per level or ResNet widths (default 8,16,32,64)
          --batch N                 batch size (default 2)
          --steps N                 training steps (iterations)
          --epochs N                epochs of --steps-per-epoch steps (alternative to --steps)
          --steps-per-epoch N       steps per epoch and validation interval (default 50)
          --lr X                    learning rate (default 1e-3)
          --weight-decay X          weight decay (default 1e-4)
          --optimizer adamw|sgd     optimizer (default adamw)
          --schedule poly|cosine|constant  learning-rate schedule (default poly)
          --warmup N                linear warm-up steps (default 0)
          --patience N              early stopping after N validations without improvement
          --augment NAME|LIST|FILE  strong (default for segment), qc, none, a list like flip,affine@0.5, or a JSON file
          --held-out-augment NAME|LIST|FILE  recipe of held-out variants (default held-out)
          --val-fraction X          fraction of cases held out for validation (default 0.2)
          --val-variants N          held-out augmented variants per case for validation (default 2)
          --eval-variants N         held-out augmented variants per case for the card's evaluation (default 4)
          --seed N                  seed of the split, sampling, augmentation and initialisation (default 0)
          --resume                  continue from STEM.ckpt after an interruption
          --stop-at N               end training at step N (the schedule still follows --steps); validate, evaluate, write
          --search random|grid      hyper-parameter search before training
          --trials N                random search trials (default 4)
          --search-steps N          steps per search trial (default 50)
          --search-lr LIST          learning rates (grid) or range (random) (default 3e-4,3e-3)
          --search-wd LIST          weight decays (default 1e-5,1e-3)
          --search-width LIST       first-level widths (default 8,16)
          --search-depth LIST       levels (default 3,4)
          --data-note TEXT          provenance of the data, recorded in the card
          --contrast TEXT           expected contrast recorded in the card, e.g. T1w

        Writes STEM.safetensors and STEM.json (the model card: architecture, labels, preprocessing, the exact command,
        data provenance, recipe, evaluation on held-out data, sha256), plus STEM.ckpt (resumable checkpoint),
        STEM.log.csv (step,lr,loss,val_score,seconds) and, with --search, STEM.search.csv.
        Example: medvox train --task segment --data Data/task01 --labels background,tumour -o Models/tumour --steps 2000
        """)

    let request: TrainingRequest
    /// The training data (files and folders), never to be written over.
    let inputs: [String]

    init(_ a: ParsedArguments) throws {
        (request, inputs) = try TrainingCommandLine.request(a, words: Array(CommandLine.arguments.dropFirst()))
    }

    func run() throws {
        AtomicFile.protect(inputs)
        let card = try TrainingRun.run(request) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        print("wrote \(request.outputStem).json and \(card.weights.file)")
        for (k, v) in (card.evaluation?.metrics ?? [:]).sorted(by: { $0.key < $1.key }) { print("  \(k): \(String(format: "%.4f", v))") }
        if let r = card.training?.recipe {
            print("  steps/s: \(r["stepsPerSecond"] ?? "?"), peak memory: \(r["peakMemoryMB"] ?? "?") MB")
        }
    }
}
