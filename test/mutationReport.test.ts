/**
 * mutation/report.ts, which turns Stryker's JSON report into MUTATION.md and
 * fails `npm run test:mutation` when a module is under the bar: its score,
 * how it finds the code a mutant replaces, and how an explanation is matched
 * to a survivor (by code, so that it survives edits elsewhere in the file).
 */
import { describe, expect, it } from "vitest";
import type { EquivalentMutant } from "../mutation/equivalentMutants";
import modules from "../mutation/modules.json";
import { explains, originalCode, renderReport, scoreOf, undetectedOf, type MutantResult, type MutationReport } from "../mutation/report";

const SOURCE = ["export function covers(a: number, b: number): boolean {", "    return a < b;", "}", ""].join("\n");

function mutant(id: string, status: MutantResult["status"], replacement = "a <= b"): MutantResult {
    return { id, mutatorName: "EqualityOperator", replacement, status, location: { start: { line: 2, column: 12 }, end: { line: 2, column: 17 } } };
}

const SURVIVOR_EXPLAINED: EquivalentMutant = {
    file: modules.modules[0].file,
    mutator: "EqualityOperator",
    code: "return a < b;",
    original: "a < b",
    replacement: "a <= b",
    why: "a and b are never equal here.",
};

describe("a module's score", () => {
    it("is the share of valid mutants detected (killed or timed out), leaving out those that did not compile or crashed the run, in %", () => {
        const mutants = [
            mutant("1", "Killed"),
            mutant("2", "Timeout"),
            mutant("3", "Survived"),
            mutant("4", "NoCoverage"),
            mutant("5", "CompileError"),
            mutant("6", "RuntimeError"),
        ];
        expect(scoreOf("m.ts", mutants)).toEqual({ file: "m.ts", killed: 1, timeout: 1, survived: 1, noCoverage: 1, invalid: 2, score: 50 });
    });

    it("is 100 % for a module with no valid mutants", () => {
        expect(scoreOf("m.ts", [mutant("1", "CompileError")]).score).toBe(100);
    });
});

describe("the code a mutant replaces", () => {
    it("is read from its 1-based location, the end column exclusive, on one line or over several", () => {
        expect(originalCode(SOURCE, mutant("1", "Survived").location)).toBe("a < b");
        expect(originalCode(SOURCE, { start: { line: 1, column: 47 }, end: { line: 3, column: 2 } })).toBe("boolean {\n    return a < b;\n}");
    });
});

describe("explanations of survivors", () => {
    it("match a survivor by file, mutator, code line, original and replacement, whitespace collapsed; not by line number", () => {
        const [found] = undetectedOf(
            SURVIVOR_EXPLAINED.file,
            `\n\n${SOURCE}`.replace("return a < b;", "return  a < b;"),
            [{ ...mutant("1", "Survived"), location: { start: { line: 4, column: 13 }, end: { line: 4, column: 18 } } }],
            [SURVIVOR_EXPLAINED],
        );
        expect(found).toEqual({ ...SURVIVOR_EXPLAINED, line: 4, status: "Survived", code: "return a < b;" });
        expect(explains({ ...SURVIVOR_EXPLAINED, replacement: "a > b" }, found)).toBe(false);
        expect(explains({ ...SURVIVOR_EXPLAINED, file: "other.ts" }, found)).toBe(false);
    });

    it("leave a survivor with nothing that explains it without a why, and list only survivors and uncovered mutants", () => {
        const found = undetectedOf(
            "m.ts",
            SOURCE,
            [mutant("1", "Survived", "a > b"), mutant("2", "Killed"), mutant("3", "NoCoverage", "true")],
            [SURVIVOR_EXPLAINED],
        );
        expect(found.map((m) => [m.status, m.replacement, m.why])).toEqual([
            ["Survived", "a > b", undefined],
            ["NoCoverage", "true", undefined],
        ]);
    });
});

describe("MUTATION.md", () => {
    const file = modules.modules[0].file;
    const report = (mutants: MutantResult[]): MutationReport => ({ files: { [file]: { source: SOURCE, mutants } } });

    it("fails a module under the bar, marks it, and marks a survivor nothing explains as a missing test", () => {
        const { markdown, failing } = renderReport(report([mutant("1", "Killed"), mutant("2", "Survived", "a > b")]), [], 80);
        expect(failing.map((s) => [s.file, s.score])).toEqual([[file, 50]]);
        expect(markdown).toContain(`| \`${file}\` | ${modules.modules[0].decides} | 1 | 0 | 1 | 0 | 50.0 % | **no** |`);
        expect(markdown).toContain("- line 2, EqualityOperator: `a < b` → `a > b`\n  **Not explained**");
    });

    it("passes a module at the bar and prints the explanation next to its survivor", () => {
        const killed = Array.from({ length: 4 }, (_, i) => mutant(String(i), "Killed"));
        const { markdown, failing } = renderReport(report([...killed, mutant("9", "Survived")]), [SURVIVOR_EXPLAINED], 80);
        expect(failing.map((s) => s.file)).not.toContain(file);
        expect(markdown).toContain("| 80.0 % | yes |");
        expect(markdown).toContain("- line 2, EqualityOperator: `a < b` → `a <= b`\n  a and b are never equal here.");
    });

    it("lists explanations no survivor needs any more, to be removed", () => {
        const { markdown } = renderReport(report([mutant("1", "Killed")]), [SURVIVOR_EXPLAINED], 80);
        expect(markdown).toContain("## Explanations no mutant needs any more");
        expect(markdown).toContain(`- \`${file}\`, EqualityOperator: \`a < b\` → \`a <= b\``);
    });
});
