/**
 * The physical names of every resource type this package declares: which
 * input holds each name, whether the provider makes the name up when the
 * input is unset (Pulumi's auto-naming), and the longest name the service
 * accepts. The mock runtime names resources by it (`mockRuntime.ts`), and a
 * property test runs the program over the config schema's bounds and checks
 * every name against it: a name past its limit fails `pulumi up`, not
 * `mlops validate`, unless the schema refuses the config first.
 *
 * Auto-naming: `@pulumi/aws` names a resource `<logical name>-<7 random hex>`
 * (pulumi-terraform-bridge `AutoName` with `Randlen: 7` and the `-`
 * separator, applied by pulumi-aws `provider/autonaming.go` to every `name`
 * input, max length 255 unless `provider/resource_overrides.go` says
 * otherwise), so the logical name must leave 8 characters under the limit.
 * The bridge itself refuses a name past its own maximum; where that maximum
 * is lower than the service's (SNS), it is the limit here.
 */
import { AUTONAME_SUFFIX_LENGTH } from "../catalog/names";

export interface NameRule {
    /** The input path that holds the name: `name`, `alarmName`, `metadata.name`. */
    readonly field: string;
    /** Unset, the provider names it `<logical name>-<7 hex>`; otherwise the program must set it. */
    readonly autoNamed: boolean;
    readonly maxLength: number;
    readonly source: string;
}

/** The resource's own name first, then any other name it derives (a final snapshot's); no entry for a type with no name of its own. */
export const PHYSICAL_NAMES: Readonly<Record<string, readonly NameRule[]>> = {
    "aws:sagemaker/model:Model": [{ field: "name", autoNamed: true, maxLength: 63, source: "SageMaker API CreateModel, ModelName: maximum length 63" }],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": [
        { field: "name", autoNamed: true, maxLength: 63, source: "SageMaker API CreateEndpointConfig, EndpointConfigName: maximum length 63" },
    ],
    "aws:sagemaker/endpoint:Endpoint": [
        { field: "name", autoNamed: true, maxLength: 63, source: "SageMaker API CreateEndpoint, EndpointName: maximum length 63" },
    ],
    "aws:iam/role:Role": [{ field: "name", autoNamed: true, maxLength: 64, source: 'IAM API CreateRole, RoleName: 1-64; pulumi-aws AutoName("name", 64)' }],
    "aws:iam/rolePolicy:RolePolicy": [{ field: "name", autoNamed: true, maxLength: 128, source: "IAM API PutRolePolicy, PolicyName: 1-128" }],
    "aws:iam/policy:Policy": [{ field: "name", autoNamed: true, maxLength: 128, source: "IAM API CreatePolicy, PolicyName: 1-128" }],
    // An attachment is named by its role and policy.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": [],
    // A KMS key has no name: AWS gives it a key id.
    "aws:kms/key:Key": [],
    "aws:sns/topic:Topic": [
        {
            field: "name",
            autoNamed: true,
            maxLength: 80,
            source: "pulumi-aws resource_overrides.go aws_sns_topic: auto-name Maxlen 80 (SNS CreateTopic allows 256)",
        },
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [{ field: "name", autoNamed: true, maxLength: 255, source: "CloudWatch API PutMetricAlarm, AlarmName: 1-255" }],
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": [
        { field: "alarmName", autoNamed: false, maxLength: 255, source: "CloudWatch API PutCompositeAlarm, AlarmName: 1-255" },
    ],
    "aws:cloudwatch/logGroup:LogGroup": [
        {
            field: "name",
            autoNamed: true,
            maxLength: 255,
            source: "pulumi-aws autonaming.go: auto-name max length 255 (CloudWatch Logs CreateLogGroup allows 512)",
        },
    ],
    "aws:dynamodb/table:Table": [{ field: "name", autoNamed: true, maxLength: 255, source: "DynamoDB API CreateTable, TableName: 3-255" }],
    "aws:sqs/queue:Queue": [
        { field: "name", autoNamed: true, maxLength: 80, source: "SQS API CreateQueue, QueueName: up to 80; pulumi-aws aws_sqs_queue auto-name Maxlen 80" },
    ],
    // A queue policy is named by its queue.
    "aws:sqs/queuePolicy:QueuePolicy": [],
    "aws:codebuild/project:Project": [
        { field: "name", autoNamed: true, maxLength: 150, source: "CodeBuild API CreateProject (Project, PublicProject), name: 2-150" },
    ],
    "aws:lambda/function:Function": [
        {
            field: "name",
            autoNamed: true,
            maxLength: 64,
            source: 'Lambda API CreateFunction, FunctionName: 64 without the ARN; pulumi-aws AutoName("name", 64)',
        },
    ],
    // An invoke config is named by its function.
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": [],
    "aws:lambda/permission:Permission": [
        {
            field: "statementId",
            autoNamed: true,
            maxLength: 100,
            source: 'Lambda API AddPermission, StatementId: 1-100; pulumi-aws AutoName("statementId", 100)',
        },
    ],
    "aws:cloudwatch/eventRule:EventRule": [
        { field: "name", autoNamed: true, maxLength: 64, source: 'EventBridge API PutRule, Name: 1-64; pulumi-aws AutoName("name", 64)' },
    ],
    "aws:cloudwatch/eventTarget:EventTarget": [
        {
            field: "targetId",
            autoNamed: true,
            maxLength: 64,
            source: 'EventBridge API Target, Id: 1-64; pulumi-aws AutoName("targetId", 255), so only EventBridge refuses a longer one',
        },
    ],
    "aws:rds/snapshot:Snapshot": [
        { field: "dbSnapshotIdentifier", autoNamed: false, maxLength: 255, source: "RDS API CreateDBSnapshot, DBSnapshotIdentifier: 1-255" },
    ],
    "aws:rds/clusterSnapshot:ClusterSnapshot": [
        { field: "dbClusterSnapshotIdentifier", autoNamed: false, maxLength: 63, source: "RDS API CreateDBClusterSnapshot, DBClusterSnapshotIdentifier: 1-63" },
    ],
    "aws:rds/instance:Instance": [
        { field: "identifier", autoNamed: false, maxLength: 63, source: "RDS API CreateDBInstance, DBInstanceIdentifier: 1-63" },
        { field: "finalSnapshotIdentifier", autoNamed: false, maxLength: 255, source: "RDS API DeleteDBInstance, FinalDBSnapshotIdentifier: 1-255" },
    ],
    "aws:rds/cluster:Cluster": [
        { field: "clusterIdentifier", autoNamed: false, maxLength: 63, source: "RDS API CreateDBCluster, DBClusterIdentifier: 1-63" },
        { field: "finalSnapshotIdentifier", autoNamed: false, maxLength: 255, source: "RDS API DeleteDBCluster, FinalDBSnapshotIdentifier: 1-255" },
    ],
    "aws:rds/clusterInstance:ClusterInstance": [
        { field: "identifier", autoNamed: false, maxLength: 63, source: "RDS API CreateDBInstance, DBInstanceIdentifier: 1-63" },
    ],
    // Kubernetes object names (kubernetes.io/docs/concepts/overview/working-with-objects/names):
    // a Namespace and a Service are DNS labels; a Deployment's name should be
    // one ("For best compatibility"), since its pods' host names derive from it.
    "kubernetes:core/v1:Namespace": [{ field: "metadata.name", autoNamed: false, maxLength: 63, source: "Kubernetes: a Namespace name is an RFC 1123 label" }],
    "kubernetes:apps/v1:Deployment": [
        { field: "metadata.name", autoNamed: false, maxLength: 63, source: "Kubernetes Deployment docs: the name should be a DNS label (63)" },
    ],
    "kubernetes:core/v1:Service": [{ field: "metadata.name", autoNamed: false, maxLength: 63, source: "Kubernetes: a Service name is an RFC 1035 label" }],
    "kubernetes:policy/v1:PodDisruptionBudget": [
        { field: "metadata.name", autoNamed: false, maxLength: 253, source: "Kubernetes: a PodDisruptionBudget name is a DNS subdomain" },
    ],
};

/** The value at a dotted input path, e.g. `metadata.name`. */
export function inputAt(inputs: Record<string, unknown>, path: string): unknown {
    return path
        .split(".")
        .reduce<unknown>((value, key) => (typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined), inputs);
}

/** The name the program gives a resource of `type`, if any (else the provider auto-names it, or it has none). */
export function explicitName(type: string, inputs: Record<string, unknown>): string | undefined {
    const field = PHYSICAL_NAMES[type]?.[0]?.field ?? "name";
    const value = inputAt(inputs, field);
    return typeof value === "string" ? value : undefined;
}

/** Every name a resource will carry in its service: `[rule, name]`, an auto-name made of the logical name and the longest suffix. */
export function physicalNames(type: string, logicalName: string, inputs: Record<string, unknown>): { rule: NameRule; name: string | undefined }[] {
    return (PHYSICAL_NAMES[type] ?? []).map((rule) => {
        const value = inputAt(inputs, rule.field);
        if (typeof value === "string") return { rule, name: value };
        return { rule, name: rule.autoNamed ? `${logicalName}-${"x".repeat(AUTONAME_SUFFIX_LENGTH - 1)}` : undefined };
    });
}
