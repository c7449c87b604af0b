/**
 * The live weights and instance counts of a SageMaker endpoint's production
 * variants, as a Pulumi resource. The AWS provider cannot keep them (its
 * Endpoint has no weights, and `RetainAllVariantProperties` is not exposed):
 * a config's variant fields are only initial values, and
 * UpdateEndpointWeightsAndCapacities changes the live ones without a new
 * config. This resource says what they should be; its read is
 * DescribeEndpoint's `CurrentWeight` / `CurrentInstanceCount`, so
 * `pulumi refresh` shows a weight moved outside the stack as drift, and an
 * update calls UpdateEndpointWeightsAndCapacities only when the live values
 * differ (after `mlops rollback` or the alarm trigger moved them, the update
 * that records it makes no call).
 *
 * A Pulumi dynamic provider: its functions are serialized into the state
 * and run by Pulumi's Node.js dynamic provider host, so they capture no
 * module of this package (a serialized `require` of an installed package's
 * internal file would fail on its `exports` map). They load the AWS SDK
 * themselves; credentials and region come from the environment of
 * `pulumi up`, the region from the `region` input (the stack's `aws:region`).
 */
import * as pulumi from "@pulumi/pulumi";
import type { VariantWeight } from "../catalog/endpointVariants";

/** The inputs (and, with the live values read back, the outputs) of the resource. */
export interface EndpointVariantWeightsInputs {
    readonly endpointName: string;
    /** The endpoint's region; undefined: the SDK's default (AWS_REGION). */
    readonly region?: string;
    /** Every variant of the endpoint config, with the weight (0..1) and instance count it should run at. */
    readonly variants: readonly VariantWeight[];
}

/** One variant's entry in an UpdateEndpointWeightsAndCapacities call: what to set of it (a field left out is kept). */
export interface VariantCall {
    readonly variantName: string;
    readonly weight?: number;
    readonly instanceCount?: number;
}

/** What DescribeEndpoint shows about an endpoint and its variants. */
export interface LiveEndpoint {
    readonly status: string;
    readonly configName: string;
    readonly variants: readonly LiveVariant[];
}

export interface LiveVariant {
    readonly variantName: string;
    /** `CurrentWeight`; undefined when SageMaker shows none. */
    readonly weight?: number;
    readonly instanceCount?: number;
    readonly desiredWeight?: number;
    readonly desiredInstanceCount?: number;
}

/**
 * SageMaker statuses in which it is still changing the endpoint: BUSY_ENDPOINT_STATUSES of
 * rollback/endpointSettle.ts, written out because this module is serialized alone (a test keeps the two equal).
 */
export const PROVIDER_BUSY_STATUSES = ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"];

type SageMakerSdk = typeof import("@aws-sdk/client-sagemaker");

/**
 * The SageMaker SDK, loaded when first called. A plain `require` in the
 * function body is what Pulumi's closure serializer can carry into the
 * dynamic provider host (it resolves there from the project's node_modules).
 */
function sageMakerSdk(): SageMakerSdk {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@aws-sdk/client-sagemaker") as SageMakerSdk;
}

/** DescribeEndpoint, in this module's terms. */
export async function describeLiveEndpoint(endpointName: string, region: string | undefined, endpoint?: string): Promise<LiveEndpoint> {
    const sdk = sageMakerSdk();
    const client = new sdk.SageMakerClient({ ...(region === undefined ? {} : { region }), ...(endpoint === undefined ? {} : { endpoint }) });
    const answer = await client.send(new sdk.DescribeEndpointCommand({ EndpointName: endpointName }));
    return {
        status: answer.EndpointStatus ?? "Unknown",
        configName: answer.EndpointConfigName ?? "",
        variants: (answer.ProductionVariants ?? []).map((variant) => ({
            variantName: variant.VariantName ?? "",
            weight: variant.CurrentWeight,
            instanceCount: variant.CurrentInstanceCount,
            desiredWeight: variant.DesiredWeight,
            desiredInstanceCount: variant.DesiredInstanceCount,
        })),
    };
}

/** One UpdateEndpointWeightsAndCapacities call: each listed variant's weight and instance count. */
export async function updateWeightsAndCapacities(
    endpointName: string,
    variants: readonly VariantCall[],
    region: string | undefined,
    endpoint?: string,
): Promise<void> {
    const sdk = sageMakerSdk();
    const client = new sdk.SageMakerClient({ ...(region === undefined ? {} : { region }), ...(endpoint === undefined ? {} : { endpoint }) });
    await client.send(
        new sdk.UpdateEndpointWeightsAndCapacitiesCommand({
            EndpointName: endpointName,
            DesiredWeightsAndCapacities: variants.map((variant) => ({
                VariantName: variant.variantName,
                DesiredWeight: variant.weight,
                DesiredInstanceCount: variant.instanceCount,
            })),
        }),
    );
}

/**
 * Whether the live variants run at `wanted`: every wanted variant present
 * with its weight and at least its instance count (more is not undone: a
 * variant's own autoscaling may have added instances).
 */
export function runsAt(live: readonly LiveVariant[], wanted: readonly VariantWeight[]): boolean {
    return wanted.every((want) => {
        const found = live.find((variant) => variant.variantName === want.variantName);
        return found !== undefined && (found.weight ?? 0) === want.weight && (found.instanceCount ?? 0) >= want.instanceCount;
    });
}

/**
 * The call that takes `live` to `wanted`: every wanted variant's weight,
 * and its instance count only where it must rise. AWS's API reference has
 * the call update the weight of one or more variants or the capacity of one
 * (UpdateEndpointWeightsAndCapacities), so counts that stay are not sent,
 * and a count above the wanted one (autoscaling's) is left alone.
 */
export function callFor(live: readonly LiveVariant[], wanted: readonly VariantWeight[]): VariantCall[] {
    return wanted.map((want) => {
        const found = live.find((variant) => variant.variantName === want.variantName);
        return (found?.instanceCount ?? 0) >= want.instanceCount
            ? { variantName: want.variantName, weight: want.weight }
            : { variantName: want.variantName, weight: want.weight, instanceCount: want.instanceCount };
    });
}

/** How long the provider waits for SageMaker to finish an endpoint change before it fails the update. */
const SETTLE_TIMEOUT_MS = 60 * 60_000;
const SETTLE_POLL_MS = 15_000;

async function settled(endpointName: string, region: string | undefined): Promise<LiveEndpoint> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
        const live = await describeLiveEndpoint(endpointName, region);
        if (!PROVIDER_BUSY_STATUSES.includes(live.status)) return live;
        if (Date.now() > deadline) throw new Error(`endpoint ${endpointName} is still ${live.status} after ${SETTLE_TIMEOUT_MS / 60_000} minutes`);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
}

/** Waits for the endpoint to settle, moves its weights if they differ, waits again: the live values after. */
async function apply(inputs: EndpointVariantWeightsInputs): Promise<EndpointVariantWeightsInputs> {
    let live = await settled(inputs.endpointName, inputs.region);
    if (!runsAt(live.variants, inputs.variants)) {
        await updateWeightsAndCapacities(inputs.endpointName, callFor(live.variants, inputs.variants), inputs.region);
        live = await settled(inputs.endpointName, inputs.region);
        if (!runsAt(live.variants, inputs.variants)) {
            throw new Error(
                `endpoint ${inputs.endpointName} settled at other weights than asked (${JSON.stringify(live.variants)}); SageMaker may have refused the change`,
            );
        }
    }
    return { ...inputs, variants: liveWeights(live, inputs.variants) };
}

/** The live weights of the variants named in `of`, in its order (a variant SageMaker does not show is left out). */
function liveWeights(live: LiveEndpoint, of: readonly VariantWeight[]): VariantWeight[] {
    return of.flatMap((want) => {
        const found = live.variants.find((variant) => variant.variantName === want.variantName);
        return found === undefined ? [] : [{ variantName: want.variantName, weight: found.weight ?? 0, instanceCount: found.instanceCount ?? 0 }];
    });
}

/** Two wanted states, equal in every variant's weight and count (in any order). */
function sameWeights(a: readonly VariantWeight[], b: readonly VariantWeight[]): boolean {
    return (
        a.length === b.length &&
        b.every((want) => a.some((have) => have.variantName === want.variantName && have.weight === want.weight && have.instanceCount === want.instanceCount))
    );
}

/** The dynamic provider. One object, so that Pulumi serializes it once per run (it caches by object). */
export const endpointVariantWeightsProvider: pulumi.dynamic.ResourceProvider<EndpointVariantWeightsInputs, EndpointVariantWeightsInputs> = {
    /**
     * Another endpoint (the Endpoint was replaced) replaces this resource:
     * its id is the endpoint's name. Otherwise a change when the wanted
     * weights differ from the last ones, or from what the endpoint runs now:
     * an UpdateEndpoint (a redeployed config, a new deployment policy) resets
     * the live weights to the config's initial ones without telling this
     * resource, so the state alone would miss it. Reading the endpoint is
     * the only AWS call a diff makes; when it fails, the state decides.
     */
    async diff(_id, olds, news) {
        if (olds.endpointName !== news.endpointName || olds.region !== news.region) {
            return { changes: true, replaces: ["endpointName"], deleteBeforeReplace: false };
        }
        if (!sameWeights(olds.variants ?? [], news.variants)) return { changes: true };
        const live = await describeLiveEndpoint(news.endpointName, news.region).catch(() => undefined);
        return { changes: live !== undefined && !runsAt(live.variants, news.variants) };
    },
    async create(inputs) {
        return { id: inputs.endpointName, outs: await apply(inputs) };
    },
    async update(_id, _olds, news) {
        return { outs: await apply(news) };
    },
    async read(id, props) {
        const region = props?.region;
        let live: LiveEndpoint;
        try {
            live = await describeLiveEndpoint(id, region);
        } catch (error) {
            // The endpoint is gone (deleted outside the stack, or with its Endpoint): so are its weights; refresh drops the resource.
            if (isEndpointNotFound(error)) return {};
            throw error;
        }
        return { id, props: { endpointName: id, region, variants: liveWeights(live, props?.variants ?? live.variants.map(asWanted)) } };
    },
    // The weights go with the Endpoint; nothing of their own to delete.
    async delete() {},
};

/** SageMaker's answer for an endpoint that does not exist: ValidationException "Could not find endpoint ...". */
function isEndpointNotFound(error: unknown): boolean {
    return error instanceof Error && error.name === "ValidationException" && /could not find endpoint/i.test(error.message);
}

function asWanted(variant: LiveVariant): VariantWeight {
    return { variantName: variant.variantName, weight: variant.weight ?? 0, instanceCount: variant.instanceCount ?? 0 };
}

export interface EndpointVariantWeightsArgs {
    readonly endpointName: pulumi.Input<string>;
    readonly region?: pulumi.Input<string>;
    readonly variants: pulumi.Input<readonly VariantWeight[]>;
}

/**
 * The live weights of an endpoint's variants (type
 * `pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights`); `variants`
 * reads back what DescribeEndpoint shows.
 */
export class EndpointVariantWeights extends pulumi.dynamic.Resource {
    declare public readonly variants: pulumi.Output<VariantWeight[]>;

    constructor(name: string, args: EndpointVariantWeightsArgs, opts?: pulumi.CustomResourceOptions) {
        super(endpointVariantWeightsProvider, name, { ...args, variants: args.variants }, opts, "sagemaker", "EndpointVariantWeights");
    }
}

/** The resource type, for `pulumi refresh --target` by type. */
export const ENDPOINT_VARIANT_WEIGHTS_TYPE = "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights";
