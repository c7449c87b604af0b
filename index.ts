/**
 * The Pulumi program: read the `mlops:*` stack config, validate it, check it
 * against the quarantine ledger of earlier rollbacks, declare the model
 * serving stack and export what it serves.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfigError, type StackConfig } from "./config/schema";
import { rawConfigFromPulumiConfig } from "./config/sources";
import { declareModelServing } from "./program";
import {
    ledgerFromOutput,
    nextLedger,
    ROLLBACK_EVENT_ENV,
    rollbackEventFrom,
    stickyRefusal,
    withLedgerQuarantine,
    type QuarantineLedger,
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

/**
 * The ledger as the last update left it, read from this stack's own outputs:
 * the config file may be a stale copy that never saw a rollback.
 */
async function previousLedger(): Promise<QuarantineLedger> {
    const self = new pulumi.StackReference("quarantine-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    return ledgerFromOutput(await self.getOutputValue("quarantineLedger"));
}

export = async () => {
    const config = stackConfig();
    const previous = await previousLedger();
    const refusal = stickyRefusal(previous, config);
    if (refusal !== undefined) throw new pulumi.RunError(refusal);
    const serving = declareModelServing(withLedgerQuarantine(config, previous));
    return {
        target: serving.target,
        model: serving.model,
        pinnedVersion: serving.pinnedVersion,
        warmVersions: serving.warmVersions,
        sagemaker: serving.sagemaker,
        kubernetes: serving.kubernetes,
        quarantineLedger: nextLedger(previous, config, rollbackEventFrom(process.env[ROLLBACK_EVENT_ENV]), new Date().toISOString()),
    };
};
