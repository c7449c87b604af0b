/**
 * Which input changes replace a resource rather than update it, for every
 * resource type this package declares. `mlops plan` cannot ask the provider
 * (it runs offline, under mocks), so the table stands in for the provider's
 * diff. Each entry cites the provider source: for AWS,
 * hashicorp/terraform-provider-aws (which @pulumi/aws 7 bridges), where a
 * field marked `ForceNew: true`, or a resource whose update function only
 * handles tags, replaces on change; for Kubernetes, pulumi/pulumi-kubernetes'
 * own diff.
 *
 * A type missing from the table is planned as a replace on any change, so the
 * plan can overstate the blast radius but never understate it.
 */

export type ReplaceRule =
    /** A change to any input but these replaces (the provider updates only these in place). */
    | { readonly replaceAllExcept: readonly string[]; readonly source: string }
    /** Only changes at or below these input paths replace; the rest update in place. */
    | { readonly replaceOn: readonly string[]; readonly source: string };

export const REPLACE_ON_CHANGE: Readonly<Record<string, ReplaceRule>> = {
    // resourceModelUpdate handles tags only ("// Tags only."); every other field is ForceNew.
    "aws:sagemaker/model:Model": {
        replaceAllExcept: ["tags"],
        source: "internal/service/sagemaker/model.go: resourceModelUpdate (tags only); ForceNew on name, execution_role_arn, enable_network_isolation, primary_container.*, vpc_config",
    },
    // Same shape: the update function handles tags only.
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": {
        replaceAllExcept: ["tags"],
        source: "internal/service/sagemaker/endpoint_configuration.go: resourceEndpointConfigurationUpdate (tags only); ForceNew on production_variant.*, kms_key_arn, name",
    },
    // endpoint_config_name and deployment_config go through UpdateEndpoint;
    // only name and auto_rollback_configuration are ForceNew.
    "aws:sagemaker/endpoint:Endpoint": {
        replaceOn: ["name", "deploymentConfig.autoRollbackConfiguration"],
        source: "internal/service/sagemaker/endpoint.go: name and deployment_config.auto_rollback_configuration are ForceNew; resourceEndpointUpdate calls UpdateEndpoint for endpoint_config_name and deployment_config",
    },
    // pulumi-kubernetes decides replacement in provider/pkg/provider/diff.go
    // (forceNewProperties): .metadata.name and .metadata.namespace for every
    // kind, plus a per-kind table of immutable fields.
    "kubernetes:apps/v1:Deployment": {
        replaceOn: ["metadata.name", "metadata.namespace", "spec.selector"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: forceNewProperties (name, namespace) and the apps/v1 Deployment entry (.spec.selector); template, replicas and strategy update in place",
    },
    "kubernetes:core/v1:Service": {
        replaceOn: ["metadata.name", "metadata.namespace", "spec.clusterIP"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: core/v1 Service entry (.spec.clusterIP); .spec.selector, .spec.ports and .spec.type update in place",
    },
    "kubernetes:policy/v1:PodDisruptionBudget": {
        replaceOn: ["metadata.name", "metadata.namespace"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: no policy/v1 entry (only v1beta1 replaces on .spec), so the selector updates in place",
    },
    "kubernetes:core/v1:Namespace": {
        replaceOn: ["metadata.name"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: forceNewProperties; a Namespace is cluster-scoped",
    },
    "aws:iam/role:Role": {
        replaceOn: ["name", "namePrefix", "path"],
        source: "internal/service/iam/role.go: ForceNew on name, name_prefix, path; assume_role_policy, description and the rest update in place",
    },
    "aws:iam/rolePolicy:RolePolicy": {
        replaceOn: ["name", "namePrefix", "role"],
        source: "internal/service/iam/role_policy.go: ForceNew on name, name_prefix, role; policy is updated by PutRolePolicy",
    },
};

/** Whether a change at `changedPath` (e.g. `deploymentConfig.autoRollbackConfiguration.alarms[0]`) replaces a `type`. */
export function changeReplaces(type: string, changedPath: string): boolean {
    const rule = REPLACE_ON_CHANGE[type];
    if (rule === undefined) return true;
    if ("replaceAllExcept" in rule) return !rule.replaceAllExcept.some((path) => isAtOrBelow(changedPath, path));
    // A change at an ancestor of a replacing path (a whole `deploymentConfig`
    // added or dropped) may carry a change at that path: plan it as a replace.
    return rule.replaceOn.some((path) => isAtOrBelow(changedPath, path) || isAtOrBelow(path, changedPath));
}

function isAtOrBelow(changedPath: string, path: string): boolean {
    return changedPath === path || changedPath.startsWith(`${path}.`) || changedPath.startsWith(`${path}[`);
}
