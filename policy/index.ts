/**
 * The mlops-rollback policy pack: `pulumi preview --policy-pack <this folder>`.
 * Every rule is mandatory; a resource opts out of one rule by name, with a
 * reason, in `--policy-pack-config` (see `exemptions.ts`).
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICY_PACK_NAME, securityPolicies } from "./pack";

new PolicyPack(POLICY_PACK_NAME, { enforcementLevel: "mandatory", policies: securityPolicies() });
