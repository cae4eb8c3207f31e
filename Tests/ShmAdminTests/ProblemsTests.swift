import HTTPServer
import SystemPackage
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
        case .invalidName, .invalidSize, .invalidArgument, .pastReserve, .pastCapacity: 422
        case .lockTimeout: 423
        case .notManaged, .semaphore, .permissionDenied: 403
        case .insufficientSpace, .stateStorage: 507
        case .system: 500
        }
    }

    static let allCodes: [SectionError.Code] = [
        .notFound, .exists, .invalidName, .invalidSize, .invalidArgument, .shrinkRefused(commit: 8192), .pastReserve,
        .pastCapacity(filesystemBytes: 1 << 26), .outOfRange(commit: 8192), .insufficientSpace,
        .mappedByOthers(pids: [12]), .readOnlyView, .viewNotFound,
        .leaseNotFound, .lockTimeout(holders: []), .notManaged, .semaphore, .alreadyManaged, .permissionDenied,
        .addressInUse, .stateStorage, .system,
    ]

    /// docs/API-DETAILS.md "Errors": the problem types a client may see.
    static let documentedTypes: Set<String> = [
        "bad-request", "unauthorized", "forbidden", "not-found", "section-not-found", "view-not-found",
        "lease-not-found", "method-not-allowed", "conflict", "section-exists", "section-mapped", "shrink-refused",
        "read-only-view", "payload-too-large", "unsupported-media-type", "range-not-satisfiable", "invalid-name",
        "invalid-size", "invalid-request", "past-reserve", "past-capacity", "lock-timeout", "insufficient-storage",
        "internal",
    ]

    @Test func theCodeListIsComplete() {
        let kinds = Self.allCodes.map { SectionError($0, "x").kind }
        #expect(Set(kinds) == Set(SectionError.Kind.allCases), "every code is in the list once")
        #expect(kinds.count == SectionError.Kind.allCases.count)
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
        (.leaseNotFound, "lease-not-found"), (.exists, "section-exists"), (.shrinkRefused(commit: 1), "shrink-refused"),
        (.mappedByOthers(pids: []), "section-mapped"), (.readOnlyView, "read-only-view"),
        (.invalidName, "invalid-name"),
        (.invalidSize, "invalid-size"), (.pastReserve, "past-reserve"),
        (.outOfRange(commit: nil), "range-not-satisfiable"),
        (.lockTimeout(holders: []), "lock-timeout"), (.insufficientSpace, "insufficient-storage"),
        (.notManaged, "forbidden"),
        (.system, "internal"),
    ])
    func specificTypes(code: SectionError.Code, type: String) {
        #expect(Problems.from(SectionError(code, "x")).type == "/problems/" + type)
    }

    @Test func extrasCarryWhatHelps() {
        let mapped = SectionError(.mappedByOthers(pids: [12, 34]), "mapped", section: "s")
        #expect(Problems.from(mapped).json["pids"] == [12, 34])

        // docs/API-DETAILS.md "Locks": 423 with holders [{"pid","mode"}]; -1 when the pid is unknown.
        let locked = SectionError(
            .lockTimeout(holders: [
                LockHolder(pid: 56, mode: .exclusive, type: "OFDLCK"),
                LockHolder(pid: nil, mode: .shared, type: "OFDLCK"),
            ]), "busy", section: "s")
        #expect(
            Problems.from(locked).json["holders"] == [
                ["pid": 56, "mode": "exclusive"], ["pid": -1, "mode": "shared"],
            ])

        let range = SectionError(.outOfRange(commit: 8192), "outside", section: "s")
        #expect(Problems.from(range).json["commit"]?.int == 8192)

        let failed = SectionError(
            .insufficientSpace, "full", section: "s", cause: SystemCallError(.fallocate, Errno(rawValue: 28)))
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
