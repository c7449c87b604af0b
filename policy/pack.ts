/**
 * The rules of `rules.ts` as CrossGuard policies: each reads its exemptions
 * from the pack's config and reports the rule's violations. Kept apart from
 * `index.ts`, whose `new PolicyPack` starts serving the engine on import.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { EXEMPTIONS_CONFIG_SCHEMA, exemptionFor, parseExemptions } from "./exemptions";
import { loadActionScopes, loadResourceFormats } from "./iamPolicy";
import { iamActionPatterns, iamResourcePatterns, SECURITY_RULES, type PolicyResource, type SecurityRule } from "./rules";

export const POLICY_PACK_NAME = "mlops-rollback";

export function resourcePolicyFor(rule: SecurityRule): ResourceValidationPolicy {
    return {
        name: rule.name,
        description: rule.description,
        enforcementLevel: "mandatory",
        configSchema: EXEMPTIONS_CONFIG_SCHEMA,
        validateResource: async (args, reportViolation) => {
            if (!rule.types.includes(args.type)) return;
            const { exemptions, problems } = parseExemptions(rule.name, args.getConfig());
            problems.forEach((problem) => reportViolation(problem));
            const resource: PolicyResource = { type: args.type, name: args.name, props: args.props, ignoreChanges: args.opts.ignoreChanges ?? [] };
            const facts = {
                actionScopes: await loadActionScopes(iamActionPatterns(resource)),
                resourceFormats: await loadResourceFormats(iamResourcePatterns(resource)),
            };
            const violations = rule.check(resource, facts);
            if (violations.length === 0) return;
            const exemption = exemptionFor(args, exemptions);
            // Recorded by the engine as "not applicable", with the reason, rather than passed silently.
            if (exemption !== undefined) args.notApplicable(`exempt: ${exemption.reason}`);
            violations.forEach((violation) => reportViolation(violation));
        },
    };
}

export function securityPolicies(): ResourceValidationPolicy[] {
    return SECURITY_RULES.map(resourcePolicyFor);
}
