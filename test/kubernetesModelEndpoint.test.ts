import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { KubernetesModelEndpoint, replicasFor, rolloutTimeouts, type KubernetesModelEndpointArgs } from "../components/kubernetesModelEndpoint";
import { parseStackConfig, type StackConfig } from "../config/schema";
import { installRecordingMocks } from "../plan/mockRuntime";
import { digestFor, ECR_REPOSITORY, findChild, outputValue, sagemakerRawConfig } from "./helpers";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const NAMESPACE = "kubernetes:core/v1:Namespace";

function kubernetesConfig(kubernetes: Record<string, unknown>, overrides: Record<string, unknown> = {}, versionCount = 3): StackConfig {
    return parseStackConfig(sagemakerRawConfig({ target: "kubernetes", sagemaker: undefined, kubernetes, ...overrides }, versionCount));
}

function argsFrom(config: StackConfig, servingHistory?: string[], retained?: string[]): KubernetesModelEndpointArgs {
    if (config.kubernetes === undefined) throw new Error("test config needs a kubernetes section");
    return {
        model: config.model,
        versions: config.versions,
        pinned: config.pinned,
        warm: config.warm,
        quarantined: config.quarantined,
        settings: config.kubernetes,
        ...(servingHistory === undefined ? {} : { servingHistory }),
        ...(retained === undefined ? {} : { retained }),
    };
}

/** Declare the component under mocks (they stand for the engine and the Kubernetes provider) and wait for every registration. */
async function declare(args: KubernetesModelEndpointArgs) {
    const registered = await installRecordingMocks("test");
    const component = new KubernetesModelEndpoint("fraud-detector", args);
    const outputs = {
        serviceName: await outputValue(component.serviceName),
        namespace: await outputValue(component.namespace),
        pinnedVersion: await outputValue(component.pinnedVersion),
        deploymentNames: await outputValue(component.deploymentNames),
    };
    await pulumi.runtime.disconnect();
    const byName = (name: string): Record<string, unknown> => findChild(registered, name).inputs;
    return { registered, byName, outputs };
}

const settings = {
    namespace: "fraud",
    createNamespace: true,
    replicas: 3,
    standbyReplicas: 1,
    port: 9000,
    servicePort: 80,
    readinessPath: "/v2/health/ready",
    livenessPath: "/v2/health/live",
    startupTimeoutSeconds: 300,
    runAsUser: 1000,
    resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "2Gi" } },
};

describe("KubernetesModelEndpoint", () => {
    it("declares exactly these children, by name and type token", async () => {
        const { registered } = await declare(argsFrom(kubernetesConfig(settings, { warm: 2, quarantined: ["2"] }, 4)));
        expect(registered.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
            [
                `${NAMESPACE} fraud-detector-namespace`,
                `${DEPLOYMENT} fraud-detector-deployment-1`,
                `${DEPLOYMENT} fraud-detector-deployment-3`,
                `${DEPLOYMENT} fraud-detector-deployment-4`,
                `${SERVICE} fraud-detector-service`,
                `${PDB} fraud-detector-pdb`,
            ].sort(),
        );
    });

    it("moves the Service and the PDB only after the pinned Deployment, parents every child, and waits a rollout for the startup budget", async () => {
        const { registered } = await declare(argsFrom(kubernetesConfig(settings)));
        const component = "urn:pulumi:test::mlops::mlops:kubernetes:ModelEndpoint";
        for (const child of registered) expect(child.options?.parent, child.name).toBe(`${component}::fraud-detector`);
        const pinnedDeployment = `${component}$${DEPLOYMENT}::fraud-detector-deployment-3`;
        const standbyDeployment = `${component}$${DEPLOYMENT}::fraud-detector-deployment-2`;
        for (const name of ["fraud-detector-service", "fraud-detector-pdb"]) {
            const dependencies = registered.find((r) => r.name === name)?.options?.dependencies;
            expect(dependencies, name).toContain(pinnedDeployment);
            expect(dependencies, name).not.toContain(standbyDeployment);
        }
        // The standby (the version that served before a switch) scales down only after the Service has moved.
        const service = `${component}$${SERVICE}::fraud-detector-service`;
        expect(registered.find((r) => r.name === "fraud-detector-deployment-2")?.options?.dependencies).toContain(service);
        expect(registered.find((r) => r.name === "fraud-detector-deployment-3")?.options?.dependencies).not.toContain(service);
        for (const deployment of registered.filter((r) => r.type === DEPLOYMENT)) {
            expect(deployment.options?.customTimeouts).toEqual({ create: "600s", update: "600s" });
            expect(deployment.options?.retainOnDelete).toBe(false);
        }
    });

    it("gives the serving Deployment its image by digest, labels, selector, env, probes, resources and a restricted security context", async () => {
        const { byName } = await declare(argsFrom(kubernetesConfig(settings)));
        const labels = {
            "app.kubernetes.io/name": "fraud-detector",
            "mlops-rollback/version": "3",
            "app.kubernetes.io/version": "3",
            "app.kubernetes.io/managed-by": "mlops-rollback",
        };
        expect(byName("fraud-detector-deployment-3")).toEqual({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "fraud-detector-3", namespace: "fraud", labels },
            spec: {
                replicas: 3,
                selector: { matchLabels: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": "3" } },
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                template: {
                    metadata: { labels },
                    spec: {
                        automountServiceAccountToken: false,
                        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
                        containers: [
                            {
                                name: "model",
                                image: `${ECR_REPOSITORY}@sha256:${digestFor(2)}`,
                                ports: [{ name: "http", containerPort: 9000, protocol: "TCP" }],
                                env: [
                                    { name: "MLOPS_MODEL", value: "fraud-detector" },
                                    { name: "MLOPS_MODEL_VERSION", value: "3" },
                                    { name: "MLOPS_MODEL_ARTIFACT", value: "s3://models/fraud-detector/3/model.tar.gz" },
                                ],
                                startupProbe: { httpGet: { path: "/v2/health/ready", port: "http" }, periodSeconds: 5, failureThreshold: 60 },
                                readinessProbe: { httpGet: { path: "/v2/health/ready", port: "http" }, periodSeconds: 5, failureThreshold: 3 },
                                livenessProbe: { httpGet: { path: "/v2/health/live", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
                                resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "2Gi" } },
                                securityContext: {
                                    allowPrivilegeEscalation: false,
                                    readOnlyRootFilesystem: true,
                                    runAsNonRoot: true,
                                    capabilities: { drop: ["ALL"] },
                                },
                                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                                // Serves on while load balancers drop it, after the Service moved off it.
                                lifecycle: { preStop: { sleep: { seconds: 5 } } },
                            },
                        ],
                        volumes: [{ name: "tmp", emptyDir: {} }],
                    },
                },
            },
        });
    });

    it("runs standby versions with standbyReplicas and their own image and selector", async () => {
        const { byName } = await declare(argsFrom(kubernetesConfig(settings)));
        const standby = byName("fraud-detector-deployment-2") as {
            metadata: { name: string };
            spec: { replicas: number; selector: unknown; template: { spec: { containers: { image: string }[] } } };
        };
        expect(standby.metadata.name).toBe("fraud-detector-2");
        expect(standby.spec.replicas).toBe(1);
        expect(standby.spec.selector).toEqual({ matchLabels: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": "2" } });
        expect(standby.spec.template.spec.containers[0].image).toBe(`${ECR_REPOSITORY}@sha256:${digestFor(1)}`);
    });

    it("points the Service and the PodDisruptionBudget at the pinned version only", async () => {
        const { byName, outputs } = await declare(argsFrom(kubernetesConfig(settings)));
        expect(byName("fraud-detector-service")).toEqual({
            apiVersion: "v1",
            kind: "Service",
            metadata: {
                name: "fraud-detector",
                namespace: "fraud",
                labels: { "app.kubernetes.io/name": "fraud-detector" },
                // No fixed settle after the switch: mlops checks the EndpointSlices itself.
                annotations: { "pulumi.com/skipAwait": "true" },
            },
            spec: {
                type: "ClusterIP",
                selector: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": "3" },
                ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
            },
        });
        expect(byName("fraud-detector-pdb")).toEqual({
            apiVersion: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: { name: "fraud-detector", namespace: "fraud", labels: { "app.kubernetes.io/name": "fraud-detector" } },
            spec: { maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": "3" } } },
        });
        expect(byName("fraud-detector-namespace")).toEqual({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: "fraud", labels: { "app.kubernetes.io/managed-by": "mlops-rollback" } },
        });
        expect(outputs).toEqual({
            serviceName: "fraud-detector",
            namespace: "fraud",
            pinnedVersion: "3",
            deploymentNames: { "2": "fraud-detector-2", "3": "fraud-detector-3" },
        });
    });

    it("keeps the version a rollback left at zero replicas, after the switch, instead of deleting it", async () => {
        // Rollback 3 -> 2 of a stack where 1, 2 and 3 served: 3 is quarantined and later than the pin.
        const config = kubernetesConfig(settings, { pinned: "2", quarantined: ["3"] }, 4);
        const { registered, byName, outputs } = await declare(argsFrom(config, ["1", "3", "2"], ["3"]));
        expect(
            registered
                .filter((r) => r.type === DEPLOYMENT)
                .map((r) => r.name)
                .sort(),
        ).toEqual(["fraud-detector-deployment-1", "fraud-detector-deployment-2", "fraud-detector-deployment-3"].sort());
        const retained = byName("fraud-detector-deployment-3") as { metadata: { name: string }; spec: { replicas: number; selector: unknown } };
        expect(retained.metadata.name).toBe("fraud-detector-3");
        expect(retained.spec.replicas).toBe(0);
        expect(retained.spec.selector).toEqual({ matchLabels: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": "3" } });
        // Scaled down only once the Service has moved off it.
        const service = "urn:pulumi:test::mlops::mlops:kubernetes:ModelEndpoint$kubernetes:core/v1:Service::fraud-detector-service";
        expect(registered.find((r) => r.name === "fraud-detector-deployment-3")?.options?.dependencies).toContain(service);
        expect(outputs.deploymentNames).toEqual({ "1": "fraud-detector-1", "2": "fraud-detector-2", "3": "fraud-detector-3" });
    });

    it("declares no retained Deployment for a pinned or warm version, or one not in the catalog", async () => {
        const config = kubernetesConfig(settings, { pinned: "2", quarantined: ["3"] }, 4);
        const { registered } = await declare(argsFrom(config, ["1", "3", "2"], ["2", "1", "9"]));
        expect(
            registered
                .filter((r) => r.type === DEPLOYMENT)
                .map((r) => r.name)
                .sort(),
        ).toEqual(["fraud-detector-deployment-1", "fraud-detector-deployment-2"]);
    });

    it("uses an existing namespace without declaring it, and leaves out the artifact env when a version has none", async () => {
        const config = kubernetesConfig({ namespace: "serving" });
        const versions = config.versions.map((v) => ({ ...v, artifact: undefined }));
        const { registered, byName } = await declare({ ...argsFrom(config), versions });
        expect(registered.filter((r) => r.type === NAMESPACE)).toEqual([]);
        const deployment = byName("fraud-detector-deployment-3") as {
            metadata: { namespace: string };
            spec: { template: { spec: { containers: { env: { name: string }[] }[] } } };
        };
        expect(deployment.metadata.namespace).toBe("serving");
        expect(deployment.spec.template.spec.containers[0].env.map((e) => e.name)).toEqual(["MLOPS_MODEL", "MLOPS_MODEL_VERSION"]);
    });
});

describe("replicas and timeouts", () => {
    const defaults = kubernetesConfig({}).kubernetes;

    it("runs a retained version at zero, whatever the replicas", () => {
        const config = kubernetesConfig({ replicas: 4, standbyReplicas: 2 });
        if (config.kubernetes === undefined) throw new Error("no kubernetes section");
        expect(replicasFor(config.kubernetes, "retained")).toBe(0);
        expect(replicasFor(config.kubernetes, "standby")).toBe(2);
        expect(replicasFor(config.kubernetes, "serving")).toBe(4);
    });

    it("keeps standbys hot by default: standbyReplicas defaults to replicas", () => {
        if (defaults === undefined) throw new Error("defaults missing");
        expect(replicasFor(defaults, "standby")).toBe(defaults.replicas);
        expect(replicasFor({ ...defaults, standbyReplicas: 0 }, "standby")).toBe(0);
        expect(replicasFor({ ...defaults, standbyReplicas: 0 }, "serving")).toBe(defaults.replicas);
    });

    it("waits for a rollout for the startup budget plus five minutes", () => {
        if (defaults === undefined) throw new Error("defaults missing");
        expect(rolloutTimeouts({ ...defaults, startupTimeoutSeconds: 900 })).toEqual({ create: "1200s", update: "1200s" });
        expect(rolloutTimeouts({ ...defaults, rolloutTimeoutSeconds: 45 })).toEqual({ create: "45s", update: "45s" });
    });
});
