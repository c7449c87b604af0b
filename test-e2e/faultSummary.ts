/**
 * `npm run test:faults` prints what the fault tests did: each scenario, the
 * faults it injected and what a rollback may need that was lost after them.
 * A fault test records itself with `recordFault(task, ...)`; this reporter
 * reads those records from the finished run and prints the table. The figures
 * come from the tests' own kubectl, backend and AWS SDK checks; a test whose
 * record says something was lost has failed its assertion too.
 */
import type { Reporter, TestModule } from "vitest/node";

export interface FaultRecord {
    readonly scenario: string;
    /** Faults injected: processes killed, servers restarted, bad inputs fed, events replayed. */
    readonly injected: number;
    readonly kind: string;
    /** What a rollback may need that was gone afterwards (deployments, state files, snapshots, configs). */
    readonly lost: readonly string[];
    /** What was checked to be still there. */
    readonly checked: number;
}

declare module "vitest" {
    interface TaskMeta {
        fault?: FaultRecord;
    }
}

/** Attach the scenario's figures to its test, for the summary. */
export function recordFault(task: { meta: { fault?: FaultRecord } }, record: FaultRecord): void {
    task.meta.fault = record;
}

export default class FaultSummaryReporter implements Reporter {
    onTestRunEnd(testModules: readonly TestModule[]): void {
        const rows: { record: FaultRecord; state: string }[] = [];
        // A test that failed before recording its figures, or was skipped, is listed as not measured.
        const unmeasured: string[] = [];
        for (const module of testModules) {
            for (const test of module.children.allTests()) {
                const record = test.meta().fault;
                const state = test.result().state;
                if (record !== undefined) rows.push({ record, state });
                else if (state === "failed") unmeasured.push(`  FAIL ${test.fullName} (failed before its figures were recorded)`);
                else if (state === "skipped") unmeasured.push(`  skip ${test.fullName} (not run, not measured)`);
            }
        }
        const lost = rows.reduce((sum, row) => sum + row.record.lost.length, 0);
        const failed = rows.filter((row) => row.state !== "passed").length + unmeasured.filter((line) => line.startsWith("  FAIL")).length;
        const lines = [
            "",
            "Fault summary (lost: what a rollback may need that each scenario's own checks found gone)",
            ...rows.map(
                ({ record, state }) =>
                    `  ${state === "passed" ? "ok  " : "FAIL"} ${record.scenario.padEnd(64)} ${String(record.injected).padStart(3)} × ${record.kind.padEnd(24)} checked ${String(record.checked).padStart(3)}, lost ${record.lost.length}${record.lost.length > 0 ? `: ${record.lost.join(", ")}` : ""}`,
            ),
            ...unmeasured,
            `  scenarios run: ${rows.length} (${failed} failed${unmeasured.length > 0 ? `, ${unmeasured.length} not measured` : ""}); faults injected: ${rows.reduce((sum, row) => sum + row.record.injected, 0)}; data lost: ${lost}`,
            "",
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
    }
}
