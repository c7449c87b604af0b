import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_STACK_FILE_BYTES } from "../config/sources";

const ROOT = path.resolve(__dirname, "..");
const MLOPS = path.join(ROOT, "bin", "mlops.js");
const EXAMPLE = "stacks/Pulumi.sagemaker-example.yaml";
const INVALID_DIR = path.join(ROOT, "test", "configs", "invalid");

interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Run the real `mlops` bin, as a user would, from the project directory. */
function mlops(...args: string[]): Promise<Run> {
    return mlopsIn(ROOT, {}, ...args);
}

function mlopsIn(cwd: string, env: Record<string, string>, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
        execFile(process.execPath, [MLOPS, ...args], { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            resolve({ code, stdout, stderr });
        });
    });
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
            valid: true,
            target: "sagemaker",
            model: "fraud-detector",
            pinned: "3",
            warm: 1,
            warmOnFirstDeploy: ["2"],
            problems: [],
        });
        expect(JSON.parse(run.stdout)).not.toHaveProperty("warmVersions");
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
        expect(JSON.parse(run.stdout)).toMatchObject({ valid: false, problems: [{ path: "mlops:pinned", message: expect.stringContaining("quarantined") }] });
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
            { path: "mlops:sagemaker.instanceType", message: expect.stringContaining("Inf1") },
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
    // GIVEN the alarm (running pods below 1, no treatMissingData), a lessThanOrEqual one, and a ceiling
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
        expect((JSON.parse(toQuiet.stdout) as { warnings: { path: string }[] }).warnings.map((w) => w.path)).toEqual([
            "mlops:alarms.custom[0].treatMissingData",
        ]);

        const validate = await mlops("validate", "--config-file", quiet);
        expect(validate.code).toBe(0);
        expect(validate.stderr).toContain(
            "warning: mlops:alarms.custom[0].treatMissingData: running-pods fires on too little service_number_of_running_pods (lessThan 1), but with notBreaching it counts the silence as fine and stays OK when the metric stops",
        );
        const json = JSON.parse((await mlops("validate", "--config-file", quiet, "--json")).stdout) as { valid: boolean; warnings: { path: string }[] };
        expect(json.valid).toBe(true);
        expect(json.warnings.map((w) => w.path)).toEqual(["mlops:alarms.custom[0].treatMissingData"]);
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
            const run = await mlops("validate", "--config-file", file);
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
        expect(JSON.parse(run.stdout)).toEqual({ error: "--to 9: not in mlops:versions (known: 1, 2, 3)", badInput: true });
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
    ])("mlops %j: exit 2, nothing changed", async (args, message) => {
        const before = readFileSync(stackFile);
        const run = await mlopsIn(project, noPulumi, ...args);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(message);
        expect(run.stderr).not.toMatch(STACK_TRACE_LINE);
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it("says an update needs the pulumi CLI when it is missing, and changes nothing (exit 1)", async () => {
        const before = readFileSync(stackFile);
        const run = await mlopsIn(project, noPulumi, "rollback", "--stack", "prod", "--yes");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("the pulumi CLI is not on PATH");
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
