/**
 * The instant rollback on SageMaker under hot standby: where traffic moves
 * with UpdateEndpointWeightsAndCapacities between two running variants of
 * the config the endpoint already runs, before the Pulumi update that
 * records it. `decideWeightsSwitch` decides from what DescribeEndpoint
 * shows; `switchWeights` makes the call(s) and confirms on DescribeEndpoint
 * that the target variant carries all the weight. `mlops rollback` and the
 * alarm trigger both use them.
 */
import { desiredVariantWeights, variantOf, type EndpointVariantsRecord, type VariantWeight } from "../catalog/endpointVariants";
import { callFor, type LiveEndpoint, type LiveVariant, type VariantCall } from "../components/endpointVariantWeights";
import { BUSY_ENDPOINT_STATUSES } from "./endpointSettle";

export type WeightsDecision =
    /**
     * Traffic moves with these calls, in order: one (weights), or two when
     * the standby runs fewer instances than it will serve with (its count
     * raised first). A count is sent only where it changes (`callFor`).
     */
    | { readonly kind: "switch"; readonly calls: readonly (readonly VariantCall[])[]; readonly why: string }
    /** The target variant carries all the weight already (another run or the trigger moved it): nothing to write. */
    | { readonly kind: "already-switched"; readonly why: string }
    /** SageMaker is changing the endpoint: a call now is refused ("Cannot update in-progress endpoint"). */
    | { readonly kind: "busy"; readonly why: string }
    /** Not the state the stack recorded (another config, no such variant, traffic on neither version): nothing is written. */
    | { readonly kind: "refuse"; readonly why: string }
    /** The target is not a variant of the config the endpoint runs: the update moves traffic (cold). */
    | { readonly kind: "through-update"; readonly why: string };

export interface WeightsSwitchTarget {
    /** The config the stack recorded the endpoint runs (`endpointConfigNames[from]`). */
    readonly configName: string;
    /** Its variants, as recorded (`sagemaker.endpointVariants`). */
    readonly record: EndpointVariantsRecord;
    /** The version that serves now, and the one to move to. */
    readonly from: string;
    readonly to: string;
    /** `mlops:sagemaker.instanceCount`: what the serving variant runs. */
    readonly instanceCount: number;
    /** Move the weight in the same call as the count (the target serves at reduced capacity until SageMaker adds instances). @default false: raise first */
    readonly atReducedCapacity?: boolean;
}

/**
 * Whether and how traffic moves to `target.to` now.
 *
 * Worked example, config {primary: 3 w1 ×2, standby: 2 w0 ×1}, rollback
 * 3 -> 2, instanceCount 2: DescribeEndpoint shows primary w1, standby w0 ×1,
 * InService -> switch with two calls: [standby ×2], then [primary w0 ×2,
 * standby w1 ×2]. With standbyInstanceCount 2 (standby ×2): one call.
 * Standby already w1, primary w0 -> already-switched.
 */
export function decideWeightsSwitch(live: LiveEndpoint, target: WeightsSwitchTarget): WeightsDecision {
    const toVariant = variantOf(target.record, target.to);
    const fromVariant = variantOf(target.record, target.from);
    if (toVariant === undefined) return { kind: "through-update", why: `version ${target.to} is not a variant of the endpoint's config` };
    if (live.configName !== target.configName) {
        return {
            kind: "refuse",
            why: `the endpoint runs config ${live.configName || "(none)"}, not ${target.configName} that the stack recorded: it was changed outside the stack, or SageMaker rolled an update back`,
        };
    }
    if (BUSY_ENDPOINT_STATUSES.includes(live.status)) return { kind: "busy", why: `the endpoint is ${live.status}` };
    if (live.status !== "InService") return { kind: "refuse", why: `the endpoint is ${live.status}, not InService` };
    const liveTo = live.variants.find((variant) => variant.variantName === toVariant);
    if (liveTo === undefined) return { kind: "refuse", why: `the endpoint shows no variant ${toVariant}` };
    const carrying = live.variants.filter((variant) => weightOf(variant) > 0).map((variant) => variant.variantName);
    if (carrying.length === 1 && carrying[0] === toVariant) {
        return { kind: "already-switched", why: `variant ${toVariant} (version ${target.to}) carries all the weight already` };
    }
    if (fromVariant === undefined || carrying.length !== 1 || carrying[0] !== fromVariant) {
        return {
            kind: "refuse",
            why: `the weight is on ${carrying.length === 0 ? "no variant" : carrying.join(" and ")}, not on variant ${fromVariant ?? "(none)"} of version ${target.from} alone: someone moved it outside the stack`,
        };
    }
    const wanted = desiredVariantWeights(target.record, target.to, target.instanceCount);
    const wantedTo = wanted.find((variant) => variant.variantName === toVariant);
    const short = wantedTo !== undefined && (liveTo.instanceCount ?? 0) < wantedTo.instanceCount;
    if (short && target.atReducedCapacity !== true) {
        return {
            kind: "switch",
            calls: [[{ ...wantedTo, weight: weightOf(liveTo) }], callFor(raised(live.variants, wantedTo), wanted)],
            why: `variant ${toVariant} runs ${liveTo.instanceCount ?? 0} of ${wantedTo.instanceCount} instances: its count is raised first (SageMaker adds instances in minutes; AWS publishes no figure), then the weight moves`,
        };
    }
    return {
        kind: "switch",
        calls: [callFor(live.variants, wanted)],
        why: short
            ? `all weight to variant ${toVariant} at once, on ${liveTo.instanceCount ?? 0} of ${wantedTo?.instanceCount} instances until SageMaker adds the rest`
            : `all weight to variant ${toVariant}, which runs ${liveTo.instanceCount ?? 0} instance(s) already`,
    };
}

const weightOf = (variant: LiveVariant): number => variant.weight ?? 0;

/** The live variants once `to` runs its wanted count (what the second call of a raise-first switch starts from). */
function raised(live: readonly LiveVariant[], to: VariantWeight): LiveVariant[] {
    return live.map((variant) => (variant.variantName === to.variantName ? { ...variant, instanceCount: to.instanceCount } : variant));
}

/** The SageMaker calls a switch makes; `components/endpointVariantWeights.ts` has them on the AWS SDK. */
export interface WeightsApi {
    describe(endpointName: string): Promise<LiveEndpoint>;
    /** UpdateEndpointWeightsAndCapacities. */
    update(endpointName: string, variants: readonly VariantCall[]): Promise<void>;
}

export interface SwitchWeightsOptions {
    /** How long to wait for SageMaker to apply a call (and to be free before one) before giving up. @default 1200 s */
    readonly timeoutSeconds?: number;
    /** @default 5 s */
    readonly intervalSeconds?: number;
    readonly sleep?: (milliseconds: number) => Promise<void>;
    /** Told while waiting. */
    readonly onWait?: (what: string, waitedSeconds: number) => void;
}

/** How a switch went: the calls made, and whether DescribeEndpoint confirmed the target variant carries all the weight. */
export interface WeightsSwitchResult {
    readonly calls: number;
    readonly confirmed: boolean;
    readonly live: LiveEndpoint;
}

/**
 * Moves the weight to `target.to`, one call at a time: before each call it
 * waits until SageMaker is done with the endpoint (a call on a busy endpoint
 * is refused) and decides again on what DescribeEndpoint shows now, so that
 * a change made by someone else in between (another config, weight moved)
 * is refused rather than overwritten with a stale decision. It stops when
 * the target variant carries all the weight (confirmed), or after as many
 * calls as the first decision needed (not confirmed). A refusal because the
 * endpoint became busy is waited out within the same time budget; never two
 * calls at once.
 *
 * Throws when a fresh decision refuses (the message says why) and on any
 * other error of a call.
 */
export async function switchWeights(
    api: WeightsApi,
    endpointName: string,
    target: WeightsSwitchTarget,
    options: SwitchWeightsOptions = {},
): Promise<WeightsSwitchResult> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const intervalMs = (options.intervalSeconds ?? 5) * 1000;
    const budgetMs = (options.timeoutSeconds ?? 1200) * 1000;
    let waitedMs = 0;
    const settled = async (what: string): Promise<LiveEndpoint> => {
        for (;;) {
            const live = await api.describe(endpointName);
            if (!BUSY_ENDPOINT_STATUSES.includes(live.status)) return live;
            if (waitedMs >= budgetMs) throw new Error(`endpoint ${endpointName} is still ${live.status} after ${Math.round(waitedMs / 1000)} s (${what})`);
            options.onWait?.(`${what}: the endpoint is ${live.status}`, Math.round(waitedMs / 1000));
            await sleep(intervalMs);
            waitedMs += intervalMs;
        }
    };
    let calls = 0;
    let callsNeeded: number | undefined;
    for (;;) {
        const live = await settled(calls === 0 ? "before the call" : "SageMaker applies the change");
        const decision = decideWeightsSwitch(live, target);
        if (decision.kind === "already-switched") return { calls, confirmed: true, live };
        if (decision.kind !== "switch") throw new Error(decision.why);
        callsNeeded ??= decision.calls.length;
        if (calls >= callsNeeded) return { calls, confirmed: false, live };
        try {
            await api.update(endpointName, decision.calls[0]);
            calls += 1;
        } catch (error) {
            // Busy again: wait a turn (DescribeEndpoint may lag behind the change that made it busy), then decide again.
            if (!isInProgressRefusal(error) || waitedMs >= budgetMs) throw error;
            options.onWait?.("the call was refused: the endpoint is being changed", Math.round(waitedMs / 1000));
            await sleep(intervalMs);
            waitedMs += intervalMs;
        }
    }
}

/** SageMaker's answer to a call on an endpoint it is changing. */
export function isInProgressRefusal(error: unknown): boolean {
    return error instanceof Error && /Cannot update in-progress endpoint/i.test(error.message);
}
