/**
 * Where the production variants of a SageMaker endpoint config are decided
 * under hot standby (`mlops:sagemaker.standby: hot`), and the live weights
 * and instance counts they should run at. Pure functions over the parsed
 * settings, the warm set and the stack's record of the config it runs.
 *
 * Under hot standby the endpoint config holds the pinned version (variant
 * `variantName`, weight 1) and the default rollback target (variant
 * `standbyVariantName`, weight 0, running instances). A rollback to the
 * standby moves weight with UpdateEndpointWeightsAndCapacities and keeps
 * that config: every field of a production variant forces a new config
 * (a new fleet, minutes), so the config a rollback lands on must be the
 * one the endpoint already runs, with its initial weights as created. What
 * serves is then said by the live weights (`desiredVariantWeights`), not by
 * the config's initial ones.
 */
import type { SageMakerSettings } from "../config/schema";

/** One production variant of the endpoint config, as created. */
export interface EndpointVariant {
    /** The variant's name: `variantName` or `standbyVariantName`, the same across versions (SageMaker's guardrails need it). */
    readonly variantName: string;
    /** The model version it runs. */
    readonly version: string;
    /** `InitialVariantWeight` in the config: 1 for the version pinned when it was created, 0 for its standby. */
    readonly initialWeight: number;
    /** `InitialInstanceCount` in the config. */
    readonly initialInstanceCount: number;
}

/**
 * The endpoint config a hot standby runs, as the stack's `mlops` output
 * records it (`sagemaker.endpointVariants`), so that the next run can
 * declare the same config after a rollback moved weight within it.
 */
export interface EndpointVariantsRecord {
    readonly instanceType: string;
    /** What else the config and its Models were made from (`EndpointVariantsInput.madeFrom`); a change makes a new config. @default "" */
    readonly madeFrom?: string;
    /** The version the config was created for (its logical name comes from it). */
    readonly createdFor: string;
    readonly variants: readonly EndpointVariant[];
}

/** What `endpointVariantsFor` decided: the config to declare, and whether it is the one the stack runs already. */
export interface EndpointVariantsDecision {
    readonly record: EndpointVariantsRecord;
    /** True when `record` is the previous run's config, kept because the pin stayed or moved back within it. */
    readonly kept: boolean;
    /**
     * True when the pin is not the version the kept config was made for (a
     * rollback moved the weight within it): a redeploy of that config (a new
     * deployment policy) would reset the weights to the version left.
     */
    readonly rolledBackWithin: boolean;
}

export interface EndpointVariantsInput {
    readonly settings: Pick<SageMakerSettings, "instanceType" | "instanceCount" | "variantName" | "standbyVariantName" | "standbyInstanceCount">;
    readonly pinned: string;
    /** The default rollback target (`defaultRollbackTarget`), kept running as the standby; undefined when none. */
    readonly standby: string | undefined;
    /** Versions that must not be pinned (config plus the stack's quarantine ledger). */
    readonly quarantined: readonly string[];
    /** The catalog's version ids. */
    readonly catalog: readonly string[];
    /** The config the stack runs now, from its last update's `mlops` output; undefined when none is recorded. */
    readonly previous?: EndpointVariantsRecord;
    /** The version the stack served at its last update (the serving record's last); a pin later than it is a forward deploy. @default none */
    readonly previousPin?: string;
    /**
     * Everything besides the versions and counts that the config and its
     * Models are made from (KMS key, VPC, role, the environment's sources,
     * e.g. the database a restore points at), as one string: when it changes
     * the config is replaced anyway, so it is made anew with the pin at weight 1. @default ""
     */
    readonly madeFrom?: string;
}

/**
 * The production variants to declare under hot standby.
 *
 * The previous config is kept when the pin stayed or moved back (never a
 * forward deploy, which goes through UpdateEndpoint and the guardrails),
 * the pin is one of its versions, its other version is the standby this pin
 * wants or one later than the pin (the version a rollback left, whether
 * `mlops rollback` quarantined it or a plain pin edit did not), and it was
 * made from the same instance type, variant names, counts and `madeFrom`.
 * Otherwise a new config: the pin at weight 1 with `instanceCount`, its
 * standby (if any) at weight 0 with `standbyInstanceCount` (default
 * `instanceCount`).
 *
 * Worked example, instanceCount 2, standbyInstanceCount 1, catalog 1..4:
 * - deploy 3 after 2 served: new {primary: 3 w1 ×2, standby: 2 w0 ×1}.
 * - rollback to 2 (3 quarantined): 2 is in it and 3 is later: kept, rolled
 *   back within. The live weights move (`desiredVariantWeights`): standby 2
 *   w1 ×2, primary 3 w0 ×2.
 * - deploy 4 after that: 4 is not in it: new {primary: 4 w1 ×2, standby: 2 w0 ×1}.
 * - instead, deploy 3 again (--force): a forward deploy: new {primary: 3, standby: 2}.
 * - 2 quarantined by hand while 3 serves: the standby wanted is now 1: new {3, 1}.
 * - change instanceCount to 3, or the KMS key, without moving the pin: new.
 */
export function endpointVariantsFor(input: EndpointVariantsInput): EndpointVariantsDecision {
    const { settings, pinned, standby, previous } = input;
    const standbyCount = settings.standbyInstanceCount ?? settings.instanceCount;
    if (previous !== undefined && keepsPrevious(input, previous, standbyCount)) {
        return { record: previous, kept: true, rolledBackWithin: previous.createdFor !== pinned };
    }
    const variants: EndpointVariant[] = [
        { variantName: settings.variantName, version: pinned, initialWeight: 1, initialInstanceCount: settings.instanceCount },
    ];
    if (standby !== undefined && standby !== pinned) {
        variants.push({ variantName: settings.standbyVariantName, version: standby, initialWeight: 0, initialInstanceCount: standbyCount });
    }
    return {
        record: { instanceType: settings.instanceType, madeFrom: input.madeFrom ?? "", createdFor: pinned, variants },
        kept: false,
        rolledBackWithin: false,
    };
}

function keepsPrevious(input: EndpointVariantsInput, previous: EndpointVariantsRecord, standbyCount: number): boolean {
    const { settings, pinned, standby, catalog, previousPin } = input;
    const at = (version: string): number => catalog.indexOf(version);
    if (previous.instanceType !== settings.instanceType || (previous.madeFrom ?? "") !== (input.madeFrom ?? "")) return false;
    if (!previous.variants.every((variant) => catalog.includes(variant.version))) return false;
    if (previousPin !== undefined && catalog.includes(previousPin) && at(pinned) > at(previousPin)) return false;
    const primary = previous.variants.find((variant) => variant.initialWeight > 0);
    const secondary = previous.variants.find((variant) => variant.initialWeight === 0);
    if (primary === undefined || primary.variantName !== settings.variantName || primary.initialInstanceCount !== settings.instanceCount) return false;
    if (secondary !== undefined && (secondary.variantName !== settings.standbyVariantName || secondary.initialInstanceCount !== standbyCount)) return false;
    if (!previous.variants.some((variant) => variant.version === pinned)) return false;
    const others = previous.variants.filter((variant) => variant.version !== pinned).map((variant) => variant.version);
    if (others.length === 0) return standby === undefined;
    return others.every((other) => other === standby || at(other) > at(pinned));
}

/**
 * `EndpointVariantsInput.madeFrom`: the settings besides versions and counts
 * that a config or its Models are made from, and the container environment
 * (`undefined` for a value only known later, an Output, which `source`
 * stands for), as one comparable string.
 */
export function configMadeFrom(
    settings: Pick<SageMakerSettings, "kmsKeyArn" | "executionRoleArn" | "vpc">,
    environment: Record<string, string | undefined>,
    source: string | undefined,
): string {
    return JSON.stringify({
        kmsKeyArn: settings.kmsKeyArn ?? null,
        executionRoleArn: settings.executionRoleArn ?? null,
        vpc: settings.vpc ?? null,
        environment: Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value ?? "(output)"])),
        source: source ?? null,
    });
}

/** One variant's weight and instance count, as UpdateEndpointWeightsAndCapacities sets them and DescribeEndpoint shows them. */
export interface VariantWeight {
    readonly variantName: string;
    /** 0..1 here: all of the traffic or none of it. */
    readonly weight: number;
    readonly instanceCount: number;
}

/**
 * The live weights and counts of the config's variants with `pinned`
 * serving: its variant weight 1 with at least `instanceCount` instances,
 * every other variant weight 0 with the count the config gave it. The same
 * answer for the component (what `pulumi up` keeps), `mlops rollback` and
 * the alarm trigger (what they set with one call), so that the update
 * after a switch finds nothing to change.
 *
 * Example: {primary: 3 w1 ×2, standby: 2 w0 ×1}, pinned 2, instanceCount 2
 * -> standby w1 ×2, primary w0 ×2.
 */
export function desiredVariantWeights(record: EndpointVariantsRecord, pinned: string, instanceCount: number): VariantWeight[] {
    return record.variants.map((variant) =>
        variant.version === pinned
            ? { variantName: variant.variantName, weight: 1, instanceCount: Math.max(variant.initialInstanceCount, instanceCount) }
            : { variantName: variant.variantName, weight: 0, instanceCount: variant.initialInstanceCount },
    );
}

/** The variant that runs `version` in the record, if any. */
export function variantOf(record: EndpointVariantsRecord, version: string): string | undefined {
    return record.variants.find((variant) => variant.version === version)?.variantName;
}

/** Reads a record back from the stack's `mlops` output (`sagemaker.endpointVariants`); undefined for anything else. */
export function endpointVariantsFromOutput(value: unknown): EndpointVariantsRecord | undefined {
    if (typeof value !== "object" || value === null) return undefined;
    const { instanceType, madeFrom, createdFor, variants } = value as Record<string, unknown>;
    if (typeof instanceType !== "string" || typeof createdFor !== "string" || !Array.isArray(variants)) return undefined;
    if (madeFrom !== undefined && typeof madeFrom !== "string") return undefined;
    const parsed: EndpointVariant[] = [];
    for (const item of variants as unknown[]) {
        const v = item as Record<string, unknown> | null;
        if (
            typeof v?.variantName !== "string" ||
            typeof v.version !== "string" ||
            typeof v.initialWeight !== "number" ||
            typeof v.initialInstanceCount !== "number"
        ) {
            return undefined;
        }
        parsed.push({ variantName: v.variantName, version: v.version, initialWeight: v.initialWeight, initialInstanceCount: v.initialInstanceCount });
    }
    return { instanceType, ...(madeFrom === undefined ? {} : { madeFrom }), createdFor, variants: parsed };
}
