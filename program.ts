/**
 * What a stack declares, from a parsed config. Kept apart from `index.ts`
 * (which reads Pulumi's stack config) so that tests and `mlops plan` can run
 * it under Pulumi's mock runtime with a config of their choosing.
 */
import * as pulumi from "@pulumi/pulumi";
import { warmVersions } from "./catalog/catalog";
import { SageMakerModelEndpoint } from "./components/sagemakerModelEndpoint";
import type { StackConfig } from "./config/schema";

export interface ModelServingOutputs {
    readonly target: string;
    readonly model: string;
    readonly pinnedVersion: pulumi.Output<string>;
    readonly warmVersions: string[];
    readonly endpointName: pulumi.Output<string>;
    readonly endpointConfigNames: pulumi.Output<Record<string, string>>;
}

export function declareModelServing(config: StackConfig): ModelServingOutputs {
    switch (config.target) {
        case "sagemaker": {
            if (config.sagemaker === undefined) throw new Error("mlops:sagemaker is required when mlops:target is 'sagemaker'");
            const endpoint = new SageMakerModelEndpoint(config.model, {
                model: config.model,
                versions: config.versions,
                pinned: config.pinned,
                warm: config.warm,
                quarantined: config.quarantined,
                settings: config.sagemaker,
            });
            return {
                target: config.target,
                model: config.model,
                pinnedVersion: endpoint.pinnedVersion,
                warmVersions: warmVersions(config),
                endpointName: endpoint.endpointName,
                endpointConfigNames: endpoint.endpointConfigNames,
            };
        }
        case "kubernetes":
            throw new Error("mlops:target 'kubernetes' is validated but not deployable yet; set mlops:target to 'sagemaker'");
    }
}
