/**
 * `npm run test:mutation`, after Stryker: MUTATION.md from Stryker's JSON
 * report (the mutation-testing-report-schema), one row per module of
 * mutation/modules.json, and every mutant no test detected with the
 * explanation mutation/equivalentMutants.ts gives it. Exits 1 when a module
 * is under the bar, or when the run did not mutate every module (a
 * `--mutate` run while iterating): then it prints the table and leaves
 * MUTATION.md as it was.
 *
 *     tsx mutation/report.ts [reports/mutation/mutation.json] [MUTATION.md]
 *     tsx mutation/report.ts --unexplained [reports/mutation/mutation.json]
 *
 * `--unexplained` prints an entry for mutation/equivalentMutants.ts for
 * each mutant no test detects and nothing explains, `why` left to fill in
 * (or a test to write), and writes nothing.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { EQUIVALENT_MUTANTS, type EquivalentMutant } from "./equivalentMutants";
import modules from "./modules.json";

const ROOT = path.resolve(__dirname, "..");

/** The part of a mutant in Stryker's JSON report that the report reads. */
export interface MutantResult {
    readonly id: string;
    readonly mutatorName: string;
    readonly replacement?: string;
    readonly location: { readonly start: Position; readonly end: Position };
    readonly status: "Killed" | "Survived" | "NoCoverage" | "CompileError" | "RuntimeError" | "Timeout" | "Ignored" | "Pending";
    readonly static?: boolean;
}

/** 1-based line and column, as the schema has them. */
export interface Position {
    readonly line: number;
    readonly column: number;
}

export interface MutationReport {
    readonly files: Readonly<Record<string, { readonly source: string; readonly mutants: readonly MutantResult[] }>>;
    readonly framework?: { readonly name?: string; readonly version?: string };
}

export interface ModuleScore {
    readonly file: string;
    readonly killed: number;
    readonly timeout: number;
    readonly survived: number;
    readonly noCoverage: number;
    /** Did not compile or crashed the test run: not counted in the score, as Stryker does. */
    readonly invalid: number;
    /** Detected (killed or timed out) among the valid mutants, in %. 100 when there are none. */
    readonly score: number;
}

/** A mutant no test detected, where it is and what the explanations know of it. */
export interface Undetected {
    readonly file: string;
    readonly line: number;
    readonly status: "Survived" | "NoCoverage";
    readonly mutator: string;
    readonly original: string;
    readonly replacement: string;
    /** The source line it starts on, trimmed: with the original code, what keys its explanation. */
    readonly code: string;
    readonly why?: string;
}

export function scoreOf(file: string, mutants: readonly MutantResult[]): ModuleScore {
    const count = (status: MutantResult["status"]) => mutants.filter((m) => m.status === status).length;
    const killed = count("Killed");
    const timeout = count("Timeout");
    const survived = count("Survived");
    const noCoverage = count("NoCoverage");
    const valid = killed + timeout + survived + noCoverage;
    return {
        file,
        killed,
        timeout,
        survived,
        noCoverage,
        invalid: count("CompileError") + count("RuntimeError"),
        score: valid === 0 ? 100 : (100 * (killed + timeout)) / valid,
    };
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

/** The source text a mutant replaces (its location is 1-based, end column exclusive). */
export function originalCode(source: string, { start, end }: MutantResult["location"]): string {
    const lines = source.split("\n");
    if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
    return [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join("\n");
}

/** Whether an explanation is of this mutant: same file, mutator, code line, original and replacement (whitespace collapsed). */
export function explains(entry: EquivalentMutant, mutant: Omit<Undetected, "why">): boolean {
    return (
        entry.file === mutant.file &&
        entry.mutator === mutant.mutator &&
        oneLine(entry.code) === mutant.code &&
        oneLine(entry.original) === mutant.original &&
        oneLine(entry.replacement) === mutant.replacement
    );
}

export function undetectedOf(file: string, source: string, mutants: readonly MutantResult[], explained: readonly EquivalentMutant[]): Undetected[] {
    const lines = source.split("\n");
    return mutants
        .filter((m): m is MutantResult & { status: Undetected["status"] } => m.status === "Survived" || m.status === "NoCoverage")
        .map((m) => {
            const found = {
                file,
                line: m.location.start.line,
                status: m.status,
                mutator: m.mutatorName,
                original: oneLine(originalCode(source, m.location)),
                replacement: oneLine(m.replacement ?? ""),
                code: oneLine(lines[m.location.start.line - 1]),
            };
            const why = explained.find((entry) => explains(entry, found))?.why;
            return why === undefined ? found : { ...found, why };
        })
        .sort((a, b) => a.line - b.line);
}

const percent = (value: number) => `${value.toFixed(1)} %`;
/** Inline code that survives backticks and pipes in the code itself. */
const code = (text: string) => {
    const shown = text.length > 160 ? `${text.slice(0, 157)}...` : text;
    const fence = shown.includes("`") ? "``" : "`";
    return `${fence}${fence === "``" ? " " : ""}${shown.replace(/\|/g, "\\|")}${fence === "``" ? " " : ""}${fence}`;
};

export function renderReport(report: MutationReport, explained: readonly EquivalentMutant[], bar: number): { markdown: string; failing: ModuleScore[] } {
    const scores = modules.modules.map((module) => scoreOf(module.file, report.files[module.file]?.mutants ?? []));
    const failing = scores.filter((s) => s.score < bar);
    const undetected = modules.modules.flatMap((module) => {
        const file = report.files[module.file];
        return file === undefined ? [] : undetectedOf(module.file, file.source, file.mutants, explained);
    });
    const stale = explained.filter((entry) => !undetected.some((mutant) => explains(entry, mutant)));
    const total = (key: keyof Omit<ModuleScore, "file" | "score">) => scores.reduce((sum, s) => sum + s[key], 0);

    const lines = [
        "# Mutation testing",
        "",
        "Written by `npm run test:mutation` from Stryker's JSON report (reports/mutation/mutation.json, not committed); do not edit by hand.",
        "The modules are those that decide and verify (mutation/modules.json), the tests those of vitest.mutation.config.mts,",
        "the explanations of the mutants no test detects are mutation/equivalentMutants.ts.",
        "",
        `A mutant is one small change to the code (a condition made \`true\`, \`<\` made \`<=\`, a string emptied). A test detects it when it fails (killed) or runs out of time (timeout) with the change in place. A module's score is the share of its mutants that are detected; mutants that do not compile or crash the run are not counted, as Stryker counts them. Every module must reach ${bar} %.`,
        "A mutant that survives is either a missing test, or a change no user can see (an equivalent mutant); each one left is listed below, with why it is equivalent.",
        "",
        `| Module | Decides | Killed | Timeout | Survived | No coverage | Score | ${bar} % |`,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: |",
        ...scores.map((s, index) => {
            const module = modules.modules[index];
            return `| \`${s.file}\` | ${module.decides} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${percent(s.score)} | ${s.score >= bar ? "yes" : "**no**"} |`;
        }),
        `| all | | ${total("killed")} | ${total("timeout")} | ${total("survived")} | ${total("noCoverage")} | | ${failing.length === 0 ? "yes" : `**${failing.length} under**`} |`,
        "",
    ];
    const skipped = modules.modules.flatMap((module) => (module.skip === undefined ? [] : [`- \`${module.file}\`: ${module.skip.why}`]));
    if (skipped.length > 0) lines.push("Not mutated:", "", ...skipped, "");

    lines.push("## Mutants no test detects", "");
    for (const module of modules.modules) {
        const found = undetected.filter((m) => m.file === module.file);
        const open = found.filter((m) => m.why === undefined).length;
        lines.push(`### \`${module.file}\``, "");
        if (found.length === 0) {
            lines.push("None.", "");
            continue;
        }
        lines.push(`${found.length} (${open === 0 ? "all explained" : `${open} not explained`}):`, "");
        for (const mutant of found) {
            const status = mutant.status === "NoCoverage" ? ", no test runs it" : "";
            lines.push(`- line ${mutant.line}, ${mutant.mutator}${status}: ${code(mutant.original)} → ${code(mutant.replacement)}`);
            lines.push(
                mutant.why === undefined
                    ? "  **Not explained**: a test is missing, or the mutant is equivalent and wants an entry in mutation/equivalentMutants.ts."
                    : `  ${mutant.why}`,
            );
        }
        lines.push("");
    }
    if (stale.length > 0) {
        lines.push(
            "## Explanations no mutant needs any more",
            "",
            "Tests now detect these, or the code changed: remove them from mutation/equivalentMutants.ts.",
            "",
        );
        for (const entry of stale) lines.push(`- \`${entry.file}\`, ${entry.mutator}: ${code(oneLine(entry.original))} → ${code(oneLine(entry.replacement))}`);
        lines.push("");
    }
    return { markdown: lines.join("\n"), failing };
}

/** Entries for mutation/equivalentMutants.ts, `why` to be filled in, for the undetected mutants nothing explains. */
export function unexplainedEntries(report: MutationReport, explained: readonly EquivalentMutant[]): string {
    const open = modules.modules.flatMap((module) => {
        const file = report.files[module.file];
        return file === undefined ? [] : undetectedOf(module.file, file.source, file.mutants, explained).filter((m) => m.why === undefined);
    });
    return open
        .map((m) => {
            const entry = { file: m.file, mutator: m.mutator, code: m.code, original: m.original, replacement: m.replacement, why: "" };
            return `    // line ${m.line}${m.status === "NoCoverage" ? ", no test runs it" : ""}\n    ${JSON.stringify(entry)},`;
        })
        .join("\n");
}

function main(): void {
    const args = process.argv.slice(2);
    const unexplained = args.includes("--unexplained");
    const [jsonFile = path.join(ROOT, "reports", "mutation", "mutation.json"), markdownFile = path.join(ROOT, "MUTATION.md")] = args.filter(
        (arg) => arg !== "--unexplained",
    );
    const report = JSON.parse(readFileSync(jsonFile, "utf8")) as MutationReport;
    if (unexplained) {
        console.log(unexplainedEntries(report, EQUIVALENT_MUTANTS));
        return;
    }
    const { markdown, failing } = renderReport(report, EQUIVALENT_MUTANTS, modules.bar);
    const missing = modules.modules.filter((module) => report.files[module.file] === undefined).map((module) => module.file);
    if (missing.length > 0) {
        console.log(markdown);
        console.error(`\nA partial run (not mutated: ${missing.join(", ")}): ${path.relative(ROOT, markdownFile)} is left as it was.`);
        process.exit(1);
    }
    writeFileSync(markdownFile, `${markdown.trimEnd()}\n`);
    const table = markdown.split("\n").filter((line) => line.startsWith("| "));
    console.log(`${table.join("\n")}\n\nWrote ${path.relative(ROOT, markdownFile)}.`);
    if (failing.length > 0) {
        console.error(`Under ${modules.bar} %: ${failing.map((s) => `${s.file} (${percent(s.score)})`).join(", ")}`);
        process.exit(1);
    }
}

if (require.main === module) main();
