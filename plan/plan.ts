/**
 * `mlops plan`: rehearse a pin change offline. The program runs under the
 * mock runtime for the current pin and for the target pin, and the two
 * registrations are diffed.
 */
import { defaultRollbackTarget, warmSet } from "../catalog/catalog";
import { configMadeFrom, endpointVariantsFor, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import { BadInputError } from "../config/badInput";
import { floorAlarmWarnings, parseStackConfig, StackConfigError, type StackConfig } from "../config/schema";
import { deploymentChangeWarnings, deploymentPolicyWarnings, type ConfigWarning } from "../config/deploymentPolicy";
import { nextSnapshotLedger, servingDatabase } from "../database/snapshots";
import type { DeclareOptions } from "../program";
import { diffRegistrations, summarize, type PlanOperation, type PlanSummary } from "./diff";
import { recordProgramIsolated } from "./isolatedRun";
import type { RegisteredResource } from "./mockRuntime";
import { hotStandbyVersion, renderRestoreBudget, restoreBudget, type RestoreBudget } from "./restoreBudget";
import type { UserProgram } from "./userProgram";
import { MLOPS_STACK_OUTPUT } from "../rollback/stackOutput";

export interface PinChangePlan {
    /** SageMaker hot standby, for a rollback: the endpoint config the stack records it runs, when the plan read it. */
    readonly endpointVariants?: EndpointVariantsRecord;
    readonly from: string;
    readonly to: string;
    /** Whether the target was already declared (warm) before the change. */
    readonly targetWarm: boolean;
    /** The serving record the runs used: which decides what is warm before and after. */
    readonly servingHistory: ServingHistoryUsed;
    /** Set when, after the change, the catalog stands in for the serving record: why (`WarmSet.standIn`). */
    readonly warmStandIn?: string;
    /** Set when the target is warm only as such a stand-in (it never served here): why. */
    readonly targetStandIn?: string;
    /** The warm versions before and after the change, the one that served most recently last. */
    readonly warmBefore: readonly string[];
    readonly warmAfter: readonly string[];
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
export type ProgramRun = Pick<DeclareOptions, "snapshots" | "now" | "servingHistory" | "endpointVariants"> & {
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
    /**
     * The stack's serving record (`servingHistory` of its `mlops` output),
     * which decides the warm versions. @default unknown: the plan assumes
     * only the current pin has served, and says so (`PinChangePlan.servingHistory`)
     */
    readonly servingHistory?: readonly string[];
    /** SageMaker hot standby: the endpoint config the stack records it runs (`sagemaker.endpointVariants` of its `mlops` output). @default what the current config would run */
    readonly endpointVariants?: EndpointVariantsRecord;
}

/** The record both runs see: the stack's, with the current pin last (it serves as the plan starts). */
function assumedServingHistory(options: PlanOptions, pinned: string): ServingHistoryUsed {
    const known = options.servingHistory;
    return { versions: [...(known ?? []).filter((id) => id !== pinned), pinned], known: known !== undefined };
}

/** The serving record a plan ran with, and whether it was the stack's or assumed. */
export interface ServingHistoryUsed {
    /** Oldest first; the current pin last. */
    readonly versions: readonly string[];
    /** False when the stack could not be read and only the current pin is assumed to have served. */
    readonly known: boolean;
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
    const servingHistory = assumedServingHistory(options, current.pinned);
    const { summary, operations } = await planConfigChange(rawConfig, targetRaw, { ...options, servingHistory: servingHistory.versions });
    // A deploy's budget is the new version's; a rollback's is that of the version it leaves, which is what the rollback restores from.
    const forward = known.indexOf(to) > known.indexOf(current.pinned);
    const served = servingHistory.versions;
    const after = warmSet({ ...target, servingHistory: served });
    const standIn = after.standIn;
    const before = warmSet({ ...current, servingHistory: served });
    const targetWarm = before.versions.includes(to);
    return {
        from: current.pinned,
        to,
        targetWarm,
        warmBefore: before.versions,
        warmAfter: after.versions,
        servingHistory,
        ...(standIn === undefined ? {} : { warmStandIn: standIn }),
        ...(targetWarm && before.standIn !== undefined ? { targetStandIn: before.standIn } : {}),
        summary,
        operations,
        // A rollback's budget is of the version it leaves, on the config the stack runs; a deploy's of the new config.
        restoreBudget: restoreBudget(forward ? target : current, served, { endpointVariants: forward ? undefined : options.endpointVariants }),
        ...(forward || options.endpointVariants === undefined ? {} : { endpointVariants: options.endpointVariants }),
    };
}

/** The change from one whole config to another, e.g. a threshold edit. */
export interface ConfigChangePlan {
    readonly summary: PlanSummary;
    readonly operations: PlanOperation[];
    /** The edited config's. */
    readonly restoreBudget: RestoreBudget;
    /** What the edited config, or the update to it, does unlike it says (e.g. a renamed variant deploys without guardrails). */
    readonly warnings: readonly ConfigWarning[];
    /** The serving record both runs used, which decides the warm versions (an edit of warm, the pin or the quarantine depends on it). */
    readonly servingHistory: ServingHistoryUsed;
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
    const servingHistory = assumedServingHistory(options, beforeConfig.pinned);
    const served = servingHistory.versions;
    const [beforeRun, afterRun] =
        options.program === undefined
            ? snapshotRuns(beforeConfig, afterConfig, stack, now, served, options.endpointVariants)
            : userProgramRuns(beforeConfig, options.program, stack, now, served, options.endpointVariants);
    const [before, after] = await Promise.all([record(beforeRaw, beforeRun), record(afterRaw, afterRun)]);
    const operations = diffRegistrations(before, after);
    return {
        summary: summarize(operations),
        operations,
        restoreBudget: restoreBudget(afterConfig, served, { deployedFrom: beforeConfig }),
        // What validate warns of in the edited config, plus what only the edit shows.
        warnings: [...deploymentPolicyWarnings(afterConfig), ...floorAlarmWarnings(afterConfig.alarms), ...deploymentChangeWarnings(beforeConfig, afterConfig)],
        servingHistory,
    };
}

/**
 * The snapshot ledgers of both runs. Offline there is no stack to read the
 * real ledger from, so the "before" run stands for a stack whose database
 * was snapshotted when its pin went live, and the "after" run adds the
 * snapshot its pin change takes. One time for both, so that nothing differs
 * by the clock alone.
 */
function snapshotRuns(
    before: StackConfig,
    after: StackConfig,
    stack: string,
    now: string,
    servingHistory: readonly string[],
    recorded: EndpointVariantsRecord | undefined,
): [ProgramRun, ProgramRun] {
    const deployed = nextSnapshotLedger([], before, { pinned: null }, stack, now).ledger;
    const endpointVariants = recorded ?? deployedEndpointVariants(before, servingHistory);
    return [
        { stack, snapshots: { ledger: deployed }, now, servingHistory, endpointVariants },
        { stack, snapshots: nextSnapshotLedger(deployed, after, { pinned: before.pinned }, stack, now), now, servingHistory, endpointVariants },
    ];
}

/**
 * The user's program reads what the stack last deployed from its own `mlops`
 * output. Offline, both runs see a stack deployed at the current pin whose
 * database was snapshotted when that pin went live (as `snapshotRuns`), and
 * nothing quarantined.
 */
function userProgramRuns(
    before: StackConfig,
    program: UserProgram,
    stack: string,
    now: string,
    servingHistory: readonly string[],
    recorded: EndpointVariantsRecord | undefined,
): [ProgramRun, ProgramRun] {
    const deployed = nextSnapshotLedger([], before, { pinned: null }, stack, now).ledger;
    const mlops = {
        pinnedVersion: before.pinned,
        servingHistory: servingHistory.map((version) => ({ version })),
        ...(before.database === undefined ? {} : { databaseSnapshots: deployed, database: { servingIdentifier: servingDatabase(before.database) } }),
        ...((endpointVariants) => (endpointVariants === undefined ? {} : { sagemaker: { endpointVariants } }))(
            recorded ?? deployedEndpointVariants(before, servingHistory),
        ),
    };
    const run: ProgramRun = { stack, now, program, previousOutputs: { [MLOPS_STACK_OUTPUT]: mlops } };
    return [run, run];
}

/**
 * SageMaker hot standby: the endpoint config a stack deployed at `before`'s
 * pin runs (what its `mlops` output records), so that both runs start from
 * it and a rollback within it plans as the weights move it is.
 */
function deployedEndpointVariants(before: StackConfig, servingHistory: readonly string[]): EndpointVariantsRecord | undefined {
    if (before.sagemaker?.standby !== "hot") return undefined;
    const catalog = { ...before, servingHistory };
    return endpointVariantsFor({
        settings: before.sagemaker,
        pinned: before.pinned,
        standby: defaultRollbackTarget(catalog),
        quarantined: before.quarantined,
        catalog: before.versions.map((v) => v.version),
        previousPin: before.pinned,
        // As program.ts declares it: the database's address, an Output, stood for by the database it comes from.
        madeFrom: configMadeFrom(
            before.sagemaker,
            before.database?.addressEnv === undefined ? {} : { [before.database.addressEnv]: undefined },
            before.database?.addressEnv === undefined ? undefined : servingDatabase(before.database),
        ),
    }).record;
}

export function renderConfigPlan(plan: ConfigChangePlan, from: string, to: string): string {
    const lines = [`Plan: ${from} -> ${to}`, "", ...operationLines(plan.operations)];
    const { summary } = plan;
    lines.push("", `Summary: ${summary.create} create, ${summary.update} update, ${summary.replace} replace, ${summary.delete} delete`);
    if (!plan.servingHistory.known) {
        lines.push(
            `Serving record: not read, so both runs assume only ${plan.servingHistory.versions.at(-1)} has served on this stack; an edit of mlops:warm, mlops:pinned or mlops:quarantined declares what the stack's own record makes warm (mlops plan --to with --stack reads it where pulumi can).`,
        );
    }
    if (plan.warnings.length > 0) lines.push("", ...plan.warnings.map((warning) => `Warning: ${warning.path}: ${warning.message}`));
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

/** Whether the plan pins a later version (a deploy) rather than an earlier one (a rollback). */
function isForward(config: StackConfig, plan: Pick<PinChangePlan, "from" | "to">): boolean {
    const order = config.versions.map((v) => v.version);
    return order.indexOf(plan.to) > order.indexOf(plan.from);
}

/**
 * How SageMaker moves traffic to a warm target: one weights call when it is
 * the hot standby (`hotStandbyVersion`), else a new fleet, as under cold.
 * Empty on Kubernetes.
 */
function sagemakerSwitch(plan: PinChangePlan, config: StackConfig): string {
    if (config.target !== "sagemaker") return "";
    const standby = hotStandbyVersion(config, plan.servingHistory.versions, plan.endpointVariants);
    if (standby === undefined) return " SageMaker itself still starts a new fleet for it before traffic moves: see the time to restore below.";
    if (standby !== plan.to) {
        return ` It is not the hot standby (version ${standby} is), so SageMaker still starts a new fleet for it before traffic moves, as under standby: cold; the time to restore below is that of a rollback to ${standby}.`;
    }
    const serving = config.sagemaker?.instanceCount ?? 0;
    const standbyInstances = config.sagemaker?.standbyInstanceCount ?? serving;
    const raise = standbyInstances < serving ? `, after raising it from ${standbyInstances} to ${serving} instances (partial standby),` : "";
    return ` It is the hot standby (mlops:sagemaker.standby: hot): its variant already runs at weight 0, so mlops rollback moves all traffic to it${raise} with one weights call before the update runs: see the time to restore below.`;
}

export function renderPlan(plan: PinChangePlan, config: StackConfig): string {
    const lines = [`Plan: ${config.model} ${plan.from} -> ${plan.to} (${config.target}, mlops:warm ${config.warm})`, "", ...operationLines(plan.operations)];
    const { summary } = plan;
    lines.push("", `Summary: ${summary.create} create, ${summary.update} update, ${summary.replace} replace, ${summary.delete} delete`);
    const served = plan.servingHistory;
    lines.push(
        served.known
            ? `Served on this stack (oldest first): ${served.versions.join(", ")}; the warm versions are the latest of these before the pin.`
            : `Serving record: not read here (a config file, or no pulumi that can read the stack), so the plan assumes only ${plan.from} has served on this stack; the stack's own record decides which versions are warm (mlops status shows it).${plan.targetWarm ? ` If another version served here before ${plan.from}, ${plan.to} may be cold instead, and its resources are then created before traffic moves: plan with --stack where pulumi can read the stack to know.` : ""}`,
    );
    lines.push(
        `Warm before the change: ${plan.warmBefore.join(", ") || "none"}; after it: ${plan.warmAfter.join(", ") || "none"}${plan.warmAfter.length === 0 ? "" : ` (the rollback target then: ${plan.warmAfter.at(-1)})`}.`,
    );
    if (plan.warmStandIn !== undefined) lines.push(`After the change, ${plan.warmStandIn}.`);
    lines.push(
        plan.targetWarm
            ? `Version ${plan.to} is warm: its resources already exist, so traffic moves without waiting for anything to be built${plan.summary.create > 0 ? " (nothing created above holds up the switch)" : ""}.${sagemakerSwitch(plan, config)}${plan.targetStandIn === undefined ? "" : ` It has not served on this stack: ${plan.targetStandIn}.`}`
            : `Version ${plan.to} is not warm: its resources are created before traffic moves${isForward(config, plan) ? "" : " (a cold rollback)"}.`,
    );
    if (config.database !== undefined) {
        lines.push(
            isForward(config, plan)
                ? `The database ${servingDatabase(config.database)} is snapshotted before traffic moves to ${plan.to}. ${SNAPSHOT_KEPT}`
                : `The database ${servingDatabase(config.database)} is snapshotted once traffic has moved: a rollback never waits for a snapshot. ${SNAPSHOT_KEPT}`,
        );
    }
    lines.push("", ...renderRestoreBudget(plan.restoreBudget));
    return lines.join("\n");
}
