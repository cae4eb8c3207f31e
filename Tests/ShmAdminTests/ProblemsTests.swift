import HTTPServer
import Testing

@testable import SectionRegistry
@testable import ShmAdmin

/// Every registry error code becomes the status of API.md's error table, with a problem `type` from
/// docs/API-DETAILS.md's list.
@Suite struct ProblemsTests {
    /// API.md "Errors". The switch has no `default`: a new code does not compile until it is placed here.
    static func expectedStatus(_ code: SectionError.Code) -> Int {
        switch code {
        case .notFound, .viewNotFound, .leaseNotFound: 404
        case .exists, .shrinkRefused, .mappedByOthers, .readOnlyView, .alreadyManaged, .addressInUse: 409
        case .outOfRange: 416
        case .invalidName, .invalidSize, .invalidArgument, .pastReserve: 422
        case .lockTimeout: 423
        case .notManaged, .semaphore, .permissionDenied: 403
        case .insufficientSpace, .stateStorage: 507
        case .system: 500
        }
    }

    static let allCodes: [SectionError.Code] = [
        .notFound, .exists, .invalidName, .invalidSize, .invalidArgument, .shrinkRefused, .pastReserve, .outOfRange,
        .insufficientSpace, .mappedByOthers, .readOnlyView, .viewNotFound, .leaseNotFound, .lockTimeout, .notManaged,
        .semaphore, .alreadyManaged, .permissionDenied, .addressInUse, .stateStorage, .system,
    ]

    /// docs/API-DETAILS.md "Errors": the problem types a client may see.
    static let documentedTypes: Set<String> = [
        "bad-request", "unauthorized", "forbidden", "not-found", "section-not-found", "view-not-found",
        "lease-not-found", "method-not-allowed", "conflict", "section-exists", "section-mapped", "shrink-refused",
        "read-only-view", "payload-too-large", "unsupported-media-type", "range-not-satisfiable", "invalid-name",
        "invalid-size", "invalid-request", "past-reserve", "lock-timeout", "insufficient-storage", "internal",
    ]

    @Test func theCodeListIsComplete() {
        #expect(Set(Self.allCodes.map(\.rawValue)).count == Self.allCodes.count)
        // Every raw value round-trips, so the list above names real cases only.
        for code in Self.allCodes { #expect(SectionError.Code(rawValue: code.rawValue) == code) }
    }

    @Test(arguments: allCodes)
    func codeMapsToTheStatusOfAPIMd(code: SectionError.Code) {
        let problem = Problems.from(SectionError(code, "section 'orders' failed", section: "orders"))
        #expect(problem.status == Self.expectedStatus(code), "\(code)")
        #expect(problem.type.hasPrefix("/problems/"))
        #expect(Self.documentedTypes.contains(String(problem.type.dropFirst("/problems/".count))), "\(problem.type)")
        #expect(!problem.title.isEmpty)
        #expect(problem.detail == "section 'orders' failed")
        #expect(problem.json["section"]?.string == "orders")
    }

    @Test(arguments: [
        (SectionError.Code.notFound, "section-not-found"), (.viewNotFound, "view-not-found"),
        (.leaseNotFound, "lease-not-found"), (.exists, "section-exists"), (.shrinkRefused, "shrink-refused"),
        (.mappedByOthers, "section-mapped"), (.readOnlyView, "read-only-view"), (.invalidName, "invalid-name"),
        (.invalidSize, "invalid-size"), (.pastReserve, "past-reserve"), (.outOfRange, "range-not-satisfiable"),
        (.lockTimeout, "lock-timeout"), (.insufficientSpace, "insufficient-storage"), (.notManaged, "forbidden"),
        (.system, "internal"),
    ])
    func specificTypes(code: SectionError.Code, type: String) {
        #expect(Problems.from(SectionError(code, "x")).type == "/problems/" + type)
    }

    @Test func extrasCarryWhatHelps() {
        var mapped = SectionError(.mappedByOthers, "mapped", section: "s")
        mapped.pids = [12, 34]
        #expect(Problems.from(mapped).json["pids"] == [12, 34])

        // docs/API-DETAILS.md "Locks": 423 with holders [{"pid","mode"}]; -1 when the pid is unknown.
        var locked = SectionError(.lockTimeout, "busy", section: "s")
        locked.holders = [
            LockHolder(pid: 56, mode: .exclusive, type: "OFDLCK"), LockHolder(pid: nil, mode: .shared, type: "OFDLCK"),
        ]
        #expect(
            Problems.from(locked).json["holders"] == [
                ["pid": 56, "mode": "exclusive"], ["pid": -1, "mode": "shared"],
            ])

        var range = SectionError(.outOfRange, "outside", section: "s")
        range.commit = 8192
        #expect(Problems.from(range).json["commit"]?.int == 8192)

        let failed = SectionError(.insufficientSpace, "full", section: "s", errno: 28, systemCall: "fallocate")
        let problem = Problems.from(failed)
        #expect(problem.json["errno"]?.int == 28)
        #expect(problem.json["systemCall"]?.string == "fallocate")
        #expect(problem.detail?.contains("fallocate") == true)
    }

    @Test func theAPIsOwnProblems() {
        let cases: [(ProblemDetails, Int, String)] = [
            (Problems.badRequest("x"), 400, "bad-request"), (Problems.invalid("x"), 422, "invalid-request"),
            (Problems.unsupportedMediaType("x"), 415, "unsupported-media-type"),
            (Problems.unauthorized("x"), 401, "unauthorized"), (Problems.forbidden("x"), 403, "forbidden"),
            (Problems.rangeNotSatisfiable("x", commit: 5), 416, "range-not-satisfiable"),
        ]
        for (problem, status, type) in cases {
            #expect(problem.status == status)
            #expect(problem.type == "/problems/" + type)
            #expect(Self.documentedTypes.contains(type))
        }
        #expect(Problems.rangeNotSatisfiable("x", commit: 5).json["commit"]?.int == 5)
    }

    @Test func aRegistryErrorThroughTheRouterIsProblemJSON() throws {
        let box = try APIHarness()
        defer { box.close() }
        let response = box.call("GET", "/api/v1/sections/\(box.name("absent"))")
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(response.json.keys.starts(with: ["type", "title", "status", "detail"]))
        #expect(response.problemType == "/problems/section-not-found")
        #expect(response.json["status"]?.int == 404)
        #expect(response.json["section"]?.string == box.name("absent"))
    }
}
