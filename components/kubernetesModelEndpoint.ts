/**
 * A model served on Kubernetes, blue/green by version: one Deployment per
 * warm version stays up (hot standby by default) and the Service selects the
 * pinned one. A rollback to a warm version moves the Service selector; the
 * target's pods are already running and ready.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { warmSet } from "../catalog/catalog";
import { kubernetesDeploymentLogicalName, kubernetesDeploymentName } from "../catalog/names";
import {
    componentArgsMessage,
    parseKubernetesArgs,
    rolloutTimeoutSeconds,
    type KubernetesSettings,
    type KubernetesSettingsInput,
    type ModelVersion,
    type ModelVersionInput,
} from "../config/schema";

export interface KubernetesModelEndpointArgs {
    /** The model's name (`mlops:model`): the Service's name and the `app.kubernetes.io/name` label. */
    readonly model: string;
    /** The catalog (`mlops:versions`), oldest first: an image by digest per version; decides which Deployments exist. */
    readonly versions: readonly ModelVersionInput[];
    /** The version the Service selects; in `versions`, not in `quarantined`. */
    readonly pinned: string;
    /** How many versions that served before the pin keep a Deployment, ready to switch to (see `servingHistory`). @default 1 */
    readonly warm?: number;
    /** Versions never kept warm and never pinned. @default [] */
    readonly quarantined?: readonly string[];
    /**
     * The versions that served on this stack, in the order they last started
     * serving (oldest first): the warm ones are the latest of these before the
     * pin. `serveModelFromStackConfig` keeps this record in the stack's `mlops`
     * output. @default [] (no record: the catalog's previous versions stand in, and the component logs which)
     */
    readonly servingHistory?: readonly string[];
    /** `mlops:kubernetes`: namespace, replicas, ports, probes, resources; every field has a default. @default {} */
    readonly settings?: KubernetesSettingsInput;
    /** Extra environment of every version's container, e.g. the database's address; a change rolls the pods. @default {} */
    readonly environment?: Record<string, pulumi.Input<string>>;
    /** What the Service's switch to the pinned version waits for, e.g. the database snapshot of this pin change. @default [] */
    readonly switchDependsOn?: pulumi.Resource[];
}

/** The label that tells one version's pods from another's; the Service selects on it. */
export const VERSION_SELECTOR_LABEL = "mlops-rollback/version";

export class KubernetesModelEndpoint extends pulumi.ComponentResource {
    /** The Service clients call. */
    public readonly serviceName: pulumi.Output<string>;
    public readonly namespace: pulumi.Output<string>;
    /** The version the Service is declared to select. */
    public readonly pinnedVersion: pulumi.Output<string>;
    /** The Deployment name of each warm version. */
    public readonly deploymentNames: pulumi.Output<Record<string, string>>;
    /** The resource whose update moves traffic (the Service), for what must come after a switch. */
    public readonly trafficSwitch: pulumi.Resource;

    /**
     * A provider for another cluster (a kubeconfig) is passed the usual way,
     * in `opts.providers`; every child inherits it.
     */
    constructor(name: string, args: KubernetesModelEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:kubernetes:ModelEndpoint", name, {}, opts);
        // Defaults and checks of the stack config's own schema: what `pulumi up` refuses, the component refuses too.
        const parsed = parseKubernetesArgs(args);
        if (!parsed.success) throw new pulumi.ResourceError(componentArgsMessage("KubernetesModelEndpoint", name, parsed.problems), this);
        const { model, settings, ...catalog } = parsed.data;
        const { versions: warm, standIn } = warmSet(catalog);
        // Said on every run until another version has served: a rollback target that never took traffic is never chosen silently.
        if (standIn !== undefined) void pulumi.log.info(`${name}: ${standIn}.`, this);

        const namespace: pulumi.Input<string> = settings.createNamespace
            ? new k8s.core.v1.Namespace(
                  `${name}-namespace`,
                  { metadata: { name: settings.namespace, labels: { "app.kubernetes.io/managed-by": "mlops-rollback" } } },
                  { parent: this },
              ).metadata.name
            : settings.namespace;

        const deploymentFor = (id: string, dependsOn: pulumi.Resource[]) =>
            new k8s.apps.v1.Deployment(
                kubernetesDeploymentLogicalName(name, id),
                {
                    metadata: { name: kubernetesDeploymentName(model, id), namespace, labels: versionLabels(model, id) },
                    spec: deploymentSpecFor(
                        model,
                        versionById(catalog.versions, id),
                        settings,
                        id === catalog.pinned ? "serving" : "standby",
                        args.environment,
                    ),
                },
                // The provider waits for the rollout to be ready; give a new
                // version its startup budget plus room for scheduling.
                { parent: this, customTimeouts: rolloutTimeouts(settings), dependsOn },
            );
        // A new version's pods may migrate the data as they start: they wait for the snapshot too.
        const pinnedDeployment = deploymentFor(catalog.pinned, args.switchDependsOn ?? []);

        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { name: model, namespace, labels: { "app.kubernetes.io/name": model } },
                spec: {
                    type: settings.serviceType,
                    selector: selectorLabels(model, catalog.pinned),
                    ports: [{ name: "http", port: settings.servicePort, targetPort: "http", protocol: "TCP" }],
                },
            },
            // The selector moves only once the pinned Deployment is ready: a
            // version that never gets ready fails `pulumi up` with traffic
            // still on the version that was serving.
            { parent: this, dependsOn: [pinnedDeployment, ...(args.switchDependsOn ?? [])] },
        );

        new k8s.policy.v1.PodDisruptionBudget(
            `${name}-pdb`,
            {
                metadata: { name: model, namespace, labels: { "app.kubernetes.io/name": model } },
                // maxUnavailable rather than minAvailable: with one replica,
                // minAvailable 1 would block every node drain.
                spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(model, catalog.pinned) } },
            },
            { parent: this, dependsOn: [pinnedDeployment] },
        );

        // Standbys change only after the Service has moved: the version that
        // served until now becomes a standby and may scale down (to
        // standbyReplicas, perhaps 0), which must not happen while it still
        // takes the traffic. A newly warm version is likewise built after the
        // switch, off the rollback's critical path.
        const deployments: Record<string, k8s.apps.v1.Deployment> = { [catalog.pinned]: pinnedDeployment };
        for (const id of warm) deployments[id] = deploymentFor(id, [service]);

        this.trafficSwitch = service;
        this.serviceName = service.metadata.name;
        this.namespace = pulumi.output(namespace);
        this.pinnedVersion = pulumi.output(catalog.pinned);
        this.deploymentNames = pulumi.output(Object.fromEntries(Object.entries(deployments).map(([id, deployment]) => [id, deployment.metadata.name])));
        this.registerOutputs({
            serviceName: this.serviceName,
            namespace: this.namespace,
            pinnedVersion: this.pinnedVersion,
            deploymentNames: this.deploymentNames,
        });
    }
}

function versionById(versions: readonly ModelVersion[], id: string): ModelVersion {
    const version = versions.find((v) => v.version === id);
    if (version === undefined) throw new Error(`version '${id}' is not in the catalog`);
    return version;
}

/** What the Service and the Deployment's selector match on; immutable per version (spec.selector forces replacement). */
export function selectorLabels(model: string, versionId: string): Record<string, string> {
    return { "app.kubernetes.io/name": model, [VERSION_SELECTOR_LABEL]: versionId };
}

export function versionLabels(model: string, versionId: string): Record<string, string> {
    return { ...selectorLabels(model, versionId), "app.kubernetes.io/version": versionId, "app.kubernetes.io/managed-by": "mlops-rollback" };
}

/** Replicas by role: the serving version gets `replicas`, a standby `standbyReplicas` (default: the same, hot). */
export function replicasFor(settings: KubernetesSettings, role: "serving" | "standby"): number {
    return role === "serving" ? settings.replicas : (settings.standbyReplicas ?? settings.replicas);
}

export function rolloutTimeouts(settings: KubernetesSettings): pulumi.CustomTimeouts {
    const seconds = `${rolloutTimeoutSeconds(settings)}s`;
    return { create: seconds, update: seconds };
}

const PROBE_PERIOD_SECONDS = 5;

export function deploymentSpecFor(
    model: string,
    version: ModelVersion,
    settings: KubernetesSettings,
    role: "serving" | "standby",
    environment: Record<string, pulumi.Input<string>> = {},
): k8s.types.input.apps.v1.DeploymentSpec {
    const env = [
        ...Object.entries(environment).map(([name, value]) => ({ name, value })),
        { name: "MLOPS_MODEL", value: model },
        { name: "MLOPS_MODEL_VERSION", value: version.version },
        ...(version.artifact === undefined ? [] : [{ name: "MLOPS_MODEL_ARTIFACT", value: version.artifact }]),
    ];
    return {
        replicas: replicasFor(settings, role),
        selector: { matchLabels: selectorLabels(model, version.version) },
        // Never below the declared replicas while a version's pods are replaced.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
            metadata: { labels: versionLabels(model, version.version) },
            spec: {
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: settings.runAsUser, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                    {
                        name: "model",
                        image: version.image,
                        ports: [{ name: "http", containerPort: settings.port, protocol: "TCP" }],
                        env,
                        // The startup probe holds liveness off while the model loads.
                        startupProbe: {
                            httpGet: { path: settings.readinessPath, port: "http" },
                            periodSeconds: PROBE_PERIOD_SECONDS,
                            failureThreshold: Math.ceil(settings.startupTimeoutSeconds / PROBE_PERIOD_SECONDS),
                        },
                        readinessProbe: { httpGet: { path: settings.readinessPath, port: "http" }, periodSeconds: PROBE_PERIOD_SECONDS, failureThreshold: 3 },
                        livenessProbe: { httpGet: { path: settings.livenessPath, port: "http" }, periodSeconds: 10, failureThreshold: 3 },
                        resources: settings.resources,
                        securityContext: {
                            allowPrivilegeEscalation: false,
                            readOnlyRootFilesystem: true,
                            runAsNonRoot: true,
                            capabilities: { drop: ["ALL"] },
                        },
                        // A read-only root filesystem still needs somewhere to write temp files.
                        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                    },
                ],
                volumes: [{ name: "tmp", emptyDir: {} }],
            },
        },
    };
}
