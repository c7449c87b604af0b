/**
 * The whole serving stack from the `mlops:*` stack config: what a user's
 * Pulumi program calls (through the public entry point, `api.ts`) and what
 * `mlops deploy` / `rollback` rely on. It reads and validates the config,
 * checks it against the quarantine ledger of earlier rollbacks, declares the
 * model serving stack, and returns what it serves plus `stackOutput`: the one
 * stack output (`mlops`) through which the next run and the `mlops` CLI learn
 * what this run left (the serving version, the quarantine and snapshot ledgers).
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfigError, type StackConfig } from "./config/schema";
import { rawConfigFromPulumiConfig } from "./config/sources";
import { nextSnapshotLedger, snapshotLedgerFromOutput, type PreviousDeploy, type SnapshotRecord } from "./database/snapshots";
import { declareModelServing, type ModelServingOutputs } from "./program";
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
        return parseStackConfig(rawConfigFromPulumiConfig(pulumi.runtime.allConfig()));
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
    readonly snapshots: SnapshotRecord[];
    readonly deployed: PreviousDeploy;
}

/**
 * What the last update left, read from this stack's own `mlops` output: the
 * config file may be a stale copy that never saw a rollback, and only the
 * last run knows which pin the database was last snapshotted for.
 */
async function previousRun(): Promise<PreviousRun> {
    // The logical name predates the snapshot ledger: renaming it would replace the reference.
    const self = new pulumi.StackReference("quarantine-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    // A read resource: its outputs are known in a preview too.
    const all = await new Promise<Record<string, unknown>>((resolve) => self.outputs.apply((values) => resolve(values ?? {})));
    const outputs = all[MLOPS_STACK_OUTPUT] as Record<string, unknown> | undefined;
    if (outputs === undefined && Object.keys(all).length > 0) {
        // The stack ran before without exporting it: nothing of a rollback was kept.
        void pulumi.log.warn(`this stack's last update exported no '${MLOPS_STACK_OUTPUT}' output, so rollbacks will not stick. ${missingStackOutputAdvice()}`);
    }
    const serving = (outputs?.database as { servingIdentifier?: unknown } | undefined)?.servingIdentifier;
    return {
        quarantine: ledgerFromOutput(outputs?.quarantineLedger),
        snapshots: snapshotLedgerFromOutput(outputs?.databaseSnapshots),
        deployed: {
            pinned: typeof outputs?.pinnedVersion === "string" ? outputs.pinnedVersion : null,
            ...(typeof serving === "string" ? { servingDatabase: serving } : {}),
        },
    };
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
    const rollbackEvent: RollbackEvent | undefined = rollbackEventFrom(process.env[ROLLBACK_EVENT_ENV]);
    const config = stackConfig();
    const previous = await previousRun();
    const refusal = stickyRefusal(previous.quarantine, config);
    if (refusal !== undefined) throw new pulumi.RunError(refusal);
    const now = new Date().toISOString();
    const snapshots = nextSnapshotLedger(previous.snapshots, config, previous.deployed, pulumi.getStack(), now);
    const serving = declareModelServing(withLedgerQuarantine(config, previous.quarantine), {
        keepLiveDeploymentConfig: rollbackEvent?.afterFastPath === true,
        snapshots,
        now,
    });
    return {
        ...serving,
        stackOutput: {
            target: serving.target,
            model: serving.model,
            pinnedVersion: serving.pinnedVersion,
            warmVersions: serving.warmVersions,
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
        },
    };
}
