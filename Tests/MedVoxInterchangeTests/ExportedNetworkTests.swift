import Foundation
import MedVoxInterchange
import MedVoxNN
import MedVoxTensor
import MedVoxTestSupport
import XCTest

/// The network families users bring, as `torch.onnx.export` wrote them (Fixtures/onnx/networks:
/// MONAI BasicUNet, UNet with residual units and PReLU, SegResNet, DynUNet, AttentionUnet, UNETR,
/// a 2D UNet, ResNet, and hand-written PyTorch networks; opsets 13 to 21, static and dynamic axes,
/// external weights, the dynamo exporter): each imported and run by `GraphExecutor` on the
/// manifest's seeded input, every output within the manifest's tolerance (1e-4) of its scale
/// against onnxruntime's stored output. `ONNXNetworkFixtureTests` checks that the stored outputs
/// are still onnxruntime's.
final class ExportedNetworkTests: XCTestCase {
    func testEveryExportedNetworkMatchesOnnxruntime() throws {
        let networks = try ONNXNetworkFixtures.all()
        let families = Set(networks.map(\.family))
        for family in ["monai.BasicUNet", "monai.SegResNet", "monai.DynUNet", "monai.AttentionUnet", "monai.UNETR", "monai.ResNet"] {
            XCTAssertTrue(families.contains(family), "no \(family) among the fixtures")
        }
        var compared = 0
        for net in networks {
            do {
                let g = try ImportedGraph.load(path: net.path)
                let exec = try GraphExecutor(graph: g.graph, weights: g.weights)
                let x = try net.input()
                let ys = try exec.run([Tensor(shape: x.shape, storage: x.values)])
                let expected = try net.expectedOutputs()
                XCTAssertEqual(ys.count, expected.count, net.name)
                for (k, (y, e)) in zip(ys, expected).enumerated() {
                    XCTAssertEqual(y.shape, e.shape, "\(net.name) output \(k)")
                    guard y.shape == e.shape else { continue }
                    let atol = net.tolerance * net.outputs[k].scale
                    if let f = closenessFailure(y.storage, e.values, rtol: 0, atol: atol) {
                        XCTFail("\(net.name) (\(net.family), opset \(net.opset)) output \(k): \(f)")
                    }
                    compared += 1
                }
            } catch {
                XCTFail("\(net.name) (\(net.family)): \(error)")
            }
        }
        XCTAssertGreaterThanOrEqual(compared, networks.count, "outputs compared")
    }
}
