import SectionRegistry

extension DumpFormat {
    /// The bytes a dump in this format reads (the API's `GET …/data` and `shm-admin dump`): `length`
    /// bytes at `offset`, by default to the end of the commit (or of the view); more than the format's
    /// limit is refused (422) before anything is read.
    func read(from registry: SectionRegistry, _ name: SectionName, view: String?, offset: Int64, length: Int64?)
        throws -> [UInt8]
    {
        let available =
            try view.map { try registry.usableLength(named: name, view: $0) } ?? registry.section(named: name).commit
        let count = length ?? max(0, available - offset)
        // Bytes read through a view are copied out of mapped memory, so even raw ones are capped.
        let limit = self.limit ?? DumpFormat.viewRawLimit
        if count > limit {
            let advice =
                view == nil
                ? "use format=raw" : "read the section's own data endpoint with format=raw, which streams any size"
            throw APIFailure(
                Problems.make(
                    422, "invalid-request", "Invalid request",
                    "\(rawValue) dumps are limited to \(ByteSize.describe(limit)) a request; \(advice)",
                    [("section", .string(name.value))]))
        }
        if let view { return try registry.readView(named: name, id: view, offset: offset, length: count) }
        return try registry.read(named: name, offset: offset, length: count)
    }
}
