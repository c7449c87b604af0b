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

/**
 * The ledger as the last update left it, read from this stack's own outputs:
 * the config file may be a stale copy that never saw a rollback.
 */
async function previousLedger(): Promise<QuarantineLedger> {
    const self = new pulumi.StackReference("quarantine-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    return ledgerFromOutput(await self.getOutputValue("quarantineLedger"));
}

export async function runStackProgram(rollbackEvent: RollbackEvent | undefined): Promise<Record<string, unknown>> {
    const config = stackConfig();
    const previous = await previousLedger();
    const refusal = stickyRefusal(previous, config);
    if (refusal !== undefined) throw new pulumi.RunError(refusal);
    const serving = declareModelServing(withLedgerQuarantine(config, previous), { keepLiveDeploymentConfig: rollbackEvent?.afterFastPath === true });
    return {
        target: serving.target,
        model: serving.model,
        pinnedVersion: serving.pinnedVersion,
        warmVersions: serving.warmVersions,
        sagemaker: serving.sagemaker,
        kubernetes: serving.kubernetes,
        alarms: serving.alarms,
        trigger: serving.trigger,
        quarantineLedger: nextLedger(previous, config, rollbackEvent, new Date().toISOString()),
    };
}
