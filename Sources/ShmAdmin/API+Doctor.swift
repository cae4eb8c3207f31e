import Doctor
import HTTPServer
import HostScan
import JSON

/// `GET /api/v1/doctor` (API-HOST.md "Doctor findings").
extension API {
    func doctorReport(_ request: HTTPRequest) throws -> HTTPResponse {
        let (checkedAt, findings) = doctor.findings()
        return .json(DoctorReportJSON(checkedAt: checkedAt, findings: findings), capacity: 1024 + findings.count * 2048)
    }
}

/// `{"checkedAt","findings":[…],"summary":{"critical","warning","info"}}`, findings worst first.
struct DoctorReportJSON: JSONRepresentable {
    var checkedAt: Double
    var findings: [Finding]

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("checkedAt")
        json.timestamp(checkedAt)
        json.key("findings")
        json.array(findings.lazy.map(FindingJSON.init))
        json.key("summary")
        json.beginObject()
        let summary = Doctor.summary(findings)
        for severity in Finding.Severity.allCases.reversed() {
            json.key(data: severity.rawValue)
            json.int(Int64(summary[severity] ?? 0))
        }
        json.endObject()
        json.endObject()
    }
}

/// One finding: id, severity, title, detail, subjects, evidence (its members in name order), fix.
struct FindingJSON: JSONRepresentable {
    var finding: Finding

    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.string(finding.id)
        json.key("severity")
        json.string(finding.severity.rawValue)
        json.key("title")
        json.string(finding.title)
        json.key("detail")
        json.string(finding.detail)
        json.key("subjects")
        json.beginArray()
        for subject in finding.subjects { json.string(subject) }
        json.endArray()
        json.key("evidence")
        EvidenceJSON.write(.object(finding.evidence), to: &json)
        json.key("fix")
        json.string(finding.fix)
        json.endObject()
    }
}

enum EvidenceJSON {
    static func write(_ value: Evidence, to json: inout JSONWriter) {
        switch value {
        case .int(let number): json.int(number)
        case .number(let number): json.double(number)
        case .text(let text): json.string(text)
        case .bool(let flag): json.bool(flag)
        case .null: json.null()
        case .list(let items):
            json.beginArray()
            for item in items { write(item, to: &json) }
            json.endArray()
        case .object(let members):
            json.beginObject()
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                json.key(data: key)
                write(member, to: &json)
            }
            json.endObject()
        }
    }
}
