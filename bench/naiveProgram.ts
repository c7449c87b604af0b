/**
 * The baseline the benchmarks compare against: how a plain Pulumi program
 * serves a pinned model today. It declares only the pinned version (one
 * SageMaker Model and EndpointConfiguration, or one Deployment whose image is
 * the pinned one), so a rollback rebuilds what it rolls back to.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import type { StackConfig } from "../config/schema";

/** The resource whose change moves traffic, by type token and logical name. */
export interface TrafficSwitch {
    readonly type: string;
    readonly name: string;
}

/** The baseline's traffic switch: the Endpoint, or the Deployment, whose new pods take the traffic as they become ready. */
export function naiveTrafficSwitch(config: Pick<StackConfig, "target" | "model">): TrafficSwitch {
    return config.target === "sagemaker"
        ? { type: "aws:sagemaker/endpoint:Endpoint", name: `${config.model}-endpoint` }
        : { type: "kubernetes:apps/v1:Deployment", name: config.model };
}

export function declareNaiveServing(config: StackConfig): void {
    const trafficSwitch = naiveTrafficSwitch(config);
    const pinned = config.versions.find((version) => version.version === config.pinned);
    if (pinned === undefined) throw new Error(`version '${config.pinned}' is not in the catalog`);
    if (config.target === "sagemaker") {
        const settings = config.sagemaker;
        if (settings === undefined) throw new Error("mlops:sagemaker is required");
        const model = new aws.sagemaker.Model(`${config.model}-model`, {
            executionRoleArn: settings.executionRoleArn ?? "arn:aws:iam::123456789012:role/sagemaker",
            primaryContainer: { image: pinned.image, modelDataUrl: pinned.artifact },
        });
        const endpointConfiguration = new aws.sagemaker.EndpointConfiguration(`${config.model}-config`, {
            productionVariants: [
                {
                    variantName: settings.variantName,
                    modelName: model.name,
                    instanceType: settings.instanceType,
                    initialInstanceCount: settings.instanceCount,
                },
            ],
        });
        new aws.sagemaker.Endpoint(trafficSwitch.name, { endpointConfigName: endpointConfiguration.name });
        return;
    }
    const settings = config.kubernetes;
    if (settings === undefined) throw new Error("mlops:kubernetes is required");
    const labels = { app: config.model };
    new k8s.apps.v1.Deployment(trafficSwitch.name, {
        metadata: { name: config.model, namespace: settings.namespace },
        spec: {
            replicas: settings.replicas,
            selector: { matchLabels: labels },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels },
                spec: {
                    containers: [
                        {
                            name: "model",
                            image: pinned.image,
                            ports: [{ name: "http", containerPort: settings.port }],
                            readinessProbe: { httpGet: { path: settings.readinessPath, port: "http" }, periodSeconds: 5 },
                        },
                    ],
                },
            },
        },
    });
    new k8s.core.v1.Service(`${config.model}-service`, {
        metadata: { name: config.model, namespace: settings.namespace },
        spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
}
