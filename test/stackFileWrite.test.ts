/**
 * How replaceFile writes, seen from the layer below: node:crypto's
 * randomBytes is made predictable (so a file can be planted at the very name
 * the writer will use) and node:fs's renameSync / fsyncSync are wrapped to
 * record their order or to fail like a full or foreign file system. Every
 * other call reaches the real file system in a temporary directory.
 */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { editStackFile } from "../config/stackFileEdit";

const layer = vi.hoisted(() => ({ calls: [] as string[], renameError: undefined as Error | undefined }));

vi.mock("node:crypto", async (importOriginal) => ({
    ...(await importOriginal<typeof import("node:crypto")>()),
    // Stands for an attacker who guessed the random name.
    randomBytes: (size: number) => Buffer.alloc(size, 0xab),
}));

vi.mock("node:fs", async (importOriginal) => {
    const real = await importOriginal<typeof import("node:fs")>();
    return {
        ...real,
        fsyncSync: (fd: number) => {
            layer.calls.push(real.fstatSync(fd).isDirectory() ? "fsync directory" : "fsync file");
            real.fsyncSync(fd);
        },
        renameSync: (from: fs.PathLike, to: fs.PathLike) => {
            layer.calls.push("rename");
            if (layer.renameError !== undefined) throw layer.renameError;
            real.renameSync(from, to);
        },
    };
});

const edit = { pinned: "2", quarantined: ["1", "3"], allowRedeploy: [] };
const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n';

describe("replaceFile: the temporary file", () => {
    let dir: string;
    let file: string;
    let guessed: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(tmpdir(), "mlops-stack-write-"));
        file = path.join(dir, "Pulumi.prod.yaml");
        fs.writeFileSync(file, text);
        guessed = path.join(dir, `.Pulumi.prod.yaml.${"ab".repeat(16)}.tmp`);
        layer.calls.length = 0;
        layer.renameError = undefined;
    });
    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is created exclusively: a symlink planted at its very name fails the write and redirects nothing", () => {
        const victim = path.join(dir, "victim.txt");
        fs.writeFileSync(victim, "keep me\n");
        fs.symlinkSync(victim, guessed);
        expect(() => editStackFile(file, edit)).toThrow(expect.objectContaining({ code: "EEXIST" }));
        expect(fs.readFileSync(victim, "utf8")).toBe("keep me\n");
        expect(fs.readFileSync(file, "utf8")).toBe(text);
        // Not ours, so not removed either.
        expect(fs.lstatSync(guessed).isSymbolicLink()).toBe(true);
        expect(layer.calls).toEqual([]);
    });

    it("is fsynced before it is renamed over the file, and the directory after", () => {
        editStackFile(file, edit);
        expect(layer.calls).toEqual(["fsync file", "rename", "fsync directory"]);
        expect(fs.readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    });

    it("is removed when the rename fails, and the file keeps its text", () => {
        layer.renameError = Object.assign(new Error("EXDEV: cross-device link not permitted"), { code: "EXDEV" });
        expect(() => editStackFile(file, edit)).toThrow("EXDEV");
        expect(fs.readFileSync(file, "utf8")).toBe(text);
        expect(fs.readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    });
});
