import Doctor
import HTTPServer
import HostScan
import JSON

/// `GET /api/v1/history` (API-HOST.md "History"): the samples the doctor's periodic run keeps.
extension API {
    func historyReport(_ request: HTTPRequest) throws -> HTTPResponse {
        var since: Double?
        if let text = request.query["since"] {
            guard let parsed = RFC3339.seconds(text) else {
                throw APIFailure(Problems.badRequest("query parameter 'since' must be an RFC 3339 time"))
            }
            since = parsed
        }
        let samples = doctor.history.samples(since: since)
        return .json(HistoryJSON(samples: samples), capacity: 4096 + samples.count * 2048)
    }
}

/// `{"interval":10,"mounts":{ID:[[t,used,exposure]…]},"sections":{HREF:[[t,allocated]…]}}`.
struct HistoryJSON: JSONRepresentable {
    var samples: [HistorySample]

    func write(to json: inout JSONWriter) {
        var mounts: [String: [(Double, Int64, Int64)]] = [:]
        var mountOrder: [String] = []
        var objects: [String: [(Double, Int64)]] = [:]
        var objectOrder: [String] = []
        for sample in samples {
            for mount in sample.mounts {
                let key = mount.device.description
                if mounts[key] == nil { mountOrder.append(key) }
                mounts[key, default: []].append((sample.time, mount.usedBytes, mount.exposureBytes))
            }
            for object in sample.objects {
                if objects[object.href] == nil { objectOrder.append(object.href) }
                objects[object.href, default: []].append((sample.time, object.allocatedBytes))
            }
        }
        json.beginObject()
        json.key("interval")
        json.int(Int64(HistoryRing.interval))
        json.key("mounts")
        json.beginObject()
        for key in mountOrder {
            json.key(data: key)
            json.beginArray()
            for (time, used, exposure) in mounts[key]! {
                json.beginArray()
                json.double(time)
                json.int(used)
                json.int(exposure)
                json.endArray()
            }
            json.endArray()
        }
        json.endObject()
        json.key("sections")
        json.beginObject()
        for key in objectOrder {
            json.key(data: key)
            json.beginArray()
            for (time, allocated) in objects[key]! {
                json.beginArray()
                json.double(time)
                json.int(allocated)
                json.endArray()
            }
            json.endArray()
        }
        json.endObject()
        json.endObject()
    }
}
