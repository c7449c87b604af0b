/**
 * After an update: does what serves match what is pinned? The engine's
 * success is not enough (SageMaker can roll an update back by itself while
 * the provider reports success), so each target asks the platform directly.
 */
import type { SageMakerClient } from "@aws-sdk/client-sagemaker";
import * as k8s from "@kubernetes/client-node";
import { VERSION_SELECTOR_LABEL } from "../catalog/names";
import { endpointVariantsFromOutput, variantOf } from "../catalog/endpointVariants";
import type { ProviderSettings } from "../config/sources";
import { kubeConfigFrom, readyEndpointsOf } from "./kubernetesSwitch";

export { readyEndpointsOf, type SliceEndpoint } from "./kubernetesSwitch";

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
    readonly ProductionVariants?: readonly { readonly VariantName?: string; readonly CurrentWeight?: number }[];
}

/**
 * Pure: does the described endpoint serve the pinned version's config, and
 * under hot standby (`servingVariant` given) does that version's variant
 * carry all the weight?
 */
export function checkSageMakerEndpoint(
    description: EndpointDescription,
    expectedConfigName: string,
    pinned: string,
    servingVariant?: string,
): VerificationResult {
    if (description.EndpointStatus !== "InService") {
        return { ok: false, detail: `the endpoint is ${description.EndpointStatus ?? "in an unknown state"}, not InService` };
    }
    if (description.EndpointConfigName !== expectedConfigName) {
        return {
            ok: false,
            detail: `the endpoint serves config ${description.EndpointConfigName ?? "(none)"}, not ${expectedConfigName} of version ${pinned}; SageMaker may have rolled the update back`,
        };
    }
    if (servingVariant !== undefined) {
        const weighted = (description.ProductionVariants ?? []).filter((variant) => (variant.CurrentWeight ?? 0) > 0).map((variant) => variant.VariantName);
        if (weighted.length !== 1 || weighted[0] !== servingVariant) {
            return {
                ok: false,
                detail: `the weight is on ${weighted.length === 0 ? "no variant" : weighted.join(" and ")}, not on variant ${servingVariant} of version ${pinned} alone`,
            };
        }
        return { ok: true, detail: `the endpoint is InService on ${expectedConfigName} with all weight on variant ${servingVariant} (version ${pinned})` };
    }
    return { ok: true, detail: `the endpoint is InService on ${expectedConfigName} (version ${pinned})` };
}

export class SageMakerVerifier implements ServingVerifier {
    /** @param client SageMaker in the stack's region (`aws:region`). */
    constructor(private readonly client: Pick<SageMakerClient, "send">) {}

    async verify(outputs: Record<string, unknown>, pinned: string): Promise<VerificationResult> {
        const sagemaker = outputs.sagemaker as { endpointName?: string; endpointConfigNames?: Record<string, string>; endpointVariants?: unknown } | undefined;
        const endpointName = sagemaker?.endpointName;
        const expected = sagemaker?.endpointConfigNames?.[pinned];
        if (endpointName === undefined || expected === undefined)
            return { ok: false, detail: `the stack outputs name no endpoint config for version ${pinned}` };
        // Loaded here: the SageMaker client takes most of a second to load, which a Kubernetes stack never needs.
        const { DescribeEndpointCommand } = await import("@aws-sdk/client-sagemaker");
        const description = await this.client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
        const record = endpointVariantsFromOutput(sagemaker?.endpointVariants);
        return checkSageMakerEndpoint(description, expected, pinned, record === undefined ? undefined : variantOf(record, pinned));
    }
}

/** The part of a Service and its EndpointSlices the check reads. */
export interface ServiceView {
    readonly selector: Record<string, string>;
    /** Ready endpoints across the Service's EndpointSlices whose pod belongs to the pinned version's Deployment. */
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
    /**
     * @param kubeConfig the cluster to ask
     * @param settleSeconds how long EndpointSlices may take to catch up with a new selector
     */
    constructor(
        private readonly kubeConfig: k8s.KubeConfig,
        private readonly settleSeconds = 30,
    ) {}

    async verify(outputs: Record<string, unknown>, pinned: string): Promise<VerificationResult> {
        const kubernetes = outputs.kubernetes as { namespace?: string; serviceName?: string; deploymentNames?: Record<string, string> } | undefined;
        const { namespace, serviceName } = kubernetes ?? {};
        const deploymentName = kubernetes?.deploymentNames?.[pinned];
        if (namespace === undefined || serviceName === undefined || deploymentName === undefined) {
            return { ok: false, detail: `the stack outputs name no Service or no Deployment for version ${pinned}` };
        }
        const core = this.kubeConfig.makeApiClient(k8s.CoreV1Api);
        const discovery = this.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
        const deadline = Date.now() + this.settleSeconds * 1000;
        for (;;) {
            const service = await core.readNamespacedService({ name: serviceName, namespace });
            const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${serviceName}` });
            const readyEndpoints = readyEndpointsOf(
                // A slice with no endpoints has them null (the API omits the list).
                slices.items.flatMap((slice) => slice.endpoints ?? []),
                deploymentName,
            );
            const result = checkKubernetesService({ selector: service.spec?.selector ?? {}, readyEndpoints }, pinned);
            if (result.ok || Date.now() > deadline) return result;
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
}

/** Where to verify: the stack's own provider settings, so the check asks the cluster or region the update used. */
export type VerifierSettings = ProviderSettings;

export function verifierFor(target: string, settings: VerifierSettings = {}): ServingVerifier {
    if (target === "sagemaker") {
        return {
            verify: async (outputs, pinned) => {
                const { SageMakerClient } = await import("@aws-sdk/client-sagemaker");
                return new SageMakerVerifier(new SageMakerClient(settings.awsRegion === undefined ? {} : { region: settings.awsRegion })).verify(
                    outputs,
                    pinned,
                );
            },
        };
    }
    return new KubernetesVerifier(kubeConfigFrom(settings.kubeconfig));
}
