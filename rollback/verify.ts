/**
 * After an update: does what serves match what is pinned? The engine's
 * success is not enough (SageMaker can roll an update back by itself while
 * the provider reports success), so each target asks the platform directly.
 */
import { DescribeEndpointCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import * as k8s from "@kubernetes/client-node";
import { VERSION_SELECTOR_LABEL } from "../components/kubernetesModelEndpoint";

export interface VerificationResult {
    readonly ok: boolean;
    /** One sentence: what serves, or what does not match. */
    readonly detail: string;
}

export interface ServingVerifier {
    verify(outputs: Record<string, unknown>, pinned: string): Promise<VerificationResult>;
}

/** The part of SageMaker's DescribeEndpoint answer the check reads. */
export interface EndpointDescription {
    readonly EndpointStatus?: string;
    readonly EndpointConfigName?: string;
}

/** Pure: does the described endpoint serve the pinned version's config? */
export function checkSageMakerEndpoint(description: EndpointDescription, expectedConfigName: string, pinned: string): VerificationResult {
    if (description.EndpointStatus !== "InService") {
        return { ok: false, detail: `the endpoint is ${description.EndpointStatus ?? "in an unknown state"}, not InService` };
    }
    if (description.EndpointConfigName !== expectedConfigName) {
        return {
            ok: false,
            detail: `the endpoint serves config ${description.EndpointConfigName ?? "(none)"}, not ${expectedConfigName} of version ${pinned}; SageMaker may have rolled the update back`,
        };
    }
    return { ok: true, detail: `the endpoint is InService on ${expectedConfigName} (version ${pinned})` };
}

export class SageMakerVerifier implements ServingVerifier {
    constructor(private readonly client: Pick<SageMakerClient, "send"> = new SageMakerClient({})) {}

    async verify(outputs: Record<string, unknown>, pinned: string): Promise<VerificationResult> {
        const sagemaker = outputs.sagemaker as { endpointName?: string; endpointConfigNames?: Record<string, string> } | undefined;
        const endpointName = sagemaker?.endpointName;
        const expected = sagemaker?.endpointConfigNames?.[pinned];
        if (endpointName === undefined || expected === undefined)
            return { ok: false, detail: `the stack outputs name no endpoint config for version ${pinned}` };
        const description = await this.client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
        return checkSageMakerEndpoint(description, expected, pinned);
    }
}

/** The part of a Service and its EndpointSlices the check reads. */
export interface ServiceView {
    readonly selector: Record<string, string>;
    /** Ready endpoints across the Service's EndpointSlices. */
    readonly readyEndpoints: number;
}

/** Pure: does the Service select the pinned version, with ready pods behind it? */
export function checkKubernetesService(service: ServiceView, pinned: string): VerificationResult {
    const selected = service.selector[VERSION_SELECTOR_LABEL];
    if (selected !== pinned) return { ok: false, detail: `the Service selects version ${selected ?? "(none)"}, not ${pinned}` };
    if (service.readyEndpoints === 0) return { ok: false, detail: `the Service selects version ${pinned} but has no ready endpoints` };
    return {
        ok: true,
        detail: `the Service selects version ${pinned} with ${service.readyEndpoints} ready endpoint${service.readyEndpoints === 1 ? "" : "s"}`,
    };
}

export class KubernetesVerifier implements ServingVerifier {
    /** @param kubeConfig the cluster to ask; by default KUBECONFIG or ~/.kube/config, as kubectl does. */
    constructor(private readonly kubeConfig: k8s.KubeConfig = defaultKubeConfig()) {}

    async verify(outputs: Record<string, unknown>, pinned: string): Promise<VerificationResult> {
        const kubernetes = outputs.kubernetes as { namespace?: string; serviceName?: string } | undefined;
        const { namespace, serviceName } = kubernetes ?? {};
        if (namespace === undefined || serviceName === undefined) return { ok: false, detail: "the stack outputs name no Service" };
        const core = this.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const discovery = this.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
        const service = await core.readNamespacedService({ name: serviceName, namespace });
        const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${serviceName}` });
        const readyEndpoints = slices.items.flatMap((slice) => slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready === true).length;
        return checkKubernetesService({ selector: service.spec?.selector ?? {}, readyEndpoints }, pinned);
    }
}

function defaultKubeConfig(): k8s.KubeConfig {
    const config = new k8s.KubeConfig();
    config.loadFromDefault();
    return config;
}

export function verifierFor(target: string): ServingVerifier {
    return target === "sagemaker" ? new SageMakerVerifier() : new KubernetesVerifier();
}
