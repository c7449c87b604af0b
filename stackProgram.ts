/**
 * The whole serving stack from the `mlops:*` stack config: what a user's
 * Pulumi program calls (through the public entry point, `api.ts`) and what
 * `mlops deploy` / `rollback` rely on. It reads and validates the config,
 * checks it against the quarantine ledger of earlier rollbacks, declares the
 * model serving stack, and returns what it serves plus `stackOutput`: the one
 * stack output (`mlops`) through which the next run and the `mlops` CLI learn
 * what this run left (the serving version, the record of what served, the
 * quarantine and snapshot ledgers).
 */
import * as pulumi from "@pulumi/pulumi";
import { StackConfigError, type StackConfig } from "./config/schema";
import { stackConfigFromPulumiConfig } from "./config/sources";
import { nextSnapshotLedger, snapshotLedgerFromOutput, type PreviousDeploy, type SnapshotRecord } from "./database/snapshots";
import { declareModelServing, type ModelServingOutputs } from "./program";
import { nextRetainedVersions } from "./catalog/catalog";
import { endpointVariantsFromOutput, type EndpointVariantsRecord } from "./catalog/endpointVariants";
import { nextServingRecord, servedVersions, servingRecordOf, type ServingRecord } from "./rollback/servingRecord";
import { MLOPS_STACK_OUTPUT, missingStackOutputAdvice } from "./rollback/stackOutput";
import {
    ledgerFromOutput,
    nextLedger,
    ROLLBACK_EVENT_ENV,
    rollbackEventFrom,
    stickyRefusal,
    withLedgerQuarantine,
    type QuarantineLedger,
    type RollbackEvent,
} from "./rollback/ledger";

function stackConfig(): StackConfig {
    try {
        // Every namespace: a key of mlops written under the project's (acme:pinned) is named as such.
        return stackConfigFromPulumiConfig(pulumi.runtime.allConfig(), pulumi.getProject());
    } catch (error) {
        // RunError: Pulumi prints the message alone, without a stack trace
        // of our program, which says nothing about a bad config value.
        if (error instanceof StackConfigError) {
            throw new pulumi.RunError(
                `${error.message}\nFix the stack config (pulumi config set ...) and run again; mlops validate --stack <name> checks it offline.`,
            );
        }
        throw error;
    }
}

interface PreviousRun {
    readonly quarantine: QuarantineLedger;
    /** The versions a rollback left and the last run kept (see `nextRetainedVersions`). */
    readonly retained: string[];
    readonly served: ServingRecord;
    readonly snapshots: SnapshotRecord[];
    readonly deployed: PreviousDeploy;
    /** SageMaker hot standby: the config the endpoint runs. */
    readonly endpointVariants?: EndpointVariantsRecord;
}

/**
 * What the last update left, read from this stack's own `mlops` output: the
 * config file may be a stale copy that never saw a rollback, and only the
 * last run knows which pin the database was last snapshotted for.
 */
async function previousRun(): Promise<PreviousRun> {
    // The logical name predates the snapshot ledger: renaming it would replace the reference.
    const self = new pulumi.StackReference("quarantine-ledger", { name: `${organization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const outputs = (await outputValue(self, MLOPS_STACK_OUTPUT)) ?? (await legacyOutputs(self));
    if (outputs === undefined) await warnIfDeployedWithoutStackOutput(self);
    const serving = (outputs?.database as { servingIdentifier?: unknown } | undefined)?.servingIdentifier;
    return {
        quarantine: ledgerFromOutput(outputs?.quarantineLedger),
        retained: Array.isArray(outputs?.retainedVersions) ? outputs.retainedVersions.filter((id): id is string => typeof id === "string") : [],
        served: servingRecordOf(outputs),
        snapshots: snapshotLedgerFromOutput(outputs?.databaseSnapshots),
        endpointVariants: endpointVariantsFromOutput((outputs?.sagemaker as { endpointVariants?: unknown } | undefined)?.endpointVariants),
        deployed: {
            pinned: typeof outputs?.pinnedVersion === "string" ? outputs.pinnedVersion : null,
            ...(typeof serving === "string" ? { servingDatabase: serving } : {}),
        },
    };
}

/** The DIY (file) backends call every organization this; unit tests' mocks often name none. */
function organization(): string {
    try {
        return pulumi.getOrganization();
    } catch {
        return "organization";
    }
}

/**
 * One output's value, secret or not. getOutputDetails resolves (to
 * undefined) when the value is unknown, as under a preview's mocks, where
 * waiting on `outputs` would never end.
 */
async function outputValue(self: pulumi.StackReference, name: string): Promise<Record<string, unknown> | undefined> {
    const details = await self.getOutputDetails(name);
    const value: unknown = details.value ?? details.secretValue;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Programs of mlops-rollback before the `mlops` output returned these fields as top-level outputs: keep their ledgers. */
async function legacyOutputs(self: pulumi.StackReference): Promise<Record<string, unknown> | undefined> {
    const names = ["pinnedVersion", "warmVersions", "quarantineLedger", "databaseSnapshots", "database"];
    const values = await Promise.all(names.map(async (name) => (await self.getOutputDetails(name)).value as unknown));
    if (values.every((value) => value === undefined)) return undefined;
    void pulumi.log.warn(
        `this stack's last update returned mlops-rollback's fields as top-level outputs, not as '${MLOPS_STACK_OUTPUT}'. ${missingStackOutputAdvice()}`,
    );
    return Object.fromEntries(names.map((name, index) => [name, values[index]]));
}

/** The stack ran before without exporting `mlops`: nothing of a rollback was kept. */
async function warnIfDeployedWithoutStackOutput(self: pulumi.StackReference): Promise<void> {
    // Only where the outputs are known for sure: a preview under mocks may never know them.
    if (pulumi.runtime.isDryRun()) return;
    const names = await new Promise<string[]>((resolve) => self.outputs.apply((values) => resolve(Object.keys(values ?? {}))));
    if (names.length > 0) {
        void pulumi.log.warn(`this stack's last update exported no '${MLOPS_STACK_OUTPUT}' output, so rollbacks will not stick. ${missingStackOutputAdvice()}`);
    }
}

/** What `serveModelFromStackConfig` declared, and the stack output to export. */
export interface ModelServing extends ModelServingOutputs {
    /**
     * Export it as the stack output named `mlops` (`return { mlops: serving.stackOutput }`):
     * the next run reads the quarantine and snapshot ledgers from it, and
     * `mlops status`, `deploy` and `rollback` read what serves. Without it a
     * rollback does not stick and the CLI refuses to run (exit 2).
     */
    readonly stackOutput: Record<string, unknown>;
}

/**
 * The event only counts for the rollback it describes: one left behind in a
 * shell's environment must not quarantine a version on a later deploy.
 */
function rollbackEventFor(config: StackConfig, event: RollbackEvent | undefined): RollbackEvent | undefined {
    if (event === undefined || event.to === config.pinned) return event;
    void pulumi.log.warn(`${ROLLBACK_EVENT_ENV} describes a rollback to ${event.to}, but mlops:pinned is ${config.pinned}: ignored.`);
    return undefined;
}

/**
 * Declare the model serving stack from this stack's `mlops:*` config.
 *
 * Call it once from your Pulumi program and export its `stackOutput` as the
 * stack output `mlops`:
 *
 * ```ts
 * export = async () => {
 *     const serving = await serveModelFromStackConfig();
 *     return { mlops: serving.stackOutput };
 * };
 * ```
 *
 * Refuses (a `pulumi.RunError`, nothing declared) when the config is invalid,
 * or pins a version that an earlier rollback quarantined and the config has
 * not released (`mlops:rollback.allowRedeploy`). `mlops rollback` passes the
 * rollback it runs in the MLOPS_ROLLBACK_EVENT environment variable.
 */
export async function serveModelFromStackConfig(): Promise<ModelServing> {
    const config = stackConfig();
    const rollbackEvent = rollbackEventFor(config, rollbackEventFrom(process.env[ROLLBACK_EVENT_ENV]));
    const previous = await previousRun();
    const refusal = stickyRefusal(previous.quarantine, config);
    if (refusal !== undefined) throw new pulumi.RunError(refusal);
    const now = new Date().toISOString();
    const snapshots = nextSnapshotLedger(previous.snapshots, config, previous.deployed, pulumi.getStack(), now);
    const retainedVersions = nextRetainedVersions(previous.retained, previous.deployed.pinned, config);
    const serving = declareModelServing(withLedgerQuarantine(config, previous.quarantine), {
        keepLiveDeploymentConfig: rollbackEvent?.afterFastPath === true,
        snapshots,
        now,
        servingHistory: servedVersions(previous.served),
        retainedVersions,
        endpointVariants: previous.endpointVariants,
    });
    return {
        ...serving,
        stackOutput: {
            target: serving.target,
            model: serving.model,
            pinnedVersion: serving.pinnedVersion,
            warmVersions: serving.warmVersions,
            warmStandIn: serving.warmStandIn,
            // Written only when the update succeeds (a failed one leaves the outputs as they were): a version enters it once it served.
            servingHistory: nextServingRecord(previous.served, config.pinned, now),
            sagemaker: serving.sagemaker,
            kubernetes: serving.kubernetes,
            alarms: serving.alarms,
            trigger: serving.trigger,
            database: serving.database,
            // Only with mlops:database: a ledger kept without it would make the
            // program declare its snapshots again (and fail to create them) once
            // the section came back.
            databaseSnapshots: config.database === undefined ? undefined : snapshots.ledger,
            quarantineLedger: nextLedger(previous.quarantine, config, rollbackEvent, now),
            // Kept by a rollback, retired by the next forward deploy: the next run reads it back.
            retainedVersions,
        },
    };
}
