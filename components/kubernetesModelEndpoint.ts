/**
 * A model served on Kubernetes, blue/green by version: one Deployment per
 * warm version stays up (hot standby by default) and the Service selects the
 * pinned one. A rollback to a warm version moves the Service selector; the
 * target's pods are already running and ready.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { warmSet } from "../catalog/catalog";
import { kubernetesDeploymentLogicalName, kubernetesDeploymentName, VERSION_SELECTOR_LABEL } from "../catalog/names";
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
    /**
     * Versions a rollback left, kept declared at zero replicas (never
     * deleted by the rollback) until a forward deploy retires them; see
     * `nextRetainedVersions`, which `serveModelFromStackConfig` keeps in the
     * stack's `mlops` output. A warm or pinned version here is not retained. @default []
     */
    readonly retained?: readonly string[];
    /** `mlops:kubernetes`: namespace, replicas, ports, probes, resources; every field has a default. @default {} */
    readonly settings?: KubernetesSettingsInput;
    /** Extra environment of every version's container, e.g. the database's address; a change rolls the pods. @default {} */
    readonly environment?: Record<string, pulumi.Input<string>>;
    /** What the Service's switch to the pinned version waits for, e.g. the database snapshot of this pin change. @default [] */
    readonly switchDependsOn?: pulumi.Resource[];
    /**
     * A Kubernetes group that may make the instant switch (the alarm
     * trigger's, on EKS): a Role and RoleBinding let it get and patch this
     * Service and get the version Deployments, by name, and nothing else.
     * @default no such group
     */
    readonly switchGroup?: string;
}

export { VERSION_SELECTOR_LABEL };

export class KubernetesModelEndpoint extends pulumi.ComponentResource {
    /** The Service clients call. */
    public readonly serviceName: pulumi.Output<string>;
    /** The Service's `metadata.uid`: the instant switch writes only to this object (rollback/kubernetesSwitch.ts). */
    public readonly serviceUid: pulumi.Output<string>;
    public readonly namespace: pulumi.Output<string>;
    /** The version the Service is declared to select. */
    public readonly pinnedVersion: pulumi.Output<string>;
    /** The Deployment name of each version that has one: the pinned, the warm and the retained (at zero replicas) ones. */
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

        const deploymentFor = (id: string, role: DeploymentRole, dependsOn: pulumi.Resource[]) =>
            new k8s.apps.v1.Deployment(
                kubernetesDeploymentLogicalName(name, id),
                {
                    metadata: { name: kubernetesDeploymentName(model, id), namespace, labels: versionLabels(model, id) },
                    spec: deploymentSpecFor(model, versionById(catalog.versions, id), settings, role, args.environment),
                },
                // The provider waits for the rollout to be ready; give a new
                // version its startup budget plus room for scheduling.
                { parent: this, customTimeouts: rolloutTimeouts(settings), dependsOn },
            );
        // A new version's pods may migrate the data as they start: they wait for the snapshot too.
        const pinnedDeployment = deploymentFor(catalog.pinned, "serving", args.switchDependsOn ?? []);

        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: {
                    name: model,
                    namespace,
                    labels: { "app.kubernetes.io/name": model },
                    // pulumi-kubernetes' Service await ends with a fixed settle
                    // of about 10 s after the endpoints change, which would hold
                    // every update (a rollback's reconcile included). The
                    // selector still moves only after the pinned Deployment is
                    // ready (dependsOn below), and mlops checks the
                    // EndpointSlices itself after each update (rollback/verify.ts).
                    annotations: { [SKIP_AWAIT_ANNOTATION]: "true" },
                },
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
        for (const id of warm) deployments[id] = deploymentFor(id, "standby", [service]);
        // A version a rollback left keeps its Deployment at zero replicas,
        // never deleted by the rollback: its ReplicaSet history and events
        // stay for the investigation (catalog/catalog.ts, nextRetainedVersions).
        for (const id of args.retained ?? []) {
            if (deployments[id] === undefined && catalog.versions.some((v) => v.version === id)) deployments[id] = deploymentFor(id, "retained", [service]);
        }

        if (args.switchGroup !== undefined) this.declareSwitchAccess(name, model, namespace, args.switchGroup, Object.keys(deployments));

        this.trafficSwitch = service;
        this.serviceName = service.metadata.name;
        this.serviceUid = service.metadata.uid;
        this.namespace = pulumi.output(namespace);
        this.pinnedVersion = pulumi.output(catalog.pinned);
        this.deploymentNames = pulumi.output(Object.fromEntries(Object.entries(deployments).map(([id, deployment]) => [id, deployment.metadata.name])));
        this.registerOutputs({
            serviceName: this.serviceName,
            serviceUid: this.serviceUid,
            namespace: this.namespace,
            pinnedVersion: this.pinnedVersion,
            deploymentNames: this.deploymentNames,
        });
    }

    private declareSwitchAccess(name: string, model: string, namespace: pulumi.Input<string>, group: string, versionIds: string[]): void {
        const role = new k8s.rbac.v1.Role(
            `${name}-switch-role`,
            { metadata: { name: `${model}-switch`, namespace, labels: { "app.kubernetes.io/name": model } }, rules: switchRoleRules(model, versionIds) },
            { parent: this },
        );
        new k8s.rbac.v1.RoleBinding(
            `${name}-switch-binding`,
            {
                metadata: { name: `${model}-switch`, namespace, labels: { "app.kubernetes.io/name": model } },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
            },
            { parent: this },
        );
    }
}

/** The Role of a group that may make the instant switch: read and patch the Service, read the version Deployments' readiness; by name, in this namespace only. */
export function switchRoleRules(model: string, versionIds: readonly string[]): k8s.types.input.rbac.v1.PolicyRule[] {
    return [
        { apiGroups: [""], resources: ["services"], resourceNames: [model], verbs: ["get", "patch"] },
        { apiGroups: ["apps"], resources: ["deployments"], resourceNames: versionIds.map((id) => kubernetesDeploymentName(model, id)), verbs: ["get"] },
    ];
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

/** What a version's Deployment is for: it serves, it stands by for a rollback, or a rollback left it (kept for the investigation, at zero). */
export type DeploymentRole = "serving" | "standby" | "retained";

/** The annotation with which pulumi-kubernetes skips its await logic for a resource (pulumi-kubernetes docs, "Resource await logic"). */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/** Replicas by role: the serving version gets `replicas`, a standby `standbyReplicas` (default: the same, hot), a retained version 0. */
export function replicasFor(settings: KubernetesSettings, role: DeploymentRole): number {
    if (role === "retained") return 0;
    return role === "serving" ? settings.replicas : (settings.standbyReplicas ?? settings.replicas);
}

export function rolloutTimeouts(settings: KubernetesSettings): pulumi.CustomTimeouts {
    const seconds = `${rolloutTimeoutSeconds(settings)}s`;
    return { create: seconds, update: seconds };
}

const PROBE_PERIOD_SECONDS = 5;
/** How long a terminating pod keeps serving (the preStop sleep); within the default 30 s grace period. */
export const PRE_STOP_DRAIN_SECONDS = 5;

export function deploymentSpecFor(
    model: string,
    version: ModelVersion,
    settings: KubernetesSettings,
    role: DeploymentRole,
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
                        // A pod going away (a version scaled down or to zero
                        // right after the Service moved off it) keeps serving
                        // while kube-proxy and load balancers drop it: they lag
                        // the EndpointSlices by a sync period or more
                        // (kube-proxy's --iptables-min-sync-period is 1 s).
                        // Kubernetes' own sleep action: no shell in the image needed.
                        lifecycle: { preStop: { sleep: { seconds: PRE_STOP_DRAIN_SECONDS } } },
                    },
                ],
                volumes: [{ name: "tmp", emptyDir: {} }],
            },
        },
    };
}
