import Testing

@testable import HTTPServer
@testable import ShmAdmin

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ListingCacheTests {
    @Test func aRepeatedListingIsServedFromTheCacheAndAStaleOneIsNotKept() throws {
        let box = try APIHarness()
        defer { box.close() }
        box.create("a")
        let query = [("q", box.prefix)]
        // The cache keeps a listing for a tenth of a second: on a loaded machine two calls may be
        // further apart than that, so the pair (and the five more) is tried until it runs in time.
        var first = box.call("GET", "/api/v1/sections", query: query)
        var again = first
        var inTime = false
        for _ in 0..<50 where !inTime {
            let started = monotonicSeconds()
            first = box.call("GET", "/api/v1/sections", query: query)
            again = box.call("GET", "/api/v1/sections", query: query)
            for offset in 1...5 {
                _ = box.call("GET", "/api/v1/sections", query: query + [("offset", String(offset))])
            }
            inTime = monotonicSeconds() - started < ListingCache.maximumAge / 2
        }
        try #require(inTime, "seven listings never ran within the cache's age")
        #expect(first.status == 200)
        guard case .shared(let one) = first.body, case .shared(let two) = again.body else {
            Issue.record("a listing is sent as shared bytes")
            return
        }
        #expect(one === two, "the same bytes, from the cache")
        #expect(box.api.listings.count >= 6)
        usleep(useconds_t(ListingCache.maximumAge * 2_000_000))
        let later = box.call("GET", "/api/v1/sections", query: query)
        #expect(box.api.listings.count == 1, "entries past their age can never be served: dropped")
        guard case .shared(let three) = later.body else { return }
        #expect(three !== one, "rebuilt once stale")
        #expect(three.array == one.array, "nothing changed in between")
    }
}
