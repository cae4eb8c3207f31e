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
        let first = box.call("GET", "/api/v1/sections", query: query)
        #expect(first.status == 200)
        let again = box.call("GET", "/api/v1/sections", query: query)
        guard case .shared(let one) = first.body, case .shared(let two) = again.body else {
            Issue.record("a listing is sent as shared bytes")
            return
        }
        #expect(one === two, "the same bytes, from the cache")
        for offset in 1...5 {
            _ = box.call("GET", "/api/v1/sections", query: query + [("offset", String(offset))])
        }
        #expect(box.api.listings.count >= 6)
        usleep(useconds_t(ListingCache.maximumAge * 2_000_000))
        let later = box.call("GET", "/api/v1/sections", query: query)
        #expect(box.api.listings.count == 1, "entries past their age can never be served: dropped")
        guard case .shared(let three) = later.body else { return }
        #expect(three !== one, "rebuilt once stale")
        #expect(three.array == one.array, "nothing changed in between")
    }
}
