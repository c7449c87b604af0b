/**
 * The public entry point of mlops-rollback: everything a user's Pulumi
 * program may import from "mlops-rollback" is listed here, and nothing else
 * is public. Anything not listed may change without notice.
 *
 *   import { serveModelFromStackConfig } from "mlops-rollback";
 */

// The whole serving stack from the mlops:* stack config, and the one stack
// output through which `mlops` and the next run read what a run left.
export { serveModelFromStackConfig, type ModelServing } from "./stackProgram";
export { MLOPS_STACK_OUTPUT } from "./rollback/stackOutput";
export type { ModelServingOutputs } from "./program";

// The components, for programs that declare the pieces themselves.
export { SageMakerModelEndpoint, type SageMakerModelEndpointArgs } from "./components/sagemakerModelEndpoint";
export { KubernetesModelEndpoint, type KubernetesModelEndpointArgs, VERSION_SELECTOR_LABEL } from "./components/kubernetesModelEndpoint";
export { EndpointAlarms, type EndpointAlarmsArgs } from "./components/endpointAlarms";
export { AlarmRollbackTrigger, type AlarmRollbackTriggerArgs } from "./components/alarmRollbackTrigger";
export { DatabaseSnapshots, type DatabaseSnapshotsArgs } from "./components/databaseSnapshots";

// The stack config: one parser, its error (every problem named by its config key), its types and
// defaults; `*Input` are the sections as a person writes them (what the components' args take).
export {
    CONFIG_NAMESPACE,
    DEFAULTS,
    parseStackConfig,
    StackConfigError,
    type AlarmSettings,
    type AlarmSettingsInput,
    type ConfigProblem,
    type CustomAlarmInput,
    type DatabaseSettings,
    type DatabaseSettingsInput,
    type DeploymentSettingsInput,
    type KubernetesSettings,
    type KubernetesSettingsInput,
    type ManagedDatabaseSettingsInput,
    type ModelVersion,
    type ModelVersionInput,
    type SageMakerSettings,
    type SageMakerSettingsInput,
    type StackConfig,
    type TriggerSettings,
    type TriggerSettingsInput,
} from "./config/schema";
export { rawConfigFromPulumiConfig } from "./config/sources";

// The decisions a program may want to show or test: which versions stay warm, where a rollback goes.
export { defaultRollbackTarget, isWarm, warmVersions, type CatalogView } from "./catalog/catalog";
// SageMaker hot standby: which config the endpoint runs and the weights its variants should run at; the live-weights resource.
export {
    desiredVariantWeights,
    endpointVariantsFor,
    type EndpointVariant,
    type EndpointVariantsDecision,
    type EndpointVariantsInput,
    type EndpointVariantsRecord,
    type VariantWeight,
} from "./catalog/endpointVariants";
export { EndpointVariantWeights, type EndpointVariantWeightsArgs } from "./components/endpointVariantWeights";
