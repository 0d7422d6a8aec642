import Foundation
import MedVoxTestSupport
import XCTest

/// docs/models-and-training.md's "Reproducing the shipped models" block holds, line for line, the
/// exact command each shipped card (Models/*.json, `training.command`) records, so the commands
/// users copy are the ones that made the weights, with the cards' step counts.
final class ReproduceCommandsTests: XCTestCase {
    func testTheDocsHoldEveryShippedCardsCommand() throws {
        let doc = try String(contentsOfFile: repositoryRoot + "/docs/models-and-training.md", encoding: .utf8)
        let section = try XCTUnwrap(doc.components(separatedBy: "## Reproducing the shipped models").dropFirst().first, "no reproducing section")
        let fenced = section.components(separatedBy: "```")
        XCTAssertGreaterThanOrEqual(fenced.count, 3, "no code block in the reproducing section")
        let lines = Set(fenced[1].split(separator: "\n").map(String.init))
        let cards = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/Models").filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(cards, ["brain-qc.json", "brain-tissue-2d.json", "brain-tissue.json"])
        for card in cards {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/Models/" + card)))
            let training = try XCTUnwrap((json as? [String: Any])?["training"] as? [String: Any], card)
            let command = try XCTUnwrap(training["command"] as? String, card)
            XCTAssertTrue(command.hasPrefix("medvox train "), command)
            XCTAssertTrue(lines.contains(command), "\(card)'s command is not a line of the docs' block:\n\(command)")
        }
    }
}
