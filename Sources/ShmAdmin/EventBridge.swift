import HTTPServer
import SectionRegistry

/// Forwards the registry's change feed to the Server-Sent Events broadcaster.
enum EventBridge {
    static func connect(_ registry: SectionRegistry, to broadcaster: EventBroadcaster) -> UInt64 {
        registry.changes.subscribe { event in
            // Every create, write, grow and delete publishes; with no stream open, nothing is encoded.
            guard broadcaster.hasSubscribers else { return }
            let data = String(decoding: Render.event(event), as: UTF8.self)
            broadcaster.publish(id: event.id, event: event.kind.rawValue, data: data)
        }
    }
}
