import HTTPServer
import JSON
import SectionRegistry

/// Forwards the registry's change feed to the Server-Sent Events broadcaster.
enum EventBridge {
    static func connect(_ registry: SectionRegistry, to broadcaster: EventBroadcaster) -> UInt64 {
        registry.changes.subscribe { event in
            // Every create, write, grow and delete publishes; with no stream open, nothing is encoded.
            guard broadcaster.hasSubscribers else { return }
            var members: [(String, JSONValue)] = [
                ("id", .int(Int64(event.id))), ("type", .string(event.kind.rawValue)),
                ("section", event.section.map { .string($0) } ?? .null), ("source", .string(event.source.rawValue)),
                ("time", .string(Render.timestamp(event.time))),
            ]
            for (key, value) in event.details.sorted(by: { $0.key < $1.key }) {
                members.append((key, Int64(value).map { .int($0) } ?? .string(value)))
            }
            let data = String(decoding: JSONValue.object(members).serialized(), as: UTF8.self)
            broadcaster.publish(id: event.id, event: event.kind.rawValue, data: data)
        }
    }
}
