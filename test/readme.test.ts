/**
 * The README and docs/ are checked against the code:
 *
 * - every ```console block marked `<!-- checked by test/readme.test.ts: <stream>, exit <code> -->`
 *   is run (its `$ npx mlops ...` line, through the built bin, from the repository root) and
 *   its output compared exactly with what the command prints on that stream;
 * - every ```yaml block marked `<!-- checked by test/readme.test.ts: valid stack file -->` is
 *   written to a temporary file and must pass `mlops validate --config-file`;
 * - every ```console block in README.md carries such a mark (docs/ may show illustrative output
 *   of commands that need a real engine, with `...` where it varies, unmarked);
 * - every relative link and `#anchor` in README.md and docs/*.md resolves.
 *
 * Nothing is normalised in the compared output: the commands run offline, with PATH holding only
 * `node` (so no `pulumi` reads a stack, as on a newcomer's machine) and the rest of the environment
 * emptied but HOME, so their output does not vary. Needs `npm run build` first (as test/cli.test.ts).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const MLOPS = path.join(ROOT, "bin", "mlops.js");
const MARK = /^<!-- checked by test\/readme\.test\.ts: (.+) -->$/;
const DOCS = [
    "README.md",
    ...readdirSync(path.join(ROOT, "docs"))
        .filter((f) => f.endsWith(".md"))
        .sort()
        .map((f) => `docs/${f}`),
];

/** A fenced block: its info string, its lines, the mark before it (if any) and where it starts. */
interface Fence {
    readonly file: string;
    readonly line: number;
    readonly info: string;
    readonly body: string[];
    readonly mark: string | undefined;
}

/** Fenced blocks of a Markdown file, each with the `checked` mark on the line before it, if any. */
export function fences(file: string, text: string): Fence[] {
    const lines = text.split("\n");
    const found: Fence[] = [];
    for (let i = 0; i < lines.length; i++) {
        const open = /^```(\S*)\s*$/.exec(lines[i]);
        if (open === null) continue;
        const end = lines.indexOf("```", i + 1);
        if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code fence`);
        const mark = i > 0 ? MARK.exec(lines[i - 1])?.[1] : undefined;
        found.push({ file, line: i + 1, info: open[1], body: lines.slice(i + 1, end), mark });
        i = end;
    }
    return found;
}

/** `stdout, exit 0` -> the stream compared and the exit code expected. */
export function parseMark(mark: string): { stream: "stdout" | "stderr"; exit: number } {
    const m = /^(stdout|stderr), exit (\d+)$/.exec(mark);
    if (m === null) throw new Error(`unknown mark "${mark}": write "stdout, exit 0" or "stderr, exit 2"`);
    return { stream: m[1] as "stdout" | "stderr", exit: Number(m[2]) };
}

interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

// PATH with `node` alone: `mlops plan --stack` asks `pulumi` for the serving record when it can,
// and a `pulumi` on the tester's PATH (the sandbox's) would change what the plan says.
const nodeOnly = mkdtempSync(path.join(tmpdir(), "mlops-readme-path-"));
symlinkSync(process.execPath, path.join(nodeOnly, "node"));
afterAll(() => rmSync(nodeOnly, { recursive: true, force: true }));

// The README and docs/ show the same plan: run each command once (a plan takes 10-20 s).
const runs = new Map<string, Promise<Run>>();

function mlops(args: string[]): Promise<Run> {
    const key = JSON.stringify(args);
    const known = runs.get(key);
    if (known !== undefined) return known;
    const run = runMlops(args);
    runs.set(key, run);
    return run;
}

function runMlops(args: string[]): Promise<Run> {
    return new Promise((resolve) => {
        const env = { PATH: nodeOnly, HOME: process.env.HOME ?? tmpdir() };
        execFile(process.execPath, [MLOPS, ...args], { cwd: ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            resolve({ code, stdout, stderr });
        });
    });
}

const allFences = DOCS.flatMap((file) => fences(file, readFileSync(path.join(ROOT, file), "utf8")));
const consoleChecks = allFences.filter((f) => f.mark !== undefined && f.info === "console");
const stackFileChecks = allFences.filter((f) => f.mark === "valid stack file");

describe("README examples", () => {
    it("marks every console block of README.md as checked", () => {
        const unmarked = allFences.filter((f) => f.file === "README.md" && f.info === "console" && f.mark === undefined);
        expect(unmarked.map((f) => `${f.file}:${f.line}`)).toEqual([]);
        expect(consoleChecks.length).toBeGreaterThanOrEqual(2);
        expect(stackFileChecks.length).toBeGreaterThanOrEqual(1);
    });

    it.each(consoleChecks.map((f) => [`${f.file}:${f.line} ${f.body[0]}`, f] as const))(
        "%s prints what the block shows",
        async (_name, fence) => {
            const { stream, exit } = parseMark(fence.mark!);
            const command = /^\$ npx mlops (.+)$/.exec(fence.body[0]);
            if (command === null) throw new Error(`${fence.file}:${fence.line}: a checked block starts with "$ npx mlops ..."`);
            // Checked commands hold no quoting: split on spaces as the shell would.
            if (/["'\\$`]/.test(command[1])) throw new Error(`${fence.file}:${fence.line}: no quotes or $ in a checked command`);
            const run = await mlops(command[1].split(/\s+/));
            expect(run[stream]).toBe(fence.body.slice(1).join("\n") + "\n");
            expect(run.code).toBe(exit);
        },
        120_000,
    );

    it.each(stackFileChecks.map((f) => [`${f.file}:${f.line}`, f] as const))("the stack file at %s is valid", async (_name, fence) => {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-readme-stack-"));
        try {
            const file = path.join(dir, "Pulumi.prod.yaml");
            writeFileSync(file, fence.body.join("\n") + "\n");
            const run = await mlops(["validate", "--config-file", file]);
            expect(run.stderr).toBe("");
            expect(run.stdout).toContain(`${file}: valid.`);
            expect(run.code).toBe(0);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

/** GitHub's heading anchor: lower case, punctuation but `-` and `_` dropped, spaces to `-`; repeats get `-1`, `-2`. */
export function anchorsOf(text: string): Set<string> {
    const anchors = new Set<string>();
    const seen = new Map<string, number>();
    const withoutFences = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
    for (const m of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
        const base = m[1]
            .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, "")
            .replace(/ /g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    return anchors;
}

/** Relative links `[text](target)` outside code fences and code spans. */
export function relativeLinks(text: string): string[] {
    const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "");
    return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** Why `target`, linked from `file`, does not resolve; undefined when it does. */
export function brokenLink(file: string, target: string, read: (p: string) => string | undefined): string | undefined {
    const [pathPart, anchor] = target.split("#", 2);
    const resolved = pathPart === "" ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
    const text = read(resolved);
    if (text === undefined) return `${file}: ${target}: no file ${resolved}`;
    if (anchor === undefined || anchor === "") return undefined;
    if (!resolved.endsWith(".md")) return `${file}: ${target}: an anchor into a file that is not Markdown`;
    return anchorsOf(text).has(anchor) ? undefined : `${file}: ${target}: no heading makes #${anchor} in ${resolved}`;
}

/** Paths such as `test/cli.test.ts` in code spans outside fences: a folder, a name, a known extension. */
export function filePathsInCode(text: string): string[] {
    const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
    return [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]).filter((s) => /^[\w.-]+(\/[\w.-]+)+\.(ts|js|mjs|mts|json|sh|py|md|yaml)$/.test(s));
}

function readInRepo(relative: string): string | undefined {
    const full = path.join(ROOT, relative);
    if (!existsSync(full)) return undefined;
    return statSync(full).isDirectory() ? "" : readFileSync(full, "utf8");
}

describe("links in README.md and docs/", () => {
    it.each(DOCS)("every relative link and anchor in %s resolves", (file) => {
        const links = relativeLinks(readFileSync(path.join(ROOT, file), "utf8"));
        const broken = links.map((t) => brokenLink(file, t, readInRepo)).filter((b) => b !== undefined);
        expect(broken).toEqual([]);
    });

    // Test files move (npm test and npm run test:aws split them): the docs name them in code spans.
    it.each(DOCS)("every repository file %s names in a code span exists", (file) => {
        const missing = filePathsInCode(readFileSync(path.join(ROOT, file), "utf8")).filter((p) => !existsSync(path.join(ROOT, p)));
        expect(missing).toEqual([]);
    });

    it("finds a broken file, a broken anchor, and takes GitHub's anchors (a variant of the real files)", () => {
        const files: Record<string, string> = {
            "README.md": "# Top\n## How `plan` decides update versus replace\n## Top\n",
            "docs/a.md": "# A page\n```md\n# not a heading\n```\n",
        };
        const read = (p: string): string | undefined => files[p];
        expect(brokenLink("docs/a.md", "../README.md#how-plan-decides-update-versus-replace", read)).toBeUndefined();
        expect(brokenLink("docs/a.md", "../README.md#top-1", read)).toBeUndefined();
        expect(brokenLink("docs/a.md", "../README.md#top-2", read)).toMatch(/no heading makes #top-2/);
        expect(brokenLink("docs/a.md", "#not-a-heading", read)).toMatch(/no heading/);
        expect(brokenLink("docs/a.md", "b.md", read)).toMatch(/no file docs\/b\.md/);
        expect(relativeLinks("[x](https://a.b/c) `[y](z.md)` [w](docs/a.md#x)\n```\n[v](q.md)\n```\n")).toEqual(["docs/a.md#x"]);
        expect(filePathsInCode("`test/a.test.ts` `<model>-x` `a/b` `a/b.ts --x`\n```\n`test/b.ts`\n```\n")).toEqual(["test/a.test.ts"]);
    });
});
