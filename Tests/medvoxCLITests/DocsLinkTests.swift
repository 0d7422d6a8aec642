import Foundation
import MedVoxTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Every path the documentation names exists: README.md, docs/*.md, Fuzz/README.md and the
/// READMEs under Fixtures/ and Tools/ are scanned for relative markdown links (and the headings
/// their #anchors name) and for repository paths in code (inline spans and fenced blocks), and
/// the test lists each one that is missing.
final class DocsLinkTests: XCTestCase {
    func testEveryPathTheDocsNameExists() throws {
        let documents = DocPaths.documents(root: repositoryRoot)
        XCTAssertTrue(documents.contains("README.md"), "\(documents)")
        XCTAssertTrue(documents.contains { $0.hasPrefix("docs/") }, "\(documents)")
        var missing = [String]()
        for doc in documents {
            let text = try String(contentsOfFile: repositoryRoot + "/" + doc, encoding: .utf8)
            missing += DocPaths.missing(in: text, document: doc, root: repositoryRoot)
        }
        XCTAssertEqual(missing, [], "paths named by the docs that do not exist:\n" + missing.joined(separator: "\n"))
    }

    /// The checker itself: it must report broken links and paths, and accept the good ones.
    func testCheckerFindsBrokenLinksAndPaths() {
        let text = """
            See [the CLI](cli.md), [nothing](nope.md#part), [web](https://example.org) and [here](#top).
            [Exit status](cli.md#exit-status-and-errors), [no such part](cli.md#no-such-part).
            `Tests/medvoxCLITests/DocsLinkTests.swift`, `Tests/NoSuchTests/X.swift`, `Models/<name>.json`,
            `Nowhere/<name>.json` is not a root, `Sources/MedVoxCore/*.swift`, `Sources/MedVoxCore/*.nothing`,
            `architecture.md` and `gone.py`; `run Tools/setup.sh now`.
            ```
            bash Tools/setup.sh && Tools/missing.sh -o Models/brain-tissue
            ```
            ## Top
            """
        let missing = DocPaths.missing(in: text, document: "docs/example.md", root: repositoryRoot)
        XCTAssertEqual(
            missing,
            [
                "docs/example.md:1: link nope.md#part",
                "docs/example.md:2: anchor cli.md#no-such-part",
                "docs/example.md:3: Tests/NoSuchTests/X.swift",
                "docs/example.md:4: Sources/MedVoxCore/*.nothing",
                "docs/example.md:5: gone.py",
                "docs/example.md:7: Tools/missing.sh",
            ])
    }
}

/// Finds the paths a markdown document names and checks them against the repository.
enum DocPaths {
    /// Top-level folders and files of the repository; a path starting with one is resolved from
    /// the root wherever it appears.
    static let roots = ["Sources/", "Tests/", "Tools/", "Fixtures/", "Models/", "docs/", "Fuzz/", ".ci/"]
    static let rootFiles: Set = ["Package.swift", "README.md", ".gitignore", ".swift-format"]
    /// Folders that commands make (and .gitignore lists): documents may name them before they exist.
    static let generated = ["Fuzz/corpus", "Fuzz/crashes", ".build", ".build-fuzz", ".venv", "Data"]
    /// Extensions of files a bare name (no folder) is taken to be a repository file by.
    static let sourceExtensions: Set = ["swift", "py", "sh", "c", "h", "md", "sbatch", "yaml"]

    /// README.md, docs/*.md, Fuzz/README.md and every README* under Fixtures/ and Tools/, relative
    /// to `root`, sorted.
    static func documents(root: String) -> [String] {
        let fm = FileManager.default
        var docs = ["README.md", "Fuzz/README.md"].filter { fm.fileExists(atPath: root + "/" + $0) }
        if let names = try? fm.contentsOfDirectory(atPath: root + "/docs") {
            docs += names.filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        }
        for folder in ["Fixtures", "Tools"] {
            guard let e = fm.enumerator(atPath: root + "/" + folder) else { continue }
            while let p = e.nextObject() as? String {
                if (p as NSString).lastPathComponent.hasPrefix("README") { docs.append(folder + "/" + p) }
            }
        }
        return docs.sorted()
    }

    /// Each missing path of `text` (the document at `document`, relative to `root`) as
    /// "document:line: path" (links as "document:line: link target", a heading a link names that
    /// the target lacks as "document:line: anchor target").
    static func missing(in text: String, document: String, root: String) -> [String] {
        let folder = (document as NSString).deletingLastPathComponent
        let base = folder.isEmpty ? root : root + "/" + folder
        var out = [String]()
        let own = anchors(in: text)
        var fenced = false
        for (n, line) in text.components(separatedBy: "\n").enumerated() {
            let here = "\(document):\(n + 1): "
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                fenced.toggle()
                continue
            }
            if fenced {
                for t in tokens(line) where isRooted(t) && hasExtension(t) && !exists(t, from: root) { out.append(here + t) }
                continue
            }
            for target in links(line) {
                let parts = target.components(separatedBy: "#")
                let file = parts[0]
                if !file.isEmpty && !exists(file, from: base) {
                    out.append(here + "link " + target)
                } else if parts.count > 1, file.isEmpty || file.hasSuffix(".md") {
                    let headings = file.isEmpty ? own : anchors(in: (try? String(contentsOfFile: base + "/" + file, encoding: .utf8)) ?? "")
                    if !headings.contains(parts[1]) { out.append(here + "anchor " + target) }
                }
            }
            for span in codeSpans(line) {
                let words = tokens(span)
                if words.count == 1, let t = words.first {
                    if let ok = check(single: t, root: root, base: base), !ok { out.append(here + t) }
                } else {
                    for t in words where isRooted(t) && hasExtension(t) && !exists(t, from: root) { out.append(here + t) }
                }
            }
        }
        return out
    }

    /// A one-word code span: nil when it does not look like a repository path, else whether it exists.
    static func check(single t: String, root: String, base: String) -> Bool? {
        if t.contains("://") || t.hasPrefix("$") { return nil }
        if isRooted(t) { return exists(t, from: root) }
        if t.hasPrefix("./") || t.hasPrefix("../") { return exists(t, from: base) }
        if t.contains("/") {
            // Relative to the document's folder only when its first component is there.
            let first = t.components(separatedBy: "/")[0]
            return FileManager.default.fileExists(atPath: base + "/" + first) ? exists(t, from: base) : nil
        }
        guard let ext = t.split(separator: ".").last.map(String.init), t.contains("."), sourceExtensions.contains(ext),
            t.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) })
        else { return nil }
        return FileManager.default.fileExists(atPath: base + "/" + t) || FileManager.default.fileExists(atPath: root + "/" + t)
            || anywhere(t, root: root)
    }

    static func isRooted(_ t: String) -> Bool { roots.contains { t.hasPrefix($0) } || rootFiles.contains(t) }

    static func hasExtension(_ t: String) -> Bool {
        let last = (t as NSString).lastPathComponent
        return last.contains(".") && !last.hasPrefix(".") && !last.hasSuffix(".")
    }

    /// Whether `path` (relative to `base`) exists. A component with `<` is a placeholder: the path
    /// is checked up to the component before it; `*` is a glob that must match something.
    static func exists(_ path: String, from base: String) -> Bool {
        var parts = [String]()
        for c in path.split(separator: "/", omittingEmptySubsequences: true).map(String.init) {
            if c.contains("<") { break }
            parts.append(c)
        }
        let relative = parts.joined(separator: "/")
        if generated.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) { return true }
        let full = relative.isEmpty ? base : base + "/" + relative
        if full.contains("*") || full.contains("?") {
            var g = glob_t()
            defer { globfree(&g) }
            return glob(full, 0, nil, &g) == 0 && g.gl_pathc > 0
        }
        return FileManager.default.fileExists(atPath: full)
    }

    /// A bare file name anywhere in the repository's committed folders.
    static func anywhere(_ name: String, root: String) -> Bool {
        for folder in roots {
            guard let e = FileManager.default.enumerator(atPath: root + "/" + folder) else { continue }
            while let p = e.nextObject() as? String {
                if (p as NSString).lastPathComponent == name { return true }
            }
        }
        return false
    }

    /// Targets of `[text](target)` links that are relative paths or #anchors (no scheme).
    static func links(_ line: String) -> [String] {
        matches(of: #"\]\(([^)\s]+)(?:\s+"[^"]*")?\)"#, in: line).filter { t in
            t.range(of: #"^[A-Za-z][A-Za-z0-9+.-]*:"#, options: .regularExpression) == nil
        }
    }

    /// The anchors GitHub gives the headings of a markdown text: lower case, punctuation other
    /// than '-' and '_' dropped, spaces as '-', repeats numbered '-1', '-2' …
    static func anchors(in text: String) -> Set<String> {
        var out = Set<String>(), seen = [String: Int]()
        var fenced = false
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") { fenced.toggle() }
            guard !fenced, let heading = matches(of: #"^#{1,6}\s+(.*)$"#, in: line).first else { continue }
            let slug = heading.trimmingCharacters(in: .whitespaces).lowercased()
                .replacingOccurrences(of: #"[^\w\- ]"#, with: "", options: .regularExpression)
                .replacingOccurrences(of: " ", with: "-")
            if let n = seen[slug] {
                seen[slug] = n + 1
                out.insert("\(slug)-\(n + 1)")
            } else {
                seen[slug] = 0
                out.insert(slug)
            }
        }
        return out
    }

    /// The contents of each `code span` of a line.
    static func codeSpans(_ line: String) -> [String] { matches(of: "`([^`]+)`", in: line) }

    /// Words of a command or span, without surrounding quotes and punctuation.
    static func tokens(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" }).map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"'(),;:[]|&"))
        }.filter { !$0.isEmpty }
    }

    static func matches(of pattern: String, in line: String) -> [String] {
        let re = try! NSRegularExpression(pattern: pattern)
        let ns = line as NSString
        return re.matches(in: line, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }
}
