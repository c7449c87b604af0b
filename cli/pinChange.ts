/**
 * `mlops deploy` and `mlops rollback`: decide offline, then drive the engine.
 *
 * Order matters. Everything that can refuse (the config, the decision, the
 * config the change would produce, the prompt) runs before the engine starts
 * and before the stack file changes, so a refusal touches no state, and one
 * the stack file alone decides needs no `pulumi` binary (those that need the
 * backend's word: a pin never deployed, an update that did not finish, the
 * quarantine ledger). Only then is the pin written and the update run, and
 * what serves is checked against what is pinned.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { BadInputError } from "../config/badInput";
import { parseStackConfig, StackConfigError, type StackConfig } from "../config/schema";
import { editStackFileText, replaceFile, writeRefusal, type PinEdit } from "../config/stackFileEdit";
import { readFileSync } from "node:fs";
import { withPreviewConfigFile } from "./previewConfigFile";
import { EngineCommandError } from "../rollback/engineErrors";
import { loadStackConfig, providerSettingsOf, StackFileError } from "../config/sources";
import {
    checkRestorable,
    describeRestore,
    planRestore,
    restoreTags,
    runRestore,
    type RdsPorts,
    type RestorePlan,
    type SnapshotState,
} from "../database/restore";
import { snapshotLedgerFromOutput } from "../database/snapshots";
import { acquireStackLock, thisProcess, type LockEnvironment } from "./stackLock";
import { StackBusyError, type OpenStack, type PendingOperation, type StackSession, type UpSummary } from "../rollback/automation";
import { decideDeploy, decideRollback, decideUnfinishedRollback, type Decision, type PinChange, type StackView } from "../rollback/decisions";
import { servedVersions, servingRecordOf } from "../rollback/servingRecord";
import { pinnableVersionsBefore } from "../catalog/catalog";
import { ledgerFromOutput, withLedgerQuarantine, type QuarantineLedger, type RollbackEvent } from "../rollback/ledger";
import { missingStackOutputAdvice, MLOPS_STACK_OUTPUT } from "../rollback/stackOutput";
import type { Notify, RollbackNotice } from "../rollback/notify";
import { notifyAddress, notifyFailure } from "../rollback/notifyTarget";
import { changeSummary, progressLine } from "../rollback/progress";
import { waitForEndpointSettled, type EndpointStatusReader } from "../rollback/endpointSettle";
import type { ServingVerifier, VerificationResult, VerifierSettings } from "../rollback/verify";
import { kubernetesDeploymentName } from "../catalog/names";
import { decideSwitch, type SwitchDecision, type SwitchTarget, type TrafficSwitch } from "../rollback/kubernetesSwitch";
import { endpointVariantsFromOutput, variantOf } from "../catalog/endpointVariants";
import { decideWeightsSwitch, switchWeights, type WeightsApi, type WeightsDecision, type WeightsSwitchTarget } from "../rollback/sagemakerWeightsSwitch";
import { ENDPOINT_VARIANT_WEIGHTS_TYPE } from "../components/endpointVariantWeights";

export interface PinChangeOptions {
    readonly stack: string;
    /** The stack's config file (Pulumi.<stack>.yaml in the project's stackConfigDir). */
    readonly file: string;
    readonly projectDir: string;
    readonly version?: string;
    readonly reason?: string;
    readonly yes?: boolean;
    readonly dryRun?: boolean;
    readonly json?: boolean;
    readonly force?: boolean;
    readonly allowCold?: boolean;
    /** The alarm trigger already restored the SageMaker endpoint: wait for it, refresh it, keep its deployment policy. */
    readonly afterFastPath?: boolean;
    /** Refuse unless the version rolled back from (in the file and as deployed) is this one. */
    readonly expectFrom?: string;
    /** Restore the database snapshot taken when the version rolled back from went live into a new database, and point the model at it. */
    readonly restoreDatabase?: boolean;
}

/** What the flow needs from outside; tests stand in for each. */
export interface PinChangeDeps {
    readonly openStack: OpenStack;
    readonly verifierFor: (target: StackConfig["target"], settings: VerifierSettings) => ServingVerifier;
    readonly notify: Notify;
    /** Ask a yes/no question on the terminal; undefined when there is no terminal. */
    readonly confirm?: (question: string) => Promise<boolean>;
    readonly stdout: (text: string) => void;
    readonly stderr: (text: string) => void;
    readonly now?: () => Date;
    /** DescribeEndpoint's status, for `--after-fast-path`. */
    readonly endpointStatus?: (region: string | undefined) => EndpointStatusReader;
    readonly sleep?: (milliseconds: number) => Promise<void>;
    /** RDS, for `--restore-database`. */
    readonly rds?: (region: string | undefined) => RdsPorts;
    /** The cluster's API for the instant switch of a Kubernetes rollback; undefined: every rollback goes through the update. */
    readonly trafficSwitch?: (settings: VerifierSettings) => TrafficSwitch;
    /** SageMaker in the stack's region, for the weights switch of a rollback under hot standby; undefined: every rollback goes through the update. */
    readonly sagemakerWeights?: (region: string | undefined) => WeightsApi;
    /** Who takes the stack file's lock; this process unless a test says otherwise. */
    readonly lockEnvironment?: LockEnvironment;
    /**
     * The names of the stack outputs the project's program returns (one run
     * under the mock runtime), for a stack never deployed: undefined when
     * there is no program to run. @default not checked
     */
    readonly programOutputNames?: (projectDir: string, file: string, stack: string, rawConfig: Record<string, unknown>) => Promise<string[] | undefined>;
}

export interface PinChangeResult {
    readonly kind: PinChange["kind"];
    readonly stack: string;
    readonly from: string;
    readonly to: string;
    readonly dryRun: boolean;
    readonly result: "succeeded" | "failed" | "previewed";
    readonly durationSeconds: number;
    readonly verification?: string;
    /**
     * When the instant switch moved traffic before the update: seconds from
     * the start of the change until the data plane confirmed it (Kubernetes:
     * the EndpointSlices list only the target's ready pods; SageMaker hot
     * standby: DescribeEndpoint shows the target variant with all the weight).
     */
    readonly trafficSwitchedSeconds?: number;
    readonly changes?: Record<string, number>;
    readonly error?: string;
    /** With `--restore-database`: the snapshot restored and the new database (planned only, on a dry run). */
    readonly database?: { readonly snapshot: string; readonly restoredInto: string; readonly replaced: string };
}

/** Exit code 1 with a result to report: the operation ran and failed. */
export class OperationFailedError extends Error {}

export function decide(kind: PinChange["kind"], config: StackView, options: PinChangeOptions, deployedPin?: string | null): Decision {
    if (kind === "rollback") {
        return decideRollback(config, { version: options.version, reason: options.reason, force: options.force, allowCold: options.allowCold });
    }
    if (options.version === undefined) return { ok: false, refusal: "--version is required for mlops deploy" };
    return decideDeploy(config, { version: options.version, reason: options.reason, force: options.force, deployedPin });
}

/** The raw config the change produces; validated before anything is written. */
export function configAfter(raw: Record<string, unknown>, change: PinChange, restoredInto?: string): Record<string, unknown> {
    const rollback = (raw.rollback as Record<string, unknown> | undefined) ?? {};
    const database = restoredInto === undefined ? {} : { database: { ...(raw.database as Record<string, unknown> | undefined), restoredInto } };
    return { ...raw, pinned: change.to, quarantined: change.quarantined, rollback: { ...rollback, allowRedeploy: change.allowRedeploy }, ...database };
}

interface PreparedRestore {
    readonly plan: RestorePlan;
    readonly snapshot: SnapshotState;
    readonly rds: RdsPorts;
}

/** `--restore-database`, decided and checked against RDS before anything changes: every refusal is exit 2. */
async function prepareRestore(
    kind: PinChange["kind"],
    config: StackConfig,
    outputs: Record<string, unknown>,
    change: PinChange,
    awsRegion: string | undefined,
    deps: PinChangeDeps,
    now: Date,
): Promise<PreparedRestore> {
    if (kind !== "rollback") throw new BadInputError("--restore-database is for mlops rollback only");
    const plan = planRestore(config.database, snapshotLedgerFromOutput(outputs.databaseSnapshots), change.from, now.toISOString());
    if (deps.rds === undefined) throw new Error("--restore-database needs RDS access, which this build of mlops lacks");
    const rds = deps.rds(awsRegion);
    return { plan, snapshot: await checkRestorable(plan, rds), rds };
}

/** Restore into the new database and wait for it; the database it replaces is never called with anything but reads. */
async function restoreDatabase(restore: PreparedRestore, model: string, stack: string, deps: PinChangeDeps): Promise<void> {
    const { plan } = restore;
    deps.stderr(`Restoring ${plan.snapshot.identifier} into ${plan.restoredDatabase} (RDS takes minutes for a small database, longer for a large one)...\n`);
    const state = await runRestore(plan, restore.rds, restoreTags(plan, model, stack), {
        sleep: deps.sleep,
        onWait: (status, waited) => deps.stderr(`${plan.restoredDatabase} is ${status} (${waited} s)...\n`),
    });
    deps.stderr(
        `${plan.restoredDatabase} is available${state.address === undefined ? "" : ` at ${state.address}`}; ${plan.replacedDatabase} is kept as it is.\n`,
    );
}

export async function runPinChange(kind: PinChange["kind"], options: PinChangeOptions, deps: PinChangeDeps): Promise<PinChangeResult> {
    // Bad input the stack file alone shows is refused before the lock, so that
    // it exits 2 even while another run holds the stack.
    refuseOffline(kind, options, loadStackConfig(options.file).config, deps);
    // One run per stack file, from its first read to its last write (cli/stackLock.ts).
    const lock = acquireStackLock(
        options.file,
        [kind, ...(options.version === undefined ? [] : ["--version", options.version]), ...(options.dryRun === true ? ["--dry-run"] : [])].join(" "),
        deps.lockEnvironment,
    );
    if (lock.tookOverFrom !== undefined) {
        const gone = lock.tookOverFrom;
        deps.stderr(
            `Took over the stack file's lock from mlops ${gone.command} (pid ${gone.pid}, since ${gone.startedAt}), which is no longer running: ${
                / --dry-run$/.test(gone.command)
                    ? "a dry run, stopped before it finished; it changed nothing, so there is nothing to pick up"
                    : "it was stopped before it finished; this run picks up what it left"
            }.\n`,
        );
    }
    // process.exit (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR2... during a dry run: cli/previewConfigFile.ts) skips
    // `finally`; the lock must still go. A SIGKILL leaves it: the next run takes it over (the pid is gone) and says so.
    const releaseOnExit = () => lock.release();
    process.once("exit", releaseOnExit);
    try {
        return await runPinChangeLocked(kind, options, deps);
    } finally {
        process.off("exit", releaseOnExit);
        lock.release();
    }
}

/**
 * 1. Offline: every refusal the stack file alone can decide, before the
 * pulumi binary is needed and before anything is touched. Returns the
 * offline decision, which may still be a refusal the backend can lift:
 * a deploy of the pinned version (first deploy, or one that did not finish),
 * or a rollback with nothing before the pin while the file quarantines a
 * version (a rollback that did not finish).
 */
function refuseOffline(kind: PinChange["kind"], options: PinChangeOptions, fileConfig: StackConfig, deps: PinChangeDeps): Decision {
    // Offline there is no serving record: which versions are warm, and so the
    // default target and whether --version is warm, only the stack can say.
    const offline = decide(kind, { ...fileConfig, servingHistory: [] }, { ...options, allowCold: true });
    const maybeUnfinishedDeploy = kind === "deploy" && options.version === fileConfig.pinned;
    // Unless nothing could be warm whatever the record says: warm 0, or no earlier version that may be pinned.
    const targetFromRecord = kind === "rollback" && options.version === undefined && fileConfig.warm > 0 && pinnableVersionsBefore(fileConfig).length > 0;
    const maybeUnfinishedRollback =
        kind === "rollback" && fileConfig.quarantined.length > 0 && (options.version === undefined || options.version === fileConfig.pinned);
    if (!offline.ok && !maybeUnfinishedDeploy && !maybeUnfinishedRollback && !targetFromRecord) throw new BadInputError(offline.refusal);
    if (!options.yes && !options.dryRun && deps.confirm === undefined) {
        throw new BadInputError(`no terminal to confirm on; pass --yes to ${kind} without a prompt (or --dry-run to preview)`);
    }
    return offline;
}

/**
 * Before a stack's first update: refuse (exit 2) a program that does not
 * return the `mlops` stack output. A program that cannot run under the mock
 * runtime (a provider call the mocks do not answer) is not refused: the
 * update itself then reports a missing output.
 */
async function refuseProgramWithoutStackOutput(options: PinChangeOptions, raw: Record<string, unknown>, deps: PinChangeDeps): Promise<void> {
    if (deps.programOutputNames === undefined) return;
    let names: string[] | undefined;
    try {
        names = await deps.programOutputNames(options.projectDir, options.file, options.stack, raw);
    } catch (error) {
        deps.stderr(
            `mlops: could not check under the mock runtime that the program exports '${MLOPS_STACK_OUTPUT}' (${error instanceof Error ? error.message : String(error)}); the update will tell.\n`,
        );
        return;
    }
    if (names !== undefined && !names.includes(MLOPS_STACK_OUTPUT)) {
        throw new BadInputError(
            `the program in ${options.projectDir} returns no '${MLOPS_STACK_OUTPUT}' stack output${names.length > 0 ? ` (it returns ${names.join(", ")})` : ""}, so a rollback would not stick and mlops could not tell what serves; nothing was changed. ${missingStackOutputAdvice()}`,
        );
    }
}

interface PlannedStackFileEdit {
    /** The stack file's text now, which a switch that did not happen puts back. */
    readonly original: string;
    /** Its text after the change. */
    readonly edited: string;
}

/**
 * The stack file's text after `edit`, with every refusal of its write made
 * now, before the restore, a switch or an update changes anything: those of
 * `editStackFileText` (an alias or anchor it cannot write through, no
 * `mlops:database` map for `restoredInto`) and those of `replaceFile` (not a
 * regular file; read-only: no `w` bit, or none for this user), plus a
 * directory the replacement file cannot be created in. Each is a
 * StackFileError (exit 2) that says nothing was changed.
 */
function plannedStackFileEdit(file: string, edit: PinEdit): PlannedStackFileEdit {
    const unchanged = "; nothing was changed";
    const original = readFileSync(file, "utf8");
    let edited: string;
    try {
        edited = editStackFileText(original, edit);
    } catch (error) {
        if (!(error instanceof StackFileError)) throw error;
        throw new StackFileError(`${file}: ${error.message}${unchanged}`);
    }
    // Text equal to the file's is not written (replaceFile), so a read-only file is no obstacle then.
    if (edited === original) return { original, edited };
    const refusal = writeRefusal(file);
    if (refusal !== undefined) throw new StackFileError(`${refusal.problem}${unchanged}${refusal.fix === undefined ? "" : `: ${refusal.fix}`}`);
    return { original, edited };
}

async function runPinChangeLocked(kind: PinChange["kind"], options: PinChangeOptions, deps: PinChangeDeps): Promise<PinChangeResult> {
    const now = deps.now ?? (() => new Date());
    // Read again under the lock: another run may have changed it just before.
    const { raw, config: fileConfig } = loadStackConfig(options.file);
    refuseOffline(kind, options, fileConfig, deps);

    // 2. The stack's quarantine ledger: the file may be a stale copy that
    //    never saw a rollback, so decide again with what the stack recorded.
    const opening = deps.openStack(options.stack, options.projectDir);
    // aws:region and kubernetes:kubeconfig: where the update goes, and so what the checks ask.
    const providerSettings = providerSettingsOf(options.file);
    // A Kubernetes rollback: load the cluster's client while pulumi reads the stack.
    const trafficSwitch = fileConfig.target === "kubernetes" && options.dryRun !== true ? deps.trafficSwitch?.(providerSettings) : undefined;
    const stack = await opening;
    const outputs = await stack.outputs();
    // A stack never deployed has no outputs to tell whether the program exports mlops: ask the program.
    if (Object.keys(outputs).length === 0) await refuseProgramWithoutStackOutput(options, raw, deps);
    const ledger = ledgerFromOutput(outputs.quarantineLedger);
    const servingHistory = servedVersions(servingRecordOf(outputs));
    const config: StackView = { ...withLedgerQuarantine(fileConfig, ledger), servingHistory };
    const deployedPin = typeof outputs.pinnedVersion === "string" ? outputs.pinnedVersion : null;
    // What an update cut short left behind, and whether the last update at
    // the pin the stack records finished (a plain `pulumi up` that failed
    // there, say): then a rollback without --version must not guess.
    const interrupted = await stack.pendingOperations();
    const atPinUnfinished =
        deployedPin !== null &&
        deployedPin === fileConfig.pinned &&
        (options.version === undefined || options.version === fileConfig.pinned) &&
        (interrupted.length > 0 || (await stack.history(1))[0]?.result === "failed");
    if (kind === "rollback" && options.version === undefined && atPinUnfinished) {
        // Finish it, or roll back further? Only the user knows.
        throw new BadInputError(
            `the last update of stack ${options.stack} did not finish${interrupted.length > 0 ? ` (${interrupted.length} operation${interrupted.length === 1 ? "" : "s"} left pending)` : " (it failed)"}, and the stack already runs ${deployedPin}, the pinned version; nothing was changed. To finish that update, run mlops deploy --stack ${options.stack} --version ${deployedPin}; to roll back further from ${deployedPin}, name the target: mlops rollback --stack ${options.stack} --version <v>.`,
        );
    }
    const unfinishedRollback = kind === "rollback" ? decideUnfinishedRollback({ ...fileConfig, servingHistory }, deployedPin, ledger, options) : undefined;
    const decision =
        unfinishedRollback ??
        (kind === "deploy" && options.version !== undefined
            ? decideDeploy(config, { version: options.version, reason: options.reason, force: options.force, deployedPin, rerun: atPinUnfinished })
            : decide(kind, config, options, deployedPin));
    if (!decision.ok) {
        // Name the ledger only when it is what changed the answer.
        const ledgerDecided = Object.keys(ledger).length > 0 && decide(kind, { ...fileConfig, servingHistory }, options, deployedPin).ok;
        throw new BadInputError(ledgerDecided ? `${decision.refusal} (from the stack's quarantine ledger: ${describeLedger(ledger)})` : decision.refusal);
    }
    const change = decision.change;
    if (options.expectFrom !== undefined && (change.from !== options.expectFrom || (deployedPin !== null && deployedPin !== options.expectFrom))) {
        // The trigger's build checks out a branch that may be ahead of (or
        // behind) what serves: never quarantine a version the alarm was not about.
        throw new BadInputError(
            `--expect-from ${options.expectFrom}: the stack file pins ${change.from} and the stack last deployed ${deployedPin ?? "nothing"}; the alarm was about ${options.expectFrom}, so nothing was changed. Roll back by hand after checking what serves.`,
        );
    }
    const restore = options.restoreDatabase === true ? await prepareRestore(kind, config, outputs, change, providerSettings.awsRegion, deps, now()) : undefined;
    try {
        parseStackConfig(configAfter(raw, change, restore?.plan.restoredDatabase));
    } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        throw new BadInputError(`the config after this ${kind} would be invalid: ${error.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    }
    const edit: PinEdit = { pinned: change.to, quarantined: change.quarantined, allowRedeploy: change.allowRedeploy };
    // Every refusal the write of the stack file can make, now: after the restore or a switch, a refusal would leave them recorded nowhere.
    const fileEdit = options.dryRun === true ? undefined : plannedStackFileEdit(options.file, { ...edit, restoredInto: restore?.plan.restoredDatabase });

    // 3. Confirmation, with what an interrupted update left behind.
    deps.stderr(`${describeChange(config, change, options, deployedPin === null)}\n`);
    if (interrupted.length > 0) deps.stderr(`${describeInterrupted(options.stack, interrupted, options.dryRun === true)}\n`);
    if (restore !== undefined) deps.stderr(`${describeRestore(restore.plan, restore.snapshot, now(), config.database?.addressEnv)}\n`);
    if (!options.yes && !options.dryRun && deps.confirm !== undefined) {
        if (!(await deps.confirm(`${kind === "rollback" ? "Roll back" : "Deploy"} ${config.model} on stack ${options.stack} to ${change.to}?`))) {
            throw new BadInputError("not confirmed; nothing changed");
        }
    }

    const startedAt = now();
    const afterFastPath = kind === "rollback" && options.afterFastPath === true && config.target === "sagemaker";
    const rollbackEvent: RollbackEvent | undefined =
        kind === "rollback"
            ? {
                  from: change.from,
                  to: change.to,
                  reason: change.reason ?? "manual rollback",
                  at: startedAt.toISOString(),
                  ...(afterFastPath ? { afterFastPath: true } : {}),
              }
            : undefined;
    const onEvent = (engineEvent: EngineEvent) => {
        // The engine's error diagnostics come once, in the failure they cause (rollback/engineErrors.ts), not also as they arrive.
        if (engineEvent.diagnosticEvent !== undefined) return;
        const line = progressLine(engineEvent, startedAt.getTime(), now().getTime());
        if (line !== undefined) deps.stderr(`${line}\n`);
    };
    const base = {
        kind,
        stack: options.stack,
        from: change.from,
        to: change.to,
        ...(restore === undefined
            ? {}
            : {
                  database: {
                      snapshot: restore.plan.snapshot.identifier,
                      restoredInto: restore.plan.restoredDatabase,
                      replaced: restore.plan.replacedDatabase,
                  },
              }),
    };
    const seconds = () => Math.round((now().getTime() - startedAt.getTime()) / 100) / 10;

    if (options.dryRun) {
        // The preview reads the new pin from an edited copy (cli/previewConfigFile.ts):
        // the stack file is never written, whatever signal arrives. A restore
        // is not previewed: its database does not exist yet.
        const edited = editStackFileText(readFileSync(options.file, "utf8"), edit);
        try {
            const preview = await withPreviewConfigFile(options.file, edited, (configFile, signal) =>
                stack.preview({ message: change.message, onEvent, rollbackEvent, configFile, signal }),
            );
            return { ...base, dryRun: true, result: "previewed", durationSeconds: seconds(), changes: preview.changeSummary };
        } catch (error) {
            if (!(error instanceof EngineCommandError)) throw error;
            throw Object.assign(
                new OperationFailedError(`the preview of the ${kind} to ${change.to} failed: ${firstLines(error.message)}\nNothing was changed.`),
                { result: { ...base, dryRun: true, result: "failed", durationSeconds: seconds(), error: firstLines(error.message) } },
            );
        }
    }

    // An update cut short (engine killed, API server gone) left operations
    // pending and perhaps its lock: read those resources back first.
    if (interrupted.length > 0) {
        deps.stderr("Repairing the state the interrupted update left...\n");
        const onRepairEvent = (engineEvent: EngineEvent) => {
            if (engineEvent.diagnosticEvent !== undefined) return;
            const line = progressLine(engineEvent, startedAt.getTime(), now().getTime(), true);
            if (line !== undefined) deps.stderr(`${line}\n`);
        };
        await withStaleLockRecovery(stack, () => stack.repairInterrupted(interrupted, onRepairEvent), deps);
    }
    if (afterFastPath) await reconcileWithFastPath(stack, outputs, providerSettings.awsRegion, deps, onEvent);
    if (restore !== undefined) {
        try {
            await restoreDatabase(restore, config.model, options.stack, deps);
        } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            const failed: PinChangeResult = { ...base, dryRun: false, result: "failed", durationSeconds: seconds(), error: firstLines(message) };
            await notifyTeam(config, failed, change, deps, stack);
            throw Object.assign(
                new OperationFailedError(
                    `the database restore failed, so the ${kind} did not run: ${firstLines(message)}\n${restore.plan.replacedDatabase} and every snapshot are untouched, and the stack file is unchanged; if RDS got as far as creating ${restore.plan.restoredDatabase}, it is kept for you to inspect. Run again, or roll back without --restore-database.`,
                ),
                { result: failed },
            );
        }
    }

    const fastSwitch =
        kind === "rollback" && config.target === "kubernetes" && restore === undefined
            ? await decideFastSwitch(config, outputs, change, deployedPin, trafficSwitch, deps)
            : undefined;
    // A switch recorded by an earlier update whose selector mlops-rollback
    // still holds (that run stopped before giving it back) would make this
    // update's apply conflict: give it back first.
    if (fastSwitch === undefined && config.target === "kubernetes") {
        // Under the lock, after every check: the version the update moves the Service away from, or the pin the stack recorded.
        await releaseSwitchOwnership(outputs, [...new Set([change.from, ...(deployedPin === null ? [] : [deployedPin])])], trafficSwitch, deps);
    }
    const weightsSwitch =
        kind === "rollback" && config.target === "sagemaker" && restore === undefined && !afterFastPath
            ? await decideSageMakerSwitch(config, outputs, change, deployedPin, providerSettings.awsRegion, deps)
            : undefined;
    // Checked above (plannedStackFileEdit), under the lock since: the file is as it was read.
    const { original, edited } = fileEdit as PlannedStackFileEdit;
    replaceFile(options.file, edited);
    const switched =
        fastSwitch !== undefined
            ? await switchTraffic(fastSwitch, options, original, seconds, () => stack.openEngine?.(), deps)
            : weightsSwitch !== undefined
              ? await switchSageMakerWeights(weightsSwitch, options, original, seconds, deps)
              : undefined;
    const trafficSwitchedSeconds = switched?.confirmedSeconds;
    deps.stderr(
        `${options.file}: mlops:pinned is now ${change.to}${kind === "rollback" ? `, ${change.from} quarantined` : ""}. ${switched === undefined ? "Running the update..." : "Recording it in the stack (the update)..."}\n`,
    );
    let summary: UpSummary;
    try {
        summary = await withStaleLockRecovery(stack, () => stack.up({ message: change.message, onEvent, rollbackEvent }), deps);
    } catch (error) {
        // Another update held the stack: ours never ran, so the file goes back as it was.
        if (error instanceof StackBusyError && restore !== undefined) {
            // The database is restored already: the file keeps the pin and
            // restoredInto, or the restore would be lost to the next run.
            throw Object.assign(
                new OperationFailedError(
                    `${error.message}. The database was already restored into ${restore.plan.restoredDatabase}, so ${options.file} keeps mlops:pinned ${change.to} and mlops:database.restoredInto; once the other update is done, run pulumi up --stack ${options.stack} to finish.`,
                ),
                { result: { ...base, dryRun: false, result: "failed", durationSeconds: seconds(), error: error.message } },
            );
        }
        if (error instanceof StackBusyError && switched !== undefined) {
            // Traffic has moved: the file keeps the pin that says so, or the next run would call the Service changed outside the stack.
            throw Object.assign(
                new OperationFailedError(
                    `${error.message}. Traffic is on ${change.to} already (${switchedWhat(config)}), so ${options.file} keeps mlops:pinned ${change.to}; once the other update is done, run mlops rollback --stack ${options.stack} to record it.`,
                ),
                { result: { ...base, dryRun: false, result: "failed", durationSeconds: seconds(), error: error.message } },
            );
        }
        if (error instanceof StackBusyError) {
            replaceFile(options.file, original);
            throw error;
        }
        const message = error instanceof Error ? error.message : String(error);
        const failed: PinChangeResult = {
            ...base,
            dryRun: false,
            result: "failed",
            durationSeconds: seconds(),
            error: firstLines(message),
            ...(trafficSwitchedSeconds === undefined ? {} : { trafficSwitchedSeconds }),
        };
        await notifyTeam(config, failed, change, deps, stack);
        const traffic =
            switched === undefined
                ? ""
                : `\nTraffic is on ${change.to} already (${switchedWhat(config)} before the update); only the stack's record of it is missing.`;
        throw Object.assign(
            new OperationFailedError(
                `the ${kind} to ${change.to} failed: ${firstLines(message)}${traffic}\nThe stack file still pins ${change.to}: once the cause is fixed, finish it with ${finishCommand(kind, options.stack, change.to)} (or pulumi up --stack ${options.stack})${kind === "rollback" ? `; or roll back elsewhere with mlops rollback --stack ${options.stack} --version <v>, or pin again what served before with mlops deploy --stack ${options.stack} --version ${change.from} --force` : `, or go back with mlops rollback --stack ${options.stack}`}.`,
            ),
            { result: failed },
        );
    }
    let verification: VerificationResult;
    try {
        verification = await deps.verifierFor(config.target, providerSettings).verify(summary.outputs, change.to);
    } catch (error) {
        // The update ran; not knowing what serves is a failure to report and notify, not a crash.
        verification = { ok: false, detail: `could not check what serves: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (verification.ok && config.target === "kubernetes") {
        await releaseSwitchOwnership(summary.outputs, [change.to], trafficSwitch, deps);
    }
    const result: PinChangeResult = {
        ...base,
        dryRun: false,
        result: verification.ok ? "succeeded" : "failed",
        durationSeconds: seconds(),
        verification: verification.detail,
        ...(trafficSwitchedSeconds === undefined ? {} : { trafficSwitchedSeconds }),
        changes: summary.resourceChanges,
    };
    await notifyTeam(config, result, change, deps, stack);
    if (!verification.ok) {
        throw Object.assign(new OperationFailedError(`the update finished, but what serves is not what is pinned: ${verification.detail}`), { result });
    }
    return result;
}

/** How long the instant switch waits for the EndpointSlices to list only the target's pods before it reports and goes on. */
const TRAFFIC_CONFIRM_TIMEOUT_MS = 30_000;

interface FastSwitch {
    readonly target: SwitchTarget;
    readonly decision: Extract<SwitchDecision, { kind: "switch" | "already-switched" }>;
    readonly api: TrafficSwitch;
}

/**
 * A Kubernetes rollback: read the Service and the target's Deployment and
 * decide whether traffic moves now, with one write, or through the update
 * (rollback/kubernetesSwitch.ts, decideSwitch). A Service that
 * selects neither version is refused before anything is written.
 */
async function decideFastSwitch(
    config: StackConfig,
    outputs: Record<string, unknown>,
    change: PinChange,
    deployedPin: string | null,
    api: TrafficSwitch | undefined,
    deps: PinChangeDeps,
): Promise<FastSwitch | undefined> {
    const kubernetes = outputs.kubernetes as
        { namespace?: unknown; serviceName?: unknown; serviceUid?: unknown; deploymentNames?: Record<string, unknown> } | undefined;
    const settings = config.kubernetes;
    if (api === undefined || settings === undefined || !change.warm) return undefined;
    if (typeof kubernetes?.namespace !== "string" || typeof kubernetes.serviceName !== "string") return undefined;
    if (typeof kubernetes.serviceUid !== "string") {
        // Without it, a kubeconfig that reaches another cluster could be written to.
        deps.stderr("No instant switch: the stack's record names no Service uid yet (its last update predates it); this update records it.\n");
        return undefined;
    }
    const deployed = kubernetes.deploymentNames?.[change.to];
    const where = {
        namespace: kubernetes.namespace,
        serviceName: kubernetes.serviceName,
        to: change.to,
        serviceUid: kubernetes.serviceUid,
        targetDeployment: typeof deployed === "string" ? deployed : kubernetesDeploymentName(config.model, change.to),
    };
    let observation;
    try {
        observation = await api.observe({ ...where, from: change.from });
    } catch (error) {
        deps.stderr(`No instant switch: could not read the Service (${error instanceof Error ? error.message : String(error)}); the update moves traffic.\n`);
        return undefined;
    }
    // The file's pin, or the pin the stack last recorded (they differ after an update that did not finish).
    const leaving = [...new Set([change.from, ...(deployedPin === null ? [] : [deployedPin])])];
    const decision = decideSwitch(
        observation,
        { ...where, leaving },
        {
            replicas: settings.replicas,
            standbyReplicas: settings.standbyReplicas ?? settings.replicas,
            atReducedCapacity: settings.rollbackAtReducedCapacity,
            startupTimeoutSeconds: settings.startupTimeoutSeconds,
        },
    );
    if (decision.kind === "refuse") throw new OperationFailedError(`${decision.why}. Check what serves (mlops status), then run again.`);
    if (decision.kind === "through-update") {
        deps.stderr(`No instant switch: ${decision.why}.\n`);
        return undefined;
    }
    // The compare-and-set tests the version the Service selects now.
    return { target: { ...where, from: observation.selected ?? change.from }, decision, api };
}

/** How the switch went: traffic moved (and whether the EndpointSlices confirmed it, how soon). */
interface SwitchedTraffic {
    /** Seconds from the start of the change until the EndpointSlices listed only the target's ready pods; undefined when they did not confirm it. */
    readonly confirmedSeconds?: number;
}

/**
 * The one write, then the data plane's word. A switch that did not happen
 * (it lost its compare-and-set, or the API server refused it) puts the
 * stack file back and fails: nothing else changed. A confirmation that
 * does not come (or a watch that fails) is reported and the update still
 * runs: the Service has moved, and only the update records it.
 */
async function switchTraffic(
    fast: FastSwitch,
    options: PinChangeOptions,
    original: string,
    seconds: () => number,
    openEngine: () => void,
    deps: PinChangeDeps,
): Promise<SwitchedTraffic> {
    const { target, api } = fast;
    const giveUp = (why: string): never => {
        replaceFile(options.file, original);
        throw new OperationFailedError(`${why}; ${options.file} is as it was. Check what serves (mlops status), then run again.`);
    };
    if (fast.decision.kind === "switch") {
        let write;
        try {
            write = await api.switchSelector(target);
        } catch (error) {
            // The write may have landed before the error (a timeout): the Service says.
            const now = await api.observe(target).catch(() => undefined);
            if (now?.selected !== target.to) {
                giveUp(
                    `the switch of Service ${target.namespace}/${target.serviceName} to ${target.to} failed (${error instanceof Error ? error.message : String(error)}), and it still selects ${now?.selected ?? "(unknown)"}`,
                );
            }
            write = { kind: "switched" as const };
        }
        if (write.kind === "conflict" && write.selected !== target.to) {
            giveUp(
                `the Service stopped selecting version ${target.from} while this rollback ran (it selects ${write.selected ?? "(none)"} now): another change moved it; nothing was written`,
            );
        }
        deps.stderr(
            write.kind === "switched"
                ? `Switched Service ${target.namespace}/${target.serviceName} from ${target.from} to ${target.to} (one compare-and-set write; ${fast.decision.why}).\n`
                : `The Service came to select version ${target.to} while this rollback ran (another run or the alarm trigger switched it); nothing was written.\n`,
        );
    } else {
        deps.stderr(`${capitalized(fast.decision.why)}.\n`);
    }
    let confirmation;
    try {
        confirmation = await api.waitForTraffic(target, TRAFFIC_CONFIRM_TIMEOUT_MS);
    } catch (error) {
        deps.stderr(
            `warning: could not watch the EndpointSlices (${error instanceof Error ? error.message : String(error)}); the Service selects ${target.to}, and the check after the update says what serves.\n`,
        );
    }
    const at = seconds();
    // The update that records the switch comes next: start opening its workspace (not before: loading it holds this process for a moment).
    openEngine();
    if (confirmation === undefined) return {};
    if (!confirmation.confirmed) {
        deps.stderr(
            `warning: ${confirmation.seconds} s after the switch the EndpointSlices still list ${confirmation.view.otherReady} ready pod(s) of other versions and ${confirmation.view.targetReady} of ${target.to}; recording the rollback anyway, and the check after the update says what serves.\n`,
        );
        return {};
    }
    deps.stderr(
        `Traffic is on ${target.to}: its ${confirmation.view.targetReady} ready pod(s) are the only endpoints of the Service, ${at} s after the rollback began.\n`,
    );
    return { confirmedSeconds: at };
}

/** After a verified update (or before one mlops runs): the switch's field manager gives the selector back, so that the update applies without a conflict. */
async function releaseSwitchOwnership(
    outputs: Record<string, unknown>,
    releasable: readonly string[],
    api: TrafficSwitch | undefined,
    deps: PinChangeDeps,
): Promise<void> {
    const kubernetes = outputs.kubernetes as { namespace?: unknown; serviceName?: unknown } | undefined;
    if (api === undefined || typeof kubernetes?.namespace !== "string" || typeof kubernetes.serviceName !== "string") return;
    try {
        const said = await api.releaseSelector(kubernetes.namespace, kubernetes.serviceName, releasable);
        if (said !== "") deps.stderr(`${said}.\n`);
    } catch (error) {
        // Left held, a later update of the selector reports a field conflict naming mlops-rollback; the next mlops deploy or rollback gives it back first.
        deps.stderr(
            `warning: could not give the Service's selector back to the stack's updates (${error instanceof Error ? error.message : String(error)}); the next mlops deploy or rollback does.\n`,
        );
    }
}

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * After the alarm trigger's fast path: wait until SageMaker is done with the
 * endpoint, then refresh it, so that Pulumi's state says what really serves
 * before the update. The update then finds the endpoint already on the
 * target and (with the live deployment policy kept) changes nothing on it.
 */
async function reconcileWithFastPath(
    stack: StackSession,
    outputs: Record<string, unknown>,
    awsRegion: string | undefined,
    deps: PinChangeDeps,
    onEvent: (event: EngineEvent) => void,
): Promise<void> {
    const endpointName = (outputs.sagemaker as { endpointName?: unknown } | undefined)?.endpointName;
    if (typeof endpointName !== "string") throw new BadInputError("--after-fast-path: the stack's outputs name no SageMaker endpoint; run without it");
    if (deps.endpointStatus === undefined) throw new Error("--after-fast-path needs SageMaker access, which this build of mlops lacks");
    const read = deps.endpointStatus(awsRegion);
    const status = await waitForEndpointSettled(endpointName, read, {
        sleep: deps.sleep,
        onWait: (current, waited) =>
            deps.stderr(`Endpoint ${endpointName} is ${current} (${waited} s); waiting for SageMaker to finish before reconciling...\n`),
    });
    deps.stderr(`Endpoint ${endpointName} is ${status}. Refreshing it so that the stack's state matches what serves...\n`);
    await stack.refreshType(SAGEMAKER_ENDPOINT_TYPE, onEvent);
    // Hot standby: the trigger moved the live weights; read them back too, so that the update finds them as it wants them.
    if (endpointVariantsFromOutput((outputs.sagemaker as { endpointVariants?: unknown }).endpointVariants) !== undefined) {
        await stack.refreshType(ENDPOINT_VARIANT_WEIGHTS_TYPE, onEvent);
    }
}

const SAGEMAKER_ENDPOINT_TYPE = "aws:sagemaker/endpoint:Endpoint";

/** What moved traffic before the update, for messages. */
const switchedWhat = (config: StackConfig): string =>
    config.target === "sagemaker" ? "the endpoint's variant weights were moved" : "the Service was switched";

interface SageMakerSwitch {
    readonly endpointName: string;
    readonly target: WeightsSwitchTarget;
    readonly decision: Extract<WeightsDecision, { kind: "switch" | "already-switched" }>;
    readonly api: WeightsApi;
}

/**
 * A SageMaker rollback under hot standby: read the endpoint and decide
 * whether traffic moves now with UpdateEndpointWeightsAndCapacities or
 * through the update (rollback/sagemakerWeightsSwitch.ts). An endpoint that
 * is not as the stack recorded it is refused before anything is written;
 * one SageMaker is busy with is waited for (bounded), then decided again.
 */
async function decideSageMakerSwitch(
    config: StackConfig,
    outputs: Record<string, unknown>,
    change: PinChange,
    deployedPin: string | null,
    awsRegion: string | undefined,
    deps: PinChangeDeps,
): Promise<SageMakerSwitch | undefined> {
    const sagemaker = outputs.sagemaker as { endpointName?: unknown; endpointConfigNames?: Record<string, unknown>; endpointVariants?: unknown } | undefined;
    const record = endpointVariantsFromOutput(sagemaker?.endpointVariants);
    if (deps.sagemakerWeights === undefined || config.sagemaker?.standby !== "hot" || record === undefined || typeof sagemaker?.endpointName !== "string") {
        return undefined;
    }
    const from = deployedPin ?? change.from;
    const configName = sagemaker.endpointConfigNames?.[from];
    if (typeof configName !== "string" || variantOf(record, change.to) === undefined) {
        deps.stderr(
            `No weights switch: version ${change.to} is not a variant of the endpoint's config (only ${record.variants.map((v) => v.version).join(", ")} are); the update starts a new fleet.\n`,
        );
        return undefined;
    }
    const target: WeightsSwitchTarget = { configName, record, from, to: change.to, instanceCount: config.sagemaker.instanceCount };
    const api = deps.sagemakerWeights(awsRegion);
    const endpointName = sagemaker.endpointName;
    let decision: WeightsDecision;
    try {
        decision = decideWeightsSwitch(await api.describe(endpointName), target);
        for (let waited = 0; decision.kind === "busy" && waited < BUSY_WAIT_SECONDS; waited += BUSY_POLL_SECONDS) {
            deps.stderr(`Endpoint ${endpointName}: ${decision.why}; waiting for SageMaker to finish (${waited} s)...\n`);
            await (deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(BUSY_POLL_SECONDS * 1000);
            decision = decideWeightsSwitch(await api.describe(endpointName), target);
        }
    } catch (error) {
        deps.stderr(`No weights switch: could not read endpoint ${endpointName} (${messageOf(error)}); the update moves traffic.\n`);
        return undefined;
    }
    if (decision.kind === "busy") {
        throw new OperationFailedError(
            `endpoint ${endpointName}: ${decision.why} after ${BUSY_WAIT_SECONDS} s; nothing was changed. Run again once it is InService.`,
        );
    }
    if (decision.kind === "refuse" || decision.kind === "through-update") {
        // Not the config and weights the stack recorded (e.g. an update of this stack that changed the endpoint and then
        // failed): the update, which declares what serves, moves traffic, as under cold standby; no weight is moved on a
        // config this run did not decide on.
        deps.stderr(`No weights switch: ${decision.why}; the update moves traffic (SageMaker starts a new fleet if the config changes).\n`);
        return undefined;
    }
    return { endpointName, target, decision, api };
}

/**
 * Whether traffic is on `variant` or on its way there (current or desired
 * weight above 0): "none" only when DescribeEndpoint says so; "unknown"
 * when it cannot be read (then the stack file keeps the target: traffic may
 * have moved).
 */
async function weightOnTarget(api: WeightsApi, endpointName: string, variant: string): Promise<"some" | "none" | "unknown"> {
    const live = await api.describe(endpointName).catch(() => undefined);
    if (live === undefined) return "unknown";
    const found = live.variants.find((candidate) => candidate.variantName === variant);
    return (found?.weight ?? 0) > 0 || (found?.desiredWeight ?? 0) > 0 ? "some" : "none";
}

/** How long a rollback waits for SageMaker to finish with a busy endpoint before the weights switch, and how often it looks. */
const BUSY_WAIT_SECONDS = 600;
const BUSY_POLL_SECONDS = 15;

/**
 * The weights call(s), then DescribeEndpoint's word. A switch that did not
 * happen (refused, failed, and the weight still on the version left) puts
 * the stack file back and fails: nothing else changed. A confirmation that
 * does not come is reported and the update still runs.
 */
async function switchSageMakerWeights(
    fast: SageMakerSwitch,
    options: PinChangeOptions,
    original: string,
    seconds: () => number,
    deps: PinChangeDeps,
): Promise<{ readonly confirmedSeconds?: number }> {
    const { endpointName, target, decision, api } = fast;
    const toVariant = variantOf(target.record, target.to) ?? "";
    if (decision.kind === "already-switched") {
        deps.stderr(`${capitalized(decision.why)} (the alarm trigger or another run moved it); nothing was written.\n`);
        return { confirmedSeconds: seconds() };
    }
    deps.stderr(
        `Moving endpoint ${endpointName} from ${target.from} to ${target.to} with ${decision.calls.length === 1 ? "one UpdateEndpointWeightsAndCapacities call" : `${decision.calls.length} UpdateEndpointWeightsAndCapacities calls`} (${decision.why})...\n`,
    );
    let result;
    try {
        result = await switchWeights(api, endpointName, target, {
            sleep: deps.sleep,
            onWait: (what, waited) => deps.stderr(`${what} (${waited} s)...\n`),
        });
    } catch (error) {
        if ((await weightOnTarget(api, endpointName, toVariant)) === "none") {
            replaceFile(options.file, original);
            throw new OperationFailedError(
                `the weights switch of endpoint ${endpointName} to ${target.to} failed (${messageOf(error)}), and no weight is on ${target.to} or on its way there; ${options.file} is as it was. Check what serves (mlops status), then run again.`,
            );
        }
        deps.stderr(
            `warning: the weights switch reported ${messageOf(error)}, but variant ${toVariant} has or is getting weight (or the endpoint could not be read); recording the rollback, and the check after the update says what serves.\n`,
        );
        return {};
    }
    if (!result.confirmed) {
        if ((await weightOnTarget(api, endpointName, toVariant)) === "none") {
            replaceFile(options.file, original);
            throw new OperationFailedError(
                `after ${result.calls} UpdateEndpointWeightsAndCapacities call(s) SageMaker still shows no weight on variant ${toVariant} (${JSON.stringify(result.live.variants)}); ${options.file} is as it was. Check what serves (mlops status), then run again.`,
            );
        }
        deps.stderr(
            `warning: after ${result.calls} call(s) DescribeEndpoint does not show variant ${toVariant} with all the weight (${JSON.stringify(result.live.variants)}); recording the rollback anyway, and the check after the update says what serves.\n`,
        );
        return {};
    }
    const at = seconds();
    deps.stderr(`Traffic is on ${target.to}: variant ${toVariant} carries all the weight, ${at} s after the rollback began.\n`);
    return { confirmedSeconds: at };
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function describeLedger(ledger: QuarantineLedger): string {
    const entries = Object.entries(ledger);
    return entries.length === 0 ? "empty" : entries.map(([id, entry]) => `${id} rolled back at ${entry.at}`).join(", ");
}

function describeInterrupted(stackName: string, pending: readonly PendingOperation[], dryRun: boolean): string {
    const listed = pending.map((operation) => `${operation.operation} ${operation.type} ${operation.name}`).join("; ");
    const creates = pending.some((operation) => operation.operation === "creating");
    return [
        `The last update of stack ${stackName} was cut short: ${pending.length} operation${pending.length === 1 ? "" : "s"} never finished (${listed}).`,
        dryRun
            ? "A dry run changes nothing, so the preview works from that state; the real run repairs it first."
            : `Before this update, mlops reads ${pending.length === 1 ? "that resource" : "those resources"} back from the cloud so that the state says what exists${creates ? ", and drops the unfinished creates from the state: this update creates them again (Kubernetes adopts an object that exists by name)" : ""}. The repair deletes nothing in the cloud; a resource found gone is dropped from the state.`,
    ].join("\n");
}

/**
 * Run `operation`; if a local (file://) backend's lock stops it and that
 * lock's engine is gone from this host (killed mid-update), remove that one
 * lock file and run it once more. A live holder, one on another host, or a
 * lock in any other backend is never removed.
 */
async function withStaleLockRecovery<T>(stack: StackSession, operation: () => Promise<T>, deps: PinChangeDeps): Promise<T> {
    try {
        return await operation();
    } catch (error) {
        const holder = error instanceof StackBusyError ? error.holder : undefined;
        const here = deps.lockEnvironment ?? thisProcess();
        if (holder === undefined || holder.host !== here.host || here.isRunning(holder.pid)) throw error;
        if (!(await stack.removeDeadLock(holder))) throw error;
        deps.stderr(
            `Removed the stack's lock ${holder.file ?? ""}: it belonged to an engine that is no longer running (pid ${holder.pid} on ${holder.host}, since ${holder.at}), whose update was cut short.\n`,
        );
        return await operation();
    }
}

/** The command that runs an unfinished change again (see decideUnfinishedRollback and decideDeploy). */
const finishCommand = (kind: PinChange["kind"], stack: string, to: string): string =>
    kind === "rollback" ? `mlops rollback --stack ${stack}` : `mlops deploy --stack ${stack} --version ${to}`;

/** What the change is, for the terminal; `neverDeployed`: the stack has no `mlops` output yet (its first update). */
function describeChange(config: StackConfig, change: PinChange, options: PinChangeOptions, neverDeployed: boolean): string {
    const how = change.warm ? "warm: a pointer move, nothing to build first" : "cold: the version's resources are built before traffic moves";
    const lines = [
        `${change.kind === "rollback" ? "Rollback" : "Deploy"} of ${config.model} on stack ${options.stack}: ${change.from} -> ${change.to} (${how}).`,
    ];
    if (change.from !== config.pinned) {
        lines.push(
            `The stack file already pins ${change.to}, but the stack still runs ${change.from}: an update to ${change.to} did not finish, and this runs it again.`,
        );
    } else if (change.from === change.to) {
        // A new stack (no output yet) is not an update that failed.
        lines.push(
            neverDeployed
                ? `The stack has not been deployed yet: this is its first update.`
                : `The last update to ${change.to} did not finish; this runs it again.`,
        );
    }
    if (change.standIn !== undefined) {
        lines.push(
            change.kind === "rollback" ? `Version ${change.to} has not served on this stack: ${change.standIn}.` : `After this deploy, ${change.standIn}.`,
        );
    }
    if (change.kind === "rollback") lines.push(`Version ${change.from} will be quarantined. Update message: "${change.message}".`);
    if (options.dryRun) lines.push(`Dry run: previewing only, from an edited copy; ${options.file} is not changed.`);
    return lines.join("\n");
}

async function notifyTeam(config: StackConfig, result: PinChangeResult, change: PinChange, deps: PinChangeDeps, stack: StackSession): Promise<void> {
    const target = config.rollback.notify;
    if (target === undefined || result.result === "previewed") return;
    const notice: RollbackNotice = {
        stack: result.stack,
        model: config.model,
        kind: change.kind,
        from: change.from,
        to: change.to,
        reason: change.reason ?? "",
        result: result.result,
        durationSeconds: result.durationSeconds,
        detail: result.verification ?? result.error ?? "",
    };
    try {
        await deps.notify(await notifyAddress(target, stack), notice);
    } catch (error) {
        // A failed notification must not hide the result of the update itself; the warning never shows a webhook's token.
        deps.stderr(`warning: ${notifyFailure(target, error)}\n`);
    }
}

export function renderResult(result: PinChangeResult): string {
    if (result.result === "previewed") {
        return `Preview of ${result.kind} ${result.from} -> ${result.to} on ${result.stack}: ${changeSummary(result.changes ?? {})}. Nothing was changed.`;
    }
    const database =
        result.database === undefined
            ? ""
            : ` The database was restored into ${result.database.restoredInto}; ${result.database.replaced} is kept untouched until you remove it.`;
    return `${result.kind === "rollback" ? "Rolled back" : "Deployed"} ${result.stack} ${result.from} -> ${result.to} in ${result.durationSeconds}s (${changeSummary(result.changes ?? {})}); ${result.verification}.${database}`;
}

function firstLines(text: string): string {
    return text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .slice(0, 6)
        .join("\n");
}
