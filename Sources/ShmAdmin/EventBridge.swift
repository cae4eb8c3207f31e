import HTTPServer
import JSON
import SectionRegistry

/// Forwards the registry's change feed to the Server-Sent Events broadcaster.
enum EventBridge {
    static func connect(_ registry: SectionRegistry, to broadcaster: EventBroadcaster) -> UInt64 {
        registry.changes.subscribe { event in
            // Every create, write, grow and delete publishes; with no stream open, nothing is written.
            guard broadcaster.hasSubscribers else { return }
            let data = String(decoding: EventJSON(event: event).jsonBytes(), as: UTF8.self)
            broadcaster.publish(id: event.id, event: event.kind.rawValue, data: data)
        }
    }
}

/// An event's `data` (docs/API-DETAILS.md "Events"): id, type, section, source, time, then the
/// details' members in the order of their names.
struct EventJSON: JSONRepresentable {
    var event: SectionEvent

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.uint(event.id)
        json.key("type")
        json.string(event.kind.rawValue)
        json.key("section")
        json.string(event.section)
        json.key("source")
        json.string(event.source.rawValue)
        json.key("time")
        json.timestamp(event.time)
        switch event.details {
        case .none:
            break
        case .created(let commit, let reserve):
            json.key("commit")
            json.int(commit)
            json.key("reserve")
            json.int(reserve)
        case .grown(let commit, let previous):
            json.key("commit")
            json.int(commit)
            json.key("previous")
            json.int(previous)
        case .range(let offset, let length, let view):
            json.key("length")
            json.int(length)
            json.key("offset")
            json.int(offset)
            if let view {
                json.key("view")
                json.string(view)
            }
        case .adopted(let reserve):
            json.key("reserve")
            json.int(reserve)
        case .view(let id):
            json.key("view")
            json.string(id)
        case .viewMoved(let id, let address):
            json.key("address")
            json.hex(UInt64(address))
            json.key("view")
            json.string(id)
        case .locked(let lease, let mode):
            json.key("lease")
            json.string(lease)
            json.key("mode")
            json.string(mode.rawValue)
        case .mount(let id, let pids):
            json.key("mount")
            json.string(id)
            json.key("pids")
            json.beginArray()
            for pid in pids { json.int(Int64(pid)) }
            json.endArray()
        case .unlinkedWhileMapped(let uid, let pids):
            json.key("pids")
            json.beginArray()
            for pid in pids { json.int(Int64(pid)) }
            json.endArray()
            json.key("uid")
            if let uid { json.int(Int64(uid)) } else { json.null() }
        case .finding(let finding):
            json.key("finding")
            json.fragment(finding)
        case .quarantine(let kind, let mount, let bytes, let id):
            json.key("bytes")
            json.int(bytes)
            json.key("kind")
            json.string(kind)
            if let mount {  // System V has none: absent, as for the other events without a mount
                json.key("mount")
                json.string(mount)
            }
            json.key("quarantine")
            if let id { json.string(id) } else { json.null() }
        case .unlocked(let lease, let expired):
            json.key("lease")
            json.string(lease)
            if expired {
                json.key("reason")
                json.string(literal: "expired")
            }
        }
        json.endObject()
    }
}
