import ArgumentParser

/// How the commands that answer with one section print it: the `ls` table of that one row, or the
/// API's JSON with -J.
struct SectionOutput: ParsableArguments {
    @OptionGroup var table: TableOptions

    func print(_ answer: [UInt8]) throws(Problem) {
        if table.json { return Terminal.out(answer + [10]) }
        guard let section = Document.parse(answer) else { throw Problem.local("Bad answer", "the section is not JSON") }
        Terminal.out(usage { () throws(ValidationError) in try table.render([section], SectionColumns.shape) })
    }
}
