/**
 * Shared test fixtures: a valid raw config (as a stack file would hold it)
 * and a way to await Pulumi outputs.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfigError, type ConfigProblem } from "../config/schema";
import type { RegisteredResource } from "../plan/mockRuntime";

export const ECR_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detector";

/** A SageMaker config with versions "1".."n", pinned to the newest. Keys without the `mlops:` namespace. */
export function sagemakerRawConfig(overrides: Record<string, unknown> = {}, versionCount = 3): Record<string, unknown> {
    const versions = Array.from({ length: versionCount }, (_, index) => {
        const id = String(index + 1);
        return {
            version: id,
            image: `${ECR_REPOSITORY}@sha256:${digestFor(index)}`,
            artifact: `s3://models/fraud-detector/${id}/model.tar.gz`,
        };
    });
    return {
        target: "sagemaker",
        model: "fraud-detector",
        pinned: String(versionCount),
        warm: 1,
        versions,
        sagemaker: { instanceType: "ml.m5.large" },
        ...overrides,
    };
}

/** A distinct valid digest per index. */
export function digestFor(index: number): string {
    return index.toString(16).padStart(64, "0");
}

/** Resolve an Output in a test (never assert inside an apply that nothing awaits). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** The child registered under `name`; names every registered child when it is missing. */
export function findChild(registered: readonly RegisteredResource[], name: string): RegisteredResource {
    const found = registered.find((r) => r.name === name);
    if (found === undefined) throw new Error(`no child named ${name}; registered: ${registered.map((r) => r.name).join(", ")}`);
    return found;
}

/** What a run of the real `mlops` bin left: its exit code (-1 when killed) and output. */
export interface BinRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Run the real `mlops` bin (bin/mlops.js, the compiled CLI), as a user would, in `cwd`. */
export function runMlopsBin(cwd: string, args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<BinRun> {
    const bin = path.resolve(__dirname, "..", "bin", "mlops.js");
    return new Promise((resolve) => {
        execFile(
            process.execPath,
            [bin, ...args],
            { cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000 },
            (error, stdout, stderr) => {
                resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
            },
        );
    });
}

/** The problems `parseStackConfig` reports for `raw`, which must be invalid (a valid config fails the test). */
export function problemsOf(raw: unknown): ConfigProblem[] {
    try {
        parseStackConfig(raw);
    } catch (error) {
        if (error instanceof StackConfigError) return [...error.problems];
        throw error;
    }
    throw new Error("expected the config to be invalid");
}
