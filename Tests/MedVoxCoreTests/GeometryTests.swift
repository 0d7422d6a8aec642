import XCTest

@testable import MedVoxCore

final class GeometryTests: XCTestCase {
    func testOrientationCodesOfAxisAlignedAffines() {
        XCTAssertEqual(Orientation(affine: .identity).codes, "RAS")
        XCTAssertEqual(Orientation(affine: .scaling([-1, 1, 1])).codes, "LAS")
        let lps = Affine(rows: [[0, 0, -2, 0], [-1, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 0, 1]])
        XCTAssertEqual(Orientation(affine: lps).codes, "PSL")
    }

    func testOrientationIgnoresSmallRotationAndShear() {
        // 20° rotation about z plus a shear: still closest to RAS.
        let c = cos(20.0 * .pi / 180), s = sin(20.0 * .pi / 180)
        let a = Affine(rows: [[c, -s, 0.1, 3], [s, c, 0, 4], [0, 0, 1, 5], [0, 0, 0, 1]])
        XCTAssertEqual(Orientation(affine: a).codes, "RAS")
    }

    func testOrientationParsing() {
        XCTAssertEqual(Orientation(codes: "lps")?.codes, "LPS")
        XCTAssertNil(Orientation(codes: "RRS"))
        XCTAssertNil(Orientation(codes: "RA"))
    }

    func testAffineInverse() {
        let a = Affine(rows: [[0, 0, -2, 10], [-1, 0, 0, 20], [0, 1.5, 0.2, -5], [0, 0, 0, 1]])
        let product = a * a.inverse!
        XCTAssertTrue(product.isClose(to: .identity, tolerance: 1e-12))
        XCTAssertNil(Affine.scaling([1, 0, 1]).inverse)
    }

    func testReorientKeepsWorldPositionsAndRoundTrips() {
        let a = Affine(rows: [[0, 0, -2, 10], [-1, 0, 0, 20], [0, 1.5, 0, -5], [0, 0, 0, 1]])
        var v = Volume(dims: [4, 3, 5, 2], spacing: [1, 1.5, 2], affine: a)
        for i in 0..<v.count { v.voxels[i] = Float(i) }
        let r = v.reoriented(to: .ras)
        XCTAssertEqual(r.orientation.codes, "RAS")
        XCTAssertEqual(r.dims, [5, 4, 3, 2])
        XCTAssertEqual(r.spacing, [2, 1, 1.5])
        // Every voxel keeps its value at the same world position.
        let inv = r.affine.inverse!
        for t in 0..<2 {
            for k in 0..<5 {
                for j in 0..<3 {
                    for i in 0..<4 {
                        let w = v.affine.apply([Double(i), Double(j), Double(k)])
                        let n = inv.apply(w).map { Int($0.rounded()) }
                        XCTAssertEqual(r[n[0], n[1], n[2], t], v[i, j, k, t])
                    }
                }
            }
        }
        let back = r.reoriented(to: v.orientation)
        XCTAssertEqual(back.dims, v.dims)
        XCTAssertEqual(back.voxels, v.voxels)
        XCTAssertTrue(back.affine.isClose(to: v.affine, tolerance: 1e-12))
    }

    func testChunkRangesCoverEverythingOnce() {
        for count in [0, 1, 7, 100] {
            for parts in 1...5 {
                let ranges = (0..<parts).map { chunkRange(count, part: $0, of: parts) }
                XCTAssertEqual(ranges.map(\.count).reduce(0, +), count)
                for p in 1..<parts { XCTAssertEqual(ranges[p - 1].upperBound, ranges[p].lowerBound) }
            }
        }
    }

    func testAtomicWriteLeavesNothingOnFailure() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medvox-atomic-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.bin").path
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: path) { sink in
            try sink.write([1, 2, 3])
            throw Boom()
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        try AtomicFile.write([4, 5], to: path)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), [4, 5])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.bin"])
    }

    /// Temporaries of dead writers on this host and old ones from anywhere go; a live writer's,
    /// a fresh one from another host, and ordinary hidden files stay.
    func testStaleTemporariesOfKilledWritersAreRemoved() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("medvox-stale-\(getpid())").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let tag = AtomicFile.hostTag
        let dead = ".a.csv.tmp-\(tag)-\(child.processIdentifier)-Ab12Cd"
        let live = ".b.csv.tmp-\(tag)-\(getpid())-Ab12Cd"
        let elsewhere = ".c.csv.tmp-0badf00d-\(child.processIdentifier)-Ab12Cd"
        let old = ".d.csv.tmp-0badf00d-1-Ab12Cd"
        let legacyOld = ".e.csv.tmp-Ab12Cd"
        let hidden = ".failed"
        for n in [dead, live, elsewhere, old, legacyOld, hidden] { fm.createFile(atPath: "\(dir)/\(n)", contents: Data([1])) }
        let twoHoursAgo = Date(timeIntervalSinceNow: -7200)
        for n in [old, legacyOld] { try fm.setAttributes([.modificationDate: twoHoursAgo], ofItemAtPath: "\(dir)/\(n)") }
        XCTAssertEqual(Set(AtomicFile.removeStaleTemporaries(in: dir)), [dead, old, legacyOld])
        XCTAssertEqual(Set(try fm.contentsOfDirectory(atPath: dir)), [live, elsewhere, hidden])
    }
}

final class RandomTests: XCTestCase {
    func testSeedFixesTheSequenceAndStreamsDiffer() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var c = a.split(stream: 1), d = a.split(stream: 2)
        XCTAssertNotEqual(c.next(), d.next())
    }

    func testNormalHasUnitVarianceAndUniformIsInRange() {
        var g = SeededGenerator(seed: 1)
        let n = 20000
        let xs = (0..<n).map { _ in g.normal() }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        XCTAssertTrue((0..<1000).allSatisfy { _ in (0..<1).contains(g.unit()) })
    }
}

final class SHA256Tests: XCTestCase {
    func testKnownVectorsAndChunking() {
        XCTAssertEqual(SHA256.hash([]).hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        XCTAssertEqual(SHA256.hash(long).hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Same digest whatever the update boundaries.
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = SHA256()
        for chunk in stride(from: 0, to: 1000, by: 37) { h.update(Array(data[chunk..<min(chunk + 37, 1000)])) }
        XCTAssertEqual(h.finalize(), SHA256.hash(data))
    }
}
