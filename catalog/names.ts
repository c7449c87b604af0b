/**
 * Names derived from version ids. A rename of a derived name replaces the
 * resource in production, so these functions are pinned by tests.
 */

/** The label that tells one version's pods from another's; the Service selects on it. */
export const VERSION_SELECTOR_LABEL = "mlops-rollback/version";

export type NamingTarget = "sagemaker" | "kubernetes";

/**
 * The part of a resource name that stands for a version.
 *
 * SageMaker names allow only letters, digits and hyphens and are unique
 * case-insensitively; Kubernetes names are lowercase DNS labels that must end
 * with a letter or digit. So `V2.1`, `v2_1` and `v2-1` all become `v2-1`,
 * and on Kubernetes `v2.` becomes `v2`: the config schema rejects catalogs
 * where two ids meet in one name.
 */
export function derivedNameKey(target: NamingTarget, versionId: string): string {
    const slug = versionId.toLowerCase().replace(/[._]/g, "-");
    return target === "kubernetes" ? slug.replace(/-+$/, "") : slug;
}

/** Pulumi appends `-` and 7 random characters to an auto-named resource (pulumi-terraform-bridge `AutoName`: `Randlen: 7`, separator `-`). */
export const AUTONAME_SUFFIX_LENGTH = 8;

/**
 * The longest logical name a version contributes, per target. SageMaker
 * names are at most 63 characters including Pulumi's auto-name suffix;
 * Kubernetes label values and DNS labels are at most 63.
 */
export const MAX_DERIVED_NAME_LENGTH: Record<NamingTarget, number> = {
    sagemaker: 63 - AUTONAME_SUFFIX_LENGTH,
    kubernetes: 63,
};

/**
 * The rollback trigger's longest auto-named child is its EventBridge target of
 * the build rule, `<component>-build-target`, and EventBridge allows a target
 * id of 64 characters (API Target, Id), Pulumi's suffix included. So the
 * component's name is at most 43 characters, and `mlops:model`, which names
 * the component `<model>-trigger`, at most 35 when `mlops:trigger` is set. A
 * longer model name never deployed with the trigger (its target could not be
 * created), so the bound refuses nothing that runs today; without the trigger
 * every derived name fits the schema's 40.
 */
export const TRIGGER_LONGEST_CHILD = { suffix: "-build-target", limit: 64, service: "EventBridge", what: "target id" } as const;
export const MAX_TRIGGER_COMPONENT_NAME_LENGTH = TRIGGER_LONGEST_CHILD.limit - AUTONAME_SUFFIX_LENGTH - TRIGGER_LONGEST_CHILD.suffix.length;
export const TRIGGER_COMPONENT_SUFFIX = "-trigger";
export const MAX_MODEL_LENGTH_WITH_TRIGGER = MAX_TRIGGER_COMPONENT_NAME_LENGTH - TRIGGER_COMPONENT_SUFFIX.length;

/** Why a trigger component (or the model that names it) is too long, or undefined. */
export function triggerNameProblem(componentName: string): string | undefined {
    const longest = `${componentName}${TRIGGER_LONGEST_CHILD.suffix}`;
    if (longest.length + AUTONAME_SUFFIX_LENGTH <= TRIGGER_LONGEST_CHILD.limit) return undefined;
    const { service, what, limit } = TRIGGER_LONGEST_CHILD;
    return `the rollback trigger's ${service} ${what} would be '${longest}' plus Pulumi's ${AUTONAME_SUFFIX_LENGTH}-character auto-name suffix, ${longest.length + AUTONAME_SUFFIX_LENGTH} characters, and ${service} allows ${limit}`;
}

export function longestDerivedName(target: NamingTarget, model: string, versionId: string): string {
    return target === "sagemaker" ? sagemakerChildNames(model, versionId).endpointConfiguration : `${model}-${derivedNameKey(target, versionId)}`;
}

/** Logical names of the per-version SageMaker children of component `name`. */
export function sagemakerChildNames(name: string, versionId: string): { model: string; endpointConfiguration: string } {
    const key = derivedNameKey("sagemaker", versionId);
    return { model: `${name}-model-${key}`, endpointConfiguration: `${name}-config-${key}` };
}

/** Logical name of a version's Deployment in component `name`. */
export function kubernetesDeploymentLogicalName(name: string, versionId: string): string {
    return `${name}-deployment-${derivedNameKey("kubernetes", versionId)}`;
}

/** The Kubernetes object name of a version's Deployment: a DNS label, at most 63 characters. */
export function kubernetesDeploymentName(model: string, versionId: string): string {
    return `${model}-${derivedNameKey("kubernetes", versionId)}`;
}
