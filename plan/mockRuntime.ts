/**
 * Run the program under Pulumi's mock runtime and record what it registers.
 * The mocks stand for the Pulumi engine and the AWS provider: every resource
 * "creates" with its inputs as outputs, and the provider functions the
 * program calls answer with a fixed test account. Any other call throws, so a
 * new invoke cannot slip into the program unnoticed.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { declareModelServing, type DeclareOptions } from "../program";
import { explicitName } from "./physicalNames";
import { replacingInputs } from "./replaceOnChange";

export interface RegisteredResource {
    /** Pulumi type token, e.g. `aws:sagemaker/endpoint:Endpoint`. */
    readonly type: string;
    /** Logical name. */
    readonly name: string;
    /** Inputs as the engine would receive them. */
    readonly inputs: Record<string, unknown>;
    /** Resource options as the engine receives them (absent when recorded without a monitor hook). */
    readonly options?: RegisteredOptions;
}

export interface RegisteredOptions {
    /** URN of the parent: `...mlops:sagemaker:ModelEndpoint::name` for a component's child. */
    readonly parent: string;
    /** URNs this resource waits for (dependsOn and input dependencies). */
    readonly dependencies: string[];
    readonly retainOnDelete: boolean;
    readonly protect: boolean;
    readonly customTimeouts?: { readonly create: string; readonly update: string };
    /** Property paths the engine is told to ignore changes to; absent when none. */
    readonly ignoreChanges?: string[];
    /** Input name -> URNs of the resources its value came from; absent when none (what a replacement drags along, see plan/diff.ts). */
    readonly propertyDependencies?: Record<string, string[]>;
}

export const MOCK_ACCOUNT_ID = "123456789012";
export const MOCK_REGION = "us-east-1";

const FIXED_CALL_RESULTS: Record<string, Record<string, unknown>> = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        accountId: MOCK_ACCOUNT_ID,
        arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mlops-plan`,
        id: MOCK_ACCOUNT_ID,
        userId: "AIDAMLOPSPLAN",
    },
    "aws:index/getRegion:getRegion": { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION, description: "mock", endpoint: "mock" },
    "aws:index/getPartition:getPartition": { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" },
    // The EKS instant switch reads its cluster's endpoint and CA (mlops:trigger.eks).
    "aws:eks/getCluster:getCluster": {
        id: "mock",
        name: "mock",
        endpoint: "https://MOCK.gr7.us-east-1.eks.amazonaws.com",
        certificateAuthorities: [{ data: "bW9jay1jYQ==" }],
        accessConfigs: [{ authenticationMode: "API_AND_CONFIG_MAP" }],
    },
};

/** A created database's address, as the look-up of its identifier answers: `aws.rds.Instance.address`, `aws.rds.Cluster.endpoint`. */
const DATABASE_LOOKUP_BY_TYPE: Record<string, string> = {
    "aws:rds/instance:Instance": "aws:rds/getInstance:getInstance",
    "aws:rds/cluster:Cluster": "aws:rds/getCluster:getCluster",
};

/** Look-ups whose answer depends on what is looked up: an RDS database's address from its identifier. */
const CALLS_BY_ARGUMENT: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:rds/getInstance:getInstance": (inputs) => {
        const identifier = String(inputs.dbInstanceIdentifier ?? inputs.identifier);
        return { dbInstanceIdentifier: identifier, address: `${identifier}.mock.${MOCK_REGION}.rds.amazonaws.com` };
    },
    "aws:rds/getCluster:getCluster": (inputs) => ({
        clusterIdentifier: String(inputs.clusterIdentifier),
        endpoint: `${String(inputs.clusterIdentifier)}.cluster-mock.${MOCK_REGION}.rds.amazonaws.com`,
    }),
};

/**
 * Mocks that record every custom resource. Auto-named resources get a
 * deterministic physical name so two runs of the program differ only where
 * the program's inputs differ.
 */
export interface MockNaming {
    /**
     * How an auto-named resource's physical name is made. `logical`: its
     * logical name + `-mock`, the same in every run (what component tests
     * pin). `byReplacingInputs`: its logical name + a hash of the inputs whose
     * change replaces it (`replacingInputs` in `replaceOnChange.ts`), so that
     * a replaced resource gets a new name, as Pulumi's auto-naming gives it
     * one, and whatever references that name changes too: a replaced Model
     * shows its EndpointConfiguration replaced and the Endpoint updated. A
     * resource whose replacing inputs are unchanged keeps its name. `mlops
     * plan` and the benchmarks name this way.
     * @default "logical"
     */
    readonly physicalNames?: "logical" | "byReplacingInputs";
}

/** How `mlops plan` names resources: a replaced resource gets a new name, so what it drags along shows. */
export const PLAN_NAMING: MockNaming = { physicalNames: "byReplacingInputs" };

export function recordingMocks(
    stackOutputs: Record<string, unknown> = {},
    naming: MockNaming = {},
    self?: { readonly project: string; readonly stack: string },
): {
    mocks: pulumi.runtime.Mocks;
    registered: RegisteredResource[];
    optionsByKey: Map<string, RegisteredOptions>;
} {
    const registered: RegisteredResource[] = [];
    const optionsByKey = new Map<string, RegisteredOptions>();
    const mocks: pulumi.runtime.Mocks = {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = (args.inputs ?? {}) as Record<string, unknown>;
            // A StackReference reads another stack's outputs (the program
            // reads its own, for the quarantine ledger): answer with the
            // outputs given, and do not count it as a managed resource.
            // Another stack's (a user's network stack, say) has no outputs offline.
            if (args.type === "pulumi:pulumi:StackReference") {
                const isSelf = self === undefined || String(inputs.name).endsWith(`/${self.project}/${self.stack}`);
                return { id: String(inputs.name), state: { name: inputs.name, outputs: isSelf ? stackOutputs : {}, secretOutputNames: [] } };
            }
            if (args.custom !== false) {
                const options = optionsByKey.get(`${args.type}::${args.name}`);
                registered.push({ type: args.type, name: args.name, inputs, ...(options === undefined ? {} : { options }) });
            }
            const physicalName = mockPhysicalName(naming, args.type, args.name, inputs);
            return {
                id: `${physicalName}-id`,
                state: {
                    ...inputs,
                    name: physicalName,
                    arn: `arn:aws:mock:${MOCK_REGION}:${MOCK_ACCOUNT_ID}:${args.type}/${physicalName}`,
                    ...CALLS_BY_ARGUMENT[DATABASE_LOOKUP_BY_TYPE[args.type]]?.(inputs),
                },
            };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            const byArgument = CALLS_BY_ARGUMENT[args.token];
            if (byArgument !== undefined) return byArgument(args.inputs as Record<string, unknown>);
            const result = FIXED_CALL_RESULTS[args.token];
            if (result === undefined) throw new Error(`unexpected provider call ${args.token} under the mock runtime`);
            return result;
        },
    };
    return { mocks, registered, optionsByKey };
}

/** The slice of the engine's RegisterResourceRequest this module reads. */
interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getRetainondelete(): boolean | undefined;
    getProtect(): boolean | undefined;
    getCustomtimeouts(): { getCreate(): string; getUpdate(): string } | undefined;
    getIgnorechangesList(): string[];
    getPropertydependenciesMap(): { forEach(callback: (value: { getUrnsList(): string[] }, key: string) => void): void };
}

interface HookableMonitor {
    registerResource(request: RegisterResourceRequest, callback: (error: unknown, response: unknown) => void): Promise<void>;
}

/** The physical name the mocks give a resource (in its `name` output, and in its id and ARN). */
export function mockPhysicalName(naming: MockNaming, type: string, name: string, inputs: Record<string, unknown>): string {
    if (naming.physicalNames === "byReplacingInputs") return nameByReplacingInputs(type, name, inputs);
    return typeof inputs.name === "string" ? inputs.name : `${name}-mock`;
}

/**
 * The name the program gives it (`name`, `alarmName`, `metadata.name`, ...:
 * `physicalNames.ts`), which a replacement keeps; else, as auto-naming would,
 * a new name whenever it is replaced: its logical name and a short hash of
 * its replacing inputs.
 */
export function nameByReplacingInputs(type: string, name: string, inputs: Record<string, unknown>): string {
    // 12 hex digits rather than Pulumi's 7 random ones: two replacing inputs that collided would hide a replacement.
    return explicitName(type, inputs) ?? `${name}-${createHash("sha256").update(replacingInputs(type, inputs)).digest("hex").slice(0, 12)}`;
}

/**
 * Install recording mocks as the process's Pulumi runtime. Newresource mocks
 * do not see resource options, so the mock monitor (standing for the engine)
 * is hooked to record parent, dependencies, retainOnDelete, custom timeouts
 * and ignoreChanges, which tests, `mlops plan` and the policy pack's tests need.
 */
export async function installRecordingMocks(
    stack = "plan",
    stackOutputs: Record<string, unknown> = {},
    naming: MockNaming = {},
    project = "mlops",
): Promise<RegisteredResource[]> {
    const { mocks, registered, optionsByKey } = recordingMocks(stackOutputs, naming, { project, stack });
    // "organization" is what the DIY (file) backend calls every organization.
    await pulumi.runtime.setMocks(mocks, project, stack, false, "organization");
    const monitor = pulumi.runtime.getMonitor() as unknown as HookableMonitor;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        const timeouts = request.getCustomtimeouts();
        const ignoreChanges = request.getIgnorechangesList();
        const propertyDependencies: Record<string, string[]> = {};
        request.getPropertydependenciesMap().forEach((value, key) => {
            const urns = value.getUrnsList();
            if (urns.length > 0) propertyDependencies[key] = urns;
        });
        optionsByKey.set(`${request.getType()}::${request.getName()}`, {
            parent: request.getParent(),
            dependencies: request.getDependenciesList(),
            retainOnDelete: request.getRetainondelete() === true,
            protect: request.getProtect() === true,
            ...(timeouts === undefined || (timeouts.getCreate() === "" && timeouts.getUpdate() === "")
                ? {}
                : { customTimeouts: { create: timeouts.getCreate(), update: timeouts.getUpdate() } }),
            ...(ignoreChanges.length === 0 ? {} : { ignoreChanges }),
            ...(Object.keys(propertyDependencies).length === 0 ? {} : { propertyDependencies }),
        });
        return register(request, callback);
    };
    return registered;
}

/**
 * Declare the stack for `config` under mocks and return what was registered.
 * The mock runtime is process-global: call this once per process (or once
 * per test file), never twice in one runtime.
 */
export async function recordProgram(config: StackConfig, stack = "plan", options: DeclareOptions = {}, naming: MockNaming = {}): Promise<RegisteredResource[]> {
    const registered = await installRecordingMocks(stack, {}, naming);
    declareModelServing(config, options);
    // Wait for every outstanding registration, including those that waited
    // on other resources' outputs.
    await pulumi.runtime.disconnect();
    return registered;
}
