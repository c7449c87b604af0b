// @ts-check
/**
 * Mutation testing of the modules that decide and verify (issue 20).
 * `npm run test:mutation` runs Stryker with this config, then
 * mutation/report.ts writes MUTATION.md from its JSON report. Not part of
 * `npm test`: it is slow.
 */
import { readFileSync } from "node:fs";
import modules from "./mutation/modules.json" with { type: "json" };

/**
 * The file as a mutate pattern: whole, or as the line ranges around its
 * `skip` span (found by its first and last lines, so that edits elsewhere in
 * the file do not move it).
 *
 * @param {{ file: string; skip?: { from: string; to: string } }} module
 * @returns {string[]}
 */
function mutatePatterns({ file, skip }) {
    if (skip === undefined) return [file];
    const lines = readFileSync(file, "utf8").split("\n");
    const from = lines.findIndex((line) => line.startsWith(skip.from)) + 1;
    const to = lines.findIndex((line, index) => index >= from && line.startsWith(skip.to)) + 1;
    if (from === 0 || to === 0) throw new Error(`${file}: the span to skip (${skip.from} ... ${skip.to}) is not in the file any more`);
    return [...(from > 1 ? [`${file}:1-${from - 1}`] : []), ...(to < lines.length ? [`${file}:${to + 1}-${lines.length}`] : [])];
}

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "vitest.mutation.config.mts" },
    mutate: modules.modules.flatMap(mutatePatterns),
    coverageAnalysis: "perTest",
    concurrency: 2,
    reporters: ["clear-text", "progress", "json"],
    jsonReporter: { fileName: "reports/mutation/mutation.json" },
    tempDirName: ".stryker-tmp",
    // Not copied into Stryker's sandbox: the real-engine sandbox's state and
    // logs (tens of MB, read by no test run here) and other Stryker runs' sandboxes.
    ignorePatterns: ["/.sandbox", "/.stryker-tmp*"],
    cleanTempDir: "always",
    // mutation/report.ts holds each module to the bar; Stryker's own break is over all modules at once.
    thresholds: { high: 90, low: modules.bar, break: null },
};
