import Foundation
import PackagePlugin

/// Builds the dashboard (`static/`) and `openapi.json` into the target as Swift source
/// (`EmbeddedFiles`), so the binary needs no files beside it. A resource bundle would not do: on Linux
/// `Bundle.module` looks for a `shm-admin_ShmAdmin.resources` directory next to the executable.
@main
struct EmbedDashboard: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let staticDirectory = root.appending(path: "static")
        let names = try FileManager.default.subpathsOfDirectory(atPath: staticDirectory.path)
            .filter { name in
                var isDirectory: ObjCBool = false
                return !name.split(separator: "/").contains { $0.hasPrefix(".") }
                    && FileManager.default.fileExists(
                        atPath: staticDirectory.appending(path: name).path, isDirectory: &isDirectory)
                    && !isDirectory.boolValue
            }
            .sorted()
        let inputs = [root.appending(path: "openapi.json")] + names.map { staticDirectory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding static/ and openapi.json into \(target.name)",
                executable: try context.tool(named: "EmbedFiles").url,
                arguments: [output.path, root.path, "openapi.json"] + names.map { "static/" + $0 },
                inputFiles: inputs,
                outputFiles: [output])
        ]
    }
}
