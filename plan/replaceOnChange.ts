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
    // Our own dynamic provider: another endpoint replaces it; new weights are an UpdateEndpointWeightsAndCapacities call, in place.
    "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights": {
        replaceOn: ["endpointName", "region"],
        source: "components/endpointVariantWeights.ts: endpointVariantWeightsProvider.diff replaces on endpointName or region, updates the variants in place",
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
    // A user's program declares its own kinds next to ours; the examples' ConfigMap is one.
    "kubernetes:core/v1:ConfigMap": {
        replaceOn: ["metadata.name", "metadata.namespace", "data", "binaryData"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: forceNewProperties replaces a ConfigMap on .data and .binaryData unless the provider sets enableConfigMapMutable; metadata labels and annotations update in place",
    },
    "kubernetes:core/v1:Namespace": {
        replaceOn: ["metadata.name"],
        source: "pulumi-kubernetes provider/pkg/provider/diff.go: forceNewProperties; a Namespace is cluster-scoped",
    },
    "aws:iam/role:Role": {
        replaceOn: ["name", "namePrefix", "path"],
        source: "internal/service/iam/role.go: ForceNew on name, name_prefix, path; assume_role_policy, description and the rest update in place",
    },
    "aws:iam/policy:Policy": {
        replaceOn: ["name", "namePrefix", "path", "description"],
        source: "internal/service/iam/policy.go: ForceNew on name, name_prefix, path, description; policy updates by CreatePolicyVersion",
    },
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        replaceAllExcept: [],
        source: "internal/service/iam/role_policy_attachment.go: role and policy_arn are ForceNew (no update function)",
    },
    "aws:iam/rolePolicy:RolePolicy": {
        replaceOn: ["name", "namePrefix", "role"],
        source: "internal/service/iam/role_policy.go: ForceNew on name, name_prefix, role; policy is updated by PutRolePolicy",
    },
    // The alarms, the topic and the rollback trigger (EndpointAlarms, AlarmRollbackTrigger).
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        replaceOn: ["name"],
        source: "internal/service/cloudwatch/metric_alarm.go: ForceNew on alarm_name only; every other change is re-sent with PutMetricAlarm",
    },
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": {
        replaceOn: ["alarmName", "actionsEnabled"],
        source: "internal/service/cloudwatch/composite_alarm.go: ForceNew on alarm_name and actions_enabled; the rest is re-sent with PutCompositeAlarm",
    },
    "aws:kms/key:Key": {
        replaceOn: ["customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"],
        source: "internal/service/kms/key.go: ForceNew on custom_key_store_id, customer_master_key_spec, key_usage, multi_region, xks_key_id; policy, rotation and description update in place",
    },
    "aws:sns/topic:Topic": {
        replaceOn: ["name", "namePrefix", "fifoTopic"],
        source: "internal/service/sns/topic.go: ForceNew on name, name_prefix, fifo_topic; other attributes via SetTopicAttributes",
    },
    "aws:lambda/function:Function": {
        replaceOn: ["name", "packageType", "tenancyConfig"],
        source: "internal/service/lambda/function.go: ForceNew on function_name, package_type, tenancy_config; environment, runtime, handler, dead_letter_config, logging_config via UpdateFunctionConfiguration, code via UpdateFunctionCode, reserved concurrency via PutFunctionConcurrency",
    },
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {
        replaceOn: ["functionName", "qualifier"],
        source: "internal/service/lambda/function_event_invoke_config.go: ForceNew on function_name, qualifier; the rest via PutFunctionEventInvokeConfig",
    },
    "aws:lambda/permission:Permission": {
        replaceAllExcept: [],
        source: "internal/service/lambda/permission.go: every argument is ForceNew (no update function)",
    },
    "aws:cloudwatch/eventRule:EventRule": {
        replaceOn: ["name", "namePrefix", "eventBusName"],
        source: "internal/service/events/rule.go: ForceNew on name, name_prefix, event_bus_name; event_pattern and the rest via PutRule",
    },
    "aws:cloudwatch/eventTarget:EventTarget": {
        replaceOn: ["rule", "targetId", "eventBusName"],
        source: "internal/service/events/target.go: ForceNew on rule, target_id, event_bus_name; the rest via PutTargets",
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        replaceOn: ["name", "namePrefix", "logGroupClass"],
        source: "internal/service/logs/group.go: ForceNew on name, name_prefix, log_group_class; retention and KMS key update in place",
    },
    "aws:dynamodb/table:Table": {
        replaceOn: ["name", "hashKey", "rangeKey", "localSecondaryIndexes", "restoreDateTime", "restoreToLatestTime", "importTable"],
        source: "internal/service/dynamodb/table.go: ForceNew on name, hash_key, range_key, local_secondary_index, restore_date_time, restore_to_latest_time, import_table.s3_bucket_source; ttl, point-in-time recovery and billing via UpdateTable and friends",
    },
    "aws:sqs/queue:Queue": {
        replaceOn: ["name", "namePrefix", "fifoQueue"],
        source: "internal/service/sqs/queue.go: ForceNew on name, name_prefix, fifo_queue; the rest via SetQueueAttributes",
    },
    "aws:sqs/queuePolicy:QueuePolicy": {
        replaceOn: ["queueUrl"],
        source: "internal/service/sqs/queue_policy.go: ForceNew on queue_url; policy via SetQueueAttributes",
    },
    "aws:codebuild/project:Project": {
        replaceOn: ["name"],
        source: "internal/service/codebuild/project.go: ForceNew on name only; the rest via UpdateProject",
    },
    // RDS, read at hashicorp/terraform-provider-aws 5f2286d6d836 (2026-06-02).
    "aws:rds/snapshot:Snapshot": {
        replaceOn: ["dbInstanceIdentifier", "dbSnapshotIdentifier"],
        source: "internal/service/rds/snapshot.go: ForceNew on db_instance_identifier, db_snapshot_identifier; shared_accounts via ModifyDBSnapshotAttribute, tags in place",
    },
    "aws:rds/clusterSnapshot:ClusterSnapshot": {
        replaceOn: ["dbClusterIdentifier", "dbClusterSnapshotIdentifier"],
        source: "internal/service/rds/cluster_snapshot.go: ForceNew on db_cluster_identifier, db_cluster_snapshot_identifier; shared_accounts and tags in place",
    },
    "aws:rds/instance:Instance": {
        replaceOn: [
            "availabilityZone",
            "backupTarget",
            "characterSetName",
            "customIamInstanceProfile",
            "dbName",
            "engine",
            "kmsKeyId",
            "ncharCharacterSetName",
            "restoreToPointInTime",
            "s3Import",
            "snapshotIdentifier",
            "storageEncrypted",
            "timezone",
            "username",
        ],
        source: "internal/service/rds/instance.go: ForceNew on those fields; identifier renames in place (NewDBInstanceIdentifier), db_subnet_group_name, engine_version and the rest via ModifyDBInstance",
    },
    "aws:rds/cluster:Cluster": {
        replaceOn: [
            "availabilityZones",
            "clusterIdentifier",
            "clusterIdentifierPrefix",
            "clusterScalabilityType",
            "databaseName",
            "dbSubnetGroupName",
            "dbSystemId",
            "engine",
            "engineMode",
            "kmsKeyId",
            "masterUsername",
            "restoreToPointInTime",
            "s3Import",
            "snapshotIdentifier",
            "sourceRegion",
            "storageEncrypted",
        ],
        source: "internal/service/rds/cluster.go: ForceNew on those fields (storage_type too, for non-Aurora engines only); engine_version and the rest via ModifyDBCluster",
    },
    "aws:rds/clusterInstance:ClusterInstance": {
        replaceOn: ["availabilityZone", "clusterIdentifier", "customIamInstanceProfile", "dbSubnetGroupName", "engine", "identifier", "identifierPrefix"],
        source: "internal/service/rds/cluster_instance.go: ForceNew on those fields; instance_class, engine_version, publicly_accessible via ModifyDBInstance",
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

/**
 * The part of `inputs` whose change replaces a `type`, as text: two inputs
 * give the same text exactly when `changeReplaces` finds no replacing path
 * among their `changedPaths`, so a mock that names a resource by it renames
 * the resource exactly when the plan replaces it. Worked example, for the
 * Endpoint (`replaceOn: name, deploymentConfig.autoRollbackConfiguration`):
 * a new `endpointConfigName` or bake time (both update in place) keeps the
 * text; an added alarm changes it (replace); so does a `deploymentConfig`
 * that appears or goes, which `changeReplaces` plans as a replace (a change
 * at an ancestor of a replacing path): a path is followed only while its
 * ancestors are objects, and where one is not, that ancestor is taken.
 */
export function replacingInputs(type: string, inputs: Record<string, unknown>): string {
    const rule = REPLACE_ON_CHANGE[type];
    if (rule === undefined) return encode(inputs);
    if ("replaceAllExcept" in rule) return encode(withoutPaths(inputs, rule.replaceAllExcept));
    return [...rule.replaceOn]
        .sort()
        .map((path) => encodeAlong(inputs, path))
        .join(";");
}

/**
 * The value at `path`, or at its first ancestor that is not an object. An
 * array there counts by its length only: `changedPaths` compares arrays of
 * one length element by element, at paths (`a[0]`) that never replace.
 */
function encodeAlong(inputs: Record<string, unknown>, path: string): string {
    const segments = path.split(".");
    let value: unknown = inputs;
    for (let depth = 0; depth < segments.length; depth++) {
        if (!isPlainObject(value)) {
            const at = JSON.stringify(segments.slice(0, depth).join("."));
            return Array.isArray(value) ? `${at}=array(${value.length})` : `${at}=${encode(value)}`;
        }
        value = value[segments[depth]];
    }
    return `${JSON.stringify(path)}=${encode(value)}`;
}

/** `inputs` without the members at `paths` (copied along each path, never changed in place). */
function withoutPaths(inputs: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
    return paths.reduce((value, path) => withoutPath(value, path.split(".")), inputs);
}

function withoutPath(value: Record<string, unknown>, [head, ...rest]: string[]): Record<string, unknown> {
    if (!(head in value)) return value;
    const { [head]: member, ...others } = value;
    if (rest.length === 0) return others;
    return isPlainObject(member) ? { ...others, [head]: withoutPath(member, rest) } : value;
}

/**
 * Text that is equal for two values exactly when `changedPaths` finds no
 * difference: object keys sorted and undefined members dropped (a missing key
 * and an undefined one compare equal), an undefined array element kept apart
 * from null, and leaves as JSON.
 */
function encode(value: unknown): string {
    if (value === undefined) return "undefined";
    if (Array.isArray(value)) return `[${value.map(encode).join(",")}]`;
    if (isPlainObject(value)) {
        const members = Object.keys(value)
            .filter((key) => value[key] !== undefined)
            .sort()
            .map((key) => `${JSON.stringify(key)}:${encode(value[key])}`);
        return `{${members.join(",")}}`;
    }
    return JSON.stringify(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
