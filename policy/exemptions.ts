/**
 * Opting a resource out of one rule: by the rule's name, for a named
 * resource, with a reason, in the pack's config (`--policy-pack-config`):
 *
 *     { "CKV_AWS_115": { "exemptions": [{ "resource": "nightly-report", "reason": "runs once a day; no burst to contain" }] } }
 *
 * The engine checks the config against the schema below before it runs the
 * pack, so an exemption without a reason stops the preview; the pack checks it
 * again, so that the rule holds wherever the rules run.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";

/** A reason shorter than this says nothing a reviewer can check. */
export const MIN_REASON_LENGTH = 10;

export interface Exemption {
    /** The resource's logical name (as `pulumi preview` prints it) or its URN. */
    readonly resource: string;
    readonly reason: string;
}

export const EXEMPTIONS_CONFIG_SCHEMA: PolicyConfigSchema = {
    properties: {
        exemptions: {
            type: "array",
            items: {
                type: "object",
                properties: {
                    resource: { type: "string", minLength: 1 },
                    reason: { type: "string", minLength: MIN_REASON_LENGTH },
                },
                required: ["resource", "reason"],
                additionalProperties: false,
            },
        },
    },
};

/**
 * The exemptions one rule's config grants, and what is wrong with the ones it
 * does not: each problem names the rule and the entry.
 */
export function parseExemptions(rule: string, config: unknown): { readonly exemptions: Exemption[]; readonly problems: string[] } {
    const entries = (config as { exemptions?: unknown } | undefined)?.exemptions;
    if (entries === undefined) return { exemptions: [], problems: [] };
    if (!Array.isArray(entries)) return { exemptions: [], problems: [`${rule}.exemptions must be a list of { resource, reason }`] };
    const exemptions: Exemption[] = [];
    const problems: string[] = [];
    entries.forEach((entry: unknown, index) => {
        const { resource, reason } = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
        if (typeof resource !== "string" || resource === "") {
            problems.push(`${rule}.exemptions[${index}].resource must name a resource (its logical name or URN)`);
        } else if (typeof reason !== "string" || reason.trim().length < MIN_REASON_LENGTH) {
            problems.push(`${rule}.exemptions[${index}] (${resource}) needs a reason of at least ${MIN_REASON_LENGTH} characters`);
        } else {
            exemptions.push({ resource, reason });
        }
    });
    return { exemptions, problems };
}

/** The exemption that covers this resource, by logical name or URN. */
export function exemptionFor(resource: { readonly name: string; readonly urn: string }, exemptions: readonly Exemption[]): Exemption | undefined {
    return exemptions.find((exemption) => exemption.resource === resource.name || exemption.resource === resource.urn);
}
