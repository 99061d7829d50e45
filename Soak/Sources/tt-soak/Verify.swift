import Foundation

/// `tt-soak verify --ledger FILE --request-log FILE...`: counts the non-idempotent requests (Login, Logout) the
/// servers executed more than once, by the id the driver put in their opt-args, and those answered Request OK
/// that no server recorded (the log would then be untrustworthy).
struct Verify {
    let ledgerPath: String
    let logPaths: [String]

    init(_ arguments: Arguments) throws(SoakError) {
        ledgerPath = try arguments.string("ledger")
        logPaths = arguments.all("request-log")
    }

    func run() throws {
        var executions: [String: Int] = [:]
        for path in logPaths {
            // A server that never started leaves no file; that is not this check's finding.
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                // <pid> <session> <function> <opt-args>
                let fields = line.split(separator: " ")
                guard fields.count == 4, fields[2] == "Login" || fields[2] == "Logout", fields[3] != "0" else {
                    continue
                }
                executions["\(fields[3]) \(fields[2])", default: 0] += 1
            }
        }
        var sent: [String: String] = [:]
        for line in try String(contentsOfFile: ledgerPath, encoding: .utf8).split(separator: "\n") {
            // <id> <function> <route> <outcome...>
            let fields = line.split(separator: " ", maxSplits: 3)
            guard fields.count == 4 else { continue }
            sent["\(fields[0]) \(fields[1])"] = "\(fields[2]) \(fields[3])"
        }
        let duplicated = executions.filter { $0.value > 1 }.sorted {
            $0.key.localizedStandardCompare($1.key) == .orderedAscending
        }
        let unrecorded = sent.filter { $0.value.contains(" answered Request OK") && executions[$0.key] == nil }
        let reportedButRan = sent.filter { $0.value.contains(" reported ") && executions[$0.key] != nil }
        print("non-idempotent \(sent.count)")
        print("duplicated \(duplicated.count)")
        print("unrecorded \(unrecorded.count)")
        print("reported-but-executed \(reportedButRan.count)")
        for (key, count) in duplicated.prefix(20) {
            print("duplicated-request \(key) executed \(count) times; client: \(sent[key] ?? "not in the ledger")")
        }
        for (key, outcome) in unrecorded.sorted(by: { $0.key.localizedStandardCompare($1.key) == .orderedAscending })
            .prefix(20)
        {
            print("unrecorded-request \(key): \(outcome)")
        }
    }
}
