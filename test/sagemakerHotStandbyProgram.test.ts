/**
 * The whole SageMaker stack with standby: hot under the mock runtime (the
 * mocks stand for the engine and the AWS provider): what the alarms, the
 * trigger and its role are given, serving on the pinned version's variant
 * and after a rollback moved the weight to the standby.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { configMadeFrom, endpointVariantsFor, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import { parseStackConfig } from "../config/schema";
import { MOCK_ACCOUNT_ID, recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { triggerSettingsFromEnv } from "../trigger/settings";
import { findChild, sagemakerRawConfig } from "./helpers";

const RUNNER_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/pulumi-deployer`;
const hotRaw = (overrides: Record<string, unknown>) =>
    sagemakerRawConfig({
        sagemaker: { instanceType: "ml.g5.xlarge", instanceCount: 2, standby: "hot", standbyInstanceCount: 1 },
        alarms: {},
        trigger: {
            runnerRoleArn: RUNNER_ROLE,
            source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/infra", version: "refs/heads/main" },
            pulumiCli: { version: "3.248.0", sha256: "0".repeat(64) },
        },
        ...overrides,
    });

/** What the stack recorded after deploying 3 with 2 on standby: the config the endpoint runs. */
const deployed3: EndpointVariantsRecord = endpointVariantsFor({
    settings: { instanceType: "ml.g5.xlarge", instanceCount: 2, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount: 1 },
    pinned: "3",
    standby: "2",
    quarantined: [],
    catalog: ["1", "2", "3"],
    // As the component computes it for this config: no KMS key, role or VPC given, no environment.
    madeFrom: configMadeFrom({}, {}, undefined),
}).record;

let serving3: RegisteredResource[];
let rolledBackTo2: RegisteredResource[];

beforeAll(async () => {
    serving3 = await recordProgram(parseStackConfig(hotRaw({})), "test", { servingHistory: ["2", "3"], endpointVariants: deployed3 });
    rolledBackTo2 = await recordProgram(parseStackConfig(hotRaw({ pinned: "2", quarantined: ["3"] })), "test", {
        servingHistory: ["1", "2", "3"],
        endpointVariants: deployed3,
    });
});

const alarmInputs = (registered: RegisteredResource[], suffix: string) => findChild(registered, `fraud-detector-alarms-${suffix}`).inputs;
const environmentOf = (registered: RegisteredResource[]) =>
    (findChild(registered, "fraud-detector-trigger-function").inputs as { environment: { variables: Record<string, string> } }).environment.variables;
const triggerPolicyOf = (registered: RegisteredResource[]) =>
    JSON.parse(String(findChild(registered, "fraud-detector-trigger-policy").inputs.policy)) as {
        Statement: { Sid: string; Action: string[]; Resource: string[] }[];
    };

describe("a SageMaker stack with standby: hot", () => {
    it("watches both variants together, so that the alarms follow whichever serves without changing (a rollback within the config, a deploy's bake)", () => {
        const latency = alarmInputs(serving3, "latency-p99") as {
            metricQueries: { id: string; expression?: string; metric?: { dimensions: Record<string, string>; stat: string } }[];
        };
        expect(latency.metricQueries.map((q) => q.id)).toEqual(["latency0", "latency1", "latency"]);
        expect(latency.metricQueries.slice(0, 2).map((q) => [q.metric?.dimensions.VariantName, q.metric?.stat])).toEqual([
            ["primary", "p99"],
            ["standby", "p99"],
        ]);
        expect(latency.metricQueries[2].expression).toBe("MAX([latency0, latency1])");
        const errors = alarmInputs(serving3, "5xx-rate") as { metricQueries: { id: string; expression?: string }[] };
        expect(errors.metricQueries.at(-1)?.expression).toBe(
            "IF(SUM([FILL(invocations0, 0), FILL(invocations1, 0)]) > 0, 100 * SUM([FILL(errors0, 0), FILL(errors1, 0)]) / SUM([FILL(invocations0, 0), FILL(invocations1, 0)]), 0)",
        );
        // The same alarms after the rollback moved the weight: nothing for the update to change, nothing to lag behind.
        for (const suffix of ["latency-p99", "5xx-rate"]) expect(alarmInputs(rolledBackTo2, suffix)).toEqual(alarmInputs(serving3, suffix));
    });

    it("gives the trigger the config's variants, so that its fast path is the weights call, and the role that call alone on the endpoint", () => {
        const env = environmentOf(serving3);
        const settings = triggerSettingsFromEnv(env);
        expect(settings.hotStandby).toEqual({ record: deployed3, instanceCount: 2 });
        expect(env.MLOPS_PINNED_CONFIG_NAME).toBe("fraud-detector-config-3-mock");
        expect(env.MLOPS_ROLLBACK_CONFIG_NAME).toBe("fraud-detector-config-3-mock");
        expect(triggerPolicyOf(serving3).Statement.find((s) => s.Sid === "MoveStandbyWeights")).toEqual({
            Sid: "MoveStandbyWeights",
            Effect: "Allow",
            Action: ["sagemaker:UpdateEndpointWeightsAndCapacities"],
            Resource: [`arn:aws:sagemaker:us-east-1:${MOCK_ACCOUNT_ID}:endpoint/fraud-detector-endpoint-mock`],
        });
    });

    it("after the rollback, the trigger's next target (1) is outside the config: its cold fast path points at 1's own config", () => {
        const env = environmentOf(rolledBackTo2);
        expect(env.MLOPS_PINNED_VERSION).toBe("2");
        expect(env.MLOPS_ROLLBACK_VERSION).toBe("1");
        expect(env.MLOPS_PINNED_CONFIG_NAME).toBe("fraud-detector-config-3-mock");
        expect(env.MLOPS_ROLLBACK_CONFIG_NAME).toBe("fraud-detector-config-1-mock");
    });

    it("keeps the version the rollback left running at weight 0 in the same config, with its Model", () => {
        const weights = rolledBackTo2.find((r) => r.type === "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights");
        expect(weights?.inputs.variants).toEqual([
            { variantName: "primary", weight: 0, instanceCount: 2 },
            { variantName: "standby", weight: 1, instanceCount: 2 },
        ]);
        expect(findChild(rolledBackTo2, "fraud-detector-endpoint").inputs.endpointConfigName).toBe("fraud-detector-config-3-mock");
        // A new deployment policy now would redeploy this config, whose initial weights are 3's: it waits for the next deploy.
        expect(findChild(rolledBackTo2, "fraud-detector-endpoint").options?.ignoreChanges).toEqual(["deploymentConfig"]);
        expect(findChild(serving3, "fraud-detector-endpoint").options?.ignoreChanges).toBeUndefined();
        expect(rolledBackTo2.some((r) => r.name === "fraud-detector-model-3")).toBe(true);
    });
});
