/**
 * The alarm trigger's Kubernetes instant switch against a real API server
 * (the sandbox's): the model's Service, Deployments and switch RBAC declared
 * by KubernetesModelEndpoint through the real engine, and the handler
 * reaching the cluster as a user in the switch group only, the way an EKS
 * access entry maps the trigger's role (the sandbox's static token stands
 * for the EKS token, whose STS side test/eksToken.moto.test.ts checks).
 * AWS (the state table, the build, the topic) is in memory here, standing
 * for the layer test/triggerHandler.moto.test.ts runs against moto. Writes
 * are counted in the API server's audit log, not by our code.
 */
import { mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { switchGroupFor } from "../components/alarmRollbackTrigger";
import { KubernetesModelEndpoint } from "../components/kubernetesModelEndpoint";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { EXAMPLE_PROJECT, STACK, withInlineStack } from "../sandbox/demo";
import { auditEvents, kubectl, SANDBOX_DIR, sandboxDown, sandboxUp, type SandboxState } from "../sandbox/sandbox";
import { clusterSwitch } from "../trigger/clusterSwitch";
import { handleTriggerEvent, type TriggerPorts } from "../trigger/handleAlarmEvent";
import { triggerSettingsFromEnv, type TriggerSettings } from "../trigger/settings";
import { compositeAlarmEvent } from "../test/fixtures/alarmEvents";
import { InMemoryTriggerPorts } from "../test/fixtures/inMemoryTriggerPorts";

const MODEL = "fraud-detector";
const NAMESPACE = "fraud";
const TRIGGER_USER = "mlops-trigger";
const TRIGGER_TOKEN = "mlops-trigger-token";
const ALARM = "fraud-detector-sandbox-rollback";

let state: SandboxState;

/** The API server as the trigger's role reaches it: a user in the model's switch group only. */
function triggerKubeConfig(): k8s.KubeConfig {
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromOptions({
        clusters: [{ name: "sandbox", server: `https://127.0.0.1:${state.apiServerPort}`, caData: caData() }],
        users: [{ name: TRIGGER_USER, token: TRIGGER_TOKEN }],
        contexts: [{ name: "trigger", cluster: "sandbox", user: TRIGGER_USER }],
        currentContext: "trigger",
    });
    return kubeConfig;
}

const caData = () => readFileSync(path.join(state.dir, "pki", "ca.crt")).toString("base64");

beforeAll(async () => {
    state = await sandboxUp({ auditLog: true, tokens: [{ token: TRIGGER_TOKEN, user: TRIGGER_USER, groups: [switchGroupFor(MODEL)] }] });
    // The model at 3, 2 warm and hot (it served before 3), with the switch group's RBAC, through the real engine.
    const raw = rawConfigFromStackFile(path.join(EXAMPLE_PROJECT, `Pulumi.${STACK}.yaml`));
    const config = parseStackConfig({ ...raw, pinned: "3" });
    const program = () => {
        if (config.kubernetes === undefined) throw new Error("the sandbox stack has no mlops:kubernetes");
        new KubernetesModelEndpoint(MODEL, {
            model: MODEL,
            versions: config.versions,
            pinned: "3",
            warm: 1,
            servingHistory: ["2", "3"],
            settings: config.kubernetes,
            switchGroup: switchGroupFor(MODEL),
        });
        return Promise.resolve();
    };
    const projectDir = path.join(SANDBOX_DIR, "trigger");
    mkdirSync(projectDir, { recursive: true });
    await withInlineStack(state, { projectDir, projectName: "trigger-e2e", stackName: "sandbox", program }, (stack) => stack.up());
}, 600_000);

afterAll(async () => {
    await sandboxDown();
});

const serviceSelects = () => kubectl(state, ["get", "service", MODEL, "-n", NAMESPACE, "-o", "jsonpath={.spec.selector.mlops-rollback/version}"]);

/** The trigger's settings for this stack, as AlarmRollbackTrigger writes them with mlops:trigger.eks. */
function settings(): TriggerSettings {
    return triggerSettingsFromEnv({
        MLOPS_TARGET: "kubernetes",
        MLOPS_MODEL: MODEL,
        MLOPS_STACK: "sandbox",
        MLOPS_ALARM_NAME: ALARM,
        MLOPS_PINNED_VERSION: "3",
        MLOPS_ROLLBACK_VERSION: "2",
        MLOPS_EKS_CLUSTER_NAME: "sandbox",
        MLOPS_EKS_ENDPOINT: `https://127.0.0.1:${state.apiServerPort}`,
        MLOPS_EKS_CA_DATA: caData(),
        MLOPS_K8S_NAMESPACE: NAMESPACE,
        MLOPS_K8S_SERVICE: MODEL,
        MLOPS_K8S_ROLLBACK_DEPLOYMENT: `${MODEL}-2`,
        MLOPS_K8S_REPLICAS: "2",
        MLOPS_STATE_TABLE: "mlops-trigger-state",
        MLOPS_RUNNER_PROJECT: "fraud-detector-sandbox-rollback-runner",
        MLOPS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:fraud-detector-sandbox-alarms",
        MLOPS_COOLDOWN_SECONDS: "1800",
        MLOPS_MAX_EVENT_AGE_SECONDS: "900",
        MLOPS_BUSY_RECHECKS: "0",
        MLOPS_BUSY_RECHECK_SECONDS: "5",
    });
}

/** In-memory AWS at `now`, with the handler's port to the sandbox's API server as the trigger's user. */
function ports(now: number): InMemoryTriggerPorts & TriggerPorts {
    const aws = new InMemoryTriggerPorts(now, { endpoint: { status: "InService", configName: "", lastModified: new Date(now - 86_400_000) } });
    const eks = settings().eks;
    if (eks === undefined) throw new Error("no EKS settings");
    return Object.assign(aws, {
        kubernetes: clusterSwitch({ server: eks.endpoint, caData: eks.caData, token: () => Promise.resolve(TRIGGER_TOKEN) }),
    });
}

/** The trigger user's writes to the model's Service since `since` (ms), from the audit log. */
function triggerWrites(since: number): string[] {
    return auditEvents(state)
        .filter((event) => event.user.username === TRIGGER_USER && Date.parse(event.requestReceivedTimestamp) >= since)
        .map((event) => `${event.verb} ${event.objectRef?.resource ?? ""}/${event.objectRef?.name ?? ""} ${event.responseStatus?.code ?? ""}`);
}

describe("the trigger's Kubernetes instant switch on a real API server", () => {
    it("the switch group may read and patch the model's Service and read its Deployments, and nothing else", async () => {
        kubectl(state, ["create", "service", "clusterip", "other", "-n", NAMESPACE, "--tcp=80:80"]);
        const core = triggerKubeConfig().makeApiClient(k8s.CoreV1Api);
        const apps = triggerKubeConfig().makeApiClient(k8s.AppsV1Api);
        expect((await core.readNamespacedService({ name: MODEL, namespace: NAMESPACE })).spec?.selector?.["mlops-rollback/version"]).toBe("3");
        expect((await apps.readNamespacedDeployment({ name: `${MODEL}-2`, namespace: NAMESPACE })).status?.readyReplicas).toBe(2);
        const denied = async (call: () => Promise<unknown>) =>
            call().then(
                () => 200,
                (error: unknown) => (error as { code?: number }).code,
            );
        expect(await denied(() => core.readNamespacedService({ name: "other", namespace: NAMESPACE }))).toBe(403);
        expect(
            await denied(() =>
                core.patchNamespacedService(
                    { name: "other", namespace: NAMESPACE, body: [{ op: "add", path: "/metadata/labels", value: { x: "y" } }] },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
                ),
            ),
        ).toBe(403);
        expect(await denied(() => core.listNamespacedSecret({ namespace: NAMESPACE }))).toBe(403);
        expect(
            await denied(() =>
                apps.patchNamespacedDeployment(
                    { name: `${MODEL}-2`, namespace: NAMESPACE, body: [{ op: "replace", path: "/spec/replicas", value: 0 }] },
                    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
                ),
            ),
        ).toBe(403);
        expect(await denied(() => core.deleteNamespacedService({ name: MODEL, namespace: NAMESPACE }))).toBe(403);
    });

    it("a storm of 50 events of one incident, all at once, makes one write (the switch), one build and one message", async () => {
        const now = Date.now();
        const aws = ports(now);
        const events = Array.from({ length: 50 }, (_, index) =>
            compositeAlarmEvent({ alarmName: ALARM, firedAt: new Date(now - 60_000 + (index % 7) * 1000), id: `storm-${index}` }),
        );
        const outcomes = await Promise.all(events.map((event) => handleTriggerEvent(event, settings(), aws, aws.now)));

        expect(outcomes.filter((outcome) => outcome.action === "rolled-back")).toHaveLength(1);
        expect(outcomes.filter((outcome) => outcome.action !== "rolled-back").map((outcome) => outcome.action)).toEqual(Array<string>(49).fill("ignored"));
        expect(serviceSelects()).toBe("2");
        expect(triggerWrites(now)).toEqual([`patch services/${MODEL} 200`]);
        expect(aws.methods().filter((method) => method === "startReconcile")).toHaveLength(1);
        expect(aws.published).toHaveLength(1);
        expect(aws.published[0].subject).toBe("mlops rolled back: fraud-detector (sandbox) 3 -> 2");
    }, 120_000);

    it("a Service no longer on the expected version is left alone, and reported", async () => {
        // Someone moved it outside the stack (to 1) after the trigger's last update.
        kubectl(state, [
            "patch",
            "service",
            MODEL,
            "-n",
            NAMESPACE,
            "--type=json",
            "-p",
            '[{"op":"replace","path":"/spec/selector/mlops-rollback~1version","value":"1"}]',
        ]);
        const now = Date.now();
        const aws = ports(now);
        const outcome = await handleTriggerEvent(
            compositeAlarmEvent({ alarmName: ALARM, firedAt: new Date(now - 1000), id: "moved" }),
            settings(),
            aws,
            aws.now,
        );

        expect(outcome.action).toBe("failed-closed");
        expect(outcome.why).toContain("the Service selects version 1, not 3, the version this rollback leaves");
        expect(serviceSelects()).toBe("1");
        expect(triggerWrites(now).filter((write) => !write.startsWith("get"))).toEqual([]);
        expect(aws.published.map((message) => message.subject)).toEqual(["mlops rollback refused: fraud-detector (sandbox) 3 -> 2"]);
        expect(aws.methods()).not.toContain("startReconcile");
    }, 120_000);
});
