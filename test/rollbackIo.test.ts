import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { PublishCommand } from "@aws-sdk/client-sns";
import { describe, expect, it } from "vitest";
import { lockHolder, pendingOperationsOf, removeLockFile, StackBusyError } from "../rollback/automation";
import { EngineCommandError, engineErrorLines, engineErrorOf, PulumiCliUnavailableError } from "../rollback/engineErrors";
import { noticeSubject, postToWebhook, publishToSns, type RollbackNotice } from "../rollback/notify";
import { changeSummary, progressLine } from "../rollback/progress";

const execFileAsync = promisify(execFile);

const notice: RollbackNotice = {
    stack: "prod",
    model: "fraud-detector",
    kind: "rollback",
    from: "4",
    to: "3",
    reason: "5xx at 4%",
    result: "succeeded",
    durationSeconds: 12.5,
    detail: "the endpoint is InService on fraud-detector-config-3-abc (version 3)",
};

describe("notification", () => {
    it("posts the notice as JSON to a webhook (a real HTTP server on 127.0.0.1)", async () => {
        const received: { body: string; type: string | undefined }[] = [];
        const server = createServer((request: IncomingMessage, response) => {
            let body = "";
            request.on("data", (chunk: Buffer) => (body += chunk.toString()));
            request.on("end", () => {
                received.push({ body, type: request.headers["content-type"] });
                response.writeHead(received.length === 1 ? 204 : 500).end();
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        try {
            await postToWebhook(url, notice);
            expect(received[0].type).toBe("application/json");
            expect(JSON.parse(received[0].body)).toEqual({ text: "mlops rollback succeeded: fraud-detector 4 -> 3 (prod)", ...notice });
            await expect(postToWebhook(url, notice)).rejects.toThrow("the webhook answered 500");
        } finally {
            server.close();
        }
    });

    it("publishes to SNS with a subject SNS takes: under 100 characters", async () => {
        // Stands for the SNS API: records the PublishCommand it is sent.
        const sent: PublishCommand[] = [];
        const client = { send: (command: PublishCommand) => (sent.push(command), Promise.resolve({})) };
        await publishToSns(client)("arn:aws:sns:us-east-1:123456789012:ml-alerts", notice);
        expect(sent[0].input).toEqual({
            TopicArn: "arn:aws:sns:us-east-1:123456789012:ml-alerts",
            Subject: "mlops rollback succeeded: fraud-detector 4 -> 3 (prod)",
            Message: JSON.stringify(notice),
        });
        expect(noticeSubject({ ...notice, model: "m".repeat(200) })).toHaveLength(99);
    });

    it.each([
        ["a 200-character model name", { model: "m".repeat(200) }, `mlops rollback succeeded: ${"m".repeat(70)}...`],
        ["a 120-character version", { to: `v${"1".repeat(119)}` }, `mlops rollback succeeded: fraud-detector 4 -> v${"1".repeat(49)}...`],
        [
            "a newline in a version",
            { from: "4\nmlops deploy succeeded: x 1 -> 2" },
            "mlops rollback succeeded: fraud-detector 4 mlops deploy succeeded: x 1 -> 2 -> 3 (prod)",
        ],
        ["a carriage return, an escape and non-ASCII in a version", { to: "3\r\u001b[2Jé" }, "mlops rollback succeeded: fraud-detector 4 -> 3 ?[2J? (prod)"],
    ])("the SNS subject of a notice with %s: one line of printable ASCII under 100 characters (SNS refuses any other)", async (_, change, subject) => {
        // Stands for the SNS API: records the PublishCommand it is sent.
        const sent: PublishCommand[] = [];
        const client = { send: (command: PublishCommand) => (sent.push(command), Promise.resolve({})) };
        await publishToSns(client)("arn:aws:sns:us-east-1:123456789012:ml-alerts", { ...notice, ...change });
        expect(sent[0].input.Subject).toBe(subject);
        expect(sent[0].input.Subject).toMatch(/^[\x20-\x7e]{1,99}$/);
    });
});

describe("progress and engine messages", () => {
    const urn = "urn:pulumi:prod::mlops::mlops:kubernetes:ModelEndpoint$kubernetes:core/v1:Service::fraud-detector-service";
    const metadata = { op: "update" as const, urn, type: "kubernetes:core/v1:Service", provider: "" };

    it("prints a line per resource step with the elapsed time, and nothing for unchanged resources", () => {
        expect(progressLine({ sequence: 1, timestamp: 0, resourcePreEvent: { metadata } }, 0, 1500)).toBe(
            "   1.5s  updating kubernetes:core/v1:Service fraud-detector-service",
        );
        expect(progressLine({ sequence: 2, timestamp: 0, resOutputsEvent: { metadata } }, 0, 4000)).toBe(
            "   4.0s  done update kubernetes:core/v1:Service fraud-detector-service",
        );
        expect(progressLine({ sequence: 3, timestamp: 0, resourcePreEvent: { metadata: { ...metadata, op: "same" } } }, 0, 0)).toBeUndefined();
        const provider = {
            ...metadata,
            op: "create" as const,
            type: "pulumi:providers:kubernetes",
            urn: "urn:pulumi:s::p::pulumi:providers:kubernetes::default",
        };
        expect(progressLine({ sequence: 5, timestamp: 0, resourcePreEvent: { metadata: provider } }, 0, 0)).toBeUndefined();
        expect(progressLine({ sequence: 4, timestamp: 0, resOpFailedEvent: { metadata, status: 1, steps: 1 } }, 0, 9000)).toBe(
            "   9.0s  FAILED update kubernetes:core/v1:Service fraud-detector-service",
        );
    });

    it("says what a refresh did to the state, not update or delete, which it does not do in the cloud", () => {
        const urn = "urn:pulumi:prod::mlops::m$kubernetes:apps/v1:Deployment::fraud-detector-deployment-3";
        const done = (op: string) =>
            ({ sequence: 5, timestamp: 0, resOutputsEvent: { metadata: { op, urn, type: "kubernetes:apps/v1:Deployment" } } }) as never;
        expect(progressLine(done("delete"), 0, 2100, true)).toBe(
            "   2.1s  done refresh kubernetes:apps/v1:Deployment fraud-detector-deployment-3: gone from the cloud, dropped from the state",
        );
        expect(progressLine(done("update"), 0, 2100, true)).toContain(
            "done refresh kubernetes:apps/v1:Deployment fraud-detector-deployment-3: read back into the state",
        );
        expect(progressLine(done("delete"), 0, 2100)).toBe("   2.1s  done delete kubernetes:apps/v1:Deployment fraud-detector-deployment-3");
    });

    it("summarizes resource changes", () => {
        expect(changeSummary({ update: 2, create: 1, same: 5, delete: 0 })).toBe("2 updated, 1 created, 5 unchanged");
        expect(changeSummary({})).toBe("no changes");
    });

    it("keeps the lines of a concurrent-update error that say who holds the lock", () => {
        const stderr = [
            "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
            "  file:///state/.pulumi/locks/organization/mlops/prod/abc.json: created by alice@ci-7 (pid 4242) at 2026-11-27T08:59:00Z",
            "",
        ].join("\n");
        expect(lockHolder(stderr)).toContain("created by alice@ci-7 (pid 4242) at 2026-11-27T08:59:00Z");
        expect(lockHolder("something unrelated")).toBe("");
        // The engine prints its error twice (its log and its result): each line once.
        expect(lockHolder(`${stderr}\n${stderr}`).match(/created by/g)).toHaveLength(1);
        expect(new StackBusyError(lockHolder(stderr)).holder).toEqual({
            user: "alice",
            host: "ci-7",
            pid: 4242,
            at: "2026-11-27T08:59:00Z",
            file: "/state/.pulumi/locks/organization/mlops/prod/abc.json",
        });
        // The engine adds a query to a file lock's URL; an S3 lock has no file to name.
        expect(new StackBusyError("file:///s/locks/a.json?no_tmp_dir=true: created by a@b (pid 1) at T").holder?.file).toBe("/s/locks/a.json");
        expect(new StackBusyError("s3://bucket/locks/a.json: created by a@b (pid 1) at T").holder).not.toHaveProperty("file");
        expect(new StackBusyError("locked by a Pulumi Cloud update").holder).toBeUndefined();
        // Two locks: cancelling would remove both, so neither is named.
        const twoLocks = `${lockHolder(stderr)} file:///b.json: created by bob@ci-8 (pid 7) at 2026-11-27T09:00:00Z`;
        expect(new StackBusyError(twoLocks).holder).toBeUndefined();
    });

    it("removes a dead engine's lock file only while it still names that engine, with its .attrs", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-locks-"));
        const file = path.join(dir, "abc.json");
        const holder = { user: "root", host: "vm", pid: 4242, at: "T", file };
        writeFileSync(file, JSON.stringify({ pid: 4242, username: "root", hostname: "vm", timestamp: "T" }));
        writeFileSync(`${file}.attrs`, "{}");
        expect(removeLockFile({ ...holder, pid: 4243 })).toBe(false); // another engine's lock now
        expect(existsSync(file)).toBe(true);
        expect(removeLockFile(holder)).toBe(true);
        expect(readdirSync(dir)).toEqual([]);
        expect(removeLockFile(holder)).toBe(false); // gone already
        expect(removeLockFile({ user: "root", host: "vm", pid: 4242, at: "T" })).toBe(false); // no file: not a local backend
    });

    it("reads the operations an interrupted update left in the exported state", () => {
        const deployment = {
            resources: [],
            pending_operations: [
                {
                    type: "creating",
                    resource: {
                        urn: "urn:pulumi:s::mlops::m$kubernetes:apps/v1:Deployment::fraud-detector-deployment-3",
                        type: "kubernetes:apps/v1:Deployment",
                    },
                },
                {
                    type: "updating",
                    resource: { urn: "urn:pulumi:s::mlops::m$kubernetes:core/v1:Service::fraud-detector-service", type: "kubernetes:core/v1:Service" },
                },
                { type: "updating" },
            ],
        };
        expect(pendingOperationsOf(deployment)).toEqual([
            {
                operation: "creating",
                type: "kubernetes:apps/v1:Deployment",
                name: "fraud-detector-deployment-3",
                urn: deployment.pending_operations[0].resource?.urn,
            },
            { operation: "updating", type: "kubernetes:core/v1:Service", name: "fraud-detector-service", urn: deployment.pending_operations[1].resource?.urn },
        ]);
        expect(pendingOperationsOf({ resources: [] })).toEqual([]);
        expect(pendingOperationsOf(undefined)).toEqual([]);
    });
});

describe("the Pulumi CLI's failures as a user reads them (rollback/engineErrors.ts)", () => {
    /** A directory `<root>/bin/pulumi` for the Automation API's PulumiCommand.get({ root }), holding `script` (a shell script) with `mode`. */
    function pulumiRoot(script: string | undefined, mode = 0o755): string {
        const root = mkdtempSync(path.join(tmpdir(), "mlops-pulumi-root-"));
        mkdirSync(path.join(root, "bin"));
        if (script !== undefined) writeFileSync(path.join(root, "bin", "pulumi"), `#!/bin/sh\n${script}`, { mode });
        return root;
    }
    /** What the Automation API throws when it runs `args` with the CLI in `root` (its CommandError, as openAutomationStack gets it). */
    async function automationError(root: string, args: string[]): Promise<unknown> {
        const { PulumiCommand } = await import("@pulumi/pulumi/automation");
        try {
            const command = await PulumiCommand.get({ root, skipVersionCheck: true });
            // `run` is the Automation API's internal entry point, the one every Stack operation goes through.
            await (command as unknown as { run(args: string[], cwd: string, env: Record<string, string>): Promise<unknown> }).run(args, root, {});
        } catch (error) {
            return error;
        }
        throw new Error("expected the command to fail");
    }
    const ENGINE_FAILS = `case "$1" in version) echo v3.205.0;; *) echo "warning: using pulumi-language-nodejs from \\$PATH" >&2; echo "error: update failed" >&2; echo "error: Deployment fraud-detector-2 did not become ready" >&2; echo "Updating (prod):"; exit 255;; esac\n`;

    it("turns the Automation API's 'code: -2 ... spawn pulumi ENOENT' into one sentence with the fix", async () => {
        const error = await automationError(pulumiRoot(undefined), ["version"]);
        expect((error as Error).message).toContain("code: -2");
        const readable = engineErrorOf(error);
        expect(readable).toBeInstanceOf(PulumiCliUnavailableError);
        expect((readable as Error).message).toBe(
            "the Pulumi CLI (pulumi) is not on PATH: install it (https://www.pulumi.com/docs/install/) or add the directory that holds it to PATH, then run again",
        );
        expect((readable as PulumiCliUnavailableError).sentenceFor("mlops history reads the stack's updates through it")).toBe(
            "the Pulumi CLI (pulumi) is not on PATH, and mlops history reads the stack's updates through it: install it (https://www.pulumi.com/docs/install/) or add the directory that holds it to PATH, then run again",
        );
    });

    it("names the errno of a pulumi that is there but cannot be started (EACCES)", async () => {
        const readable = engineErrorOf(await automationError(pulumiRoot("echo v3.205.0\n", 0o644), ["version"]));
        expect(readable).toMatchObject({ errno: "EACCES", message: expect.stringContaining("the pulumi on PATH could not be started (EACCES)") as string });
    });

    it.each([
        ["#!/nonexistent/node", "/nonexistent/node, which does not exist"],
        ["#! /no/such/dir/python3 -u", "/no/such/dir/python3, which does not exist"],
    ])("a pulumi whose interpreter is missing (%s: spawn says ENOENT) is named by its path, not called missing from PATH", async (shebang, interpreter) => {
        // The Automation API's spawn of <root>/bin/pulumi.
        const root = pulumiRoot(undefined);
        const file = path.join(root, "bin", "pulumi");
        writeFileSync(file, `${shebang}\nconsole.log("v3.205.0")\n`, { mode: 0o755 });
        const readable = engineErrorOf(await automationError(root, ["version"]));
        expect(readable).toBeInstanceOf(PulumiCliUnavailableError);
        const expected = `pulumi at ${file} could not be started: its interpreter or a library it needs is missing (its first line asks for ${interpreter})`;
        const fix = `reinstall the Pulumi CLI (https://www.pulumi.com/docs/install/), or fix or remove ${file} so that the pulumi found first on PATH runs, then run again`;
        expect((readable as Error).message).toBe(`${expected}: ${fix}`);
        expect((readable as PulumiCliUnavailableError).sentenceFor("mlops status reads the stack through it")).toBe(
            `${expected}, and mlops status reads the stack through it: ${fix}`,
        );
        // node's execFile("pulumi") (pulumi stack export), found through PATH.
        const viaPath = await new Promise<unknown>((resolve) =>
            execFile("pulumi", ["version"], { env: { PATH: `${path.join(root, "no-such-dir")}:${path.join(root, "bin")}` } }, resolve),
        );
        expect((viaPath as { code?: unknown }).code).toBe("ENOENT");
        const savedPath = process.env.PATH;
        process.env.PATH = `${path.join(root, "no-such-dir")}:${path.join(root, "bin")}`;
        try {
            expect((engineErrorOf(viaPath) as Error).message).toBe(`${expected}: ${fix}`);
        } finally {
            process.env.PATH = savedPath;
        }
    });

    it("keeps the engine's own error lines of a failed command once, without the command line, the framing or its warnings", async () => {
        const error = await automationError(pulumiRoot(ENGINE_FAILS), ["up", "--yes", "--stack", "prod", "--exec-kind", "auto.local"]);
        // What the Automation API says: the command line, and the engine's stderr twice.
        expect((error as Error).message).toMatch(
            /^code: -2\n stdout: \n stderr: Command failed with exit code 255: \S+ up --yes --stack prod --exec-kind auto\.local/,
        );
        expect((error as Error).message.split("error: update failed").length - 1).toBe(2);
        const readable = engineErrorOf(error);
        expect(readable).toBeInstanceOf(EngineCommandError);
        expect(readable).toMatchObject({ exitCode: 255, lines: ["error: update failed", "error: Deployment fraud-detector-2 did not become ready"] });
        expect((readable as Error).message).toBe("error: update failed\nerror: Deployment fraud-detector-2 did not become ready");
    });

    it("puts the error diagnostics the engine sent as events first, and then does not read them again from its display", async () => {
        const error = await automationError(pulumiRoot(ENGINE_FAILS), ["up"]);
        // The second event says what stderr says too: once.
        const readable = engineErrorOf(error, [
            "Deployment fraud-detector-2 did not become ready\n    at await (/provider/await.go:10:2)",
            "error: update failed",
        ]);
        expect((readable as EngineCommandError).lines).toEqual([
            "Deployment fraud-detector-2 did not become ready",
            "error: update failed",
            "error: Deployment fraud-detector-2 did not become ready",
        ]);
    });

    it("reads the errors of the display's Diagnostics when stderr has only warnings (the real engine's shape), without stack frames", () => {
        // As `pulumi up` of a program that throws printed it (pulumi 3.248, the sandbox's engine).
        const stdout = [
            "Updating (dev):",
            " +  pulumi:pulumi:Stack pex-dev creating (28s) error: Running program '/p/index.js' failed with an unhandled exception:",
            "Diagnostics:",
            "  pulumi:pulumi:Stack (pex-dev):",
            "    warning: using pulumi-language-nodejs from $PATH at /work/main/sandbox/plugins/pulumi-language-nodejs",
            "    error: Running program '/p/index.js' failed with an unhandled exception:",
            "    Error: boom from the program",
            "        at Object.<anonymous> (/p/index.js:1:7)",
            "        at Module._compile (node:internal/modules/cjs/loader:1521:14)",
            "",
            "Resources:",
            "    + 1 created",
            "    1 errored",
        ].join("\n");
        expect(engineErrorLines("warning: using pulumi-language-nodejs from $PATH\n", stdout)).toEqual([
            "error: Running program '/p/index.js' failed with an unhandled exception:",
            "Error: boom from the program",
        ]);
        expect(engineErrorLines("", "Updating (dev):\nResources:\n")).toEqual([]);
        expect(new EngineCommandError([], 255).message).toBe("pulumi exited with code 255 and printed no error");
    });

    it("reads node's execFile errors (pulumi stack export, stack --show-name) the same way, and lets every other error through", async () => {
        const missing = await execFileAsync("/nonexistent/pulumi", ["stack", "export"]).catch((e: unknown) => e);
        expect(engineErrorOf(missing)).toMatchObject({ errno: "ENOENT" });
        const root = pulumiRoot(
            'echo "error: no Pulumi.yaml project file found (searching upwards from /tmp)" >&2\necho "warning: A new version of Pulumi is available" >&2\nexit 1\n',
        );
        const failed = await execFileAsync(path.join(root, "bin", "pulumi"), ["stack", "export", "--stack", "prod"]).catch((e: unknown) => e);
        expect((failed as Error).message).toContain("Command failed");
        expect(engineErrorOf(failed)).toMatchObject({ exitCode: 1, lines: ["error: no Pulumi.yaml project file found (searching upwards from /tmp)"] });
        const other = new Error("the stack's outputs are not JSON");
        expect(engineErrorOf(other)).toBe(other);
        expect(engineErrorOf("a string")).toBe("a string");
    });
});
