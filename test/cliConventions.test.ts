/**
 * The conventions every `mlops` command keeps (docs/cli.md): `--version`,
 * help on stdout and usage errors on stderr (exit 2), one `--json` shape for
 * success and failure, a missing Pulumi CLI named with what the command needs
 * it for, and no third-party warnings in the output. What mlops prints is
 * checked in this process (`main` with a captured Io); what only a process
 * shows (which stream, the exit status, the bin's environment) on the built
 * bin (`npm run build` first).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { packageVersion, pulumiNeededFor } from "../cli/main";
import { deployedStack, pulumiStandIn, type StandInBehaviour } from "./fixtures/pulumiStandIn";
import { mlopsBin, mlopsInProcess, ROOT } from "./fixtures/mlopsRun";

const EXAMPLE = "stacks/Pulumi.sagemaker-example.yaml";
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
/** Node alone on PATH: no pulumi. */
const NO_PULUMI = { PATH: path.dirname(process.execPath) };
const INSTALL_FIX = "install it (https://www.pulumi.com/docs/install/) or add the directory that holds it to PATH, then run again";

/** A project with the SageMaker example as stack prod (pinned 3 of 1, 2, 3), `edit` applied to the stack file. */
function project(edit: (text: string) => string = (text) => text): { dir: string; stackFile: string } {
    const dir = mkdtempSync(path.join(tmpdir(), "mlops-conventions-"));
    mkdirSync(path.join(dir, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const stackFile = path.join(dir, "stacks", "Pulumi.prod.yaml");
    writeFileSync(stackFile, edit(readFileSync(path.join(ROOT, EXAMPLE), "utf8")));
    return { dir, stackFile };
}

/** `project()` whose `pulumi` is the logging stand-in (the layer below the CLI: test/fixtures/pulumiStandIn.ts). */
function standInProject(behaviour: StandInBehaviour, edit?: (text: string) => string) {
    const { dir } = project(edit);
    const pulumi = pulumiStandIn(behaviour);
    const env = { PATH: `${pulumi.bin}:${path.dirname(process.execPath)}` };
    return { run: (...args: string[]) => mlopsInProcess(dir, env, ...args), dir, env };
}

const mlops = (...args: string[]) => mlopsInProcess(ROOT, {}, ...args);
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe("mlops --version", () => {
    it.each(["--version", "-V"])("the built bin: mlops %s prints the package's version on stdout, exit 0", async (flag) => {
        expect(await mlopsBin(ROOT, {}, flag)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    });

    it("reads the version from the package's own package.json, found up from the compiled file (as installed under node_modules)", () => {
        const installed = mkdtempSync(path.join(tmpdir(), "mlops-installed-"));
        const packageDir = path.join(installed, "node_modules", "mlops-rollback");
        mkdirSync(path.join(packageDir, "dist", "cli"), { recursive: true });
        writeFileSync(path.join(installed, "package.json"), JSON.stringify({ name: "my-infra", version: "9.9.9" }));
        writeFileSync(path.join(packageDir, "package.json"), JSON.stringify({ name: "mlops-rollback", version: "1.4.2" }));
        // A package.json of another package nearer the file (e.g. a "type" marker in dist/) is passed over.
        writeFileSync(path.join(packageDir, "dist", "package.json"), JSON.stringify({ type: "commonjs" }));
        expect(packageVersion(path.join(packageDir, "dist", "cli"))).toBe("1.4.2");
        expect(packageVersion(path.join(installed, "elsewhere"))).toMatch(/^unknown/);
    });

    it("after a command's name, --version is the model version: rollback --version 3 and deploy --version 4 are refused as versions", async () => {
        const { dir, stackFile } = project();
        const before = readFileSync(stackFile);
        const rollback = await mlopsInProcess(dir, NO_PULUMI, "rollback", "--stack", "prod", "--version", "3", "--yes");
        expect(rollback).toMatchObject({ code: 2, stdout: "" });
        expect(rollback.stderr).toContain("--version 3: already the pinned version");
        const deploy = await mlopsInProcess(dir, NO_PULUMI, "deploy", "--stack", "prod", "--version", "4", "--yes");
        expect(deploy).toMatchObject({ code: 2, stdout: "" });
        expect(deploy.stderr).toContain("--version 4: not in mlops:versions");
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it.each([
        ["--version", "3", "rollback", "--stack", "prod", "--yes"],
        ["-V", "rollback", "--stack", "prod"],
        ["--version", "--json"],
    ])("before a command, %s with anything after it is a usage error (exit 2), never the version and exit 0", async (...args) => {
        const { dir, stackFile } = project();
        const before = readFileSync(stackFile);
        const run = await mlopsInProcess(dir, NO_PULUMI, ...args);
        expect(run.code).toBe(2);
        expect(run.stdout).not.toContain(VERSION);
        expect(run.stderr + run.stdout).toContain("put --version after the command: mlops rollback --version <v>");
        expect(readFileSync(stackFile).equals(before)).toBe(true);
    });

    it("the built bin: rollback --version 2 --dry-run previews version 2 (no version printed), and rollback -V is a usage error", async () => {
        const { dir, env } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod", preview: { changes: { update: 2, same: 5 } } });
        const dryRun = await mlopsBin(dir, env, "rollback", "--version", "2", "--dry-run");
        expect(dryRun.code, dryRun.stderr).toBe(0);
        expect(dryRun.stdout).toBe("Preview of rollback 3 -> 2 on prod: 2 updated, 5 unchanged. Nothing was changed.\n");
        const short = await mlopsBin(dir, env, "rollback", "-V");
        expect(short).toEqual({ code: 2, stdout: "", stderr: "mlops: unknown option '-V'\n(run mlops rollback --help for usage)\n" });
    });

    it("--cwd and --debug still work after a command's name", async () => {
        const { dir } = project();
        const run = await mlops("validate", "--cwd", dir, "--stack", "prod", "--json");
        expect(run.code, run.stderr).toBe(0);
        expect(json(run.stdout)).toMatchObject({ ok: true, pinned: "3" });
        const debug = await mlops("validate", "--config-file", "no/such/file.yaml", "--debug");
        expect(debug.code).toBe(2);
        expect(debug.stderr).toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    });
});

describe("help on stdout (exit 0); a usage error on stderr with the hint, nothing on stdout (exit 2)", () => {
    it("the built bin: mlops --help and mlops rollback --help", async () => {
        const root = await mlopsBin(ROOT, {}, "--help");
        expect([root.code, root.stderr]).toEqual([0, ""]);
        expect(root.stdout).toContain("Usage: mlops [options] [command]");
        expect(root.stdout).toContain("-V, --version");
        const rollback = await mlopsBin(ROOT, {}, "rollback", "--help");
        expect([rollback.code, rollback.stderr]).toEqual([0, ""]);
        expect(rollback.stdout).toContain("Usage: mlops rollback [options]");
    });

    it.each(["validate", "plan", "rollback", "deploy", "status", "history"])("mlops %s --help names --cwd and --debug too", async (command) => {
        const run = await mlops(command, "--help");
        expect([run.code, run.stderr]).toEqual([0, ""]);
        expect(run.stdout).toContain(`Usage: mlops ${command} [options]`);
        expect(run.stdout).toContain("--cwd <dir>");
        expect(run.stdout).toContain("--debug");
    });

    it.each([
        ["an unknown option", ["validate", "--bogus"], "mlops: unknown option '--bogus'\n(run mlops validate --help for usage)\n"],
        [
            "an unknown option of deploy",
            ["deploy", "--version", "4", "--stak", "prod"],
            "mlops: unknown option '--stak'\n(Did you mean --stack?)\n(run mlops deploy --help for usage)\n",
        ],
        ["a missing option argument", ["plan", "--to"], "mlops: option '--to <version>' argument missing\n(run mlops plan --help for usage)\n"],
        [
            "a missing required option",
            ["deploy", "--stack", "prod"],
            "mlops: required option '--version <version>' not specified\n(run mlops deploy --help for usage)\n",
        ],
        ["an unknown command", ["rollbak"], "mlops: unknown command 'rollbak'\n(Did you mean rollback?)\n(run mlops --help for usage)\n"],
        [
            "an unexpected argument",
            ["status", "prod"],
            "mlops: too many arguments for 'status'. Expected 0 arguments but got 1.\n(run mlops status --help for usage)\n",
        ],
    ])("%s: mlops %j", async (_, args, stderr) => {
        expect(await mlops(...args)).toEqual({ code: 2, stdout: "", stderr });
    });

    it("no command at all: the help, on stderr (exit 2)", async () => {
        const run = await mlops();
        expect([run.code, run.stdout]).toEqual([2, ""]);
        expect(run.stderr).toContain("Usage: mlops [options] [command]");
        expect(run.stderr).toContain("rollback [options]");
    });

    it("the built bin: a usage error and no command at all, on stderr with exit 2", async () => {
        expect(await mlopsBin(ROOT, {}, "validate", "--bogus")).toEqual({
            code: 2,
            stdout: "",
            stderr: "mlops: unknown option '--bogus'\n(run mlops validate --help for usage)\n",
        });
        const none = await mlopsBin(ROOT, {});
        expect([none.code, none.stdout]).toEqual([2, ""]);
        expect(none.stderr).toContain("Usage: mlops [options] [command]");
    });

    it.each([
        [["validate", "--bogus", "--json"], { kind: "usage", message: "unknown option '--bogus'", key: "--bogus" }],
        [["plan", "--json", "--to"], { kind: "usage", message: "option '--to <version>' argument missing", key: "--to" }],
        [["deploy", "--json"], { kind: "usage", message: "required option '--version <version>' not specified", key: "--version" }],
        [["rollbak", "--json"], { kind: "usage", message: "unknown command 'rollbak'\n(Did you mean rollback?)" }],
    ])("with --json, a usage error is a JSON document on stdout too: mlops %j", async (args, error) => {
        const run = await mlops(...args);
        expect(run.code).toBe(2);
        expect(json(run.stdout)).toEqual({ ok: false, error });
        expect(run.stderr).toContain(`mlops: ${error.message}`);
    });
});

describe('one --json shape: {"ok": true, ...} or {"ok": false, "error": {kind, message, key?, problems?}, ...partial}', () => {
    it("validate: the config's summary; an invalid config is bad input with every problem by key, the file beside the error", async () => {
        const ok = await mlops("validate", "--config-file", EXAMPLE, "--json");
        expect(ok.code).toBe(0);
        expect(json(ok.stdout)).toEqual({
            ok: true,
            file: EXAMPLE,
            target: "sagemaker",
            model: "fraud-detector",
            pinned: "3",
            warm: 1,
            warmOnFirstDeploy: ["2"],
            warnings: [],
        });
        const { dir } = project((text) => text.replace('mlops:pinned: "3"', 'mlops:pinned: "7"').replace("mlops:warm: 1", "mlops:warm: -1"));
        const bad = await mlopsInProcess(dir, {}, "validate", "--stack", "prod", "--json");
        expect(bad.code).toBe(2);
        const document = json(bad.stdout) as { ok: boolean; file: string; error: { kind: string; message: string; problems: { key: string }[] } };
        expect(document).toMatchObject({
            ok: false,
            file: "stacks/Pulumi.prod.yaml",
            error: { kind: "bad-input", message: "stacks/Pulumi.prod.yaml: invalid, 2 problems" },
        });
        expect(document.error.problems.map((problem) => problem.key).sort()).toEqual(["mlops:pinned", "mlops:warm"]);
        // The same problems as text on stderr, as without --json.
        expect(bad.stderr).toContain("stacks/Pulumi.prod.yaml: invalid, 2 problems:\n");
    });

    it("plan: the plan; a version not in the catalog is bad input keyed by --to; an invalid config lists its problems", async () => {
        const ok = await mlops("plan", "--config-file", EXAMPLE, "--to", "2", "--json");
        expect(ok.code, ok.stderr).toBe(0);
        expect(json(ok.stdout)).toMatchObject({ ok: true, from: "3", to: "2", summary: expect.any(Object) as object });
        const notInCatalog = await mlops("plan", "--config-file", EXAMPLE, "--to", "9", "--json");
        expect(notInCatalog.code).toBe(2);
        expect(json(notInCatalog.stdout)).toEqual({
            ok: false,
            error: { kind: "bad-input", message: "--to 9: not in mlops:versions (known: 1, 2, 3)", key: "--to" },
        });
        const { dir } = project((text) => text.replace("mlops:warm: 1", "mlops:warm: -1"));
        const invalid = await mlopsInProcess(dir, {}, "plan", "--stack", "prod", "--to", "2", "--json");
        expect(invalid.code).toBe(2);
        const document = json(invalid.stdout) as { error: object };
        expect(document).toMatchObject({ ok: false, error: { kind: "bad-input", problems: [{ key: "mlops:warm" }] } });
        // The message names the file, not one key: the keys are the problems'.
        expect(document.error).not.toHaveProperty("key");
    }, 120_000);

    it("rollback: the previewed result; a refusal is bad input keyed by --version; a failed preview keeps the partial result beside the error", async () => {
        const { run } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod", preview: { changes: { update: 2, same: 5 } } });
        const ok = await run("rollback", "--stack", "prod", "--dry-run", "--json");
        expect(ok.code, ok.stderr).toBe(0);
        expect(json(ok.stdout)).toMatchObject({ ok: true, kind: "rollback", stack: "prod", from: "3", to: "2", dryRun: true, result: "previewed" });
        const refused = await run("rollback", "--stack", "prod", "--version", "9", "--yes", "--json");
        expect(refused.code).toBe(2);
        expect(json(refused.stdout)).toEqual({
            ok: false,
            error: { kind: "bad-input", key: "--version", message: expect.stringContaining("--version 9: not in mlops:versions") as string },
        });
        const failing = standInProject({ deployment: deployedStack("3", ["2"]), preview: { exitCode: 255, stderr: "error: the backend refused\n" } });
        const failed = await failing.run("rollback", "--stack", "prod", "--dry-run", "--json");
        expect(failed.code).toBe(1);
        const document = json(failed.stdout);
        expect(document).toMatchObject({
            ok: false,
            kind: "rollback",
            from: "3",
            to: "2",
            dryRun: true,
            result: "failed",
            error: { kind: "failed", message: "the preview of the rollback to 2 failed: error: the backend refused\nNothing was changed." },
        });
        expect(document.error).not.toHaveProperty("key");
    });

    it("deploy: the previewed result; a version before the pin is bad input keyed by --version", async () => {
        const pinnedAt2 = (text: string) => text.replace('mlops:pinned: "3"', 'mlops:pinned: "2"');
        const { run } = standInProject({ deployment: deployedStack("2", ["1"]), selected: "prod", preview: { changes: { update: 3 } } }, pinnedAt2);
        const ok = await run("deploy", "--stack", "prod", "--version", "3", "--dry-run", "--json");
        expect(ok.code, ok.stderr).toBe(0);
        expect(json(ok.stdout)).toMatchObject({ ok: true, kind: "deploy", from: "2", to: "3", dryRun: true, result: "previewed" });
        const refused = await run("deploy", "--stack", "prod", "--version", "1", "--yes", "--json");
        expect(refused.code).toBe(2);
        expect(json(refused.stdout)).toMatchObject({
            ok: false,
            error: { kind: "bad-input", key: "--version", message: expect.stringContaining("comes before") as string },
        });
    });

    it.each(["rollback", "deploy"])("%s on an invalid stack file: bad input listing every problem by key, as validate does", async (command) => {
        const invalid = (text: string) => text.replace("mlops:warm: 1", "mlops:warm: 9").replace(/instanceType: \S+/, "instanceType: m5.large");
        const { run } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod" }, invalid);
        const refused = await run(command, "--stack", "prod", "--version", command === "deploy" ? "3" : "2", "--yes", "--json");
        expect(refused.code).toBe(2);
        const { error } = json(refused.stdout) as { error: { kind: string; problems: { key: string }[] } };
        expect(error.kind).toBe("bad-input");
        expect(error.problems.map((problem) => problem.key)).toEqual(["mlops:sagemaker.instanceType", "mlops:warm"]);
    });

    it("status: the stack's status; without pulumi the operation failed (exit 1), saying what status needs it for", async () => {
        const { run, dir } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod" });
        const ok = await run("status", "--json");
        expect(ok.code, ok.stderr).toBe(0);
        expect(json(ok.stdout)).toMatchObject({ ok: true, stack: "prod", pinnedVersion: "3", target: "sagemaker" });
        const failed = await mlopsInProcess(dir, NO_PULUMI, "status", "--stack", "prod", "--json");
        expect(failed.code).toBe(1);
        expect(json(failed.stdout)).toEqual({
            ok: false,
            error: {
                kind: "failed",
                message: `the Pulumi CLI (pulumi) is not on PATH, and mlops status reads the stack's outputs and update history through it: ${INSTALL_FIX}`,
            },
        });
    });

    it("history: the updates under updates; no stack selected is a usage error", async () => {
        const { run } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod" });
        const ok = await run("history", "--json");
        expect(ok.code, ok.stderr).toBe(0);
        expect(json(ok.stdout)).toEqual({ ok: true, updates: [] });
        const unselected = standInProject({ deployment: deployedStack("3", ["2"]) });
        const failed = await unselected.run("history", "--json");
        expect(failed.code).toBe(2);
        expect(json(failed.stdout)).toEqual({ ok: false, error: { kind: "usage", message: "no stack selected; pass --stack <name>" } });
    });

    it("a flag's bad value is keyed by its flag (--reason, and a control character in --stack)", async () => {
        const { dir } = project();
        const reason = await mlopsInProcess(dir, NO_PULUMI, "rollback", "--stack", "prod", "--reason", "x".repeat(1001), "--yes", "--json");
        expect(json(reason.stdout)).toMatchObject({ ok: false, error: { kind: "usage", key: "--reason" } });
        const stack = await mlopsInProcess(dir, NO_PULUMI, "status", "--stack", "prod\u001b[2J", "--json");
        expect(json(stack.stdout)).toMatchObject({ ok: false, error: { kind: "usage", key: "--stack" } });
    });
});

describe("docs/cli.md names every flag as --help does", () => {
    const docs = readFileSync(path.join(ROOT, "docs", "cli.md"), "utf8");
    /** The flags of `mlops <command> --help`, as it spells them: `--expect-from <version>`, `--yes`. */
    const flagsOf = (help: string) =>
        [...help.slice(help.indexOf("Options:")).matchAll(/^ {2}(?:-\w, )?(--[a-z-]+(?: <[a-z-]+>)?)/gm)].map((match) => match[1]);

    it.each(["validate", "plan", "rollback", "deploy", "status", "history"])("mlops %s: each flag in its row of the commands table", async (command) => {
        const row = docs.split("\n").find((line) => line.startsWith(`| \`mlops ${command}\` |`));
        expect(row, `docs/cli.md has no row for mlops ${command}`).toBeDefined();
        const flags = flagsOf((await mlops(command, "--help")).stdout);
        expect(flags).toContain("--cwd <dir>");
        for (const flag of flags.filter((name) => !["--cwd <dir>", "--debug", "--help"].includes(name))) expect(row, flag).toContain(`\`${flag}\``);
        // The flags every command takes are named once, below the table.
        for (const flag of ["--cwd <dir>", "--debug"]) expect(docs).toContain(`\`${flag}\``);
    });
});

describe("a missing Pulumi CLI: each command says what it needs pulumi for, and how to install it", () => {
    it.each([
        [{ name: "status", dryRun: false }, "mlops status reads the stack's outputs and update history through it"],
        [{ name: "history", dryRun: false }, "mlops history reads the stack's update history through it"],
        [{ name: "rollback", dryRun: true }, "mlops rollback --dry-run runs the preview through it"],
        [{ name: "deploy", dryRun: true }, "mlops deploy --dry-run runs the preview through it"],
        [{ name: "rollback", dryRun: false }, "mlops rollback reads the stack and runs the update through it"],
        [{ name: "deploy", dryRun: false }, "mlops deploy reads the stack and runs the update through it"],
    ])("%j: %s", (command, usedFor) => {
        expect(pulumiNeededFor(command)).toBe(usedFor);
        expect(usedFor).not.toMatch(/an update needs/);
    });

    it.each([
        [["status", "--stack", "prod"], "mlops status reads the stack's outputs and update history through it"],
        [["history", "--stack", "prod"], "mlops history reads the stack's update history through it"],
        [["rollback", "--stack", "prod", "--dry-run"], "mlops rollback --dry-run runs the preview through it"],
        [["deploy", "--stack", "prod", "--version", "3", "--dry-run"], "mlops deploy --dry-run runs the preview through it"],
    ])("mlops %j with PATH lacking pulumi: exit 1, one line with the install link", async (args, usedFor) => {
        const { dir } = project((text) => (args[0] === "deploy" ? text.replace('mlops:pinned: "3"', 'mlops:pinned: "2"') : text));
        const run = await mlopsInProcess(dir, NO_PULUMI, ...args);
        expect(run).toEqual({ code: 1, stdout: "", stderr: `mlops: the Pulumi CLI (pulumi) is not on PATH, and ${usedFor}: ${INSTALL_FIX}\n` });
    });

    it("the built bin: status without pulumi, exit 1 and the sentence on stderr", async () => {
        const { dir } = project();
        const run = await mlopsBin(dir, NO_PULUMI, "status", "--stack", "prod");
        expect(run).toEqual({
            code: 1,
            stdout: "",
            stderr: `mlops: the Pulumi CLI (pulumi) is not on PATH, and mlops status reads the stack's outputs and update history through it: ${INSTALL_FIX}\n`,
        });
    });
});

describe("no third-party warnings in mlops's output (the built bin)", () => {
    /** A stack whose last pin change took a database snapshot: `rollback --restore-database` asks RDS about it, which loads the AWS SDK. */
    function withSnapshot() {
        const deployment = deployedStack("3", ["2"]) as { resources: { outputs: { mlops: Record<string, unknown> } }[] };
        deployment.resources[0].outputs.mlops.databaseSnapshots = [
            { identifier: "fraud-detector-v2-to-v3", kind: "instance", database: "fraud-features", from: "2", to: "3", at: "2026-11-26T12:00:00.000Z" },
        ];
        const { dir, env } = standInProject({ deployment, selected: "prod" });
        // Nothing listens on port 9: the RDS call fails at once, after the SDK's client was made.
        const aws = {
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "test",
            AWS_SECRET_ACCESS_KEY: "test",
            AWS_ENDPOINT_URL: "http://127.0.0.1:9",
            AWS_MAX_ATTEMPTS: "1",
        };
        return { dir, env: { ...env, ...aws } };
    }
    const ARGS = ["rollback", "--version", "2", "--restore-database", "--dry-run"];

    it("a command that loads the AWS SDK prints no Warning (Node < 22: the SDK's NodeVersionSupportWarning)", async () => {
        const { dir, env } = withSnapshot();
        const run = await mlopsBin(dir, env, ...ARGS);
        // The RDS call itself fails (no AWS here); what matters is what else stderr holds.
        expect(run.stderr).toContain("ECONNREFUSED");
        expect(run.stderr).not.toMatch(/Warning|\(node:\d+\)/);
    });

    it.runIf(Number(process.versions.node.split(".")[0]) < 22)(
        "the same run shows the warning when the user asks for it (the SDK's switch set to false): the test above can see it",
        async () => {
            const { dir, env } = withSnapshot();
            const run = await mlopsBin(dir, { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" }, ...ARGS);
            expect(run.stderr).toContain("NodeVersionSupportWarning");
        },
    );

    it("validate, plan's refusal, status and history print no warning either", async () => {
        const { dir, env } = standInProject({ deployment: deployedStack("3", ["2"]), selected: "prod" });
        for (const args of [["validate", "--stack", "prod"], ["plan", "--stack", "prod", "--to", "9"], ["status"], ["history"]]) {
            const run = await mlopsBin(dir, env, ...args);
            expect(run.stderr, args.join(" ")).not.toMatch(/Warning|\(node:\d+\)/);
        }
    });
});
