/**
 * The security rules of the mlops-rollback policy pack, each a pure function
 * of one resource as the engine sees it (type token, logical name, inputs,
 * ignoreChanges). A rule returns its violations, one sentence each, naming the
 * input at fault and the fix; an empty list means compliant or not applicable.
 *
 * Rules are named after the Checkov (CKV_AWS_*) or Trivy (AWS-*) check they
 * mirror, so that a security team can map them to what it already runs; those
 * with no such anchor are named MLOPS_*.
 */
import { hasLocalNvmeStorage } from "../config/schema";
import {
    scopableActionsOf,
    policyStatements,
    statementLabel,
    actionPatternMatches,
    isWildcardArn,
    type ActionScopes,
    type ResourceFormats,
    type Statement,
} from "./iamPolicy";
import { BUILD_START_OVERRIDE_KEYS, pipeToShellLines, VARIABLE_NAMES_KEY } from "./codebuildOverrides";

export interface PolicyResource {
    /** Pulumi type token, e.g. `aws:sagemaker/model:Model`. */
    readonly type: string;
    /** Logical name. */
    readonly name: string;
    /** Inputs. */
    readonly props: Record<string, unknown>;
    /** The `ignoreChanges` resource option: property paths. */
    readonly ignoreChanges: readonly string[];
}

/** What some rules need beyond the resource, from the Service Authorization Reference (CKV_AWS_355). */
export interface RuleFacts {
    /** Which IAM actions can be scoped to a resource. */
    readonly actionScopes: ActionScopes;
    /** The services' ARN formats, to tell a wildcard ARN (`isWildcardArn`) from a scoped one. */
    readonly resourceFormats: ResourceFormats;
}

export type Rule = (resource: PolicyResource, facts: RuleFacts) => string[];

export interface SecurityRule {
    /** The rule's name: the policy name in the pack, and the name an exemption gives. */
    readonly name: string;
    readonly description: string;
    /** The type tokens the rule reads. */
    readonly types: readonly string[];
    readonly check: Rule;
}

const T = {
    model: "aws:sagemaker/model:Model",
    endpointConfiguration: "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    endpoint: "aws:sagemaker/endpoint:Endpoint",
    rdsInstance: "aws:rds/instance:Instance",
    rdsCluster: "aws:rds/cluster:Cluster",
    rdsClusterInstance: "aws:rds/clusterInstance:ClusterInstance",
    rdsSnapshot: "aws:rds/snapshot:Snapshot",
    rdsClusterSnapshot: "aws:rds/clusterSnapshot:ClusterSnapshot",
    rdsSnapshotCopy: "aws:rds/snapshotCopy:SnapshotCopy",
    rdsClusterSnapshotCopy: "aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy",
    snsTopic: "aws:sns/topic:Topic",
    lambdaFunction: "aws:lambda/function:Function",
    lambdaPermission: "aws:lambda/permission:Permission",
    metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    compositeAlarm: "aws:cloudwatch/compositeAlarm:CompositeAlarm",
    iamPolicy: "aws:iam/policy:Policy",
    iamRolePolicy: "aws:iam/rolePolicy:RolePolicy",
    iamUserPolicy: "aws:iam/userPolicy:UserPolicy",
    iamGroupPolicy: "aws:iam/groupPolicy:GroupPolicy",
    iamRole: "aws:iam/role:Role",
    iamRolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    iamUserPolicyAttachment: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    iamGroupPolicyAttachment: "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    iamPolicyAttachment: "aws:iam/policyAttachment:PolicyAttachment",
    iamRolePolicyAttachmentsExclusive: "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    iamUserPolicyAttachmentsExclusive: "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    iamGroupPolicyAttachmentsExclusive: "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
    ssoManagedPolicyAttachment: "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment",
    ssoManagedPolicyAttachmentsExclusive: "aws:ssoadmin/managedPolicyAttachmentsExclusive:ManagedPolicyAttachmentsExclusive",
    ssoPermissionSetInlinePolicy: "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy",
    codebuildProject: "aws:codebuild/project:Project",
    k8sService: "kubernetes:core/v1:Service",
} as const;

/** Kubernetes kinds with a pod template, and where it is. */
const POD_TEMPLATE_PATHS: Record<string, readonly string[]> = {
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    "kubernetes:core/v1:Pod": ["spec"],
};

/**
 * The types that carry an identity policy document, and the input that holds
 * it (a Role's are its `inlinePolicies`, each `{ name, policy }`). From the
 * @pulumi/aws type set: the `*PoliciesExclusive` and attachment types name
 * policies without carrying a document (CKV_AWS_274 reads those by ARN).
 */
const IAM_DOCUMENT_INPUTS: Readonly<Record<string, string>> = {
    [T.iamPolicy]: "policy",
    [T.iamRolePolicy]: "policy",
    [T.iamUserPolicy]: "policy",
    [T.iamGroupPolicy]: "policy",
    [T.iamRole]: "inlinePolicies",
    [T.ssoPermissionSetInlinePolicy]: "inlinePolicy",
};

const IAM_DOCUMENT_TYPES = Object.keys(IAM_DOCUMENT_INPUTS);

// --- SageMaker -------------------------------------------------------------

/**
 * CKV_AWS_98: an endpoint config encrypts its instances' ML storage volumes
 * with a KMS key. Instance types with local NVMe storage are exempt: SageMaker
 * encrypts that storage itself and CreateEndpointConfig rejects a key for them.
 */
export function ckvAws98EndpointConfigKmsKey(resource: PolicyResource): string[] {
    if (resource.type !== T.endpointConfiguration) return [];
    // Shadow variants run on the config's instances too: AWS rejects a key if any variant has local NVMe storage.
    const variants = [...asArray(resource.props.productionVariants), ...asArray(resource.props.shadowProductionVariants)].map(asRecord);
    const instanceTypes = variants.map((variant) => variant.instanceType).filter((type): type is string => typeof type === "string");
    // Serverless variants have no ML storage volume to encrypt.
    if (instanceTypes.length === 0) return [];
    if (instanceTypes.some(hasLocalNvmeStorage)) return [];
    if (isSet(resource.props.kmsKeyArn)) return [];
    return ["kmsKeyArn is not set: set it to a customer-managed KMS key so the endpoint's storage volumes are encrypted with a key you control"];
}

/** CKV_AWS_370: a Model runs with network isolation, so a compromised container cannot call out. */
export function ckvAws370ModelNetworkIsolation(resource: PolicyResource): string[] {
    if (resource.type !== T.model || resource.props.enableNetworkIsolation === true) return [];
    return ["enableNetworkIsolation is not true: set it to true (the container then has no outbound network access)"];
}

// --- RDS -------------------------------------------------------------------

/** CKV_AWS_16 (clusters: CKV_AWS_96): database storage is encrypted at rest. Aurora Serverless v1 always is. */
export function ckvAws16RdsEncrypted(resource: PolicyResource): string[] {
    if (resource.type !== T.rdsInstance && resource.type !== T.rdsCluster) return [];
    if (resource.props.storageEncrypted === true) return [];
    if (resource.type === T.rdsCluster && resource.props.engineMode === "serverless") return [];
    return ["storageEncrypted is not true: set it to true (it cannot be changed after creation without a snapshot restore)"];
}

/** CKV_AWS_17: a database instance is not reachable from the internet. */
export function ckvAws17RdsNotPublic(resource: PolicyResource): string[] {
    if (resource.type !== T.rdsInstance && resource.type !== T.rdsClusterInstance) return [];
    if (resource.props.publiclyAccessible !== true) return [];
    return ["publiclyAccessible is true: set it to false and reach the database from inside its VPC"];
}

/** CKV_AWS_293: a database cannot be deleted by a stray `pulumi destroy` or replacement. */
export function ckvAws293RdsDeletionProtection(resource: PolicyResource): string[] {
    if (resource.type !== T.rdsInstance && resource.type !== T.rdsCluster) return [];
    if (resource.props.deletionProtection === true) return [];
    return ["deletionProtection is not true: set it to true"];
}

/**
 * CKV_AWS_133: automated backups are kept. The period must be set: its default
 * differs between the API, the console and a restore, so an unset one says nothing.
 */
export function ckvAws133RdsBackupRetention(resource: PolicyResource): string[] {
    if (resource.type !== T.rdsInstance && resource.type !== T.rdsCluster) return [];
    const days = resource.props.backupRetentionPeriod;
    if (typeof days === "number" && days >= 1 && days <= 35) return [];
    return [`backupRetentionPeriod is ${days === undefined ? "not set" : JSON.stringify(days)}: set it to 1..35 days (mlops-rollback's default is 7)`];
}

/** CKV_AWS_302: a database snapshot is not shared with every AWS account. */
export function ckvAws302SnapshotNotPublic(resource: PolicyResource): string[] {
    if (![T.rdsSnapshot, T.rdsClusterSnapshot, T.rdsSnapshotCopy, T.rdsClusterSnapshotCopy].includes(resource.type as typeof T.rdsSnapshot)) return [];
    if (!asArray(resource.props.sharedAccounts).includes("all")) return [];
    return ["sharedAccounts contains 'all', which makes the snapshot public: list the account ids that need it instead"];
}

// --- SNS, Lambda, CloudWatch -----------------------------------------------

/**
 * Trivy AWS-0136: an SNS topic is encrypted with a customer-managed key. The
 * AWS-managed `aws/sns` key also breaks alarms: CloudWatch cannot use it to
 * publish.
 */
export function trivyAws0136SnsCustomerManagedKey(resource: PolicyResource): string[] {
    if (resource.type !== T.snsTopic) return [];
    const key = resource.props.kmsMasterKeyId;
    if (!isSet(key)) return ["kmsMasterKeyId is not set: encrypt the topic with a customer-managed KMS key"];
    if (typeof key === "string" && /(^|:)alias\/aws\/sns$/.test(key)) {
        return [
            "kmsMasterKeyId is the AWS-managed alias/aws/sns key: use a customer-managed KMS key (CloudWatch alarms cannot publish to a topic encrypted with alias/aws/sns)",
        ];
    }
    return [];
}

/** CKV_AWS_116: a Lambda function sends events it failed to process to a dead-letter queue. */
export function ckvAws116LambdaDeadLetterQueue(resource: PolicyResource): string[] {
    if (resource.type !== T.lambdaFunction || isSet(asRecord(resource.props.deadLetterConfig).targetArn)) return [];
    return ["deadLetterConfig.targetArn is not set: give the function an SQS queue or SNS topic for events it fails to process"];
}

/** CKV_AWS_115: a Lambda function has reserved concurrency, so a flood of events cannot starve the account (or run it in parallel). */
export function ckvAws115LambdaReservedConcurrency(resource: PolicyResource): string[] {
    if (resource.type !== T.lambdaFunction) return [];
    const reserved = resource.props.reservedConcurrentExecutions;
    if (typeof reserved === "number" && reserved >= 0) return [];
    return [`reservedConcurrentExecutions is ${reserved === undefined ? "not set" : JSON.stringify(reserved)}: set it to the function's concurrency limit`];
}

/** CKV_AWS_364: a Lambda permission for an AWS service names the one resource (SourceArn) that may invoke. */
export function ckvAws364LambdaPermissionSourceArn(resource: PolicyResource): string[] {
    if (resource.type !== T.lambdaPermission) return [];
    const principal = resource.props.principal;
    if (typeof principal !== "string" || !principal.endsWith(".amazonaws.com")) return [];
    if (isSet(resource.props.sourceArn)) return [];
    return [
        `sourceArn is not set: without it any ${principal} resource in any account may invoke the function; set it to the rule, topic or bucket that invokes`,
    ];
}

/** CKV_AWS_319: an alarm's actions are enabled; a disabled alarm notifies no one and triggers no rollback. */
export function ckvAws319AlarmActionsEnabled(resource: PolicyResource): string[] {
    if (resource.type !== T.metricAlarm && resource.type !== T.compositeAlarm) return [];
    if (resource.props.actionsEnabled !== false) return [];
    return ["actionsEnabled is false: set it to true (or remove it), or the alarm notifies no one and starts no rollback"];
}

// --- IAM -------------------------------------------------------------------

/** The identity policy documents a resource declares, with where each is. */
function iamDocuments(resource: PolicyResource): { readonly where: string; readonly statements: Statement[] }[] {
    const input = IAM_DOCUMENT_INPUTS[resource.type];
    if (input === undefined) return [];
    if (resource.type === T.iamRole) {
        // The assume-role (trust) policy is a resource policy: it names principals, not actions on resources.
        return asArray(resource.props.inlinePolicies).map((inline, index) => {
            const record = asRecord(inline);
            return {
                where: `inlinePolicies[${index}]${typeof record.name === "string" ? ` (${record.name})` : ""}`,
                statements: policyStatements(record.policy),
            };
        });
    }
    return [{ where: input, statements: policyStatements(resource.props[input]) }];
}

function allowStatements(resource: PolicyResource): { readonly where: string; readonly statement: Statement; readonly label: string }[] {
    return iamDocuments(resource).flatMap(({ where, statements }) =>
        statements.flatMap((statement, index) => (statement.effect === "Allow" ? [{ where, statement, label: statementLabel(statement, index) }] : [])),
    );
}

/** CKV_AWS_63: no policy allows every action (`*`), nor every action but a few (`NotAction`). */
export function ckvAws63NoIamWildcardActions(resource: PolicyResource): string[] {
    return allowStatements(resource).flatMap(({ where, statement, label }) => {
        const problems: string[] = [];
        if (statement.actions.some((action) => action === "*" || action === "*:*")) {
            problems.push(`${where} ${label} allows Action "*": list the actions the principal needs`);
        }
        if (statement.notActions.length > 0) {
            problems.push(`${where} ${label} allows every action but its NotAction list: list the actions the principal needs in Action instead`);
        }
        return problems;
    });
}

/**
 * CKV_AWS_355: `Resource: "*"` only where every action granted has no
 * resource type in IAM (ecr:GetAuthorizationToken, ec2:DescribeSubnets), so cannot
 * be scoped. Which actions those are comes from the Service Authorization
 * Reference, not from a list kept here. A wildcard ARN (`arn:aws:s3:::*`,
 * `arn:aws:sagemaker:*:*:*`: see `isWildcardArn` for what counts) is as
 * broad as `*` for the actions of its service, unless a condition on the
 * resource's tags or alias narrows it.
 */
export function ckvAws355NoWildcardResourceOnScopableActions(resource: PolicyResource, facts: RuleFacts): string[] {
    return allowStatements(resource).flatMap(({ where, statement, label }) => {
        const broad = broadScope(statement, facts.resourceFormats);
        if (broad === undefined) return [];
        // Action "*" is CKV_AWS_63's to report.
        const actions = statement.actions.filter((action) => action !== "*" && action !== "*:*" && broad.covers(action));
        // A wildcard service (`*:Get*`) grants scopable actions of every service.
        const anyService = actions.filter((action) => action.split(":")[0].includes("*"));
        const named = actions.filter((action) => !anyService.includes(action));
        const unknown = named.filter((action) => !scopableActionsOf(action, facts.actionScopes).known);
        const scopable = [...anyService, ...named.filter((action) => scopableActionsOf(action, facts.actionScopes).scopable.length > 0)];
        const problems: string[] = [];
        if (scopable.length > 0) {
            problems.push(
                `${where} ${label} allows ${scopable.join(", ")} on ${broad.scope}: these actions can be scoped, so list the ARNs they act on${broad.hint}`,
            );
        }
        if (unknown.length > 0) {
            problems.push(`${where} ${label} allows ${unknown.join(", ")} on ${broad.scope}, which IAM does not know: fix the action name`);
        }
        return problems;
    });
}

/** How a statement's resources are as broad as `*`, and the actions that applies to; undefined when they are scoped. */
function broadScope(
    statement: Statement,
    formats: ResourceFormats,
): { readonly scope: string; readonly hint: string; readonly covers: (action: string) => boolean } | undefined {
    const everyAction = () => true;
    if (statement.resources.includes("*")) return { scope: 'Resource "*"', hint: "", covers: everyAction };
    // An Allow with NotResource grants every resource but a few: as broad as "*".
    if (statement.notResources.length > 0) return { scope: "every resource but its NotResource list", hint: "", covers: everyAction };
    const wildcards = statement.resources.filter((pattern) => isWildcardArn(pattern, formats));
    if (wildcards.length === 0 || narrowedByResourceCondition(statement.condition)) return undefined;
    const services = wildcards.map((pattern) => pattern.split(":")[2] ?? "*");
    return {
        scope: `${wildcards.map((pattern) => `"${pattern}"`).join(", ")}, which ${wildcards.length === 1 ? "names" : "name"} no resource type or name`,
        hint: " (a resource type and name or name prefix, e.g. endpoint/fraud-*)",
        covers: (action) => services.some((service) => actionPatternMatches(service, action.split(":")[0]) || action.split(":")[0].includes("*")),
    };
}

/** Condition keys that name the resource itself, by tag or (KMS) alias: a positive match on one scopes a wildcard ARN. */
const RESOURCE_NAMING_CONDITION_KEYS = [/^aws:resourcetag\//, /^kms:resourcealiases$/];

/**
 * Does a condition narrow a wildcard ARN to some resources, by their tags or
 * alias? Only a positive match (`StringEquals`, `StringLike`, `ArnEquals`,
 * `ArnLike`, their `IgnoreCase` and `ForAnyValue:` forms) does, and only when
 * every value it accepts names something: a value made of `*` and `?` alone
 * (`"*"`, `"?*"`), or `alias/` followed by one, matches every resource that has
 * the tag or an alias, which any caller allowed to tag can arrange. The
 * `IfExists` forms do not narrow: they are true for a resource without the tag.
 * Nor do `ForAllValues:` forms, true when the key is absent.
 */
function narrowedByResourceCondition(condition: Record<string, Record<string, unknown>>): boolean {
    return Object.entries(condition).some(
        ([operator, operands]) =>
            /^(?:ForAnyValue:)?(?:String|Arn)(?:Equals|Like)(?:IgnoreCase)?$/.test(operator) &&
            Object.entries(asRecord(operands)).some(
                ([key, value]) => RESOURCE_NAMING_CONDITION_KEYS.some((pattern) => pattern.test(key.toLowerCase())) && namesSomeResources(value),
            ),
    );
}

/** Condition values that each name something: a non-empty list (or one value) of strings, none of them wildcards only. */
function namesSomeResources(value: unknown): boolean {
    const values = Array.isArray(value) ? value : [value];
    return values.length > 0 && values.every((one) => typeof one === "string" && !/^(?:alias\/)?[*?]*$/i.test(one));
}

/**
 * MLOPS_PASSROLE_PASSED_TO_SERVICE: a policy that lets a principal pass a
 * role says to which service (`iam:PassedToService`), or it can hand the role
 * to any service that accepts one. A pattern names no one service: `*`,
 * `*.amazonaws.com`, `sagemaker.*` (StringLike), or a list holding one of
 * them, is as good as no condition.
 */
export function passRoleOnlyToNamedService(resource: PolicyResource): string[] {
    return allowStatements(resource).flatMap(({ where, statement, label }) => {
        if (!statement.actions.some((action) => actionPatternMatches(action, "iam:PassRole"))) return [];
        const named = passedToServices(statement.condition);
        if (named.some((values) => values.length > 0 && values.every(isOneService))) return [];
        const patterns = named.flat().filter((value) => !isOneService(value));
        if (patterns.length > 0) {
            return [
                `${where} ${label} allows iam:PassRole to any service matching ${patterns.map((value) => JSON.stringify(value)).join(", ")}: name each service the role is for in iam:PassedToService (e.g. sagemaker.amazonaws.com), with no wildcard`,
            ];
        }
        return [
            `${where} ${label} allows iam:PassRole without an iam:PassedToService condition (StringEquals or StringLike, naming a service): add one naming the service the role is for`,
        ];
    });
}

/** A service principal, not a pattern: no wildcard (under StringEquals one is literal, and names no service either). */
function isOneService(value: unknown): boolean {
    return typeof value === "string" && value !== "" && !/[*?]/.test(value);
}

/**
 * The values of each positive string match on iam:PassedToService in a
 * condition block. StringNotEquals would allow every other service; the
 * blocks are ANDed, so one that names services is enough.
 */
function passedToServices(condition: Record<string, Record<string, unknown>>): unknown[][] {
    return Object.entries(condition).flatMap(([operator, operands]) => {
        if (!/^(?:ForAnyValue:|ForAllValues:)?String(?:Equals|Like)(?:IgnoreCase)?$/.test(operator)) return [];
        const entry = Object.entries(asRecord(operands)).find(([key]) => key.toLowerCase() === "iam:passedtoservice");
        if (entry === undefined) return [];
        return [Array.isArray(entry[1]) ? entry[1] : [entry[1]]];
    });
}

// --- CodeBuild ---------------------------------------------------------------

/** CKV_AWS_316: a CodeBuild project does not run privileged (a privileged build can control its host's Docker daemon). */
export function ckvAws316CodeBuildNotPrivileged(resource: PolicyResource): string[] {
    if (resource.type !== T.codebuildProject || asRecord(resource.props.environment).privilegedMode !== true) return [];
    return ["environment.privilegedMode is true: set it to false, and build images elsewhere"];
}

/** The build-starting actions of `BUILD_START_OVERRIDE_KEYS` a statement's Action grants (`codebuild:Start*`, `codebuild:*`, `*`). */
function buildStartsGranted(statement: Statement): string[] {
    return Object.keys(BUILD_START_OVERRIDE_KEYS).filter((action) => statement.actions.some((pattern) => actionPatternMatches(pattern, action)));
}

/** Is the condition exactly one operator with one key holding `value` (a Deny with more is narrower, so it may not deny the override)? */
function soleCondition(statement: Statement, operator: string, keys: readonly string[], accepts: (value: unknown) => boolean): boolean {
    const operators = Object.entries(statement.condition);
    if (operators.length !== 1 || operators[0][0].toLowerCase() !== operator.toLowerCase()) return false;
    const entries = Object.entries(asRecord(operators[0][1]));
    return entries.length === 1 && keys.includes(entries[0][0].toLowerCase()) && accepts(entries[0][1]);
}

/** Does the statement's condition have `operator` on one of `keys` with a value `accepts` takes (ANDed with the rest)? */
function hasCondition(statement: Statement, operator: string, keys: readonly string[], accepts: (value: unknown) => boolean): boolean {
    return Object.entries(statement.condition).some(
        ([name, operands]) =>
            name.toLowerCase() === operator.toLowerCase() &&
            Object.entries(asRecord(operands)).some(([key, value]) => keys.includes(key.toLowerCase()) && accepts(value)),
    );
}

const isTrue = (value: unknown) => value === true || value === "true";
const isFalse = (value: unknown) => value === false || value === "false";
const namesList = (value: unknown) => {
    const values = Array.isArray(value) ? value : [value];
    return values.length > 0 && values.every((name) => typeof name === "string" && name !== "" && !/[*?]/.test(name));
};
const VARIABLE_KEYS = [VARIABLE_NAMES_KEY.toLowerCase(), "codebuild:environment.environmentvariables"];

/** The overrides of `action` (StartBuild, StartBuildBatch) an Allow leaves open: neither required absent in it nor denied in its document. */
function openBuildOverrides(action: string, allow: Statement, denies: readonly Statement[]): string[] {
    const covering = denies.filter(
        (deny) => buildStartsGranted(deny).includes(action) && (deny.resources.includes("*") || allow.resources.every((arn) => deny.resources.includes(arn))),
    );
    const variablesClosed =
        hasCondition(allow, "ForAllValues:StringEquals", [VARIABLE_NAMES_KEY.toLowerCase()], namesList) ||
        hasCondition(allow, "Null", VARIABLE_KEYS, isTrue) ||
        covering.some(
            (deny) =>
                soleCondition(deny, "ForAnyValue:StringNotEquals", [VARIABLE_NAMES_KEY.toLowerCase()], namesList) ||
                soleCondition(deny, "Null", VARIABLE_KEYS, isFalse),
        );
    const openKeys = BUILD_START_OVERRIDE_KEYS[action].filter((key) => {
        const keys = [key.toLowerCase()];
        return !hasCondition(allow, "Null", keys, isTrue) && !covering.some((deny) => soleCondition(deny, "Null", keys, isFalse));
    });
    return [...(variablesClosed ? [] : ["environment variables of any name"]), ...openKeys];
}

/**
 * MLOPS_START_BUILD_OVERRIDES: a policy that allows a CodeBuild action that
 * starts a build with overrides (`BUILD_START_OVERRIDE_KEYS`: StartBuild,
 * StartBuildBatch) says which overrides the caller may make. They can replace
 * the project's commands, source, image, role and variables (`NODE_OPTIONS`,
 * `BASH_ENV`), so a bare grant runs the caller's commands as the project's
 * role. Per action granted, each override's condition key must be required
 * absent in the grant (`Null: "true"`) or denied in the same document (a Deny
 * of that action whose only condition is `Null: "false"` on it), and
 * variables limited to named ones (`ForAllValues:StringEquals` on their names
 * in the grant, or a Deny with `ForAnyValue:StringNotEquals`).
 * `startBuildStatements` writes such a policy for StartBuild. Denies in other
 * documents are not seen: keep them together.
 */
export function startBuildOverridesClosed(resource: PolicyResource): string[] {
    return iamDocuments(resource).flatMap(({ where, statements }) => {
        const denies = statements.filter((statement) => statement.effect === "Deny" && buildStartsGranted(statement).length > 0);
        return statements.flatMap((statement, index) => {
            if (statement.effect !== "Allow") return [];
            return buildStartsGranted(statement).flatMap((action) => {
                const open = openBuildOverrides(action, statement, denies);
                if (open.length === 0) return [];
                const named = open.slice(0, 4).join(", ") + (open.length > 4 ? ` and ${open.length - 4} more` : "");
                return [
                    `${where} ${statementLabel(statement, index)} allows ${action} with overrides open (${named}): the caller can change the build's commands, source, image or variables and run them as the project's role; require each key absent (Null "true" in this statement) or deny it (a Deny with Null "false"), and list the variable names allowed (ForAllValues:StringEquals on ${VARIABLE_NAMES_KEY})`,
                ];
            });
        });
    });
}

/**
 * MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL: a CodeBuild project's buildspec does not
 * run a download unverified (`curl ... | sh`): whoever controls that URL, or
 * the path to it, runs commands as the build's role. The buildspec is read as
 * YAML (text or object) to its commands; see `pipeToShell.ts` for what counts.
 * Buildspecs kept in the repository (a file name, not YAML) are not seen.
 */
export function buildspecNoPipeToShell(resource: PolicyResource): string[] {
    if (resource.type !== T.codebuildProject) return [];
    const buildspecs = [
        { where: "source.buildspec", buildspec: asRecord(resource.props.source).buildspec },
        ...asArray(resource.props.secondarySources).map((source, index) => ({
            where: `secondarySources[${index}].buildspec`,
            buildspec: asRecord(source).buildspec,
        })),
    ];
    return buildspecs.flatMap(({ where, buildspec }) =>
        pipeToShellLines(buildspec).map(
            (line) => `${where} runs a download unverified (${JSON.stringify(line)}): download a pinned release, check its SHA-256, then run it`,
        ),
    );
}

// --- Administrator policies ------------------------------------------------

/**
 * AWS-managed policies that make a principal an administrator, by ARN (any
 * partition): AdministratorAccess (every action) and AWS's per-service
 * AdministratorAccess-* variants; PowerUserAccess (every action outside IAM,
 * Organizations and Account); IAMFullAccess (iam:*, with which a principal
 * can grant itself any other policy).
 */
const ADMIN_POLICY_ARN = /^arn:aws[a-z-]*:iam::aws:policy\/(AdministratorAccess(?:-[A-Za-z0-9]+)?|PowerUserAccess|IAMFullAccess)$/;
const ADMIN_POLICY_GRANTS: Record<string, string> = {
    AdministratorAccess: "every action on every resource",
    PowerUserAccess: "every action outside IAM, Organizations and Account",
    IAMFullAccess: "iam:*, with which the principal can grant itself anything",
};

/** Where each attachment type names the managed policies it attaches. */
const ATTACHED_POLICY_INPUTS: Record<string, string> = {
    [T.iamRole]: "managedPolicyArns",
    [T.iamRolePolicyAttachment]: "policyArn",
    [T.iamUserPolicyAttachment]: "policyArn",
    [T.iamGroupPolicyAttachment]: "policyArn",
    [T.iamPolicyAttachment]: "policyArn",
    [T.iamRolePolicyAttachmentsExclusive]: "policyArns",
    [T.iamUserPolicyAttachmentsExclusive]: "policyArns",
    [T.iamGroupPolicyAttachmentsExclusive]: "policyArns",
    [T.ssoManagedPolicyAttachment]: "managedPolicyArn",
    [T.ssoManagedPolicyAttachmentsExclusive]: "managedPolicyArns",
};

/**
 * CKV_AWS_274: no role, user, group or permission set is given an
 * administrator policy by ARN (`ADMIN_POLICY_ARN`): the AdministratorAccess
 * check, widened to the policies that grant as much.
 */
export function ckvAws274NoAdministratorPolicyAttached(resource: PolicyResource): string[] {
    const input = ATTACHED_POLICY_INPUTS[resource.type];
    if (input === undefined) return [];
    const value = resource.props[input];
    const arns = Array.isArray(value) ? value : [value];
    return arns.flatMap((arn, index) => {
        const name = typeof arn === "string" ? ADMIN_POLICY_ARN.exec(arn)?.[1] : undefined;
        if (name === undefined) return [];
        const grants = ADMIN_POLICY_GRANTS[name] ?? "administrator access to its service";
        return [
            `${Array.isArray(value) ? `${input}[${index}]` : input} attaches ${String(arn)}, which grants ${grants}: attach a policy with the actions and resources the principal needs`,
        ];
    });
}

// --- What a rollback relies on ----------------------------------------------------

const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * MLOPS_IMAGE_DIGEST: a model image is pinned by digest. A tag can be moved,
 * and then "roll back to version 2" starts something that was never version 2.
 * Covers SageMaker Models, Lambda container images and every Kubernetes pod template.
 */
export function imagesPinnedByDigest(resource: PolicyResource): string[] {
    const images: { readonly where: string; readonly image: unknown }[] = [];
    if (resource.type === T.model) {
        const primary = asRecord(resource.props.primaryContainer);
        if (primary.image !== undefined) images.push({ where: "primaryContainer.image", image: primary.image });
        asArray(resource.props.containers).forEach((container, index) =>
            images.push({ where: `containers[${index}].image`, image: asRecord(container).image }),
        );
    } else if (resource.type === T.lambdaFunction && resource.props.imageUri !== undefined) {
        images.push({ where: "imageUri", image: resource.props.imageUri });
    } else {
        const podPath = POD_TEMPLATE_PATHS[resource.type];
        if (podPath === undefined) return [];
        const pod = podPath.reduce<Record<string, unknown>>((value, key) => asRecord(value[key]), resource.props);
        for (const list of ["initContainers", "containers"] as const) {
            asArray(pod[list]).forEach((container, index) =>
                images.push({ where: `${podPath.join(".")}.${list}[${index}].image`, image: asRecord(container).image }),
            );
        }
    }
    return images.flatMap(({ where, image }) =>
        typeof image === "string" && !DIGEST.test(image) ? [`${where} '${image}' is not pinned by digest: use <repository>@sha256:<digest>`] : [],
    );
}

/**
 * The inputs that say which version serves, per type: an `ignoreChanges` on
 * one of them (or on a parent of one) makes `pulumi up` keep the old value, so
 * a rollback reports success and serves what it rolled back from.
 * `*` stands for any list index.
 */
const VERSION_INPUTS: Record<string, readonly string[]> = {
    [T.model]: [
        "primaryContainer.image",
        "primaryContainer.modelDataUrl",
        "primaryContainer.modelDataSource",
        "containers.*.image",
        "containers.*.modelDataUrl",
        "containers.*.modelDataSource",
    ],
    [T.endpointConfiguration]: ["productionVariants.*.modelName"],
    [T.endpoint]: ["endpointConfigName"],
    [T.lambdaFunction]: ["imageUri", "code", "s3Bucket", "s3Key", "s3ObjectVersion", "sourceCodeHash"],
    [T.k8sService]: ["spec.selector"],
    ...Object.fromEntries(
        Object.entries(POD_TEMPLATE_PATHS).map(([type, podPath]) => [
            type,
            [
                `${podPath.join(".")}.containers.*.image`,
                `${podPath.join(".")}.initContainers.*.image`,
                // The pod labels: the Service selects a version by one of them.
                [...podPath.slice(0, -1), "metadata", "labels"].join("."),
            ],
        ]),
    ),
};

/** `spec.containers[0].image`, `tags["a.b"]` → `["spec", "containers", "*", "image"]`, `["tags", "a.b"]`. */
export function propertyPathSegments(path: string): string[] {
    const segments: string[] = [];
    for (const match of path.matchAll(/([^.[\]]+)|\[("(?:[^"\\]|\\.)*"|[^\]]*)\]/g)) {
        if (match[1] !== undefined) segments.push(match[1]);
        else segments.push(match[2].startsWith('"') ? (JSON.parse(match[2]) as string) : "*");
    }
    return segments;
}

/** Does ignoring `ignored` ignore (part of) `input`: is one a prefix of the other? */
function overlaps(ignored: readonly string[], input: readonly string[]): boolean {
    const shared = Math.min(ignored.length, input.length);
    return ignored.slice(0, shared).every((segment, index) => segment === "*" || input[index] === "*" || segment === input[index]);
}

/** MLOPS_NO_IGNORE_CHANGES_ON_VERSION: no `ignoreChanges` on an image, artifact or version input. */
export function noIgnoreChangesOnVersionInputs(resource: PolicyResource): string[] {
    const inputs = (VERSION_INPUTS[resource.type] ?? []).map(propertyPathSegments);
    return resource.ignoreChanges.flatMap((path) => {
        const ignored = propertyPathSegments(path);
        const covered = inputs.filter((input) => overlaps(ignored, input));
        if (covered.length === 0) return [];
        return [
            `ignoreChanges '${path}' covers ${covered.map((input) => input.join(".")).join(", ")}: a rollback would report success and keep the old version; remove it`,
        ];
    });
}

export const SECURITY_RULES: readonly SecurityRule[] = [
    {
        name: "CKV_AWS_98",
        description: "SageMaker endpoint configs encrypt storage with a KMS key (instance types with local NVMe storage exempt)",
        types: [T.endpointConfiguration],
        check: ckvAws98EndpointConfigKmsKey,
    },
    { name: "CKV_AWS_370", description: "SageMaker models run with network isolation", types: [T.model], check: ckvAws370ModelNetworkIsolation },
    { name: "CKV_AWS_16", description: "RDS instances and clusters are encrypted at rest", types: [T.rdsInstance, T.rdsCluster], check: ckvAws16RdsEncrypted },
    { name: "CKV_AWS_17", description: "RDS instances are not publicly accessible", types: [T.rdsInstance, T.rdsClusterInstance], check: ckvAws17RdsNotPublic },
    {
        name: "CKV_AWS_293",
        description: "RDS instances and clusters have deletion protection",
        types: [T.rdsInstance, T.rdsCluster],
        check: ckvAws293RdsDeletionProtection,
    },
    {
        name: "CKV_AWS_133",
        description: "RDS instances and clusters keep automated backups (retention set, at least 1 day)",
        types: [T.rdsInstance, T.rdsCluster],
        check: ckvAws133RdsBackupRetention,
    },
    {
        name: "CKV_AWS_302",
        description: "RDS snapshots are not public",
        types: [T.rdsSnapshot, T.rdsClusterSnapshot, T.rdsSnapshotCopy, T.rdsClusterSnapshotCopy],
        check: ckvAws302SnapshotNotPublic,
    },
    {
        name: "AWS-0136",
        description: "SNS topics are encrypted with a customer-managed KMS key",
        types: [T.snsTopic],
        check: trivyAws0136SnsCustomerManagedKey,
    },
    { name: "CKV_AWS_116", description: "Lambda functions have a dead-letter queue", types: [T.lambdaFunction], check: ckvAws116LambdaDeadLetterQueue },
    { name: "CKV_AWS_115", description: "Lambda functions have reserved concurrency", types: [T.lambdaFunction], check: ckvAws115LambdaReservedConcurrency },
    {
        name: "CKV_AWS_364",
        description: "Lambda permissions for AWS services name the invoking resource (SourceArn)",
        types: [T.lambdaPermission],
        check: ckvAws364LambdaPermissionSourceArn,
    },
    { name: "CKV_AWS_319", description: "CloudWatch alarm actions are enabled", types: [T.metricAlarm, T.compositeAlarm], check: ckvAws319AlarmActionsEnabled },
    {
        name: "CKV_AWS_63",
        description: 'IAM policies allow no "*" action and use no NotAction',
        types: IAM_DOCUMENT_TYPES,
        check: ckvAws63NoIamWildcardActions,
    },
    {
        name: "CKV_AWS_355",
        description: 'IAM policies use Resource "*" only for actions IAM cannot scope',
        types: IAM_DOCUMENT_TYPES,
        check: ckvAws355NoWildcardResourceOnScopableActions,
    },
    {
        name: "MLOPS_PASSROLE_PASSED_TO_SERVICE",
        description: "IAM policies allow iam:PassRole only with an iam:PassedToService condition",
        types: IAM_DOCUMENT_TYPES,
        check: passRoleOnlyToNamedService,
    },
    {
        name: "CKV_AWS_274",
        description: "No AdministratorAccess, PowerUserAccess or IAMFullAccess attached to a role, user, group or permission set",
        types: Object.keys(ATTACHED_POLICY_INPUTS),
        check: ckvAws274NoAdministratorPolicyAttached,
    },
    { name: "CKV_AWS_316", description: "CodeBuild projects do not run privileged", types: [T.codebuildProject], check: ckvAws316CodeBuildNotPrivileged },
    {
        name: "MLOPS_START_BUILD_OVERRIDES",
        description: "IAM policies allow codebuild:StartBuild and StartBuildBatch only with every override but named environment variables closed",
        types: IAM_DOCUMENT_TYPES,
        check: startBuildOverridesClosed,
    },
    {
        name: "MLOPS_BUILDSPEC_NO_PIPE_TO_SHELL",
        description: "CodeBuild buildspecs do not pipe a download into a shell",
        types: [T.codebuildProject],
        check: buildspecNoPipeToShell,
    },
    {
        name: "MLOPS_IMAGE_DIGEST",
        description: "Model images (SageMaker, Lambda, Kubernetes pod templates) are pinned by digest",
        types: [T.model, T.lambdaFunction, ...Object.keys(POD_TEMPLATE_PATHS)],
        check: imagesPinnedByDigest,
    },
    {
        name: "MLOPS_NO_IGNORE_CHANGES_ON_VERSION",
        description: "No ignoreChanges on image, artifact or version inputs",
        types: Object.keys(VERSION_INPUTS),
        check: noIgnoreChangesOnVersionInputs,
    },
];

/** Every violation of every rule for one resource, each with its rule's name. */
export function violationsOf(resource: PolicyResource, facts: RuleFacts): { readonly rule: string; readonly message: string }[] {
    return SECURITY_RULES.flatMap((rule) =>
        rule.types.includes(resource.type) ? rule.check(resource, facts).map((message) => ({ rule: rule.name, message })) : [],
    );
}

/** The IAM action patterns a resource's policies name: what `loadActionScopes` must load. */
export function iamActionPatterns(resource: PolicyResource): string[] {
    return iamDocuments(resource).flatMap(({ statements }) => statements.flatMap((statement) => statement.actions));
}

/** The resource ARN patterns a resource's policies name: what `loadResourceFormats` must load. */
export function iamResourcePatterns(resource: PolicyResource): string[] {
    return iamDocuments(resource).flatMap(({ statements }) => statements.flatMap((statement) => statement.resources));
}

function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

function asRecord(value: unknown): Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function isSet(value: unknown): boolean {
    return value !== undefined && value !== null && value !== "";
}
