/**
 * What a stack declares, from a parsed config. Kept apart from `index.ts`
 * (which reads Pulumi's stack config) so that tests and `mlops plan` can run
 * it under Pulumi's mock runtime with a config of their choosing.
 */
import * as pulumi from "@pulumi/pulumi";
import { warmVersions } from "./catalog/catalog";
import { KubernetesModelEndpoint } from "./components/kubernetesModelEndpoint";
import { SageMakerModelEndpoint } from "./components/sagemakerModelEndpoint";
import type { StackConfig } from "./config/schema";

export interface ModelServingOutputs {
    readonly target: StackConfig["target"];
    readonly model: string;
    readonly pinnedVersion: pulumi.Output<string>;
    readonly warmVersions: string[];
    /** Set for the sagemaker target. */
    readonly sagemaker?: {
        readonly endpointName: pulumi.Output<string>;
        readonly endpointConfigNames: pulumi.Output<Record<string, string>>;
    };
    /** Set for the kubernetes target. */
    readonly kubernetes?: {
        readonly namespace: pulumi.Output<string>;
        readonly serviceName: pulumi.Output<string>;
        readonly deploymentNames: pulumi.Output<Record<string, string>>;
    };
}

export function declareModelServing(config: StackConfig): ModelServingOutputs {
    const catalog = { versions: config.versions, pinned: config.pinned, warm: config.warm, quarantined: config.quarantined };
    const common = { target: config.target, model: config.model, warmVersions: warmVersions(config) };
    switch (config.target) {
        case "sagemaker": {
            if (config.sagemaker === undefined) throw new Error("mlops:sagemaker is required when mlops:target is 'sagemaker'");
            const endpoint = new SageMakerModelEndpoint(config.model, { model: config.model, ...catalog, settings: config.sagemaker });
            return {
                ...common,
                pinnedVersion: endpoint.pinnedVersion,
                sagemaker: { endpointName: endpoint.endpointName, endpointConfigNames: endpoint.endpointConfigNames },
            };
        }
        case "kubernetes": {
            if (config.kubernetes === undefined) throw new Error("mlops:kubernetes is required when mlops:target is 'kubernetes'");
            const endpoint = new KubernetesModelEndpoint(config.model, { model: config.model, ...catalog, settings: config.kubernetes });
            return {
                ...common,
                pinnedVersion: endpoint.pinnedVersion,
                kubernetes: { namespace: endpoint.namespace, serviceName: endpoint.serviceName, deploymentNames: endpoint.deploymentNames },
            };
        }
    }
}
