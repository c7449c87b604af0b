import {
    chmodSync,
    copyFileSync,
    existsSync,
    lstatSync,
    mkdtempSync,
    mkdirSync,
    readFileSync,
    renameSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { DescribeEndpointCommand } from "@aws-sdk/client-sagemaker";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BadInputError } from "../config/badInput";
import { rawConfigFromStackFile } from "../config/sources";
import { main, type CliDeps, type Io } from "../cli/main";
import { OperationFailedError, runPinChange, type PinChangeDeps, type PinChangeOptions } from "../cli/pinChange";
import { acquireStackLock, StackFileLockedError } from "../cli/stackLock";
import { StackBusyError, type OperationOptions } from "../rollback/automation";
import { EngineCommandError, PulumiCliUnavailableError } from "../rollback/engineErrors";
import { parse as parseYaml } from "yaml";
import type { RollbackNotice } from "../rollback/notify";
import { SageMakerVerifier, type ServingVerifier, type VerificationResult } from "../rollback/verify";
import { FakeStack } from "./fixtures/fakeStack";
import { snapshotIdentifier } from "../database/snapshots";
import type { RdsPorts } from "../database/restore";
import type { TrafficSwitch } from "../rollback/kubernetesSwitch";

const ROOT = path.resolve(__dirname, "..");

let projectDir: string;
let file: string;
let stack: FakeStack;
let opened: string[];
let verified: { outputs: Record<string, unknown>; pinned: string }[];
let notices: { destination: string; notice: RollbackNotice }[];
let verification: VerificationResult;
let verifierSettings: unknown[];
let output: { stdout: string; stderr: string };

beforeEach(() => {
    projectDir = mkdtempSync(path.join(tmpdir(), "mlops-pin-"));
    mkdirSync(path.join(projectDir, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
    file = path.join(projectDir, "stacks", "Pulumi.prod.yaml");
    const example = readFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8");
    writeFileSync(
        file,
        example.replace("  mlops:quarantined: []\n", "  mlops:quarantined: []\n  mlops:rollback:\n    notify: https://hooks.example.com/mlops\n"),
    );
    stack = new FakeStack("prod", file);
    opened = [];
    verified = [];
    notices = [];
    verifierSettings = [];
    verification = { ok: true, detail: "the endpoint is InService on fraud-detector-config-2-abc (version 2)" };
    output = { stdout: "", stderr: "" };
});

afterEach(() => {
    stack.calls.length = 0;
});

function deps(overrides: Partial<PinChangeDeps> = {}): PinChangeDeps {
    const verifier: ServingVerifier = {
        verify: (outputs, pinned) => {
            verified.push({ outputs, pinned });
            return Promise.resolve(verification);
        },
    };
    return {
        openStack: (stackName) => {
            opened.push(stackName);
            return Promise.resolve(stack);
        },
        verifierFor: (_target, settings) => {
            verifierSettings.push(settings);
            return verifier;
        },
        notify: (destination, notice) => {
            notices.push({ destination, notice });
            return Promise.resolve();
        },
        stdout: (text) => (output.stdout += text),
        stderr: (text) => (output.stderr += text),
        now: () => new Date("2026-11-27T09:00:00.000Z"),
        ...overrides,
    };
}

const options = (extra: Partial<PinChangeOptions> = {}): PinChangeOptions => ({ stack: "prod", file, projectDir, yes: true, ...extra });

describe("mlops rollback --expect-from (the trigger's reconcile run)", () => {
    it("goes ahead when the file and the stack pin the version the alarm was about", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3" };
        const result = await runPinChange("rollback", options({ version: "2", expectFrom: "3" }), deps());
        expect(result).toMatchObject({ from: "3", to: "2", result: "succeeded" });
    });

    it.each([
        ["the branch is ahead of what serves", { pinnedVersion: "3" }, "4"],
        ["the stack last deployed another version", { pinnedVersion: "4" }, "3"],
    ])("refuses, touching nothing, when %s", async (_, deployed, expectFrom) => {
        stack.outputsAfterUp = { target: "sagemaker", ...deployed };
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options({ version: "2", expectFrom }), deps());
        await expect(run).rejects.toThrow(BadInputError);
        await expect(run).rejects.toThrow(`--expect-from ${expectFrom}: the stack file pins 3 and the stack last deployed ${deployed.pinnedVersion}`);
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
    });
});

describe("mlops rollback --after-fast-path (the trigger's reconcile run)", () => {
    it("waits while SageMaker updates the endpoint, refreshes it, then updates with the live deployment policy kept", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", sagemaker: { endpointName: "fraud-detector-endpoint-1a2b3c4" } };
        // Stands for DescribeEndpoint: the fast path's update still runs for two polls.
        const statuses = ["Updating", "Updating", "InService"];
        const asked: { region: string | undefined; endpoint: string }[] = [];
        const sleeps: number[] = [];
        const result = await runPinChange(
            "rollback",
            options({ version: "2", reason: "alarm fraud-detector-prod-rollback", afterFastPath: true }),
            deps({
                endpointStatus: (region) => (endpoint) => {
                    asked.push({ region, endpoint });
                    return Promise.resolve(statuses.shift() ?? "InService");
                },
                sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
            }),
        );

        expect(result.result).toBe("succeeded");
        expect(asked).toHaveLength(3);
        expect(asked[0]).toEqual({ region: "us-east-1", endpoint: "fraud-detector-endpoint-1a2b3c4" });
        expect(sleeps).toEqual([15_000, 15_000]);
        // The refresh runs before the pin is written and before the update.
        expect(stack.calls.map((c) => [c.op, c.type])).toEqual([
            ["refresh", "aws:sagemaker/endpoint:Endpoint"],
            ["up", undefined],
        ]);
        expect(stack.calls[0].fileText).toContain('mlops:pinned: "3"');
        expect(stack.calls[1].options.rollbackEvent).toMatchObject({ from: "3", to: "2", afterFastPath: true });
        expect(output.stderr).toContain("Endpoint fraud-detector-endpoint-1a2b3c4 is Updating (15 s); waiting for SageMaker to finish before reconciling...");
    });

    it("gives up, touching nothing, when the endpoint never settles", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", sagemaker: { endpointName: "e" } };
        const run = runPinChange(
            "rollback",
            options({ version: "2", afterFastPath: true }),
            deps({ endpointStatus: () => () => Promise.resolve("Updating"), sleep: () => Promise.resolve() }),
        );
        await expect(run).rejects.toThrow("endpoint e is still Updating after 3600 s");
        expect(stack.calls).toEqual([]);
        expect(rawConfigFromStackFile(file).pinned).toBe("3");
    });
});

describe("mlops rollback", () => {
    it("pins the default target, quarantines the version it leaves, runs the update with the reason, verifies and notifies", async () => {
        const result = await runPinChange("rollback", options({ reason: "5xx at 4%" }), deps());

        expect(result).toMatchObject({ kind: "rollback", stack: "prod", from: "3", to: "2", result: "succeeded", dryRun: false });
        const config = rawConfigFromStackFile(file);
        expect(config.pinned).toBe("2");
        expect(config.quarantined).toEqual(["3"]);
        expect(stack.calls.map((c) => c.op)).toEqual(["up"]);
        expect(stack.calls[0].options.message).toBe("rollback 3 -> 2: 5xx at 4%");
        // The engine ran with the new pin already in the stack file.
        expect(stack.calls[0].fileText).toContain('mlops:pinned: "2"');
        expect(stack.calls[0].options.rollbackEvent).toEqual({ from: "3", to: "2", reason: "5xx at 4%", at: "2026-11-27T09:00:00.000Z" });
        expect(verified).toEqual([{ outputs: stack.outputsAfterUp, pinned: "2" }]);
        // The check asks the region the stack deploys to.
        expect(verifierSettings).toEqual([{ awsRegion: "us-east-1" }]);
        expect(notices).toEqual([
            {
                destination: "https://hooks.example.com/mlops",
                notice: {
                    stack: "prod",
                    model: "fraud-detector",
                    kind: "rollback",
                    from: "3",
                    to: "2",
                    reason: "5xx at 4%",
                    result: "succeeded",
                    durationSeconds: 0,
                    detail: verification.detail,
                },
            },
        ]);
    });

    it("keeps the rest of the stack file as it was, comments included", async () => {
        const before = readFileSync(file, "utf8");
        await runPinChange("rollback", options(), deps());
        const after = readFileSync(file, "utf8");
        const changed = after.split("\n").filter((line, i) => line !== before.split("\n")[i]);
        expect(changed).toEqual(['  mlops:pinned: "2"', '  mlops:quarantined: [ "3" ]']);
    });

    it("writes through a symlinked stack file and keeps its mode", async () => {
        const real = path.join(projectDir, "shared-prod.yaml");
        renameSync(file, real);
        chmodSync(real, 0o640);
        symlinkSync(real, file);
        await runPinChange("rollback", options(), deps());
        expect(lstatSync(file).isSymbolicLink()).toBe(true);
        expect(statSync(real).mode & 0o777).toBe(0o640);
        expect(rawConfigFromStackFile(real).pinned).toBe("2");
    });

    it("refuses a rollback with nothing that could be warm (mlops:warm 0) before the engine starts: nothing opened", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("mlops:warm: 1", "mlops:warm: 0"));
        const before = readFileSync(file);
        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("no warm version to roll back to from 3: mlops:warm is 0");
        expect(opened).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("refuses a target that has not served here (not warm) once the stack's serving record is read, before anything changes", async () => {
        const before = readFileSync(file);
        const error = await runPinChange("rollback", options({ version: "1" }), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("--version 1: not warm (warm: 2, the latest versions that served here before 3)");
        // Only the stack's outputs were read: no update, no preview.
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it.each([
        [{ version: "9" }, "not in mlops:versions"],
        [{ version: "3" }, "already the pinned version"],
    ])("refuses %j before the engine starts: nothing opened, the file byte for byte the same", async (extra, message) => {
        const before = readFileSync(file);
        const error = await runPinChange("rollback", options(extra), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain(message);
        expect(opened).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("asks on a terminal without --yes, and changes nothing when the answer is no", async () => {
        const before = readFileSync(file);
        const questions: string[] = [];
        const confirm = (question: string) => {
            questions.push(question);
            return Promise.resolve(false);
        };
        await expect(runPinChange("rollback", options({ yes: false }), deps({ confirm }))).rejects.toThrow("not confirmed; nothing changed");
        expect(questions).toEqual(["Roll back fraud-detector on stack prod to 2?"]);
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("refuses without --yes when there is no terminal to ask on", async () => {
        await expect(runPinChange("rollback", options({ yes: false }), deps())).rejects.toThrow("pass --yes");
        expect(opened).toEqual([]);
    });

    it("when another update holds the stack, never cancels it, leaves the file as it was and reports the holder", async () => {
        const before = readFileSync(file);
        stack.upError = new StackBusyError("the stack is currently locked by 1 lock(s): created by alice@ci (pid 4242) at 2026-11-27T08:59:00Z");
        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StackBusyError);
        expect((error as Error).message).toContain("created by alice@ci (pid 4242)");
        expect((error as Error).message).toContain("mlops never cancels it");
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("refuses a second rollback while the first runs (exit 1, the first named), and the file ends as the first left it", async () => {
        // The first run's update stays in the engine until released.
        let finishFirst = () => {};
        const upStarted = new Promise<void>((started) => {
            const up = stack.up.bind(stack);
            stack.up = (upOptions) => {
                started();
                return new Promise((resolve) => (finishFirst = () => resolve(up(upOptions))));
            };
        });
        const first = runPinChange("rollback", options({ reason: "first" }), deps());
        await upStarted;
        const duringFirst = readFileSync(file, "utf8");

        const other = { pid: process.pid + 1, host: "vm", user: "bob", now: () => new Date(), isRunning: () => true };
        const second = await runPinChange("rollback", options({ reason: "second" }), deps({ lockEnvironment: other })).catch((e: unknown) => e);
        expect(second).toBeInstanceOf(StackFileLockedError);
        expect((second as Error).message).toContain(`mlops rollback (pid ${process.pid}`);
        expect(readFileSync(file, "utf8")).toBe(duringFirst);

        finishFirst();
        expect((await first).result).toBe("succeeded");
        expect(stack.calls.filter((call) => call.op === "up").map((call) => call.options.message)).toEqual(["rollback 3 -> 2: first"]);
        expect(rawConfigFromStackFile(file)).toMatchObject({ pinned: "2", quarantined: ["3"] });
        expect(existsSync(`${file}.lock`)).toBe(false);
    });

    describe("after an update that was cut short (the engine killed mid-update)", () => {
        const servicePending = {
            operation: "updating",
            type: "kubernetes:core/v1:Service",
            name: "fraud-detector-service",
            urn: "urn:pulumi:prod::mlops::x$kubernetes:core/v1:Service::fraud-detector-service",
        };
        const deadEngineLock = () =>
            new StackBusyError(
                "the stack is currently locked by 1 lock(s). file:///state/.pulumi/locks/x.json: created by root@vm (pid 4242) at 2026-11-27T08:59:00Z",
            );
        /** This host is `vm`; pid 4242 runs only where a test says so. */
        const host = (running: boolean, name = "vm") => ({
            pid: process.pid,
            host: name,
            user: "root",
            now: () => new Date(),
            isRunning: (pid: number) => pid === process.pid || running,
        });

        it("names the unfinished operations, removes the dead engine's lock, reads them back, then runs the update", async () => {
            stack.pending = [servicePending];
            stack.repairErrors.push(deadEngineLock());
            const result = await runPinChange("rollback", options(), deps({ lockEnvironment: host(false) }));
            expect(result.result).toBe("succeeded");
            expect(stack.calls.map((call) => call.op)).toEqual(["repair", "cancel", "repair", "up"]);
            expect(stack.calls[0].urns).toEqual([servicePending.urn]);
            expect(stack.calls[1].urns).toEqual(["/state/.pulumi/locks/x.json"]); // that lock file only
            // The file changes only after the repair.
            expect(rawConfigFromStackFile(file).pinned).toBe("2");
            expect(stack.calls[2].fileText).toContain('mlops:pinned: "3"');
            expect(output.stderr).toContain("1 operation never finished (updating kubernetes:core/v1:Service fraud-detector-service)");
            expect(output.stderr).toContain("is no longer running (pid 4242 on vm, since 2026-11-27T08:59:00Z)");
        });

        it("asks, changing nothing, when a rollback was cut short after the stack recorded its pin (finish it, or roll back further?)", async () => {
            // The outputs are written before the deletes: the engine died deleting the old version.
            writeFileSync(
                file,
                readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"').replace("mlops:quarantined: []", 'mlops:quarantined: ["3"]'),
            );
            stack.outputsAfterUp = {
                target: "sagemaker",
                pinnedVersion: "2",
                quarantineLedger: { "3": { rolledBackTo: "2", at: "2026-11-27T08:00:00.000Z", reason: "5xx" } },
            };
            stack.pending = [{ ...servicePending, operation: "deleting" }];
            const before = readFileSync(file);
            const error = await runPinChange("rollback", options(), deps({ lockEnvironment: host(false) })).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(BadInputError);
            expect((error as Error).message).toContain("did not finish (1 operation left pending), and the stack already runs 2");
            expect((error as Error).message).toContain("run mlops deploy --stack prod --version 2");
            expect(stack.calls).toEqual([]);
            expect(readFileSync(file).equals(before)).toBe(true);

            // The same after a failed update with nothing pending.
            stack.pending = [];
            stack.history_ = [{ kind: "update", startTime: new Date(), result: "failed", message: "rollback 3 -> 2: 5xx" }];
            expect(String(await runPinChange("rollback", options(), deps()).catch((e: unknown) => e))).toContain("did not finish (it failed)");
            // Only the newest update is read: a rollback does not page through the whole history.
            expect(stack.historyLimits).toEqual([1]);

            // The way the message gives: the update at 2 runs again, after the repair.
            stack.pending = [{ ...servicePending, operation: "deleting" }];
            const result = await runPinChange("deploy", options({ version: "2" }), deps({ lockEnvironment: host(false) }));
            expect(result).toMatchObject({ kind: "deploy", from: "2", to: "2", result: "succeeded" });
            expect(stack.calls.map((call) => call.op)).toEqual(["repair", "up"]);
            expect(stack.calls[1].options.message).toBe("deploy 2 -> 2: finishing an update that did not complete");
        });

        it("removes a dead engine's lock in front of the update too", async () => {
            stack.upErrors.push(deadEngineLock());
            const result = await runPinChange("rollback", options(), deps({ lockEnvironment: host(false) }));
            expect(result.result).toBe("succeeded");
            expect(stack.calls.map((call) => call.op)).toEqual(["up", "cancel", "up"]);
        });

        it("leaves a dead engine's lock alone in a backend other than a local directory (pulumi cancel would remove every lock)", async () => {
            stack.upErrors.push(new StackBusyError("s3://bucket/.pulumi/locks/x.json: created by root@vm (pid 4242) at 2026-11-27T08:59:00Z"));
            stack.lockRemovable = false;
            const error = await runPinChange("rollback", options(), deps({ lockEnvironment: host(false) })).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(StackBusyError);
            expect((error as Error).message).toContain("pulumi cancel removes the lock");
            expect(stack.calls.map((call) => call.op)).toEqual(["up", "cancel"]);
        });

        it("never cancels a lock whose engine still runs, or one from another host; the file stays as it was", async () => {
            for (const environment of [host(true), host(false, "laptop")]) {
                stack.calls.length = 0;
                stack.pending = [servicePending];
                stack.repairErrors.push(deadEngineLock());
                const before = readFileSync(file);
                const error = await runPinChange("rollback", options(), deps({ lockEnvironment: environment })).catch((e: unknown) => e);
                expect(error).toBeInstanceOf(StackBusyError);
                expect(stack.calls.map((call) => call.op)).toEqual(["repair"]);
                expect(readFileSync(file).equals(before)).toBe(true);
            }
        });

        it("a dry run reports the unfinished operations and repairs nothing", async () => {
            stack.pending = [servicePending];
            await runPinChange("rollback", options({ dryRun: true }), deps({ lockEnvironment: host(false) }));
            expect(stack.calls.map((call) => call.op)).toEqual(["preview"]);
            expect(output.stderr).toContain("A dry run changes nothing");
        });
    });

    it("reports a failed update as a failure (exit 1), keeps the new pin to finish later, and tells the team", async () => {
        stack.upError = new Error("kubernetes:apps/v1:Deployment fraud-detector-2: the Deployment did not become ready");
        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain("finish it with mlops rollback --stack prod (or pulumi up --stack prod)");
        expect(rawConfigFromStackFile(file).pinned).toBe("2");
        expect(notices.map((n) => n.notice.result)).toEqual(["failed"]);
        expect(notices[0].notice.detail).toContain("did not become ready");
    });

    it("finishes a rollback that did not complete when run again, rather than rolling back from a version that never served", async () => {
        // The stack still runs 3 and its ledger never saw the rollback: the update was cut short.
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3" };
        stack.upError = new Error("Command was killed with SIGKILL (Forced termination): pulumi up");
        await runPinChange("rollback", options({ reason: "5xx" }), deps()).catch(() => undefined);
        const afterFailure = readFileSync(file, "utf8");
        expect(rawConfigFromStackFile(file)).toMatchObject({ pinned: "2", quarantined: ["3"] });

        stack.upError = undefined;
        const result = await runPinChange("rollback", options(), deps());
        expect(result).toMatchObject({ kind: "rollback", from: "3", to: "2", result: "succeeded" });
        const up = stack.calls.filter((call) => call.op === "up").at(-1);
        expect(up?.options.message).toBe("rollback 3 -> 2: finishing a rollback that did not complete");
        expect(up?.options.rollbackEvent).toMatchObject({ from: "3", to: "2" });
        expect(output.stderr).toContain("The stack file already pins 2, but the stack still runs 3");
        expect(readFileSync(file, "utf8")).toBe(afterFailure);
    });

    it("rolls back from the pin as usual once the stack runs it, even with versions quarantined", async () => {
        stack.outputsAfterUp = {
            target: "sagemaker",
            pinnedVersion: "2",
            quarantineLedger: { "3": { rolledBackTo: "2", at: "2026-11-27T08:00:00.000Z", reason: "x" } },
        };
        writeFileSync(
            file,
            readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"').replace("mlops:quarantined: []", 'mlops:quarantined: ["3"]'),
        );
        const result = await runPinChange("rollback", options(), deps());
        expect(result).toMatchObject({ from: "2", to: "1", result: "succeeded" });
        expect(output.stderr).not.toContain("did not finish");
    });

    it("fails loudly when what serves is not what is pinned", async () => {
        verification = { ok: false, detail: "the endpoint serves config fraud-detector-config-3-x, not fraud-detector-config-2-y of version 2" };
        const error = await runPinChange("rollback", options(), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain("what serves is not what is pinned");
        expect(notices.map((n) => n.notice.result)).toEqual(["failed"]);
    });

    it("turns a verification that cannot reach the platform into a failed, notified result (exit 1), not a crash", async () => {
        const error = await runPinChange(
            "rollback",
            options(),
            deps({ verifierFor: () => ({ verify: () => Promise.reject(new Error("ExpiredTokenException")) }) }),
        ).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toContain("could not check what serves: ExpiredTokenException");
        expect(notices.map((n) => n.notice.result)).toEqual(["failed"]);
    });

    it("still succeeds when the notification cannot be sent, with a warning", async () => {
        const result = await runPinChange("rollback", options(), deps({ notify: () => Promise.reject(new Error("connection refused")) }));
        expect(result.result).toBe("succeeded");
        expect(output.stderr).toContain("warning: could not notify https://hooks.example.com/…: connection refused");
    });

    it("prints one progress line per resource operation with the elapsed time", async () => {
        stack.up = (opts: OperationOptions) => {
            opts.onEvent?.({
                sequence: 1,
                timestamp: 0,
                resourcePreEvent: {
                    metadata: {
                        op: "update",
                        urn: "urn:pulumi:prod::mlops::mlops:sagemaker:ModelEndpoint$aws:sagemaker/endpoint:Endpoint::fraud-detector-endpoint",
                        type: "aws:sagemaker/endpoint:Endpoint",
                        provider: "",
                    },
                },
            });
            return Promise.resolve({ result: "succeeded", resourceChanges: { update: 1 }, outputs: {} });
        };
        await runPinChange("rollback", options(), deps());
        expect(output.stderr).toContain("0.0s  updating aws:sagemaker/endpoint:Endpoint fraud-detector-endpoint");
    });
});

describe("a dry run never writes the stack file (issue 23, item 1)", () => {
    /** The stack file as the preview found it, and the edited copy it was given. */
    interface SeenByPreview {
        readonly fileBytes: Buffer;
        readonly fileMtimeNs: bigint;
        readonly configFile: string;
        readonly directoryMode: number;
        readonly configFileMode: number;
        readonly signal?: AbortSignal;
    }
    /** A preview that records what it saw (the engine would read `configFile`), then answers as the FakeStack does or throws `error`. */
    function watchPreview(error?: Error): SeenByPreview[] {
        const seen: SeenByPreview[] = [];
        const preview = stack.preview.bind(stack);
        stack.preview = async (previewOptions) => {
            const configFile = previewOptions.configFile as string;
            seen.push({
                fileBytes: readFileSync(file),
                fileMtimeNs: statSync(file, { bigint: true }).mtimeNs,
                configFile,
                directoryMode: statSync(path.dirname(configFile)).mode & 0o777,
                configFileMode: statSync(configFile).mode & 0o777,
                signal: previewOptions.signal,
            });
            const result = await preview(previewOptions);
            if (error !== undefined) throw error;
            return result;
        };
        return seen;
    }
    const stackFileConfig = (text: string) => (parseYaml(text) as { config: Record<string, unknown> }).config;

    it("previews from an edited copy: the stack file's bytes and mtime stay as they were during and after the preview, and the copy is removed", async () => {
        // GIVEN the fixture pinning 3 (2 served before it)
        const before = readFileSync(file);
        const mtimeBefore = statSync(file, { bigint: true }).mtimeNs;
        const seen = watchPreview();

        // WHEN
        const result = await runPinChange("rollback", options({ dryRun: true }), deps());

        // THEN the preview ran on a private copy that pins the target and quarantines the version left
        expect(result).toMatchObject({ result: "previewed", dryRun: true, from: "3", to: "2", changes: { update: 1, same: 6 } });
        expect(stack.calls.map((c) => c.op)).toEqual(["preview"]);
        const [during] = seen;
        expect(during.fileBytes.equals(before)).toBe(true);
        expect(during.fileMtimeNs).toBe(mtimeBefore);
        expect(path.basename(during.configFile)).toBe("Pulumi.prod.yaml");
        expect(path.dirname(path.dirname(during.configFile))).toBe(path.resolve(tmpdir()));
        expect([during.directoryMode, during.configFileMode]).toEqual([0o700, 0o600]);
        expect(during.signal?.aborted).toBe(false);
        const copy = stack.calls[0].configFileText as string;
        expect(stackFileConfig(copy)).toEqual({ ...stackFileConfig(before.toString()), "mlops:pinned": "2", "mlops:quarantined": ["3"] });
        // ...and the stack file is as it was, the copy gone, no notice sent.
        expect(readFileSync(file).equals(before)).toBe(true);
        expect(statSync(file, { bigint: true }).mtimeNs).toBe(mtimeBefore);
        expect(existsSync(path.dirname(during.configFile))).toBe(false);
        expect(notices).toEqual([]);
        expect(output.stderr).toContain(`Dry run: previewing only, from an edited copy; ${file} is not changed.`);
    });

    it("keeps the secrets provider's salt and encrypted values in the copy (the engine decrypts with them), byte for byte", async () => {
        const salt = "encryptionsalt: v1:K6RzsLhG0Rc=:v1:9Jd9ccQK6Bv/TfE3:rL1Q8E1CewS5rFLwhXbbkHYCYOe1Tg==\n";
        const secret = "  fraud-app:dbPassword:\n    secure: v1:Xx7fJ4EG7AE9QdEm:Wj0Wmy0TZDZ3oQ8jIWV8Z2Pl8pBzFw==\n";
        writeFileSync(file, `${salt}${readFileSync(file, "utf8")}${secret}`);
        const before = readFileSync(file);
        watchPreview();

        await runPinChange("rollback", options({ dryRun: true }), deps());

        const copy = stack.calls[0].configFileText as string;
        expect(copy.startsWith(salt)).toBe(true);
        expect(copy.endsWith(secret)).toBe(true);
        expect(copy).toContain('mlops:pinned: "2"');
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("a deploy --dry-run previews the forward pin the same way", async () => {
        // GIVEN a stack file pinning 2 of 3, the stack running 2
        writeFileSync(file, readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"'));
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "2" };
        const before = readFileSync(file);
        const seen = watchPreview();

        const result = await runPinChange("deploy", options({ dryRun: true, version: "3" }), deps());

        expect(result).toMatchObject({ kind: "deploy", result: "previewed", from: "2", to: "3" });
        expect(seen[0].fileBytes.equals(before)).toBe(true);
        expect(stackFileConfig(stack.calls[0].configFileText as string)["mlops:pinned"]).toBe("3");
        expect(readFileSync(file).equals(before)).toBe(true);
        expect(existsSync(path.dirname(seen[0].configFile))).toBe(false);
    });

    it("removes the copy when the preview fails, and reports the engine's own lines once (exit 1), the stack file untouched", async () => {
        const before = readFileSync(file);
        const seen = watchPreview(new EngineCommandError(["error: could not load plugin for kubernetes provider"], 255));

        const error = await runPinChange("rollback", options({ dryRun: true }), deps()).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(OperationFailedError);
        expect((error as Error).message).toBe(
            "the preview of the rollback to 2 failed: error: could not load plugin for kubernetes provider\nNothing was changed.",
        );
        expect((error as { result?: unknown }).result).toMatchObject({ dryRun: true, result: "failed" });
        expect(existsSync(path.dirname(seen[0].configFile))).toBe(false);
        expect(readFileSync(file).equals(before)).toBe(true);
        expect(existsSync(`${file}.lock`)).toBe(false);
    });

    it("removes the copy when the preview throws anything else, and lets it through as it is", async () => {
        const seen = watchPreview(new Error("the events server closed"));
        await expect(runPinChange("rollback", options({ dryRun: true }), deps())).rejects.toThrow("the events server closed");
        expect(existsSync(path.dirname(seen[0].configFile))).toBe(false);
    });

    it("names itself a dry run in the stack file's lock; a run that takes over a killed dry run's lock says there is nothing to pick up", async () => {
        let lockDuringPreview = "";
        stack.preview = () => {
            lockDuringPreview = readFileSync(`${file}.lock`, "utf8");
            return Promise.resolve({ changeSummary: {} });
        };
        await runPinChange("rollback", options({ dryRun: true, version: "2" }), deps());
        expect(JSON.parse(lockDuringPreview)).toMatchObject({ command: "rollback --version 2 --dry-run" });

        // A dry run killed (SIGKILL) left its lock; its pid is gone.
        const killed = { pid: 4_000_000, host: "vm", user: "root", now: () => new Date("2026-11-27T08:59:00.000Z"), isRunning: () => false };
        acquireStackLock(file, "rollback --dry-run", killed);
        const next = { ...killed, pid: process.pid, isRunning: (pid: number) => pid === process.pid };
        await runPinChange("rollback", options({ dryRun: true }), deps({ lockEnvironment: next }));
        expect(output.stderr).toContain(
            "Took over the stack file's lock from mlops rollback --dry-run (pid 4000000, since 2026-11-27T08:59:00.000Z), which is no longer running: a dry run, stopped before it finished; it changed nothing, so there is nothing to pick up.",
        );
        expect(output.stderr).not.toContain("picks up what it left");
        expect(output.stderr).toContain("Rollback of fraud-detector on stack prod: 3 -> 2");
    });
});

describe("the stack's quarantine ledger against a stale stack file", () => {
    const ledger = { quarantineLedger: { "3": { at: "2026-11-27T08:00:00.000Z", reason: "alarm", rolledBackTo: "2" } } };

    it("refuses to deploy a version the stack rolled back from, though the file does not list it (exit 2, nothing written)", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"'));
        const before = readFileSync(file);
        stack.outputsAfterUp = ledger;
        const error = await runPinChange("deploy", options({ version: "3" }), deps()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("--version 3: quarantined");
        expect((error as Error).message).toContain("from the stack's quarantine ledger: 3 rolled back at 2026-11-27T08:00:00.000Z");
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("skips a ledger version when choosing the default rollback target", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("mlops:warm: 1", "mlops:warm: 2"));
        stack.outputsAfterUp = { quarantineLedger: { "2": { at: "2026-11-26T00:00:00.000Z", reason: "old incident" } } };
        const result = await runPinChange("rollback", options(), deps());
        expect(result.to).toBe("1");
    });

    it("with --force, deploys a ledger version and writes the release the program needs", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"'));
        stack.outputsAfterUp = ledger;
        await runPinChange("deploy", options({ version: "3", force: true }), deps());
        expect(rawConfigFromStackFile(file).rollback).toEqual({ notify: "https://hooks.example.com/mlops", allowRedeploy: ["3"] });
    });
});

describe("mlops deploy", () => {
    it("deploys the pinned version of a stack that was never deployed, and refuses it once deployed", async () => {
        stack.outputsAfterUp = {};
        const first = await runPinChange("deploy", options({ version: "3" }), deps());
        expect(first).toMatchObject({ kind: "deploy", from: "3", to: "3", result: "succeeded" });
        expect(stack.calls[0].options.message).toBe("deploy 3 -> 3");
        stack.outputsAfterUp = { pinnedVersion: "3" };
        await expect(runPinChange("deploy", options({ version: "3" }), deps())).rejects.toThrow("--version 3: already the pinned version");
    });

    it("before a stack's first update, refuses a program that does not return the mlops stack output, touching nothing", async () => {
        // GIVEN a stack never deployed, and a program (run under the mock runtime, stood for here) that returns other outputs only
        stack.outputsAfterUp = {};
        const asked: string[] = [];
        const programOutputNames = (dir: string, stackFile: string, stackName: string) => {
            asked.push(`${dir} ${stackFile} ${stackName}`);
            return Promise.resolve(["releaseNote"]);
        };
        const before = readFileSync(file, "utf8");
        // WHEN deployed THEN exit 2 naming the line to add, with no update and the file unchanged
        const run = runPinChange("deploy", options({ version: "3" }), deps({ programOutputNames }));
        await expect(run).rejects.toThrow(BadInputError);
        await expect(run).rejects.toThrow("returns no 'mlops' stack output (it returns releaseNote)");
        await expect(run).rejects.toThrow("return { mlops: serving.stackOutput }");
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(asked[0]).toBe(`${projectDir} ${file} prod`);
    });

    it("before a stack's first update, goes ahead when the program returns mlops, and when the check cannot run (saying so)", async () => {
        stack.outputsAfterUp = {};
        await runPinChange("deploy", options({ version: "3" }), deps({ programOutputNames: () => Promise.resolve(["mlops", "releaseNote"]) }));
        expect(stack.calls.map((call) => call.op)).toEqual(["up"]);
        stack.calls.length = 0;
        await runPinChange(
            "deploy",
            options({ version: "3" }),
            deps({ programOutputNames: () => Promise.reject(new Error("unexpected provider call aws:ec2/getVpc:getVpc")) }),
        );
        expect(stack.calls.map((call) => call.op)).toEqual(["up"]);
        expect(output.stderr).toContain(
            "could not check under the mock runtime that the program exports 'mlops' (unexpected provider call aws:ec2/getVpc:getVpc)",
        );
    });

    it("does not run the program again for a stack that has its mlops output", async () => {
        let asked = 0;
        const programOutputNames = () => {
            asked += 1;
            return Promise.resolve(["mlops"]);
        };
        await runPinChange("rollback", options({ version: "2" }), deps({ programOutputNames }));
        expect(asked).toBe(0);
        expect(stack.calls.map((call) => call.op)).toEqual(["up"]);
    });

    it("pins forward with a deploy message and no rollback event", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"'));
        const result = await runPinChange("deploy", options({ version: "3" }), deps());
        expect(result).toMatchObject({ kind: "deploy", from: "2", to: "3", result: "succeeded" });
        expect(stack.calls[0].options.message).toBe("deploy 2 -> 3");
        expect(stack.calls[0].options.rollbackEvent).toBeUndefined();
        expect(rawConfigFromStackFile(file).pinned).toBe("3");
    });

    it("with --force, releases a quarantined version in mlops:rollback.allowRedeploy so the program's ledger lets it through", async () => {
        writeFileSync(
            file,
            readFileSync(file, "utf8").replace('mlops:pinned: "3"', 'mlops:pinned: "2"').replace("mlops:quarantined: []", 'mlops:quarantined: ["3"]'),
        );
        await runPinChange("deploy", options({ version: "3", force: true }), deps());
        const config = rawConfigFromStackFile(file);
        expect(config.quarantined).toEqual([]);
        expect(config.rollback).toEqual({ notify: "https://hooks.example.com/mlops", allowRedeploy: ["3"] });
    });
});

describe("the CLI over the flow (exit codes and JSON)", () => {
    const cliDeps = (overrides: Partial<PinChangeDeps> = {}): CliDeps => ({
        openStack: deps().openStack,
        selectedStack: () => Promise.resolve("prod"),
        pinChange: (io: Io) => Promise.resolve(deps({ stdout: io.stdout, stderr: io.stderr, ...overrides })),
    });
    const runWith = async (overrides: Partial<PinChangeDeps>, ...args: string[]) => {
        const captured = { stdout: "", stderr: "" };
        const io: Io = { stdout: (t) => (captured.stdout += t), stderr: (t) => (captured.stderr += t), cwd: projectDir };
        const code = await main(["node", "mlops", ...args], io, cliDeps(overrides));
        return { code, ...captured };
    };
    const run = (...args: string[]) => runWith({}, ...args);

    it("says in one sentence what the command runs the Pulumi CLI for when it cannot be started (exit 1, not bad input)", async () => {
        // Stands for openAutomationStack when the spawn of pulumi fails (rollback/engineErrors.ts translates it).
        const openStack = () => Promise.reject(new PulumiCliUnavailableError("ENOENT"));
        const missing: CliDeps = { ...cliDeps({ openStack }), openStack };
        const runMissing = async (...args: string[]) => {
            const captured = { stdout: "", stderr: "" };
            const io: Io = { stdout: (t) => (captured.stdout += t), stderr: (t) => (captured.stderr += t), cwd: projectDir };
            return { code: await main(["node", "mlops", ...args], io, missing), ...captured };
        };
        const status = await runMissing("status", "--stack", "prod");
        expect(status).toEqual({
            code: 1,
            stdout: "",
            stderr: "mlops: the Pulumi CLI (pulumi) is not on PATH, and mlops status reads the stack's outputs and update history through it: install it (https://www.pulumi.com/docs/install/) or add the directory that holds it to PATH, then run again\n",
        });
        expect((await runMissing("rollback", "--stack", "prod", "--dry-run")).stderr).toContain(
            ", and mlops rollback --dry-run runs the preview through it: install it",
        );
        const update = await runMissing("deploy", "--stack", "prod", "--version", "3", "--yes", "--json");
        expect(update.code).toBe(1);
        expect(JSON.parse(update.stdout)).toMatchObject({
            ok: false,
            error: { kind: "failed", message: expect.stringContaining(", and mlops deploy reads the stack and runs the update through it") as string },
        });
    });

    it("exits 0 with the result as JSON, using the selected stack when --stack is absent", async () => {
        const { code, stdout, stderr } = await run("rollback", "--yes", "--json", "--reason", "p99");
        expect(code, stderr).toBe(0);
        expect(JSON.parse(stdout)).toMatchObject({ ok: true, kind: "rollback", stack: "prod", from: "3", to: "2", result: "succeeded" });
    });

    it("exits 2 for a refusal and 1 when another update holds the stack", async () => {
        expect((await run("rollback", "--stack", "prod", "--version", "1", "--yes")).code).toBe(2);
        stack.upError = new StackBusyError("created by bob");
        const busy = await run("rollback", "--stack", "prod", "--yes");
        expect(busy.code).toBe(1);
        expect(busy.stderr).toContain("another update holds the stack: created by bob");
    });

    it("exits 1 with the failed result as JSON when verification fails", async () => {
        verification = { ok: false, detail: "the Service selects version 3, not 2" };
        const { code, stdout } = await run("rollback", "--stack", "prod", "--yes", "--json");
        expect(code).toBe(1);
        expect(JSON.parse(stdout)).toMatchObject({
            ok: false,
            result: "failed",
            verification: "the Service selects version 3, not 2",
            error: { kind: "failed" },
        });
    });

    it("exits 1 and prints why when the real SageMaker check finds the endpoint back on the config it left", async () => {
        stack.outputsAfterUp = {
            ...stack.outputsAfterUp,
            sagemaker: {
                endpointName: "fraud-detector-endpoint-1a2b3c4",
                endpointConfigNames: { "2": "fraud-detector-config-2-abc", "3": "fraud-detector-config-3-def" },
            },
        };
        // Stands for the SageMaker API's DescribeEndpoint: SageMaker rolled the update back to version 3's config.
        const asked: unknown[] = [];
        const describeEndpoint = {
            send: (command: DescribeEndpointCommand) => {
                asked.push(command.input);
                return Promise.resolve({ EndpointStatus: "InService", EndpointConfigName: "fraud-detector-config-3-def" });
            },
        };
        const reason =
            "the endpoint serves config fraud-detector-config-3-def, not fraud-detector-config-2-abc of version 2; SageMaker may have rolled the update back";

        const { code, stdout, stderr } = await runWith({ verifierFor: () => new SageMakerVerifier(describeEndpoint) }, "rollback", "--stack", "prod", "--yes");

        expect(code, stderr).toBe(1);
        expect(asked).toEqual([{ EndpointName: "fraud-detector-endpoint-1a2b3c4" }]);
        expect(stderr).toContain(`mlops: the update finished, but what serves is not what is pinned: ${reason}\n`);
        expect(stdout).toBe("");
        expect(notices.map((n) => [n.notice.result, n.notice.detail])).toEqual([["failed", reason]]);
    });

    it("shows status and history from the stack's outputs and updates", async () => {
        stack.outputsAfterUp = {
            target: "sagemaker",
            model: "fraud-detector",
            pinnedVersion: "2",
            warmVersions: ["1", "2"],
            sagemaker: { endpointName: "fraud-detector-endpoint-abc" },
            quarantineLedger: { "3": { at: "2026-11-27T09:00:00.000Z", reason: "5xx", rolledBackTo: "2" } },
            database: {
                servingIdentifier: "fraud-features",
                snapshotIdentifiers: ["fraud-detector-v2-to-v3-20261126120000", "fraud-detector-v3-to-v2-20261127090000"],
            },
            databaseSnapshots: [
                {
                    identifier: "fraud-detector-v2-to-v3-20261126120000",
                    kind: "instance",
                    database: "fraud-features",
                    from: "2",
                    to: "3",
                    at: "2026-11-26T12:00:00.000Z",
                },
                {
                    identifier: "fraud-detector-v3-to-v2-20261127090000",
                    kind: "instance",
                    database: "fraud-features",
                    from: "3",
                    to: "2",
                    at: "2026-11-27T09:00:00.000Z",
                },
            ],
        };
        stack.history_ = [
            { kind: "update", startTime: new Date("2026-11-27T09:00:00Z"), result: "succeeded", message: "rollback 3 -> 2: 5xx", pinned: "2" },
            { kind: "update", startTime: new Date("2026-11-26T12:00:00Z"), result: "succeeded", message: "deploy 2 -> 3", pinned: "3" },
        ];
        const status = await run("status", "--stack", "prod");
        expect(status.code).toBe(0);
        expect(status.stdout).toContain("Stack prod: fraud-detector on sagemaker, serving version 2");
        expect(status.stdout).toContain("quarantined:   3 (5xx, 2026-11-27T09:00:00.000Z)");
        expect(status.stdout).toContain(
            "database:      fraud-features; last snapshot fraud-detector-v3-to-v2-20261127090000 (3 -> 2, 2026-11-27T09:00:00.000Z), 2 in all",
        );
        expect(status.stdout).toContain("last update:   2026-11-27T09:00:00.000Z rollback succeeded: rollback 3 -> 2: 5xx");
        const history = await run("history", "--stack", "prod", "--json");
        expect((JSON.parse(history.stdout) as { ok: boolean; updates: unknown[] }).ok).toBe(true);
        expect((JSON.parse(history.stdout) as { updates: unknown[] }).updates).toEqual([
            {
                time: "2026-11-27T09:00:00.000Z",
                kind: "rollback",
                pinned: "2",
                result: "succeeded",
                message: "rollback 3 -> 2: 5xx",
                change: { kind: "rollback", from: "3", to: "2", reason: "5xx" },
            },
            {
                time: "2026-11-26T12:00:00.000Z",
                kind: "deploy",
                pinned: "3",
                result: "succeeded",
                message: "deploy 2 -> 3",
                change: { kind: "deploy", from: "2", to: "3" },
            },
        ]);
    });
});

describe("mlops rollback goes to the version that served before (the stack's serving record)", () => {
    it("without --version, goes to the version that served just before the pin, skipping a catalog neighbour that never served", async () => {
        // 1 served, then a deploy went straight to 3: 2 never took traffic.
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", servingHistory: [{ version: "1" }, { version: "3" }] };
        const result = await runPinChange("rollback", options(), deps());
        expect(result).toMatchObject({ from: "3", to: "1", result: "succeeded" });
        expect(output.stderr).toContain("Rollback of fraud-detector on stack prod: 3 -> 1 (warm: a pointer move, nothing to build first).");
        expect(rawConfigFromStackFile(file)).toMatchObject({ pinned: "1", quarantined: ["3"] });
    });

    it("refuses --version 2, which never served here, as not warm, and changes nothing", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", servingHistory: [{ version: "1" }, { version: "3" }] };
        const before = readFileSync(file);
        await expect(runPinChange("rollback", options({ version: "2" }), deps())).rejects.toThrow(
            "--version 2: not warm (warm: 1, the latest versions that served here before 3)",
        );
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });

    it("with no record beyond the pin (a first deploy), takes the catalog's previous version and says so before it runs", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3", servingHistory: [{ version: "3" }] };
        const result = await runPinChange("rollback", options(), deps());
        expect(result).toMatchObject({ from: "3", to: "2" });
        expect(output.stderr).toContain(
            "Version 2 has not served on this stack: nothing but 3 has served on this stack yet (a first deploy, or a stack last updated before mlops-rollback kept a serving record), so version 2, the catalog's previous one, is kept warm as the rollback target though it has not served here.",
        );
    });

    it("refuses, naming the record, when everything that served before the pin is quarantined, although the catalog has an earlier version", async () => {
        stack.outputsAfterUp = {
            target: "sagemaker",
            pinnedVersion: "3",
            servingHistory: [{ version: "2" }, { version: "3" }],
            quarantineLedger: { "2": { at: "2026-11-20T00:00:00.000Z", reason: "5xx", rolledBackTo: "1" } },
        };
        const before = readFileSync(file);
        await expect(runPinChange("rollback", options(), deps())).rejects.toThrow(
            "no warm version to roll back to from 3: no earlier version that served on this stack may be pinned again (served here before: 2; quarantined: 2). Pass --version <v> --allow-cold",
        );
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file).equals(before)).toBe(true);
    });
});

describe("what a pin change says it is", () => {
    it("calls the first deploy of a new stack (no mlops output yet) its first update, not an update that did not finish", async () => {
        stack.outputsAfterUp = {};
        const result = await runPinChange("deploy", options({ version: "3" }), deps());
        expect(result).toMatchObject({ from: "3", to: "3", result: "succeeded" });
        expect(output.stderr).toContain("The stack has not been deployed yet: this is its first update.");
        expect(output.stderr).not.toContain("did not finish");
    });

    it("says the last update did not finish when the stack runs the pin and its last update failed", async () => {
        stack.outputsAfterUp = { target: "sagemaker", pinnedVersion: "3" };
        stack.history_ = [{ kind: "update", startTime: new Date(), result: "failed", message: "deploy 2 -> 3" }];
        await runPinChange("deploy", options({ version: "3" }), deps());
        expect(output.stderr).toContain("The last update to 3 did not finish; this runs it again.");
        expect(output.stderr).not.toContain("first update");
    });
});

describe("every refusal of the stack file's write comes before anything changes (the restore, a switch, the update)", () => {
    /** Stands for RDS: the snapshot of 2 -> 3 is available, and every restore is recorded. */
    function recordingRds(): { readonly rds: RdsPorts; readonly restores: string[] } {
        const restores: string[] = [];
        const rds: RdsPorts = {
            describeSnapshot: () => Promise.resolve({ status: "available", createdAt: new Date("2026-11-27T08:30:10Z") } as never),
            describeDatabase: (_kind, identifier) =>
                Promise.resolve(restores.includes(identifier) ? { status: "available", address: "db.internal" } : undefined),
            placementOf: () => Promise.resolve({ deletionProtection: true } as never),
            restore: (plan) => Promise.resolve(void restores.push(plan.restoredDatabase)),
        };
        return { rds, restores };
    }
    const snapshot = (seq: number, from: string | null, to: string, at: string) => ({
        identifier: snapshotIdentifier("fraud-detector", "prod", seq, from, to),
        kind: "instance" as const,
        database: "fraud-features",
        from,
        to,
        at,
    });
    const aliasedDatabase = (text: string) =>
        text
            .replace("  mlops:database:\n    kind: instance\n    identifier: fraud-features\n    addressEnv: FEATURE_DB_HOST\n", "  mlops:database: *db\n")
            .replace("config:\n", "db: &db\n  kind: instance\n  identifier: fraud-features\n  addressEnv: FEATURE_DB_HOST\nconfig:\n");

    it.each([
        [
            "the stack file read-only (mode 444)",
            (f: string) => chmodSync(f, 0o444),
            /is read-only, so mlops will not rewrite it; nothing was changed: make it writable/,
        ],
        [
            "the stack file a symlink to a read-only file (mode 400)",
            (f: string) => {
                renameSync(f, `${f}.real`);
                chmodSync(`${f}.real`, 0o400);
                symlinkSync(`${f}.real`, f);
            },
            /is read-only, so mlops will not rewrite it; nothing was changed/,
        ],
        [
            "mlops:database an alias (*db), which restoredInto cannot be written into",
            (f: string) => writeFileSync(f, aliasedDatabase(readFileSync(f, "utf8"))),
            /mlops:database is a YAML alias \(\*db\).*; nothing was changed/,
        ],
    ])("rollback --restore-database with %s: exit 2, no restore, no update, the file unchanged", async (_, spoil, message) => {
        stack.outputsAfterUp = {
            target: "sagemaker",
            pinnedVersion: "3",
            servingHistory: [{ version: "2" }, { version: "3" }],
            databaseSnapshots: [snapshot(1, null, "2", "2026-11-27T07:00:00Z"), snapshot(2, "2", "3", "2026-11-27T08:30:00Z")],
        };
        spoil(file);
        const before = readFileSync(file, "utf8");
        const { rds, restores } = recordingRds();
        const error = await runPinChange(
            "rollback",
            options({ version: "2", restoreDatabase: true }),
            deps({ rds: () => rds, sleep: () => Promise.resolve() }),
        ).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toMatch(message);
        expect(restores).toEqual([]);
        expect(stack.calls.map((call) => call.op)).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(notices).toEqual([]);
    });

    it("a Kubernetes rollback to a hot standby with a read-only stack file: exit 2 before the Service is read, switched or released", async () => {
        writeFileSync(file, readFileSync(path.join(ROOT, "stacks", "Pulumi.kubernetes-example.yaml"), "utf8"));
        chmodSync(file, 0o444);
        const before = readFileSync(file, "utf8");
        stack.outputsAfterUp = {
            target: "kubernetes",
            pinnedVersion: "3",
            servingHistory: [{ version: "2" }, { version: "3" }],
            kubernetes: {
                namespace: "fraud",
                serviceName: "fraud-detector",
                serviceUid: "uid-1",
                deploymentNames: { "2": "fraud-detector-2", "3": "fraud-detector-3" },
            },
        };
        // Stands for the Kubernetes API server: any call at all is a failure of this test.
        const clusterCalls: string[] = [];
        const cluster = new Proxy({} as TrafficSwitch, {
            get: (_target, name) => () => {
                clusterCalls.push(String(name));
                return Promise.reject(new Error("not expected"));
            },
        });
        const error = await runPinChange("rollback", options({ version: "2" }), deps({ trafficSwitch: () => cluster })).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as Error).message).toContain("is read-only, so mlops will not rewrite it; nothing was changed");
        expect(clusterCalls).toEqual([]);
        expect(stack.calls.map((call) => call.op)).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
    });
});
