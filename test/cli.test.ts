import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_STACK_FILE_BYTES } from "../config/sources";
import { isPrintable } from "../cli/terminalText";
import { deployedStack, pulumiStandIn, type StandInBehaviour } from "./fixtures/pulumiStandIn";
import { MLOPS_BIN as MLOPS, mlopsBin, mlopsInProcess, ROOT, type Run } from "./fixtures/mlopsRun";

const EXAMPLE = "stacks/Pulumi.sagemaker-example.yaml";
const INVALID_DIR = path.join(ROOT, "test", "configs", "invalid");

/**
 * `mlops ...args` from the repository, as a user would run it there. In this
 * process (test/fixtures/mlopsRun.ts): what mlops decides and prints is the
 * subject here; the few tests about the process itself (signals, a FIFO, the
 * exit status) run the built bin through `mlopsBin`, and
 * test/cliConventions.test.ts runs the bin for streams and exit codes.
 */
function mlops(...args: string[]): Promise<Run> {
    return mlopsIn(ROOT, {}, ...args);
}

/** `mlops ...args` in this process from `cwd`, with `env` (e.g. a PATH without pulumi) for the run. */
function mlopsIn(cwd: string, env: Record<string, string>, ...args: string[]): Promise<Run> {
    return mlopsInProcess(cwd, env, ...args);
}

const STACK_TRACE_LINE = /^\s+at .+:\d+:\d+\)?$/m;

/** Each invalid config names its expectation in a header line: `# expect: <config path> | <message fragment>`. */
const invalidConfigs = readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => {
        const header = /^# expect: (\S+) \| (.+)$/m.exec(readFileSync(path.join(INVALID_DIR, file), "utf8"));
        if (header === null) throw new Error(`${file} has no '# expect: <path> | <fragment>' line`);
        return { file, key: header[1], fragment: header[2].trim() };
    });

describe("mlops validate", () => {
    it("accepts the example stack (exit 0)", async () => {
        const run = await mlops("validate", "--config-file", EXAMPLE);
        expect(run.code).toBe(0);
        // One meaning of "warm": the versions kept besides the pin (mlops:warm counts them), never the pin itself.
        expect(run.stdout).toContain(
            "valid. Model fraud-detector on sagemaker, pinned 3; 1 warm version for rollback: the last to serve on the stack before 3 (earlier in the catalog, not quarantined); on a first deploy, when nothing else has served, the catalog's previous: 2.",
        );
    });

    it("reads stacks/Pulumi.<stack>.yaml with --stack and prints JSON with --json", async () => {
        const run = await mlops("validate", "--stack", "sagemaker-example", "--json");
        expect(run.code).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({
            ok: true,
            target: "sagemaker",
            model: "fraud-detector",
            pinned: "3",
            warm: 1,
            warmOnFirstDeploy: ["2"],
        });
        expect(JSON.parse(run.stdout)).not.toHaveProperty("warmVersions");
        expect(JSON.parse(run.stdout)).not.toHaveProperty("error");
    });

    it("has an invalid config for every class of bad input the core and Kubernetes issues name", () => {
        const files = invalidConfigs.map((c) => c.file.replace(/\.yaml$/, ""));
        expect(files).toEqual(
            expect.arrayContaining([
                "unknown-key",
                "duplicate-version-id",
                "bad-version-id",
                "colliding-derived-names",
                "pinned-not-in-catalog",
                "pinned-quarantined",
                "quarantined-not-in-catalog",
                "warm-too-large",
                "warm-negative",
                "image-latest-tag",
                "image-no-tag",
                "image-registry-port",
                "image-short-digest",
                "image-uppercase-digest",
                "identical-image-and-artifact",
                "artifact-prefix",
                "artifact-wildcard",
                "instance-type-not-ml",
                "instance-count-zero",
                "missing-target-section",
                "k8s-namespace-not-dns",
                "k8s-replicas-zero",
                "k8s-standby-negative",
                "k8s-port-out-of-range",
                "k8s-probe-path-relative",
                "k8s-bad-quantity",
            ]),
        );
    });

    it.concurrent.each(invalidConfigs)("rejects $file: exit 2, names $key, no stack trace", async ({ file, key, fragment }) => {
        const run = await mlops("validate", "--config-file", path.join(INVALID_DIR, file));
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`  ${key}: `);
        expect(run.stderr).toContain(fragment);
        expect(run.stderr).not.toMatch(STACK_TRACE_LINE);
        expect(run.stdout).toBe("");
    });

    it("reports problems as JSON with --json, still exit 2", async () => {
        const run = await mlops("validate", "--config-file", path.join(INVALID_DIR, "pinned-quarantined.yaml"), "--json");
        expect(run.code).toBe(2);
        expect(JSON.parse(run.stdout)).toMatchObject({
            ok: false,
            error: { kind: "bad-input", problems: [{ key: "mlops:pinned", message: expect.stringContaining("quarantined") as string }] },
        });
    });
});

describe("mlops plan", () => {
    it("prints the documented JSON for a warm rollback of the example", async () => {
        const run = await mlops("plan", "--config-file", EXAMPLE, "--to", "2", "--json");
        expect(run.code).toBe(0);
        const plan = JSON.parse(run.stdout) as {
            from: string;
            to: string;
            summary: Record<string, number>;
            operations: { type: string; name: string; op: string; changed: string[]; retained?: true }[];
            restoreBudget: { pinned: string; rollbackVersion: string; paths: { title: string; steps: { source: string }[] }[] };
        };
        expect(Object.keys(plan)).toEqual([
            "ok",
            "from",
            "to",
            "targetWarm",
            "targetStandIn",
            "warmBefore",
            "warmAfter",
            "servingHistory",
            "summary",
            "operations",
            "restoreBudget",
        ]);
        // Before: 2 stands in; after the rollback to 2, nothing that served before 2 is warm.
        expect(plan).toMatchObject({ warmBefore: ["2"], warmAfter: [] });
        // A config file, not a stack: the plan assumes only the pin has served, says so, and that 2 is warm only as a stand-in.
        expect(plan).toMatchObject({ targetWarm: true, servingHistory: { versions: ["3"], known: false } });
        expect((plan as unknown as { targetStandIn: string }).targetStandIn).toContain("so version 2, the catalog's previous one, is kept warm");
        // The budget is of the config as it is: if version 3 goes bad, the trigger restores 2.
        expect(plan.restoreBudget.pinned).toBe("3");
        expect(plan.restoreBudget.rollbackVersion).toBe("2");
        expect(plan.restoreBudget.paths.map((p) => p.title)).toEqual([
            "During a deployment's bake: SageMaker's guardrails shift traffic back to the old fleet",
            "After the bake: the alarm trigger moves the endpoint to version 2",
            "By hand: mlops rollback --version 2",
        ]);
        expect(plan.from).toBe("3");
        expect(plan.to).toBe("2");
        // Updates: the Endpoint's pointer and the rollback trigger (its
        // policy and environment follow the pin). Creates: the database
        // snapshot the rollback takes after the switch; nothing for version 1,
        // which never served here, so it does not become warm. Deletes:
        // version 3's Model and config and the previous pin change's
        // snapshot, all retained in AWS.
        expect(plan.summary).toEqual({ create: 1, update: 3, replace: 0, delete: 3 });
        expect(plan.operations.filter((o) => o.op === "delete" && o.retained !== true)).toEqual([]);
        expect(plan.operations.find((o) => o.type === "aws:sagemaker/endpoint:Endpoint")).toEqual({
            type: "aws:sagemaker/endpoint:Endpoint",
            name: "fraud-detector-endpoint",
            op: "update",
            changed: ["endpointConfigName"],
        });
        for (const operation of plan.operations) expect(["create", "update", "replace", "delete"]).toContain(operation.op);
    }, 60_000);

    it("prints a readable plan without --json", async () => {
        const run = await mlops("plan", "--stack", "sagemaker-example", "--to", "2");
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("Plan: fraud-detector 3 -> 2 (sagemaker, mlops:warm 1)");
        expect(run.stdout).toContain("Warm before the change: 2; after it: none.");
        expect(run.stdout).toContain("update  aws:sagemaker/endpoint:Endpoint  fraud-detector-endpoint  (endpointConfigName)");
        expect(run.stdout).toContain("Summary: 1 create, 3 update, 0 replace, 3 delete");
        // No pulumi here to read the stack's serving record with: the plan says what it assumed instead.
        expect(run.stderr).toContain("could not read stack sagemaker-example's serving record");
        expect(run.stdout).toContain(
            "Serving record: not read here (a config file, or no pulumi that can read the stack), so the plan assumes only 3 has served on this stack",
        );
        expect(run.stdout).toContain("Version 2 is warm");
        expect(run.stdout).toContain("SageMaker itself still starts a new fleet for it before traffic moves: see the time to restore below.");
        expect(run.stdout).toContain("Time to restore if version 3 goes bad (estimated; the source of every figure is in BENCHMARKS.md):");
        expect(run.stdout).toContain(
            "  After the bake: the alarm trigger moves the endpoint to version 2: 9 min 31 s to 19 min 2 s, plus 4 steps not estimated",
        );
        // Names derived from the stack come out as they will on that stack.
        expect(run.stdout).toContain("create  aws:rds/snapshot:Snapshot  fraud-detector-database-snapshot-fraud-detector-sagemaker-example-2-v3-to-v2");
        expect(run.stdout).toContain(
            "The database fraud-features is snapshotted once traffic has moved: a rollback never waits for a snapshot. The snapshot of the previous pin change leaves the stack and stays in AWS; no snapshot or database is deleted.",
        );
        expect(run.stderr).toContain("mock runtime");
    }, 60_000);
});

describe("mlops plan --against (an edit of the config)", () => {
    it("shows that changing an alarm threshold updates the alarm and replaces nothing, the endpoint least of all", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-against-"));
        const edited = path.join(dir, "Pulumi.edited.yaml");
        const original = readFileSync(EXAMPLE, "utf8");
        expect(original).toContain("latencyP99Ms: 800");
        writeFileSync(edited, original.replace("latencyP99Ms: 800", "latencyP99Ms: 1200").replace("errorRatePercent: 5", "errorRatePercent: 3"));

        const run = await mlops("plan", "--config-file", edited, "--against", EXAMPLE, "--json");

        expect(run.code).toBe(0);
        const plan = JSON.parse(run.stdout) as { summary: Record<string, number>; operations: { name: string; op: string; changed: string[] }[] };
        expect(plan.summary).toEqual({ create: 0, update: 2, replace: 0, delete: 0 });
        expect(plan.operations.map((o) => [o.name, o.op, o.changed])).toEqual([
            ["fraud-detector-alarms-5xx-rate", "update", ["alarmDescription", "threshold"]],
            ["fraud-detector-alarms-latency-p99", "update", ["alarmDescription", "threshold"]],
        ]);
    }, 60_000);

    it("prints the edited config's time to restore: one breaching data point instead of two detects a minute sooner", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-against-"));
        const edited = path.join(dir, "Pulumi.edited.yaml");
        const original = readFileSync(EXAMPLE, "utf8");
        expect(original).toContain("datapointsToAlarm: 2");
        writeFileSync(edited, original.replace("datapointsToAlarm: 2", "datapointsToAlarm: 1"));

        const run = await mlops("plan", "--config-file", edited, "--against", EXAMPLE);

        expect(run.code).toBe(0);
        expect(run.stdout).toContain("fraud-detector-alarms-5xx-rate  (datapointsToAlarm)");
        expect(run.stdout).toContain("    detect  0 s to 1 min           1 of 3 data points of 60 s breach");
        expect(run.stdout).toContain(
            "  After the bake: the alarm trigger moves the endpoint to version 2: 8 min 31 s to 18 min 2 s, plus 4 steps not estimated",
        );
    }, 60_000);
});

describe("deployment policies that do not do what they say (SageMaker guardrail exclusions, the provider's 60-minute wait)", () => {
    /** `file` with each `[from, to]` replaced (each must be there), in a temporary directory. */
    function editedCopy(file: string, ...replacements: [string, string][]): string {
        let text = readFileSync(file, "utf8");
        for (const [from, to] of replacements) {
            expect(text).toContain(from);
            text = text.replace(from, to);
        }
        const edited = path.join(mkdtempSync(path.join(tmpdir(), "mlops-policy-")), "Pulumi.edited.yaml");
        writeFileSync(edited, text);
        return edited;
    }

    const CANARY_WITH_BAKE = "strategy: canary\n      stepPercent: 50\n      waitIntervalSeconds: 300\n      bakeTimeSeconds: 600";

    it("accepts a policy one second under the provider's wait (the just-over config with a 1499 s bake)", async () => {
        const justUnder = editedCopy(path.join(INVALID_DIR, "deployment-just-over-provider-wait.yaml"), ["bakeTimeSeconds: 1500", "bakeTimeSeconds: 1499"]);
        const run = await mlops("validate", "--config-file", justUnder);
        expect([run.code, run.stderr]).toEqual([0, ""]);
    });

    it("the example validates without warnings", async () => {
        const run = await mlops("validate", "--config-file", EXAMPLE, "--json");
        expect([run.code, run.stderr, (JSON.parse(run.stdout) as { warnings: unknown[] }).warnings]).toEqual([0, "", []]);
    });

    it("Inf1 with the default all-at-once policy and the example's alarms: valid (exit 0), with a warning on stderr and in --json", async () => {
        const inf1 = editedCopy(EXAMPLE, ["instanceType: ml.m5.large", "instanceType: ml.inf1.xlarge"], [CANARY_WITH_BAKE, "strategy: allAtOnce"]);
        const run = await mlops("validate", "--config-file", inf1);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("valid.");
        expect(run.stderr).toContain("warning: mlops:sagemaker.instanceType: ml.inf1.xlarge is an Inf1 (Inferentia) instance type");
        expect(run.stderr).toContain("https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html");
        const json = await mlops("validate", "--config-file", inf1, "--json");
        expect(json.code).toBe(0);
        expect((JSON.parse(json.stdout) as { warnings: unknown[] }).warnings).toEqual([
            { key: "mlops:sagemaker.instanceType", message: expect.stringContaining("Inf1") },
        ]);
    });

    it("the same Inf1 stack keeping the example's canary and bake is refused (exit 2)", async () => {
        const inf1Canary = editedCopy(EXAMPLE, ["instanceType: ml.m5.large", "instanceType: ml.inf1.xlarge"]);
        const run = await mlops("validate", "--config-file", inf1Canary);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("  mlops:sagemaker.instanceType: ml.inf1.xlarge is an Inf1 (Inferentia) instance type");
        expect(run.stderr).toContain("deployment.strategy canary, deployment.bakeTimeSeconds 600 would never act");
    });

    it("plan --against warns of a renamed variant, and its time to restore has no guardrail path", async () => {
        const renamed = editedCopy(EXAMPLE, ["variantName: primary", "variantName: live"]);
        const run = await mlops("plan", "--config-file", renamed, "--against", EXAMPLE);
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("Warning: mlops:sagemaker.variantName: the variant name changes from 'primary' to 'live'");
        expect(run.stdout).toContain("  No restore by SageMaker's guardrails: the variant name changes from 'primary' to 'live'");
        expect(run.stdout).toContain("  After the bake: the alarm trigger moves the endpoint");
        expect(run.stdout).not.toContain("During a deployment's bake: SageMaker's guardrails shift traffic back");
    }, 60_000);

    it("plan --against an unchanged variant name warns of nothing and keeps the guardrail path", async () => {
        const run = await mlops("plan", "--config-file", EXAMPLE, "--against", EXAMPLE, "--json");
        expect(run.code).toBe(0);
        const json = JSON.parse(run.stdout) as { warnings: unknown[]; restoreBudget: { paths: { kind: string }[] } };
        expect(json.warnings).toEqual([]);
        expect(json.restoreBudget.paths.map((p) => p.kind)).toEqual(["guardrails", "trigger", "byHand"]);
    }, 60_000);
});

describe("a floor alarm (too few pods) fires when its metric stops", () => {
    const KUBERNETES_EXAMPLE = "stacks/Pulumi.kubernetes-example.yaml";
    const runningPods = (name: string, rule: string) =>
        `      - { name: ${name}, namespace: ContainerInsights, metricName: service_number_of_running_pods, statistic: Minimum, ${rule} }\n`;
    const restarts = (extra: string) =>
        `      - { name: pod-restarts, namespace: ContainerInsights, metricName: pod_number_of_container_restarts, statistic: Maximum, threshold: 3${extra} }\n`;
    /** The Kubernetes example with these custom alarms, written where only this test reads it. */
    function withAlarms(name: string, custom: string): string {
        const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-floor-")), `Pulumi.${name}.yaml`);
        writeFileSync(file, `${readFileSync(KUBERNETES_EXAMPLE, "utf8")}  mlops:alarms:\n    custom:\n${custom}`);
        return file;
    }
    // GIVEN the issue's alarm (running pods below 1, no treatMissingData), a lessThanOrEqual one, and a ceiling
    const byDefault = withAlarms(
        "default",
        runningPods("running-pods", "threshold: 1, comparison: lessThan") + runningPods("no-pods", "threshold: 0, comparison: lessThanOrEqual") + restarts(""),
    );

    it("declares by default what an explicit breaching / notBreaching declares: the plan between them changes nothing", async () => {
        const spelledOut = withAlarms(
            "spelled-out",
            runningPods("running-pods", "threshold: 1, comparison: lessThan, treatMissingData: breaching") +
                runningPods("no-pods", "threshold: 0, comparison: lessThanOrEqual, treatMissingData: breaching") +
                restarts(", treatMissingData: notBreaching"),
        );
        const run = await mlops("plan", "--config-file", byDefault, "--against", spelledOut, "--json");
        expect(run.code, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({ summary: { create: 0, update: 0, replace: 0, delete: 0 }, operations: [] });
    }, 60_000);

    it("an explicit notBreaching on the floor still wins: the plan shows the alarm's treatMissingData change, and validate warns", async () => {
        const quiet = withAlarms(
            "quiet",
            runningPods("running-pods", "threshold: 1, comparison: lessThan, treatMissingData: notBreaching") +
                runningPods("no-pods", "threshold: 0, comparison: lessThanOrEqual") +
                restarts(""),
        );
        const plan = await mlops("plan", "--config-file", byDefault, "--against", quiet, "--json");
        expect(plan.code, plan.stderr).toBe(0);
        expect((JSON.parse(plan.stdout) as { operations: unknown[] }).operations).toEqual([
            { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: "fraud-detector-alarms-running-pods", op: "update", changed: ["treatMissingData"] },
        ]);

        // The edit the other way (to notBreaching) is warned of by the plan too, as validate does.
        const toQuiet = await mlops("plan", "--config-file", quiet, "--against", byDefault, "--json");
        expect((JSON.parse(toQuiet.stdout) as { warnings: { key: string }[] }).warnings.map((w) => w.key)).toEqual(["mlops:alarms.custom[0].treatMissingData"]);

        const validate = await mlops("validate", "--config-file", quiet);
        expect(validate.code).toBe(0);
        expect(validate.stderr).toContain(
            "warning: mlops:alarms.custom[0].treatMissingData: running-pods fires on too little service_number_of_running_pods (lessThan 1), but with notBreaching it counts the silence as fine and stays OK when the metric stops",
        );
        const json = JSON.parse((await mlops("validate", "--config-file", quiet, "--json")).stdout) as { ok: boolean; warnings: { key: string }[] };
        expect(json.ok).toBe(true);
        expect(json.warnings.map((w) => w.key)).toEqual(["mlops:alarms.custom[0].treatMissingData"]);
        // The defaults warn about nothing.
        const clean = await mlops("validate", "--config-file", byDefault);
        expect(clean.code).toBe(0);
        expect(clean.stderr).not.toContain("treatMissingData");
    }, 120_000);
});

describe("bad CLI input: exit 2, a clear message, no stack trace", () => {
    it.concurrent.each([
        [["validate"], "pass --stack <name>"],
        [["validate", "--stack", "a", "--config-file", EXAMPLE], "cannot be used with option"],
        [["validate", "--stack", "no-such-stack"], "Pulumi.no-such-stack.yaml"],
        [["validate", "--config-file", "no/such/file.yaml"], "cannot read stack file"],
        [["validate", "--config-file", "package.json", "--bogus"], "unknown option '--bogus'"],
        [["plan", "--config-file", EXAMPLE], "give exactly one of --to <version> (plan a pin change) or --against <config-file>"],
        [["plan", "--config-file", EXAMPLE, "--to", "2", "--against", EXAMPLE], "give exactly one of --to"],
        [["plan", "--config-file", EXAMPLE, "--against", "no/such/file.yaml"], "cannot read stack file"],
        [["plan", "--config-file", EXAMPLE, "--against", path.join(INVALID_DIR, "alarm-period-not-allowed.yaml")], "--against"],
        [["plan", "--config-file", EXAMPLE, "--to", "9"], "--to 9: not in mlops:versions (known: 1, 2, 3)"],
        [["plan", "--config-file", EXAMPLE, "--to", "3"], "--to 3: already the pinned version"],
        [["plan", "--config-file", path.join(INVALID_DIR, "image-latest-tag.yaml"), "--to", "2"], "mlops:versions[0].image"],
        [["rollbak"], "unknown command 'rollbak'"],
    ])("mlops %j", async (args, message) => {
        const run = await mlops(...args);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(message);
        expect(run.stderr).not.toMatch(STACK_TRACE_LINE);
    });

    it("refuses files that are not regular files, or are far larger than a stack file, without reading or blocking on them", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-not-a-file-"));
        const fifo = path.join(dir, "Pulumi.fifo.yaml");
        execFileSync("mkfifo", [fifo]);
        const huge = path.join(dir, "Pulumi.huge.yaml");
        writeFileSync(huge, `config:\n  mlops:model: ${"x".repeat(MAX_STACK_FILE_BYTES)}\n`);
        for (const [file, message] of [
            ["/dev/zero", "not a regular file (a directory, device or pipe)"],
            [fifo, "not a regular file (a directory, device or pipe)"],
            [dir, "not a regular file (a directory, device or pipe)"],
            [huge, "1048600 bytes, more than 1048576 (1 MiB); a Pulumi stack file is kilobytes: check the path"],
        ]) {
            // The built bin: a read that blocked on the FIFO would hang a process of its own, not the test's.
            const run = await mlopsBin(ROOT, {}, "validate", "--config-file", file);
            expect(run.code, file).toBe(2);
            expect(run.stderr, file).toContain(`cannot read stack file ${file}: ${message}`);
        }
    });

    it("rejects a file that is not a stack file", async () => {
        const run = await mlops("validate", "--config-file", "package.json");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("has no 'config:' map");
    });

    it("keeps stdout JSON with --json when the command fails", async () => {
        const run = await mlops("plan", "--config-file", EXAMPLE, "--to", "9", "--json");
        expect(run.code).toBe(2);
        expect(JSON.parse(run.stdout)).toEqual({
            ok: false,
            error: { kind: "bad-input", message: "--to 9: not in mlops:versions (known: 1, 2, 3)", key: "--to" },
        });
    });

    it("shows the stack trace with --debug", async () => {
        const run = await mlops("--debug", "validate", "--config-file", "no/such/file.yaml");
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(STACK_TRACE_LINE);
    });
});

describe("mlops rollback and deploy refuse before the engine starts", () => {
    // No pulumi binary on PATH: a refusal must not need one, and must leave the stack file byte for byte as it was.
    const project = mkdtempSync(path.join(tmpdir(), "mlops-refuse-"));
    mkdirSync(path.join(project, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const stackFile = path.join(project, "stacks", "Pulumi.prod.yaml");
    copyFileSync(path.join(ROOT, EXAMPLE), stackFile);
    const noPulumi = { PATH: path.dirname(process.execPath) };

    it.each([
        [["rollback", "--stack", "prod", "--version", "9", "--yes"], "--version 9: not in mlops:versions"],
        [["rollback", "--stack", "prod", "--version", "3", "--yes"], "--version 3: already the pinned version"],
        [["deploy", "--stack", "prod", "--version", "2", "--yes"], "--version 2: comes before the pinned 3; use mlops rollback --version 2"],
        [["rollback", "--stack", "prod"], "no terminal to confirm on; pass --yes"],
        [["rollback", "--stack", "staging", "--yes"], "no config file for stack 'staging'"],
        // Not "pass --config-file": rollback has no such flag.
        [
            ["rollback", "--stack", "staging", "--yes"],
            "(stacks with a config file: prod); check --stack (validate and plan also take --config-file <stack file>)",
        ],
    ])("mlops %j: exit 2, nothing changed", async (args, message) => {
        const before = readFileSync(stackFile);
        const run = await mlopsIn(project, noPulumi, ...args);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(message);
        expect(run.stderr).not.toMatch(STACK_TRACE_LINE);
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it("says the rollback needs the Pulumi CLI when it is missing, and changes nothing (exit 1)", async () => {
        const before = readFileSync(stackFile);
        const run = await mlopsIn(project, noPulumi, "rollback", "--stack", "prod", "--yes");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("the Pulumi CLI (pulumi) is not on PATH, and mlops rollback reads the stack and runs the update through it");
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });
});

describe("mlops --help", () => {
    it("lists the commands and exits 0", async () => {
        const run = await mlops("--help");
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(/validate \[options\]/);
        expect(run.stdout).toMatch(/plan \[options\]/);
        for (const command of ["deploy", "rollback", "status", "history"]) expect(run.stdout).toMatch(new RegExp(`${command} \\[options\\]`));
    });

    it.each(["validate", "plan", "rollback", "deploy", "status", "history"])("describes the flags and exit codes of %s", async (command) => {
        const run = await mlops(command, "--help");
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("--stack <name>");
        expect(run.stdout).toContain("Exit codes:");
    });

    it("states the exit codes in the top-level help", async () => {
        expect((await mlops("--help")).stdout).toContain("Exit codes: 0 ok, 1 the operation failed, 2 bad input");
    });

    it("explains plan's flags", async () => {
        const run = await mlops("plan", "--help");
        expect(run.code).toBe(0);
        expect(run.stdout).toContain("--to <version>");
        expect(run.stdout).toContain("--config-file <path>");
        expect(run.stdout).toContain("--against <config-file>");
        expect(run.stdout).toContain("retained");
    });

    it("explains the reconcile flags of rollback", async () => {
        const run = await mlops("rollback", "--help");
        expect(run.stdout).toContain("--after-fast-path");
        expect(run.stdout).toContain("--expect-from <version>");
    });

    it("explains what --restore-database restores and what it keeps", async () => {
        const run = await mlops("rollback", "--help");
        expect(run.stdout).toContain("--restore-database");
        expect(run.stdout.replace(/\s+/g, " ")).toContain("the current database and every snapshot are kept untouched");
    });
});

/** A project with the example as stack prod, whose `pulumi` is the logging stand-in (test/fixtures/pulumiStandIn.ts). */
function standInProject(behaviour: StandInBehaviour) {
    const project = mkdtempSync(path.join(tmpdir(), "mlops-stand-in-project-"));
    mkdirSync(path.join(project, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const stackFile = path.join(project, "stacks", "Pulumi.prod.yaml");
    copyFileSync(path.join(ROOT, EXAMPLE), stackFile);
    const pulumi = pulumiStandIn(behaviour);
    const env = { PATH: `${pulumi.bin}:${path.dirname(process.execPath)}` };
    return { project, stackFile, pulumi, env, run: (...args: string[]) => mlopsIn(project, env, ...args) };
}

/** The stack file's bytes and modification time, to compare. */
const fileState = (file: string) => ({ bytes: readFileSync(file).toString("base64"), mtimeNs: statSync(file, { bigint: true }).mtimeNs });

const isRunning = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const found = probe();
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

describe("a dry run killed mid-preview leaves the stack file as it was (a real signal to the built bin)", () => {
    it.each([
        ["SIGHUP", 129],
        ["SIGKILL", null],
    ] as const)(
        "%s: the stack file is byte-identical, and the next dry run and status see no unfinished rollback",
        async (signal, exitCode) => {
            // GIVEN a stack running 3 (2 served before it), and a preview that blocks
            const { stackFile, pulumi, env, project, run } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod", preview: "block" });
            const before = fileState(stackFile);
            const child = spawn(process.execPath, [MLOPS, "rollback", "--dry-run"], { cwd: project, env: { ...process.env, ...env } });
            let stderr = "";
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (code, killedBy) => resolve([code, killedBy])));
            try {
                // WHEN it is killed while the engine previews
                const preview = await until("the preview to start", () => pulumi.calls().find((call) => call.args[0] === "preview"));
                expect(fileState(stackFile)).toEqual(before);
                expect(preview.configFileText).toContain('mlops:pinned: "2"');
                expect(readFileSync(`${stackFile}.lock`, "utf8")).toContain('"command":"rollback --dry-run"');
                child.kill(signal);
                const [code, killedBy] = await exited;

                // THEN the stack file never changed
                expect(signal === "SIGKILL" ? killedBy : code, stderr).toBe(signal === "SIGKILL" ? "SIGKILL" : exitCode);
                expect(fileState(stackFile)).toEqual(before);
                const configDir = path.dirname(preview.configFile as string);
                if (signal === "SIGHUP") {
                    // It cleaned up: the copy, its lock, and the engine (stopped through the Automation API: SIGINT).
                    expect(existsSync(configDir)).toBe(false);
                    expect(existsSync(`${stackFile}.lock`)).toBe(false);
                    await until("the engine to stop", () => (isRunning(preview.pid) ? undefined : true), 10_000);
                } else {
                    // No time to clean up: the private copy and the lock stay; the engine runs on, orphaned.
                    expect(statSync(configDir).mode & 0o777).toBe(0o700);
                    expect(existsSync(`${stackFile}.lock`)).toBe(true);
                    process.kill(preview.pid, "SIGKILL");
                    rmSync(configDir, { recursive: true, force: true });
                }

                // ...and the next runs see a plain rollback from 3, no unfinished one.
                pulumi.set({ deployment: deployedStack("3", ["2"]), selected: "prod", preview: { changes: { update: 2, same: 5 } } });
                const next = await run("rollback", "--dry-run");
                expect(next.code, next.stderr).toBe(0);
                expect(next.stderr).toContain("Rollback of fraud-detector on stack prod: 3 -> 2");
                expect(next.stderr).not.toMatch(/already pins|did not finish|did not complete/);
                if (signal === "SIGKILL")
                    expect(next.stderr).toContain("a dry run, stopped before it finished; it changed nothing, so there is nothing to pick up");
                expect(next.stdout).toBe("Preview of rollback 3 -> 2 on prod: 2 updated, 5 unchanged. Nothing was changed.\n");
                const status = await run("status");
                expect(status.code, status.stderr).toBe(0);
                expect(status.stdout).toContain("Stack prod: fraud-detector on sagemaker, serving version 3");
                expect(fileState(stackFile)).toEqual(before);
                expect(existsSync(`${stackFile}.lock`)).toBe(false);
            } finally {
                child.kill("SIGKILL");
                for (const call of pulumi.calls()) if (isRunning(call.pid)) process.kill(call.pid, "SIGKILL");
            }
        },
        60_000,
    );
});

describe("the Pulumi CLI missing: one sentence and the fix, exit 1 (an operation that could not run, not bad input)", () => {
    const project = mkdtempSync(path.join(tmpdir(), "mlops-no-pulumi-"));
    mkdirSync(path.join(project, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const stackFile = path.join(project, "stacks", "Pulumi.prod.yaml");
    copyFileSync(path.join(ROOT, EXAMPLE), stackFile);
    const noPulumi = { PATH: path.dirname(process.execPath) };
    const fix = "install it (https://www.pulumi.com/docs/install/) or add the directory that holds it to PATH, then run again";

    it.each([
        [["status"], "mlops status reads the stack's outputs and update history through it"],
        [["status", "--stack", "prod"], "mlops status reads the stack's outputs and update history through it"],
        [["history"], "mlops history reads the stack's update history through it"],
        [["history", "--stack", "prod", "--json"], "mlops history reads the stack's update history through it"],
        [["rollback", "--dry-run"], "mlops rollback --dry-run runs the preview through it"],
        [["rollback", "--stack", "prod", "--dry-run"], "mlops rollback --dry-run runs the preview through it"],
        [["rollback", "--yes"], "mlops rollback reads the stack and runs the update through it"],
        [["rollback", "--stack", "prod", "--yes"], "mlops rollback reads the stack and runs the update through it"],
        [["deploy", "--stack", "prod", "--version", "3", "--dry-run"], "mlops deploy --dry-run runs the preview through it"],
    ])("mlops %j", async (args, usedFor) => {
        const before = fileState(stackFile);
        const run = await mlopsIn(project, noPulumi, ...args);
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toBe(`mlops: the Pulumi CLI (pulumi) is not on PATH, and ${usedFor}: ${fix}\n`);
        expect(run.stderr).not.toMatch(/ENOENT|code: -2|stdout:|an update needs/);
        if (args.includes("--json"))
            expect(JSON.parse(run.stdout)).toEqual({
                ok: false,
                error: { kind: "failed", message: `the Pulumi CLI (pulumi) is not on PATH, and ${usedFor}: ${fix}` },
            });
        expect(fileState(stackFile)).toEqual(before);
    });

    it("does not take a --cwd that does not exist (spawn ENOENT too) for a missing pulumi: exit 2, the directory named", async () => {
        const pulumi = pulumiStandIn({ deployment: deployedStack("3", ["2"]), selected: "prod" });
        const missingDir = path.join(project, "no-such-dir");
        const run = await mlopsIn(project, { PATH: `${pulumi.bin}:${path.dirname(process.execPath)}` }, "--cwd", missingDir, "status");
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr).toBe(`mlops: no Pulumi.yaml in ${missingDir}; run mlops from the project directory, or pass --cwd <dir>\n`);
    });

    it("says so, with its errno, when the pulumi on PATH cannot be started (EACCES)", async () => {
        const bin = mkdtempSync(path.join(tmpdir(), "mlops-pulumi-not-executable-"));
        writeFileSync(path.join(bin, "pulumi"), "not a program\n", { mode: 0o644 });
        for (const args of [["status"], ["rollback", "--stack", "prod", "--dry-run"]]) {
            const run = await mlopsIn(project, { PATH: `${bin}:${path.dirname(process.execPath)}` }, ...args);
            expect(run.code, run.stderr).toBe(1);
            expect(run.stderr).toMatch(
                /^mlops: the pulumi on PATH could not be started \(EACCES\), and mlops (status reads the stack's outputs and update history|rollback --dry-run runs the preview) through it: check that it is the Pulumi CLI and executable, or reinstall it \(https:\/\/www\.pulumi\.com\/docs\/install\/\), then run again\n$/,
            );
        }
    });
});

describe("a failed update or preview prints the engine's own error lines once, without the command line", () => {
    const engineError = ["error: update failed", "error: kubernetes:apps/v1:Deployment (fraud-detector-2): the Deployment did not become ready in 600s"];
    const stderr = `warning: using pulumi-language-nodejs from $PATH at /opt/pulumi\n${engineError.join("\n")}\n`;
    const occurrences = (text: string, line: string) => text.split(line).length - 1;
    const noFraming = (text: string) => {
        expect(text).not.toMatch(/code: (-2|255)|stdout:|err\?:|Command failed|--exec-kind|--event-log|pulumi up --yes|pulumi preview --message/);
        expect(text).not.toContain("warning: using pulumi-language-nodejs");
    };

    it("mlops rollback --yes: the engine exits 255 (exit 1, the engine's lines once)", async () => {
        const { run, stackFile } = standInProject({ deployment: deployedStack("3", ["2"]), up: { exitCode: 255, stderr } });
        const result = await run("rollback", "--stack", "prod", "--yes");
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toContain(`mlops: the rollback to 2 failed: ${engineError.join("\n")}\nThe stack file still pins 2`);
        for (const line of engineError) expect(occurrences(result.stderr, line), line).toBe(1);
        noFraming(result.stderr);
        expect(readFileSync(stackFile, "utf8")).toContain('mlops:pinned: "2"');
    });

    it("mlops rollback --dry-run --json: the preview fails (exit 1, the engine's lines once, nothing changed)", async () => {
        const { run, stackFile } = standInProject({ deployment: deployedStack("3", ["2"]), preview: { exitCode: 255, stderr } });
        const before = fileState(stackFile);
        const result = await run("rollback", "--stack", "prod", "--dry-run", "--json");
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toContain(`mlops: the preview of the rollback to 2 failed: ${engineError.join("\n")}\nNothing was changed.\n`);
        for (const line of engineError) expect(occurrences(result.stderr, line), line).toBe(1);
        noFraming(result.stderr + result.stdout);
        expect(JSON.parse(result.stdout)).toMatchObject({
            ok: false,
            result: "failed",
            dryRun: true,
            error: { kind: "failed", message: `the preview of the rollback to 2 failed: ${engineError.join("\n")}\nNothing was changed.` },
        });
        expect(fileState(stackFile)).toEqual(before);
    });

    it("without --stack and no stack selected: exit 2, pass --stack", async () => {
        const { run } = standInProject({ deployment: deployedStack("3", ["2"]) });
        const result = await run("status");
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr).toBe("mlops: no stack selected; pass --stack <name>\n");
    });
});

/** A project with the example stack as stacks/Pulumi.prod.yaml, `edit` applied to its text. */
function projectWithExample(edit: (text: string) => string = (text) => text): { project: string; stackFile: string } {
    const project = mkdtempSync(path.join(tmpdir(), "mlops-hardening-"));
    mkdirSync(path.join(project, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const stackFile = path.join(project, "stacks", "Pulumi.prod.yaml");
    writeFileSync(stackFile, edit(readFileSync(path.join(ROOT, EXAMPLE), "utf8")));
    return { project, stackFile };
}

const NO_PULUMI = { PATH: path.dirname(process.execPath) };

describe("numbers spelled in a form YAML readers disagree on are refused by validate, plan and rollback (exit 2, file untouched)", () => {
    it.concurrent.each([
        ['mlops:pinned: "3"', "mlops:pinned: 3.0", "mlops:pinned", 'quote it ("3.0") if the version id is "3.0", or write 3 for version 3'],
        ['mlops:pinned: "3"', "mlops:pinned: 03", "mlops:pinned", 'quote it ("03") if the version id is "03", or write 3 for version 3'],
        ['mlops:pinned: "3"', "mlops:pinned: 0x3", "mlops:pinned", 'quote it ("0x3") if the version id is "0x3", or write 3 for version 3'],
        ["mlops:warm: 1", "mlops:warm: 0x1", "mlops:warm", "unquoted 0x1 is the number 1 written in a form YAML readers do not all read alike; write 1"],
        ["mlops:quarantined: []", "mlops:quarantined: [010]", "mlops:quarantined[0]", "is the number 8 to Pulumi's YAML reader and 10 to others"],
    ])("%s written as %s", async (written, spelled, key, fix) => {
        const { project, stackFile } = projectWithExample((text) => text.replace(written, spelled));
        const before = readFileSync(stackFile);
        const runs = await Promise.all([
            mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod"),
            mlopsIn(project, NO_PULUMI, "plan", "--stack", "prod", "--to", "2"),
            mlopsIn(project, NO_PULUMI, "rollback", "--stack", "prod", "--yes"),
        ]);
        for (const run of runs) {
            expect(run.code, run.stderr).toBe(2);
            expect(run.stderr).toContain(`  ${key}: unquoted`);
            expect(run.stderr).toContain(fix);
            expect(run.stderr).not.toMatch(STACK_TRACE_LINE);
        }
        const json = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod", "--json");
        expect(JSON.parse(json.stdout)).toMatchObject({
            ok: false,
            error: { kind: "bad-input", problems: [{ key, message: expect.stringContaining(fix) as string }] },
        });
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it("accepts an unquoted canonical pin, mlops:pinned: 3, as version '3'", async () => {
        const { project } = projectWithExample((text) => text.replace('mlops:pinned: "3"', "mlops:pinned: 3"));
        const run = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod", "--json");
        expect(run.code, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, pinned: "3" });
    });
});

describe("mlops:rollback.notify as a Pulumi secret, never printed", () => {
    const secret = "v1:vxqgigij7GXvhW3v:WIwI0+nLx3JHt0Va211qNWDr+E8GI83SO6dAbUvfjU2it7IKQhQhzx7WQymoBQ";
    const withNotify = (notify: string) => (text: string) =>
        text.replace("  mlops:quarantined: []\n", `  mlops:quarantined: []\n  mlops:rollback:\n    notify:${notify}\n`);

    it("validate and plan accept the secure: value pulumi config set --secret --path writes, and call it a secret", async () => {
        const { project, stackFile } = projectWithExample(withNotify(`\n      secure: ${secret}`));
        const validate = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod");
        expect(validate.code, validate.stderr).toBe(0);
        expect(validate.stdout).toContain("Notices go to the secret in mlops:rollback.notify (value not shown).");
        // This repository's program under the mock runtime, with the secret as the file holds it.
        const plan = await mlops("plan", "--config-file", stackFile, "--to", "2", "--json");
        expect(plan.code, plan.stderr).toBe(0);
        for (const run of [validate, plan]) expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
    });

    it("validate shows a plain webhook by its host only", async () => {
        const { project } = projectWithExample(withNotify(" https://hooks.slack.com/services/T0AAAA/B0BBBB/s3cr3tT0k3n"));
        const run = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod");
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toContain("Notices go to https://hooks.slack.com/….");
        expect(run.stdout).not.toContain("s3cr3t");
    });

    it("refuses a webhook URL with user:password@ without echoing it, in text, JSON, and the refusal of rollback", async () => {
        const { project, stackFile } = projectWithExample(withNotify(" https://alice:hunter2@hooks.example.com/hook/s3cr3tT0k3n"));
        const before = readFileSync(stackFile);
        const runs = await Promise.all([
            mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod"),
            mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod", "--json"),
            mlopsIn(project, NO_PULUMI, "rollback", "--stack", "prod", "--yes"),
            mlopsIn(project, NO_PULUMI, "plan", "--stack", "prod", "--to", "2", "--json"),
        ]);
        for (const run of runs) {
            expect(run.code).toBe(2);
            expect(`${run.stdout}${run.stderr}`).toContain("mlops:rollback.notify");
            expect(`${run.stdout}${run.stderr}`).toContain("user:password@ cannot be sent");
            for (const text of ["alice", "hunter2", "s3cr3t"]) expect(`${run.stdout}${run.stderr}`).not.toContain(text);
        }
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });
});

describe("terminal control characters from the stack file and the flags", () => {
    it("validate names a key with an escape sequence as text: no ESC reaches the terminal", async () => {
        const { project } = projectWithExample((text) => text.replace("  mlops:warm: 1\n", '  mlops:warm: 1\n  "mlops:\\e[2J\\e[H": 1\n'));
        const run = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("  mlops:\\x1b[2J\\x1b[H: unknown key");
        expect(run.stderr).not.toContain("\u001b");
        const json = await mlopsIn(project, NO_PULUMI, "validate", "--stack", "prod", "--json");
        expect(json.stdout).not.toContain("\u001b");
        expect((JSON.parse(json.stdout) as { error: { problems: { key: string }[] } }).error.problems[0].key).toBe("mlops:\u001b[2J\u001b[H");
    });

    it("a flag's value with a control character is refused up front, printed escaped", async () => {
        const run = await mlops("plan", "--config-file", EXAMPLE, "--to", "9\u001b[2J");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("the value of --to, 9\\x1b[2J, contains a control character (\\x1b)");
        expect(run.stderr).not.toContain("\u001b");
    });

    it.each([
        [
            "a 130 KB reason (the update would fail with E2BIG after the file was rewritten)",
            "x".repeat(130_000),
            "--reason is 130000 characters long; at most 1000",
        ],
        ["1,001 characters", "é".repeat(1001), "--reason is 1001 characters long; at most 1000"],
        [
            "a newline",
            "5xx after v4\n2026-11-27T10:00:00.000Z  deploy  9  succeeded",
            "--reason must be one line of plain text: character 13 is a control character (\\n)",
        ],
        ["an escape sequence", "5xx\u001b[2J", "character 4 is a control character (\\x1b)"],
        ["a tab", "5xx\tafter v4", "(\\t)"],
    ])("refuses --reason with %s: exit 2 naming --reason, before the stack or its file is touched", async (_, reason, message) => {
        const { project, stackFile } = projectWithExample();
        const before = readFileSync(stackFile);
        for (const command of ["rollback", "deploy"]) {
            const run = await mlopsIn(
                project,
                NO_PULUMI,
                command,
                "--stack",
                "prod",
                "--version",
                command === "rollback" ? "2" : "3",
                "--reason",
                reason,
                "--yes",
            );
            expect(run.code, run.stderr).toBe(2);
            expect(run.stderr).toContain(message);
            expect(run.stderr).not.toContain("\u001b");
            expect(run.stderr.length).toBeLessThan(1000);
        }
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it("lets a reason of exactly 1,000 plain characters through to the next check", async () => {
        const { project } = projectWithExample();
        const run = await mlopsIn(project, NO_PULUMI, "rollback", "--stack", "prod", "--version", "9", "--reason", "x".repeat(1000), "--yes");
        expect(run.code).toBe(2);
        expect(run.stderr).toContain("--version 9: not in mlops:versions");
    });
});

describe("a command-line argument that would drive the terminal is refused before commander parses it (exit 2, escaped)", () => {
    const FORGED = "mlops: Rolled back prod 3 -> 2 in 4s";
    const fix = "type it again without it (a value pasted from elsewhere can carry one)";
    it.each([
        [["validate", "--x\u001b[31mRED"], "the argument --x\\x1b[31mRED contains a control character (\\x1b)"],
        [["st\u001b[2Jatus"], "the argument st\\x1b[2Jatus contains a control character (\\x1b)"],
        [["rollback", "--stack", "prod", "--version", `9\n${FORGED}`, "--yes"], `the value of --version, 9\\n${FORGED}, contains a control character (\\n)`],
        [["status", "--stack", `prod\n${FORGED}`], `the value of --stack, prod\\n${FORGED}, contains a control character (\\n)`],
        [["--cwd", ".\r", "history"], "the value of --cwd, .\\r, contains a control character (\\r)"],
        [["validate", "--stack=prod\u202e"], "the argument --stack=prod\\u{202e} contains an invisible formatting character"],
        [["deploy", "--stack", "prod", "--version", "3\u200b", "--dry-run"], "the value of --version, 3\\u{200b}, contains an invisible formatting character"],
        [["validate", "--stack", "prod", "\u009b2J"], "the argument \\x9b2J contains a control character (\\x9b)"],
    ])("mlops %j", async (args, message) => {
        const { project, stackFile } = projectWithExample();
        const before = fileState(stackFile);
        // No pulumi on PATH: had anything run past the check, the exit would be 1 (or 0), not 2.
        for (const json of [false, true]) {
            const run = await mlopsIn(project, NO_PULUMI, ...args, ...(json ? ["--json"] : []));
            expect(run.code, run.stderr).toBe(2);
            expect(run.stderr).toMatch(/^mlops: [^\n]*\n$/);
            expect(run.stderr).toContain(message);
            expect(run.stderr).toContain(fix);
            expect(isPrintable(run.stderr.slice(0, -1))).toBe(true);
            if (json)
                expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { kind: "usage", message: expect.stringContaining("contains") as string } });
        }
        expect(fileState(stackFile)).toEqual(before);
    });

    it.each([
        ["U+200E LEFT-TO-RIGHT MARK", "\u200e", "\\u{200e}"],
        ["U+200F RIGHT-TO-LEFT MARK", "\u200f", "\\u{200f}"],
        ["U+061C ARABIC LETTER MARK", "\u061c", "\\u{61c}"],
        ["U+FEFF ZERO WIDTH NO-BREAK SPACE", "\ufeff", "\\u{feff}"],
        ["U+2066 LEFT-TO-RIGHT ISOLATE, as --reason=", "\u2066", "\\u{2066}"],
    ])("refuses --reason with %s with --reason's own message (exit 2, the file untouched)", async (name, mark, shown) => {
        const { project, stackFile } = projectWithExample();
        const before = fileState(stackFile);
        const reason = `5xx after v4${mark} -> 3`;
        const args = name.endsWith("--reason=") ? [`--reason=${reason}`] : ["--reason", reason];
        const run = await mlopsIn(project, NO_PULUMI, "rollback", "--stack", "prod", "--version", "2", ...args, "--yes");
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr).toBe(
            `mlops: --reason must be one line of plain text: character 13 is an invisible formatting character (a bidi mark, override or isolate, a zero-width character or a line separator) (${shown}); write the reason on one line without control characters\n`,
        );
        expect(fileState(stackFile)).toEqual(before);
    });

    it("plan --stack: the engine's stderr in 'could not read stack prod's serving record' is printed escaped", async () => {
        const { project } = projectWithExample();
        const bin = mkdtempSync(path.join(tmpdir(), "mlops-pulumi-escapes-"));
        // Stands for a pulumi whose stack export fails with an escape sequence and a forged line in its error.
        writeFileSync(
            path.join(bin, "pulumi"),
            `#!/bin/sh\nprintf 'error: \\033[2Jthe backend refused\\rmlops: Rolled back prod 3 -> 2 in 4s\\n' >&2\nexit 255\n`,
            { mode: 0o755 },
        );
        // (The plan itself then fails: the project holds no program. The line before it is what this test reads.)
        const run = await mlopsIn(project, { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin` }, "plan", "--stack", "prod", "--to", "2");
        expect(run.stderr).toContain(
            "mlops: could not read stack prod's serving record (error: \\x1b[2Jthe backend refused\\rmlops: Rolled back prod 3 -> 2 in 4s); the plan assumes only the pinned version has served.\n",
        );
        expect(run.stderr.split("\n").every(isPrintable)).toBe(true);
    }, 60_000);
});

describe("a dry run stopped by SIGQUIT or SIGUSR2 cleans up as for SIGHUP (their default action ends the process too)", () => {
    it.each([
        ["SIGQUIT", 131],
        ["SIGUSR2", 140],
    ] as const)(
        "%s: exit 128 + its number; the private copy, the lock and the engine are gone, the stack file as it was",
        async (signal, exitCode) => {
            const { stackFile, pulumi, env, project } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod", preview: "block" });
            const before = fileState(stackFile);
            const child = spawn(process.execPath, [MLOPS, "rollback", "--dry-run"], { cwd: project, env: { ...process.env, ...env } });
            let stderr = "";
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
            try {
                const preview = await until("the preview to start", () => pulumi.calls().find((call) => call.args[0] === "preview"));
                expect(existsSync(`${stackFile}.lock`)).toBe(true);
                child.kill(signal);
                expect(await exited, stderr).toBe(exitCode);
                expect(existsSync(path.dirname(preview.configFile as string))).toBe(false);
                expect(existsSync(`${stackFile}.lock`)).toBe(false);
                expect(fileState(stackFile)).toEqual(before);
                await until("the engine to stop", () => (isRunning(preview.pid) ? undefined : true), 10_000);
            } finally {
                child.kill("SIGKILL");
                for (const call of pulumi.calls()) if (isRunning(call.pid)) process.kill(call.pid, "SIGKILL");
            }
        },
        60_000,
    );
});

describe("a pulumi on PATH whose interpreter is missing is named by its path, not called missing (exit 1)", () => {
    it.each([
        ["#!/nonexistent/node", ["status"], "mlops status reads the stack's outputs and update history through it", "/nonexistent/node"],
        ["#!/no/such/python3 -u", ["rollback", "--stack", "prod", "--dry-run"], "mlops rollback --dry-run runs the preview through it", "/no/such/python3"],
    ])("%s, mlops %j", async (shebang, args, usedFor, interpreter) => {
        const { project, stackFile } = projectWithExample();
        const before = fileState(stackFile);
        const bin = mkdtempSync(path.join(tmpdir(), "mlops-pulumi-bad-shebang-"));
        const pulumi = path.join(bin, "pulumi");
        writeFileSync(pulumi, `${shebang}\nconsole.log("v3.205.0");\n`, { mode: 0o755 });
        const run = await mlopsIn(project, { PATH: `${bin}:${path.dirname(process.execPath)}` }, ...args);
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toBe(
            `mlops: pulumi at ${pulumi} could not be started: its interpreter or a library it needs is missing (its first line asks for ${interpreter}, which does not exist), and ${usedFor}: reinstall the Pulumi CLI (https://www.pulumi.com/docs/install/), or fix or remove ${pulumi} so that the pulumi found first on PATH runs, then run again\n`,
        );
        expect(run.stderr).not.toContain("is not on PATH");
        expect(fileState(stackFile)).toEqual(before);
    });
});
