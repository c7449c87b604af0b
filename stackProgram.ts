/**
 * The Pulumi program as a function: read the `mlops:*` stack config,
 * validate it, check it against the quarantine ledger of earlier rollbacks,
 * declare the model serving stack and return what it serves. `index.ts` runs
 * it for `pulumi up`; `mlops deploy` / `rollback` run it inline through the
 * Automation API (no language host process, and the rollback event passed
 * as a value rather than through the environment).
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfigError, type StackConfig } from "./config/schema";
import { rawConfigFromPulumiConfig } from "./config/sources";
import { nextSnapshotLedger, snapshotLedgerFromOutput, type PreviousDeploy, type SnapshotRecord } from "./database/snapshots";
import { declareModelServing } from "./program";
import { ledgerFromOutput, nextLedger, stickyRefusal, withLedgerQuarantine, type QuarantineLedger, type RollbackEvent } from "./rollback/ledger";

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
 * What the last update left, read from this stack's own outputs: the config
 * file may be a stale copy that never saw a rollback, and only the last run
 * knows which pin the database was last snapshotted for.
 */
async function previousRun(): Promise<PreviousRun> {
    // The logical name predates the snapshot ledger: renaming it would replace the reference.
    const self = new pulumi.StackReference("quarantine-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const output = (name: string): Promise<unknown> => self.getOutputValue(name);
    const [quarantine, snapshots, pinned, database] = await Promise.all(["quarantineLedger", "databaseSnapshots", "pinnedVersion", "database"].map(output));
    const serving = (database as { servingIdentifier?: unknown } | undefined)?.servingIdentifier;
    return {
        quarantine: ledgerFromOutput(quarantine),
        snapshots: snapshotLedgerFromOutput(snapshots),
        deployed: {
            pinned: typeof pinned === "string" ? pinned : null,
            ...(typeof serving === "string" ? { servingDatabase: serving } : {}),
        },
    };
}

export async function runStackProgram(rollbackEvent: RollbackEvent | undefined): Promise<Record<string, unknown>> {
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
    };
}
