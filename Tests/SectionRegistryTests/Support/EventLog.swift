import Synchronization

@testable import SectionRegistry

/// A value several threads read and write.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func update<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// Every event a registry's change feed publishes while it is subscribed.
final class EventLog: Sendable {
    private let events = Locked<[SectionEvent]>([])
    private let registry: SectionRegistry
    private let id: UInt64

    init(_ registry: SectionRegistry) {
        self.registry = registry
        let events = self.events
        id = registry.changes.subscribe { event in events.update { $0.append(event) } }
    }

    var all: [SectionEvent] { events.value }

    /// Events about one section, in order.
    func about(_ section: String) -> [SectionEvent] { all.filter { $0.section == section } }

    func contains(_ predicate: (SectionEvent) -> Bool) -> Bool { all.contains(where: predicate) }

    func stop() { registry.changes.unsubscribe(id) }
}
