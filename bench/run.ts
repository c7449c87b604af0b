/**
 * `npm run bench`: every benchmark in one run, side by side, on this machine.
 * Writes bench/results.json and BENCHMARKS.md (generated: edit this file or
 * bench/report.ts, never BENCHMARKS.md).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { runIsolated } from "../plan/isolatedRun";
import { restoreBudget } from "../plan/restoreBudget";
import { ensureTools, PROJECT_DIR } from "../sandbox/sandbox";
import type { ProgramCostResult, ProgramCostRun } from "./programCostMain";

/** The example stacks as on their first deploy: no serving record, so the catalog's previous version is the rollback target. */
const NO_SERVING_RECORD: readonly string[] = [];
import { renderBenchmarks, type BenchResults } from "./report";
import { compareRollbackOperations } from "./rollbackOperations";
import { benchSandboxRollback, MODEL_LOAD_SECONDS } from "./sandboxRollback";

const ROUNDS = 5;
const ENDPOINT_COUNTS = [1, 10, 100];
const WARM_COUNTS = [1, 3];

function log(line: string): void {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** The repository's stacks/, and the sandbox stack of the example user project. */
function stackFile(stack: string): Record<string, unknown> {
    const dir = stack === "sandbox" ? path.join(PROJECT_DIR, "examples", "kubernetes") : path.join(PROJECT_DIR, "stacks");
    return rawConfigFromStackFile(path.join(dir, `Pulumi.${stack}.yaml`));
}

/** The examples' budgets, and the Kubernetes example with the alarm its comments show and the SageMaker example's trigger (the automatic path). */
function exampleRestoreBudgets(): BenchResults["restoreBudgets"] {
    const sagemaker = stackFile("sagemaker-example");
    const kubernetes = stackFile("kubernetes-example");
    const restartsAlarm = {
        name: "pod-restarts",
        namespace: "ContainerInsights",
        metricName: "pod_number_of_container_restarts",
        dimensions: { ClusterName: "prod", Namespace: "fraud", PodName: "fraud-detector" },
        statistic: "Maximum",
        threshold: 3,
    };
    return [
        {
            stack: "sagemaker-example",
            description: "`stacks/Pulumi.sagemaker-example.yaml` as it is.",
            budget: restoreBudget(parseStackConfig(sagemaker), NO_SERVING_RECORD),
        },
        {
            stack: "sagemaker-example with standby: hot",
            description:
                "The SageMaker example with `mlops:sagemaker.standby: hot` (version 2 runs as a weight-0 variant): the rollback to it is one UpdateEndpointWeightsAndCapacities call, for which AWS publishes no time.",
            budget: restoreBudget(
                parseStackConfig({ ...sagemaker, sagemaker: { ...(sagemaker.sagemaker as Record<string, unknown>), standby: "hot" } }),
                NO_SERVING_RECORD,
            ),
        },
        {
            stack: "kubernetes-example",
            description: "`stacks/Pulumi.kubernetes-example.yaml` as it is (its alarms are commented out).",
            budget: restoreBudget(parseStackConfig(kubernetes), NO_SERVING_RECORD),
        },
        {
            stack: "kubernetes-example with alarms and a trigger",
            description:
                "The Kubernetes example with its commented `pod-restarts` Container Insights alarm switched on and the SageMaker example's `mlops:trigger`.",
            budget: restoreBudget(parseStackConfig({ ...kubernetes, alarms: { custom: [restartsAlarm] }, trigger: sagemaker.trigger }), NO_SERVING_RECORD),
        },
    ];
}

function packageVersion(name: string): string {
    return (JSON.parse(readFileSync(path.join(PROJECT_DIR, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * `npm run bench -- --budgets-only`: the time-to-restore budgets are derived
 * from the example configs, not measured; recompute them (and BENCHMARKS.md)
 * while keeping every measurement of the last full run and its date.
 */
function rewriteBudgetsOnly(): void {
    const file = path.join(PROJECT_DIR, "bench", "results.json");
    const results = { ...(JSON.parse(readFileSync(file, "utf8")) as BenchResults), restoreBudgets: exampleRestoreBudgets() };
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.join(PROJECT_DIR, "BENCHMARKS.md"), renderBenchmarks(results));
    log(`budgets recomputed; the measurements are still those of ${results.date}`);
}

async function main(): Promise<void> {
    if (process.argv.includes("--budgets-only")) return rewriteBudgetsOnly();
    const started = Date.now();
    const bin = ensureTools();
    const pulumiVersion = execFileSync(path.join(bin, "pulumi"), ["version"], { encoding: "utf8" }).trim();
    // Built from Go modules without version stamps, the Kubernetes binaries report v0.0.0: the tools directory names the version.
    const kubernetesVersion = /k8s-(\d+\.\d+\.\d+)$/.exec(path.basename(bin))?.[1] ?? "unknown";

    log("1/3 rollback operations, offline (mock runtime)");
    const operations = [];
    for (const [stack, to] of [
        ["sagemaker-example", "2"],
        ["kubernetes-example", "2"],
        ["sandbox", "2"],
    ] as const) {
        const rawConfig = stackFile(stack);
        const sandboxLike = stack === "sandbox" ? { ...rawConfig, pinned: "3" } : rawConfig;
        operations.push({ stack, from: String(sandboxLike.pinned), to, ...(await compareRollbackOperations(sandboxLike, to)) });
    }

    log("2/3 program cost (mock runtime, one process per size)");
    const programCost: ProgramCostResult[] = [];
    for (const target of ["sagemaker", "kubernetes"] as const) {
        for (const warm of WARM_COUNTS) {
            for (const endpoints of ENDPOINT_COUNTS) {
                const run: ProgramCostRun = { target, warm, endpoints };
                programCost.push((await runIsolated(path.join(__dirname, "programCostMain.ts"), run)) as ProgramCostResult);
            }
        }
    }

    log(`3/3 rollback time on the sandbox, ${ROUNDS} rounds each, model load ${MODEL_LOAD_SECONDS} s`);
    const sandbox = await benchSandboxRollback(ROUNDS, log);

    const results: BenchResults = {
        date: new Date().toISOString(),
        machine: {
            cpu: os.cpus()[0]?.model ?? "unknown",
            cores: os.cpus().length,
            memoryGiB: Math.round(os.totalmem() / 2 ** 30),
            os: `${os.type()} ${os.release()}`,
        },
        versions: {
            node: process.version,
            pulumi: pulumiVersion,
            "@pulumi/pulumi": packageVersion("@pulumi/pulumi"),
            "@pulumi/kubernetes": packageVersion("@pulumi/kubernetes"),
            "@pulumi/aws": packageVersion("@pulumi/aws"),
            kubernetes: kubernetesVersion,
        },
        rounds: ROUNDS,
        modelLoadSeconds: MODEL_LOAD_SECONDS,
        operations,
        programCost,
        sandbox,
        restoreBudgets: exampleRestoreBudgets(),
        seconds: Math.round((Date.now() - started) / 1000),
    };
    writeFileSync(path.join(PROJECT_DIR, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");
    const markdown = renderBenchmarks(results);
    writeFileSync(path.join(PROJECT_DIR, "BENCHMARKS.md"), markdown);
    process.stdout.write(markdown);
    log(`done in ${results.seconds} s: bench/results.json, BENCHMARKS.md`);
}

main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
});
