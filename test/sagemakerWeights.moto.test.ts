/**
 * The emulated SageMaker's production variants against moto on loopback,
 * through the real AWS SDK clients: DescribeEndpoint's weights and counts,
 * UpdateEndpointWeightsAndCapacities as AWS documents it (only the fields
 * sent change, refusals, an Updating phase), and InvokeEndpoint routed by the
 * current weights. A test of a traffic shift is only as good as this: moto
 * alone erases the instance counts a weights-only call leaves out, never
 * refuses a busy endpoint, and answers every invocation the same.
 */
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    DescribeEndpointCommand,
    SageMakerClient,
    UpdateEndpointCommand,
    UpdateEndpointWeightsAndCapacitiesCommand,
    type DesiredWeightAndCapacity,
    type ProductionVariant,
} from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { motoPythonForTests, MOTO_ACCOUNT, MOTO_REGION, motoClientOptions, startMoto, type MotoServer } from "../test-aws/motoServer";

const motoPython = motoPythonForTests("SageMaker weights and capacities tests");

const ENDPOINT = "fraud-detector-weights";
const ENDPOINT_ARN = `arn:aws:sagemaker:${MOTO_REGION}:${MOTO_ACCOUNT}:endpoint/${ENDPOINT}`;
const CONFIG = "fraud-detector-weights-config";
const NEXT_CONFIG = "fraud-detector-weights-next-config";
const MODEL = { primary: "fraud-detector-primary-model", standby: "fraud-detector-standby-model", next: "fraud-detector-next-model" };
/** Seconds an update stays Updating in the tests that set a delay: long enough to look, short enough to wait out. */
const UPDATE_DELAY = 2;

/** What DescribeEndpoint says of one production variant. */
interface VariantState {
    readonly VariantName?: string;
    readonly CurrentWeight?: number;
    readonly DesiredWeight?: number;
    readonly CurrentInstanceCount?: number;
    readonly DesiredInstanceCount?: number;
}

const variant = (name: string, weight: number, count: number): VariantState => ({
    VariantName: name,
    CurrentWeight: weight,
    DesiredWeight: weight,
    CurrentInstanceCount: count,
    DesiredInstanceCount: count,
});

describe.skipIf(motoPython === undefined)("SageMaker variant weights and capacities against moto", () => {
    let server: MotoServer;
    let sagemaker: SageMakerClient;
    let runtime: SageMakerRuntimeClient;

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        sagemaker = new SageMakerClient(motoClientOptions(server));
        runtime = new SageMakerRuntimeClient(motoClientOptions(server));
    }, 60_000);
    afterAll(async () => server?.stop());

    beforeEach(async () => {
        await server.reset();
        await seedTwoVariantEndpoint(sagemaker);
    });

    async function described() {
        const { EndpointStatus, EndpointConfigName, ProductionVariants } = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT }));
        const variants = (ProductionVariants ?? []).map(
            ({ VariantName, CurrentWeight, DesiredWeight, CurrentInstanceCount, DesiredInstanceCount }): VariantState => ({
                VariantName,
                CurrentWeight,
                DesiredWeight,
                CurrentInstanceCount,
                DesiredInstanceCount,
            }),
        );
        return { status: EndpointStatus, config: EndpointConfigName, variants };
    }
    function setWeights(desired: DesiredWeightAndCapacity[], endpointName = ENDPOINT) {
        return sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({ EndpointName: endpointName, DesiredWeightsAndCapacities: desired }));
    }
    async function invoke(targetVariant?: string): Promise<{ header?: string; body: { variant: string; model: string } }> {
        const answer = await runtime.send(
            new InvokeEndpointCommand({
                EndpointName: ENDPOINT,
                Body: new TextEncoder().encode("{}"),
                ContentType: "application/json",
                TargetVariant: targetVariant,
            }),
        );
        return { header: answer.InvokedProductionVariant, body: JSON.parse(new TextDecoder().decode(answer.Body)) as { variant: string; model: string } };
    }
    /** The variant that served each of `count` invocations without TargetVariant. */
    async function servedBy(count: number): Promise<string[]> {
        const served: string[] = [];
        for (let i = 0; i < count; i++) {
            const { header, body } = await invoke();
            expect(body.variant).toBe(header);
            served.push(header ?? "(no header)");
        }
        return served;
    }
    async function waitUntilInService(withinMs: number): Promise<void> {
        const deadline = Date.now() + withinMs;
        while ((await described()).status !== "InService") {
            if (Date.now() > deadline) throw new Error(`endpoint still not InService after ${withinMs} ms`);
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }

    it("shows each variant's current and desired weight and instance count, a weight of 0 as 0", async () => {
        expect(await described()).toEqual({
            status: "InService",
            config: CONFIG,
            variants: [variant("primary", 1, 2), variant("standby", 0, 1)],
        });
    });

    it("keeps the instance counts on a weights-only call and the weight on a count-only call", async () => {
        // WHEN all weight moves to standby, weights only
        const { EndpointArn } = await setWeights([
            { VariantName: "primary", DesiredWeight: 0 },
            { VariantName: "standby", DesiredWeight: 1 },
        ]);
        // THEN the counts are untouched
        expect(EndpointArn).toBe(ENDPOINT_ARN);
        expect(await described()).toMatchObject({ status: "InService", variants: [variant("primary", 0, 2), variant("standby", 1, 1)] });

        // WHEN standby scales out, count only, primary not listed
        await setWeights([{ VariantName: "standby", DesiredInstanceCount: 3 }]);
        // THEN standby keeps its weight and primary is unchanged
        expect((await described()).variants).toEqual([variant("primary", 0, 2), variant("standby", 1, 3)]);
    });

    it("refuses an unknown variant or endpoint, changes nothing and logs nothing", async () => {
        await expect(setWeights([{ VariantName: "canary", DesiredWeight: 1 }])).rejects.toMatchObject({
            name: "ValidationException",
            message: expect.stringContaining('"canary"'),
        });
        // One unknown name refuses the whole call, the known entry included.
        await expect(
            setWeights([
                { VariantName: "primary", DesiredWeight: 0 },
                { VariantName: "canary", DesiredWeight: 1 },
            ]),
        ).rejects.toMatchObject({ name: "ValidationException" });
        await expect(setWeights([{ VariantName: "primary", DesiredWeight: 0 }], "no-such-endpoint")).rejects.toMatchObject({
            name: "ValidationException",
            message: expect.stringContaining("no-such-endpoint"),
        });

        expect((await described()).variants).toEqual([variant("primary", 1, 2), variant("standby", 0, 1)]);
        expect(await server.weightsCalls()).toEqual([]);
    });

    it("stays Updating for the delay, refusing further updates and serving by the old weights, then is InService with the new", async () => {
        await server.setUpdateDelay(UPDATE_DELAY);
        const started = Date.now();

        await setWeights([
            { VariantName: "primary", DesiredWeight: 0 },
            { VariantName: "standby", DesiredWeight: 1, DesiredInstanceCount: 2 },
        ]);

        // THEN, while it updates: Desired* are the new values, Current* the old
        expect(await described()).toMatchObject({
            status: "Updating",
            variants: [
                { VariantName: "primary", CurrentWeight: 1, DesiredWeight: 0, CurrentInstanceCount: 2, DesiredInstanceCount: 2 },
                { VariantName: "standby", CurrentWeight: 0, DesiredWeight: 1, CurrentInstanceCount: 1, DesiredInstanceCount: 2 },
            ],
        });
        await expect(setWeights([{ VariantName: "primary", DesiredWeight: 1 }])).rejects.toMatchObject({
            name: "ValidationException",
            message: `Cannot update in-progress endpoint "${ENDPOINT_ARN}".`,
        });
        await expect(sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: CONFIG }))).rejects.toMatchObject({
            name: "ValidationException",
            message: expect.stringContaining("Cannot update in-progress endpoint"),
        });
        // SageMaker serves during an update, by the weights in force.
        expect(new Set(await servedBy(10))).toEqual(new Set(["primary"]));
        expect((await described()).status).toBe("Updating");

        // THEN, after it
        await waitUntilInService(10_000);
        expect(Date.now() - started).toBeGreaterThanOrEqual(UPDATE_DELAY * 1000 - 100);
        expect((await described()).variants).toEqual([variant("primary", 0, 2), variant("standby", 1, 2)]);
        expect(new Set(await servedBy(10))).toEqual(new Set(["standby"]));
        expect(await server.weightsCalls()).toHaveLength(1);
    }, 30_000);

    it("keeps UpdateEndpoint Updating for the delay, on the old config until it switches", async () => {
        await server.setUpdateDelay(UPDATE_DELAY);

        await sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: NEXT_CONFIG }));

        expect(await described()).toMatchObject({ status: "Updating", config: CONFIG });
        await expect(setWeights([{ VariantName: "primary", DesiredWeight: 1 }])).rejects.toMatchObject({
            message: expect.stringContaining("Cannot update in-progress endpoint"),
        });
        expect((await invoke()).body).toEqual({ variant: "primary", model: MODEL.primary });

        await waitUntilInService(10_000);
        expect(await described()).toEqual({ status: "InService", config: NEXT_CONFIG, variants: [variant("primary", 1, 4)] });
        expect((await invoke()).body).toEqual({ variant: "primary", model: MODEL.next });
        expect(await server.updateEndpointCalls()).toEqual([{ name: ENDPOINT, config: NEXT_CONFIG }]);
    }, 30_000);

    it("logs every accepted weights call in order as sent, not the refused ones, until a reset", async () => {
        const first = [
            { VariantName: "primary", DesiredWeight: 0 },
            { VariantName: "standby", DesiredWeight: 1 },
        ];
        const second = [{ VariantName: "standby", DesiredInstanceCount: 3 }];
        await setWeights(first);
        await expect(setWeights([{ VariantName: "canary", DesiredWeight: 1 }])).rejects.toMatchObject({ name: "ValidationException" });
        await setWeights(second);

        expect(await server.weightsCalls()).toEqual([
            { name: ENDPOINT, variants: first },
            { name: ENDPOINT, variants: second },
        ]);
        // The refused call reached the server all the same.
        expect((await server.calls()).filter((call) => call.operation === "UpdateEndpointWeightsAndCapacities")).toHaveLength(3);

        await server.reset();
        expect(await server.weightsCalls()).toEqual([]);
    });

    it("routes invocations by the current weights: none to a weight-0 variant", async () => {
        // GIVEN primary 1, standby 0
        expect(new Set(await servedBy(50))).toEqual(new Set(["primary"]));
        // WHEN all weight moves to standby
        await setWeights([
            { VariantName: "primary", DesiredWeight: 0 },
            { VariantName: "standby", DesiredWeight: 1 },
        ]);
        // THEN every one of 50 invocations lands on standby, served by its model
        expect(await servedBy(50)).toEqual(Array(50).fill("standby"));
        expect((await invoke()).body).toEqual({ variant: "standby", model: MODEL.standby });
    });

    it("splits invocations between variants of equal weight", async () => {
        await setWeights([{ VariantName: "standby", DesiredWeight: 1 }]);
        const served = await servedBy(100);
        // Binomial(100, 0.5): fewer than 20 on either side happens about once in 10^9 runs.
        expect(served.filter((name) => name === "primary").length).toBeGreaterThanOrEqual(20);
        expect(served.filter((name) => name === "standby").length).toBeGreaterThanOrEqual(20);
    });

    it("reaches a weight-0 variant through TargetVariant and refuses an unknown one", async () => {
        expect(await invoke("standby")).toEqual({ header: "standby", body: { variant: "standby", model: MODEL.standby } });
        await expect(invoke("canary")).rejects.toMatchObject({ name: "ValidationError" });
    });

    it("refuses an invocation without TargetVariant when every weight is 0", async () => {
        await setWeights([{ VariantName: "primary", DesiredWeight: 0 }]);
        expect((await described()).variants).toEqual([variant("primary", 0, 2), variant("standby", 0, 1)]);

        await expect(invoke()).rejects.toMatchObject({ name: "ValidationError" });
        // A targeted invocation still reaches its variant.
        expect((await invoke("primary")).header).toBe("primary");
    });
});

/** Three models; CONFIG with primary (weight 1, 2 instances) and standby (weight 0, 1 instance); NEXT_CONFIG with one variant; the endpoint on CONFIG. */
async function seedTwoVariantEndpoint(sagemaker: SageMakerClient): Promise<void> {
    for (const modelName of Object.values(MODEL)) {
        await sagemaker.send(
            new CreateModelCommand({
                ModelName: modelName,
                ExecutionRoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/sagemaker`,
                PrimaryContainer: { Image: `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/fraud-detector:${modelName}` },
            }),
        );
    }
    const productionVariant = (name: string, modelName: string, weight: number, count: number): ProductionVariant => ({
        VariantName: name,
        ModelName: modelName,
        InstanceType: "ml.m5.large",
        InitialVariantWeight: weight,
        InitialInstanceCount: count,
    });
    await sagemaker.send(
        new CreateEndpointConfigCommand({
            EndpointConfigName: CONFIG,
            ProductionVariants: [productionVariant("primary", MODEL.primary, 1, 2), productionVariant("standby", MODEL.standby, 0, 1)],
        }),
    );
    await sagemaker.send(
        new CreateEndpointConfigCommand({ EndpointConfigName: NEXT_CONFIG, ProductionVariants: [productionVariant("primary", MODEL.next, 1, 4)] }),
    );
    await sagemaker.send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: CONFIG }));
}
