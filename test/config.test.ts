import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ProductionVariantInstanceType } from "@aws-sdk/client-sagemaker";
import { configPath, LOCAL_NVME_FAMILIES, parseStackConfig, quantityValue, StackConfigError, withoutUrlSecrets } from "../config/schema";
import {
    engineNumber,
    isEngineTimestamp,
    loadStackConfig,
    rawConfigFromPulumiConfig,
    rawConfigFromStackFile,
    readRawStackConfig,
    StackFileError,
    valueAsProgramSeesIt,
    withSourceProblems,
} from "../config/sources";
import { digestFor, ECR_REPOSITORY, problemsOf, sagemakerRawConfig } from "./helpers";

describe("parseStackConfig", () => {
    it("applies the documented defaults", () => {
        const config = parseStackConfig(sagemakerRawConfig({ warm: undefined }));
        expect(config.warm).toBe(1);
        expect(config.quarantined).toEqual([]);
        expect(config.sagemaker).toEqual({
            instanceType: "ml.m5.large",
            instanceCount: 1,
            variantName: "primary",
            // Cold standby by default: a hot one doubles the bill and is chosen, never assumed.
            standby: "cold",
            standbyVariantName: "standby",
            deployment: { strategy: "allAtOnce", waitIntervalSeconds: 300, bakeTimeSeconds: 0, rollbackAlarmNames: [] },
        });
    });

    it("keeps warm: 0 (defaults use ??, never ||)", () => {
        expect(parseStackConfig(sagemakerRawConfig({ warm: 0 })).warm).toBe(0);
    });

    it("reads an unquoted integer version id as the string the user meant", () => {
        const raw = sagemakerRawConfig({ pinned: 3 });
        (raw.versions as { version: unknown }[]).forEach((v, i) => (v.version = i + 1));
        const config = parseStackConfig(raw);
        expect(config.pinned).toBe("3");
        expect(config.versions.map((v) => v.version)).toEqual(["1", "2", "3"]);
    });

    it("refuses an unquoted decimal version id, which YAML would turn 2.10 into 2.1", () => {
        const raw = sagemakerRawConfig();
        (raw.versions as { version: unknown }[])[1].version = 2.1;
        expect(problemsOf(raw)).toContainEqual({ path: "mlops:versions[1].version", message: expect.stringContaining("quote a version id") });
    });

    it("reports every problem at once, each by its config path", () => {
        const raw = sagemakerRawConfig({ pinned: "9", warm: 7, bogus: true, sagemaker: { instanceType: "m5.large", instanceCount: 0 } });
        (raw.versions as { image: string }[])[2].image = `${ECR_REPOSITORY}:latest`;
        const paths = problemsOf(raw).map((p) => p.path);
        expect(paths).toEqual(
            expect.arrayContaining([
                "mlops:bogus",
                "mlops:pinned",
                "mlops:warm",
                "mlops:versions[2].image",
                "mlops:sagemaker.instanceType",
                "mlops:sagemaker.instanceCount",
            ]),
        );
        expect(paths).toHaveLength(6);
    });

    it("accepts tag+digest images and registries with ports for kubernetes, where no ECR rule applies", () => {
        const raw = sagemakerRawConfig({ target: "kubernetes", sagemaker: undefined, kubernetes: {} });
        const versions = raw.versions as { image: string; artifact?: string }[];
        versions[0].image = `registry.local:5000/team/fraud:v1@sha256:${digestFor(7)}`;
        delete versions[1].artifact;
        expect(parseStackConfig(raw).versions[0].image).toContain("registry.local:5000");
    });

    it.each([
        ["v2.1", "V2-1"],
        ["v2_1", "v2-1"],
        ["A", "a"],
    ])("treats %s and %s as one SageMaker name", (first, second) => {
        const raw = sagemakerRawConfig();
        const versions = raw.versions as { version: string }[];
        versions[0].version = first;
        versions[1].version = second;
        expect(problemsOf(raw)).toContainEqual({
            path: "mlops:versions[1].version",
            message: expect.stringContaining("derives the same sagemaker resource name"),
        });
    });

    it("on kubernetes, refuses ids that differ only by a trailing separator", () => {
        const raw = sagemakerRawConfig({ target: "kubernetes", sagemaker: undefined, kubernetes: {} });
        const versions = raw.versions as { version: string }[];
        versions[0].version = "v2";
        versions[1].version = "v2.";
        expect(problemsOf(raw)).toContainEqual({ path: "mlops:versions[1].version", message: expect.stringContaining("'v2'") });
    });

    it("refuses a model name whose derived SageMaker names exceed 63 characters with the auto-name suffix", () => {
        const raw = sagemakerRawConfig({ model: "m".repeat(40) });
        (raw.versions as { version: string }[])[0].version = "release-2026-11-27-hotfix";
        expect(problemsOf(raw)).toContainEqual({ path: "mlops:versions[0].version", message: expect.stringContaining("longer than 55 characters") });
    });

    it("names the linear step floor", () => {
        const problems = problemsOf(sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", deployment: { strategy: "linear", stepPercent: 5 } } }));
        expect(problems).toEqual([{ path: "mlops:sagemaker.deployment.stepPercent", message: "a linear step is 10-50% of the fleet" }]);
    });
});

describe("the kubernetes section", () => {
    const kubernetesRaw = (kubernetes: Record<string, unknown>) => sagemakerRawConfig({ target: "kubernetes", sagemaker: undefined, kubernetes });

    it("applies the documented defaults, with standbyReplicas left to mean 'same as replicas'", () => {
        expect(parseStackConfig(kubernetesRaw({})).kubernetes).toEqual({
            namespace: "default",
            createNamespace: false,
            replicas: 2,
            port: 8080,
            servicePort: 80,
            serviceType: "ClusterIP",
            readinessPath: "/ready",
            livenessPath: "/healthz",
            startupTimeoutSeconds: 600,
            // The safe default: a partial standby is scaled up before traffic moves.
            rollbackAtReducedCapacity: false,
            resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
        });
    });

    it("makes the artifact optional", () => {
        const raw = kubernetesRaw({});
        for (const version of raw.versions as { artifact?: string }[]) delete version.artifact;
        expect(parseStackConfig(raw).versions.every((v) => v.artifact === undefined)).toBe(true);
    });

    it("requires the kubernetes section for the kubernetes target", () => {
        expect(problemsOf({ ...kubernetesRaw({}), kubernetes: undefined })).toContainEqual({
            path: "mlops:kubernetes",
            message: "required when mlops:target is 'kubernetes': add the mlops:kubernetes section",
        });
    });
});

describe("quantityValue", () => {
    it.each([
        ["500m", 0.5],
        ["2", 2],
        ["1Gi", 2 ** 30],
        ["512Mi", 512 * 2 ** 20],
        ["1.5G", 1.5e9],
        ["1e3", 1000],
    ])("reads %s as %d", (quantity, value) => {
        expect(quantityValue(quantity)).toBe(value);
    });

    it.each(["2 GB", "-1", "1gi", "", "Mi"])("rejects %j", (quantity) => {
        expect(quantityValue(quantity)).toBeUndefined();
    });
});

describe("values of the wrong type, and values as the engine passes them", () => {
    it("names the expected type instead of calling a present value 'required'", () => {
        expect(problemsOf(sagemakerRawConfig({ warm: "2" }))).toEqual([{ path: "mlops:warm", message: 'expected number, got string "2"' }]);
        expect(problemsOf(sagemakerRawConfig({ versions: { a: 1 } }))).toEqual([{ path: "mlops:versions", message: "expected array, got a map" }]);
        expect(problemsOf(sagemakerRawConfig({ model: undefined }))).toEqual([{ path: "mlops:model", message: "required" }]);
    });

    it("reads a stack file's top-level scalars as the engine does, so validate accepts what pulumi up accepts", () => {
        // `pulumi config set mlops:warm 2` writes warm: "2"; an unquoted pin arrives as text too.
        expect(valueAsProgramSeesIt("warm", "2")).toBe(2);
        expect(valueAsProgramSeesIt("pinned", 3)).toBe("3");
        expect(valueAsProgramSeesIt("model", "fraud-detector")).toBe("fraud-detector");
        expect(valueAsProgramSeesIt("quarantined", '["4"]')).toEqual(["4"]);
        expect(valueAsProgramSeesIt("versions", [{ version: "1" }])).toEqual([{ version: "1" }]);
    });
});

describe("SageMaker-specific rules", () => {
    const withSagemaker = (sagemaker: Record<string, unknown>) => sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", ...sagemaker } });

    it.each([
        ["s3://models/fraud/*", "an IAM wildcard"],
        ["s3://models/fraud/model?.tar.gz", "an IAM single-character wildcard"],
        ["s3://models/fraud/model.tar.gz\n", "a trailing newline"],
        ["s3://b..b/model.tar.gz", "a bucket with adjacent dots"],
        ["s3://192.168.1.1/model.tar.gz", "a bucket shaped like an IP address"],
    ])("refuses the artifact %j (%s): the role policy must name exactly one object", (artifact) => {
        const raw = sagemakerRawConfig();
        (raw.versions as { artifact: string }[])[0].artifact = artifact.replace("\\n", "\n");
        expect(problemsOf(raw)).toContainEqual({ path: "mlops:versions[0].artifact", message: expect.stringContaining("one S3 object") });
    });

    it("refuses a KMS key on an instance type with local NVMe storage, and accepts it on one without", () => {
        const kmsKeyArn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        expect(problemsOf(withSagemaker({ instanceType: "ml.g5.xlarge", kmsKeyArn }))).toEqual([
            { path: "mlops:sagemaker.kmsKeyArn", message: expect.stringContaining("ml.g5.xlarge has local NVMe storage") },
        ]);
        expect(parseStackConfig(withSagemaker({ instanceType: "ml.m5.xlarge", kmsKeyArn })).sagemaker?.kmsKeyArn).toBe(kmsKeyArn);
    });

    it("classifies every instance family the SageMaker SDK knows as with or without local NVMe storage", () => {
        // EBS-only families: a key is created for them (CKV_AWS_98). A new SDK family fails here until it is classified.
        const ebsOnly = ["c4", "c5", "c6g", "c6gn", "c6i", "c6in", "c7g", "c7i", "c8g", "inf1", "inf2", "m4", "m5", "m6g", "m6i", "m7i", "m8g"];
        const ebsOnlyMore = ["p2", "p3", "r5", "r6g", "r6i", "r7i", "r8g", "t2"];
        const families = [...new Set(Object.values(ProductionVariantInstanceType).map((type) => type.split(".")[1]))];
        const unclassified = families.filter((family) => !LOCAL_NVME_FAMILIES.has(family) && ![...ebsOnly, ...ebsOnlyMore].includes(family));
        expect(unclassified).toEqual([]);
        for (const family of [...ebsOnly, ...ebsOnlyMore]) expect(LOCAL_NVME_FAMILIES.has(family), family).toBe(false);
        // Every SDK instance type passes the schema, hyphenated families (ml.p6-b200.48xlarge) included.
        for (const instanceType of Object.values(ProductionVariantInstanceType)) {
            expect(parseStackConfig(withSagemaker({ instanceType })).sagemaker?.instanceType).toBe(instanceType);
        }
    });

    it("keeps the execution timeout within what the provider accepts, 600..14400", () => {
        expect(problemsOf(withSagemaker({ deployment: { maximumExecutionTimeoutSeconds: 14401 } }))).toEqual([
            { path: "mlops:sagemaker.deployment.maximumExecutionTimeoutSeconds", message: "600..14400 seconds" },
        ]);
    });

    it("refuses a rollback alarm listed twice", () => {
        expect(problemsOf(withSagemaker({ deployment: { rollbackAlarmNames: ["a", "a"] } }))).toEqual([
            { path: "mlops:sagemaker.deployment.rollbackAlarmNames", message: "an alarm is listed twice" },
        ]);
    });
});

describe("the database section", () => {
    it("fills a managed database's defaults: a week of backups, user mlops, single-AZ", () => {
        const config = parseStackConfig(
            sagemakerRawConfig({
                database: {
                    kind: "instance",
                    identifier: "fraud-features",
                    manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 20 },
                },
            }),
        );
        expect(config.database?.manage).toMatchObject({ backupRetentionDays: 7, username: "mlops", multiAz: false });
    });

    it("accepts the commented mlops:database example of the Kubernetes stack once uncommented", () => {
        const text = readFileSync("stacks/Pulumi.kubernetes-example.yaml", "utf8");
        const block = text.slice(text.indexOf("  # mlops:database:"));
        const uncommented = block.replace(/^ {2}# (mlops:database:| {2})/gm, "  $1");
        const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-example-")), "Pulumi.k8s.yaml");
        writeFileSync(file, text.replace(block, uncommented));
        const config = parseStackConfig(rawConfigFromStackFile(file));
        expect(config.database).toMatchObject({
            kind: "cluster",
            identifier: "fraud-features",
            manage: { engine: "aurora-postgresql", backupRetentionDays: 14 },
        });
    });

    it("reports every database problem at once, each by its key", () => {
        const problems = problemsOf(
            sagemakerRawConfig({
                database: { kind: "cluster", identifier: "1-bad", manage: { engine: "postgres", instanceClass: "db.t4g.medium", backupRetentionDays: 40 } },
            }),
        );
        expect(problems.map((p) => p.path).sort()).toEqual([
            "mlops:database.identifier",
            "mlops:database.manage.backupRetentionDays",
            "mlops:database.manage.engine",
        ]);
    });
});

describe("configPath", () => {
    it("renders array indexes and nested keys like the stack file", () => {
        expect(configPath(["versions", 2, "image"])).toBe("mlops:versions[2].image");
        expect(configPath(["sagemaker", "deployment", "stepPercent"])).toBe("mlops:sagemaker.deployment.stepPercent");
    });
});

describe("rawConfigFromPulumiConfig", () => {
    it("parses the engine's JSON strings for structured keys and keeps version ids as strings", () => {
        const raw = sagemakerRawConfig();
        const engineConfig: Record<string, string> = {
            "aws:region": "us-east-1",
            "mlops:target": "sagemaker",
            "mlops:model": "fraud-detector",
            "mlops:pinned": "3",
            "mlops:warm": "1",
            "mlops:versions": JSON.stringify(raw.versions),
            "mlops:sagemaker": JSON.stringify(raw.sagemaker),
        };
        const fromEngine = rawConfigFromPulumiConfig(engineConfig);
        expect(fromEngine).toEqual({ target: "sagemaker", model: "fraud-detector", pinned: "3", warm: 1, versions: raw.versions, sagemaker: raw.sagemaker });
        expect(parseStackConfig(fromEngine)).toEqual(parseStackConfig(raw));
    });
});

describe("rawConfigFromStackFile", () => {
    it("reads only the mlops: keys of the example stack", () => {
        const raw = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");
        expect(Object.keys(raw).sort()).toEqual(["alarms", "database", "model", "pinned", "quarantined", "sagemaker", "target", "trigger", "versions", "warm"]);
        expect(parseStackConfig(raw).versions).toHaveLength(3);
    });
});

/** A stack file with these lines under `config:` (the example's catalog around them), written to a fresh directory. */
function stackFileWith(lines: string): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-numbers-")), "Pulumi.dev.yaml");
    const versions = [1, 2, 3]
        .map((id) => `    - version: "${id}"\n      image: ${ECR_REPOSITORY}@sha256:${digestFor(id)}\n      artifact: s3://models/fraud/${id}/model.tar.gz\n`)
        .join("");
    writeFileSync(
        file,
        `config:\n  mlops:target: sagemaker\n  mlops:model: fraud-detector\n  mlops:versions:\n${versions}  mlops:sagemaker:\n    instanceType: ml.m5.large\n${lines}`,
    );
    return file;
}

describe("numbers spelled in a form YAML readers disagree on (the CLI's yaml package, the engine's Go yaml.v3)", () => {
    it.each([
        // The examples: the CLI read 3.0 as pin "3"; the engine, by its version, "3" or "3.0".
        [
            "  mlops:pinned: 3.0\n",
            "mlops:pinned",
            'unquoted 3.0 is the number 3, not the text "3.0"; quote it ("3.0") if the version id is "3.0", or write 3 for version 3',
        ],
        ["  mlops:pinned: 03\n", "mlops:pinned", 'quote it ("03") if the version id is "03", or write 3 for version 3'],
        ["  mlops:pinned: 0x3\n", "mlops:pinned", 'quote it ("0x3") if the version id is "0x3", or write 3 for version 3'],
        // A count is no version id: the fix is the plain number, never a quote.
        [
            '  mlops:pinned: "3"\n  mlops:warm: 0x1\n',
            "mlops:warm",
            "unquoted 0x1 is the number 1 written in a form YAML readers do not all read alike; write 1",
        ],
        // Ours: at depth, and the spellings where the two readers get different numbers or text.
        ['  mlops:pinned: "3"\n  mlops:quarantined: [2.10]\n', "mlops:quarantined[0]", 'unquoted 2.10 is the number 2.1, not the text "2.10"'],
        [
            '  mlops:pinned: "3"\n  mlops:alarms:\n    periodSeconds: 010\n',
            "mlops:alarms.periodSeconds",
            "is the number 8 to Pulumi's YAML reader and 10 to others",
        ],
        [
            '  mlops:pinned: "3"\n  mlops:alarms:\n    periodSeconds: 1_000\n',
            "mlops:alarms.periodSeconds",
            `is the number 1000 to Pulumi's YAML reader and the text "1_000" to others`,
        ],
        ['  mlops:pinned: "3"\n  mlops:rollback:\n    allowRedeploy: [9007199254740993]\n', "mlops:rollback.allowRedeploy[0]", "too large to read exactly"],
        ['  mlops:pinned: "3"\n  mlops:alarms:\n    latencyP99Ms: .inf\n', "mlops:alarms.latencyP99Ms", "not a finite number"],
    ])("refuses %j, naming %s, with the fix", (lines, key, message) => {
        const file = stackFileWith(lines);
        const problems = readRawStackConfig(file).problems;
        expect(problems).toEqual([{ path: key, message: expect.stringContaining(message) }]);
        expect(() => rawConfigFromStackFile(file)).toThrow(StackConfigError);
        expect(() => loadStackConfig(file)).toThrow(`  ${key}: `);
    });

    it.each(["0o3", "+3", "1e3", ".5", "1_000", "-0", ".inf", ".nan", "0X3", "0b11", "1E3", "0.50", "3.", "-.5"])(
        "refuses %s as a version id, and says to quote it",
        (spelled) => {
            const problems = readRawStackConfig(stackFileWith(`  mlops:pinned: ${spelled}\n`)).problems;
            expect(problems).toEqual([{ path: "mlops:pinned", message: expect.stringContaining(`quote it (${JSON.stringify(spelled)})`) }]);
        },
    );

    it.each(["2026-01-01", "2026-1-1", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10"])(
        "refuses %s, a date to the engine (which hands the program another text) and text to the CLI",
        (spelled) => {
            const problems = readRawStackConfig(stackFileWith(`  mlops:pinned: ${spelled}\n`)).problems;
            expect(problems).toEqual([{ path: "mlops:pinned", message: expect.stringContaining(`is a date to Pulumi's YAML reader`) }]);
            expect(problems[0].message).toContain(`quote it (${JSON.stringify(spelled)})`);
        },
    );

    it.each(["3", "-2", "0.5", "0", "1000", "2.1.0", "1:30", "500m", "v3", "20260101", "2026-01", '"3.0"', "'0x3'", '"2026-01-01"'])(
        "accepts %s: canonical, not a number or date, or quoted",
        (spelled) => {
            expect(readRawStackConfig(stackFileWith(`  mlops:pinned: ${spelled}\n`)).problems).toEqual([]);
        },
    );

    it("names the key once: a spelling problem replaces what the schema made of one reading of it", () => {
        // 2.10 read as the number 2.1 is pin "2.1", which the catalog does not have: that problem is a symptom.
        expect(() => loadStackConfig(stackFileWith("  mlops:pinned: 2.10\n"))).toThrow(/mlops:pinned: unquoted 2\.10[^\n]*$/);
        expect(
            withSourceProblems(
                [{ path: "mlops:pinned", message: "a" }],
                [
                    { path: "mlops:pinned", message: "b" },
                    { path: "mlops:model", message: "c" },
                ],
            ),
        ).toEqual([
            { path: "mlops:model", message: "c" },
            { path: "mlops:pinned", message: "a" },
        ]);
    });

    it("checks only mlops:* keys, and a value reached through an alias where it is used", () => {
        const file = stackFileWith('  aws:someNumber: 0x10\n  mlops:pinned: "3"\n');
        expect(readRawStackConfig(file).problems).toEqual([]);
        const aliased = path.join(path.dirname(file), "Pulumi.alias.yaml");
        writeFileSync(aliased, readFileSync(file, "utf8").replace("  aws:someNumber: 0x10\n", "  aws:someNumber: &n 0x10\n  mlops:warm: *n\n"));
        expect(readRawStackConfig(aliased).problems).toEqual([{ path: "mlops:warm", message: expect.stringContaining("; write 16") }]);
    });

    it("reads every spelling as Go's yaml.v3 does (resolve.go), which the real engine showed for these values", () => {
        // Observed with pulumi v3.248.0: allConfig() of a program for each unquoted value.
        const engineSaw: [string, number | undefined][] = [
            ["3.0", 3],
            ["03", 3],
            ["010", 8],
            ["0x3", 3],
            ["0X3", 3],
            ["0o3", 3],
            ["0b11", 3],
            ["0B11", 3],
            ["+3", 3],
            ["1e3", 1000],
            ["1e+3", 1000],
            [".5", 0.5],
            ["1_000", 1000],
            ["-0", -0],
            ["2.10", 2.1],
            ["1.", 1],
            ["1:30", undefined],
            ["2.1.0", undefined],
            ["v3", undefined],
        ];
        for (const [spelled, value] of engineSaw) expect(engineNumber(spelled), spelled).toBe(value);
        expect(engineNumber(".inf")).toBe(Infinity);
        expect(engineNumber(".nan")).toBeNaN();
    });
});

describe("timestamps and text as Go's yaml.v3 reads them", () => {
    // Each row checked with yaml.v3 v3.0.1 (a Go program printing the resolved tag of `k: <value>`).
    const GO_YAML_V3: [string, "timestamp" | "text"][] = [
        ["2026-01-01T00:00:00,5Z", "timestamp"],
        ["2026-01-01 1:2:3,5", "timestamp"],
        ["2026-01-01   00:00:00", "timestamp"],
        ["2026-1-01T1:02:3Z", "timestamp"],
        ["2026-01-01t01:02:03.5+01:00", "timestamp"],
        ["2026-01-01T1:2:3.1234567890123Z", "timestamp"],
        ["2026-01-01T23:00:00+24:00", "timestamp"],
        ["2026-01-01T23:00:00+23:60", "timestamp"],
        ["2024-02-29", "timestamp"],
        ["0000-01-01", "timestamp"],
        ["2026-1-1", "timestamp"],
        ["2026-01-01T00:00:00", "text"],
        ["2026-01-01 00:00:00Z", "text"],
        ["2026-01-01T01:02:03 +01:00", "text"],
        ["2026-02-29", "text"],
        ["2026-02-30", "text"],
        ["2026-13-01", "text"],
        ["2026-001-01", "text"],
        ["2026-01-01T24:00:00Z", "text"],
        ["2026-01-01T23:60:00Z", "text"],
        ["2026-01-01T23:00:60Z", "text"],
        ["2026-01-01T23:00:00+25:00", "text"],
        ["2026-01-01T23:00:00+23:61", "text"],
        ["2026-01-01T1:2:3.Z", "text"],
        ["2026-01-01T00:00:00+0100", "text"],
        ["2026-01-01T00:00:00z", "text"],
    ];

    it.each(GO_YAML_V3)("reads %s as yaml.v3 does (%s)", (source, reading) => {
        expect(isEngineTimestamp(source)).toBe(reading === "timestamp");
    });

    it("flags every plain scalar yaml.v3 reads as a timestamp, the comma fraction among them", () => {
        const file = stackFileWith("  mlops:pinned: 2026-01-01T00:00:00,5Z\n  mlops:quarantined:\n    - 2026-01-01 1:2:3,5\n    - 2026-02-30\n");
        expect(readRawStackConfig(file).problems).toEqual([
            { path: "mlops:pinned", message: expect.stringContaining("is a date to Pulumi's YAML reader") },
            { path: "mlops:quarantined[0]", message: expect.stringContaining("is a date to Pulumi's YAML reader") },
        ]);
    });

    it("does not flag what both readers read as text: !!str-tagged numbers, and _1 (yaml.v3 tries numbers only after a digit, sign or '.')", () => {
        const file = stackFileWith("  mlops:pinned: !!str 03\n  mlops:quarantined: [_1, !!str 0x3, !!str 2026-01-01, ._5]\n");
        expect(readRawStackConfig(file).problems).toEqual([]);
        for (const text of ["_1", "_0x3", "._5", ".5_0"]) expect(engineNumber(text), text).toBeUndefined();
        // Untagged, the same numbers are still flagged.
        expect(readRawStackConfig(stackFileWith('  mlops:pinned: "3"\n  mlops:quarantined: [03, +_1]\n')).problems.map((p) => p.path)).toEqual([
            "mlops:quarantined[0]",
            "mlops:quarantined[1]",
        ]);
    });
});

describe("what the engine's YAML reader (Go yaml.v3) reads otherwise is refused, naming the line", () => {
    // stackFileWith's own lines are 1-15: the lines given start at line 16.
    const refusal = (lines: string): string => {
        const file = stackFileWith(lines);
        try {
            readRawStackConfig(file);
        } catch (error) {
            expect(error).toBeInstanceOf(StackFileError);
            return (error as Error).message;
        }
        throw new Error("expected a refusal");
    };

    it.each([
        ['  mlops:pinned: "3"\n  <<: {"mlops:warm": 0}\n', 17],
        ['  mlops:pinned: "3"\n  mlops:kubernetes:\n    <<: {"replicas": 010}\n', 18],
        ['  mlops:pinned: "3"\n  aws:defaults: &d {"mlops:warm": 0}\n  mlops:rollback:\n    cooldownMinutes: 5\n    <<: *d\n', 20],
        ['  mlops:pinned: "3"\n  mlops:versions2: [{<<: {a: 1}}]\n', 17],
    ])("a merge key: %j", (lines, line) => {
        expect(refusal(lines)).toMatch(new RegExp(`line ${line} has a YAML merge key '<<'.*write the merged keys out in that map and remove the '<<' line`));
    });

    it('keeps a quoted "<<", a key to both readers', () => {
        expect(() => readRawStackConfig(stackFileWith('  mlops:pinned: "3"\n  aws:x: {"<<": 1}\n'))).not.toThrow();
    });

    it.each([
        ['  mlops:pinned: "3" # note\u2028  mlops:warm: 0\n', "U+2028"],
        ['  mlops:pinned: "3" # note\u2029  mlops:warm: 0\n', "U+2029"],
        ['  mlops:pinned: "3" # note\u0085  mlops:warm: 0\n', "U+0085"],
        ['  mlops:pinned: "3"\n  aws:note: "a\u2028b"\n', "U+2028"],
    ])("a line break only yaml.v3 sees, anywhere in the file: %j", (lines, code) => {
        const message = refusal(lines);
        expect(message).toContain(`line ${lines.startsWith('  mlops:pinned: "3"\n') ? 17 : 16} holds the character ${code}`);
        expect(message).toContain(`write it as "\\u${code.slice(2)}"`);
    });
});

describe("config problem messages never show a URL's path, query or user info", () => {
    it("names mlops:rollback written as a webhook URL (pulumi config set mlops:rollback <url>) without its token", () => {
        for (const url of ["https://hooks.slack.com/services/T000/B000/SECRETTOKEN", "https://h.io/T0/SECRETTOKEN", "https://alice:SECRETTOKEN@h.io"]) {
            const error = (() => {
                try {
                    loadStackConfig(stackFileWith(`  mlops:pinned: "3"\n  mlops:rollback: "${url}"\n`));
                } catch (caught) {
                    return caught as Error;
                }
                throw new Error("expected a refusal");
            })();
            expect(error.message).toContain("mlops:rollback: expected object, got ");
            expect(error.message).not.toContain("SECRETTOKEN");
            expect(error.message).not.toContain("alice");
        }
        expect(problemsOf(sagemakerRawConfig({ rollback: "https://h.io/T0/SECRET" }))).toEqual([
            { path: "mlops:rollback", message: 'expected object, got string "https://h.io/…"' },
        ]);
        expect(problemsOf(sagemakerRawConfig({ rollback: "x".repeat(41) }))).toEqual([
            { path: "mlops:rollback", message: "expected object, got a string of 41 characters" },
        ]);
    });

    it("cuts every URL in a message to its scheme and host", () => {
        expect(withoutUrlSecrets('got "https://u:pw@hooks.example.com:8443/a/b?t=1#f" and ftp://x.io/p s3://b/k')).toBe(
            'got "https://hooks.example.com:8443/…" and ftp://x.io/… s3://b/…',
        );
        expect(withoutUrlSecrets("file:///etc/secret and https://[bad/x")).toBe("file://… and https://…");
    });

    it("cuts a URL to the next space, whatever quote is inside it, and one right after a digit or underscore", () => {
        expect(withoutUrlSecrets("https://h.io/?t=ab'SECRET and more")).toBe("https://h.io/… and more");
        expect(withoutUrlSecrets('x "https://h.io/a"b`SECRET"')).toBe('x "https://h.io/…"');
        expect(withoutUrlSecrets("9https://a.io/?t=SECRET _https://b.io/x")).toBe("9https://a.io/… _https://b.io/…");
        expect(withoutUrlSecrets("(see https://h.io/path).")).toBe("(see https://h.io/…).");
    });

    it("is linear in its text: a megabyte of 'a.' or of ')' after a scheme is cut at once", () => {
        // The old pattern rescanned from every word boundary (quadratic): this took minutes.
        expect(withoutUrlSecrets("a.".repeat(500_000))).toBe("a.".repeat(500_000));
        expect(withoutUrlSecrets(`https://h.io/${")a".repeat(500_000)}`)).toBe("https://h.io/…");
    });

    it("keeps a plain link to the AWS documentation the messages cite, and cuts one that carries anything more", () => {
        const page = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html";
        expect(withoutUrlSecrets(`(AWS, ${page})`)).toBe(`(AWS, ${page})`);
        expect(withoutUrlSecrets(`${page}?token=1`)).toBe("https://docs.aws.amazon.com/…");
        expect(withoutUrlSecrets("https://u:pw@docs.aws.amazon.com/x")).toBe("https://docs.aws.amazon.com/…");
        expect(withoutUrlSecrets("http://docs.aws.amazon.com/x")).toBe("http://docs.aws.amazon.com/…");
        expect(withoutUrlSecrets("https://docs.aws.amazon.com.evil.example/x")).toBe("https://docs.aws.amazon.com.evil.example/…");
    });
});

describe("version ids read alike by the CLI and the program", () => {
    it("an unquoted canonical pin (mlops:pinned: 3) is the string '3' to both", () => {
        const file = stackFileWith("  mlops:pinned: 3\n  mlops:quarantined: [1]\n");
        const fromFile = parseStackConfig(rawConfigFromStackFile(file));
        // The engine hands top-level scalars over as text, nested values as JSON of what Go's yaml read.
        const raw = rawConfigFromStackFile(file);
        const engineConfig = Object.fromEntries(
            Object.entries(raw).map(([key, value]) => [`mlops:${key}`, key === "pinned" ? "3" : typeof value === "string" ? value : JSON.stringify(value)]),
        );
        engineConfig["mlops:quarantined"] = "[1]";
        const fromEngine = parseStackConfig(rawConfigFromPulumiConfig(engineConfig));
        expect(fromFile.pinned).toBe("3");
        expect(fromEngine.pinned).toBe("3");
        expect(fromFile.quarantined).toEqual(["1"]);
        expect(fromEngine.quarantined).toEqual(["1"]);
    });
});

describe("mlops:rollback.notify as a Pulumi secret", () => {
    const SECRET = { secure: "v1:vxqgigij7GXvhW3v:WIwI0+nLx3JHt0Va211qNWDr+E8GI83SO6dAbUvfjU2it7IKQhQhzx7WQymoBQ" };

    it("accepts the secure: value pulumi config set --secret --path writes, and keeps it as ciphertext", () => {
        expect(parseStackConfig(sagemakerRawConfig({ rollback: { notify: SECRET } })).rollback.notify).toEqual(SECRET);
        const file = stackFileWith(`  mlops:pinned: "3"\n  mlops:rollback:\n    notify:\n      secure: ${SECRET.secure}\n`);
        expect(loadStackConfig(file).config.rollback.notify).toEqual(SECRET);
    });

    it("accepts what the engine hands the program for it: the decrypted URL, as JSON of mlops:rollback", () => {
        const raw = rawConfigFromPulumiConfig({
            ...engineStrings(sagemakerRawConfig()),
            "mlops:rollback": '{"notify":"https://hooks.slack.com/services/T0/B0/XYZ"}',
        });
        expect(parseStackConfig(raw).rollback.notify).toBe("https://hooks.slack.com/services/T0/B0/XYZ");
    });

    it.each([
        [{ secure: 3 }, "got a map"],
        [{ secure: "v1:x", other: 1 }, "got a map"],
        ["http://hooks.example.com/T0/token", "an https:// webhook URL"],
        [7, "got number 7"],
    ])("refuses %j without quoting it", (notify, message) => {
        const problems = problemsOf(sagemakerRawConfig({ rollback: { notify } }));
        expect(problems).toEqual([{ path: "mlops:rollback.notify", message: expect.stringContaining(message) }]);
        if (typeof notify === "string") expect(JSON.stringify(problems)).not.toContain("token");
    });

    it("refuses a URL with user:password@ and never echoes it, nor zod's own rendering of the value", () => {
        for (const notify of ["https://alice:hunter2@hooks.example.com/T0/B0/XYZ", "https://alice@hooks.example.com/x"]) {
            const error = (() => {
                try {
                    parseStackConfig(sagemakerRawConfig({ rollback: { notify }, warm: "bad" }));
                } catch (caught) {
                    return caught as StackConfigError;
                }
                throw new Error("expected a refusal");
            })();
            expect(error.problems).toContainEqual({ path: "mlops:rollback.notify", message: expect.stringContaining("user:password@ cannot be sent") });
            for (const text of [error.message, JSON.stringify(error.problems), String(error.stack)]) {
                expect(text).not.toContain("alice");
                expect(text).not.toContain("hunter2");
                expect(text).not.toContain("XYZ");
            }
        }
    });

    it("says how to set a nested key when pulumi config set wrote a key with a dot (no --path)", () => {
        expect(problemsOf(sagemakerRawConfig({ "rollback.notify": SECRET }))).toEqual([
            {
                path: "mlops:rollback.notify",
                message: expect.stringContaining("or run pulumi config set --secret --path 'mlops:rollback.notify' <value>, and delete mlops:rollback.notify"),
            },
        ]);
    });
});

/** A raw config as the engine passes it: every value a string, structured ones as JSON. */
function engineStrings(raw: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(raw).map(([key, value]) => [`mlops:${key}`, typeof value === "string" ? value : JSON.stringify(value)]));
}
