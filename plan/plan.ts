/**
 * `mlops plan`: rehearse a pin change offline. The program runs under the
 * mock runtime for the current pin and for the target pin, and the two
 * registrations are diffed.
 */
import { isWarm } from "../catalog/catalog";
import { BadInputError } from "../config/badInput";
import { parseStackConfig, StackConfigError, type StackConfig } from "../config/schema";
import { nextSnapshotLedger, servingDatabase } from "../database/snapshots";
import type { DeclareOptions } from "../program";
import { diffRegistrations, summarize, type PlanOperation, type PlanSummary } from "./diff";
import { recordProgramIsolated } from "./isolatedRun";
import type { RegisteredResource } from "./mockRuntime";
import { renderRestoreBudget, restoreBudget, type RestoreBudget } from "./restoreBudget";
import type { UserProgram } from "./userProgram";
import { MLOPS_STACK_OUTPUT } from "../rollback/stackOutput";

export interface PinChangePlan {
    readonly from: string;
    readonly to: string;
    /** Whether the target was already declared (warm) before the change. */
    readonly targetWarm: boolean;
    readonly summary: PlanSummary;
    readonly operations: PlanOperation[];
    /** If the version pinned after the change goes bad (the current one, for a rollback): how long until traffic is restored. */
    readonly restoreBudget: RestoreBudget;
}

/** The stack name the mock runs use when the plan is of a config file, not of a stack. */
const PLAN_STACK = "plan";

/** Bad `--to`: exit 2, like any bad input. */
export class PlanInputError extends BadInputError {}

/**
 * What a run of the program is told besides its config: the stack's name and
 * the time; for the user's program, the program and the stack's outputs as
 * deployed; for the `mlops:*` config alone, the snapshot ledger.
 */
export type ProgramRun = Pick<DeclareOptions, "snapshots" | "now"> & {
    readonly stack?: string;
    readonly program?: UserProgram;
    readonly previousOutputs?: Record<string, unknown>;
};

export type RecordProgram = (rawConfig: Record<string, unknown>, run?: ProgramRun) => Promise<RegisteredResource[]>;

/**
 * Validate both configs before running anything: the current one as it is,
 * and the one pinned to `to`. `record` runs the program for a raw config;
 * the CLI passes the isolated child-process runner.
 */
export interface PlanOptions {
    /** Runs the program for a raw config. @default one child process per run */
    readonly record?: RecordProgram;
    /** Called once the input checks pass, before the (slow) runs start. */
    readonly onRun?: () => void;
    /** The stack planned for (`--stack`): names derived from it (alarms, snapshots) come out as they will. @default "plan" */
    readonly stack?: string;
    /** The user's program to run (see `userProgramIn`). @default what the `mlops:*` config alone declares */
    readonly program?: UserProgram;
}

export async function planPinChange(rawConfig: Record<string, unknown>, to: string, options: PlanOptions = {}): Promise<PinChangePlan> {
    const current = parseStackConfig(rawConfig);
    const known = current.versions.map((v) => v.version);
    if (!known.includes(to)) throw new PlanInputError(`--to ${to}: not in mlops:versions (known: ${known.join(", ")})`);
    if (to === current.pinned) throw new PlanInputError(`--to ${to}: already the pinned version; nothing to plan`);
    const targetRaw = { ...rawConfig, pinned: to };
    let target: StackConfig;
    try {
        target = parseStackConfig(targetRaw);
    } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        const reasons = error.problems.map((p) => (p.path === "mlops:pinned" ? p.message : `${p.path}: ${p.message}`)).join("; ");
        throw new PlanInputError(`--to ${to}: ${reasons}`);
    }
    const { summary, operations } = await planConfigChange(rawConfig, targetRaw, options);
    // A deploy's budget is the new version's; a rollback's is that of the version it leaves, which is what the rollback restores from.
    const forward = known.indexOf(to) > known.indexOf(current.pinned);
    return { from: current.pinned, to, targetWarm: isWarm(current, to), summary, operations, restoreBudget: restoreBudget(forward ? target : current) };
}

/** The change from one whole config to another, e.g. a threshold edit. */
export interface ConfigChangePlan {
    readonly summary: PlanSummary;
    readonly operations: PlanOperation[];
    /** The edited config's. */
    readonly restoreBudget: RestoreBudget;
}

/** Plan an edit of the config (any key, not only the pin): both configs must be valid. */
export async function planConfigChange(
    beforeRaw: Record<string, unknown>,
    afterRaw: Record<string, unknown>,
    options: PlanOptions = {},
): Promise<ConfigChangePlan> {
    const record = options.record ?? recordProgramIsolated;
    const beforeConfig = parseStackConfig(beforeRaw);
    const afterConfig = parseStackConfig(afterRaw);
    options.onRun?.();
    const stack = options.stack ?? PLAN_STACK;
    const now = new Date().toISOString();
    const [beforeRun, afterRun] =
        options.program === undefined ? snapshotRuns(beforeConfig, afterConfig, stack, now) : userProgramRuns(beforeConfig, options.program, stack, now);
    const [before, after] = await Promise.all([record(beforeRaw, beforeRun), record(afterRaw, afterRun)]);
    const operations = diffRegistrations(before, after);
    return { summary: summarize(operations), operations, restoreBudget: restoreBudget(afterConfig) };
}

/**
 * The snapshot ledgers of both runs. Offline there is no stack to read the
 * real ledger from, so the "before" run stands for a stack whose database
 * was snapshotted when its pin went live, and the "after" run adds the
 * snapshot its pin change takes. One time for both, so that nothing differs
 * by the clock alone.
 */
function snapshotRuns(before: StackConfig, after: StackConfig, stack: string, now: string): [ProgramRun, ProgramRun] {
    const deployed = nextSnapshotLedger([], before, { pinned: null }, stack, now).ledger;
    return [
        { stack, snapshots: { ledger: deployed }, now },
        { stack, snapshots: nextSnapshotLedger(deployed, after, { pinned: before.pinned }, stack, now), now },
    ];
}

/**
 * The user's program reads what the stack last deployed from its own `mlops`
 * output. Offline, both runs see a stack deployed at the current pin whose
 * database was snapshotted when that pin went live (as `snapshotRuns`), and
 * nothing quarantined.
 */
function userProgramRuns(before: StackConfig, program: UserProgram, stack: string, now: string): [ProgramRun, ProgramRun] {
    const deployed = nextSnapshotLedger([], before, { pinned: null }, stack, now).ledger;
    const mlops = {
        pinnedVersion: before.pinned,
        ...(before.database === undefined ? {} : { databaseSnapshots: deployed, database: { servingIdentifier: servingDatabase(before.database) } }),
    };
    const run: ProgramRun = { stack, now, program, previousOutputs: { [MLOPS_STACK_OUTPUT]: mlops } };
    return [run, run];
}

export function renderConfigPlan(plan: ConfigChangePlan, from: string, to: string): string {
    const lines = [`Plan: ${from} -> ${to}`, "", ...operationLines(plan.operations)];
    const { summary } = plan;
    lines.push("", `Summary: ${summary.create} create, ${summary.update} update, ${summary.replace} replace, ${summary.delete} delete`);
    lines.push("", ...renderRestoreBudget(plan.restoreBudget));
    return lines.join("\n");
}

function operationLines(operations: readonly PlanOperation[]): string[] {
    const symbol: Record<PlanOperation["op"], string> = { create: "+", update: "~", replace: "+-", delete: "-" };
    if (operations.length === 0) return ["  no changes"];
    return operations.map((operation) => {
        const detail =
            operation.op === "delete" && operation.retained
                ? "  (dropped from the stack, retained in AWS)"
                : operation.changed.length > 0
                  ? `  (${operation.changed.join(", ")})`
                  : "";
        return `  ${symbol[operation.op].padEnd(2)} ${operation.op.padEnd(7)} ${operation.type}  ${operation.name}${detail}`;
    });
}

const SNAPSHOT_KEPT = "The snapshot of the previous pin change leaves the stack and stays in AWS; no snapshot or database is deleted.";

export function renderPlan(plan: PinChangePlan, config: StackConfig): string {
    const lines = [`Plan: ${config.model} ${plan.from} -> ${plan.to} (${config.target}, warm ${config.warm})`, "", ...operationLines(plan.operations)];
    const { summary } = plan;
    lines.push("", `Summary: ${summary.create} create, ${summary.update} update, ${summary.replace} replace, ${summary.delete} delete`);
    lines.push(
        plan.targetWarm
            ? `Version ${plan.to} is warm: its resources already exist, so traffic moves without waiting for anything to be built${plan.summary.create > 0 ? " (the creates above make the next older version warm and do not hold up the switch)" : ""}.${config.target === "sagemaker" ? " SageMaker itself still starts a new fleet for it before traffic moves: see the time to restore below." : ""}`
            : `Version ${plan.to} is not warm: its resources are created before traffic moves (a cold rollback).`,
    );
    if (config.database !== undefined) {
        const order = config.versions.map((v) => v.version);
        const forward = order.indexOf(plan.to) > order.indexOf(plan.from);
        lines.push(
            forward
                ? `The database ${servingDatabase(config.database)} is snapshotted before traffic moves to ${plan.to}. ${SNAPSHOT_KEPT}`
                : `The database ${servingDatabase(config.database)} is snapshotted once traffic has moved: a rollback never waits for a snapshot. ${SNAPSHOT_KEPT}`,
        );
    }
    lines.push("", ...renderRestoreBudget(plan.restoreBudget));
    return lines.join("\n");
}
