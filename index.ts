/**
 * The Pulumi program: read the `mlops:*` stack config, validate it, declare
 * the model serving stack and export what it serves.
 */
import * as pulumi from "@pulumi/pulumi";
import { rawConfigFromPulumiConfig } from "./config/sources";
import { parseStackConfig, StackConfigError, type StackConfig } from "./config/schema";
import { declareModelServing } from "./program";

function stackConfig(): StackConfig {
    try {
        return parseStackConfig(rawConfigFromPulumiConfig(pulumi.runtime.allConfig()));
    } catch (error) {
        // RunError: Pulumi prints the message alone, without a stack trace
        // of our program, which says nothing about a bad config value.
        if (error instanceof StackConfigError)
            throw new pulumi.RunError(
                `${error.message}\nFix the stack config (pulumi config set ...) and run again; mlops validate --stack <name> checks it offline.`,
            );
        throw error;
    }
}

const config = stackConfig();
const serving = declareModelServing(config);

export const target = serving.target;
export const model = serving.model;
export const pinnedVersion = serving.pinnedVersion;
export const warmVersions = serving.warmVersions;
export const sagemaker = serving.sagemaker;
export const kubernetes = serving.kubernetes;
