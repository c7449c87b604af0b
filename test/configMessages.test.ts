/**
 * What `mlops validate` prints about a stack file, through the built bin
 * (`npm run build` first), and the config problems behind it, from the parse
 * functions: no config problem shows a webhook's token; YAML the engine's
 * reader (Go yaml.v3) reads otherwise is refused, exit 2; YAML that is not
 * YAML is shown with its code frame; and the key-notation mistakes of
 * issue 24 (a dotted key, a key outside the `mlops:` namespace, a count
 * spelled as a decimal) each get one problem that says what to write.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { StackConfigError, type ConfigProblem } from "../config/schema";
import { loadStackConfig, rawConfigFromStackFile, readRawStackConfig, stackConfigFromPulumiConfig, StackFileError } from "../config/sources";
import { problemsOf, sagemakerRawConfig } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const MLOPS = path.join(ROOT, "bin", "mlops.js");
const EXAMPLE = readFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8");

interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Run the real `mlops` bin, as a user would (copied from test/cli.test.ts). */
function mlops(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
        execFile(process.execPath, [MLOPS, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            resolve({ code, stdout, stderr });
        });
    });
}

/**
 * The problems of `mlops validate --json`, each as `{ path, message }`:
 * `{ valid, problems: [{ path }] }`, or the one error shape of issue 24
 * (`{ ok: false, error: { problems: [{ key }] } }`), which cli/main.ts is moving to.
 */
function jsonProblems(stdout: string): ConfigProblem[] {
    const document = JSON.parse(stdout) as { problems?: ConfigProblem[]; error?: { problems?: { key: string; message: string }[] } };
    return document.problems ?? (document.error?.problems ?? []).map(({ key, message }) => ({ path: key, message }));
}

/** The sagemaker example stack file with `lines` added at the end of its `config:` map. */
function exampleWith(lines: string, edit: (text: string) => string = (text) => text): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-messages-")), "Pulumi.dev.yaml");
    writeFileSync(file, edit(EXAMPLE) + lines);
    return file;
}

describe("mlops validate never prints a webhook URL's token", () => {
    it.each([
        // What `pulumi config set mlops:rollback <url>` writes: the URL where a map belongs.
        ['  mlops:rollback: "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"\n', "a string of 54 characters (a URL, not shown)"],
        ['  mlops:rollback: "https://h.io/SECRETTOKEN"\n', 'string "https://h.io/…"'],
        ['  mlops:rollback:\n    allowRedeploy: "https://u:SECRETTOKEN@h.io/x"\n', 'expected array, got string "https://h.io/…"'],
    ])("%j", async (lines, shown) => {
        const file = exampleWith(lines);
        const text = await mlops("validate", "--config-file", file);
        const json = await mlops("validate", "--config-file", file, "--json");
        expect(text.code).toBe(2);
        expect(json.code).toBe(2);
        expect(text.stdout + text.stderr).toContain(shown);
        expect(jsonProblems(json.stdout)).toContainEqual({
            path: expect.stringMatching(/^mlops:rollback/),
            message: expect.stringContaining(shown),
        });
        for (const run of [text, json]) expect(run.stdout + run.stderr).not.toContain("SECRETTOKEN");
    });
});

describe("mlops validate refuses what Go's yaml.v3 reads otherwise, exit 2, naming the line", () => {
    const lines = EXAMPLE.split("\n").length;
    it.each([
        ['  <<: {"mlops:warm": 0}\n', `line ${lines} has a YAML merge key '<<'`],
        ['  mlops:extra:\n    <<: {"replicas": 010}\n', `line ${lines + 1} has a YAML merge key '<<'`],
    ])("%j", async (added, message) => {
        const file = exampleWith(added);
        for (const run of [await mlops("validate", "--config-file", file), await mlops("validate", "--config-file", file, "--json")]) {
            expect(run.code).toBe(2);
            expect(run.stdout + run.stderr).toContain(message);
        }
    });

    it("a U+2028 in a comment, which yaml.v3 ends the comment at", async () => {
        const file = exampleWith("", (text) => text.replace("  mlops:warm: 1\n", "  mlops:warm: 1 # note\u2028  mlops:warm: 0\n"));
        const line = EXAMPLE.split("\n").findIndex((text) => text === "  mlops:warm: 1") + 1;
        const run = await mlops("validate", "--config-file", file);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`line ${line} holds the character U+2028`);
    });

    it("a timestamp with a comma fraction, a date to yaml.v3", async () => {
        const file = exampleWith("", (text) => text.replace("  mlops:quarantined: []\n", "  mlops:quarantined:\n    - 2026-01-01T00:00:00,5Z\n"));
        const run = await mlops("validate", "--config-file", file, "--json");
        expect(run.code).toBe(2);
        expect(jsonProblems(run.stdout)).toContainEqual({
            path: "mlops:quarantined[0]",
            message: expect.stringContaining("is a date to Pulumi's YAML reader"),
        });
    });
});

const INVALID_DIR = path.join(ROOT, "test", "configs", "invalid");

/** The example config without `key` (a section the dotted key then stands for). */
function without(key: string, raw: Record<string, unknown> = sagemakerRawConfig()): Record<string, unknown> {
    return Object.fromEntries(Object.entries(raw).filter(([name]) => name !== key));
}

describe("a key written in `pulumi config set --path` notation (mlops:sagemaker.instanceType) in a stack file", () => {
    it.each([
        // The issue's example, as the docs write it; no mlops:sagemaker at all, which the sagemaker target requires.
        [
            "the example, no section",
            "sagemaker.instanceType",
            without("sagemaker"),
            "ml.m5.large",
            ["  mlops:sagemaker:", "    instanceType: ml.m5.large"],
            "or run pulumi config set --path 'mlops:sagemaker.instanceType' ml.m5.large (add --secret for a secret), and delete mlops:sagemaker.instanceType",
        ],
        // Deeper paths, and a list, which --path sets one item at a time.
        [
            "deeper, no section",
            "trigger.source.type",
            sagemakerRawConfig(),
            "GITHUB",
            ["  mlops:trigger:", "    source:", "      type: GITHUB"],
            "or run pulumi config set --path 'mlops:trigger.source.type' GITHUB (add --secret for a secret), and delete mlops:trigger.source.type",
        ],
        [
            "a list",
            "alarms.custom",
            sagemakerRawConfig(),
            [{ name: "queue-depth" }],
            ["  mlops:alarms:", "    custom: # the list you wrote, one level deeper"],
            "or run pulumi config set --path 'mlops:alarms.custom[0]…' <value> for each item, and delete mlops:alarms.custom",
        ],
        [
            "deeper, beside the section",
            "sagemaker.deployment.strategy",
            sagemakerRawConfig(),
            "linear",
            ["  mlops:sagemaker:", "    deployment:", "      strategy: linear"],
            "or run pulumi config set --path 'mlops:sagemaker.deployment.strategy' linear (add --secret for a secret), and delete mlops:sagemaker.deployment.strategy",
        ],
    ])("%s: mlops:%s gives one problem: nest it (the YAML to write), or pulumi config set --path", (_case, key, base, value, yaml, command) => {
        const problems = problemsOf({ ...base, [key]: value });
        expect(problems).toEqual([{ path: `mlops:${key}`, message: expect.any(String) }]);
        const [first, ...rest] = problems[0].message.split("\n");
        expect(first).toMatch(
            /^a key with a '\.' in its name is one key, which mlops does not read; for \S+ in mlops:\w+, (nest it|move it into the mlops:\w+ map you have):$/,
        );
        expect(rest).toEqual([...yaml, command]);
    });

    it("says 'nest it' when the section is missing, and does not call the section required: the dotted key is why", () => {
        const problems = problemsOf({ ...without("sagemaker"), "sagemaker.instanceType": "ml.m5.large" });
        expect(problems.map((problem) => problem.path)).toEqual(["mlops:sagemaker.instanceType"]);
        expect(problems[0].message).toContain("for instanceType in mlops:sagemaker, nest it:");
        // A variant on the kubernetes target, whose section is required too.
        const kubernetes = problemsOf({ ...without("sagemaker"), target: "kubernetes", "kubernetes.replicas": 3 });
        expect(kubernetes.map((problem) => problem.path)).toEqual(["mlops:kubernetes.replicas"]);
        expect(kubernetes[0].message.split("\n").slice(1, 3)).toEqual(["  mlops:kubernetes:", "    replicas: 3"]);
    });

    it("beside a real section that lacks the key: one problem that says to move it into that map, not 'required' and 'unknown key' at one path", () => {
        const problems = problemsOf({ ...sagemakerRawConfig({ sagemaker: { instanceCount: 2 } }), "sagemaker.instanceType": "ml.m5.large" });
        expect(problems).toEqual([
            {
                path: "mlops:sagemaker.instanceType",
                message: expect.stringContaining("for instanceType in mlops:sagemaker, move it into the mlops:sagemaker map you have:"),
            },
        ]);
        // Variant: deeper, where the deployment strategy's own rule (a step for canary) also names that path.
        const deeper = problemsOf({
            ...sagemakerRawConfig({ sagemaker: { instanceType: "ml.m5.large", deployment: {} } }),
            "sagemaker.deployment.stepPercent": 10,
        });
        expect(deeper.map((problem) => problem.path)).toEqual(["mlops:sagemaker.deployment.stepPercent"]);
        expect(deeper[0].message).toContain("move it into the mlops:sagemaker map you have:");
    });

    it("a misspelt section (mlops:sagemakr.instanceType): did you mean, with the YAML for the right one", () => {
        const problems = problemsOf({ ...without("sagemaker"), "sagemakr.instanceType": "ml.m5.large" });
        expect(problems).toEqual([{ path: "mlops:sagemakr.instanceType", message: expect.any(String) }]);
        expect(problems[0].message.split("\n")).toEqual([
            "unknown key; did you mean mlops:sagemaker.instanceType? A key with a '.' in its name is one key, which mlops does not read; for instanceType in mlops:sagemaker, nest it:",
            "  mlops:sagemaker:",
            "    instanceType: ml.m5.large",
            "or run pulumi config set --path 'mlops:sagemaker.instanceType' ml.m5.large (add --secret for a secret), and delete mlops:sagemakr.instanceType",
        ]);
        // Variant: the field misspelt, the section right and present.
        expect(problemsOf({ ...sagemakerRawConfig(), "sagemaker.instanceCont": 2 })[0].message).toMatch(
            /^unknown key; did you mean mlops:sagemaker\.instanceCount\? /,
        );
    });

    it("an unknown key near one allowed key ends with did you mean (mlops:pined), and names none when two are as near", () => {
        expect(problemsOf({ ...sagemakerRawConfig(), pined: "3" })).toEqual([
            { path: "mlops:pined", message: expect.stringMatching(/^unknown key; allowed: target, model, .*, database; did you mean pinned\?$/) },
        ]);
        expect(problemsOf({ ...sagemakerRawConfig(), pinnedVersion: "3" })[0].message).not.toContain("did you mean");
    });

    it("a dotted key that names nothing below its section says so, with what is allowed", () => {
        expect(problemsOf({ ...sagemakerRawConfig(), "sagemaker.zzzz": 1 })).toEqual([
            {
                path: "mlops:sagemaker.zzzz",
                message: expect.stringMatching(/^unknown key: .* and mlops:sagemaker has no key zzzz \(allowed: instanceType, instanceCount, /),
            },
        ]);
        expect(problemsOf({ ...sagemakerRawConfig(), "pinned.x": 1 })).toEqual([
            { path: "mlops:pinned.x", message: expect.stringContaining("and mlops:pinned is one value, with no keys in it") },
        ]);
    });

    it("shows no value that may be a secret: a URL is a placeholder, and a Pulumi secret gets --secret", () => {
        const plain = problemsOf({ ...sagemakerRawConfig(), "rollback.notify": "https://hooks.slack.com/services/T0/B0/SECRETTOKEN" })[0].message;
        expect(plain).toContain("    notify: <value>\n");
        expect(plain).not.toContain("SECRETTOKEN");
        const secret = problemsOf({ ...sagemakerRawConfig(), "rollback.notify": { secure: "v1:abc" } })[0].message;
        expect(secret).toContain("or run pulumi config set --secret --path 'mlops:rollback.notify' <value>, and delete mlops:rollback.notify");
        expect(secret).not.toContain("v1:abc");
    });

    it("mlops validate prints the YAML to write on lines of their own, indented under the problem; --json keeps the message whole", async () => {
        const file = path.join(INVALID_DIR, "dotted-key-without-section.yaml");
        const text = await mlops("validate", "--config-file", file);
        expect(text.code).toBe(2);
        expect(text.stderr.split("\n").slice(1)).toEqual([
            "  mlops:sagemaker.instanceType: a key with a '.' in its name is one key, which mlops does not read; for instanceType in mlops:sagemaker, nest it:",
            "      mlops:sagemaker:",
            "        instanceType: ml.m5.large",
            "    or run pulumi config set --path 'mlops:sagemaker.instanceType' ml.m5.large (add --secret for a secret), and delete mlops:sagemaker.instanceType",
            "",
        ]);
        const json = await mlops("validate", "--config-file", path.join(INVALID_DIR, "dotted-key-beside-section.yaml"), "--json");
        expect(json.code).toBe(2);
        expect(jsonProblems(json.stdout)).toEqual([
            {
                path: "mlops:sagemaker.instanceType",
                message: expect.stringContaining("move it into the mlops:sagemaker map you have:\n  mlops:sagemaker:\n    instanceType: ml.m5.large\nor run"),
            },
        ]);
    });
});

/** What the engine hands the program: every namespace, each value a string (structured ones as JSON). */
function engineConfig(raw: Record<string, unknown>, namespaceOf: (key: string) => string): Record<string, string> {
    return Object.fromEntries(
        Object.entries(raw).map(([key, value]) => [`${namespaceOf(key)}:${key}`, typeof value === "string" ? value : JSON.stringify(value)]),
    );
}

/** A Pulumi project named `project` with one stack file holding `config`. */
function projectWithStackFile(project: string, config: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), "mlops-project-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${project}\nruntime: nodejs\nstackConfigDir: stacks\n`);
    mkdirSync(path.join(dir, "stacks"));
    const file = path.join(dir, "stacks", "Pulumi.dev.yaml");
    writeFileSync(file, config);
    return file;
}

describe("keys of mlops written outside the mlops: namespace (acme:pinned, or pinned with none)", () => {
    const misplaced = new Set(["target", "model", "pinned", "versions"]);

    it("the program (every key the engine hands it): one problem per key, naming it, and no 'required' for what it leaves unset", () => {
        const all = { ...engineConfig(sagemakerRawConfig(), (key) => (misplaced.has(key) ? "acme" : "mlops")), "aws:region": "us-east-1" };
        const problems = (() => {
            try {
                stackConfigFromPulumiConfig(all, "acme");
            } catch (error) {
                if (error instanceof StackConfigError) return error.problems;
                throw error;
            }
            throw new Error("expected the config to be invalid");
        })();
        expect(problems.map((problem) => problem.path)).toEqual(["acme:model", "acme:pinned", "acme:target", "acme:versions"]);
        expect(problems[1].message).toBe(
            "a key in your project's namespace (acme); mlops reads mlops:pinned (its config keys are mlops:* whatever the project is called; pulumi config set pinned <value>, without the mlops: prefix, writes <project>:pinned): rename it to mlops:pinned",
        );
    });

    it("names a misplaced key only where it explains a problem: a valid config with acme:warm, acme:database or postgresql:database (the user's own or another provider's keys) stays valid", () => {
        const all = engineConfig(sagemakerRawConfig(), () => "mlops");
        delete all["mlops:warm"];
        const own: Record<string, string> = {
            ...all,
            "acme:warm": "2",
            "acme:database": "features",
            "postgresql:database": "features",
            "aws:region": "us-east-1",
            "acme:bucket": "b",
            "kubernetes:namespace": "ml",
        };
        expect(stackConfigFromPulumiConfig(own, "acme").model).toBe("fraud-detector");
        delete own["mlops:model"];
        expect(() => stackConfigFromPulumiConfig({ ...own, "acme:model": "fraud-detector" }, "acme")).toThrow(
            /acme:model: a key in your project's namespace \(acme\); mlops reads mlops:model/,
        );
    });

    it("mlops validate: acme:warm (mlops:warm unset) and postgresql:database beside a valid config are not flagged (exit 0)", async () => {
        const example = EXAMPLE.replace("  mlops:warm: 1\n", "  acme:warm: 2\n  postgresql:database: features\n");
        expect(example).toContain("acme:warm");
        const file = projectWithStackFile("acme", example);
        const text = await mlops("validate", "--config-file", file);
        expect(text.stderr).toBe("");
        expect(text.code).toBe(0);
    });

    it("mlops validate on a project's stack file: the misplaced keys first, in the project's namespace or in none, exit 2", async () => {
        const example = EXAMPLE.replace("  mlops:pinned:", "  acme:pinned:").replace("  mlops:model:", "  model:");
        const file = projectWithStackFile("acme", example);
        const text = await mlops("validate", "--config-file", file);
        expect(text.code).toBe(2);
        const lines = text.stderr.split("\n");
        expect(lines[0]).toBe(`${file}: invalid, 2 problems:`);
        expect(lines[1]).toMatch(/^ {2}acme:pinned: a key in your project's namespace \(acme\); mlops reads mlops:pinned /);
        expect(lines[2]).toMatch(/^ {2}model: a key with no namespace; mlops reads mlops:model /);
        expect(text.stderr).not.toContain("required");
        const json = await mlops("validate", "--config-file", file, "--json");
        expect(jsonProblems(json.stdout).map((problem) => problem.path)).toEqual(["acme:pinned", "model"]);
    });

    it("puts the cause before the other problems (the misplaced key first, whatever its name sorts as)", () => {
        const file = projectWithStackFile("zeta", EXAMPLE.replace("  mlops:pinned:", "  zeta:pinned:").replace("  mlops:warm: 1", "  mlops:warm: 9"));
        expect(readRawStackConfig(file).problems.map((problem) => problem.path)).toEqual(["zeta:pinned"]);
        expect(() => loadStackConfig(file)).toThrow(/:\n {2}zeta:pinned: a key in your project's namespace \(zeta\)[^\n]*\n {2}mlops:warm: warm is 0\.\.5$/);
    });
});

/** Run the program entry point (index.ts) under Pulumi's mocks with `config` as the engine hands it (PULUMI_CONFIG); its result or error as JSON. */
function runProgram(config: Record<string, string>): Promise<{ error?: string; message?: string; names: string[] }> {
    const fixture = path.join(ROOT, "test", "fixtures", "runIndexUnderMocks.ts");
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            ["--require", require.resolve("tsx/cjs"), fixture],
            { cwd: ROOT, env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config) }, timeout: 60_000 },
            (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as { names: string[] })),
        );
    });
}

describe("the program (pulumi up) reports the same key-notation mistakes, declaring nothing", () => {
    it("keys under the project's namespace: named first, no 'required' for them", async () => {
        const config = { ...engineConfig(sagemakerRawConfig(), (key) => (key === "pinned" || key === "model" ? "acme" : "mlops")), "aws:region": "us-east-1" };
        const result = await runProgram(config);
        expect(result.error).toBe("RunError");
        expect(result.message).toMatch(
            /^stack config is invalid \(2 problems\):\n {2}acme:model: a key in the namespace 'acme'; mlops reads mlops:model [^\n]*\n {2}acme:pinned: /,
        );
        expect(result.message).not.toContain("required");
        expect(result.names).toEqual([]);
    });

    it("a dotted key: the YAML to write, indented under the problem", async () => {
        const raw = without("sagemaker");
        const result = await runProgram({ ...engineConfig(raw, () => "mlops"), "mlops:sagemaker.instanceType": "ml.m5.large" });
        expect(result.error).toBe("RunError");
        expect(result.message).toContain(
            "  mlops:sagemaker.instanceType: a key with a '.' in its name is one key, which mlops does not read; for instanceType in mlops:sagemaker, nest it:\n      mlops:sagemaker:\n        instanceType: ml.m5.large\n    or run pulumi config set --path",
        );
        expect(result.names).toEqual([]);
    });
});

describe("a stack file that is not YAML: the parser's whole message, with its code frame", () => {
    it.each([
        [
            "yaml-bad-indentation.yaml",
            "Nested mappings are not allowed in compact mappings at line 4, column 17:",
            "  mlops:target: sagemaker",
            "                ^",
        ],
        ["yaml-unclosed-quote.yaml", 'Missing closing "quote at line 5, column 31:', '  mlops:model: "fraud-detector', "                              ^"],
    ])("%s: the line and the caret under the error, exit 2", async (name, reason, line, caret) => {
        const file = path.join(INVALID_DIR, name);
        const frame = `${file} is not valid YAML: ${reason}\n\n${line}\n${caret}`;
        expect(() => rawConfigFromStackFile(file)).toThrow(StackFileError);
        expect(() => rawConfigFromStackFile(file)).toThrow(frame);
        const text = await mlops("validate", "--config-file", file);
        expect(text.code).toBe(2);
        expect(text.stderr).toBe(`mlops: ${frame}\n`);
        const json = await mlops("validate", "--config-file", file, "--json");
        expect(json.code).toBe(2);
        expect(json.stdout).toContain(JSON.stringify(frame));
    });

    it("escapes what the frame quotes from the file, so that it cannot drive the terminal", async () => {
        const file = exampleWith("", (text) => text.replace("  mlops:model: fraud-detector\n", '  mlops:model: "fraud\u001b[2J-detector\n'));
        const run = await mlops("validate", "--config-file", file);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain('Missing closing "quote');
        expect(run.stderr).toContain('  mlops:model: "fraud\\x1b[2J-detector\n');
        expect(run.stderr).not.toContain("\u001b");
    });

    it("cuts a webhook URL the frame quotes to scheme and host, as every problem message does (its path is the token)", async () => {
        const token = "T000/B000/XXXXSECRETTOKEN";
        const file = exampleWith(`  mlops:rollback:\n    notify: https://hooks.slack.com/services/${token}\n   bad: indentation\n`);
        for (const args of [[], ["--json"]]) {
            const run = await mlops("validate", "--config-file", file, ...args);
            expect(run.code).toBe(2);
            expect(run.stderr + run.stdout).toContain("not valid YAML");
            expect(run.stderr + run.stdout).toContain("https://hooks.slack.com/");
            expect(run.stderr + run.stdout).not.toContain("SECRETTOKEN");
        }
    });
});

describe("a number spelled ambiguously: the fix worded by what its key takes", () => {
    it.each([
        // A count: write the number, never "quote it if it is a version id".
        ["  mlops:warm: 1.0\n", "mlops:warm", "unquoted 1.0 is the number 1 written in a form YAML readers do not all read alike; write 1"],
        [
            "  mlops:sagemaker:\n    instanceType: ml.m5.large\n    instanceCount: 2.0\n",
            "mlops:sagemaker.instanceCount",
            "unquoted 2.0 is the number 2 written in a form YAML readers do not all read alike; write 2",
        ],
        [
            "  mlops:alarms:\n    periodSeconds: 010\n",
            "mlops:alarms.periodSeconds",
            "is the number 8 to Pulumi's YAML reader and 10 to others; write the number you mean in plain decimal",
        ],
        // A version id: quote it, or the number it reads as.
        [
            "  mlops:pinned: 3.0\n",
            "mlops:pinned",
            'unquoted 3.0 is the number 3, not the text "3.0"; quote it ("3.0") if the version id is "3.0", or write 3 for version 3',
        ],
        ["  mlops:quarantined: [2.10]\n", "mlops:quarantined[0]", 'quote it ("2.10") if the version id is "2.10", or write 2.1 for version 2.1'],
        // Other text: quote it.
        [
            "  mlops:sagemaker:\n    instanceType: ml.m5.large\n    variantName: 0x1f\n",
            "mlops:sagemaker.variantName",
            'unquoted 0x1f is the number 31, not the text "0x1f"; quote it ("0x1f")',
        ],
    ])("%j: %s", (lines, key, message) => {
        // The example's catalog, then the lines under test, then what they leave out of the pin and the section.
        const catalog = EXAMPLE.slice(0, EXAMPLE.indexOf("  mlops:sagemaker:\n"))
            .replace('  mlops:pinned: "3"\n', "")
            .replace("  mlops:warm: 1\n", "")
            .replace("  mlops:quarantined: []\n", "");
        const pinned = lines.includes("mlops:pinned") ? "" : '  mlops:pinned: "3"\n';
        const section = lines.includes("mlops:sagemaker") ? "" : "  mlops:sagemaker:\n    instanceType: ml.m5.large\n";
        const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-messages-")), "Pulumi.dev.yaml");
        writeFileSync(file, catalog + pinned + section + lines);
        expect(readRawStackConfig(file).problems).toEqual([{ path: key, message: expect.stringContaining(message) }]);
        if (!message.includes("quote it")) expect(readRawStackConfig(file).problems[0].message).not.toContain("quote it");
    });
});
