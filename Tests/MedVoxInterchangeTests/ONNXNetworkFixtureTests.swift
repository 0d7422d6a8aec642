import Foundation
import MedVoxInterchange
import MedVoxTestSupport
import XCTest

/// The committed exported-network fixtures (Fixtures/onnx/networks): onnxruntime still gives the
/// stored outputs (Fixtures/onnx/check_networks.py through `$MEDVOX_PYTHON`, so a stale fixture
/// fails here), the manifest lists what the interpreter's tests iterate over, and MedVox's
/// reader decodes every file (external weights included).
final class ONNXNetworkFixtureTests: XCTestCase {
    func testStoredOutputsMatchOnnxruntime() throws {
        let r = try Python.process([repositoryRoot + "/Fixtures/onnx/check_networks.py"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.hasSuffix(": ok") }.count, try ONNXNetworkFixtures.all().count, r.output)
    }

    func testManifestCoversTheFamiliesOpsetsAndLayouts() throws {
        let all = try ONNXNetworkFixtures.all()
        let families = Set(all.map(\.family))
        for f in ["monai.BasicUNet", "monai.UNet(residual, PReLU)", "monai.SegResNet", "monai.DynUNet", "monai.AttentionUnet",
                  "monai.UNETR", "monai.UNet(2D)", "monai.ResNet", "torch.PlainUNet3D", "torch.Mixed2D"] {
            XCTAssertTrue(families.contains(f), f)
        }
        XCTAssertTrue(Set(all.map(\.opset)).isSuperset(of: [13, 17, 21]))
        XCTAssertTrue(all.contains { !$0.dynamicAxes.isEmpty })
        XCTAssertTrue(all.contains { $0.dynamicAxes.isEmpty })
        XCTAssertTrue(all.contains { !$0.externalData.isEmpty })
        var total = 0
        for net in all {
            let size = try FileManager.default.attributesOfItem(atPath: net.path)[.size] as! Int
            let external = try net.externalData.reduce(0) {
                $0 + (try FileManager.default.attributesOfItem(atPath: ONNXNetworkFixtures.folder + "/" + $1)[.size] as! Int)
            }
            XCTAssertLessThan(size + external, 1_250_000, net.name)
            total += size + external
            let x = try net.input()
            XCTAssertEqual(x.shape, net.inputShape, net.name)
            XCTAssertEqual(x.values.count, net.inputShape.reduce(1, *), net.name)
            for (o, y) in zip(net.outputs, try net.expectedOutputs()) {
                XCTAssertEqual(y.shape, o.shape, net.name)
                XCTAssertGreaterThan(o.scale, 0, net.name)
                XCTAssertTrue(y.values.allSatisfy(\.isFinite), net.name)
            }
        }
        XCTAssertLessThan(total, 8_000_000)
    }

    func testReaderDecodesEveryExport() throws {
        for net in try ONNXNetworkFixtures.all() {
            let m = try ONNXModel.load(path: net.path)
            XCTAssertEqual(m.defaultOpset, Int64(net.opset), net.name)
            XCTAssertEqual(m.graph.runtimeInputs.map(\.name), [net.inputName], net.name)
            XCTAssertEqual(m.graph.outputs.map(\.name), net.outputs.map(\.name), net.name)
            XCTAssertEqual(m.graph.initializers.contains { $0.isExternal }, !net.externalData.isEmpty, net.name)
            var weights = 0
            for t in m.graph.initializers where t.dataType == .float {
                let v = try t.floats()
                XCTAssertEqual(v.count, try t.elementCount(), "\(net.name): \(t.name)")
                weights += v.count
            }
            XCTAssertGreaterThan(weights, 0, net.name)
        }
    }
}
