/**
 * The instant rollback on Kubernetes: traffic moves with one compare-and-set
 * write on the Service's selector, is confirmed on the data plane, and only
 * then does a Pulumi update record the same state.
 *
 * Why the write is safe to make outside Pulumi. The JSON patch tests that
 * the selector still names the version being left and replaces it in the
 * same request (RFC 6902 `test`; the API server applies a patch atomically),
 * so a Service someone else moved is never written. It is made under its own
 * field manager, `mlops-rollback`: server-side apply then gives that manager
 * the selector (Kubernetes API concepts, "Server-Side Apply": a non-apply
 * change of a field's value moves its ownership to the changer), so until the
 * reconciling update has recorded the rollback, an update from a stale copy
 * that would move the selector back fails with a field conflict instead of
 * moving traffic. Once the reconciling update has recorded the switch,
 * `mlops-rollback` gives the field up (`ownershipToRelease`), and the next
 * `pulumi up` or `mlops deploy` applies without a conflict; from then on
 * the stack's quarantine ledger refuses a stale pin.
 *
 * What the conflict does not stop: an apply with `pulumi.com/patchForce`
 * (or PULUMI_K8S_ENABLE_PATCH_FORCE), and client-side `kubectl apply` or
 * `edit`, which take fields without a conflict. And what "traffic is on the
 * target" means here: the EndpointSlices, the control plane's list of
 * endpoints, name only the target's ready pods; kube-proxy, load balancers
 * and meshes follow them a sync period later.
 *
 * Pure decisions first, then `KubernetesTrafficSwitch`, the API calls on
 * `@kubernetes/client-node`, shared by the CLI and the alarm trigger.
 */
import * as k8s from "@kubernetes/client-node";
import { VERSION_SELECTOR_LABEL } from "../catalog/names";

/** The field manager of the switch (and of nothing else): what `kubectl get svc --show-managed-fields` shows as owning the selector until the reconcile. */
export const SWITCH_FIELD_MANAGER = "mlops-rollback";

/** Where a switch happens: the Service and the Deployment of the version it goes to. */
export interface SwitchTarget {
    readonly namespace: string;
    readonly serviceName: string;
    /** The version the Service must still select; otherwise nothing is written. */
    readonly from: string;
    readonly to: string;
    /** The Deployment of `to`, whose ready pods take the traffic. */
    readonly targetDeployment: string;
    /**
     * The Service's `metadata.uid` as the stack recorded it: the switch reads
     * and writes only that object, so a kubeconfig that reaches another
     * cluster (with a Service of the same name) is never written to.
     * @default not checked (the trigger, which is given its cluster's endpoint)
     */
    readonly serviceUid?: string;
}

/** What the switch reads before it writes. */
export interface SwitchObservation {
    /** The Service's `metadata.uid`; undefined when there is no such Service. */
    readonly uid?: string;
    /** The Service's `spec.selector[VERSION_SELECTOR_LABEL]`; undefined when the Service or the label is missing. */
    readonly selected: string | undefined;
    /** Ready pods of the target Deployment at its current template (`min(readyReplicas, updatedReplicas)`); 0 when it is missing. */
    readonly targetReady: number;
    /** The target Deployment's `spec.replicas` as the cluster has it; undefined when there is no such Deployment. @default not checked */
    readonly targetReplicas?: number;
}

export type SwitchDecision =
    /** Write the selector now; `reducedCapacity` when fewer than `replicas` pods are ready (the update scales up behind it). */
    | { readonly kind: "switch"; readonly reducedCapacity: boolean; readonly why: string }
    /** The Service already selects the target (an earlier run, or the alarm trigger, switched it): nothing to write. */
    | { readonly kind: "already-switched"; readonly why: string }
    /** No fast switch: the Pulumi update scales the target up and then moves the selector, as a deploy does. */
    | { readonly kind: "through-update"; readonly why: string }
    /**
     * Nothing is written, and the rollback stops: the Service selects neither
     * version (someone moved it outside the stack), or the target's
     * Deployment runs fewer replicas than the stack declares (the update
     * would not scale it back and would move traffic onto nothing).
     */
    | { readonly kind: "refuse"; readonly why: string };

export interface SwitchPolicy {
    /** `mlops:kubernetes.replicas`: how many ready pods the target needs to take all the traffic. */
    readonly replicas: number;
    /**
     * `mlops:kubernetes.standbyReplicas` (default `replicas`): what the stack
     * declares for the target, a warm version. A Deployment found with fewer
     * (scaled down or deleted outside the stack) is drift the update would
     * not see: it would move the Service onto missing pods. @default not checked
     */
    readonly standbyReplicas?: number;
    /** `mlops:kubernetes.rollbackAtReducedCapacity`: switch to a partial standby at once and scale up behind it. */
    readonly atReducedCapacity: boolean;
    /** `mlops:kubernetes.startupTimeoutSeconds`: how long scaling up may take, for the message. */
    readonly startupTimeoutSeconds: number;
}

/**
 * Pure: what to do with the Service, given what the cluster shows.
 * `leaving`: every version the Service may select for this switch to go
 * ahead (the file's pin, and the pin the stack last recorded, which differ
 * after an update that did not finish); the compare-and-set then tests the
 * one it selects.
 *
 * Worked example (replicas 2, leaving [3]): selector 3, target 2 with 2
 * ready pods -> switch. Target with 1 ready -> through-update (scale to 2
 * first, up to the startup timeout), or with `atReducedCapacity` a switch
 * at 1 of 2. Selector already 2 -> already-switched. Selector 1 -> refuse.
 * Target scaled to 0 outside the stack (standby 2 declared) -> refuse.
 * No such Service, or one whose uid is not the stack's -> through-update.
 */
export function decideSwitch(
    observation: SwitchObservation,
    target: Pick<SwitchTarget, "to" | "serviceUid"> & { readonly leaving: readonly string[] },
    policy: SwitchPolicy,
): SwitchDecision {
    const { selected, targetReady } = observation;
    if (observation.uid === undefined) {
        return { kind: "through-update", why: "the cluster mlops reaches has no such Service (kubernetes:kubeconfig of the stack file, else KUBECONFIG)" };
    }
    if (target.serviceUid !== undefined && observation.uid !== target.serviceUid) {
        return {
            kind: "through-update",
            why: `the Service mlops reaches (uid ${observation.uid}) is not the stack's (uid ${target.serviceUid}): the kubeconfig mlops reads (kubernetes:kubeconfig of the stack file, else KUBECONFIG) points at another cluster than the stack's provider`,
        };
    }
    if (selected === target.to) {
        return { kind: "already-switched", why: `the Service already selects version ${target.to} (switched by an earlier run or by the alarm trigger)` };
    }
    if (selected === undefined || !target.leaving.includes(selected)) {
        return {
            kind: "refuse",
            why: `the Service selects version ${selected ?? "(none)"}, not ${target.leaving.join(" or ")}, the version this rollback leaves: it was changed outside this stack; nothing was written`,
        };
    }
    const declared = policy.standbyReplicas;
    if (declared !== undefined && declared > 0 && (observation.targetReplicas ?? 0) < declared && targetReady < declared) {
        // The stack's state still says `declared`: its update would see no change to scale back, and move traffic onto nothing.
        return {
            kind: "refuse",
            why: `version ${target.to}'s Deployment ${observation.targetReplicas === undefined ? "is gone" : `runs ${observation.targetReplicas} replicas`}, where the stack declares ${declared}: it was changed outside the stack, and this rollback would move traffic onto pods that are not there; nothing was written. Put it back (kubectl scale, or pulumi up --refresh), then roll back again`,
        };
    }
    if (targetReady >= policy.replicas) {
        return { kind: "switch", reducedCapacity: false, why: `version ${target.to} has ${targetReady} ready pods (hot standby)` };
    }
    const scaleUp = `the update scales version ${target.to} to ${policy.replicas} pods and then moves the Service: up to ${policy.startupTimeoutSeconds} s (mlops:kubernetes.startupTimeoutSeconds) while its pods load the model`;
    if (targetReady === 0) return { kind: "through-update", why: `version ${target.to} has no ready pods; ${scaleUp}` };
    if (policy.atReducedCapacity) {
        return {
            kind: "switch",
            reducedCapacity: true,
            why: `version ${target.to} has ${targetReady} of ${policy.replicas} pods ready; switching at reduced capacity (mlops:kubernetes.rollbackAtReducedCapacity), the update scales it up behind the switch`,
        };
    }
    return {
        kind: "through-update",
        why: `version ${target.to} has ${targetReady} of ${policy.replicas} pods ready (partial standby); ${scaleUp}. To switch first at reduced capacity, set mlops:kubernetes.rollbackAtReducedCapacity: true`,
    };
}

/** One RFC 6902 operation. */
export type JsonPatchOperation =
    { readonly op: "test" | "replace"; readonly path: string; readonly value: unknown } | { readonly op: "remove"; readonly path: string };

/** RFC 6901: `~` and `/` in a key are escaped. */
const pointerKey = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** Pure: the compare-and-set patch: (the object is the stack's Service, and) the selector still names `from`, and now names `to`. */
export function selectorSwitchPatch(from: string, to: string, serviceUid?: string): JsonPatchOperation[] {
    const path = `/spec/selector/${pointerKey(VERSION_SELECTOR_LABEL)}`;
    return [
        ...(serviceUid === undefined ? [] : [{ op: "test" as const, path: "/metadata/uid", value: serviceUid }]),
        { op: "test", path, value: from },
        { op: "replace", path, value: to },
    ];
}

/** An EndpointSlice endpoint as the checks read it. */
export interface SliceEndpoint {
    readonly conditions?: { readonly ready?: boolean | null };
    readonly targetRef?: { readonly kind?: string; readonly name?: string };
}

/**
 * Whether an endpoint is a pod of `deploymentName`. A Deployment's pods are
 * named `<deployment>-<pod-template-hash>-<5 random>` (by way of its
 * ReplicaSet; a long base is cut short, losing dashes, never adding any),
 * so after `<deployment>-` at most one dash follows: a pod of version
 * `2-rc1` is not one of version `2`.
 */
const isPodOf = (endpoint: SliceEndpoint, deploymentName: string): boolean => {
    const name = endpoint.targetRef?.kind === "Pod" ? (endpoint.targetRef.name ?? "") : "";
    return name.startsWith(`${deploymentName}-`) && name.slice(deploymentName.length + 1).split("-").length <= 2;
};

/** The API says a nil `ready` means ready. */
const isReady = (endpoint: SliceEndpoint): boolean => endpoint.conditions?.ready !== false;

/**
 * Ready endpoints that are pods of `deploymentName`. Counting only the
 * pinned version's pods keeps a lagging EndpointSlice that still lists the
 * old version's pods from passing a check.
 */
export function readyEndpointsOf(endpoints: readonly SliceEndpoint[], deploymentName: string): number {
    return endpoints.filter((e) => isReady(e) && isPodOf(e, deploymentName)).length;
}

/** Where the Service's traffic goes, from its EndpointSlices. */
export interface TrafficView {
    /** Ready endpoints that are pods of the target Deployment. */
    readonly targetReady: number;
    /** Ready endpoints that are anything else (the old version's pods): traffic still reaches them. */
    readonly otherReady: number;
}

/** Pure: where the ready endpoints of the Service's slices are. Traffic is on the target when `targetReady > 0 && otherReady === 0`. */
export function trafficOf(endpoints: readonly SliceEndpoint[], deploymentName: string): TrafficView {
    const ready = endpoints.filter(isReady);
    const targetReady = ready.filter((e) => isPodOf(e, deploymentName)).length;
    return { targetReady, otherReady: ready.length - targetReady };
}

export const trafficOnTarget = (view: TrafficView): boolean => view.targetReady > 0 && view.otherReady === 0;

/** A `metadata.managedFields` entry as the release reads it. */
export interface ManagedFieldsView {
    readonly manager?: string;
    readonly operation?: string;
    readonly fieldsV1?: unknown;
}

export type OwnershipRelease =
    /** Nothing to release: `mlops-rollback` owns nothing on the Service. */
    | { readonly kind: "none" }
    /** Remove the `index`th entry: the stack has recorded the version the Service selects. */
    | { readonly kind: "release"; readonly index: number }
    /** Keep it: the switch is not recorded yet, and releasing now would leave the selector to a stale update. */
    | { readonly kind: "keep"; readonly why: string };

/**
 * Pure: may `mlops-rollback` give up the selector? Only when the Service
 * selects one of `releasable`: the pin of a finished update (from the
 * stack's outputs), from which on the stack's quarantine ledger refuses a
 * stale pin; or, before an update that mlops itself runs under its lock,
 * the version that update moves the Service away from. The field, whether
 * the last apply co-owns it or nobody does once released, keeps its value
 * until the next update sets it: removing a managedFields entry changes no
 * value.
 */
export function ownershipToRelease(managedFields: readonly ManagedFieldsView[], selected: string | undefined, releasable: readonly string[]): OwnershipRelease {
    const index = managedFields.findIndex((entry) => entry.manager === SWITCH_FIELD_MANAGER);
    if (index < 0) return { kind: "none" };
    if (selected === undefined || !releasable.includes(selected)) {
        return {
            kind: "keep",
            why: `the Service selects version ${selected ?? "(none)"}, and the stack records ${releasable.join(" or ")}: the switch is not recorded yet`,
        };
    }
    return { kind: "release", index };
}

/** How a switch attempt ended. */
export type SwitchWrite =
    | { readonly kind: "switched" }
    /** The compare-and-set failed: the Service no longer selects `from`; what it selects now. */
    | { readonly kind: "conflict"; readonly selected: string | undefined };

export interface TrafficConfirmation {
    readonly confirmed: boolean;
    readonly view: TrafficView;
    /** Seconds from the start of the wait. */
    readonly seconds: number;
}

/** What the CLI and the trigger need from the cluster; tests stand in for it below the Kubernetes API. */
export interface TrafficSwitch {
    observe(target: SwitchTarget): Promise<SwitchObservation>;
    /** The one write: the compare-and-set patch, as `mlops-rollback`. */
    switchSelector(target: SwitchTarget): Promise<SwitchWrite>;
    /** Watches the Service's EndpointSlices until only the target's pods are ready endpoints, or `timeoutMs` passes. */
    waitForTraffic(target: SwitchTarget, timeoutMs: number): Promise<TrafficConfirmation>;
    /** Give the selector back when the Service selects one of `releasable` (see `ownershipToRelease`); returns what it did, in one sentence ("" when nothing was held). */
    releaseSelector(namespace: string, serviceName: string, releasable: readonly string[]): Promise<string>;
    /** What the Service selects now, and whether the switch's field manager still holds the selector (a switch no update has recorded yet). */
    serviceState(namespace: string, serviceName: string): Promise<ServiceState>;
}

/** The Service as `mlops status` reports it. */
export interface ServiceState {
    /** undefined when the Service or its version label is missing. */
    readonly selected: string | undefined;
    /** `mlops-rollback` owns the selector: an instant switch that no finished update has given back yet. */
    readonly heldBySwitch: boolean;
}

function statusOf(error: unknown): number | undefined {
    return error instanceof k8s.ApiException ? error.code : undefined;
}

/** `TrafficSwitch` on a cluster's API server. */
export class KubernetesTrafficSwitch implements TrafficSwitch {
    private readonly core: k8s.CoreV1Api;
    private readonly apps: k8s.AppsV1Api;
    private readonly discovery: k8s.DiscoveryV1Api;

    constructor(private readonly kubeConfig: k8s.KubeConfig) {
        this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
        this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
        this.discovery = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    }

    private async service(namespace: string, serviceName: string): Promise<{ readonly uid?: string; readonly selected?: string }> {
        try {
            const service = await this.core.readNamespacedService({ name: serviceName, namespace });
            return { uid: service.metadata?.uid, selected: service.spec?.selector?.[VERSION_SELECTOR_LABEL] };
        } catch (error) {
            if (statusOf(error) === 404) return {};
            throw error;
        }
    }

    async observe(target: SwitchTarget): Promise<SwitchObservation> {
        const deploymentOf = async (): Promise<{ targetReady: number; targetReplicas?: number }> => {
            try {
                const deployment = await this.apps.readNamespacedDeployment({ name: target.targetDeployment, namespace: target.namespace });
                const status = deployment.status;
                return { targetReady: Math.min(status?.readyReplicas ?? 0, status?.updatedReplicas ?? 0), targetReplicas: deployment.spec?.replicas ?? 1 };
            } catch (error) {
                if (statusOf(error) === 404) return { targetReady: 0 };
                throw error;
            }
        };
        const [service, deployment] = await Promise.all([this.service(target.namespace, target.serviceName), deploymentOf()]);
        return { ...service, selected: service.selected, ...deployment };
    }

    async switchSelector(target: SwitchTarget): Promise<SwitchWrite> {
        try {
            await this.core.patchNamespacedService(
                {
                    name: target.serviceName,
                    namespace: target.namespace,
                    body: selectorSwitchPatch(target.from, target.to, target.serviceUid),
                    fieldManager: SWITCH_FIELD_MANAGER,
                },
                k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
            );
            return { kind: "switched" };
        } catch (error) {
            // A failed `test` is 422 Unprocessable Entity; a Service gone is 404.
            if (statusOf(error) !== 422 && statusOf(error) !== 404) throw error;
            const now = await this.service(target.namespace, target.serviceName);
            // Still on `from`, still the same object: the 422 was about something else (an admission rule, say).
            if (now.selected === target.from && (target.serviceUid === undefined || now.uid === target.serviceUid)) throw error;
            return { kind: "conflict", selected: now.selected };
        }
    }

    async waitForTraffic(target: SwitchTarget, timeoutMs: number): Promise<TrafficConfirmation> {
        const started = Date.now();
        const labelSelector = `kubernetes.io/service-name=${target.serviceName}`;
        const list = await this.discovery.listNamespacedEndpointSlice({ namespace: target.namespace, labelSelector });
        const slices = new Map(list.items.map((slice) => [slice.metadata?.name ?? "", slice.endpoints ?? []]));
        const view = () => trafficOf([...slices.values()].flat(), target.targetDeployment);
        const done = (confirmed: boolean): TrafficConfirmation => ({ confirmed, view: view(), seconds: (Date.now() - started) / 1000 });
        if (trafficOnTarget(view())) return done(true);
        return new Promise<TrafficConfirmation>((resolve, reject) => {
            let abort: AbortController | undefined;
            let finished = false;
            const finish = (result: TrafficConfirmation | Error) => {
                if (finished) return;
                finished = true;
                clearTimeout(timer);
                abort?.abort();
                if (result instanceof Error) reject(result);
                else resolve(result);
            };
            const timer = setTimeout(() => finish(done(false)), timeoutMs);
            new k8s.Watch(this.kubeConfig)
                .watch(
                    `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/endpointslices`,
                    // The server ends the watch by itself a moment after our deadline: nothing outlives the wait.
                    { labelSelector, resourceVersion: list.metadata?.resourceVersion ?? "", timeoutSeconds: Math.ceil(timeoutMs / 1000) + 1 },
                    (phase: string, slice: k8s.V1EndpointSlice) => {
                        // ERROR (e.g. 410 Gone) carries a Status, not a slice: the done callback reports what was seen.
                        if (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED") return;
                        const name = slice.metadata?.name ?? "";
                        if (phase === "DELETED") slices.delete(name);
                        else slices.set(name, slice.endpoints ?? []);
                        if (trafficOnTarget(view())) finish(done(true));
                    },
                    // The watch ended (the server closes watches after a while): report what was seen.
                    (error: unknown) => finish(error instanceof Error ? error : done(trafficOnTarget(view()))),
                )
                .then(
                    (controller) => {
                        abort = controller;
                        if (finished) controller.abort();
                    },
                    (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
                );
        });
    }

    async serviceState(namespace: string, serviceName: string): Promise<ServiceState> {
        try {
            const service = await this.core.readNamespacedService({ name: serviceName, namespace });
            return {
                selected: service.spec?.selector?.[VERSION_SELECTOR_LABEL],
                heldBySwitch: (service.metadata?.managedFields ?? []).some((entry) => entry.manager === SWITCH_FIELD_MANAGER),
            };
        } catch (error) {
            if (statusOf(error) === 404) return { selected: undefined, heldBySwitch: false };
            throw error;
        }
    }

    async releaseSelector(namespace: string, serviceName: string, releasable: readonly string[]): Promise<string> {
        const service = await this.core.readNamespacedService({ name: serviceName, namespace });
        const managedFields = service.metadata?.managedFields ?? [];
        const release = ownershipToRelease(managedFields, service.spec?.selector?.[VERSION_SELECTOR_LABEL], releasable);
        if (release.kind === "none") return "";
        if (release.kind === "keep") return `${SWITCH_FIELD_MANAGER} keeps the Service's selector: ${release.why}`;
        // Guarded by the entry's manager and the object's version, so a change in between fails the patch instead of removing another entry.
        const body: JsonPatchOperation[] = [
            { op: "test", path: "/metadata/resourceVersion", value: service.metadata?.resourceVersion },
            { op: "test", path: `/metadata/managedFields/${release.index}/manager`, value: SWITCH_FIELD_MANAGER },
            { op: "remove", path: `/metadata/managedFields/${release.index}` },
        ];
        await this.core.patchNamespacedService({ name: serviceName, namespace, body }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch));
        return `${SWITCH_FIELD_MANAGER} gave the Service's selector back to the stack's updates`;
    }
}

/**
 * A cluster's `KubeConfig`, as kubectl finds it: `kubernetes:kubeconfig`
 * from the stack config (a path or the file's content), else KUBECONFIG
 * and ~/.kube/config.
 */
export function kubeConfigFrom(kubeconfig: string | undefined): k8s.KubeConfig {
    const kubeConfig = new k8s.KubeConfig();
    if (kubeconfig === undefined) kubeConfig.loadFromDefault();
    else if (kubeconfig.includes("apiVersion")) kubeConfig.loadFromString(kubeconfig);
    else kubeConfig.loadFromFile(kubeconfig);
    return kubeConfig;
}
