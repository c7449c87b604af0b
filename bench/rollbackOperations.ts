/**
 * Benchmark 1: what a rollback does, offline. Both programs run under the
 * mock runtime for the current pin and for the rollback target; the diff is
 * split into what the traffic switch waits for (its critical path) and what
 * can happen after it.
 */
import * as path from "node:path";
import { parseStackConfig } from "../config/schema";
import { diffRegistrations, summarize, type PlanOperation, type PlanSummary } from "../plan/diff";
import { runIsolated } from "../plan/isolatedRun";
import type { RegisteredResource } from "../plan/mockRuntime";
import { naiveTrafficSwitch, type TrafficSwitch } from "./naiveProgram";

export interface RollbackOperations {
    readonly all: PlanSummary;
    /** The switch itself and every operation it waits for, directly or through other resources. */
    readonly criticalPath: PlanSummary;
    readonly criticalOperations: string[];
}

/** `type::name` of the resource a URN names (`urn:pulumi:stack::project::parent$type::name`). */
export function resourceKeyOfUrn(urn: string): string {
    const parts = urn.split("::");
    const type = parts[parts.length - 2].split("$").pop() ?? "";
    return `${type}::${parts[parts.length - 1]}`;
}

/** The resources the switch waits for, transitively, in the run after the change, the switch included. */
export function switchDependencies(after: readonly RegisteredResource[], trafficSwitch: TrafficSwitch): Set<string> {
    const byKey = new Map(after.map((r) => [`${r.type}::${r.name}`, r]));
    const waitedFor = new Set<string>();
    const visit = (key: string) => {
        if (waitedFor.has(key)) return;
        waitedFor.add(key);
        for (const urn of byKey.get(key)?.options?.dependencies ?? []) visit(resourceKeyOfUrn(urn));
    };
    visit(`${trafficSwitch.type}::${trafficSwitch.name}`);
    return waitedFor;
}

export function rollbackOperations(
    before: readonly RegisteredResource[],
    after: readonly RegisteredResource[],
    trafficSwitch: TrafficSwitch,
): RollbackOperations {
    const operations = diffRegistrations(before, after);
    const waitedFor = switchDependencies(after, trafficSwitch);
    const critical = operations.filter((operation: PlanOperation) => operation.op !== "delete" && waitedFor.has(`${operation.type}::${operation.name}`));
    return {
        all: summarize(operations),
        criticalPath: summarize(critical),
        criticalOperations: critical.map((operation) => `${operation.op} ${operation.type} ${operation.name}`),
    };
}

/** Ours: the switch is the Endpoint (SageMaker) or the Service (Kubernetes). */
export function mlopsTrafficSwitch(rawConfig: Record<string, unknown>): TrafficSwitch {
    const config = parseStackConfig(rawConfig);
    return config.target === "sagemaker"
        ? { type: "aws:sagemaker/endpoint:Endpoint", name: `${config.model}-endpoint` }
        : { type: "kubernetes:core/v1:Service", name: `${config.model}-service` };
}

const RECORD_ENTRY = path.join(__dirname, "recordMain.ts");

const record = (program: "mlops" | "naive", rawConfig: Record<string, unknown>) =>
    runIsolated(RECORD_ENTRY, { program, rawConfig }) as Promise<RegisteredResource[]>;

/** A rollback of `rawConfig`'s pin to `to`, by both programs. */
export async function compareRollbackOperations(
    rawConfig: Record<string, unknown>,
    to: string,
): Promise<{ readonly mlops: RollbackOperations; readonly naive: RollbackOperations }> {
    const target = { ...rawConfig, pinned: to };
    const [mlopsBefore, mlopsAfter, naiveBefore, naiveAfter] = await Promise.all([
        record("mlops", rawConfig),
        record("mlops", target),
        record("naive", rawConfig),
        record("naive", target),
    ]);
    return {
        mlops: rollbackOperations(mlopsBefore, mlopsAfter, mlopsTrafficSwitch(rawConfig)),
        naive: rollbackOperations(naiveBefore, naiveAfter, naiveTrafficSwitch(parseStackConfig(rawConfig))),
    };
}
